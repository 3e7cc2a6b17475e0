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
	// DefaultMaxConns). At the cap a connection that serves nobody (no
	// whole request yet, idle, parked in a long-poll, or not reading its
	// response) is closed to make room; when none is, the new connection
	// waits a few seconds for one, then gets a 503 and is closed.
	MaxConns int
	// Logger gets server errors (default: discard).
	Logger *slog.Logger
	// Stats, when set (Server.Stats), counts connections and refusals.
	Stats *ServeStats
	// WriteStall is how long one write of a response may wait for the
	// client to read (default 10 s); a client slower than that loses its
	// response.
	WriteStall time.Duration
	// ScrapeListeners serve ScrapeHandler: the metrics and the health
	// endpoints only, behind their own accept queue and their own
	// connection cap (ScrapeMaxConns), so that a flood of connections to
	// the API's listeners cannot keep a scraper out. Their peers are
	// authenticated as on the other listeners.
	ScrapeListeners []net.Listener
	// ScrapeHandler serves the scrape listeners (Server.ScrapeHandler).
	ScrapeHandler http.Handler
	// ScrapeAllow, when set, are the networks a TCP scrape listener
	// accepts peers from; any other peer is closed as soon as it is
	// accepted, before it costs a goroutine (a local user cannot send
	// from a remote scraper's address).
	ScrapeAllow []*net.IPNet
}

// ScrapeMaxConns caps the open connections of the scrape listeners
// together: a scraper opens one or two at a time.
const ScrapeMaxConns = 16

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
	var tlsCfg *tls.Config
	if c := o.Web.Config(); c.TLS != nil {
		tlsCfg = c.TLS.Clone()
		tlsCfg.GetConfigForClient = o.Web.tlsForClient
		tlsCfg.NextProtos = []string{"http/1.1"}
	}
	gate := newConnGate(o.MaxConns, &o.Stats.conns, o.Stats)
	srv := newHTTPServer(ctx, h, o, gate)
	servers := []*http.Server{srv}
	errc := make(chan error, len(o.Listeners)+len(o.ScrapeListeners))
	serveListeners(srv, gate, o.Listeners, nil, tlsCfg, errc)
	if len(o.ScrapeListeners) > 0 {
		// The scrape listeners' connections are counted apart: the API's
		// cap being full never keeps a scraper out.
		sgate := newConnGate(min(ScrapeMaxConns, o.MaxConns), &o.Stats.scrapeConns, o.Stats)
		ssrv := newHTTPServer(ctx, o.ScrapeHandler, o, sgate)
		servers = append(servers, ssrv)
		serveListeners(ssrv, sgate, o.ScrapeListeners, o.ScrapeAllow, tlsCfg, errc)
	}
	select {
	case err := <-errc:
		for _, s := range servers {
			s.Close()
		}
		return err
	case <-ctx.Done():
	}
	var err error
	for _, s := range servers {
		if e := shutdown(s); e != nil && err == nil {
			err = e
		}
	}
	for range len(o.Listeners) + len(o.ScrapeListeners) {
		if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
	}
	return err
}

