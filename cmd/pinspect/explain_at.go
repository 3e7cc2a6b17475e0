//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/collector/sampler"
	"github.com/pinspect/pinspect/views/report"
	"github.com/pinspect/pinspect/views/sanitize"
)

// Bounds of `explain --at`: the stretch of the record read by default,
// at most, and how far back it reaches for two samples with threads
// (the recorder reads threads every --threads-every samples, once a
// minute by default).
const (
	recordWindow      = time.Minute
	recordMaxWindow   = time.Hour
	recordThreadReach = 10 * time.Minute
	// recordMaxSamples bounds the samples decoded (an hour of 10 s).
	recordMaxSamples = 400
)

// explainAt explains a process (pid > 0) or the machine from the record
// at --at.
func (a *app) explainAt(pid int, f explainFlags) error {
	if err := f.check(a); err != nil {
		return err
	}
	minSev, err := report.ExplainSeverity(f.minSev)
	if err != nil {
		return usageError{fmt.Errorf("--min-severity %w", err)}
	}
	at, err := parseWhen(f.at, time.Now())
	if err != nil {
		return usageError{fmt.Errorf("--at: %w", err)}
	}
	st, err := a.openStore(f.recordDir)
	if err != nil {
		return err
	}
	defer st.Close()
	window := recordWindow
	if f.windowSet {
		window = f.window
	}
	rec, samples, err := a.recordedStretch(st, at, window, pid)
	if err != nil {
		return err
	}
	var doc *report.ExplainDoc
	if pid > 0 {
		s, ok := explain.FromRecord(rec, pid)
		if !ok {
			return noMatchError{fmt.Errorf("--at %s: the record holds no process %d at %s", f.at, pid, samples[len(samples)-1].TakenAt().Local().Format(time.RFC3339))}
		}
		// The zombies it held at the time, with when the recorder first
		// saw each one.
		last := samples[len(samples)-1]
		s.ZombieChildren = sampler.ZombieChildrenOf(last.Snapshot, collector.ID{PID: s.PID, StartTicks: s.StartTicks}, last.ZombieFirstSeen, nil,
			"pinspect record (when it first saw it a zombie)", lifecycle.ZombieOptions{})
		s.Zombie = sampler.ZombieOf(last.Snapshot, collector.ID{PID: s.PID, StartTicks: s.StartTicks}, last.ZombieFirstSeen, nil,
			"pinspect record (when it first saw it a zombie)", lifecycle.ZombieOptions{})
		doc = report.NewExplainDoc(s, explain.Explain(s), samples[0].Snapshot.Root)
	} else {
		m := explain.MachineFromRecord(rec, f.candidates)
		doc = report.NewExplainMachineDoc(m, explain.ExplainMachine(m), samples[0].Snapshot.Root)
	}
	doc.Record = recordDoc(f.recordDir, f.at, samples, rec, pid)
	return a.writeExplain(doc, pid, f, minSev)
}

// recordedStretch reads the samples of one recorder run that end at the
// sample taken at or before at and reach back window (at least one sample
// before it; for a process, up to recordThreadReach until two of them hold
// its threads, for the machine two with threads), oldest first.
func (a *app) recordedStretch(st *record.Store, at time.Time, window time.Duration, pid int) (*explain.Recorded, []*record.Sample, error) {
	i, ok := st.Find(at)
	if !ok {
		first, _ := st.Span()
		return nil, nil, fmt.Errorf("--at %s: the record starts later, at %s", at.Local().Format(time.RFC3339), first.Local().Format(time.RFC3339))
	}
	i, cur, err := readableBefore(a, st, i)
	if err != nil {
		return nil, nil, err
	}
	if gap := at.Sub(cur.TakenAt()); gap > 2*max(cur.Interval, time.Second) {
		fmt.Fprintf(a.stderr, "pinspect: no sample near %s: explaining up to the one taken %s earlier, at %s\n",
			at.Local().Format(time.RFC3339), gap.Round(time.Second), cur.TakenAt().Local().Format(time.RFC3339))
	}
	samples, err := a.samplesBack(st, i, cur, at, window, pid)
	if err != nil {
		return nil, nil, err
	}
	if len(samples) < 2 {
		return nil, nil, fmt.Errorf("--at %s: the record has no sample before the one at %s in the same recorder run: explain needs two",
			at.Local().Format(time.RFC3339), cur.TakenAt().Local().Format(time.RFC3339))
	}
	// Oldest first.
	for l, r := 0, len(samples)-1; l < r; l, r = l+1, r-1 {
		samples[l], samples[r] = samples[r], samples[l]
	}
	rec := &explain.Recorded{Machine: explain.Machine{Arch: runtime.GOARCH, Root: os.Geteuid() == 0}}
	for _, s := range samples {
		rec.Snapshots = append(rec.Snapshots, s.Snapshot)
		rec.Rollups = append(rec.Rollups, s.Memory)
	}
	if pid > 0 {
		rec.History = recordedSeries(st, cur, pid)
	}
	return rec, samples, nil
}

