package record

import (
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// TestSamplerAcrossRestart: a recorder restarted keeps a zombie's first
// sighting from the earlier run, and the reparents it had observed; the
// frame rebuilt from the sample diagnoses with them.
func TestSamplerAcrossRestart(t *testing.T) {
	par := collector.Process{PID: 10, Read: collector.SrcStat | collector.SrcStatus, ProcStat: collector.ProcStat{StartTicks: 1, Comm: "leaker", State: 'S', PPID: 1, PGID: 10, SID: 10}}
	z := collector.Process{PID: 11, Read: collector.SrcStat, ProcStat: collector.ProcStat{StartTicks: 2, Comm: "leaker", State: 'Z', PPID: 10, NumThreads: 1, PGID: 10, SID: 10}}
	orphan := collector.Process{PID: 12, Read: collector.SrcStat, ProcStat: collector.ProcStat{StartTicks: 3, Comm: "kid", State: 'S', PPID: 1, PGID: 9, SID: 9}}
	snap := &collector.Snapshot{TakenAt: t0.Add(time.Hour), Processes: []collector.Process{{PID: 1, Read: collector.SrcStat, ProcStat: collector.ProcStat{Comm: "init", State: 'S'}}, par, z, orphan}}
	earlier := &Sample{RunID: 1, Snapshot: snap,
		ZombieFirstSeen: map[collector.ID]time.Time{z.ID(): t0},
		Reparents:       map[collector.ID]lifecycle.Event{orphan.ID(): {Type: lifecycle.Reparent, ID: orphan.ID(), OldPPID: 9, PPID: 1, Time: t0.Add(time.Minute)}},
	}
	s := NewSampler(2)
	s.Seed(earlier)
	// The new run's monitor saw the zombie first at its own start.
	f := &monitor.Frame{Snapshot: snap, Zombies: lifecycle.DiagnoseZombies(snap, map[collector.ID]time.Time{z.ID(): snap.TakenAt}, nil)}
	got := s.Sample(f)
	if !got.ZombieFirstSeen[z.ID()].Equal(t0) {
		t.Errorf("zombie first seen %v after the restart, want %v", got.ZombieFirstSeen[z.ID()], t0)
	}
	if e, ok := got.Reparents[orphan.ID()]; !ok || e.OldPPID != 9 {
		t.Errorf("reparents after the restart: %v", got.Reparents)
	}
	fr := Frame(nil, got, 0)
	if len(fr.Zombies) != 1 || !fr.Zombies[0].Since.Equal(t0) {
		t.Errorf("zombie groups of the rebuilt frame: %+v", fr.Zombies)
	}
	found := false
	for _, o := range fr.Orphans {
		if o.ID == orphan.ID() {
			found = o.Observed && o.OldPPID == 9 && o.ReparentedAt.Equal(t0.Add(time.Minute))
		}
	}
	if !found {
		t.Errorf("orphans of the rebuilt frame: %+v", fr.Orphans)
	}
}
