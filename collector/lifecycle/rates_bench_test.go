package lifecycle

import (
	"math"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// ratesPair is two snapshots of n processes (every third pid missing
// from the first, as newcomers), a second apart.
func ratesPair(n int) (a, b *collector.Snapshot) {
	a = &collector.Snapshot{Monotonic: time.Second}
	b = &collector.Snapshot{Monotonic: 2 * time.Second}
	for i := range n {
		p := collector.Process{PID: 2*i + 1, Read: collector.SrcStat}
		p.StartTicks = uint64(i)
		p.UTimeTicks = uint64(i)
		if i%3 != 0 {
			a.Processes = append(a.Processes, p)
		}
		p.UTimeTicks += uint64(i % 50)
		b.Processes = append(b.Processes, p)
	}
	return a, b
}

// TestRatesLookup: every process of both snapshots has its rate, found
// by its identity only (not a pid with another start, not a newcomer,
// not a pid in between).
func TestRatesLookup(t *testing.T) {
	a, b := ratesPair(500)
	r := ComputeRates(a, b)
	for i := range b.Processes {
		p := &b.Processes[i]
		got, ok := r.Process(p.ID())
		if want := (p.PID/2)%3 != 0; ok != want {
			t.Fatalf("pid %d: found %v, want %v", p.PID, ok, want)
		}
		if want := float64((p.PID / 2) % 50); ok && math.Abs(got.CPUPercent-want) > 1e-9 {
			t.Fatalf("pid %d: CPU %v%%, want %d%%", p.PID, got.CPUPercent, (p.PID/2)%50)
		}
		if _, ok := r.Process(collector.ID{PID: p.PID, StartTicks: p.StartTicks + 1}); ok {
			t.Fatalf("pid %d found with another start", p.PID)
		}
		if _, ok := r.Process(collector.ID{PID: p.PID + 1, StartTicks: p.StartTicks}); ok {
			t.Fatalf("pid %d found", p.PID+1)
		}
	}
}

// BenchmarkComputeRates is a dashboard refresh's rates at 2,000
// processes, and a lookup of each.
func BenchmarkComputeRates(b *testing.B) {
	x, y := ratesPair(2000)
	b.ReportAllocs()
	for b.Loop() {
		r := ComputeRates(x, y)
		for i := range y.Processes {
			r.Process(y.Processes[i].ID())
		}
	}
}
