package metrics

import (
	"compress/gzip"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/views/report"
)

// DefaultPort is `pinspect serve`'s default TCP port. 9256, the port of
// its first releases, is process-exporter's in Prometheus's list of
// default exporter ports; 9919 is not taken in that list as far as it
// could be checked (docs/METRICS.md).
const DefaultPort = "9919"

// DefaultListen is `pinspect serve`'s default address: loopback only.
// Exposing the agent beyond the host is a decision the operator makes
// (with --web.config.file for TLS and authentication).
const DefaultListen = "127.0.0.1:" + DefaultPort

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
	// PathHealthy answers 200 while the server runs; PathReady answers
	// 200 once the first scan is published (503 before).
	PathHealthy = "/-/healthy"
	PathReady   = "/-/ready"
)

// maxTelemetryPath caps --web.telemetry-path.
const maxTelemetryPath = 256

// CheckTelemetryPath says whether p can be where the metrics are served
// (--web.telemetry-path): an absolute path of plain segments (letters,
// digits, '.', '_', '~', '-'; no empty, '.' or '..' segment, no trailing
// slash), outside the API (/api/) and the health paths (/-/). Anything
// else would be read as a pattern by the server's router (a '{x}'
// wildcard, a subtree for a trailing slash) or could never match (a
// path with '//' that the router refuses to register).
func CheckTelemetryPath(p string) error {
	bad := func(why string) error {
		return fmt.Errorf("%q: %s (want a path like /metrics)", p, why)
	}
	if len(p) > maxTelemetryPath {
		return bad(fmt.Sprintf("longer than %d bytes", maxTelemetryPath))
	}
	if !strings.HasPrefix(p, "/") || p == "/" {
		return bad("not an absolute path below /")
	}
	segs := strings.Split(p[1:], "/")
	if segs[0] == "api" || segs[0] == "-" {
		return bad("inside /api/ or /-/, which the server's own endpoints use")
	}
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return bad("an empty, '.' or '..' segment (or a trailing slash)")
		}
		for _, r := range seg {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._~-", r)) {
				return bad(fmt.Sprintf("the character %q (letters, digits and . _ ~ - only)", r))
			}
		}
	}
	return nil
}

// ProcessRequest is what a ProcessDoc builder is asked for.
type ProcessRequest struct {
	PID int
	// Client is who asks: the builder shows in full only what
	// Client.MaySee allows (RestrictProcess for the rest).
	Client Client
	// StuckBudget is the client's budget of stuck reads: the builder
	// passes it to the reads it makes for the client
	// (collector.AddrOptions.StuckBudget).
	StuckBudget *collector.StuckBudget
	// HidesOthers is true when the /proc hides other users' processes
	// (hidepid): a process the client may not see is then "not found".
	HidesOthers bool
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// Options are the metric choices; Cmdline also decides whether the
	// JSON API and the frame endpoint carry (redacted) command lines.
	Options
	// ProcessDoc builds the /api/v1/processes/{pid} document; it may read
	// more of the process than a frame holds (the caller owns that I/O).
	// It returns (nil, nil) for a process that does not exist. When nil,
	// the process's entry in the latest snapshot is served.
	ProcessDoc func(ctx context.Context, f *monitor.Frame, req ProcessRequest) (any, error)
	// ExplainDoc builds the /api/v1/explain/{pid} document (explain.go);
	// when nil the endpoint answers 404.
	ExplainDoc ExplainFunc
	// TelemetryPath is where the metrics are served (default /metrics).
	TelemetryPath string
	// HidesOthers says the /proc root is mounted with hidepid
	// (collector.HidesOtherUsers): clients that are not Full then see
	// only the processes they could read themselves.
	HidesOthers bool
	// MaxStreams bounds concurrent /api/v1/events streams (default 16;
	// 4 per client).
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
	// BuildInfo labels pinspect_build_info; the gauge is left out when
	// it is zero.
	BuildInfo BuildInfo
}

// Server is the HTTP side of `pinspect serve`.
type Server struct {
	src    Source
	opts   ServerOptions
	col    *Collector
	reg    *prometheus.Registry
	mux    *http.ServeMux
	scrape http.Handler
	// scrapeRestricted is the exposition for a client that is not Full:
	// without the per-process and group io series (withoutProcessIO).
	scrapeRestricted http.Handler
	metrics          *slots // scrapes: their own budget, never behind the API
	heavy            *slots // whole-snapshot documents and frames
	procs            *slots // /api/v1/processes/{pid}: reads /proc on request
	streams          *slots // event streams
	stuck            *stuckBudgets
	stats            ServeStats
	// explainFn and explain serve /api/v1/explain (explain.go).
	explainFn ExplainFunc
	explain   *fairSlots

	routes []string // the paths served but the index (Routes)

	// renderMu guards renderings: recent renderings of the exposition
	// (exposition).
	renderMu    sync.Mutex
	renderings  []*rendered
	renderReuse time.Duration // renderReuse; tests lengthen it
	renders     atomic.Uint64 // renderings made

	streamFrames atomic.Uint64 // frames the live event streams took from the source and queued or cut at
	// ending is closed by EndStreams; liveStreams counts the live event
	// streams running, liveFrames the frame requests (long-polls) being
	// answered.
	ending      chan struct{}
	endOnce     sync.Once
	liveStreams atomic.Int64
	liveFrames  atomic.Int64

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a frame arrives
	ring    eventRing     // recent events for the frame endpoint
	// pushed is the last frame whose events Run put in ring: the frame
	// endpoint sends it, not the source's latest, which may be ahead of
	// Run (a frame sent before its events were in the ring took them
	// from a client for good: its next ?after= skipped them).
	pushed *monitor.Frame
	views  viewCache
}

