package metrics

import (
	"encoding/gob"
	"net/http"
	"slices"
	"strconv"
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
