package lifecycle

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// The SIGCHLD dispositions of a zombie's parent, from its status signal
// masks.
const (
	SigchldDefault = "default" // neither ignored, blocked nor caught
	SigchldIgnored = "ignored" // SIG_IGN: children are reaped automatically
	SigchldBlocked = "blocked" // blocked in the leader's mask
	SigchldHandled = "handled" // a handler is installed
)

// sigchldBit is SIGCHLD (17) in the status masks (signal n is bit n-1).
const sigchldBit = uint64(1) << 16

// ZombieGroup is the zombies of one parent, with the diagnosis of why that
// parent is not reaping them.
type ZombieGroup struct {
	// Parent is the parent's identity; ParentComm, ParentState and
	// ParentWChan what it is and what it is blocked in ("" when unknown).
	Parent      collector.ID
	ParentComm  string
	ParentState byte
	ParentWChan string
	// ParentWChanUnavailable says why ParentWChan is empty when that is
	// not "running": "masked" when the kernel hides the parent's wait
	// channel from this reader (a [PT] field: it would read "0").
	ParentWChanUnavailable string
	// SIGCHLD is the parent's disposition (see the Sigchld constants), ""
	// when its status was unreadable.
	SIGCHLD string
	// Zombies are the unreaped children, oldest first.
	Zombies []ZombieInfo
	// Since is the earliest FirstSeen of the zombies.
	Since time.Time
	// Diagnosis says in plain language why they are not reaped; Remedy what
	// to do.
	Diagnosis, Remedy string
	// ParentMissing is true when the parent is not in the snapshot (it
	// could not be read); the Parent fields other than PID are then empty.
	ParentMissing bool
	// ParentTracer is the pid tracing the parent (0 when none).
	ParentTracer int
	// ParentIsInit says the parent is pid 1 or a pid namespace's init.
	ParentIsInit bool
}

// ZombieInfo is one zombie.
type ZombieInfo struct {
	ID   collector.ID
	Comm string
	// Exit is the decoded exit status (stat field 52), nil when unknown;
	// ExitUnavailable then says why ("masked": the kernel hides it from
	// this reader).
	Exit            *collector.ExitStatus
	ExitUnavailable string
	// FirstSeen is when the zombie was first seen (by a monitor, or the
	// snapshot time when seen once).
	FirstSeen time.Time
	// Observed is true when FirstSeen came from a monitor watching over
	// time; false when nothing was watching (a one-shot snapshot), so how
	// long it has been a zombie is unknown.
	Observed bool
	// StartedAt is when the process started: it has been a zombie for at
	// most FirstSeen-less-StartedAt longer than seen (zero when unknown).
	StartedAt time.Time
}

