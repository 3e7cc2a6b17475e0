package dashboard

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// benchFrames makes two frames of n processes from the real snapshot's
// processes, repeated with distinct pids (2,000 by default, as issue 6's
// workload), the second with some CPU and context switches added.
func benchFrames(b *testing.B, n int) (*monitor.Frame, *monitor.Frame) {
	base := snapshot(b)
	mk := func(at time.Time, bump uint64) *collector.Snapshot {
		s := *base
		s.TakenAt = at
		s.Monotonic = time.Duration(at.UnixNano())
		s.Processes = make([]collector.Process, n)
		for i := range s.Processes {
			p := base.Processes[i%len(base.Processes)]
			p.PID = i + 1
			p.UTimeTicks += bump * uint64(i%7)
			p.VolCtx += bump * uint64(i%13)
			s.Processes[i] = p
		}
		return &s
	}
	t0 := time.Now()
	a, c := mk(t0, 0), mk(t0.Add(time.Second), 3)
	return &monitor.Frame{Seq: 1, Snapshot: a, Interval: time.Second},
		&monitor.Frame{Seq: 2, Snapshot: c, Interval: time.Second, Rates: lifecycle.ComputeRates(a, c),
			Zombies: lifecycle.DiagnoseZombies(c, nil, nil), Orphans: lifecycle.DetectOrphans(c, nil)}
}

// BenchmarkApplyAndDraw is the dashboard's own per-frame work at 2,000
// processes on a 200x50 screen: apply a Frame (filter, sort, header,
// panels) and draw it.
func BenchmarkApplyAndDraw(b *testing.B) {
	for _, mode := range []string{"flat", "tree"} {
		b.Run(mode, func(b *testing.B) {
			sim := tcell.NewSimulationScreen("UTF-8")
			d := New(newTestSource(), Options{Screen: sim})
			sim.SetSize(200, 50)
			d.vo.tree = mode == "tree"
			f1, f2 := benchFrames(b, 2000)
			d.beforeDraw(sim)
			d.apply(f1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f := *f2
				f.Seq = uint64(i + 3)
				d.apply(&f)
				d.pages.SetRect(0, 0, 200, 50)
				rootPages{d.pages}.Draw(sim)
				sim.Show()
			}
		})
	}
}

// BenchmarkExplainDraw is BenchmarkApplyAndDraw with explain's findings
// in the frame (a real 64-thread pool's, recorded by the sampler's live
// tests): the findings panel, and with "tab" the detail view's Explain
// tab drawn.
func BenchmarkExplainDraw(b *testing.B) {
	fs := recordedFindings(b)
	for _, mode := range []string{"panel", "tab"} {
		b.Run(mode, func(b *testing.B) {
			sim := tcell.NewSimulationScreen("UTF-8")
			d := New(newTestSource(), Options{Screen: sim})
			sim.SetSize(200, 50)
			f1, f2 := benchFrames(b, 2000)
			pid := f2.Snapshot.Processes[0].PID
			ex := &monitor.ExplainFrame{PID: pid, Ticks: 10, Focus: fs, Machine: fs[:1]}
			f2.Explain = ex
			d.beforeDraw(sim)
			d.apply(f1)
			if mode == "tab" {
				d.openDetail()
				d.detail.setTab(tabExplain)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f := *f2
				f.Seq = uint64(i + 3)
				d.apply(&f)
				d.pages.SetRect(0, 0, 200, 50)
				rootPages{d.pages}.Draw(sim)
				sim.Show()
			}
		})
	}
}

// recordedFindings are the findings of a recorded sample.
func recordedFindings(b *testing.B) []explain.Finding {
	f, err := os.Open("../../collector/explain/testdata/cpupool64.json.gz")
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	var s explain.Sample
	if err := json.NewDecoder(zr).Decode(&s); err != nil {
		b.Fatal(err)
	}
	return explain.Explain(&s)
}