// samplesBack reads, from sample i (cur, at or before at) back, the
// samples of cur's recorder run in the window (recordedStretch), newest
// first, stepping over damage (named on stderr) no further back than
// the reach.
func (a *app) samplesBack(st *record.Store, i int, cur *record.Sample, at time.Time, window time.Duration, pid int) ([]*record.Sample, error) {
	samples := []*record.Sample{cur}
	threads := 0
	hasThreads := func(s *record.Sample) bool { return sampleHasThreads(s, pid) }
	if hasThreads(cur) {
		threads++
	}
	reach := max(window, recordThreadReach)
	// A damaged sample in the window is stepped over and named on stderr:
	// the rates run from the readable sample before it (the window ended
	// at the first damage, silently, and with it its findings).
	// Only damage between two samples read counts: damage older than the
	// oldest one read is outside the window.
	// Damage is stepped over no further back than reach from the sample
	// at --at (its header's time, known without reading it): past that,
	// the rates would span the damage and more than the window asked
	// (a damaged keyframe spoils the deltas after it, up to the next).
	var damaged, pending []error
	for j := i - 1; j >= 0 && len(samples) < recordMaxSamples; j-- {
		if len(pending) > 0 && cur.TakenAt().Sub(st.Meta(j).TakenAt) > reach {
			if len(samples) < 2 {
				return nil, fmt.Errorf("--at %s: the record has no readable sample before the one at %s within %s of it (%s; the newest: %s): explain needs two in the same recorder run, and steps over damage no further back than that",
					at.Local().Format(time.RFC3339), cur.TakenAt().Local().Format(time.RFC3339), reach,
					pluralWord(len(pending), "1 damaged sample stepped over", fmt.Sprintf("%d damaged samples stepped over", len(pending))), sanitize.Terminal(pending[0].Error()))
			}
			break
		}
		s, err := st.Read(j)
		if errors.Is(err, record.ErrDamaged) {
			pending = append(pending, err)
			continue
		}
		if err != nil || s.RunID != cur.RunID {
			break // another recorder run (or a failed read): rates end here
		}
		age := cur.TakenAt().Sub(s.TakenAt())
		if len(samples) > 1 && (age > reach || age > window && threads >= 2) {
			break
		}
		samples = append(samples, s)
		damaged, pending = append(damaged, pending...), nil
		if hasThreads(s) {
			threads++
		}
	}
	if len(damaged) > 0 {
		fmt.Fprintf(a.stderr, "pinspect: record: %s in the window skipped: the rates span it (the newest: %s)\n",
			pluralWord(len(damaged), "1 damaged sample", fmt.Sprintf("%d damaged samples", len(damaged))), sanitize.Terminal(damaged[0].Error()))
	}
	return samples, nil
}

// sampleHasThreads says whether s holds the threads of process pid (0:
// whether it read every process's threads).
func sampleHasThreads(s *record.Sample, pid int) bool {
	if pid == 0 {
		return s.Snapshot.ThreadsRead
	}
	for k := range s.Snapshot.Processes {
		if p := &s.Snapshot.Processes[k]; p.PID == pid {
			return p.Read&collector.SrcTasks != 0 && len(p.Threads) > 0
		}
	}
	return false
}

// recordedSeries is the recorded RSS of the process pid (as it is in
// cur) over the historyWindow before cur, on cur's monotonic clock.
func recordedSeries(st *record.Store, cur *record.Sample, pid int) []explain.MemoryPoint {
	var id collector.ID
	for k := range cur.Snapshot.Processes {
		if p := &cur.Snapshot.Processes[k]; p.PID == pid {
			id = p.ID()
		}
	}
	if id.PID == 0 {
		return nil
	}
	wall, mono := cur.TakenAt(), cur.Snapshot.Monotonic
	pts, err := st.MemorySeries(id, wall.Add(-historyWindow), wall)
	if err != nil {
		return nil
	}
	var out []explain.MemoryPoint
	for _, p := range pts {
		if !p.HasRSS {
			continue
		}
		t := mono - wall.Sub(p.At)
		if p.RunID == cur.RunID {
			t = p.Monotonic
		}
		out = append(out, explain.MemoryPoint{At: t, RSSBytes: p.RSSBytes})
	}
	return out
}

// recordDoc says which stretch of the record a document explains.
func recordDoc(dir, at string, samples []*record.Sample, rec *explain.Recorded, pid int) *report.ExplainRecordDoc {
	d := &report.ExplainRecordDoc{Dir: dir, At: at, Samples: len(samples),
		From:            samples[0].TakenAt().UTC().Format(time.RFC3339Nano),
		To:              samples[len(samples)-1].TakenAt().UTC().Format(time.RFC3339Nano),
		IntervalSeconds: samples[len(samples)-1].Interval.Seconds()}
	for _, s := range rec.Snapshots {
		if pid == 0 && s.ThreadsRead {
			d.ThreadSamples++
			continue
		}
		for k := range s.Processes {
			if p := &s.Processes[k]; p.PID == pid && p.Read&collector.SrcTasks != 0 {
				d.ThreadSamples++
			}
		}
	}
	return d
}
