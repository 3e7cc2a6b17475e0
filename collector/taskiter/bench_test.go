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

func benchIterator(b *testing.B, opts ...Options) *Iterator {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	it, err := Open(o)
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
// says how many tasks there were. It uses the walk where the kernel has
// it; BenchmarkPassSeqFile the seq_file iterator; BenchmarkPassSummed
// the walk with every process's threads summed in the kernel (what a
// dashboard showing one process's threads pays).
func BenchmarkPass(b *testing.B) { benchPass(b, Options{}, PassOptions{}) }

// BenchmarkPassSeqFile is BenchmarkPass on the seq_file iterator.
func BenchmarkPassSeqFile(b *testing.B) { benchPass(b, Options{SeqFile: true}, PassOptions{}) }

// BenchmarkPassSummed is BenchmarkPass with the threads summed.
func BenchmarkPassSummed(b *testing.B) { benchPass(b, Options{}, PassOptions{SumThreads: true}) }

// BenchmarkPassSummedNoIO is BenchmarkPassSummed without the io sums
// (what record, the dashboard and a one-shot pay: only serve shows io).
func BenchmarkPassSummedNoIO(b *testing.B) {
	benchPass(b, Options{}, PassOptions{SumThreads: true, NoIO: true})
}

func benchPass(b *testing.B, o Options, po PassOptions) {
	it := benchIterator(b, o)
	var tasks int
	c0 := cpuTime()
	for b.Loop() {
		st, err := it.PassWith(po, func(*Task) error { return nil })
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
// one-shot command pays once); BenchmarkOpenSeqFile the same for the
// seq_file iterator.
func BenchmarkOpen(b *testing.B) { benchOpen(b, Options{}) }

// BenchmarkOpenSeqFile is BenchmarkOpen for the seq_file iterator.
func BenchmarkOpenSeqFile(b *testing.B) { benchOpen(b, Options{SeqFile: true}) }

func benchOpen(b *testing.B, o Options) {
	c0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op") }()
	for b.Loop() {
		it, err := Open(o)
		if err != nil {
			b.Skip(err)
		}
		_ = it.Close()
	}
}
