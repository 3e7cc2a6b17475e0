package record

import (
	"cmp"
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
	return s.events(q, func(_ int, e *lifecycle.Event) bool { return fn(e) }, func(_ int, err error) {
		if q.Damaged != nil {
			q.Damaged(err)
		}
	})
}

// events is Events with s.mu held; fn is also given the index of the
// event's sample in s.pos, and damaged (for q.Damaged) the index of the
// damaged sample.
func (s *Store) events(q EventQuery, fn func(int, *lifecycle.Event) bool, damaged func(int, error)) error {
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
			damaged(i, err)
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

// CutReason says why an events page (EventsPage) ends before the
// events its query selects do.
type CutReason int

const (
	// CutNone: the page holds every event the query selects.
	CutNone CutReason = iota
	// CutByLimit: more than the limit are selected; the page holds the
	// earliest (those before the cut, at most the limit).
	CutByLimit
	// CutAtInstant: more than the limit share the earliest time (one
	// scan's events): the page holds all of them, and the cut is a
	// nanosecond after it.
	CutAtInstant
	// CutByWriting: a recorder is writing the record, and a sample it
	// writes later may hold events up to eventSlack older than itself:
	// the page ends at the newest sample's time minus that, where the
	// events may still grow.
	CutByWriting
)

// PageEnd is where an events page ends (EventsPage).
type PageEnd struct {
	// Cut is the first time the page leaves out (zero for CutNone):
	// every selected event before it is in the page, none at or after
	// it, and the next page starts at it.
	Cut time.Time
	Why CutReason
	// Count is how many events the page holds.
	Count int
}

// pagePrune is how many events past two limits' worth a page collects
// before it drops those after the limit's latest time so far.
const pagePrune = 1024

// EventsPage calls fn, in recorded order, with the events q selects
// that a page of at most limit of them holds, and says where the page
// ends, so that pages asked one after the other (each from the last
// one's cut) hold every event once. The record is read once: the
// events selected are collected while the limit+1 earliest times are
// kept, until no later sample can hold an event before the latest of
// them (a sample holds events up to eventSlack older than itself; after
// a clock step back the samples after it are read too). The events of
// one instant are never split (CutAtInstant). While a recorder writes
// the record (recorderWriting) the page ends by the newest sample's
// time minus eventSlack at the latest (CutByWriting): a sample written
// later may hold events older than the ones already there (an exit held
// a scan, events carried over a failed write). Damage is skipped as
// Events skips it; q.Damaged is called for the damage that may have held
// events of the page's range (Since to the cut), after fn.
func (s *Store) EventsPage(q EventQuery, limit int, fn func(*lifecycle.Event) bool) (PageEnd, error) {
	if limit <= 0 {
		return PageEnd{}, fmt.Errorf("events page: limit %d, want a positive number", limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rq, horizon := s.pageHorizon(q)
	pg := &pageRead{s: s, limit: limit, lastStep: s.lastStepIndex()}
	if horizon.IsZero() || horizon.After(q.Since) { // else nothing of the range is final yet
		if err := s.events(rq, pg.see, pg.damaged); err != nil {
			return PageEnd{}, err
		}
	}
	end := pg.end(horizon)
	for _, it := range pg.kept.items {
		if !end.Cut.IsZero() && it.t >= end.Cut.UnixNano() {
			continue
		}
		var e lifecycle.Event
		if err := s.strs.event(pg.kept.b[it.start:it.end], &e); err != nil {
			return end, fmt.Errorf("events page: %w", err) // its own encoding: not the record's damage
		}
		end.Count++
		if !fn(&e) {
			break
		}
	}
	if q.Damaged != nil {
		// The damage of the page's range: as Events counts it for
		// [Since, cut).
		dq := rq
		if !end.Cut.IsZero() {
			dq.Until = end.Cut.Add(-time.Nanosecond)
		}
		for _, d := range pg.damage {
			if dq.mayHold(&s.pos[d.i].e.h) {
				q.Damaged(d.err)
			}
		}
	}
	return end, nil
}

// pageHorizon is the query an events page reads, and the time from which
// events may still be written (zero: none, or not in q's range): while a
// recorder writes the record, the newest sample's time minus eventSlack,
// not before q.Since.
func (s *Store) pageHorizon(q EventQuery) (EventQuery, time.Time) {
	n := len(s.pos)
	if n == 0 || !recorderWriting(s.dir) {
		return q, time.Time{}
	}
	horizon := time.Unix(0, s.pos[n-1].e.h.takenAt-int64(eventSlack))
	if !q.Since.IsZero() && horizon.Before(q.Since) {
		horizon = q.Since
	}
	if !q.Until.IsZero() && q.Until.Before(horizon) {
		return q, time.Time{} // the range ends before it
	}
	q.Until = horizon.Add(-time.Nanosecond)
	return q, horizon
}

// pageRead collects an events page as the record is read (see): the
// limit+1 earliest times seen, the latest of them on top, and the events
// that may be in the page (those at or before the top); and the damage
// read, with its sample's index.
type pageRead struct {
	s        *Store
	limit    int
	lastStep int // lastStepIndex
	earliest latestFirst
	kept     pageEvents
	damage   []damageAt
}

// damageAt is a damaged sample an events page read: its index in s.pos.
type damageAt struct {
	i   int
	err error
}

func (pg *pageRead) damaged(i int, err error) { pg.damage = append(pg.damage, damageAt{i, err}) }

// see takes event e of sample i; false once no later sample can hold an
// event before the top: sample i was taken eventSlack past it, and after
// the last clock step.
func (pg *pageRead) see(i int, e *lifecycle.Event) bool {
	t, h := e.Time.UnixNano(), &pg.earliest
	switch {
	case h.Len() <= pg.limit:
		heap.Push(h, t)
	case t < (*h)[0]:
		(*h)[0] = t
		heap.Fix(h, 0)
	case t == (*h)[0]:
		// Of the top's instant: in the page if that instant is all it
		// holds (CutAtInstant).
	default:
		// Later than limit+1 others: in no page of this limit.
		return pg.more(i)
	}
	pg.kept.add(e)
	if h.Len() > pg.limit && len(pg.kept.items) > pg.limit+max(pg.limit/2, pagePrune) {
		pg.kept.drop((*h)[0])
	}
	return pg.more(i)
}

// more reports whether the samples after sample i may hold events of the
// page.
func (pg *pageRead) more(i int) bool {
	return i < pg.lastStep || pg.earliest.Len() <= pg.limit || pg.s.pos[i].e.h.takenAt-int64(eventSlack) <= pg.earliest[0]
}

// end says where the page ends: by the limit, at an instant, or at the
// writing horizon (zero: none).
func (pg *pageRead) end(horizon time.Time) PageEnd {
	switch {
	case pg.earliest.Len() > pg.limit:
		last := pg.earliest[0]
		if slices.Min(pg.earliest) == last {
			// More than limit at one instant: all of them.
			return PageEnd{Cut: time.Unix(0, last+1), Why: CutAtInstant}
		}
		return PageEnd{Cut: time.Unix(0, last), Why: CutByLimit}
	case !horizon.IsZero():
		return PageEnd{Cut: horizon, Why: CutByWriting}
	}
	return PageEnd{}
}

// pageEvents holds the events a page may hold, in recorded order, in
// the record's encoding (a fraction of lifecycle.Event's size: a page
// of 100,000 events holds a few megabytes while it is read).
type pageEvents struct {
	b     []byte
	items []pageItem
}

// pageItem is one event of pageEvents: its time (Unix nanoseconds) and
// where its encoding lies in b.
type pageItem struct {
	t          int64
	start, end int
}

func (p *pageEvents) add(e *lifecycle.Event) {
	w := enc{b: p.b}
	start := len(w.b)
	w.event(e)
	p.b = w.b
	p.items = append(p.items, pageItem{t: e.Time.UnixNano(), start: start, end: len(p.b)})
}

// drop removes the events after top (Unix nanoseconds).
func (p *pageEvents) drop(top int64) {
	b, items := p.b[:0:0], p.items[:0]
	for _, it := range p.items {
		if it.t <= top {
			start := len(b)
			b = append(b, p.b[it.start:it.end]...)
			items = append(items, pageItem{t: it.t, start: start, end: len(b)})
		}
	}
	p.b, p.items = b, items
}

// lastStepIndex is the index in s.pos of the last sample taken before
// the one written ahead of it (a wall clock step back), -1 for none:
// samples from it on may hold events older than those before it.
func (s *Store) lastStepIndex() int {
	if len(s.steps) == 0 {
		return -1
	}
	seq := s.steps[len(s.steps)-1].Seq
	i, _ := slices.BinarySearchFunc(s.pos, seq, func(p position, seq uint64) int { return cmp.Compare(p.e.h.seq, seq) })
	return i
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
