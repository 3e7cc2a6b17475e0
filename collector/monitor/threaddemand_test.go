package monitor

import (
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestThreadDemand: a monitor that reads threads on demand scans without
// them while the connector is live, and still reports a new process's
// thread starts (the connector's); WantThreads has the next scan read
// them, at once (the interval is an hour), and the later scans of the
// hold too.
func TestThreadDemand(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: time.Hour, Connector: true, ThreadDemand: true})
	f := m.Latest()
	if !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	if f.Snapshot.ThreadsRead {
		t.Error("the first scan read threads no client asked for")
	}
	p := livehelper.Start(t, "threads", "5")
	f = frameAfterSync(t, m, ch)
	starts := 0
	for _, e := range f.Events {
		if e.Type == lifecycle.ThreadStart && e.ID.PID == p.PID() {
			starts++
		}
		if e.Type == lifecycle.Lost {
			t.Skipf("the kernel dropped process events (machine overloaded): %s", e.Note)
		}
	}
	if starts != 4 || f.Snapshot.ThreadsRead {
		t.Errorf("frame after the helper started: %d thread starts of it, threads read %v; want 4 starts, no threads read", starts, f.Snapshot.ThreadsRead)
	}
	if !m.WantThreads() {
		t.Fatal("WantThreads says no threads will come")
	}
	waitFrame(t, ch, "a frame with threads", func(f *Frame) bool { return f.Snapshot.ThreadsRead })
	if f = frameAfterSync(t, m, ch); !f.Snapshot.ThreadsRead {
		t.Error("a scan within the hold read no threads")
	}
	// Without ThreadDemand nothing is read on demand.
	m2, _ := startMonitor(t, Options{Interval: time.Hour})
	if m2.WantThreads() {
		t.Error("WantThreads says yes without ThreadDemand")
	}
}
