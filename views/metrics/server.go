package metrics

import (
	"compress/gzip"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/views/report"
)

// DefaultListen is `pinspect serve`'s default address: loopback only.
// Exposing the agent beyond the host is a decision the operator makes
// (with --web.config.file for TLS and basic auth).
const DefaultListen = "127.0.0.1:9256"

// The API paths.
const (
	PathMetrics   = "/metrics"
	PathSnapshot  = "/api/v1/snapshot"
	PathProcesses = "/api/v1/processes/"
	PathZombies   = "/api/v1/zombies"
	PathOrphans   = "/api/v1/orphans"
	PathEvents    = "/api/v1/events"
	// PathFrame is the frame endpoint RemoteSource reads (gob; internal
	// to pinspect, versioned by FrameVersion).
	PathFrame = "/api/v1/frame"
)

// ServerOptions configure a Server.
type ServerOptions struct {
	// Options are the metric choices; Cmdline also decides whether the
	// JSON API and the frame endpoint carry (redacted) command lines.
	Options
	// ProcessDoc builds the /api/v1/processes/{pid} document; it may read
	// more of the process than a frame holds (the caller owns that I/O).
	// It returns (nil, nil) for a process that does not exist. When nil,
	// the process's entry in the latest snapshot is served.
	ProcessDoc func(ctx context.Context, f *monitor.Frame, pid int) (any, error)
	// ExplainDoc builds the /api/v1/explain/{pid} document (explain.go);
	// when nil the endpoint answers 404.
	ExplainDoc ExplainFunc
	// MaxStreams bounds concurrent /api/v1/events streams (default 16).
	MaxStreams int
	// MaxLongPoll bounds how long a frame request waits for a new frame
	// (default 30 s).
	MaxLongPoll time.Duration
	// Logger gets request errors (default: discard).
	Logger *slog.Logger
	// Record, when set, is the flight recorder's store this agent serves
	// the past from: /api/v1/events?since= and /api/v1/frame?at=
	// (record.go).
	Record *record.Store
}

// Server is the HTTP side of `pinspect serve`.
type Server struct {
	src     Source
	opts    ServerOptions
	col     *Collector
	reg     *prometheus.Registry
	mux     *http.ServeMux
	streams chan struct{}
	// explainFn and explainSlot serve /api/v1/explain (explain.go).
	explainFn   ExplainFunc
	explainSlot explainSlot
	heavy       chan struct{} // bounds concurrent full-snapshot encodings

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a frame arrives
	ring    []seqEvent    // recent events for the frame endpoint
	pubSeq  uint64
	pub     *collector.Snapshot
}

type seqEvent struct {
	seq uint64
	ev  lifecycle.Event
}

// maxHeavy bounds concurrent encodings of a whole snapshot (the snapshot
// document and frames: megabytes each on a big host); more wait.
const maxHeavy = 4

// acquireHeavy waits for a heavy-encoding slot; false when the client
// went away first.
func (s *Server) acquireHeavy(r *http.Request) bool {
	select {
	case s.heavy <- struct{}{}:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) releaseHeavy() { <-s.heavy }

// maxRing bounds the events kept for remote clients.
const maxRing = 20000

// NewServer builds the server's handlers over src. Call Run to follow
// the frames (lifecycle counters and the frame endpoint's wake-ups need
// it).
func NewServer(src Source, o ServerOptions) *Server {
	if o.MaxStreams <= 0 {
		o.MaxStreams = 16
	}
	if o.MaxLongPoll <= 0 {
		o.MaxLongPoll = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		src:         src,
		opts:        o,
		col:         NewCollector(src, o.Options),
		reg:         prometheus.NewRegistry(),
		mux:         http.NewServeMux(),
		streams:     make(chan struct{}, o.MaxStreams),
		explainFn:   o.ExplainDoc,
		explainSlot: make(explainSlot, 1),
		heavy:       make(chan struct{}, maxHeavy),
		changed:     make(chan struct{}),
	}
	s.reg.MustRegister(s.col,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 10,
		Timeout:             10 * time.Second,
	}))
	s.mux.HandleFunc("GET "+PathSnapshot, s.handleSnapshot)
	s.mux.HandleFunc("GET "+PathProcesses+"{pid}", s.handleProcess)
	s.mux.HandleFunc("GET "+PathExplain+"{pid}", s.handleExplain)
	s.mux.HandleFunc("GET "+PathZombies, s.handleZombies)
	s.mux.HandleFunc("GET "+PathOrphans, s.handleOrphans)
	s.mux.HandleFunc("GET "+PathEvents, s.handleEvents)
	s.mux.HandleFunc("GET "+PathFrame, s.handleFrame)
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
	return s
}

