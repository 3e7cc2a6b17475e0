package metrics

import (
	"encoding/gob"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// TestEventRingKeepsNewestInOrder holds the ring to what the slice it
// replaced kept: the newest max events, oldest first, whatever the
// number pushed (below, at and several times past max, with frames of
// several events).
func TestEventRingKeepsNewestInOrder(t *testing.T) {
	const max = 7
	for _, n := range []int{0, 1, 6, 7, 8, 13, 14, 15, 50} {
		r := eventRing{max: max}
		var want []seqEvent
		for i := range n {
			e := seqEvent{seq: uint64(i/3 + 1), ev: lifecycle.Event{Type: lifecycle.Spawn, ID: collector.ID{PID: 1000 + i}}}
			r.push(e)
			want = append(want, e)
			if over := len(want) - max; over > 0 {
				want = want[over:]
			}
		}
		var got []seqEvent
		r.each(func(e *seqEvent) { got = append(got, *e) })
		if !slices.EqualFunc(got, want, func(a, b seqEvent) bool { return a.seq == b.seq && a.ev.ID == b.ev.ID }) {
			t.Errorf("after %d pushes: kept pids %v, want %v", n, pids(got), pids(want))
		}
		// The newest frame dropped: the frame of the event before the
		// oldest kept.
		var dropped uint64
		if n > max {
			dropped = uint64((n-max-1)/3 + 1)
		}
		if r.dropped != dropped {
			t.Errorf("after %d pushes: newest frame dropped %d, want %d", n, r.dropped, dropped)
		}
		if len(r.buf) > max {
			t.Errorf("after %d pushes: %d kept, more than %d", n, len(r.buf), max)
		}
	}
}

// TestEventRingBound: the ring's array holds exactly max events once
// full, never more (append's growth left 24,978 places for maxRing's
// 20,000), for maxes below, at and above its first allocation; a max of
// 0 (or below) is no ring: nothing kept, every event's frame counted as
// dropped (it panicked on the first push).
func TestEventRingBound(t *testing.T) {
	for _, m := range []int{1, 5, ringMinAlloc, ringMinAlloc + 1, 1000, maxRing} {
		r := eventRing{max: m}
		for i := range 3 * m {
			r.push(seqEvent{seq: uint64(i + 1)})
			if cap(r.buf) > m {
				t.Fatalf("max %d: after %d pushes the array holds %d places", m, i+1, cap(r.buf))
			}
		}
		if len(r.buf) != m || r.dropped != uint64(2*m) {
			t.Errorf("max %d: %d kept, newest dropped %d; want %d and %d", m, len(r.buf), r.dropped, m, 2*m)
		}
	}
	for _, m := range []int{0, -1} {
		r := eventRing{max: m}
		r.push(seqEvent{seq: 3})
		r.push(seqEvent{seq: 4})
		n := 0
		r.each(func(*seqEvent) { n++ })
		if n != 0 || len(r.buf) != 0 || !r.lostAfter(3) || r.lostAfter(4) {
			t.Errorf("max %d: %d kept, lost after 3 %v, after 4 %v; want none kept, lost after 3 only", m, n, r.lostAfter(3), r.lostAfter(4))
		}
	}
}

func pids(es []seqEvent) []int {
	var out []int
	for _, e := range es {
		out = append(out, e.ev.ID.PID)
	}
	return out
}

// TestFrameEventsAfterRingWraps: past maxRing events the frame endpoint
// still sends, for a client's last frame, the events kept after it in
// order, and says some were lost when any event of a later frame was
// dropped: also when part of that frame is kept (the slice before the
// ring said so only when the whole frame was gone).
func TestFrameEventsAfterRingWraps(t *testing.T) {
	src := newFrameSource()
	srv, hs := startServer(t, src, ServerOptions{})
	const perFrame = maxRing / 3
	const frames = 5 // 1 2/3 maxRing: frames 1 and part of 2 are dropped
	waitSubscribed(t, srv, src)
	for seq := uint64(1); seq <= frames; seq++ {
		f := &monitor.Frame{Seq: seq, Snapshot: &collector.Snapshot{}}
		for i := range perFrame {
			f.Events = append(f.Events, lifecycle.Event{Type: lifecycle.Spawn, ID: collector.ID{PID: int(seq)*100000 + i}})
		}
		src.publish(f)
		for deadline := time.Now().Add(20 * time.Second); ; {
			srv.mu.Lock()
			n := 0
			srv.ring.each(func(e *seqEvent) {
				if e.seq == seq {
					n++
				}
			})
			srv.mu.Unlock()
			if n == perFrame {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("frame %d: %d of its events kept after 20s", seq, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, c := range []struct {
		after    uint64
		lost     bool
		from, to int // the frames whose events are sent in whole
	}{
		{after: 1, lost: true, from: 3, to: 5}, // 2 of frame 2's events kept
		{after: 2, lost: false, from: 3, to: 5},
		{after: 4, lost: false, from: 5, to: 5},
	} {
		resp, err := http.Get(hs.URL + PathFrame + "?after=" + strconv.FormatUint(c.after, 10) + "&wait=0s")
		if err != nil {
			t.Fatal(err)
		}
		var wf WireFrame
		err = gob.NewDecoder(resp.Body).Decode(&wf)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var want []int
		if c.after == 1 {
			for i := frames*perFrame - maxRing - perFrame; i < perFrame; i++ {
				want = append(want, 2*100000+i)
			}
		}
		for seq := c.from; seq <= c.to; seq++ {
			for i := range perFrame {
				want = append(want, seq*100000+i)
			}
		}
		var got []int
		for _, e := range wf.Events {
			got = append(got, e.ID.PID)
		}
		if wf.EventsLost != c.lost || !slices.Equal(got, want) {
			t.Errorf("after=%d: lost %v and %d events (%v...), want lost %v and %d events (%v...)",
				c.after, wf.EventsLost, len(got), got[:min(3, len(got))], c.lost, len(want), want[:min(3, len(want))])
		}
	}
}

// waitSubscribed returns once srv.Run has subscribed to src: a frame
// published before that reaches Run only as the first frame, its events
// never in the ring. It publishes an empty frame 0 until Run holds it.
func waitSubscribed(t *testing.T, srv *Server, src *frameSource) {
	t.Helper()
	prime := &monitor.Frame{Seq: 0, Snapshot: &collector.Snapshot{}}
	for deadline := time.Now().Add(20 * time.Second); ; {
		src.publish(prime)
		srv.mu.Lock()
		held := srv.pushed == prime
		srv.mu.Unlock()
		if held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the server's Run did not take a frame in 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// laggingSource is a Source whose Latest runs ahead of its subscribers:
// a frame is the latest at once, and reaches Subscribe's channel only
// when the test delivers it (as when the server's Run is still busy
// with the frame before).
type laggingSource struct {
	mu     sync.Mutex
	latest *monitor.Frame
	ch     chan *monitor.Frame
}

func (l *laggingSource) Subscribe() (<-chan *monitor.Frame, func()) { return l.ch, func() {} }

func (l *laggingSource) Latest() *monitor.Frame {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latest
}

func (l *laggingSource) publish(f *monitor.Frame) {
	l.mu.Lock()
	l.latest = f
	l.mu.Unlock()
}

// newLaggingSource returns a laggingSource with frame one published
// (not yet delivered) and frame two to come, each with one exit event
// (pid 1000 and 2000).
func newLaggingSource() (src *laggingSource, one, two *monitor.Frame) {
	frame := func(seq uint64) *monitor.Frame {
		return &monitor.Frame{Seq: seq, Snapshot: &collector.Snapshot{},
			Events: []lifecycle.Event{{Type: lifecycle.Exit, ID: collector.ID{PID: int(seq) * 1000}}}}
	}
	src = &laggingSource{ch: make(chan *monitor.Frame, 1)}
	one, two = frame(1), frame(2)
	src.publish(one)
	return src, one, two
}

// TestFrameWaitsForItsEvents: the frame endpoint sends only a frame
// whose events the server's Run has put in its ring. It sent the
// source's latest, so a client asking between the frame's publication
// and Run's push got the frame without its events, and its next
// ?after= skipped them with no word of a loss.
func TestFrameWaitsForItsEvents(t *testing.T) {
	src, one, two := newLaggingSource()
	srv, hs := startServer(t, src, ServerOptions{})
	src.ch <- one
	// get fails with an error, not t.Fatal: it also runs on a goroutine
	// of its own.
	get := func(after uint64) (WireFrame, error) {
		var wf WireFrame
		resp, err := http.Get(hs.URL + PathFrame + "?after=" + strconv.FormatUint(after, 10) + "&wait=2s")
		if err != nil {
			return wf, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return wf, fmt.Errorf("after=%d: %s", after, resp.Status)
		}
		return wf, gob.NewDecoder(resp.Body).Decode(&wf)
	}
	wf, err := get(0)
	if err != nil {
		t.Fatal(err)
	}
	if wf.Seq != 1 || len(wf.Events) != 1 {
		t.Fatalf("the first frame: %d with %d events, want 1 with 1", wf.Seq, len(wf.Events))
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		srv.mu.Lock()
		held := 0
		srv.ring.each(func(e *seqEvent) {
			if e.seq == 1 {
				held++
			}
		})
		srv.mu.Unlock()
		if held == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not take frame 1 in 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Frame 2 is the latest; Run has not pushed its events yet.
	src.publish(two)
	type answer struct {
		wf  WireFrame
		err error
	}
	got := make(chan answer, 1)
	go func() {
		wf, err := get(1)
		got <- answer{wf, err}
	}()
	time.Sleep(100 * time.Millisecond) // the request waits (or, before the fix, was answered)
	src.ch <- two
	a := <-got
	if a.err != nil {
		t.Fatal(a.err)
	}
	if wf := a.wf; wf.Seq != 2 || wf.EventsLost || len(wf.Events) != 1 || wf.Events[0].ID.PID != 2000 {
		t.Errorf("after=1: frame %d, lost %v, events %v; want frame 2 with its exit of pid 2000", wf.Seq, wf.EventsLost, wf.Events)
	}
}
