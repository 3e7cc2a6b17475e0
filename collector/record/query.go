package record

import (
	"errors"
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
// samples whose flags can match are read, and of those whose events can
// lie in [Since, Until]: taken at most eventSlack after Until, and
// followed by a sample taken at or after Since (eventsEnd).
func (s *Store) Events(q EventQuery, fn func(*lifecycle.Event) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.pos {
		p := &s.pos[i]
		h := &p.e.h
		if h.eventsLen == 0 || q.Flags != 0 && h.evFlags&q.Flags == 0 {
			continue
		}
		if !q.Since.IsZero() && s.eventsEndAt(i) < q.Since.UnixNano() ||
			!q.Until.IsZero() && h.takenAt > q.Until.Add(eventSlack).UnixNano() {
			continue
		}
		body, err := s.readBody(p)
		var evs []lifecycle.Event
		if err == nil {
			evs, err = s.decodeEvents(p, body[:h.eventsLen])
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
			e := &evs[j]
			if q.Flags != 0 && EventFlags(e)&q.Flags == 0 ||
				!q.Since.IsZero() && e.Time.Before(q.Since) ||
				!q.Until.IsZero() && e.Time.After(q.Until) ||
				q.Match != nil && !q.Match(e) {
				continue
			}
			if !fn(e) {
				return nil
			}
		}
	}
	return nil
}
