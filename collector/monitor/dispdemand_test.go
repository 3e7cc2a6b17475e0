package monitor

import (
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// TestDispositionsWithThreadDemand: on a Reader whose walk leaves the
// signal dispositions out (serve's), a monitor that reads threads on
// demand leaves them out of the scans no client asked for, and reads them
// in the scans that read every thread for a client: a frame with its
// threads read has every process's dispositions.
func TestDispositionsWithThreadDemand(t *testing.T) {
	m, ch := startMonitorOn(t, collector.Options{Backend: collector.BackendTaskIter, BPFSkipDispositions: true},
		Options{Interval: time.Hour, Connector: true, Tracepoints: true, ThreadDemand: true})
	f := m.Latest()
	if !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	absent := func(f *Frame) int {
		n := 0
		for i := range f.Snapshot.Processes {
			if f.Snapshot.Processes[i].SigDispAbsent {
				n++
			}
		}
		return n
	}
	if f.Snapshot.ThreadsRead || absent(f) == 0 {
		t.Errorf("first frame, no client: threads read %v, %d processes' dispositions absent; want no threads and most absent",
			f.Snapshot.ThreadsRead, absent(f))
	}
	if !m.WantThreads() {
		t.Fatal("WantThreads says no threads will come")
	}
	f = waitFrame(t, ch, "a frame with threads", func(f *Frame) bool { return f.Snapshot.ThreadsRead })
	if n := absent(f); n > 0 {
		t.Errorf("frame %d read for a client: %d processes' dispositions absent, want none", f.Seq, n)
	}
}
