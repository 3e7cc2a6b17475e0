package monitor

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestTracepointsOverflowKeepsFrames: a monitor whose tracepoint ring
// (one page here, 64 records, and never woken: only the scans' reads
// read it) overflows under a burst of short processes reports the loss
// in a frame and goes on sampling. The loss was first noticed by the
// read a scan's take waited for, under the monitor's lock, and the rescan
// it asked for took that lock: no frame came again.
func TestTracepointsOverflowKeepsFrames(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF")
	}
	tpRingBytes = uint32(os.Getpagesize())
	t.Cleanup(func() { tpRingBytes = 0 })
	m, ch := startMonitorOn(t, collector.Options{Backend: collector.BackendTaskIter, NoTaskstats: true},
		Options{Interval: time.Second, Connector: true, Tracepoints: true})
	if f := m.Latest(); f.EventsNote != noteTracepoints {
		t.Fatalf("note %q; want the tracepoints", f.EventsNote)
	}
	// 200 processes: a fork, an exec and an exit each, 600 records.
	if err := exec.Command("sh", "-c", "i=0; while [ $i -lt 200 ]; do /bin/sh -c : ; i=$((i+1)); done").Run(); err != nil {
		t.Fatal(err)
	}
	f := waitFrame(t, ch, "a lost event from the tracepoints", func(f *Frame) bool {
		for _, e := range f.Events {
			if e.Type == lifecycle.Lost && e.Source == lifecycle.SourceTracepoint {
				t.Logf("frame %d: %s", f.Seq, e.Note)
				return true
			}
		}
		return false
	})
	seq := f.Seq
	waitFrame(t, ch, "two more frames after the loss", func(f *Frame) bool { return f.Seq >= seq+2 })
}

// TestTracepointEventTime: a tracepoint event's time is when the kernel
// wrote it, inside the run of the process it names, however long the
// reading goroutine waited for that read (here a second after the last
// one): it was the moment the wait began.
func TestTracepointEventTime(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF")
	}
	tp, _ := openBothSources(t, false)
	_ = tp.take()
	time.Sleep(time.Second) // the reader waits from here
	before := time.Now()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	syncBoth(t, tp)
	var n int
	for _, e := range tp.take().Events {
		if e.ID.PID != cmd.Process.Pid {
			continue
		}
		n++
		// The two clocks are paired a few microseconds apart.
		if e.Time.Before(before.Add(-time.Millisecond)) || e.Time.After(after.Add(time.Millisecond)) {
			t.Errorf("%s at %s; the process ran from %s to %s", e.Type, e.Time.Format("15:04:05.000000"),
				before.Format("15:04:05.000000"), after.Format("15:04:05.000000"))
		}
	}
	if n < 3 {
		t.Fatalf("%d events of the child, want its spawn, exec and exit", n)
	}
}
