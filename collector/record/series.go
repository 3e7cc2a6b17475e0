package record

import (
	"bytes"
	"errors"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// MemoryPoint is one process's memory in one recorded sample.
type MemoryPoint struct {
	// At is the sample's wall time; Monotonic its time on the recorder's
	// monotonic clock, comparable only within one RunID.
	At        time.Time
	Monotonic time.Duration
	RunID     uint64
	// RSSBytes is resident memory, in every sample where it could be
	// read (HasRSS).
	RSSBytes uint64
	HasRSS   bool
	// Rollup is smaps_rollup (anonymous, private dirty, PSS, USS, swap)
	// when the recorder read it with this sample; nil otherwise.
	Rollup *collector.MemoryTotals
}

// MemorySeries returns the recorded memory of one process (by identity)
// between since and until (zero: unbounded), oldest first. Only that
// process is decoded from each sample (about a hundredth of a full read),
// so an hour of a 10 s record of 2,000 processes is read in well under a
// second. A damaged sample is skipped (listed in Problems).
func (s *Store) MemorySeries(id collector.ID, since, until time.Time) ([]MemoryPoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []MemoryPoint
	want := ident{int64(id.PID), id.StartTicks}
	var keyRef dictRef
	var keyEntry []byte // the process in the current keyframe
	for i := range s.pos {
		p := &s.pos[i]
		at := p.e.h.takenAt
		if !since.IsZero() && at < since.UnixNano() || !until.IsZero() && at > until.UnixNano() {
			continue
		}
		h := &p.e.h
		if h.codec == codecZstdDelta {
			ref := dictRef{p.seg, int64(h.keyOffset)}
			if ref != keyRef {
				raw, err := s.keyframeRaw(p.seg, int64(h.keyOffset))
				if err != nil {
					s.noteProblem(err.Error())
					continue
				}
				keyRef, keyEntry = ref, findProcess(raw, want)
			}
		}
		body, err := s.readBody(p)
		if err == nil {
			s.raw, err = s.dec.DecodeAll(body[h.eventsLen:], s.raw[:0])
		}
		if err != nil {
			if errors.Is(err, ErrDamaged) {
				s.noteProblem(err.Error())
				continue
			}
			return nil, err
		}
		var entry []byte
		if h.codec == codecZstd {
			entry = findProcess(s.raw, want)
			// s.raw is reused for the next sample: keep a copy.
			keyRef, keyEntry = dictRef{p.seg, p.e.off}, bytes.Clone(entry)
		} else {
			entry, err = deltaProcess(s.raw, keyEntry, want)
			if err != nil {
				s.noteProblem(s.damaged(p, err).Error())
				continue
			}
		}
		if entry == nil {
			continue
		}
		var proc collector.Process
		if err := s.strs.process(entry, &proc); err != nil {
			s.noteProblem(s.damaged(p, err).Error())
			continue
		}
		pt := MemoryPoint{At: time.Unix(0, at), RSSBytes: proc.RSSBytes, HasRSS: proc.HasRSS}
		pt.Monotonic, pt.RunID, pt.Rollup = sampleTimes(s.raw, id)
		out = append(out, pt)
	}
	return out, nil
}

// findProcess returns the process message with identity id in a whole
// sample, nil when it is not there.
func findProcess(sample []byte, id ident) []byte {
	snap, err := subMessage(sample, fieldSnapshot)
	if err != nil {
		return nil
	}
	r := dec{b: snap}
	var f field
	for r.next(&f) {
		if f.num == fieldProcess && identOf(f.b) == id {
			return f.b
		}
	}
	return nil
}

// deltaProcess returns the whole process message with identity id from a
// delta sample and the process as its keyframe had it (nil when absent).
func deltaProcess(delta, keyEntry []byte, id ident) ([]byte, error) {
	snap, err := subMessage(delta, fieldSnapshot)
	if err != nil {
		return nil, err
	}
	ss, err := spans(snap)
	if err != nil {
		return nil, err
	}
	t, ss, err := parseTrailer(snap, ss)
	if err != nil {
		return nil, err
	}
	for _, sp := range ss {
		if sp.num != fieldProcess {
			continue
		}
		r := dec{b: snap[sp.start:sp.end]}
		var f field
		for r.next(&f) {
			if identOf(f.b) != id {
				continue
			}
			if keyEntry == nil || t.whole {
				return f.b, nil // new since the keyframe, or a whole list
			}
			return mergeProcess(nil, keyEntry, f.b)
		}
	}
	if keyEntry == nil || t.whole || t.gone[id] {
		return nil, nil
	}
	return keyEntry, nil // unchanged since the keyframe
}

// sampleTimes reads a sample's monotonic time and run, and the rollup of
// id if the sample has one, without decoding its processes.
func sampleTimes(sample []byte, id collector.ID) (time.Duration, uint64, *collector.MemoryTotals) {
	var mono time.Duration
	var run uint64
	var roll *collector.MemoryTotals
	r := dec{b: sample}
	var f field
	d := newDecoder()
	for r.next(&f) {
		switch f.num {
		case sampleRunID:
			run = f.v
		case sampleSnapshot:
			_ = each(f.b, func(g *field) {
				if g.num == 2 {
					mono = time.Duration(g.sint())
				}
			})
		case sampleMemory:
			if s, err := d.decodeSample(appendField(nil, &f)); err == nil {
				if m, ok := s.Memory[id]; ok {
					roll = &m
				}
			}
		}
	}
	return mono, run, roll
}