// The request budgets. A scrape waits for one of metricsSlots (the
// conversion is shared by concurrent scrapes, so each is cheap); a
// whole-snapshot document or frame for one of heavySlots, at most
// heavyPerClient per client; a process document (read from /proc on
// request) for one of procSlots, one per client. A request that cannot
// get a slot within slotWait gets 503 with Retry-After.
const (
	metricsSlots     = 8
	heavySlots       = 4
	heavyPerClient   = 2
	procSlots        = 2
	procPerClient    = 1
	streamsPerClient = 4
	slotWait         = 10 * time.Second
	// apiStuckReads is the budget of stuck reads of every API client
	// together, and clientStuckReads each client's share: never the
	// scanner's (collector.StuckBudget).
	apiStuckReads    = 8
	clientStuckReads = 2
)

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
	if o.TelemetryPath == "" {
		o.TelemetryPath = PathMetrics
	} else if err := CheckTelemetryPath(o.TelemetryPath); err != nil {
		// The caller checks a user's path first; a bad one here is
		// logged and replaced, rather than a panic in the router.
		o.Logger.Error("telemetry path refused: serving the metrics at "+PathMetrics, "err", err)
		o.TelemetryPath = PathMetrics
	}
	s := &Server{
		src:     src,
		opts:    o,
		col:     NewCollector(o.Options),
		reg:     prometheus.NewRegistry(),
		mux:     http.NewServeMux(),
		metrics: newSlots(metricsSlots, 0),
		heavy:   newSlots(heavySlots, heavyPerClient),
		procs:   newSlots(procSlots, procPerClient),
		streams: newSlots(o.MaxStreams, streamsPerClient),
		stuck:   newStuckBudgets(apiStuckReads, clientStuckReads),
		changed: make(chan struct{}),
		ending:  make(chan struct{}),
		ring:    eventRing{max: maxRing},

		renderReuse: renderReuse,
		explainFn:   o.ExplainDoc,
		explain:     newFairSlots(explainSlots, explainQueued),
	}
	s.reg.MustRegister(s.col, newServeCollector(s),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.BuildInfo != (BuildInfo{}) {
		s.reg.MustRegister(NewBuildInfoCollector(o.BuildInfo))
	}
	ho := promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       10 * time.Second,
	}
	s.scrape = promhttp.HandlerFor(s.reg, ho)
	// The restricted exposition: the same series but the per-process
	// io and group io ones (withoutProcessIO), and the agent's own.
	regR := prometheus.NewRegistry()
	regR.MustRegister(withoutProcessIO{s.col}, newServeCollector(s),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.BuildInfo != (BuildInfo{}) {
		regR.MustRegister(NewBuildInfoCollector(o.BuildInfo))
	}
	s.scrapeRestricted = promhttp.HandlerFor(regR, ho)
	s.handle(o.TelemetryPath, s.handleMetrics)
	s.handle(PathSnapshot, s.handleSnapshot)
	s.handle(PathProcesses+"{pid}", s.handleProcess)
	s.handle(PathExplain+"{pid}", s.handleExplain)
	s.handle(PathZombies, s.handleZombies)
	s.handle(PathOrphans, s.handleOrphans)
	s.handle(PathEvents, s.handleEvents)
	s.handle(PathFrame, s.handleFrame)
	s.handle(PathHealthy, s.handleHealthy)
	s.handle(PathReady, s.handleReady)
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
	return s
}

// handle serves GET path with h, and lists path in Routes.
func (s *Server) handle(path string, h http.HandlerFunc) {
	s.mux.HandleFunc("GET "+path, h)
	s.routes = append(s.routes, path)
}

// Routes returns the paths the server answers, in the mux's pattern
// syntax (/api/v1/processes/{pid}), the index page (/) aside: what
// serve's help, the index and docs/METRICS.md list (TestServeHelpRoutes
// keeps them in step; the help lacked /api/v1/explain/{pid} and
// /api/v1/frame, tester14).
func (s *Server) Routes() []string { return slices.Clone(s.routes) }

// ScrapeHandler returns the handler of the scrape listeners
// (ServeOptions.ScrapeListeners): the metrics and the health endpoints,
// nothing of the API.
func (s *Server) ScrapeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+s.opts.TelemetryPath, s.handleMetrics)
	mux.HandleFunc("GET "+PathHealthy, s.handleHealthy)
	mux.HandleFunc("GET "+PathReady, s.handleReady)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		httpError(w, http.StatusNotFound, "this listener serves only "+s.opts.TelemetryPath+", "+PathHealthy+" and "+PathReady+" (the API is on --web.listen-address)")
	})
	return mux
}

// Stats returns the server's counters of refused and cut requests; pass
// it to Serve (ServeOptions.Stats) so that connections are counted too.
func (s *Server) Stats() *ServeStats { return &s.stats }

// Collector returns the server's metrics collector.
func (s *Server) Collector() *Collector { return s.col }

// Handler returns the HTTP handler of every endpoint. Requests that did
// not pass Serve's guard are unauthenticated clients (Client).
func (s *Server) Handler() http.Handler { return s.mux }

// Run follows the source until ctx is done: it counts every frame's
// events for the metrics, keeps recent events for remote clients and
// wakes waiting frame requests.
func (s *Server) Run(ctx context.Context) {
	// The frame before the subscription is the first the frame endpoint
	// may send: its events go with it whole to a new client (after=0);
	// every later frame comes through ch.
	first := s.src.Latest()
	ch, cancel := s.src.Subscribe()
	defer cancel()
	s.mu.Lock()
	if s.pushed == nil {
		s.pushed = first
	}
	s.mu.Unlock()
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
				s.ring.push(seqEvent{f.Seq, e})
			}
			s.pushed = f
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
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "no scan yet: the first one is in progress")
		return nil
	}
	return f
}

