package dashboard

import (
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/monitor"
)

// TestTableKeepsNoOlderSnapshot: after a frame with fewer rows than the
// one before, no row the table model keeps (past the end of its rows, or
// in its scratch rows) points into an older frame's snapshot: such a
// pointer keeps that whole snapshot in memory (six snapshots of 2,000
// processes were live in the dashboard under churn, four without).
func TestTableKeepsNoOlderSnapshot(t *testing.T) {
	base := snapshot(t)
	mk := func(seq uint64, n int) *monitor.Frame {
		s := *base
		s.TakenAt = time.Now()
		s.Processes = make([]collector.Process, n)
		for i := range s.Processes {
			p := base.Processes[i%len(base.Processes)]
			p.PID, p.PPID = i+2, 1
			if i%3 == 1 {
				p.PPID = i + 1 // a tree with some depth
			}
			s.Processes[i] = p
		}
		return &monitor.Frame{Seq: seq, Snapshot: &s, Interval: time.Second}
	}
	for _, mode := range []string{"flat", "tree", "tree, then flat"} {
		t.Run(mode, func(t *testing.T) {
			sim := tcell.NewSimulationScreen("UTF-8")
			d := New(newTestSource(), Options{Screen: sim})
			sim.SetSize(200, 50)
			d.beforeDraw(sim)
			d.vo.tree = mode != "flat"
			d.apply(mk(1, 300))
			d.apply(mk(2, 250))
			if mode == "tree, then flat" {
				d.vo.tree = false
			}
			last := mk(3, 200)
			d.apply(last)
			d.pages.SetRect(0, 0, 200, 50)
			rootPages{d.pages}.Draw(sim)
			if len(d.model.rows) != 200 {
				t.Fatalf("%d rows shown, want 200", len(d.model.rows))
			}
			current := map[*collector.Process]bool{}
			for i := range last.Snapshot.Processes {
				current[&last.Snapshot.Processes[i]] = true
			}
			for what, rows := range map[string][]row{"rows": d.model.rows, "scratch rows": d.model.spare} {
				for i, rw := range rows[:cap(rows)] {
					if rw.p != nil && !current[rw.p] {
						t.Errorf("%s[%d] (of %d, capacity %d) points into an older frame's snapshot (pid %d)", what, i, len(rows), cap(rows), rw.p.PID)
						break
					}
				}
			}
		})
	}
}

// TestDrawnAfterNewSnapshot: Options.Drawn (the dashboard's collection
// after a refresh) is called once the frame with a new snapshot is on
// the screen, the frame before let go of, and not for a frame that
// repeats the snapshot (a focus change republished without a scan).
func TestDrawnAfterNewSnapshot(t *testing.T) {
	type call struct {
		seq   uint64
		shown bool
	}
	calls := make(chan call, 16)
	var h *harness
	h = start(t, Options{Drawn: func() {
		calls <- call{h.d.frame.Seq, len(h.d.model.rows) > 0}
	}}, 200, 50)
	a, b := frames(t)
	next := func(want uint64) {
		t.Helper()
		select {
		case c := <-calls:
			if c.seq != want || !c.shown {
				t.Fatalf("Drawn after frame %d (rows shown: %v), want after frame %d with its rows", c.seq, c.shown, want)
			}
		case <-time.After(patience):
			t.Fatalf("Drawn not called after frame %d", want)
		}
	}
	h.src.send(a)
	next(1)
	repeat := *a
	repeat.Seq = 2 // the same snapshot, another focus
	h.src.send(&repeat)
	b.Seq = 3
	h.src.send(b)
	next(3) // never after the repeat
	if len(calls) != 0 {
		t.Errorf("Drawn called %d more times", len(calls))
	}
}
