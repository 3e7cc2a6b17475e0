package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// frameSource publishes frames built by the test from real snapshots of
// /proc, through the same Fanout (and so the same Subscribe/Latest
// contract) as the monitor.
type frameSource struct{ *monitor.Fanout }

func newFrameSource() *frameSource { return &frameSource{monitor.NewFanout(0)} }

func (s *frameSource) publish(f *monitor.Frame) { s.Publish(f) }

// scanner takes real snapshots of /proc and builds frames from them with
// the lifecycle package, as the monitor does.
type scanner struct {
	t    testing.TB
	r    *collector.Reader
	prev *monitor.Frame
	seq  uint64
}

func newScanner(t testing.TB, threads bool) *scanner {
	t.Helper()
	r, err := collector.NewReader(collector.Options{Threads: threads, DumpOwners: true})
	if err != nil {
		t.Fatal(err)
	}
	return &scanner{t: t, r: r}
}

// frame scans /proc once and returns the next frame.
func (sc *scanner) frame() *monitor.Frame {
	sc.t.Helper()
	snap, err := sc.r.Snapshot(context.Background())
	if err != nil {
		sc.t.Fatal(err)
	}
	sc.seq++
	f := &monitor.Frame{Seq: sc.seq, Snapshot: snap, Interval: time.Second}
	if sc.prev != nil {
		f.Events = lifecycle.Diff(sc.prev.Snapshot, snap)
		f.Rates = lifecycle.ComputeRates(sc.prev.Snapshot, snap)
	}
	f.Zombies = lifecycle.DiagnoseZombies(snap, nil, nil)
	f.Orphans = lifecycle.DetectOrphans(snap, nil)
	sc.prev = f
	return f
}