// ZombieParents returns the pids of the parents of snap's zombies, in
// order, each once: the processes whose wait channel a diagnosis wants.
func ZombieParents(snap *collector.Snapshot) []int {
	var out []int
	for i := range snap.Processes {
		if p := &snap.Processes[i]; IsZombie(p) && p.PPID > 0 {
			out = append(out, p.PPID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SigchldDisposition returns the SIGCHLD disposition of p from its status
// masks ("" when status was not read). Ignored wins over blocked, blocked
// over handled: a blocked handler never runs.
func SigchldDisposition(p *collector.Process) string {
	if p.Read&collector.SrcStatus == 0 {
		return ""
	}
	switch {
	case p.SigIgn&sigchldBit != 0:
		return SigchldIgnored
	case p.SigBlk&sigchldBit != 0:
		return SigchldBlocked
	case p.SigCgt&sigchldBit != 0:
		return SigchldHandled
	}
	return SigchldDefault
}

// DiagnoseZombies groups the zombies of snap by parent and diagnoses each
// parent. firstSeen gives when each zombie was first seen (missing: the
// snapshot's time); wchan gives what a parent pid is blocked in (missing:
// unknown). Groups are ordered by number of zombies, most first, then by
// parent pid.
func DiagnoseZombies(snap *collector.Snapshot, firstSeen map[collector.ID]time.Time, wchan map[int]string) []ZombieGroup {
	if snap == nil {
		return nil
	}
	groups := make(map[int]*ZombieGroup)
	for i := range snap.Processes {
		z := &snap.Processes[i]
		if !IsZombie(z) {
			continue
		}
		g := groups[z.PPID]
		if g == nil {
			g = &ZombieGroup{Parent: collector.ID{PID: z.PPID}}
			groups[z.PPID] = g
		}
		info := ZombieInfo{ID: z.ID(), Comm: z.Comm, Exit: exitStatus(z), ExitUnavailable: z.Unavailable["exit_code"],
			FirstSeen: snap.TakenAt, StartedAt: z.StartedAt}
		if t, ok := firstSeen[z.ID()]; ok && !t.IsZero() {
			info.FirstSeen, info.Observed = t, true
		}
		g.Zombies = append(g.Zombies, info)
	}
	out := make([]ZombieGroup, 0, len(groups))
	for ppid, g := range groups {
		sort.Slice(g.Zombies, func(i, j int) bool {
			a, b := g.Zombies[i], g.Zombies[j]
			if !a.FirstSeen.Equal(b.FirstSeen) {
				return a.FirstSeen.Before(b.FirstSeen)
			}
			return a.ID.PID < b.ID.PID
		})
		g.Since = g.Zombies[0].FirstSeen
		par := Find(snap, ppid)
		if par == nil || ppid == 0 {
			g.ParentMissing = true
		} else {
			g.Parent = par.ID()
			g.ParentComm = par.Comm
			g.ParentState = par.State
			g.ParentWChan = wchan[ppid]
			if par.PTMasked && g.ParentWChan == "" {
				g.ParentWChanUnavailable = collector.ReasonMaskedField
			}
			g.SIGCHLD = SigchldDisposition(par)
			g.ParentTracer = par.TracerPID
			g.ParentIsInit = par.PID == 1 || isPidnsInit(par)
		}
		g.Diagnosis, g.Remedy = diagnose(g, par, snap.TakenAt)
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Zombies) != len(out[j].Zombies) {
			return len(out[i].Zombies) > len(out[j].Zombies)
		}
		return out[i].Parent.PID < out[j].Parent.PID
	})
	return out
}

// diagnose explains why g's parent is not reaping, and what to do.
func diagnose(g *ZombieGroup, par *collector.Process, now time.Time) (diagnosis, remedy string) {
	n := len(g.Zombies)
	kids := "1 zombie child"
	if n != 1 {
		kids = strconv.Itoa(n) + " zombie children"
	}
	age := ""
	if d := now.Sub(g.Since); d >= time.Second {
		age = " for " + d.Truncate(time.Second).String()
	}
	if g.ParentMissing {
		return fmt.Sprintf("%s of pid %d, which could not be read", kids, g.Parent.PID),
			"re-run with more privileges to diagnose the parent; zombies cannot be killed, only reaped by their parent"
	}
	who := fmt.Sprintf("pid %d (%s)", par.PID, par.Comm)
	handOff := fmt.Sprintf("killing or restarting %s hands them to init (or the nearest subreaper), which reaps them", who)
	if g.ParentIsInit {
		handOff = who + " is an init: it must reap adopted children; it cannot be killed to hand them on, so fix or replace it (run a real init such as tini, or docker --init)"
	}
	in := ""
	if g.ParentWChan != "" {
		in = " in " + g.ParentWChan
	}
	switch par.State {
	case 'Z':
		return fmt.Sprintf("%s has exited itself (it is a zombie too) and has %s%s", who, kids, age),
			fmt.Sprintf("when pid %d's own parent reaps it, its zombies pass to init, which reaps them; look at pid %d", par.PPID, par.PPID)
	case 'T':
		return fmt.Sprintf("%s is stopped (SIGSTOP/SIGTSTP), so it cannot call wait(); it has %s%s", who, kids, age),
			fmt.Sprintf("continue it (kill -CONT %d); or %s", par.PID, handOff)
	case 't':
		tr := ""
		if par.TracerPID > 0 {
			tr = fmt.Sprintf(" by pid %d", par.TracerPID)
		}
		return fmt.Sprintf("%s is stopped under a debugger%s, so it cannot call wait(); it has %s%s", who, tr, kids, age),
			"let the debugger continue or detach; or " + handOff
	case 'D':
		return fmt.Sprintf("%s is in uninterruptible sleep%s (waiting on I/O or a lock), so it cannot call wait(); it has %s%s", who, in, kids, age),
			"it reaps when the I/O completes, if it reaps at all; find what it waits on (storage, NFS, FUSE); " + handOff
	}
	var why string
	switch g.SIGCHLD {
	case SigchldIgnored:
		why = "ignores SIGCHLD now, so new children are reaped automatically, but these exited before it did so and it never called wait() for them"
	case SigchldBlocked:
		why = "blocks SIGCHLD and never calls wait(): the signal stays pending and any handler or signalfd reader does not collect these children"
	case SigchldHandled:
		why = "handles SIGCHLD but does not wait() for these children (a handler that does not loop on waitpid(-1, WNOHANG) misses children whose signals merged)"
	case SigchldDefault:
		why = "neither handles nor ignores SIGCHLD and does not call wait(): it never collects its children's exit status"
	default:
		why = "does not call wait() (its signal masks could not be read)"
	}
	doing := ""
	switch {
	case g.ParentWChan != "":
		doing = fmt.Sprintf("; it is %s%s", collector.StateName(par.State), in)
	case par.State != 0:
		doing = "; it is " + collector.StateName(par.State)
	}
	return fmt.Sprintf("%s %s; %s%s%s", who, why, kids, age, doing),
		"fix the parent to reap (waitpid in a loop, or SIGCHLD set to SIG_IGN before forking); meanwhile " + handOff + "; zombies themselves cannot be killed"
}
