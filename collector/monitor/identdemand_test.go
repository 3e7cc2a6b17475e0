package monitor

import (
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestIdentitiesOnDemand: with IdentitiesOnDemand, the scans no client
// asked for keep a running process's cmdline from the memo past the
// Reader's TTL (a nanosecond here: without the option it is read at
// every scan), and a scan that reads every thread for a client reads it
// again.
func TestIdentitiesOnDemand(t *testing.T) {
	spin := livehelper.Start(t, "spin")
	m, ch := startMonitorOn(t, collector.Options{Backend: collector.BackendTaskIter, CmdlineTTL: time.Nanosecond},
		Options{Interval: 50 * time.Millisecond, Connector: true, Tracepoints: true, ThreadDemand: true, IdentitiesOnDemand: true})
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	// arg0 is where the spinner's cmdline in f starts (nil: not there).
	arg0 := func(f *Frame) *string {
		if p := lifecycle.Find(f.Snapshot, spin.PID()); p != nil && len(p.Cmdline) > 0 {
			return &p.Cmdline[0]
		}
		return nil
	}
	first := waitFrame(t, ch, "the spinner's cmdline, no threads", func(f *Frame) bool {
		return !f.Snapshot.ThreadsRead && arg0(f) != nil
	})
	seq := first.Seq
	for range 3 {
		f := waitFrame(t, ch, "a later frame", func(f *Frame) bool { return f.Seq > seq })
		seq = f.Seq
		if !f.Snapshot.ThreadsRead && arg0(f) != arg0(first) {
			t.Errorf("frame %d, no client: the spinner's cmdline was read again", f.Seq)
		}
	}
	if !m.WantThreads() {
		t.Fatal("WantThreads says no threads will come")
	}
	f := waitFrame(t, ch, "threads", func(f *Frame) bool { return f.Snapshot.ThreadsRead && f.Seq > seq })
	if p := arg0(f); p == nil || p == arg0(first) {
		t.Errorf("frame %d read for a client: the spinner's cmdline %v, want it read again", f.Seq, p)
	}
}
