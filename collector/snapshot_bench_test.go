package collector

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU milliseconds per op since c0: on a loaded
// machine wall time (ns/op) mostly measures the load.
func reportCPU(b *testing.B, c0 time.Duration) {
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// benchSnapshot measures full snapshots of the real /proc with one Reader
// (so the per-Reader caches are warm after the first), reporting
// allocations and bytes per process.
func benchSnapshot(b *testing.B, backend Backend, threads bool) {
	r, err := NewReader(Options{Backend: backend})
	if err != nil {
		b.Skip("no /proc:", err)
	}
	ctx := context.Background()
	procs, tasks := 0, 0
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		s, err := r.SnapshotThreads(ctx, threads)
		if err != nil {
			b.Fatal(err)
		}
		procs, tasks = len(s.Processes), 0
		for i := range s.Processes {
			tasks += len(s.Processes[i].Threads)
		}
	}
	b.StopTimer()
	reportCPU(b, c0)
	if procs == 0 {
		b.Fatal("no processes")
	}
	b.ReportMetric(float64(procs), "procs")
	b.ReportMetric(float64(tasks), "threads")
	b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N)/float64(procs), "µs/proc")
}

// BenchmarkSnapshotReal is a process-only snapshot of this machine's /proc.
func BenchmarkSnapshotReal(b *testing.B) { benchSnapshot(b, BackendProc, false) }

// BenchmarkSnapshotRealThreads is a full snapshot, threads included.
func BenchmarkSnapshotRealThreads(b *testing.B) { benchSnapshot(b, BackendProc, true) }

// BenchmarkSnapshotRealIter is BenchmarkSnapshotReal on the task iterator.
func BenchmarkSnapshotRealIter(b *testing.B) { benchSnapshot(b, BackendTaskIter, false) }

// BenchmarkSnapshotRealIterThreads is BenchmarkSnapshotRealThreads on the
// task iterator.
func BenchmarkSnapshotRealIterThreads(b *testing.B) { benchSnapshot(b, BackendTaskIter, true) }

// BenchmarkSnapshotRealTick is one dashboard-style refresh with a reused
// Reader: every process, threads only for 20 of them (the rows a screen
// shows expanded), cmdline and exe from the cache.
func BenchmarkSnapshotRealTick(b *testing.B) { benchTick(b, BackendProc) }

// BenchmarkSnapshotRealIterTick is BenchmarkSnapshotRealTick on the task
// iterator: what a dashboard or serve pays per tick with it.
func BenchmarkSnapshotRealIterTick(b *testing.B) { benchTick(b, BackendTaskIter) }

func benchTick(b *testing.B, backend Backend) {
	r, err := NewReader(Options{Backend: backend})
	if err != nil {
		b.Skip("no /proc:", err)
	}
	ctx := context.Background()
	s, err := r.Scan(ctx, ScanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var sel []int
	for i := len(s.Processes) - 1; i >= 0 && len(sel) < 20; i-- {
		sel = append(sel, s.Processes[i].PID)
	}
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		if s, err = r.Scan(ctx, ScanOptions{ThreadPIDs: sel}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c0)
	b.ReportMetric(float64(len(s.Processes)), "procs")
}

// BenchmarkSnapshotRealPaced is BenchmarkSnapshotRealTick paced as the
// dashboard is, with and without its reuse of status
// (Options.StatusTTL): ticks that start 400 ms apart with a TTL of 2 s
// are the dashboard's 5 ticks per TTL (a 1 s refresh, dashboardStatusTTL
// 5 s). The pauses are not timed and cost no CPU: read cpu-ms/op (CPU
// per tick) and status-reads/op.
func BenchmarkSnapshotRealPaced(b *testing.B) {
	for _, ttl := range []time.Duration{0, 2 * time.Second} {
		b.Run("status-ttl="+ttl.String(), func(b *testing.B) { benchPaced(b, ttl, 400*time.Millisecond) })
	}
}

func benchPaced(b *testing.B, ttl, every time.Duration) {
	r, err := NewReader(Options{Backend: BackendProc, StatusTTL: ttl})
	if err != nil {
		b.Skip("no /proc:", err)
	}
	defer r.Close()
	ctx := context.Background()
	s, err := r.Scan(ctx, ScanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var sel []int
	for i := len(s.Processes) - 1; i >= 0 && len(sel) < 20; i-- {
		sel = append(sel, s.Processes[i].PID)
	}
	// A tick starts every `every`, whatever the scan took (the
	// dashboard's ticker); the first TTL passes before measuring, so the
	// first reads of each identity are spread.
	next := time.Now()
	pace := func() {
		next = next.Add(every)
		time.Sleep(time.Until(next))
	}
	for end := time.Now().Add(ttl); time.Now().Before(end); pace() {
		if _, err = r.Scan(ctx, ScanOptions{ThreadPIDs: sel}); err != nil {
			b.Fatal(err)
		}
	}
	reads := 0
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		pace()
		b.StartTimer()
		c0 := cpuTime()
		if s, err = r.Scan(ctx, ScanOptions{ThreadPIDs: sel}); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		reads += r.idle.statusReads
	}
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(reads)/float64(b.N), "status-reads/op")
	b.ReportMetric(float64(len(s.Processes)), "procs")
}

// BenchmarkSnapshotRealCold is what a one-shot `pinspect --json` pays: a
// new Reader (empty caches) for every full snapshot.
func BenchmarkSnapshotRealCold(b *testing.B) { benchCold(b, BackendProc) }

// BenchmarkSnapshotRealIterCold is BenchmarkSnapshotRealCold on the task
// iterator: loading the program is part of every op.
func BenchmarkSnapshotRealIterCold(b *testing.B) { benchCold(b, BackendTaskIter) }

func benchCold(b *testing.B, backend Backend) {
	ctx := context.Background()
	procs := 0
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		r, err := NewReader(Options{Backend: backend})
		if err != nil {
			b.Skip("no /proc:", err)
		}
		s, err := r.SnapshotThreads(ctx, true)
		if err != nil {
			b.Fatal(err)
		}
		procs = len(s.Processes)
		r.Close()
	}
	reportCPU(b, c0)
	b.ReportMetric(float64(procs), "procs")
}
