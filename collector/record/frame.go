package record

import (
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// RatesBetween returns the rates from prev to cur when both come from the
// same recorder run (a restart or a reboot between them makes counters
// incomparable) and cur is later; nil otherwise.
func RatesBetween(prev, cur *Sample) *lifecycle.Rates {
	if prev == nil || cur == nil || prev.RunID != cur.RunID || !cur.TakenAt().After(prev.TakenAt()) {
		return nil
	}
	return lifecycle.ComputeRates(prev.Snapshot, cur.Snapshot)
}

// Sampler turns the monitor's frames into samples: the snapshot and
// events as they are, and the tracker state the frame's diagnoses were
// made from (zombie first-seen times, parent wait channels, the reparents
// observed for processes still alive). One goroutine uses it.
type Sampler struct {
	// RunID identifies this recorder run in every sample.
	RunID     uint64
	reparents map[collector.ID]lifecycle.Event
	// seen holds the first-seen times of zombies recorded by an earlier
	// run (Seed): a restarted recorder keeps their real age.
	seen map[collector.ID]time.Time
}

// Seed carries what the last sample of an earlier recorder run knew into
// this run: the zombies' first-seen times (a zombie still there keeps its
// real age, not the restart's time) and the observed reparents.
func (s *Sampler) Seed(last *Sample) {
	if last == nil {
		return
	}
	s.seen = make(map[collector.ID]time.Time, len(last.ZombieFirstSeen))
	for id, t := range last.ZombieFirstSeen {
		s.seen[id] = t
	}
	for id, e := range last.Reparents {
		s.reparents[id] = e
	}
}

// NewSampler makes a Sampler for one recorder run.
func NewSampler(runID uint64) *Sampler {
	return &Sampler{RunID: runID, reparents: make(map[collector.ID]lifecycle.Event)}
}

// Sample makes the sample of one frame. The frame is not changed (the
// sample shares its snapshot and events, which are immutable).
func (s *Sampler) Sample(f *monitor.Frame) *Sample {
	out := &Sample{RunID: s.RunID, Interval: f.Interval, Snapshot: f.Snapshot, Events: f.Events,
		EventsLive: f.EventsLive, EventsNote: f.EventsNote}
	for i := range f.Events {
		if e := &f.Events[i]; e.Type == lifecycle.Reparent {
			s.reparents[e.ID] = *e
		}
	}
	alive := make(map[collector.ID]bool, len(f.Snapshot.Processes))
	for i := range f.Snapshot.Processes {
		alive[f.Snapshot.Processes[i].ID()] = true
	}
	for id := range s.reparents {
		if !alive[id] {
			delete(s.reparents, id)
		}
	}
	if len(s.reparents) > 0 {
		out.Reparents = make(map[collector.ID]lifecycle.Event, len(s.reparents))
		for id, e := range s.reparents {
			out.Reparents[id] = e
		}
	}
	for _, g := range f.Zombies {
		if g.ParentWChan != "" {
			if out.ParentWChan == nil {
				out.ParentWChan = make(map[int]string)
			}
			out.ParentWChan[g.Parent.PID] = g.ParentWChan
		}
		for _, z := range g.Zombies {
			if !z.Observed {
				continue
			}
			if out.ZombieFirstSeen == nil {
				out.ZombieFirstSeen = make(map[collector.ID]time.Time)
			}
			t := z.FirstSeen
			if old, ok := s.seen[z.ID]; ok && old.Before(t) {
				t = old
			}
			out.ZombieFirstSeen[z.ID] = t
		}
	}
	return out
}

// Frame rebuilds the frame of a recorded sample with the same pure
// lifecycle functions the monitor uses: rates from prev (the sample
// before it, nil for none or another run), zombie diagnoses from the
// recorded first-seen times and wait channels, orphans from the recorded
// reparents. focus, when not 0, makes the frame's Focus that process as
// the snapshot holds it (threads when the sample read them; no details
// or address space: they are not recorded).
func Frame(prev, cur *Sample, focus int) *monitor.Frame {
	snap := cur.Snapshot
	f := &monitor.Frame{
		Seq: cur.Seq, Snapshot: snap, Events: cur.Events, Interval: cur.Interval,
		EventsLive: cur.EventsLive, EventsNote: cur.EventsNote,
		Rates:   RatesBetween(prev, cur),
		Zombies: lifecycle.DiagnoseZombies(snap, cur.ZombieFirstSeen, cur.ParentWChan),
		Orphans: lifecycle.DetectOrphans(snap, cur.Reparents),
	}
	if focus > 0 {
		f.Focus = &monitor.Focus{PID: focus}
		for i := range snap.Processes {
			if snap.Processes[i].PID == focus {
				f.Focus.Process = &snap.Processes[i]
				break
			}
		}
		if f.Focus.Process == nil {
			f.Focus.Err = "not in the recorded sample"
		}
	}
	return f
}