// newHTTPServer is the http.Server of one set of listeners: h behind the
// web config's guard and the write stall, its connections admitted by
// gate.
func newHTTPServer(ctx context.Context, h http.Handler, o ServeOptions, gate *connGate) *http.Server {
	return &http.Server{
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
}

// serveListeners serves srv on each listener (TLS but on unix sockets), its
// connections admitted by gate and, when allow is set, from those
// networks only. Each listener's end is sent on errc.
func serveListeners(srv *http.Server, gate *connGate, ls []net.Listener, allow []*net.IPNet, tlsCfg *tls.Config, errc chan<- error) {
	for _, l := range ls {
		_, isUnix := l.(*net.UnixListener)
		if allow != nil && !isUnix {
			l = &allowListener{Listener: l, allow: allow, stats: gate.stats}
		}
		gl := newGatedListener(l, gate)
		go func() {
			if tlsCfg != nil && !isUnix {
				errc <- srv.Serve(tls.NewListener(gl, tlsCfg))
				return
			}
			errc <- srv.Serve(gl)
		}()
	}
}

// shutdown ends srv: requests in flight get up to 5 s, then their
// connections are closed.
func shutdown(srv *http.Server) error {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	return err
}

// allowListener closes, as soon as they are accepted, the connections of
// peers outside its networks (ServeOptions.ScrapeAllow).
type allowListener struct {
	net.Listener
	allow []*net.IPNet
	stats *ServeStats
}

// Accept returns the next connection from an allowed peer.
func (l *allowListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok && allowed(l.allow, a.IP) {
			return c, nil
		}
		// Counted first, so that the count is there by the time the
		// peer sees the reset. Closed at once with a reset (no
		// lingering): it costs no goroutine and no buffer.
		l.stats.peersRefused.Add(1)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
}

// allowed says whether ip is in one of nets.
func allowed(nets []*net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// connGate caps the open connections. At the cap a new connection takes
// the place of one that serves nobody (evict, in this order):
//
//  1. one that has not sent a whole request yet (slowloris), or is idle
//     between requests (keep-alive): the one waiting longest;
//  2. one parked in a long-poll (a frame request waiting for the next
//     scan): the one parked longest; its client asks again;
//  3. one whose response has not been read for at least writeEvictAfter
//     (a client that stopped reading): the one blocked longest.
//
// When no connection can make room the new one waits (at most
// maxWaiting of them, and no more than the cap, each for up to
// roomWait) for one to become
// evictable or to close: a scrape that arrives while every connection is
// busy is served late rather than refused. Past that it gets 503.
type connGate struct {
	max   int
	live  *atomic.Int64 // ServeStats.conns
	stats *ServeStats

	waiting atomic.Int64 // connections in the waiting room
	base    time.Time    // the origin of now

	mu    sync.Mutex
	conns map[*gatedConn]struct{}
}

// How long a connection waits for room at the cap, how many may wait,
// and how long a response write must have been blocked before its
// connection may be closed to make room.
const (
	roomWait        = 5 * time.Second
	roomPoll        = 20 * time.Millisecond
	maxWaiting      = 64
	writeEvictAfter = 200 * time.Millisecond
)

// maxWaiting is how many connections may wait for room: maxWaiting, at
// most as many as the cap, so that accepted connections (open and
// waiting) never hold more than twice the cap in descriptors: the
// reserve kept for the collector (MaxConns) holds under any flood.
func (g *connGate) maxWaiting() int64 { return int64(min(maxWaiting, g.max)) }

// newConnGate caps at max the connections counted in live.
func newConnGate(max int, live *atomic.Int64, st *ServeStats) *connGate {
	return &connGate{max: max, live: live, stats: st, base: time.Now(), conns: make(map[*gatedConn]struct{})}
}

// The phases of a connection (http.ConnState, as far as eviction cares).
const (
	phaseNew    = iota // accepted, no whole request yet
	phaseIdle          // between requests
	phaseActive        // a request is being served
)

// gatedOf returns the gatedConn under c (a TLS connection wraps it).
func gatedOf(c net.Conn) *gatedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	g, _ := c.(*gatedConn)
	return g
}

// track follows the server's connection states.
func (g *connGate) track(c net.Conn, st http.ConnState) {
	gc := gatedOf(c)
	if gc == nil {
		return
	}
	switch st {
	case http.StateNew:
		gc.setPhase(phaseNew)
	case http.StateIdle:
		gc.setPhase(phaseIdle)
	case http.StateActive:
		gc.setPhase(phaseActive)
	}
}

// take reserves a place within the cap; false at the cap.
func (g *connGate) take() bool {
	for {
		n := g.live.Load()
		if n >= int64(g.max) {
			return false
		}
		if g.live.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// admit reserves a place, closing a connection that serves nobody to
// make one at the cap; false when none can be closed.
func (g *connGate) admit() bool {
	if g.take() {
		return true
	}
	for range 4 {
		if !g.evict() {
			return false
		}
		if g.take() {
			return true
		}
	}
	return false
}

// evict closes the connection that best makes room (connGate); false
// when there is none.
func (g *connGate) evict() bool {
	now := g.now()
	g.mu.Lock()
	var victim *gatedConn
	bestClass, bestAge := 4, int64(-1)
	for c := range g.conns {
		class, age := c.evictable(now)
		if class < bestClass || class == bestClass && age > bestAge {
			victim, bestClass, bestAge = c, class, age
		}
	}
	if bestClass > 2 {
		victim = nil
	}
	g.mu.Unlock()
	if victim == nil {
		return false
	}
	victim.Close()
	g.stats.evicted.Add(1)
	return true
}

// busyResponse is what a connection over the cap gets before it is
// closed.
const busyResponse = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 41\r\n\r\n{\"error\":\"too many connections to serve\"}"

// refuse answers a connection that found no room and closes it.
func (g *connGate) refuse(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(busyResponse))
	c.Close()
	g.stats.connsRefused.Add(1)
}

// gatedListener admits its connections through a connGate. Its own
// goroutine accepts, so the kernel's queue of new connections keeps
// draining while connections wait for room: a scrape queued behind a
// flood is reached as fast as the flood is refused or evicted.
type gatedListener struct {
	net.Listener
	gate *connGate

	conns     chan net.Conn // admitted
	errs      chan error    // the listener's errors
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

func newGatedListener(l net.Listener, g *connGate) *gatedListener {
	gl := &gatedListener{Listener: l, gate: g, conns: make(chan net.Conn), errs: make(chan error), done: make(chan struct{})}
	go gl.acceptLoop()
	return gl
}

// Accept returns the next admitted connection. (A transient accept
// error, EMFILE when descriptors run out, is returned and retried by
// net/http with a backoff: it does not end the server.)
func (l *gatedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections in the waiting room are closed.
func (l *gatedListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// acceptLoop accepts until the listener is closed: each connection is
// admitted, sent to the waiting room, or refused.
func (l *gatedListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			continue
		}
		switch {
		case l.gate.admit():
			l.deliver(c)
		case l.gate.waiting.Add(1) <= l.gate.maxWaiting():
			go l.wait(c)
		default:
			l.gate.waiting.Add(-1)
			l.gate.refuse(c)
		}
	}
}

// wait holds a connection that found no room until one is made (roomWait
// at most).
func (l *gatedListener) wait(c net.Conn) {
	defer l.gate.waiting.Add(-1)
	deadline := time.NewTimer(roomWait)
	defer deadline.Stop()
	tick := time.NewTicker(roomPoll)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if l.gate.admit() {
				l.deliver(c)
				return
			}
		case <-deadline.C:
			l.gate.refuse(c)
			return
		case <-l.done:
			c.Close()
			return
		}
	}
}

// deliver hands an admitted connection (its place reserved) to Accept.
func (l *gatedListener) deliver(c net.Conn) {
	gc := &gatedConn{Conn: c, gate: l.gate}
	gc.setPhase(phaseNew)
	l.gate.mu.Lock()
	l.gate.conns[gc] = struct{}{}
	l.gate.mu.Unlock()
	select {
	case l.conns <- gc:
	case <-l.done:
		gc.Close()
	}
}

// gatedConn is an admitted connection: it says what it is doing (for
// evict) and gives its place back when it is closed.
type gatedConn struct {
	net.Conn
	gate *connGate
	once sync.Once

	phase   atomic.Int32
	since   atomic.Int64 // when the phase began (connGate.now)
	parked  atomic.Int64 // when a long-poll began waiting; 0: none
	writing atomic.Int64 // when the write in progress began; 0: none
}

func (c *gatedConn) setPhase(p int32) {
	c.phase.Store(p)
	c.since.Store(c.gate.now())
}

// evictable ranks c for eviction (connGate): its class (0 to 2; 3 when
// it is serving someone) and how long it has been in it.
func (c *gatedConn) evictable(now int64) (class int, age int64) {
	if c.phase.Load() != phaseActive {
		if w := c.writing.Load(); w == 0 {
			return 0, now - c.since.Load()
		}
	}
	if p := c.parked.Load(); p != 0 {
		return 1, now - p
	}
	if w := c.writing.Load(); w != 0 && now-w >= int64(writeEvictAfter) {
		return 2, now - w
	}
	return 3, 0
}

// Write notes how long the write has been blocked (a client that does not
// read).
func (c *gatedConn) Write(p []byte) (int, error) {
	c.writing.Store(c.gate.now())
	n, err := c.Conn.Write(p)
	c.writing.Store(0)
	return n, err
}

func (c *gatedConn) Close() error {
	c.once.Do(func() {
		c.gate.mu.Lock()
		delete(c.gate.conns, c)
		c.gate.mu.Unlock()
		c.gate.live.Add(-1)
	})
	return c.Conn.Close()
}

// park marks the request's connection as waiting in a long-poll (evict
// may close it at the cap) until the returned function is called.
func park(ctx context.Context) (unpark func()) {
	c, _ := ctx.Value(connKey{}).(*gatedConn)
	if c == nil {
		return func() {}
	}
	c.parked.Store(c.gate.now())
	return func() { c.parked.Store(0) }
}

// connKey carries a request's *gatedConn in its context (connContext).
type connKey struct{}

// now is the gate's monotonic clock in nanoseconds, never 0.
func (g *connGate) now() int64 { return int64(time.Since(g.base)) + 1 }

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
