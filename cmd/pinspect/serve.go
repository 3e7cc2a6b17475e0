//go:build linux

package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/collector/sampler"
	"github.com/pinspect/pinspect/views/metrics"
	"github.com/pinspect/pinspect/views/report"
)

// defaultServeMemLimitMiB is no soft limit on the Go heap by default. A
// limit below the live heap is a CPU trap, not a saving: 40 MiB, the
// earlier default, was under the live heap of a host with 2,200
// processes (49 MB), and the runtime collected without pause (833 GCs in
// 40 s, 8.4 CPU s in 45 s against 2.3 s without the limit, for 76 MB of
// RSS against 89 MB). --memory-limit-mib sets one where memory matters
// more than CPU.
const defaultServeMemLimitMiB = 0

// serveFlags are `pinspect serve`'s options.
type serveFlags struct {
	listen        []string
	listenAny     bool
	systemdSocket bool
	telemetryPath string
	webConfig     string
	interval      time.Duration
	noThreads     bool
	noConnector   bool
	recordDir     string
	cmdline       bool
	metricsConfig string
	zombieParents int
	logLevel      string
	logFormat     string
	memLimitMiB   int
	maxConns      int
	scrape        scrapeFlags
}

func newServeCmd(a *app) *cobra.Command {
	var o serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run an agent: Prometheus metrics and a JSON API over HTTP",
		Long: `Run pinspect as an agent: a monitor samples /proc every --interval and an
HTTP server exposes
  /metrics                  Prometheus metrics (docs/METRICS.md)
  /api/v1/snapshot          every process (the pinspect --json document)
  /api/v1/processes/{pid}   one process
  /api/v1/explain/{pid}     findings about one process (pinspect explain --json)
  /api/v1/zombies           zombies by parent, with diagnoses
  /api/v1/orphans           orphans and their adopters
  /api/v1/events            lifecycle events as they happen (NDJSON)
  /api/v1/frame             the frames pinspect --remote URL reads (internal)
  /-/healthy, /-/ready      liveness and readiness
A scrape never reads /proc: it converts the latest scan, shared by all
scrapers. The default address is loopback only; TLS and authentication come
from --web.config.file (the format of Prometheus's exporter-toolkit).
A client gets no more than it could read itself: without authentication,
what an unprivileged user sees; in full with basic auth or a verified TLS
client certificate, or on a unix socket (--web.listen-address
unix:/run/pinspect.sock) by the peer's uid (docs/SECURITY.md).
Environment variables are never exported, command lines only with
--metrics.cmdline (and then with likely secrets redacted). SIGHUP reloads
--web.config.file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := refuseListenWithSocket(cmd, &o); err != nil {
				return err
			}
			o.scrape.modeSet, o.scrape.groupSet = changed(cmd, "web.scrape-socket-mode"), changed(cmd, "web.scrape-socket-group")
			a.signalStops = true
			a.stopGrace.Store(int64(serveStopGrace))
			return a.serve(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	// --listen is the flag's name in the first releases: it still works,
	// with a deprecation note on stderr.
	f.StringArrayVar(&o.listen, "listen", nil, "")
	_ = f.MarkDeprecated("listen", "use --web.listen-address")
	f.StringArrayVar(&o.listen, "web.listen-address", []string{metrics.DefaultListen}, "address to listen on: host:port (loopback by default) or unix:PATH; repeat for several")
	f.BoolVar(&o.listenAny, "web.listen-any", false, "allow a wildcard or empty host (every interface) in --web.listen-address")
	f.BoolVar(&o.systemdSocket, "web.systemd-socket", false, "serve on the sockets systemd passes (socket activation) instead of --web.listen-address")
	f.StringVar(&o.telemetryPath, "web.telemetry-path", metrics.PathMetrics, "path of the Prometheus metrics")
	f.StringVar(&o.webConfig, "web.config.file", "", "TLS and authentication (exporter-toolkit web-config YAML; SIGHUP reloads it)")
	f.IntVar(&o.maxConns, "web.max-connections", 0, "most open connections (default: from the fd limit, at most 1024)")
	f.StringArrayVar(&o.scrape.addrs, "web.scrape-address", nil, "also listen here for the scraper only (metrics and health, own accept queue and connection cap): host:port or unix:PATH; repeat for several")
	f.StringSliceVar(&o.scrape.allow, "web.scrape-allow", nil, "networks or addresses a TCP --web.scrape-address accepts peers from (others are closed at once), e.g. 10.0.0.5,192.168.1.0/24")
	f.StringVar(&o.scrape.mode, "web.scrape-socket-mode", defaultScrapeSocketMode, "mode of a unix:PATH --web.scrape-address")
	f.StringVar(&o.scrape.group, "web.scrape-socket-group", "", "group (name or gid) of a unix:PATH --web.scrape-address (default: the agent's)")
	f.DurationVar(&o.interval, "interval", 15*time.Second, "sampling interval (at least "+minInterval.String()+")")
	f.BoolVar(&o.noThreads, "no-threads", false, "do not read per-thread data (no thread rows in the API; on /proc no thread states either, and context switches of the leader thread only); without it the task iterator reads them only while an API client asks")
	f.BoolVar(&o.noConnector, "no-connector", false, "do not follow the kernel's process events (BPF tracepoints, or the process-events connector where they cannot load)")
	f.StringVar(&o.recordDir, "record-dir", "", "serve the past from this record (pinspect record --dir): /api/v1/events?since= and /api/v1/frame?at=")
	f.BoolVar(&o.cmdline, "metrics.cmdline", false, "add a (redacted) cmdline label to per-process series and command lines to the API")
	f.StringVar(&o.metricsConfig, "metrics.config.file", "", "how processes are grouped and which get series of their own (YAML; docs/METRICS.md)")
	f.IntVar(&o.zombieParents, "metrics.zombie-parents", metrics.DefaultZombieParents, "per-parent zombie series (with a pid label) for this many parents, most zombies first (default none: the groups say who holds zombies)")
	f.StringVar(&o.logLevel, "log.level", "info", "log level: debug, info, warn, error")
	f.StringVar(&o.logFormat, "log.format", "logfmt", "log format: logfmt or json")
	f.IntVar(&o.memLimitMiB, "memory-limit-mib", defaultServeMemLimitMiB, "soft limit on the agent's Go memory in MiB (0: none; the GOMEMLIMIT environment variable overrides it)")
	registerCompletions(cmd, map[string]cobra.CompletionFunc{
		"log.level":  fixedChoices(logLevels...),
		"log.format": fixedChoices([2]string{"logfmt", "key=value lines"}, [2]string{"json", "one JSON object a line"}),
	})
	return withFilters(reads(cmd, sourceProc))
}

// refuseListenWithSocket refuses the listen options socket activation ignores:
// systemd's sockets are served instead of any address.
func refuseListenWithSocket(cmd *cobra.Command, o *serveFlags) error {
	if !o.systemdSocket {
		return nil
	}
	for _, f := range []string{"web.listen-address", "listen", "web.listen-any"} {
		if changed(cmd, f) {
			return notApplicable("--"+f, "serve --web.systemd-socket", "it serves the sockets systemd passes (ListenStream= in the .socket unit)")
		}
	}
	return nil
}

// listenAddr is one parsed --web.listen-address.
type listenAddr struct {
	network, address string
}

// maxSocketPath is the longest path a unix socket address holds
// (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107

// parseListen checks the listen addresses given to flag: host:port with
// a host (an empty or wildcard host only with --web.listen-any), or
// unix:PATH.
func parseListen(flag string, addrs []string, any bool) ([]listenAddr, error) {
	if len(addrs) == 0 {
		return nil, usageError{fmt.Errorf("%s: none given", flag)}
	}
	var out []listenAddr
	for _, addr := range addrs {
		if path, ok := strings.CutPrefix(addr, "unix:"); ok {
			if path == "" || !filepath.IsAbs(path) {
				return nil, usageError{fmt.Errorf("%s %q: want unix:/absolute/path", flag, addr)}
			}
			if len(path) > maxSocketPath {
				return nil, usageError{fmt.Errorf("%s %q: a unix socket path has at most %d bytes (this one has %d)", flag, addr, maxSocketPath, len(path))}
			}
			out = append(out, listenAddr{"unix", path})
			continue
		}
		if addr == "" {
			return nil, usageError{fmt.Errorf("%s \"\": an empty address would listen on every interface on a random port: give host:port (e.g. %s; a wildcard host also needs --web.listen-any)", flag, metrics.DefaultListen)}
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s %q: %w (want host:port, e.g. %s)", flag, addr, err, metrics.DefaultListen)}
		}
		if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
			return nil, usageError{fmt.Errorf("%s %q: bad port", flag, addr)}
		}
		if ip := net.ParseIP(host); (host == "" || ip != nil && ip.IsUnspecified()) && !any {
			return nil, usageError{fmt.Errorf("%s %q listens on every interface: add --web.listen-any if that is what you want (and --web.config.file for TLS and authentication)", flag, addr)}
		}
		out = append(out, listenAddr{"tcp", addr})
	}
	return out, nil
}

// listenAll opens the listeners: systemd's sockets, or each address. A
// unix socket replaces a stale socket file (never another kind of file)
// and is made connectable by every user: what each peer may see is
// decided by its credentials.
func listenAll(addrs []listenAddr, systemd bool) ([]net.Listener, error) {
	if systemd {
		ls, err := systemdListeners()
		if err != nil {
			return nil, fmt.Errorf("--web.systemd-socket: %w", err)
		}
		return ls, nil
	}
	var ls []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range ls {
			l.Close()
		}
		return nil, err
	}
	for _, a := range addrs {
		if a.network == "unix" {
			if err := clearStaleSocket(a.address); err != nil {
				return fail(fmt.Errorf("--web.listen-address %w", err))
			}
		}
		l, err := listenOne(a)
		if err != nil {
			return fail(fmt.Errorf("--web.listen-address: %w", err))
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// clearStaleSocket removes a socket file left at path by a server that
// is gone; another kind of file, or a socket someone listens on, is an
// error.
func clearStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("unix:%s: exists and is not a socket", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("unix:%s: another server is listening there", path)
	}
	os.Remove(path)
	return nil
}

// listenOne listens on one address. A unix socket gets mode 0666 from
// the umask when it is bound, never from a chmod of its path afterwards:
// in a directory another user may write, the path could be a symbolic
// link to any file by then, and chmod follows links. (The umask is the
// process's: nothing else creates files while serve starts.)
func listenOne(a listenAddr) (net.Listener, error) {
	if a.network != "unix" {
		return net.Listen(a.network, a.address)
	}
	old := unix.Umask(0o111)
	defer unix.Umask(old)
	return net.Listen(a.network, a.address)
}

// systemdListeners returns the sockets passed by systemd socket
// activation (LISTEN_PID, LISTEN_FDS: descriptors from 3 on).
func systemdListeners() ([]net.Listener, error) {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil, fmt.Errorf("no sockets passed to this process (LISTEN_PID is %q)", os.Getenv("LISTEN_PID"))
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 || n > 64 {
		return nil, fmt.Errorf("LISTEN_FDS is %q", os.Getenv("LISTEN_FDS"))
	}
	var ls []net.Listener
	for fd := 3; fd < 3+n; fd++ {
		unix.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "systemd-socket-"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("descriptor %d: %w", fd, err)
		}
		ls = append(ls, l)
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	return ls, nil
}

// checkServeFlags checks every flag of serve before anything is read or
// listens: the log level, and the listen addresses (none with
// --web.systemd-socket).
func checkServeFlags(o *serveFlags) (slog.Level, []listenAddr, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return level, nil, usageError{fmt.Errorf("--log.level: %w", err)}
	}
	if o.logFormat != "logfmt" && o.logFormat != "json" {
		return level, nil, usageError{fmt.Errorf("--log.format %q: want logfmt or json", o.logFormat)}
	}
	if err := checkInterval(o.interval); err != nil {
		return level, nil, err
	}
	if o.zombieParents < 0 || o.zombieParents > metrics.MaxSeriesLimit {
		return level, nil, usageError{fmt.Errorf("--metrics.zombie-parents: want 0..%d", metrics.MaxSeriesLimit)}
	}
	if o.memLimitMiB < 0 {
		return level, nil, usageError{fmt.Errorf("--memory-limit-mib %d: want 0 or more", o.memLimitMiB)}
	}
	if o.maxConns < 0 {
		return level, nil, usageError{fmt.Errorf("--web.max-connections %d: want 1 or more (0: default)", o.maxConns)}
	}
	if err := metrics.CheckTelemetryPath(o.telemetryPath); err != nil {
		return level, nil, usageError{fmt.Errorf("--web.telemetry-path %w", err)}
	}
	if err := checkScrapeFlags(&o.scrape, o.listenAny); err != nil {
		return level, nil, err
	}
	if o.systemdSocket {
		return level, nil, nil
	}
	addrs, err := parseListen("--web.listen-address", o.listen, o.listenAny)
	return level, addrs, err
}

// newServeLogger is serve's logger on stderr, logfmt or JSON.
func newServeLogger(stderr io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

func (a *app) serve(ctx context.Context, o *serveFlags) error {
	if ctx == nil {
		ctx = a.ctx
	}
	agentProcs()
	serveGC()
	releaseStartupPages() // from here code is mapped page by page: see residency.go
	// Everything the user gave is checked, and every file read, before
	// anything listens or the URL is announced.
	level, addrs, err := checkServeFlags(o)
	if err != nil {
		return err
	}
	groups, perProcess, err := loadMetricsConfig(o.metricsConfig)
	if err != nil {
		return err
	}
	log := newServeLogger(a.stderr, level, o.logFormat)
	set, found := widenTimerSlack(agentTimerSlack)
	log.Debug("timer slack", "slack", agentTimerSlack.String(), "threads_set", set, "threads", found)
	web, err := metrics.NewWeb(o.webConfig)
	if err != nil {
		// A file the user named that cannot be used: exit 2, as for
		// --metrics.config.file and --passwd-file.
		return usageError{fmt.Errorf("--web.config.file: %w", err)}
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && o.memLimitMiB > 0 {
		old := debug.SetMemoryLimit(int64(o.memLimitMiB) << 20)
		defer debug.SetMemoryLimit(old)
	}
	r, err := a.serveReader(o, addrs, log)
	if err != nil {
		return err
	}
	defer r.Close()
	if ctx.Err() != nil {
		return nil // stopped while starting
	}
	var rec *record.Store
	if o.recordDir != "" {
		if rec, err = record.Open(o.recordDir); err != nil {
			return fmt.Errorf("--record-dir: %w", err)
		}
		defer rec.Close()
	}
	ls, err := listenAll(addrs, o.systemdSocket)
	if err != nil {
		return err
	}
	scrapeLs, err := listenScrape(o.scrape.parsed)
	if err != nil {
		for _, l := range ls {
			l.Close()
		}
		return err
	}
	authenticated := web.Config().BasicAuth() || web.Config().CertAuth
	warnBeyondLoopback(log, append(slices.Clone(ls), scrapeLs...), authenticated)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go releaseStartupPagesLater(ctx) // the BPF program is loaded: see residency.go
	reload := func() {
		if err := web.Reload(); err != nil {
			log.Error("reloading --web.config.file failed; the previous configuration stays", "err", err)
			return
		}
		log.Info("reloaded --web.config.file", "file", o.webConfig)
	}
	a.onHangup.Store(&reload)
	unixListener := o.systemdSocket || slices.ContainsFunc(addrs, func(l listenAddr) bool { return l.network == "unix" })
	// Between the scans an API client waits for (which read every
	// thread), no command line is read again past the TTL unless a
	// metric shows it: a cmdline label, or a group rule on it.
	m := monitor.New(r, monitor.Options{Interval: o.interval, Threads: !o.noThreads, ThreadDemand: serveThreadDemand(r, o),
		Connector: !o.noConnector, Tracepoints: true, MemoryHistory: true, NoRates: true, Cgroups: groups.NeedsCgroups(), IO: true, ConnectorCoalesce: agentConnectorCoalesce,
		IOWanted: func() bool { return ioShown(unixListener, web) }, IdentitiesOnDemand: !o.cmdline && !groups.NeedsCmdlines(),
		FinalFrame: monitor.DefaultFinalFrame})
	monErr := make(chan error, 1)
	go logEventSource(ctx, m, log)
	go func() { monErr <- m.Run(ctx) }()
	docs := &serveDocs{r: r, m: m, cmdline: o.cmdline, showSlots: make(chan struct{}, 2)}
	srv := metrics.NewServer(m, metrics.ServerOptions{
		Options: metrics.Options{ZombieParents: o.zombieParents, Cmdline: o.cmdline, Groups: groups, PerProcess: perProcess,
			Connector: !o.noConnector, StuckReads: r.StuckReads},
		Logger:        log,
		TelemetryPath: o.telemetryPath,
		HidesOthers:   collector.HidesOtherUsers(a.procRoot),
		Record:        rec,
		BuildInfo:     buildFacts(),
		ProcessDoc:    docs.process,
		ExplainDoc:    docs.explain,
	})
	// The server outlives the monitor on a signal: the monitor's last
	// frame (monitor.Options.FinalFrame) reaches the event streams,
	// which end once they have sent it (waitServe).
	httpCtx, httpCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer httpCancel()
	srvDone := make(chan struct{})
	go func() { defer close(srvDone); srv.Run(httpCtx) }()
	defer func() { cancel(); httpCancel(); <-srvDone }()
	maxConns := cmp.Or(o.maxConns, metrics.DefaultMaxConns())
	serveErr := make(chan error, 1)
	go func() {
		serveErr <- metrics.Serve(httpCtx, srv.Handler(), metrics.ServeOptions{Listeners: ls, Web: web, Logger: log, MaxConns: maxConns, Stats: srv.Stats(),
			ScrapeListeners: scrapeLs, ScrapeHandler: srv.ScrapeHandler(), ScrapeAllow: o.scrape.parsed.allow})
	}()
	for _, l := range scrapeLs {
		log.Info("pinspect serve: scrape listener", "address", l.Addr().Network()+":"+l.Addr().String(), "max_connections", metrics.ScrapeMaxConns)
	}
	for _, l := range ls {
		u := web.Scheme() + "://" + l.Addr().String() + "/"
		if l.Addr().Network() == "unix" {
			u = "unix:" + l.Addr().String()
		}
		log.Info("pinspect serve", "url", u, "interval", o.interval.String(), "threads", !o.noThreads, "max_connections", maxConns, "authentication", authenticated, "version", buildFacts().Version)
	}
	return a.waitServe(cancel, func() { srv.EndStreams(streamsEndWithin); httpCancel() }, monErr, serveErr)
}

// streamsEndWithin bounds how long a stopping serve waits for its event
// streams to send the last frame's events (metrics.Server.EndStreams).
const streamsEndWithin = 2 * time.Second

// ioShown says whether a client shown io counters can connect, so that
// serve reads them (monitor.Options.IOWanted): a Full client (an
// authenticated one, or root and the agent's own user on a unix socket)
// and a unix-socket peer for its own processes see them; nobody else
// does (docs/SECURITY.md: the kernel guards /proc/PID/io with a ptrace
// check). Asked before each scan, so a --web.config.file reloaded with
// authentication is followed at the next collection; the groups' io
// totals then start from that scan's counters. Without it every
// collection summed every thread's io in the kernel and read the io
// files of new processes for no one: at 2,000 x 9 about a tenth of
// the walk (docs/PERFORMANCE.md, the serve5 pass).
func ioShown(unixListener bool, web *metrics.Web) bool {
	c := web.Config()
	return unixListener || c.BasicAuth() || c.CertAuth
}

// agentConnectorCoalesce is how long serve's and record's connector lets
// process events gather while they come often (monitor.Options.
// ConnectorCoalesce; the default is 10 ms), as the dashboard's does
// (dashboardConnectorCoalesce). An agent hands its events on once a
// collection, so a later read costs only names: a process that execs and
// exits within 50 ms is counted under its parent's comm (at 10 ms, one
// within 10 ms was); every event, exit code and time is still there, in
// order. Each read wakes the agent (the read, the conversion, the lookup
// batch, the Go runtime's monitor thread: about six thread switches),
// and at 50 forks a second those wake-ups were half of an agent's CPU
// (docs/PERFORMANCE.md, the serve2 pass).
const agentConnectorCoalesce = 50 * time.Millisecond

// serveThreadDemand says whether serve reads every process's threads only
// while an API client asks for them (monitor.Options.ThreadDemand): on
// the task iterator, whose scans count threads by state without keeping
// them (pinspect_threads needs no more), unless --no-threads. A /proc
// scan has no other way to the thread states, and reads them every
// time.
func serveThreadDemand(r *collector.Reader, o *serveFlags) bool {
	b, _ := r.Backend()
	return !o.noThreads && b == collector.BackendTaskIter
}

// agentProcs runs a long-running agent (serve, record, the local
// dashboard) on one P unless the GOMAXPROCS environment variable says
// otherwise, as node_exporter does (its --runtime.gomaxprocs defaults
// to 1). An agent's work is a
// collection every few seconds and kernel events in between, each a
// short burst handed between a few goroutines (the sampling loop, the
// read workers, the connector's receiver and converter): with a second P
// every hand-off woke another thread to look for work, and those
// wake-ups, the spinning and the runtime's monitor thread polling while
// any P ran were a third of serve's CPU. On one P at 500 x 9, side by
// side: 14 % less CPU a collection under 700 kernel events a second, 9 %
// with a dozen (docs/PERFORMANCE.md). HTTP clients are still served
// concurrently; a collection's CPU is taken in 10 ms slices between them.
func agentProcs() {
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(1)
	}
}

// serveGCPercent is serve's GOGC (unless the GOGC environment variable
// says otherwise): a collection when the heap has grown by twice the
// live data, not once. A collection at 2,000 x 9 allocates about 2.3 MB
// (the new process array 1.9 MB) over a live heap of about 9 MB, so at
// GOGC 100 the garbage collector ran every four collections, about 7 % of
// the agent's CPU. At 200, in three side by side runs of 48 collections
// (docs/PERFORMANCE.md, serve15): 0.90x the CPU of the same binary at
// 100 in two, 1.00x in the third, for 11-17 MB more peak RSS (56 MB
// against 39 in the last). A soft memory limit (--memory-limit-mib,
// GOMEMLIMIT) still binds first where memory matters more.
const serveGCPercent = 200

// serveGC sets serve's GOGC (serveGCPercent) unless the environment
// sets one.
func serveGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}

// serveReader is the agent's Reader, its backend logged.
// With a unix socket (or systemd's sockets, which may be), it records
// who owns each non-root process's /proc/PID, so a peer is not shown in
// full its own processes that are not dumpable (metrics.Client.MaySee).
func (a *app) serveReader(o *serveFlags, addrs []listenAddr, log *slog.Logger) (*collector.Reader, error) {
	ropts, err := a.readerOptions(!o.noThreads)
	if err != nil {
		return nil, err
	}
	ropts.DumpOwners = o.systemdSocket || slices.ContainsFunc(addrs, func(l listenAddr) bool { return l.network == "unix" })
	// The walk runs in a raw system call, as the dashboard's does: the
	// agent is on one P (agentProcs) and idle between collections, so a
	// system call the runtime is told of woke its monitor thread, which
	// handed the P away during the walk (about 8 ms at 2,000 x 9) and
	// back after. The price is that requests wait for the walk to end
	// (docs/PERFORMANCE.md, serve7), about 0.45 us a task: with more
	// than one P (a GOMAXPROCS the user set) there is no P to lose, and
	// a raw walk would hold up every stop of the world for its length.
	ropts.BPFRawRuns = runtime.GOMAXPROCS(0) == 1
	// The walk leaves every process's signal dispositions out (64
	// handlers a process, cold after 5 s idle) unless an API client asks
	// for a whole snapshot: no metric shows them, a zombie's parent has
	// its SIGCHLD handling read from status, and the scans that read
	// every thread for the API (monitor.Options.ThreadDemand) read them
	// too. Without that demand (--no-threads) every walk reads them.
	ropts.BPFSkipDispositions = !o.noThreads
	r, err := collector.NewReader(ropts)
	if err != nil {
		return nil, err
	}
	if b, why := r.Backend(); why != nil {
		log.Info("collector", "backend", string(b), "why", why.Error())
	} else {
		log.Info("collector", "backend", string(b))
	}
	return r, nil
}

// warnBeyondLoopback logs each TCP listener beyond loopback that serves
// without authentication.
func warnBeyondLoopback(log *slog.Logger, ls []net.Listener, authenticated bool) {
	for _, l := range ls {
		if tl, ok := l.Addr().(*net.TCPAddr); ok && !tl.IP.IsLoopback() && !authenticated {
			log.Warn("listening beyond loopback without authentication: any client that reaches this port sees processes as an unprivileged local user would", "address", l.Addr().String())
		}
	}
}

// waitServe waits for the monitor or the server to end, stops the other,
// and says why serve ended (nil for a signal: a clean stop). cancel stops
// the monitor; stopServer ends the event streams, then the server.
func (a *app) waitServe(cancel, stopServer func(), monErr, serveErr <-chan error) error {
	select {
	case err := <-monErr:
		cancel()
		stopServer()
		<-serveErr
		if a.ctx.Err() != nil {
			return nil // interrupted: a clean stop
		}
		if err == nil {
			err = fmt.Errorf("stopped")
		}
		return fmt.Errorf("monitor: %w", err)
	case err := <-serveErr:
		cancel()
		stopServer()
		<-monErr
		if a.ctx.Err() != nil {
			return nil
		}
		return err
	}
}

// loadMetricsConfig reads --metrics.config.file (none: the defaults, by
// comm and no per-process series).
func loadMetricsConfig(file string) (metrics.Grouping, metrics.PerProcess, error) {
	if file == "" {
		return metrics.Grouping{}, metrics.PerProcess{}, nil
	}
	g, pp, err := metrics.LoadConfig(file)
	if err != nil {
		return g, pp, usageError{fmt.Errorf("--metrics.config.file: %w", err)}
	}
	return g, pp, nil
}

// serveDocs makes the API documents read on request: a process's `show`
// document and its explanation.
type serveDocs struct {
	r       *collector.Reader
	m       *monitor.Monitor
	cmdline bool
	// showSlots lets two process documents be read at a time: the maps
	// of a huge process take a while.
	showSlots chan struct{}
}

// process is /api/v1/processes/{pid}: the `show` document, read on
// request with the monitor's Reader (safe for concurrent use); no smaps.
// The address space is read only for a client that may see the process
// (metrics.Client.MaySee); every read made for a client is charged to
// that client's budget of stuck reads, never the scanner's.
func (d *serveDocs) process(ctx context.Context, _ *monitor.Frame, req metrics.ProcessRequest) (any, error) {
	select {
	case d.showSlots <- struct{}{}:
		defer func() { <-d.showSlots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	taken := time.Now()
	p, _, err := d.r.ProcessWith(req.PID, collector.ProcessOptions{StuckBudget: req.StuckBudget})
	if collector.IsVanished(err) || collector.IsThreadID(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if d.cmdline {
		p.Cmdline = metrics.RedactArgs(p.Cmdline)
	} else {
		p.Cmdline = nil
	}
	if !req.Client.MaySee(p) {
		if req.HidesOthers {
			return nil, nil
		}
		metrics.RestrictProcess(p)
		doc := report.NewShowDoc(p, nil, taken, d.r.Root())
		doc.Unavailable = map[string]string{"address_space": metrics.ReasonNeedsAuth}
		return doc, nil
	}
	as, err := d.r.AddressSpace(req.PID, collector.AddrOptions{StartTicks: p.StartTicks, StuckBudget: req.StuckBudget})
	if collector.IsVanished(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	// Streamed: the mappings are encoded as they are sent (a bounded
	// buffer), not converted and encoded whole first.
	return report.NewShowDocStream(p, as, taken, d.r.Root()), nil
}

// explain is /api/v1/explain/{pid}: a client that may not see the
// process in full (docs/SECURITY.md) gets it sampled as an unprivileged
// reader would: no wait channels, system calls, io, maps or executable.
func (d *serveDocs) explain(ctx context.Context, req metrics.ExplainRequest) (any, error) {
	p, _, err := d.r.Process(req.PID)
	if collector.IsVanished(err) || collector.IsThreadID(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	full := req.Client.MaySee(p)
	if !full && req.HidesOthers {
		return nil, nil
	}
	sm := sampler.New(d.r, sampler.Options{Window: req.Window, Unprivileged: !full})
	// The monitor's memory history of the process (RSS from stat, which
	// every reader may see) lets the leak finding span minutes, not only
	// the window.
	s, err := sm.Process(ctx, req.PID, d.m.MemoryHistory(p.ID()))
	if collector.IsVanished(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return report.NewExplainDoc(s, explain.Explain(s), d.r.Root()), nil
}

// logEventSource logs, once, where the first frame's lifecycle events
// come from: the BPF tracepoints, the connector (and why not the
// tracepoints), or polling only (and why).
func logEventSource(ctx context.Context, m *monitor.Monitor, log *slog.Logger) {
	frames, cancel := m.Subscribe()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-frames:
			if f != nil && f.Snapshot != nil {
				log.Info("events", "live", f.EventsLive, "note", f.EventsNote)
				return
			}
		}
	}
}
