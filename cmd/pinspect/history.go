//go:build linux

package main

import (
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/views/report"
)

// zombieHistory answers, from the record, when each parent's zombies
// began to pile up, how fast, and what the parent was doing then.
type zombieHistory struct {
	st  *record.Store
	cur *record.Sample
}

func newZombieHistory(st *record.Store, cur *record.Sample) *zombieHistory {
	return &zombieHistory{st: st, cur: cur}
}

func (h *zombieHistory) docs(groups []lifecycle.ZombieGroup) []report.ZombieHistoryDoc {
	var out []report.ZombieHistoryDoc
	for _, g := range groups {
		if g.Since.IsZero() {
			continue
		}
		d := report.ZombieHistoryDoc{ParentPID: g.Parent.PID, ParentComm: g.ParentComm,
			FirstZombieAt: g.Since.Local().Format(time.RFC3339), Zombies: len(g.Zombies)}
		thenAt := h.parentThen(&d, g, g.Since)
		// The rate is the zombies after the first over the time from the
		// first to the sample shown. It was over the span of their first
		// sightings: 8 zombies made in 6 ms (kernel exit times) and none
		// in the 28 s since were "accumulating at 4678261.8 an hour"
		// (tester14). Zombies already there when recording began have the
		// record's first sample as their first sighting, whenever they
		// were made (review14: 3 of them were "accumulating at 2801.2 an
		// hour" 2 s in): then only those first seen after that sample
		// count, over the time since it (not since g.Since, which a kernel
		// exit time just before the first scan can put earlier: review14b).
		after, from := len(g.Zombies)-1, g.Since
		if d.BeforeRecording {
			after, from = 0, thenAt
			for _, z := range g.Zombies {
				if z.FirstSeen.After(thenAt) {
					after++
				}
			}
		}
		if span := h.cur.TakenAt().Sub(from); (after > 0 || d.BeforeRecording) && span > 0 {
			v := float64(after) / span.Hours()
			d.ZombiesPerHour = &v
		}
		out = append(out, d)
	}
	return out
}

// parentThen fills the parent's state from the sample in which the first
// zombie was first seen (the first holding the zombie: a kernel exit's
// time can come before that sample), with its CPU from the sample before,
// and returns that sample's time (zero when there is none).
func (h *zombieHistory) parentThen(d *report.ZombieHistoryDoc, g lifecycle.ZombieGroup, since time.Time) time.Time {
	first := g.Zombies[0].ID
	i, ok := h.st.Find(since)
	if !ok {
		i = 0
	}
	var then *record.Sample
	var par *collector.Process
	for ; i < h.st.Len() && then == nil; i++ {
		s, err := h.st.Read(i)
		if err != nil || s.TakenAt().After(h.cur.TakenAt()) {
			return time.Time{}
		}
		if find(s.Snapshot, first) == nil {
			continue
		}
		then, par = s, find(s.Snapshot, g.Parent)
	}
	i--
	if par == nil {
		return time.Time{}
	}
	// Seen in the first sample of a recorder run: it was there before.
	if i == 0 {
		d.BeforeRecording = true
	} else if prev, err := h.st.Read(i - 1); err != nil || prev.RunID != then.RunID {
		d.BeforeRecording = true
	} else if r := record.RatesBetween(prev, then); r != nil {
		if pr, ok := r.Process(par.ID()); ok {
			d.ParentCPUThen = &pr.CPUPercent
		}
	}
	d.SampleThen = then.TakenAt().Local().Format(time.RFC3339)
	letter, name := lifecycle.StateLetterName(par)
	d.ParentStateThen = string(rune(letter)) + " (" + name + ")"
	d.ParentWChanThen = then.ParentWChan[par.PID]
	d.ParentThreadsThen = par.NumThreads
	return then.TakenAt()
}

// find returns the process with identity id in snap, nil when absent.
func find(snap *collector.Snapshot, id collector.ID) *collector.Process {
	for k := range snap.Processes {
		if p := &snap.Processes[k]; p.ID() == id {
			return p
		}
	}
	return nil
}
