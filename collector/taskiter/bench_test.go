package taskiter

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user+system CPU time: on a loaded machine
// wall time mostly measures the load.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchIterator(b *testing.B) *Iterator {
	it, err := Open(Options{})
	if err != nil {
		if os.Geteuid() != 0 {
			b.Skip(err)
		}
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = it.Close() })
	return it
}

// BenchmarkPass is one pass over every task of the machine with the
// records decoded (what a long-running view pays per tick); tasks/op
// says how many tasks there were.
func BenchmarkPass(b *testing.B) {
	it := benchIterator(b)
	var tasks int
	c0 := cpuTime()
	for b.Loop() {
		st, err := it.Pass(func(*Task) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		tasks = st.Tasks
	}
	cpu := cpuTime() - c0
	b.ReportMetric(float64(tasks), "tasks/op")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(max(tasks, 1)), "cpu-ns/task")
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// BenchmarkOpen is loading, verifying and attaching the program (what a
// one-shot command pays once).
func BenchmarkOpen(b *testing.B) {
	c0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op") }()
	for b.Loop() {
		it, err := Open(Options{})
		if err != nil {
			b.Skip(err)
		}
		_ = it.Close()
	}
}