// busy answers a request that got no slot.
func (s *Server) busy(w http.ResponseWriter, why string) {
	s.stats.busy.Add(1)
	w.Header().Set("Retry-After", "2")
	httpError(w, http.StatusServiceUnavailable, why)
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metricsHidden(w, r) {
		return
	}
	release, ok := s.metrics.acquire(r.Context(), "", slotWait)
	if !ok {
		s.busy(w, "too many scrapes at once")
		return
	}
	// The exposition is rendered into memory while the slot is held (it
	// is tens of KB: the series are bounded) and written after: a scraper
	// that does not read cannot hold a slot.
	e := s.exposition(r)
	release()
	for k, v := range e.header {
		w.Header()[k] = v
	}
	w.WriteHeader(e.code)
	_, _ = w.Write(e.body)
}

// rendered is one rendering of the exposition.
type rendered struct {
	key    string // renderKey
	seq    uint64 // the frame it shows
	at     time.Time
	code   int
	header http.Header
	body   []byte
}

// renderReuse is how long a rendering of the exposition serves further
// scrapes of the same frame in the same format. The series come from
// the frame, shared anyway; only the agent's own figures (go_*,
// process_*, pinspect_http_*) are up to this much older. A flood of
// scrapes (thousands queued behind one another) then costs a copy each
// instead of a rendering each, and a real scraper queued behind it is
// reached in time.
const renderReuse = time.Second

// maxRenderings bounds the renderings kept (one per format asked for,
// full and restricted).
const maxRenderings = 8

// withoutProcessIO is the server's Collector as a client that is not
// Full (Client) sees it: without the per-process io series. They come
// from /proc/PID/io, which the kernel gives only to a reader that passes
// its ptrace check on the process (PTRACE_MODE_READ_FSCREDS); the
// exposition is one for every such client, so none of them gets another
// process's counters. The groups' io totals are left out as well: a group
// of one member is that process's file, and a sum over other users'
// processes is still read from files the client could not open
// (docs/SECURITY.md).
type withoutProcessIO struct{ c *Collector }

// Describe describes the Collector's series (those left out included:
// describing more than is collected is allowed).
func (w withoutProcessIO) Describe(ch chan<- *prometheus.Desc) { w.c.Describe(ch) }

// Collect sends the Collector's metrics but the per-process and group io
// ones.
func (w withoutProcessIO) Collect(ch chan<- prometheus.Metric) {
	for _, m := range w.c.metrics() {
		if d := m.Desc(); d != w.c.d.procReadBytes && d != w.c.d.procWriteBytes &&
			d != w.c.d.groupReadBytes && d != w.c.d.groupWriteBytes {
			ch <- m
		}
	}
}

// exposition renders the metrics for r, or reuses a rendering of the same
// frame in the same format, with the same name filter, made less than
// renderReuse ago. One rendering is made at a time; it does not end when
// its client goes away.
func (s *Server) exposition(r *http.Request) *rendered {
	full := ClientOf(r.Context()).Full
	key, enc := renderKey(r, full)
	var seq uint64
	if f := s.src.Latest(); f != nil {
		seq = f.Seq
	}
	s.renderMu.Lock()
	defer s.renderMu.Unlock()
	now := time.Now()
	for _, e := range s.renderings {
		if e.key == key && e.seq == seq && now.Sub(e.at) < s.renderReuse {
			return e
		}
	}
	rec := newRenderRecorder()
	s.renders.Add(1)
	h := s.scrapeRestricted
	if full {
		h = s.scrape
	}
	// promhttp is given the encoding the key holds; the format it
	// negotiates itself, as renderKey did.
	rr := r.Clone(context.WithoutCancel(r.Context()))
	rr.Header.Set("Accept-Encoding", enc)
	h.ServeHTTP(rec, rr)
	e := &rendered{key: key, seq: seq, at: now, code: rec.code, header: rec.Header(), body: rec.body.Bytes()}
	if e.code != http.StatusOK {
		return e
	}
	s.renderings = slices.DeleteFunc(s.renderings, func(o *rendered) bool {
		return o.key == key || o.seq != seq || now.Sub(o.at) >= s.renderReuse
	})
	if len(s.renderings) >= maxRenderings {
		s.renderings = s.renderings[1:]
	}
	s.renderings = append(s.renderings, e)
	return e
}

// renderKey is what a rendering of the exposition for r depends on: the
// format promhttp negotiates from Accept (by the same call), the
// encoding (gzip when offered, as the API's documents, else identity;
// the rendering is made with Accept-Encoding set to it), whether the
// client is Full, and the name[] filter; and the encoding. Keyed on the
// headers' text, a client varying them (Accept: text/plain;q=0.N for
// every N) had a rendering made per request, one at a time under
// renderMu, each evicting another of the eight kept, the scraper's too
// (review14).
func renderKey(r *http.Request, full bool) (key, enc string) {
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	enc = "identity"
	if acceptsGzip(r) {
		enc = "gzip"
	}
	return string(format) + "\x00" + enc + "\x00" + strconv.FormatBool(full) + "\x00" + nameFilterKey(r), enc
}

