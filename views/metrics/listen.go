package metrics

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The server's timeouts. A request is a GET with no body, so its headers
// and body arrive at once or the client is stalling (slowloris); a
// response whose client stops reading for writeStall is abandoned, which
// frees what the handler held (a heavy slot, an event stream): see
// ServeOptions.WriteStall.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	idleTimeout       = 30 * time.Second
	defaultWriteStall = 10 * time.Second
	maxHeaderBytes    = 16 << 10
)

// fdReserve is the number of file descriptors kept out of the connection
// cap: the collector opens a few files per process read, plus the
// listeners, the netlink sockets, the log and the process's own files.
const fdReserve = 64

// maxConnsCap bounds the connection cap whatever the fd limit: each open
// connection costs a goroutine and about 10 KB of buffers.
const maxConnsCap = 1024

// MaxConns returns the default connection cap for an fd limit of
// nofile: half of what the reserve leaves, between 4 and maxConnsCap.
func MaxConns(nofile uint64) int {
	if nofile <= fdReserve+8 {
		return 4
	}
	return int(min(max((nofile-fdReserve)/2, 4), maxConnsCap))
}

// DefaultMaxConns is MaxConns of this process's soft fd limit.
func DefaultMaxConns() int {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil {
		return 64
	}
	return MaxConns(rl.Cur)
}

// ServeOptions configure Serve.
type ServeOptions struct {
	// Listeners are served together (TCP, a unix socket, or sockets
	// passed by systemd). A unix socket's peers are known by their
	// credentials.
	Listeners []net.Listener
	// Web is the TLS and authentication config (nil: plain HTTP, no
	// authentication).
	Web *Web
	// MaxConns caps open connections over all listeners (default
	// DefaultMaxConns). At the cap an idle connection (or the one that
	// has waited longest for its first request) is closed to make room;
	// when none is, the new connection gets a 503 and is closed.
	MaxConns int
	// Logger gets server errors (default: discard).
	Logger *slog.Logger
	// Stats, when set (Server.Stats), counts connections and refusals.
	Stats *ServeStats
	// WriteStall is how long one write of a response may wait for the
	// client to read (default 10 s); a client slower than that loses its
	// response.
	WriteStall time.Duration
}

// Serve serves h until ctx is done, then shuts down (waiting up to 5 s
// for requests in flight; event streams and long-polls end with ctx).
func Serve(ctx context.Context, h http.Handler, o ServeOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Web == nil {
		o.Web, _ = NewWeb("")
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns()
	}
	if o.WriteStall <= 0 {
		o.WriteStall = defaultWriteStall
	}
	if o.Stats == nil {
		o.Stats = new(ServeStats)
	}
	o.Stats.maxConns.Store(int64(o.MaxConns))
	gate := newConnGate(o.MaxConns, o.Stats)
	srv := &http.Server{
		Handler:           o.Web.guard(stallGuard(h, o.WriteStall), o.Stats),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       connContext,
		ConnState:         gate.track,
		// HTTP/1.1 only: HTTP/2 would multiplex hundreds of requests on
		// one connection, past the connection cap.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	var tlsCfg *tls.Config
	if c := o.Web.Config(); c.TLS != nil {
		tlsCfg = c.TLS.Clone()
		tlsCfg.GetConfigForClient = o.Web.tlsForClient
		tlsCfg.NextProtos = []string{"http/1.1"}
	}
	errc := make(chan error, len(o.Listeners))
	for _, l := range o.Listeners {
		gl := &gatedListener{Listener: l, gate: gate}
		_, isUnix := l.(*net.UnixListener)
		go func() {
			if tlsCfg != nil && !isUnix {
				errc <- srv.Serve(tls.NewListener(gl, tlsCfg))
				return
			}
			errc <- srv.Serve(gl)
		}()
	}
	select {
	case err := <-errc:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	for range o.Listeners {
		if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
	}
	return err
}

// connGate caps the open connections: at the cap it closes an idle one
// (or one still waiting for its first request) to make room, else it
// refuses the new one.
type connGate struct {
	max   int
	live  *atomic.Int64 // ServeStats.conns
	stats *ServeStats

	mu    sync.Mutex
	spare map[net.Conn]time.Time // idle or new connections, since when
}

func newConnGate(max int, st *ServeStats) *connGate {
	return &connGate{max: max, live: &st.conns, stats: st, spare: make(map[net.Conn]time.Time)}
}

// track follows the server's connection states.
func (g *connGate) track(c net.Conn, st http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch st {
	case http.StateNew, http.StateIdle:
		g.spare[c] = time.Now()
	default:
		delete(g.spare, c)
	}
}

// evict closes the spare connection that has been waiting longest; false
// when there is none.
func (g *connGate) evict() bool {
	g.mu.Lock()
	var oldest net.Conn
	var at time.Time
	for c, t := range g.spare {
		if oldest == nil || t.Before(at) {
			oldest, at = c, t
		}
	}
	delete(g.spare, oldest)
	g.mu.Unlock()
	if oldest == nil {
		return false
	}
	oldest.Close()
	g.stats.evicted.Add(1)
	return true
}

// busyResponse is what a connection over the cap gets before it is
// closed.
const busyResponse = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 41\r\n\r\n{\"error\":\"too many connections to serve\"}"

// gatedListener counts its connections in a connGate.
type gatedListener struct {
	net.Listener
	gate *connGate
}

// Accept returns the next connection within the cap. (A transient accept
// error, EMFILE when descriptors run out, is retried by net/http with a
// backoff: it does not end the server.)
func (l *gatedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.gate.live.Load() >= int64(l.gate.max) && !l.gate.evict() {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte(busyResponse))
			c.Close()
			l.gate.stats.connsRefused.Add(1)
			continue
		}
		l.gate.live.Add(1)
		return &gatedConn{Conn: c, gate: l.gate}, nil
	}
}

// gatedConn gives its slot back when it is closed.
type gatedConn struct {
	net.Conn
	gate *connGate
	once sync.Once
}

func (c *gatedConn) Close() error {
	c.once.Do(func() { c.gate.live.Add(-1) })
	return c.Conn.Close()
}

// stallGuard makes every write of a response wait at most stall for the
// client to take it: a client that stops reading loses its response, and
// the handler returns what it held.
func stallGuard(h http.Handler, stall time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&stallWriter{ResponseWriter: w, rc: http.NewResponseController(w), stall: stall}, r)
	})
}

// stallWriter sets a write deadline before each write.
type stallWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
}

func (w *stallWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.stall))
	return w.ResponseWriter.Write(p)
}

// FlushError flushes under the same deadline (http.ResponseController
// calls it).
func (w *stallWriter) FlushError() error {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.stall))
	return w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