// Collector returns the server's metrics collector.
func (s *Server) Collector() *Collector { return s.col }

// Handler returns the HTTP handler of every endpoint.
func (s *Server) Handler() http.Handler { return s.mux }

// Run follows the source until ctx is done: it counts every frame's
// events for the metrics, keeps recent events for remote clients and
// wakes waiting frame requests.
func (s *Server) Run(ctx context.Context) {
	ch, cancel := s.src.Subscribe()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case f, ok := <-ch:
			if !ok {
				return
			}
			s.col.Observe(f)
			s.mu.Lock()
			for _, e := range f.Events {
				s.ring = append(s.ring, seqEvent{f.Seq, e})
			}
			if over := len(s.ring) - maxRing; over > 0 {
				s.ring = append(s.ring[:0:0], s.ring[over:]...)
			}
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
	}
}

// latest returns the latest frame or writes 503 when there is none yet.
func (s *Server) latest(w http.ResponseWriter) *monitor.Frame {
	f := s.src.Latest()
	if f == nil || f.Snapshot == nil {
		httpError(w, http.StatusServiceUnavailable, "no scan yet: the first one is in progress")
		return nil
	}
	return f
}

// publicSnapshot returns f's snapshot as the API may show it: command
// lines removed, or redacted when Cmdline is set. It is computed once per
// frame.
func (s *Server) publicSnapshot(f *monitor.Frame) *collector.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pub != nil && s.pubSeq == f.Seq {
		return s.pub
	}
	s.pub, s.pubSeq = s.redacted(f.Snapshot), f.Seq
	return s.pub
}

// redacted is a copy of snap with command lines redacted (--metrics.cmdline)
// or removed.
func (s *Server) redacted(snap *collector.Snapshot) *collector.Snapshot {
	cp := *snap
	cp.Processes = make([]collector.Process, len(snap.Processes))
	copy(cp.Processes, snap.Processes)
	for i := range cp.Processes {
		p := &cp.Processes[i]
		if s.opts.Cmdline && len(p.Cmdline) > 0 {
			p.Cmdline = RedactArgs(p.Cmdline)
		} else {
			p.Cmdline = nil
			p.CmdlineTruncated, p.CmdlineNoNUL = false, false
		}
	}
	return &cp
}

func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	f := s.latest(w)
	if f == nil {
		return
	}
	q := r.URL.Query()
	var flt report.Filter
	for _, v := range q["pid"] {
		for _, part := range strings.Split(v, ",") {
			pid, err := strconv.Atoi(part)
			if err != nil || pid <= 0 {
				httpError(w, http.StatusBadRequest, "pid: not a process id: "+strconv.Quote(part))
				return
			}
			flt.PIDs = append(flt.PIDs, pid)
		}
	}
	flt.States = q.Get("state")
	for _, c := range flt.States {
		if !strings.ContainsRune(collector.StateLetters+"W", c) {
			httpError(w, http.StatusBadRequest, "state: unknown state letter "+strconv.QuoteRune(c))
			return
		}
	}
	flt.Name = q.Get("name")
	if u := q.Get("user"); u != "" {
		flt.Users = strings.Split(u, ",")
	}
	threads := f.Snapshot.ThreadsRead
	if v := q.Get("threads"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			httpError(w, http.StatusBadRequest, "threads: want true or false")
			return
		}
		threads = threads && b
	}
	if !s.acquireHeavy(r) {
		return
	}
	defer s.releaseHeavy()
	writeJSON(w, s.opts.Logger, report.NewSnapshotDoc(s.publicSnapshot(f), flt, threads))
}

// ProcessEntrySchema marks /api/v1/processes/{pid} while it serves the
// process's snapshot entry (the show document replaces it).
const ProcessEntrySchema = "pinspect.process_entry/v1"

// ProcessEntryDoc is /api/v1/processes/{pid} when no ProcessDoc builder
// is configured: the process's entry in the latest snapshot.
type ProcessEntryDoc struct {
	Schema  string            `json:"schema"`
	TakenAt string            `json:"taken_at"`
	Process report.ProcessDoc `json:"process"`
}

