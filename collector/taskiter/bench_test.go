package taskiter

import (
	"os"
	"testing"
)

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
	for b.Loop() {
		st, err := it.Pass(func(*Task) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		tasks = st.Tasks
	}
	b.ReportMetric(float64(tasks), "tasks/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(max(tasks, 1)), "ns/task")
}

// BenchmarkOpen is loading, verifying and attaching the program (what a
// one-shot command pays once).
func BenchmarkOpen(b *testing.B) {
	for b.Loop() {
		it, err := Open(Options{})
		if err != nil {
			b.Skip(err)
		}
		_ = it.Close()
	}
}