// nameFilterKey is the part of a rendering's key that promhttp's name[]
// query parameter decides (only the series of those names are written):
// empty without one; else the set of names, sorted, without repeats,
// each quoted (a name may hold any byte). Without it in the key, one
// scrape of /metrics?name[]=x gave every scrape of the same frame in the
// next second (the scrape listener's too) that one's filtered, here
// empty, exposition: any client that could reach the agent could blank
// the scraper's series (tester14).
func nameFilterKey(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	names := r.URL.Query()["name[]"]
	if len(names) == 0 {
		return ""
	}
	names = slices.Clone(names)
	slices.Sort(names)
	return fmt.Sprintf("name[]%q", slices.Compact(names))
}

func (s *Server) handleHealthy(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "pinspect is healthy.\n")
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if f := s.src.Latest(); f == nil || f.Snapshot == nil {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "pinspect is not ready: the first scan is in progress.\n")
		return
	}
	_, _ = io.WriteString(w, "pinspect is ready.\n")
}

// unknownParam refuses a query parameter that what (an endpoint, or one
// of its modes) does not take, naming it and the ones it takes: ignored,
// a misspelt filter (?typ=exit, ?pids=1) gave every process or event as
// if none was asked for. The first unknown one in name order is named;
// with none unknown, the first given an empty value.
func unknownParam(q url.Values, what string, known ...string) error {
	var bad, empty []string
	for k, vs := range q {
		if !slices.Contains(known, k) {
			bad = append(bad, k)
		} else if slices.Contains(vs, "") {
			empty = append(empty, k)
		}
	}
	if len(bad) == 0 && len(empty) > 0 {
		// A parameter given empty was taken as not given (?until= gave
		// events to the end, ?type= every type): refused as the command
		// line's empty flags are. The first one in name order is named.
		slices.Sort(empty)
		return fmt.Errorf("%s: an empty value (give one, or leave the parameter out)", empty[0])
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	takes := "no query parameters"
	if len(known) > 0 {
		takes = strings.Join(known, ", ")
	}
	return fmt.Errorf("%s: unknown query parameter (%s takes %s)", strconv.Quote(bad[0]), what, takes)
}

// refuseParams answers 400 when the request has a query parameter that
// is not one of known (unknownParam); true when it answered.
func refuseParams(w http.ResponseWriter, r *http.Request, what string, known ...string) bool {
	if err := unknownParam(r.URL.Query(), what, known...); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return true
	}
	return false
}

// parseSnapshotQuery reads /api/v1/snapshot's query: the filter and
// whether threads are wanted (when the snapshot has them).
func parseSnapshotQuery(q url.Values) (report.Filter, bool, error) {
	var flt report.Filter
	if err := unknownParam(q, PathSnapshot, "pid", "state", "name", "user", "threads"); err != nil {
		return flt, false, err
	}
	for _, v := range q["pid"] {
		for _, part := range strings.Split(v, ",") {
			pid, err := strconv.Atoi(part)
			if err != nil || !collector.ValidPID(pid) {
				return flt, false, fmt.Errorf("pid: not a process id: %s", strconv.Quote(part))
			}
			flt.PIDs = append(flt.PIDs, pid)
		}
	}
	flt.States = q.Get("state")
	for _, c := range flt.States {
		if !strings.ContainsRune(collector.StateLetters+"W", c) {
			return flt, false, fmt.Errorf("state: unknown state letter %s", strconv.QuoteRune(c))
		}
	}
	flt.Name = q.Get("name")
	if u := q.Get("user"); u != "" {
		flt.Users = strings.Split(u, ",")
	}
	threads := true
	if v := q.Get("threads"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return flt, false, errors.New("threads: want true or false")
		}
		threads = b
	}
	return flt, threads, nil
}

func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	flt, threads, err := parseSnapshotQuery(r.URL.Query())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := s.latest(w)
	if f == nil {
		return
	}
	// A frame whose walk left the signal dispositions out (an agent's
	// scan for its metrics alone) is not shown: the frame scanned for the
	// API has them, with the threads.
	if threads || dispositionsAbsent(f.Snapshot) {
		f = s.threadsFrame(r.Context(), f)
	}
	if dispositionsAbsent(f.Snapshot) {
		w.Header().Set("Retry-After", "2")
		httpError(w, http.StatusServiceUnavailable, "no scan with every process's signal dispositions came within "+threadWait.String()+": try again")
		return
	}
	client := ClientOf(r.Context())
	release, ok := s.heavy.acquire(r.Context(), client.Key, slotWait)
	if !ok {
		s.busy(w, "too many snapshot requests at once")
		return
	}
	defer release()
	doc := report.NewSnapshotDoc(s.viewFor(f, client), flt, f.Snapshot.ThreadsRead && threads)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	out, done := compressed(w, r)
	defer done()
	if err := report.WriteSnapshotJSON(out, doc, false); err != nil {
		s.opts.Logger.Debug("writing snapshot", "err", err)
	}
}

// ThreadDemander is a Source whose frames carry every process's threads
// only while a client asks for them (monitor.Monitor with
// monitor.Options.ThreadDemand): WantThreads asks, and reports whether
// they will come.
type ThreadDemander interface {
	WantThreads() bool
}

// threadWait bounds how long a request that wants threads waits for a
// frame that has them (one scan, at once, unless the agent is stuck).
const threadWait = 10 * time.Second

// wantsThreads asks the source for threads when it reads them on demand,
// and reports whether frames with them will come.
func (s *Server) wantsThreads() bool {
	d, ok := s.src.(ThreadDemander)
	return ok && d.WantThreads()
}

// dispositionsAbsent reports whether the walk left out the signal
// dispositions of a process of snap (collector.Process.SigDispAbsent):
// the snapshot document would show them as none.
func dispositionsAbsent(snap *collector.Snapshot) bool {
	for i := range snap.Processes {
		if snap.Processes[i].SigDispAbsent {
			return true
		}
	}
	return false
}

