package lifecycle

import (
	"sort"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// Diff compares two snapshots and returns the lifecycle events between
// them, keyed by process identity (pid + start ticks): a pid that was
// reused is an exit of the old process and a spawn of the new one. prev
// may be nil (no events: everything is simply present). Events come in
// this order: exits and reapings (by pid), then, per process of cur in pid
// order, spawn, exec, reparent, state or zombie, thread starts and exits.
// Every event carries cur's TakenAt and Source "poll".
func Diff(prev, cur *collector.Snapshot) []Event {
	if prev == nil || cur == nil {
		return nil
	}
	at := cur.TakenAt
	prevByID := make(map[collector.ID]*collector.Process, len(prev.Processes))
	for i := range prev.Processes {
		p := &prev.Processes[i]
		prevByID[p.ID()] = p
	}
	curByID := make(map[collector.ID]*collector.Process, len(cur.Processes))
	curByPID := make(map[int]*collector.Process, len(cur.Processes))
	for i := range cur.Processes {
		p := &cur.Processes[i]
		curByID[p.ID()] = p
		curByPID[p.PID] = p
	}

	var evs []Event
	for i := range prev.Processes {
		p := &prev.Processes[i]
		if _, ok := curByID[p.ID()]; ok {
			continue
		}
		e := base(p, at)
		if p.IsZombie() {
			e.Type = Reaped
			e.OldState = p.State
			e.ExitStatus = exitStatus(p)
		} else {
			e.Type = Exit
			e.OldState = p.State
		}
		evs = append(evs, e)
	}

	for i := range cur.Processes {
		c := &cur.Processes[i]
		p, seen := prevByID[c.ID()]
		if !seen {
			e := base(c, at)
			e.Type = Spawn
			e.State = c.State
			e.Exe = c.Exe
			evs = append(evs, e)
			if c.IsZombie() && c.NumThreads <= 1 {
				z := base(c, at)
				z.Type = Zombie
				z.State = c.State
				z.ExitStatus = exitStatus(c)
				evs = append(evs, z)
			}
			continue
		}
		// Kernel threads rename themselves (kworker/0:1-events): not execs.
		if !c.IsKernelThread() && (known(p, collector.SrcStat) && known(c, collector.SrcStat) && p.Comm != c.Comm ||
			known(p, collector.SrcExe) && known(c, collector.SrcExe) && p.Exe != c.Exe) {
			e := base(c, at)
			e.Type = Exec
			e.OldComm, e.OldExe, e.Exe = p.Comm, p.Exe, c.Exe
			evs = append(evs, e)
		}
		if known(p, collector.SrcStat) && known(c, collector.SrcStat) && p.PPID != c.PPID {
			e := base(c, at)
			e.Type = Reparent
			e.OldPPID = p.PPID
			e.AdopterKind = adopterKindOf(cur, curByPID[c.PPID], c, nil)
			evs = append(evs, e)
		}
		if known(p, collector.SrcStat) && known(c, collector.SrcStat) && p.State != c.State {
			e := base(c, at)
			e.Type = StateChange
			e.OldState, e.State = p.State, c.State
			if c.IsZombie() && c.NumThreads <= 1 {
				e.Type = Zombie
				e.ExitStatus = exitStatus(c)
			}
			evs = append(evs, e)
		}
		if prev.ThreadsRead && cur.ThreadsRead && p.Read&collector.SrcTasks != 0 && c.Read&collector.SrcTasks != 0 {
			evs = threadEvents(evs, p, c, at)
		}
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
