package monitor

import (
	"fmt"
	"sync"

	"github.com/pinspect/pinspect/collector/lifecycle"
)

// DefaultMaxPending is the default bound on the events held for a
// subscriber that has not taken its frames (Options.MaxPending).
const DefaultMaxPending = 100000

// Fanout keeps the latest frame and delivers frames to subscribers: each
// gets a channel buffered 1, and a subscriber that has not taken its
// previous frame gets the new one with the skipped frames' events in
// front, up to maxPending events. The oldest beyond that are dropped, and a
// Lost event first says how many. Every frame source uses it (the Monitor,
// and metrics.RemoteSource for `pinspect --remote`), so all of them keep
// one contract. It is safe for concurrent use.
type Fanout struct {
	maxPending int

	mu     sync.Mutex
	latest *Frame
	subs   map[int]*subscriber
	next   int
}

// subscriber is one Subscribe channel and the number of events dropped
// for it since it last took a frame.
type subscriber struct {
	ch      chan *Frame
	dropped int
}

// NewFanout makes a Fanout holding at most maxPending events for a
// subscriber that has not taken its frames (DefaultMaxPending when <= 0).
func NewFanout(maxPending int) *Fanout {
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	return &Fanout{maxPending: maxPending, subs: make(map[int]*subscriber)}
}

// Publish makes f the latest frame and offers it to every subscriber.
func (o *Fanout) Publish(f *Frame) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.latest = f
	for _, s := range o.subs {
		out := f
		select {
		case old := <-s.ch:
			evs := old.Events
			if s.dropped > 0 && len(evs) > 0 {
				evs = evs[1:] // the Lost event this function put first
			}
			if len(evs) > 0 || s.dropped > 0 {
				merged := *f
				all := append(append(make([]lifecycle.Event, 0, len(evs)+len(f.Events)+1), evs...), f.Events...)
				if over := len(all) - o.maxPending; over > 0 {
					s.dropped += over
					all = all[over:]
				}
				if s.dropped > 0 {
					lost := lifecycle.Event{Type: lifecycle.Lost, Source: lifecycle.SourcePoll,
						Note: fmt.Sprintf("%s dropped: the reader fell behind (more than %d events waiting)", lifecycle.CountOf(s.dropped, "event", "events"), o.maxPending)}
					if len(all) > 0 {
						lost.Time = all[0].Time
					} else if f.Snapshot != nil {
						lost.Time = f.Snapshot.TakenAt
					}
					all = append([]lifecycle.Event{lost}, all...)
				}
				merged.Events = all
				out = &merged
			}
		default:
			s.dropped = 0 // it took the last frame, with the count
		}
		s.ch <- out
	}
}

// Subscribe returns a channel of frames (buffered 1: a slow reader gets the
// latest frame, and its Events include the events of frames it skipped, up
// to the bound) and a function that cancels the subscription; calling it
// twice is harmless.
func (o *Fanout) Subscribe() (<-chan *Frame, func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	id := o.next
	o.next++
	ch := make(chan *Frame, 1)
	o.subs[id] = &subscriber{ch: ch}
	return ch, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		delete(o.subs, id)
	}
}

// Latest returns the last published frame, nil before the first.
func (o *Fanout) Latest() *Frame {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.latest
}