// threadsFrame is the frame a request that wants every thread is served:
// f when it has them or the source never reads them on demand; else the
// first frame that has them, which the source scans at once, waited for
// up to threadWait (then the latest, whose document says its threads
// were not read). So a snapshot's threads are never older than the
// frame's other data, nor older than they would be if every scan read
// them.
func (s *Server) threadsFrame(ctx context.Context, f *monitor.Frame) *monitor.Frame {
	if !s.wantsThreads() || f.Snapshot.ThreadsRead {
		return f
	}
	timer := time.NewTimer(threadWait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if l := s.src.Latest(); l != nil && l.Snapshot != nil {
			if f = l; l.Snapshot.ThreadsRead {
				return l
			}
		}
		// While it waits the connection serves nobody: at the connection
		// cap it may be closed to make room, as a frame request's may.
		unpark := park(ctx)
		select {
		case <-changed:
			unpark()
		case <-timer.C:
			unpark()
			return f
		case <-ctx.Done():
			unpark()
			return f
		}
	}
}

// compressed returns the response body writer: gzip when the client
// accepts it. done flushes and closes the compressor.
func compressed(w http.ResponseWriter, r *http.Request) (io.Writer, func()) {
	w.Header().Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r) {
		return w, func() {}
	}
	w.Header().Set("Content-Encoding", "gzip")
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	return zw, func() { _ = zw.Close() }
}

// acceptsGzip reports whether the request's Accept-Encoding has gzip
// (with a q-value above 0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				return false
			}
		}
		return true
	}
	return false
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
	pid, err := parsePID(r.PathValue("pid"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if refuseParams(w, r, PathProcesses+"{pid}") {
		return
	}
	f := s.latest(w)
	if f == nil {
		return
	}
	client := ClientOf(r.Context())
	if s.opts.ProcessDoc != nil {
		release, ok := s.procs.acquire(r.Context(), client.Key, slotWait)
		if !ok {
			s.busy(w, "too many process requests at once")
			return
		}
		defer release()
		doc, err := s.opts.ProcessDoc(r.Context(), f, ProcessRequest{
			PID: pid, Client: client, StuckBudget: s.stuck.of(client.Key), HidesOthers: s.opts.HidesOthers,
		})
		switch {
		case err != nil:
			s.opts.Logger.Warn("process document", "pid", pid, "err", err)
			httpError(w, http.StatusInternalServerError, "reading process "+strconv.Itoa(pid)+" failed")
		case doc == nil:
			httpError(w, http.StatusNotFound, "no such process: "+strconv.Itoa(pid))
		default:
			writeJSON(w, r, s.opts.Logger, doc)
		}
		return
	}
	snap := s.viewFor(f, client)
	p := lifecycle.Find(snap, pid)
	if p == nil {
		httpError(w, http.StatusNotFound, "no such process: "+strconv.Itoa(pid))
		return
	}
	writeJSON(w, r, s.opts.Logger, &ProcessEntryDoc{
		Schema:  ProcessEntrySchema,
		TakenAt: snap.TakenAt.UTC().Format(time.RFC3339Nano),
		Process: report.NewProcessDoc(p, snap.ThreadsRead),
	})
}

// parsePID reads a pid path element.
func parsePID(v string) (int, error) {
	pid, err := strconv.Atoi(v)
	if err != nil || !collector.ValidPID(pid) {
		return 0, fmt.Errorf("not a process id: %s", strconv.Quote(v))
	}
	return pid, nil
}

// handleZombies serves the `pinspect zombies --json` document of the
// latest frame.
func (s *Server) handleZombies(w http.ResponseWriter, r *http.Request) {
	if refuseParams(w, r, PathZombies) {
		return
	}
	if f := s.latest(w); f != nil {
		writeJSON(w, r, s.opts.Logger, report.NewZombiesDoc(s.zombiesFor(f, ClientOf(r.Context())), f.Snapshot.TakenAt))
	}
}

// handleOrphans serves the `pinspect orphans --json` document of the
// latest frame.
func (s *Server) handleOrphans(w http.ResponseWriter, r *http.Request) {
	if refuseParams(w, r, PathOrphans) {
		return
	}
	if f := s.latest(w); f != nil {
		writeJSON(w, r, s.opts.Logger, report.NewOrphansDoc(s.orphansFor(f, ClientOf(r.Context())), f.Snapshot.TakenAt))
	}
}

// liveEventsQuery reads the live stream's parameters: the types
// (parseEventTypes). until= and limit= belong to the recorded events
// (since=): the live stream has no end and no count, so either would be
// ignored and the client wait for ever.
func liveEventsQuery(q url.Values) (map[string]bool, error) {
	for _, p := range []string{"until", "limit"} {
		if q.Has(p) {
			return nil, errors.New(p + ": only with since= (the recorded events); the live stream has no " + p)
		}
	}
	if err := unknownParam(q, PathEvents, "type", "since"); err != nil {
		return nil, err
	}
	return parseEventTypes(q)
}

// parseEventTypes reads /api/v1/events's ?type= (comma-separated event
// types; none: every type).
func parseEventTypes(q url.Values) (map[string]bool, error) {
	v := q.Get("type")
	if v == "" {
		return nil, nil
	}
	types := map[string]bool{}
	for _, t := range strings.Split(v, ",") {
		if !slices.Contains(streamEventTypes, lifecycle.EventType(t)) {
			return nil, fmt.Errorf("type: unknown event type %s (want some of %s)", strconv.Quote(t), joinTypes())
		}
		types[t] = true
	}
	return types, nil
}

// streamEventTypes are the types an event stream can select.
var streamEventTypes = lifecycle.EventTypes()

func joinTypes() string {
	var b strings.Builder
	for i, t := range streamEventTypes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(t))
	}
	return b.String()
}