func (s *Server) handleProcess(w http.ResponseWriter, r *http.Request) {
	pid, err := strconv.Atoi(r.PathValue("pid"))
	if err != nil || pid <= 0 {
		httpError(w, http.StatusBadRequest, "not a process id: "+strconv.Quote(r.PathValue("pid")))
		return
	}
	f := s.latest(w)
	if f == nil {
		return
	}
	if s.opts.ProcessDoc != nil {
		doc, err := s.opts.ProcessDoc(r.Context(), f, pid)
		switch {
		case err != nil:
			s.opts.Logger.Warn("process document", "pid", pid, "err", err)
			httpError(w, http.StatusInternalServerError, "reading process "+strconv.Itoa(pid)+" failed")
		case doc == nil:
			httpError(w, http.StatusNotFound, "no such process: "+strconv.Itoa(pid))
		default:
			writeJSON(w, s.opts.Logger, doc)
		}
		return
	}
	// TODO(integrator): pass ServerOptions.ProcessDoc building the `show`
	// document (views/report ShowDoc, memory maps read by the collector)
	// once it lands; until then this is the snapshot entry.
	snap := s.publicSnapshot(f)
	p := lifecycle.Find(snap, pid)
	if p == nil {
		httpError(w, http.StatusNotFound, "no such process: "+strconv.Itoa(pid))
		return
	}
	writeJSON(w, s.opts.Logger, &ProcessEntryDoc{
		Schema:  ProcessEntrySchema,
		TakenAt: snap.TakenAt.UTC().Format(time.RFC3339Nano),
		Process: report.NewProcessDoc(p, snap.ThreadsRead),
	})
}

// handleZombies serves the `pinspect zombies --json` document of the
// latest frame.
func (s *Server) handleZombies(w http.ResponseWriter, _ *http.Request) {
	if f := s.latest(w); f != nil {
		writeJSON(w, s.opts.Logger, report.NewZombiesDoc(f.Zombies, f.Snapshot.TakenAt))
	}
}

// handleOrphans serves the `pinspect orphans --json` document of the
// latest frame.
func (s *Server) handleOrphans(w http.ResponseWriter, _ *http.Request) {
	if f := s.latest(w); f != nil {
		writeJSON(w, s.opts.Logger, report.NewOrphansDoc(f.Orphans, f.Snapshot.TakenAt))
	}
}

// handleEvents streams lifecycle events as NDJSON (the lines of
// `pinspect watch --json`) until the client goes away. Optional ?type=exit,zombie selects event types.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("since") {
		s.handleRecordedEvents(w, r)
		return
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		httpError(w, http.StatusServiceUnavailable, "too many event streams")
		return
	}
	var types map[string]bool
	if v := r.URL.Query().Get("type"); v != "" {
		types = map[string]bool{}
		for _, t := range strings.Split(v, ",") {
			types[t] = true
		}
	}
	ch, cancel := s.src.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case f, ok := <-ch:
			if !ok {
				return
			}
			for i := range f.Events {
				if types != nil && !types[string(f.Events[i].Type)] {
					continue
				}
				if err := enc.Encode(report.NewEventDoc(&f.Events[i])); err != nil {
					return
				}
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}

// FrameVersion is the version of the frame endpoint's gob encoding. 2:
// collector.Process groups its fields by source (ProcStat, ProcStatus,
// ...), which gob sends as nested structs.
const FrameVersion = 2

// WireFrame is what the frame endpoint sends: a Frame without what a
// client recomputes (Rates, from two snapshots) or has no business
// reading (Focus: the agent is read-only).
type WireFrame struct {
	Version    int
	Seq        uint64
	Snapshot   *collector.Snapshot
	Events     []lifecycle.Event
	Interval   time.Duration
	EventsLive bool
	EventsNote string
	Zombies    []lifecycle.ZombieGroup
	Orphans    []lifecycle.Orphan
	Paused     bool
	// EventsLost is true when events after the client's last frame were
	// dropped from the agent's buffer.
	EventsLost bool
}

