package sampler

import (
	"strconv"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// ZombieChildrenOf returns the zombies that parent holds in snap, with
// the diagnosis `pinspect zombies` gives of it; nil when it holds none.
// firstSeen, wchan and o are as for lifecycle.DiagnoseZombiesWith;
// seenBy names what saw the zombies first (for the evidence's source).
func ZombieChildrenOf(snap *collector.Snapshot, parent collector.ID, firstSeen map[collector.ID]time.Time, wchan map[int]string,
	seenBy string, o lifecycle.ZombieOptions) *explain.ZombieChildren {
	if snap == nil || !holdsZombies(snap, parent.PID) {
		return nil
	}
	for _, g := range lifecycle.DiagnoseZombiesWith(snap, firstSeen, wchan, o) {
		if g.Parent != parent {
			continue
		}
		z := &explain.ZombieChildren{ZombieDiagnosis: diagnosisOf(&g)}
		observed := false
		for _, c := range g.Zombies {
			z.Zombies = append(z.Zombies, explain.ZombieChild{PID: c.ID.PID, Comm: c.Comm, Exit: c.Exit})
			observed = observed || c.Observed
		}
		if observed {
			z.Since, z.SeenBy = g.Since, seenBy
		}
		return z
	}
	return nil
}

// diagnosisOf returns the part of g a sample carries: its youth, the
// parent's SIGCHLD disposition and the diagnosis (Since is the caller's:
// only when something watched).
func diagnosisOf(g *lifecycle.ZombieGroup) explain.ZombieDiagnosis {
	return explain.ZombieDiagnosis{Young: g.Young, MinAge: g.MinAge, SIGCHLD: g.SIGCHLD, Diagnosis: g.Diagnosis, Remedy: g.Remedy}
}

// holdsZombies reports whether a zombie of snap has ppid as its parent
// (the diagnosis of the whole snapshot is made only then).
func holdsZombies(snap *collector.Snapshot, ppid int) bool {
	for i := range snap.Processes {
		if p := &snap.Processes[i]; p.PPID == ppid && lifecycle.IsZombie(p) {
			return true
		}
	}
	return false
}

// zombieChildren fills sm's zombie children from the window's last
// snapshot: a zombie already in the first reading has been one since
// then at least; one seen only in the last appeared during the window.
func (w *watch) zombieChildren(sm *explain.Sample, p *collector.Process, snap *collector.Snapshot) {
	if !holdsZombies(snap, p.PID) {
		return
	}
	firstSeen := make(map[collector.ID]time.Time)
	for i := range snap.Processes {
		z := &snap.Processes[i]
		if z.PPID != p.PID || !lifecycle.IsZombie(z) {
			continue
		}
		firstSeen[z.ID()] = snap.TakenAt
		if q := lifecycle.FindID(w.first, z.ID()); q != nil && lifecycle.IsZombie(q) {
			firstSeen[z.ID()] = w.first.TakenAt
		}
	}
	// What the parent sleeps in: its main thread's wait channel in the
	// last tick, when it was read.
	var wchan map[int]string
	if n := len(sm.Burst); n > 0 {
		for _, t := range sm.Burst[n-1].Tasks {
			if t.TID == p.PID && t.HasWChan && t.WChan != "" {
				wchan = map[int]string{p.PID: t.WChan}
			}
		}
	}
	z := ZombieChildrenOf(snap, p.ID(), firstSeen, wchan, "/proc/*/stat, the window's first reading", w.zombieOptions(snap))
	if z != nil && !z.Since.IsZero() && !z.Since.Equal(w.first.TakenAt) {
		z.SeenBy, z.NotBefore = "/proc/*/stat, the window's last reading", w.first.TakenAt
	}
	if z != nil && w.s.opts.Unprivileged {
		// An unprivileged reader gets 0 for another user's zombie's exit
		// code (stat field 52): serve's explain gave an unauthenticated
		// client the children's exit statuses (tester14).
		for i := range z.Zombies {
			z.Zombies[i].Exit = nil
		}
	}
	sm.ZombieChildren = z
}

// zombieOptions are the options of the zombie diagnosis of a window
// ending with snap: processes are listed in its first and last readings
// alone, so a zombie first seen in the last became one at any time in
// between (it was called younger than 5 s when seen only in the last
// reading of a longer window).
func (w *watch) zombieOptions(snap *collector.Snapshot) lifecycle.ZombieOptions {
	return lifecycle.ZombieOptions{WatchStart: w.first.TakenAt, SeenGap: snap.TakenAt.Sub(w.first.TakenAt)}
}

// ZombieOf returns what holds zombie z in snap: its parent and the
// diagnosis `pinspect zombies` gives of that parent; nil when z is not a
// zombie of snap. firstSeen, wchan, seenBy and o are as for
// ZombieChildrenOf.
func ZombieOf(snap *collector.Snapshot, z collector.ID, firstSeen map[collector.ID]time.Time, wchan map[int]string,
	seenBy string, o lifecycle.ZombieOptions) *explain.Zombie {
	if snap == nil {
		return nil
	}
	if p := lifecycle.FindID(snap, z); p == nil || !lifecycle.IsZombie(p) {
		return nil
	}
	for _, g := range lifecycle.DiagnoseZombiesWith(snap, firstSeen, wchan, o) {
		for _, c := range g.Zombies {
			if c.ID != z {
				continue
			}
			out := &explain.Zombie{ParentPID: g.Parent.PID, ParentComm: g.ParentComm, ZombieDiagnosis: diagnosisOf(&g)}
			out.Young = c.Young
			if c.Observed {
				out.Since, out.SeenBy = c.FirstSeen, seenBy
			}
			return out
		}
	}
	return nil
}

// zombie fills sm's Zombie when p is a zombie at the last reading: a
// zombie already in the window's first reading has been one since then
// at least.
func (w *watch) zombie(sm *explain.Sample, p *collector.Process, snap *collector.Snapshot) {
	if !lifecycle.IsZombie(p) {
		return
	}
	firstSeen := map[collector.ID]time.Time{p.ID(): snap.TakenAt}
	seenBy := "/proc/" + strconv.Itoa(p.PID) + "/stat, the window's last reading"
	if q := lifecycle.FindID(w.first, p.ID()); q != nil && lifecycle.IsZombie(q) {
		firstSeen[p.ID()] = w.first.TakenAt
		seenBy = "/proc/" + strconv.Itoa(p.PID) + "/stat, the window's first reading"
	}
	sm.Zombie = ZombieOf(snap, p.ID(), firstSeen, nil, seenBy, w.zombieOptions(snap))
	if z := sm.Zombie; z != nil && !z.Since.IsZero() && !z.Since.Equal(w.first.TakenAt) {
		z.NotBefore = w.first.TakenAt
	}
}