// streamQueue is how far behind one stream's client may fall: a frame
// is admitted whole when fewer than this many events are still unsent
// (queued, or taken by the writer and not yet written), so one frame's
// burst never cuts a client that has written it out by the next frame
// (one still writing a large burst then is cut). When a frame comes and this
// many or more are unsent, the client reads slower than events come: it
// is sent what was admitted and a final lost record, and the stream ends.
const streamQueue = 4096

// streamChunk is how many events the stream's writer takes at a time;
// they count as unsent until they are written.
const streamChunk = 256

// handleEvents streams lifecycle events as NDJSON (the lines of
// `pinspect watch --json`) until the client goes away; ?type=exit,zombie
// selects event types. Frames are taken from the source as they come,
// so none is held for a slow client beyond what eventQueue admitted. A
// client that falls streamQueue events behind gets a final `lost` record
// saying so, its subscription ends at once, and the stream ends once
// what was admitted is written; one that stops reading for writeStall
// is cut.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("since") {
		s.handleRecordedEvents(w, r)
		return
	}
	if s.eventsHidden(w, r) {
		return
	}
	types, err := liveEventsQuery(r.URL.Query())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	client := ClientOf(r.Context())
	release, ok := s.streams.acquire(r.Context(), client.Key, 0)
	if !ok {
		s.busy(w, "too many event streams")
		return
	}
	defer release()
	s.liveStreams.Add(1)
	defer s.liveStreams.Add(-1)
	select {
	case <-s.ending:
		httpError(w, http.StatusServiceUnavailable, "the agent is stopping")
		return
	default:
	}
	ch, cancel := s.src.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return
	}
	q := &eventQueue{wake: make(chan struct{}, 1)}
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	go s.feedStream(ctx, ch, cancel, q, types)
	enc := json.NewEncoder(w)
	for {
		chunk, unsent, dropped, ended := q.take()
		for i := range chunk.n() {
			e := chunk.event(i)
			if !client.Full {
				restrictEvent(&e)
			}
			if err := enc.Encode(report.NewEventDoc(&e)); err != nil {
				return
			}
		}
		if n := chunk.n(); n > 0 {
			q.sent(n)
			continue
		}
		if dropped > 0 {
			lost := lifecycle.Event{Type: lifecycle.Lost, Source: lifecycle.SourcePoll, Time: time.Now(),
				Note: fmt.Sprintf("stream ended: this client reads slower than events come (%d events unsent when %d more came); reconnect to go on", unsent, dropped)}
			_ = enc.Encode(report.NewEventDoc(&lost))
			_ = rc.Flush()
			return
		}
		if err := rc.Flush(); err != nil || ended {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
	}
}

// feedStream queues the events of the frames the subscription ch brings
// for a live event stream's writer, until ctx is done, the source ends,
// the agent stops (EndStreams) or the client falls too far behind (it
// then cancels the subscription: cancel).
func (s *Server) feedStream(ctx context.Context, ch <-chan *monitor.Frame, cancel func(), q *eventQueue, types map[string]bool) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ending:
			// The agent stops (EndStreams): the frame waiting in
			// the subscription, its last, is queued, and the
			// stream ends once what it holds is written.
			select {
			case f, ok := <-ch:
				if ok {
					q.push(f.Events, types)
				}
			default:
			}
			q.end()
			return
		case f, ok := <-ch:
			if !ok {
				q.end()
				return
			}
			admitted := q.push(f.Events, types)
			if !admitted {
				// Cut now, even while the writer is blocked on the
				// client: it sends what was admitted and the final
				// lost record when it can, or gives up at the write
				// stall. The subscription ends here, so no later
				// frame is held for this stream meanwhile (the
				// source merges the frames a subscriber has not
				// taken); the one it may still hold goes too.
				cancel()
				select {
				case <-ch:
				default:
				}
				s.stats.streamsCut.Add(1)
			}
			s.streamFrames.Add(1)
			if !admitted {
				return
			}
		}
	}
}