// handleFrame sends the latest frame once its Seq differs from ?after=N,
// waiting for it up to ?wait= (capped at MaxLongPoll).
func (s *Server) handleFrame(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("at") {
		s.handleRecordedFrame(w, r)
		return
	}
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "after: want a frame number")
			return
		}
		after = n
	}
	wait := s.opts.MaxLongPoll
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			httpError(w, http.StatusBadRequest, "wait: want a duration like 20s")
			return
		}
		wait = min(d, wait)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		f := s.src.Latest()
		// A frame number below after means the agent restarted.
		if f != nil && f.Snapshot != nil && f.Seq != after {
			if !s.acquireHeavy(r) {
				return
			}
			defer s.releaseHeavy()
			s.writeFrame(w, r, f, after)
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) writeFrame(w http.ResponseWriter, r *http.Request, f *monitor.Frame, after uint64) {
	wf := &WireFrame{
		Version: FrameVersion, Seq: f.Seq, Snapshot: s.publicSnapshot(f),
		Interval: f.Interval, EventsLive: f.EventsLive, EventsNote: f.EventsNote,
		Zombies: f.Zombies, Orphans: f.Orphans, Paused: f.Paused,
	}
	if after > f.Seq {
		after = 0 // the client's frame was from before a restart
	}
	s.mu.Lock()
	if after == 0 {
		wf.Events = f.Events
	} else {
		if len(s.ring) > 0 && s.ring[0].seq > after+1 {
			wf.EventsLost = true
		}
		for _, e := range s.ring {
			if e.seq > after && e.seq <= f.Seq {
				wf.Events = append(wf.Events, e.ev)
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-gob")
	w.Header().Set("X-Pinspect-Frame-Version", strconv.Itoa(FrameVersion))
	var enc *gob.Encoder
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer zw.Close()
		enc = gob.NewEncoder(zw)
	} else {
		enc = gob.NewEncoder(w)
	}
	if err := enc.Encode(wf); err != nil {
		s.opts.Logger.Debug("writing frame", "err", err)
	}
}

const indexHTML = `<!DOCTYPE html>
<html><head><title>pinspect</title></head><body>
<h1>pinspect serve</h1>
<ul>
<li><a href="/metrics">/metrics</a>: Prometheus metrics (docs/METRICS.md)</li>
<li><a href="/api/v1/snapshot">/api/v1/snapshot</a>: every process (the <code>pinspect --json</code> document)</li>
<li>/api/v1/processes/{pid}: one process</li>
<li>/api/v1/explain/{pid}?window=2s: findings about one process (the <code>pinspect explain --json</code> document; one at a time)</li>
<li><a href="/api/v1/zombies">/api/v1/zombies</a>: zombies by parent, with diagnoses</li>
<li><a href="/api/v1/orphans">/api/v1/orphans</a>: orphans and their adopters</li>
<li>/api/v1/events: lifecycle events as they happen (NDJSON stream)</li>
</ul></body></html>
`

func (s *Server) handleIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(indexHTML))
}

// ErrorDoc is the body of every API error.
type ErrorDoc struct {
	Error string `json:"error"`
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(ErrorDoc{Error: msg})
}

func writeJSON(w http.ResponseWriter, log *slog.Logger, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := report.WriteJSON(w, v); err != nil {
		log.Debug("writing response", "err", err)
	}
}

// Scheme returns "https" when the web config file enables TLS, else
// "http" (also for no file, or one that cannot be read: ListenAndServe
// reports those).
func Scheme(webConfigFile string) string {
	if webConfigFile == "" {
		return "http"
	}
	b, err := os.ReadFile(webConfigFile)
	if err != nil {
		return "http"
	}
	var c web.Config
	if yaml.Unmarshal(b, &c) != nil || !c.TLSConfig.IsEnabled() {
		return "http"
	}
	return "https"
}

// ListenAndServe serves h on l until ctx is done, with TLS and basic auth
// from webConfigFile when it is not empty (exporter-toolkit's format: the
// file is re-read on each request, so certificates and users change
// without a restart). It validates the file first and fails on a bad
// one.
func ListenAndServe(ctx context.Context, l net.Listener, h http.Handler, webConfigFile string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if webConfigFile != "" {
		if err := web.Validate(webConfigFile); err != nil {
			l.Close()
			return fmt.Errorf("--web.config.file %s: %w", webConfigFile, err)
		}
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests (event streams, frame long-polls) end with ctx.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	no := false
	flags := &web.FlagConfig{
		WebListenAddresses: &[]string{l.Addr().String()},
		WebSystemdSocket:   &no,
		WebConfigFile:      &webConfigFile,
	}
	errc := make(chan error, 1)
	go func() { errc <- web.Serve(l, srv, flags, log) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && e != nil {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return srv.Close()
	}
	return err
}
