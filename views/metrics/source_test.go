package metrics

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// frameSource publishes frames built by the test from real snapshots of
// /proc, with the same Subscribe/Latest contract as the monitor.
type frameSource struct {
	mu     sync.Mutex
	latest *monitor.Frame
	subs   map[int]chan *monitor.Frame
	next   int
}

func newFrameSource() *frameSource { return &frameSource{subs: map[int]chan *monitor.Frame{}} }

func (s *frameSource) Subscribe() (<-chan *monitor.Frame, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	ch := make(chan *monitor.Frame, 1)
	s.subs[id] = ch
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}

func (s *frameSource) Latest() *monitor.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}

// publish makes f the latest frame and delivers it, merging the events of
// a frame a subscriber has not taken yet (the monitor's contract).
func (s *frameSource) publish(f *monitor.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latest = f
	for _, ch := range s.subs {
		select {
		case ch <- f:
			continue
		default:
		}
		g := f
		select {
		case old := <-ch:
			cp := *f
			cp.Events = append(append([]lifecycle.Event(nil), old.Events...), f.Events...)
			g = &cp
		default:
		}
		select {
		case ch <- g:
		default:
		}
	}
}

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
	r, err := collector.NewReader(collector.Options{Threads: threads})
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
		f.Prev = sc.prev.Snapshot
		f.Events = lifecycle.Diff(f.Prev, snap)
		f.Rates = lifecycle.ComputeRates(f.Prev, snap)
	}
	f.Zombies = lifecycle.DiagnoseZombies(snap, nil, nil)
	f.Orphans = lifecycle.DetectOrphans(snap, nil)
	sc.prev = f
	return f
}
