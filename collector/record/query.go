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

// eventSlack is how far an event's time can lie outside its sample's
// (a kernel event that arrived while the scan ran).
const eventSlack = 5 * time.Minute

// noteProblem adds a problem once.
func (s *Store) noteProblem(p string) {
	if !slices.Contains(s.problems, p) {
		s.problems = append(s.problems, p)
	}
}

// Events calls fn with every recorded event the query selects, in
// recorded order; fn returning false stops. A damaged
// record is skipped and listed in Problems. Only the events blocks of
// samples whose flags can match are read.
func (s *Store) Events(q EventQuery, fn func(*lifecycle.Event) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.pos {
		p := &s.pos[i]
		h := &p.e.h
		if h.eventsLen == 0 || q.Flags != 0 && h.evFlags&q.Flags == 0 {
			continue
		}
		if !q.Since.IsZero() && h.takenAt < q.Since.Add(-eventSlack).UnixNano() ||
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
