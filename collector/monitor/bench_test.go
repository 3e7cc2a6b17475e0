package monitor

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMonitorTick is one dashboard tick on this machine's /proc:
// a scan, the events, rates and diagnoses, and (focus) the focused
// process's threads, details and address space; with explain, the
// findings too (Options.Explain: pressure, runnable, the memory history,
// and for the focus its threads' schedstat, wchan and syscall, io and
// cgroup).
func BenchmarkMonitorTick(b *testing.B) {
	for _, c := range []struct {
		focus, explain bool
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		focus := c.focus
		name := "nofocus"
		if focus {
			name = "focus"
		}
		if c.explain {
			name += "-explain"
		}
		b.Run(name, func(b *testing.B) {
			r, err := collector.NewReader(collector.Options{})
			if err != nil {
				b.Skip(err)
			}
			defer r.Close()
			m := New(r, Options{Explain: c.explain})
			if focus {
				// PINSPECT_BENCH_FOCUS names another process to focus
				// (a workload process, as the dashboard bench does).
				m.ctl.focus = os.Getpid()
				if v, err := strconv.Atoi(os.Getenv("PINSPECT_BENCH_FOCUS")); err == nil && v > 0 {
					m.ctl.focus = v
				}
			}
			ctx := context.Background()
			if err := m.sample(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			c0 := cpuTime()
			for b.Loop() {
				if err := m.sample(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

// stepSnapshots makes two snapshots of n processes from the real one,
// the second with every 50th process replaced by a new one (an exit and
// a spawn each) and CPU and switches added.
func stepSnapshots(b *testing.B, n int) (*collector.Snapshot, *collector.Snapshot) {
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		b.Skip(err)
	}
	defer r.Close()
	base, err := r.Scan(context.Background(), collector.ScanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	mk := func(at time.Time, bump uint64) *collector.Snapshot {
		s := *base
		s.TakenAt = at
		s.Monotonic = time.Duration(at.UnixNano())
		s.Processes = make([]collector.Process, n)
		for i := range s.Processes {
			p := base.Processes[i%len(base.Processes)]
			p.PID = i + 2
			p.StartTicks = 1000 + uint64(i)
			if bump > 0 && i%50 == 0 {
				p.StartTicks += 7
			}
			p.UTimeTicks += bump * uint64(i%7)
			p.VolCtx += bump * uint64(i%13)
			s.Processes[i] = p
		}
		return &s
	}
	t0 := time.Now()
	return mk(t0, 0), mk(t0.Add(time.Second), 3)
}

// BenchmarkMonitorStep is the monitor's per-frame work after the scan at
// 2,000 processes: events from the diff merged with 40 kernel events,
// tracking, rates, zombie and orphan diagnoses.
func BenchmarkMonitorStep(b *testing.B) {
	prev, cur := stepSnapshots(b, 2000)
	conn := make([]lifecycle.KernelEvent, 0, 40)
	for i := 0; i < 40; i++ {
		p := &cur.Processes[i*50]
		conn = append(conn, lifecycle.KernelEvent{Event: lifecycle.Event{Type: lifecycle.Spawn, Time: cur.TakenAt, ID: p.ID(), Comm: p.Comm, PPID: p.PPID, Source: lifecycle.SourceConnector}})
	}
	tr := lifecycle.NewTracker(0)
	b.ReportAllocs()
	for b.Loop() {
		st := tr.Observe(prev, cur, lifecycle.Kernel{Events: conn})
		_ = lifecycle.DiagnoseZombies(cur, st.ZombieSince, nil)
	}
}

// BenchmarkMonitorServe is one collection of `pinspect serve` on this
// machine's /proc: every thread, the explainer, on the default backend
// (the task iterator as root). cpu-ms/op includes the garbage
// collector's share, which a long-running agent pays.
func BenchmarkMonitorServe(b *testing.B) {
	r, err := collector.NewReader(collector.Options{Threads: true})
	if err != nil {
		b.Skip(err)
	}
	defer r.Close()
	m := New(r, Options{Threads: true, Explain: true})
	ctx := context.Background()
	if err := m.sample(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		if err := m.sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// BenchmarkMonitorServeDemand is one collection of `pinspect serve` as it
// runs with no API client asking for threads (Options.ThreadDemand, the
// task iterator's thread-state counts), io read, the explainer on, the
// connector following the machine's process events (without it every scan
// reads threads): the scan and the monitor's work after it, which is what
// an agent pays every interval, with the connector's work between scans
// on top. cpu-ms/op includes both and the garbage collector's share.
func BenchmarkMonitorServeDemand(b *testing.B) {
	r, err := collector.NewReader(collector.Options{Threads: true})
	if err != nil {
		b.Skip(err)
	}
	defer r.Close()
	m := New(r, Options{Threads: true, ThreadDemand: true, Explain: true, IO: true, Connector: true, ConnectorCoalesce: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	k := openKernelSource(r, m.opts, m.rescanNow)
	m.kernel = k
	go func() { defer close(done); k.run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := m.sample(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		if err := m.sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}
