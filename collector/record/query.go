package record

import (
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
)

// EventQuery selects recorded events. Zero fields select everything.
type EventQuery struct {
	// Since and Until bound the events' times (inclusive).
	Since, Until time.Time
	// Flags, when not 0, keep the events having at least one of these
	// flags (EventFlags): FlagExit|FlagReaped for every exit,
	// FlagExitSignal for deaths by a signal.
	Flags EventFlag
	// Match, when set, is a further filter.
	Match func(*lifecycle.Event) bool
	// Damaged, when set, is called with the error of each damaged sample
	// Events skips (ErrDamaged; ForClient makes it fit for a client).
	Damaged func(error)
}

// eventSlack is how long before its sample's time an event recorded
// with it may lie: events that waited (a backlog in the kernel's queue,
// events carried over samples that could not be written or frames the
// recorder skipped) are written with a later sample. Past it an event
// is not looked for, and damage is not counted for it. Later than its
// sample an event lies only while that sample's scan ran: the next
// sample's time bounds it (eventsEnd).
const eventSlack = 5 * time.Minute

// eventsEnd is the latest time (Unix nanoseconds) an event recorded with
// a sample taken at takenAt can have, when the sample written after it
// was taken at next (0: none): the monitor takes a scan's events before
// the next scan starts, and an event's time is never later than when it
// was received. Without a next sample, or when the wall clock stepped
// back before it, the slack stands in.
func eventsEnd(takenAt, next int64) int64 {
	if next == 0 || next < takenAt {
		return takenAt + int64(eventSlack)
	}
	return next
}

// eventsEndAt is eventsEnd for sample i of s.pos.
func (s *Store) eventsEndAt(i int) int64 {
	var next int64
	if i+1 < len(s.pos) {
		next = s.pos[i+1].e.h.takenAt
	}
	return eventsEnd(s.pos[i].e.h.takenAt, next)
}

// noteProblem adds a problem once.
func (s *Store) noteProblem(p string) {
	if !slices.Contains(s.problems, p) {
		s.problems = append(s.problems, p)
	}
}

// Events calls fn with every recorded event the query selects, in
// recorded order; fn returning false stops. A damaged
// record is skipped and listed in Problems. Only the events blocks of
// samples whose flags can match are read, and of those taken within
// eventSlack of [Since, Until]. A damaged one is skipped, listed and
// given to q.Damaged only when its events can lie in [Since, Until]:
// when the sample after it was taken at or after Since (eventsEnd).
// (Readable samples before that are still read: an event is not missed
// for a wall clock that stepped back less than the samples' interval.)
func (s *Store) Events(q EventQuery, fn func(*lifecycle.Event) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events(q, func(_ int, e *lifecycle.Event) bool { return fn(e) })
}

// events is Events with s.mu held; fn is also given the index of the
// event's sample in s.pos.
func (s *Store) events(q EventQuery, fn func(int, *lifecycle.Event) bool) error {
	for i := range s.pos {
		p := &s.pos[i]
		h := &p.e.h
		if !q.mayHold(h) {
			continue
		}
		body, err := s.readBody(p)
		var evs []lifecycle.Event
		if err == nil {
			evs, err = s.decodeEvents(p, body[:h.eventsLen])
		}
		if errors.Is(err, ErrDamaged) && !q.Since.IsZero() && s.eventsEndAt(i) < q.Since.UnixNano() {
			continue // it holds no event of the range: not its damage
		}
		if errors.Is(err, ErrDamaged) {
			s.noteProblem(err.Error())
			if q.Damaged != nil {
				q.Damaged(err)
			}
			continue
		}
		if err != nil {
			return err
		}
		for j := range evs {
			if e := &evs[j]; q.selects(e) && !fn(i, e) {
				return nil
			}
		}
	}
	return nil
}

// mayHold reports whether the sample of header h is read for q: it has
// events, of the kinds asked for, and was taken within eventSlack of
// q's range.
func (q *EventQuery) mayHold(h *recHeader) bool {
	return h.eventsLen > 0 && (q.Flags == 0 || h.evFlags&q.Flags != 0) &&
		(q.Since.IsZero() || h.takenAt >= q.Since.Add(-eventSlack).UnixNano()) &&
		(q.Until.IsZero() || h.takenAt <= q.Until.Add(eventSlack).UnixNano())
}

// selects reports whether q selects event e.
func (q *EventQuery) selects(e *lifecycle.Event) bool {
	return (q.Flags == 0 || EventFlags(e)&q.Flags != 0) &&
		(q.Since.IsZero() || !e.Time.Before(q.Since)) &&
		(q.Until.IsZero() || !e.Time.After(q.Until)) &&
		(q.Match == nil || q.Match(e))
}

// EventsCut says where an answer of at most limit of the events q
// selects ends, so that answers asked one after the other (each from
// the last one's cut) hold every event once: cut is the time of the
// first event left out, and every selected event timed before it is in
// the answer (query Until = cut minus a nanosecond). The events of one
// instant are never split: when more than limit share the earliest
// time, cut is just after it and the answer holds them all. cut is the
// zero time when q selects at most limit events. Events are in recorded
// order, not strictly by time (a sample's events may be up to
// eventSlack older than it), so the record is read until no later
// sample can hold an event before the cut; damage is skipped as Events
// skips it (q.Damaged is not called).
func (s *Store) EventsCut(q EventQuery, limit int) (cut time.Time, err error) {
	if limit <= 0 {
		return time.Time{}, fmt.Errorf("events cut: limit %d, want a positive number", limit)
	}
	q.Damaged = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	// The limit+1 earliest times seen, the latest of them on top.
	earliest := &latestFirst{}
	stepped := len(s.steps) > 0 // with a clock step, later samples may hold earlier events
	err = s.events(q, func(i int, e *lifecycle.Event) bool {
		t := e.Time.UnixNano()
		if earliest.Len() <= limit {
			heap.Push(earliest, t)
		} else if t < (*earliest)[0] {
			(*earliest)[0] = t
			heap.Fix(earliest, 0)
		}
		// Samples after one taken eventSlack past the cut hold no event
		// before it.
		return stepped || earliest.Len() <= limit || s.pos[i].e.h.takenAt-int64(eventSlack) <= (*earliest)[0]
	})
	if err != nil || earliest.Len() <= limit {
		return time.Time{}, err
	}
	last := (*earliest)[0]
	first := slices.Min(*earliest)
	if first == last {
		last++ // more than limit at one instant: all of them
	}
	return time.Unix(0, last), nil
}

// latestFirst is a heap of times (Unix nanoseconds), the latest on top.
type latestFirst []int64

func (h latestFirst) Len() int           { return len(h) }
func (h latestFirst) Less(i, j int) bool { return h[i] > h[j] }
func (h latestFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *latestFirst) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *latestFirst) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