// EndStreams ends the live event streams (/api/v1/events) once each has
// written what it holds and the frame waiting in its subscription, and
// refuses new ones (503); and answers the frame requests waiting
// (/api/v1/frame, a remote dashboard's long-poll): with the last frame
// when it is newer than the client's, else 503 "the agent is stopping"
// (a clean end its client reports and retries, rather than a cut
// connection). It is for an agent that stops, after its monitor
// published its last frame (monitor.Options.FinalFrame) and before the
// server shuts down, which cuts every request where it is: it first
// waits for Run to have taken that frame (so the frame requests send
// it, its events in the ring). It waits for all of them up to timeout
// (a client that does not read is cut by the shutdown).
func (s *Server) EndStreams(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for !s.tookLatest() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	s.endOnce.Do(func() { close(s.ending) })
	for s.liveStreams.Load()+s.liveFrames.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// isEnding reports whether EndStreams was called.
func (s *Server) isEnding() bool {
	select {
	case <-s.ending:
		return true
	default:
		return false
	}
}

// tookLatest reports whether Run has taken the source's latest frame
// (its events are in the ring; the frame endpoint sends it).
func (s *Server) tookLatest() bool {
	l := s.src.Latest()
	s.mu.Lock()
	defer s.mu.Unlock()
	return l == nil || s.pushed != nil && s.pushed.Seq >= l.Seq
}

// metricsHidden refuses the metrics to a client that is not Full when
// the /proc hides other users' processes: the exposition is one for all
// clients and names processes (per-process series, groups named after
// programs, zombie parents) that such a client could not see in /proc;
// true when it answered.
func (s *Server) metricsHidden(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.HidesOthers && !ClientOf(r.Context()).Full {
		httpError(w, http.StatusForbidden, "metrics: /proc hides other users' processes here (hidepid), and the series name them; "+ReasonNeedsAuth+" (web config basic auth or a client certificate), or a unix-socket peer with uid 0 or the agent's")
		return true
	}
	return false
}

// eventsHidden refuses event streams to a client that is not Full when
// the /proc hides other users' processes (an event does not say whose
// process it is, so none can be shown); true when it answered.
func (s *Server) eventsHidden(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.HidesOthers && !ClientOf(r.Context()).Full {
		httpError(w, http.StatusForbidden, "events: /proc hides other users' processes here; "+ReasonNeedsAuth)
		return true
	}
	return false
}

// eventQueue is one stream's bounded queue: the events of the frames
// its writer has not written yet. A stream thus holds, besides the
// source's frames it refers to, fewer than 2*streamQueue copied events
// and, for one or two frames of streamQueue or more matching events, a
// reference to the frame and 4 bytes per event (see push).
type eventQueue struct {
	mu     sync.Mutex
	frames []queuedEvents
	// unsent counts the events of frames, the writer's chunk included
	// until it says it was written.
	unsent int
	// cutAt is how many events were unsent when the queue overflowed,
	// and dropped how many the overflowing frame matched (0 before).
	cutAt, dropped int
	ended          bool
	wake           chan struct{}
}

// queuedEvents is some events of one frame, in order: all of evs when
// idx is nil, else evs[idx[0]], evs[idx[1]], ...
type queuedEvents struct {
	evs []lifecycle.Event
	idx []int32
}

func (c queuedEvents) n() int {
	if c.idx != nil {
		return len(c.idx)
	}
	return len(c.evs)
}

func (c queuedEvents) event(i int) lifecycle.Event {
	if c.idx != nil {
		return c.evs[c.idx[i]]
	}
	return c.evs[i]
}

// head splits c after its first n events.
func (c queuedEvents) head(n int) (first, rest queuedEvents) {
	if c.idx != nil {
		return queuedEvents{c.evs, c.idx[:n:n]}, queuedEvents{c.evs, c.idx[n:]}
	}
	return queuedEvents{evs: c.evs[:n:n]}, queuedEvents{evs: c.evs[n:]}
}

// push admits the events of one frame that pass types (nil: all; a Lost
// record, events the source dropped for this stream, passes any filter,
// so nothing is dropped silently) when fewer than streamQueue events are
// unsent; false when they are not admitted: the stream is over. A frame
// of fewer than streamQueue matching events is copied (only those); a
// larger one is not: the queue refers to the source's frame, whose
// events are read only, with the positions of the matching ones unless
// all match. Frames are shared by every subscriber, so 16 streams
// behind on one frame hold it once.
func (q *eventQueue) push(evs []lifecycle.Event, types map[string]bool) bool {
	match := func(e *lifecycle.Event) bool {
		return types == nil || types[string(e.Type)] || e.Type == lifecycle.Lost
	}
	n := 0
	for i := range evs {
		if match(&evs[i]) {
			n++
		}
	}
	if n == 0 {
		return true
	}
	q.mu.Lock()
	ok := q.unsent < streamQueue
	if !ok {
		q.cutAt, q.dropped = q.unsent, n
	}
	q.mu.Unlock()
	if ok {
		var c queuedEvents
		switch {
		case n == len(evs) && n >= streamQueue:
			c.evs = evs
		case n >= streamQueue:
			c.evs, c.idx = evs, make([]int32, 0, n)
			for i := range evs {
				if match(&evs[i]) {
					c.idx = append(c.idx, int32(i))
				}
			}
		default:
			c.evs = make([]lifecycle.Event, 0, n)
			for i := range evs {
				if match(&evs[i]) {
					c.evs = append(c.evs, evs[i])
				}
			}
		}
		q.mu.Lock()
		q.frames = append(q.frames, c)
		q.unsent += n
		q.mu.Unlock()
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return ok
}

func (q *eventQueue) end() {
	q.mu.Lock()
	q.ended = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns the next at most streamChunk events, which stay counted
// as unsent until sent says they were written; when none is left, how
// many were unsent when the queue overflowed and how many were then
// dropped (0 if it did not), and whether the source ended.
func (q *eventQueue) take() (chunk queuedEvents, cutAt, dropped int, ended bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) == 0 {
		q.frames = nil
		return chunk, q.cutAt, q.dropped, q.ended
	}
	if n := q.frames[0].n(); n <= streamChunk {
		chunk = q.frames[0]
		q.frames[0] = queuedEvents{}
		q.frames = q.frames[1:]
	} else {
		chunk, q.frames[0] = q.frames[0].head(streamChunk)
	}
	return chunk, 0, 0, false
}

// sent says n taken events were written.
func (q *eventQueue) sent(n int) {
	q.mu.Lock()
	q.unsent -= n
	q.mu.Unlock()
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

// parseFrameQuery reads the frame endpoint's ?after=N&wait=D.
func parseFrameQuery(q url.Values, maxWait time.Duration) (after uint64, wait time.Duration, err error) {
	if err := unknownParam(q, PathFrame, "after", "wait", "at"); err != nil {
		return 0, 0, err
	}
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, 0, errors.New("after: want a frame number")
		}
	}
	wait = maxWait
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, 0, errors.New("wait: want a duration like 20s")
		}
		wait = min(d, wait)
	}
	return after, wait, nil
}

