package lifecycle

import (
	"slices"
	"sort"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// Diff compares two snapshots and returns the lifecycle events between
// them, keyed by process identity (pid + start ticks): a pid that was
// reused is an exit of the old process and a spawn of the new one. prev
// may be nil (no events: everything is simply present). Events come in
// this order: exits and reapings (by pid), then, per process of cur in pid
// order, spawn, exec or rename, reparent, state or zombie, thread starts and exits.
// Every event carries cur's TakenAt and Source "poll".
func Diff(prev, cur *collector.Snapshot) []Event {
	if prev == nil || cur == nil {
		return nil
	}
	at := cur.TakenAt
	var evs []Event
	gone(prev.Processes, cur.Processes, func(p *collector.Process) {
		evs = append(evs, goneEvent(p, at))
	})
	threads := prev.ThreadsRead && cur.ThreadsRead
	matchPrev(prev.Processes, cur.Processes, func(p, c *collector.Process) {
		if p == nil {
			evs = spawnEvents(evs, c, at)
			return
		}
		evs = changeEvents(evs, cur, p, c)
		if threads && known(p, collector.SrcTasks) && known(c, collector.SrcTasks) {
			evs = threadEvents(evs, p, c, at)
		}
	})
	return evs
}

// goneEvent is the event of p's disappearance: a zombie was reaped, a
// live process exited. A leader in Z with other threads running
// (LeaderExited) was not a zombie: its stat's exit code is the main
// thread's, not the process's, so its disappearance is an exit with no
// status.
func goneEvent(p *collector.Process, at time.Time) Event {
	e := base(p, at)
	e.Type, e.OldState = Exit, p.State
	if p.IsZombie() {
		e.Type = Reaped
		e.ExitStatus = exitStatus(p)
	}
	return e
}

// spawnEvents appends the events of a process not seen before: its spawn,
// and its becoming a zombie when it is one already.
func spawnEvents(evs []Event, c *collector.Process, at time.Time) []Event {
	e := base(c, at)
	e.Type = Spawn
	e.State = c.State
	e.Exe = c.Exe
	evs = append(evs, e)
	if c.IsZombie() {
		z := base(c, at)
		z.Type = Zombie
		z.State = c.State
		z.ExitStatus = exitStatus(c)
		evs = append(evs, z)
	}
	return evs
}

// changeEvents appends the events between two readings of one process:
// exec or rename, reparent, state change or zombie.
func changeEvents(evs []Event, cur *collector.Snapshot, p, c *collector.Process) []Event {
	at := cur.TakenAt
	// An exec changes the exe; a comm change alone is a rename
	// (prctl(PR_SET_NAME), or an exec of the same executable, which
	// only the connector tells apart). Kernel threads rename
	// themselves (kworker/0:1-events): neither is reported.
	exeChanged := known(p, collector.SrcExe) && known(c, collector.SrcExe) && p.Exe != c.Exe
	stat := known(p, collector.SrcStat) && known(c, collector.SrcStat)
	commChanged := stat && p.Comm != c.Comm
	if !c.IsKernelThread() && (exeChanged || commChanged) {
		e := base(c, at)
		e.Type = Rename
		e.OldComm = p.Comm
		if exeChanged {
			e.Type = Exec
			e.OldExe, e.Exe = p.Exe, c.Exe
		}
		evs = append(evs, e)
	}
	if !stat {
		return evs
	}
	if p.PPID != c.PPID {
		e := base(c, at)
		e.Type = Reparent
		e.OldPPID = p.PPID
		e.AdopterKind = adopterKindOf(Find(cur, c.PPID), c, nil)
		evs = append(evs, e)
	}
	// A process whose main thread had exited (Z with threads running)
	// becomes a zombie when its last thread exits: the letter stays Z.
	if p.State != c.State || p.LeaderExited() && c.IsZombie() {
		e := base(c, at)
		e.Type = StateChange
		e.OldState, e.State = p.State, c.State
		if c.IsZombie() {
			e.Type = Zombie
			e.ExitStatus = exitStatus(c)
		}
		evs = append(evs, e)
	}
	return evs
}

// base fills the common fields of an event about p.
func base(p *collector.Process, at time.Time) Event {
	return Event{Time: at, ID: p.ID(), Comm: p.Comm, PPID: p.PPID, Source: SourcePoll}
}

// known reports whether p's source s was read.
func known(p *collector.Process, s collector.Sources) bool { return p.Read&s != 0 }

// exitStatus decodes stat field 52 of a zombie, nil when absent.
func exitStatus(p *collector.Process) *collector.ExitStatus {
	if !p.IsZombie() || p.ExitCode < 0 || !known(p, collector.SrcStat) {
		return nil
	}
	es := collector.DecodeWaitStatus(p.ExitCode)
	return &es
}

type threadID struct {
	tid   int
	start uint64
}

// threadEvents appends thread_exit and thread_start events between two
// readings of one process (thread identity is tid + start ticks).
func threadEvents(evs []Event, p, c *collector.Process, at time.Time) []Event {
	if threadsSorted(p.Threads) && threadsSorted(c.Threads) {
		// Without maps: the exits come out in tid order (as the
		// sorted list below gives them), the starts in c's.
		for _, t := range p.Threads {
			if !hasThread(c.Threads, t) {
				e := base(c, at)
				e.Type = ThreadExit
				e.TID = t.TID
				evs = append(evs, e)
			}
		}
		for _, t := range c.Threads {
			if !hasThread(p.Threads, t) {
				e := base(c, at)
				e.Type = ThreadStart
				e.TID = t.TID
				evs = append(evs, e)
			}
		}
		return evs
	}
	old := make(map[threadID]bool, len(p.Threads))
	for _, t := range p.Threads {
		old[threadID{t.TID, t.StartTicks}] = true
	}
	now := make(map[threadID]bool, len(c.Threads))
	for _, t := range c.Threads {
		now[threadID{t.TID, t.StartTicks}] = true
	}
	var gone []int
	for _, t := range p.Threads {
		if !now[threadID{t.TID, t.StartTicks}] {
			gone = append(gone, t.TID)
		}
	}
	sort.Ints(gone)
	for _, tid := range gone {
		e := base(c, at)
		e.Type = ThreadExit
		e.TID = tid
		evs = append(evs, e)
	}
	for _, t := range c.Threads {
		if !old[threadID{t.TID, t.StartTicks}] {
			e := base(c, at)
			e.Type = ThreadStart
			e.TID = t.TID
			evs = append(evs, e)
		}
	}
	return evs
}

// hasThread reports whether ts (sorted by tid) holds a thread of t's
// identity (tid and start ticks).
func hasThread(ts []collector.Thread, t collector.Thread) bool {
	i, ok := slices.BinarySearchFunc(ts, t.TID, func(x collector.Thread, tid int) int { return x.TID - tid })
	return ok && ts[i].StartTicks == t.StartTicks
}
