package monitor

import (
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestMonitorExplain: with Options.Explain, frames carry the machine's
// findings, and once a focused 8-thread CPU pool has a few ticks, its
// oversubscription; every process keeps a memory history.
func TestMonitorExplain(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: 100 * time.Millisecond, Explain: true, ExplainTicks: 8})
	p := livehelper.Start(t, "cpupool", "8")
	m.Focus(p.PID())
	f := waitFrame(t, ch, "the pool's oversubscription", func(f *Frame) bool {
		if f.Explain == nil || f.Explain.PID != p.PID() {
			return false
		}
		for _, x := range f.Explain.Focus {
			if x.ID == "pool_oversubscribed" {
				return true
			}
		}
		return false
	})
	if len(f.Explain.Machine) == 0 || f.Explain.Ticks < 2 {
		t.Errorf("machine findings %d, ticks %d", len(f.Explain.Machine), f.Explain.Ticks)
	}
	var id = f.Focus.Process.ID()
	if h := m.MemoryHistory(id); len(h) < 2 || h[len(h)-1].RSSBytes == 0 {
		t.Errorf("memory history %+v", h)
	}
	m.Focus(0)
	waitFrame(t, ch, "no focus findings", func(f *Frame) bool { return f.Explain != nil && f.Explain.PID == 0 && f.Explain.Focus == nil })

	plain, pch := startMonitor(t, Options{Interval: 100 * time.Millisecond})
	if f := waitFrame(t, pch, "a frame", func(*Frame) bool { return true }); f.Explain != nil || plain.MemoryHistory(id) != nil {
		t.Error("explain data without Options.Explain")
	}
}
