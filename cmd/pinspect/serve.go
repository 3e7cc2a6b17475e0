package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/collector/sampler"
	"github.com/pinspect/pinspect/views/metrics"
	"github.com/pinspect/pinspect/views/report"
)

// defaultServeMemLimitMiB keeps the agent's RSS under 64 MB on a host with
// 2,000 processes x 9 threads (two snapshots are kept): the Go runtime
// collects sooner rather than growing the heap to twice the live data.
const defaultServeMemLimitMiB = 40

// serveFlags are `pinspect serve`'s options.
type serveFlags struct {
	listen        string
	webConfig     string
	interval      time.Duration
	noThreads     bool
	noConnector   bool
	recordDir     string
	cmdline       bool
	topN          int
	zombieParents int
	logLevel      string
	memLimitMiB   int
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
  /api/v1/zombies           zombies by parent, with diagnoses
  /api/v1/orphans           orphans and their adopters
  /api/v1/events            lifecycle events as they happen (NDJSON)
A scrape never reads /proc: it converts the latest scan, shared by all
scrapers. The default address is loopback only; TLS and basic auth come
from --web.config.file (the format of Prometheus's exporter-toolkit).
Environment variables are never exported, command lines only with
--metrics.cmdline (and then with likely secrets redacted).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.signalStops = true
			return a.serve(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", metrics.DefaultListen, "address to listen on (host:port; loopback by default)")
	f.StringVar(&o.webConfig, "web.config.file", "", "TLS and basic-auth configuration (exporter-toolkit web-config YAML)")
	f.DurationVar(&o.interval, "interval", 15*time.Second, "sampling interval")
	f.BoolVar(&o.noThreads, "no-threads", false, "do not read threads (no thread states; context switches of the leader thread only)")
	f.BoolVar(&o.noConnector, "no-connector", false, "do not subscribe to the kernel's process-events connector")
	f.StringVar(&o.recordDir, "record-dir", "", "serve the past from this record (pinspect record --dir): /api/v1/events?since= and /api/v1/frame?at=")
	f.BoolVar(&o.cmdline, "metrics.cmdline", false, "add a (redacted) cmdline label to per-process series and command lines to the API")
	f.IntVar(&o.topN, "metrics.top", metrics.DefaultTopN, "per-process context-switch series for this many processes (top by rate)")
	f.IntVar(&o.zombieParents, "metrics.zombie-parents", metrics.DefaultZombieParents, "per-parent zombie series for this many parents (most zombies first)")
	f.StringVar(&o.logLevel, "log.level", "info", "log level: debug, info, warn, error")
	f.IntVar(&o.memLimitMiB, "memory-limit-mib", defaultServeMemLimitMiB, "soft limit on the agent's Go memory in MiB (0: none; the GOMEMLIMIT environment variable overrides it)")
	return cmd
}

func (a *app) serve(ctx context.Context, o *serveFlags) error {
	if ctx == nil {
		ctx = a.ctx
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log.level: %w", err)}
	}
	if o.interval < 100*time.Millisecond {
		return usageError{fmt.Errorf("--interval %s: must be at least 100ms", o.interval)}
	}
	if o.topN < 0 || o.topN > metrics.MaxSeriesLimit || o.zombieParents < 0 || o.zombieParents > metrics.MaxSeriesLimit {
		return usageError{fmt.Errorf("--metrics.top and --metrics.zombie-parents: want 0..%d", metrics.MaxSeriesLimit)}
	}
	if o.memLimitMiB < 0 {
		return usageError{fmt.Errorf("--memory-limit-mib %d: want 0 or more", o.memLimitMiB)}
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && o.memLimitMiB > 0 {
		old := debug.SetMemoryLimit(int64(o.memLimitMiB) << 20)
		defer debug.SetMemoryLimit(old)
	}
	backend, err := a.collectorBackend()
	if err != nil {
		return err
	}
	r, err := collector.NewReader(collector.Options{Root: a.procRoot, Threads: !o.noThreads, Backend: backend})
	if err != nil {
		return err
	}
	defer r.Close()
	if b, why := r.Backend(); why != nil {
		log.Info("collector", "backend", string(b), "why", why.Error())
	} else {
		log.Info("collector", "backend", string(b))
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if host, _, _ := net.SplitHostPort(o.listen); !isLoopback(host) && o.webConfig == "" {
		log.Warn("listening beyond loopback without --web.config.file: anyone who can reach this port can read process data", "address", l.Addr().String())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var rec *record.Store
	if o.recordDir != "" {
		if rec, err = record.Open(o.recordDir); err != nil {
			return fmt.Errorf("--record-dir: %w", err)
		}
		defer rec.Close()
	}
	m := monitor.New(r, monitor.Options{Interval: o.interval, Threads: !o.noThreads, Connector: !o.noConnector, Explain: true})
	monErr := make(chan error, 1)
	go func() { monErr <- m.Run(ctx) }()
	showSlots := make(chan struct{}, 2)
	srv := metrics.NewServer(m, metrics.ServerOptions{
		Options: metrics.Options{TopN: o.topN, ZombieParents: o.zombieParents, Cmdline: o.cmdline},
		Logger:  log,
		Record:  rec,
		// /api/v1/processes/{pid} is the `show` document, read on request
		// with the monitor's Reader (safe for concurrent use), two at a
		// time because the maps of a huge process take a while; no smaps.
		ProcessDoc: func(ctx context.Context, _ *monitor.Frame, pid int) (any, error) {
			select {
			case showSlots <- struct{}{}:
				defer func() { <-showSlots }()
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			taken := time.Now()
			p, _, err := r.Process(pid)
			if collector.IsVanished(err) {
				return nil, nil
			} else if err != nil {
				return nil, err
			}
			if o.cmdline {
				p.Cmdline = metrics.RedactArgs(p.Cmdline)
			} else {
				p.Cmdline = nil
			}
			as, err := r.AddressSpace(pid, collector.AddrOptions{StartTicks: p.StartTicks})
			if collector.IsVanished(err) {
				return nil, nil
			} else if err != nil {
				return nil, err
			}
			return report.NewShowDoc(p, as, taken, r.Root()), nil
		},
		// /api/v1/explain/{pid} samples the process as an unprivileged
		// reader would (no wait channels, system calls, io, maps or
		// executable): the agent does not yet tell its clients apart, so
		// no client gets more than it could read itself.
		ExplainDoc: func(ctx context.Context, req metrics.ExplainRequest) (any, error) {
			sm := sampler.New(r, sampler.Options{Window: req.Window, Unprivileged: true})
			// The monitor's memory history of the process (RSS from stat,
			// which every reader may see) lets the leak finding span
			// minutes, not only the window.
			var history []explain.MemoryPoint
			if f := m.Latest(); f != nil {
				if p := lifecycle.Find(f.Snapshot, req.PID); p != nil {
					history = m.MemoryHistory(p.ID())
				}
			}
			s, err := sm.Process(ctx, req.PID, history)
			if collector.IsVanished(err) {
				return nil, nil
			} else if err != nil {
				return nil, err
			}
			return report.NewExplainDoc(s, explain.Explain(s), r.Root()), nil
		},
	})
	srvDone := make(chan struct{})
	go func() { defer close(srvDone); srv.Run(ctx) }()
	defer func() { cancel(); <-srvDone }()
	log.Info("pinspect serve", "url", metrics.Scheme(o.webConfig)+"://"+l.Addr().String()+"/", "interval", o.interval, "threads", !o.noThreads)
	serveErr := make(chan error, 1)
	go func() { serveErr <- metrics.ListenAndServe(ctx, l, srv.Handler(), o.webConfig, log) }()
	select {
	case err := <-monErr:
		cancel()
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
		<-monErr
		if a.ctx.Err() != nil {
			return nil
		}
		return err
	}
}

// isLoopback reports whether a listen host is loopback-only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
