package dashboard

import (
	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/monitor"
)

// This file is the only place that reads the optional parts of a Frame
// (rates, diagnoses, focus). Everything else in the package works on the
// small view types below.

// rate is a process's or thread's CPU and context-switch rates; ok is
// false when unknown (first frame, new process).
type rate struct {
	cpu, vol, invol float64
	ok              bool
}

// zombieGroup is the zombie panel's view of one non-reaping parent.
type zombieGroup struct {
	parent     collector.ID
	parentComm string // raw
	parentInfo string // raw: state, wait channel, SIGCHLD disposition
	zombies    []collector.ID
	statuses   []string
	diagnosis  string // raw
	remedy     string // raw
}

// focusData is what the Frame carries for the focused process.
type focusData struct {
	pid     int
	proc    *collector.Process // with threads when read
	status  []kv               // readable details (cgroups, namespaces, ...), raw values
	mem     *memView
	memNote string
	err     string
}

// kv is one labelled line of the Status tab.
type kv struct{ k, v string }

// memView is what the Memory tab draws.
type memView struct {
	segments []memSegment
	maps     []memMap
	total    uint64
	note     string
}

// memSegment is one class of mappings with its size.
type memSegment struct {
	name  string
	bytes uint64
	rss   uint64
	count int
}

// memMap is one mapping.
type memMap struct {
	start, end uint64
	perms      string
	class      string
	path       string // raw
	tid        int    // the thread whose stack this is, 0 if none
	rss        uint64
}

// frameData wraps one Frame for the views.
type frameData struct {
	f        *monitor.Frame
	prevByID map[collector.ID]*collector.Process
	dt       float64
}

// newFrameData prepares a Frame for rate lookups.
func newFrameData(f *monitor.Frame, reuse map[collector.ID]*collector.Process) *frameData {
	d := &frameData{f: f}
	if f == nil || f.Snapshot == nil || f.Prev == nil {
		return d
	}
	d.dt = (f.Snapshot.Monotonic - f.Prev.Monotonic).Seconds()
	if d.dt <= 0 {
		d.dt = f.Snapshot.TakenAt.Sub(f.Prev.TakenAt).Seconds()
	}
	if reuse == nil {
		reuse = make(map[collector.ID]*collector.Process, len(f.Prev.Processes))
	} else {
		clear(reuse)
	}
	for i := range f.Prev.Processes {
		p := &f.Prev.Processes[i]
		reuse[p.ID()] = p
	}
	d.prevByID = reuse
	return d
}

func perSec(cur, prev uint64, dt float64) float64 {
	if cur < prev || dt <= 0 {
		return 0
	}
	return float64(cur-prev) / dt
}

// procRate returns the rates of a process of the current snapshot.
func (d *frameData) procRate(p *collector.Process) rate {
	if d.prevByID == nil {
		return rate{}
	}
	q := d.prevByID[p.ID()]
	if q == nil {
		return rate{}
	}
	return rate{
		cpu:   perSec(p.CPUTicks(), q.CPUTicks(), d.dt) * 100 / collector.ClockTicks,
		vol:   perSec(p.VolCtx, q.VolCtx, d.dt),
		invol: perSec(p.InvolCtx, q.InvolCtx, d.dt),
		ok:    true,
	}
}

// threadRate returns the rates of one thread of p.
func (d *frameData) threadRate(p *collector.Process, t *collector.Thread) rate {
	if d.prevByID == nil {
		return rate{}
	}
	q := d.prevByID[p.ID()]
	if q == nil {
		return rate{}
	}
	for i := range q.Threads {
		u := &q.Threads[i]
		if u.TID == t.TID && u.StartTicks == t.StartTicks {
			return rate{
				cpu:   perSec(t.CPUTicks(), u.CPUTicks(), d.dt) * 100 / collector.ClockTicks,
				vol:   perSec(t.VolCtx, u.VolCtx, d.dt),
				invol: perSec(t.InvolCtx, u.InvolCtx, d.dt),
				ok:    t.HasStatus && u.HasStatus,
			}
		}
	}
	return rate{}
}

// systemCtx returns the system-wide context switches per second.
func (d *frameData) systemCtx() (float64, bool) {
	if d.f == nil || d.f.Prev == nil || d.dt <= 0 {
		return 0, false
	}
	return perSec(d.f.Snapshot.Host.ContextSwitches, d.f.Prev.Host.ContextSwitches, d.dt), true
}

// zombies returns the zombie groups by parent.
func (d *frameData) zombies() []zombieGroup {
	if d.f == nil || d.f.Snapshot == nil {
		return nil
	}
	procs := d.f.Snapshot.Processes
	var out []zombieGroup
	byParent := map[int]int{}
	for i := range procs {
		p := &procs[i]
		if !p.IsZombie() {
			continue
		}
		gi, ok := byParent[p.PPID]
		if !ok {
			gi = len(out)
			byParent[p.PPID] = gi
			g := zombieGroup{parent: collector.ID{PID: p.PPID}}
			if pp := findProc(procs, p.PPID); pp != nil {
				g.parent = pp.ID()
				g.parentComm = pp.Comm
				g.parentInfo = "state " + string(pp.State)
			}
			out = append(out, g)
		}
		out[gi].zombies = append(out[gi].zombies, p.ID())
		st := ""
		if p.ExitCode >= 0 {
			st = collector.DecodeWaitStatus(p.ExitCode).String()
		}
		out[gi].statuses = append(out[gi].statuses, st)
	}
	return out
}

// orphans returns the number of orphans the frame reports, or -1.
func (d *frameData) orphans() int { return -1 }

// paused reports whether the source says sampling is paused.
func (d *frameData) paused() bool { return false }

// focus returns the focused process's data, or nil.
func (d *frameData) focus() *focusData { return nil }

// findProc finds a pid in a snapshot's processes (sorted by PID).
func findProc(procs []collector.Process, pid int) *collector.Process {
	lo, hi := 0, len(procs)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case procs[m].PID < pid:
			lo = m + 1
		case procs[m].PID > pid:
			hi = m
		default:
			return &procs[m]
		}
	}
	return nil
}
