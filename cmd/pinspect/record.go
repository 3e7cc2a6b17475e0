//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/collector/record"
)

// recordOptions are `pinspect record`'s flags.
type recordOptions struct {
	dir          string
	interval     time.Duration
	threadsEvery int
	memoryEvery  int
	memoryTop    int
	maxSize      string
	maxAge       string
	fsync        string
	noConnector  bool
	logLevel     string
}

func newRecordCmd(a *app) *cobra.Command {
	var o recordOptions
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Record every process and lifecycle event to disk, for replay, --at and events (a daemon)",
		Long: `record samples every process at --interval and writes each sample, with every
lifecycle event since the previous one (the kernel connector's short-lived
processes and their exit codes included), to a store in --dir. Threads are
read every --threads-every samples; the smaps_rollup memory (anonymous,
private dirty, PSS) of the largest and the growing processes every
--memory-every samples. The store is bounded by --max-size and --max-age and
survives a crash losing at most the sample being written (docs/RECORD.md).

Read it back with: pinspect replay, pinspect ps|zombies|orphans|show --at TIME,
pinspect events, pinspect dump. It runs until SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if changed(cmd, "memory-top") && o.memoryEvery == 0 {
				return notApplicable("--memory-top", "record --memory-every 0", "no memory is read")
			}
			a.signalStops = true
			// The sample in flight is finished and written after a stop
			// signal: on a loaded machine its scan alone may take longer
			// than the default grace (TestRecordCommand saw exit 130).
			a.stopGrace.Store(int64(serveStopGrace))
			return a.runRecord(&o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", defaultRecordDir, "the record directory (created if missing)")
	f.DurationVar(&o.interval, "interval", 10*time.Second, "sampling interval")
	f.IntVar(&o.threadsEvery, "threads-every", 6, "read every process's threads in every Nth sample (1: every sample)")
	f.IntVar(&o.memoryEvery, "memory-every", 6, "read smaps_rollup of the largest and growing processes every Nth sample (0: never)")
	f.IntVar(&o.memoryTop, "memory-top", 32, "how many processes' smaps_rollup to read at the memory cadence")
	f.StringVar(&o.maxSize, "max-size", "2GiB", "retention by size: the oldest segments are deleted beyond it (B, KiB, MiB, GiB)")
	f.StringVar(&o.maxAge, "max-age", "7d", "retention by age (e.g. 36h, 7d)")
	f.StringVar(&o.fsync, "fsync", "sample", "durability: sample (fdatasync after every sample) or none (the kernel's write-back)")
	f.BoolVar(&o.noConnector, "no-connector", false, "do not follow the kernel's process events, from BPF tracepoints or the process-events connector (processes shorter than the interval are then missed)")
	f.StringVar(&o.logLevel, "log.level", "info", "debug, info, warn or error")
	registerCompletions(cmd, map[string]cobra.CompletionFunc{
		"fsync":     fixedChoices([2]string{"sample", "fdatasync after every sample"}, [2]string{"none", "the kernel's write-back"}),
		"log.level": fixedChoices(logLevels...),
	})
	return reads(cmd, sourceProc)
}

// parseSize reads a byte count with an optional binary unit.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 || n*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("want a size like 2GiB or 500MiB")
	}
	return int64(n * float64(mult)), nil
}

// writerOptions checks the flags and turns them into the store's options.
func (o *recordOptions) writerOptions() (record.WriterOptions, slog.Level, error) {
	var wo record.WriterOptions
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return wo, level, usageError{fmt.Errorf("--log.level: %w", err)}
	}
	if o.interval < 100*time.Millisecond {
		return wo, level, usageError{fmt.Errorf("--interval %s: must be at least 100ms", o.interval)}
	}
	if o.threadsEvery < 0 || o.memoryEvery < 0 || o.memoryTop < 0 {
		return wo, level, usageError{fmt.Errorf("--threads-every, --memory-every and --memory-top: want 0 or more")}
	}
	var err error
	if wo.MaxBytes, err = parseSize(o.maxSize); err != nil {
		return wo, level, usageError{fmt.Errorf("--max-size %q: %w", o.maxSize, err)}
	}
	maxAge, err := parseSpan(o.maxAge)
	if err != nil || maxAge <= 0 {
		return wo, level, usageError{fmt.Errorf("--max-age %q: want a duration like 36h or 7d", o.maxAge)}
	}
	wo.MaxAge = maxAge
	switch o.fsync {
	case "sample":
		wo.Sync = record.SyncEachSample
	case "none":
		wo.Sync = record.SyncNone
	default:
		return wo, level, usageError{fmt.Errorf("--fsync %q: want sample or none", o.fsync)}
	}
	return wo, level, nil
}

// runRecord records until interrupted.
func (a *app) runRecord(o *recordOptions) error {
	agentProcs()
	releaseStartupPages() // from here code is mapped page by page: see residency.go
	wo, level, err := o.writerOptions()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	wo.Logger = log
	set, found := widenTimerSlack(agentTimerSlack)
	log.Debug("timer slack", "slack", agentTimerSlack.String(), "threads_set", set, "threads", found)
	w, err := record.OpenWriter(o.dir, wo)
	if err != nil {
		return err
	}
	defer w.Close()
	ropts, err := a.readerOptions(false) // --rootfs, --passwd-file, --collector
	if err != nil {
		return err
	}
	r, err := collector.NewReader(ropts)
	if err != nil {
		return err
	}
	defer r.Close()
	threads := o.threadsEvery == 1
	every := 0
	if !threads {
		every = o.threadsEvery
	}
	m := monitor.New(r, monitor.Options{Interval: o.interval, Threads: threads, ThreadsEvery: every, Connector: !o.noConnector,
		Tracepoints: true, NoRates: true, ConnectorCoalesce: agentConnectorCoalesce, FinalFrame: monitor.DefaultFinalFrame})
	frames, cancelSub := m.Subscribe()
	defer cancelSub()
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	go releaseStartupPagesLater(ctx) // the BPF program is loaded: see residency.go
	monErr := make(chan error, 1)
	go func() { monErr <- m.Run(ctx) }()

	var rb [8]byte
	_, _ = rand.Read(rb[:])
	smp := record.NewSampler(binary.LittleEndian.Uint64(rb[:]))
	if w.LastSeq() > 0 {
		// A restart: zombies still there keep their recorded first-seen
		// times, orphans their observed reparents.
		if st, err := record.Open(o.dir); err == nil {
			if last, err := st.Read(st.Len() - 1); err == nil {
				smp.Seed(last)
			}
			st.Close()
		}
	}
	mem := &memoryPicker{top: o.memoryTop}
	b, _ := r.Backend()
	log.Info("pinspect record", "dir", o.dir, "interval", o.interval, "threads_every", o.threadsEvery,
		"memory_every", o.memoryEvery, "max_size", o.maxSize, "max_age", o.maxAge, "fsync", o.fsync, "backend", string(b),
		"continues_after_seq", w.LastSeq())
	n, failedInARow := 0, 0
	keep := func(f *monitor.Frame) {
		if f == nil || f.Snapshot == nil {
			return
		}
		if n == 0 {
			log.Info("events", "live", f.EventsLive, "note", f.EventsNote)
		}
		s := smp.Sample(f)
		if o.memoryEvery > 0 && n%o.memoryEvery == 0 {
			s.Memory = mem.read(r, f.Snapshot)
		}
		n++
		if err := w.Append(s); err != nil {
			failedInARow++
			log.Error("sample not recorded", "seq", w.LastSeq()+1, "taken_at", f.Snapshot.TakenAt.Format(time.RFC3339), "events_kept_for_next", w.Pending(), "err", err)
			return
		}
		if failedInARow > 0 {
			log.Info("recording again", "after_failed_samples", failedInARow)
			failedInARow = 0
		}
		log.Debug("sample", "seq", s.Seq, "processes", len(f.Snapshot.Processes), "events", len(s.Events), "threads", f.Snapshot.ThreadsRead)
	}
	for {
		select {
		case err := <-monErr:
			// The monitor's last frame (monitor.Options.FinalFrame, on
			// a signal) holds the events since the one before: it is
			// in frames when Run has returned, with any frame not yet
			// taken merged into it.
			select {
			case f := <-frames:
				keep(f)
			default:
			}
			st := w.Stats()
			log.Info("pinspect record stopped", "samples", st.Samples, "failed", st.Failed, "bytes_written", st.BytesWritten, "store_bytes", st.StoreBytes)
			if a.ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("monitor: %w", err)
		case f := <-frames:
			keep(f)
		}
	}
}

// memoryPicker chooses whose smaps_rollup the recorder reads: the
// processes whose RSS grew most since the last reading (a leak shows
// there first), then the largest, up to top.
type memoryPicker struct {
	top  int
	last map[collector.ID]uint64
}

func (mp *memoryPicker) read(r *collector.Reader, snap *collector.Snapshot) map[collector.ID]collector.MemoryTotals {
	type cand struct {
		p     *collector.Process
		grown int64
	}
	var cs []cand
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if p.Read&collector.SrcStat == 0 || p.IsKernelThread() || lifecycle.IsZombie(p) || !p.HasRSS || p.RSSBytes == 0 {
			continue
		}
		var g int64
		if old, ok := mp.last[p.ID()]; ok {
			g = int64(p.RSSBytes) - int64(old)
		}
		cs = append(cs, cand{p, g})
	}
	byGrowth := slices.Clone(cs)
	slices.SortFunc(byGrowth, func(x, y cand) int { return int(min(max(y.grown-x.grown, -1), 1)) })
	slices.SortFunc(cs, func(x, y cand) int { return cmpU64(y.p.RSSBytes, x.p.RSSBytes) })
	pick := make(map[collector.ID]*collector.Process, mp.top)
	for _, c := range byGrowth {
		if len(pick) >= mp.top/2 || c.grown <= 0 {
			break
		}
		pick[c.p.ID()] = c.p
	}
	for _, c := range cs {
		if len(pick) >= mp.top {
			break
		}
		pick[c.p.ID()] = c.p
	}
	out := make(map[collector.ID]collector.MemoryTotals, len(pick))
	next := make(map[collector.ID]uint64, len(cs))
	for _, c := range cs {
		next[c.p.ID()] = c.p.RSSBytes
	}
	for id := range pick {
		t, err := r.MemoryTotals(id.PID)
		if err != nil {
			continue // gone, denied, or stuck: the RSS of stat stays
		}
		// The pid may have been reused since the snapshot.
		if idn, err := r.Identity(id.PID, false); err != nil || idn.StartTicks != id.StartTicks {
			continue
		}
		out[id] = *t
	}
	mp.last = next
	return out
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