// handleFrame sends the latest frame once its Seq differs from ?after=N,
// waiting for it up to ?wait= (capped at MaxLongPoll).
func (s *Server) handleFrame(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("at") {
		s.handleRecordedFrame(w, r)
		return
	}
	after, wait, err := parseFrameQuery(r.URL.Query(), s.opts.MaxLongPoll)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	client := ClientOf(r.Context())
	s.liveFrames.Add(1)
	defer s.liveFrames.Add(-1)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	// A remote dashboard shows threads: a frame without them (the agent
	// reads them on demand and had no client asking) is not sent; the
	// next one, scanned at once, has them.
	threads := s.wantsThreads()
	for {
		s.mu.Lock()
		changed, f := s.changed, s.pushed
		s.mu.Unlock()
		if f == nil {
			// Run has not started: no frame's events are in the ring
			// yet, so the latest goes with its own.
			f = s.src.Latest()
		}
		// A frame number below after means the agent restarted.
		newer := f != nil && f.Snapshot != nil && f.Seq != after
		ending := s.isEnding()
		if newer && (!threads || f.Snapshot.ThreadsRead || ending) {
			s.sendFrame(w, r, f, after, client)
			return
		}
		if ending {
			// The agent stops (EndStreams): no frame will come after
			// the last, which this client has.
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusServiceUnavailable, "the agent is stopping")
			return
		}
		// While it waits the connection serves nobody: at the connection
		// cap it may be closed to make room (its client asks again).
		unpark := park(r.Context())
		select {
		case <-s.ending:
			unpark()
		case <-changed:
			unpark()
		case <-timer.C:
			unpark()
			if newer {
				// The scan with threads did not come within the wait:
				// the newer frame is sent as it is (its document says
				// its threads were not read), never "no new frame".
				s.sendFrame(w, r, f, after, client)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			unpark()
			return
		}
	}
}

// sendFrame writes frame f (after: the client's last) in the client's
// slot of heavy requests, or answers busy when it has none free.
func (s *Server) sendFrame(w http.ResponseWriter, r *http.Request, f *monitor.Frame, after uint64, client Client) {
	release, ok := s.heavy.acquire(r.Context(), client.Key, slotWait)
	if !ok {
		s.busy(w, "too many frame requests at once")
		return
	}
	defer release()
	s.writeFrame(w, r, f, after, client)
}

func (s *Server) writeFrame(w http.ResponseWriter, r *http.Request, f *monitor.Frame, after uint64, client Client) {
	wf := &WireFrame{
		Version: FrameVersion, Seq: f.Seq, Snapshot: s.viewFor(f, client),
		Interval: f.Interval, EventsLive: f.EventsLive, EventsNote: f.EventsNote,
		Zombies: s.zombiesFor(f, client), Orphans: s.orphansFor(f, client), Paused: f.Paused,
	}
	if after > f.Seq {
		after = 0 // the client's frame was from before a restart
	}
	s.mu.Lock()
	if after == 0 {
		wf.Events = f.Events
	} else {
		wf.EventsLost = s.ring.lostAfter(after)
		s.ring.each(func(e *seqEvent) {
			if e.seq > after && e.seq <= f.Seq {
				wf.Events = append(wf.Events, e.ev)
			}
		})
	}
	s.mu.Unlock()
	if !client.Full {
		wf.Events = slices.Clone(wf.Events)
		for i := range wf.Events {
			restrictEvent(&wf.Events[i])
		}
	}
	w.Header().Set("Content-Type", "application/x-gob")
	w.Header().Set("X-Pinspect-Frame-Version", strconv.Itoa(FrameVersion))
	out, done := compressed(w, r)
	defer done()
	if err := gob.NewEncoder(out).Encode(wf); err != nil {
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
<li>/api/v1/explain/{pid}?window=2s: findings about one process (the <code>pinspect explain --json</code> document; two at a time, one per client)</li>
<li><a href="/api/v1/zombies">/api/v1/zombies</a>: zombies by parent, with diagnoses</li>
<li><a href="/api/v1/orphans">/api/v1/orphans</a>: orphans and their adopters</li>
<li>/api/v1/events: lifecycle events as they happen (NDJSON stream; ?type=exit,zombie)</li>
<li>/api/v1/frame: the frames <code>pinspect --remote URL</code> reads (Go gob, internal)</li>
<li><a href="/-/healthy">/-/healthy</a>, <a href="/-/ready">/-/ready</a>: liveness and readiness</li>
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

// StreamedDoc is a document that encodes itself as it is written, in
// bounded pieces (report.ShowDoc): the server streams it to the client
// instead of encoding it whole first, so a huge document (a process
// with 200,000 mappings is tens of megabytes of JSON) costs a bounded
// buffer per request, and a client that stops reading is abandoned
// after the write stall (ServeOptions.WriteStall).
type StreamedDoc interface {
	// WriteJSON writes the document on one line and a newline.
	WriteJSON(w io.Writer) error
}

// writeJSON writes a document on one line, gzipped when the client
// accepts it; a StreamedDoc is streamed.
func writeJSON(w http.ResponseWriter, r *http.Request, log *slog.Logger, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	out, done := compressed(w, r)
	defer done()
	var err error
	if sd, ok := v.(StreamedDoc); ok {
		err = sd.WriteJSON(out)
	} else {
		err = report.WriteCompactJSON(out, v)
	}
	if err != nil {
		log.Debug("writing response", "err", err)
	}
}
