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
	// ParentLeaderExited says the parent's main thread has exited while
	// its other threads run: ParentState is the kernel's Z, and the
	// parent is alive (LeaderExited), not a zombie.
	ParentLeaderExited bool
	// ParentWChanUnavailable says why ParentWChan is empty when that is
	// not "running": "masked" when the kernel hides the parent's wait
	// channel from this reader (a [PT] field: it would read "0").
	ParentWChanUnavailable string
	// SIGCHLD is the parent's disposition (see the Sigchld constants), ""
	// when its status was unreadable or its dispositions were not read
	// (collector.Process.SigDispAbsent).
	SIGCHLD string
	// Zombies are the unreaped children, oldest first.
	Zombies []ZombieInfo
	// OtherZombies counts the parent's other zombies, left out of
	// Zombies by a selection that named some of its zombies and not the
	// parent (--pid ZOMBIE): the diagnosis is still the parent's, made
	// of all of them.
	OtherZombies int
	// Since is the earliest FirstSeen of the zombies.
	Since time.Time
	// MinAge is the age below which a zombie may still be reaped
	// (ZombieOptions.MinAge); Young is true when every zombie of the
	// group is provably younger: the diagnosis then blames nobody.
	MinAge time.Duration
	Young  bool
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
	// Exited is true when FirstSeen is its exit's time, from the kernel's
	// exit event (ZombieOptions.Exited): it has been a zombie exactly
	// since then. Otherwise it has been one since FirstSeen or earlier.
	Exited bool
	// StartedAt is when the process started: it has been a zombie for at
	// most FirstSeen-less-StartedAt longer than seen (zero when unknown).
	StartedAt time.Time
	// Young is true when the zombie is provably younger than the
	// group's MinAge (its process is younger, or it was born while
	// watched, that recently): it may still be reaped. OldEnough is true
	// when it has been watched a zombie for at least MinAge.
	Young, OldEnough bool
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
// masks ("" when status was not read, or its dispositions were left out:
// Process.SigDispAbsent). Ignored wins over blocked, blocked over handled:
// a blocked handler never runs.
func SigchldDisposition(p *collector.Process) string {
	if p.Read&collector.SrcStatus == 0 || p.SigDispAbsent {
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

// DefaultZombieMinAge is the age below which a zombie "may still be
// reaped": a parent that reaps collects a child when it next runs, which
// is within milliseconds on an idle machine but can take seconds on a
// loaded one or while the parent is busy elsewhere. Calling it "not
// reaped" before then would blame a healthy parent (and make a health
// check flap).
const DefaultZombieMinAge = 5 * time.Second

// ZombieOptions tune DiagnoseZombiesWith.
type ZombieOptions struct {
	// MinAge is the age a zombie must have reached to be diagnosed as
	// not reaped; a zombie provably younger is Young (0 means
	// DefaultZombieMinAge; negative, none is young).
	MinAge time.Duration
	// WatchStart is when the caller began watching (a monitor's first
	// scan; a command's first of two snapshots). A zombie first seen
	// after it was born while watched: its first sighting bounds its
	// age. Zero when nothing watched.
	WatchStart time.Time
	// Exited holds the zombies whose first-seen time is their kernel
	// exit's (Step.ZombieExited); nil when none.
	Exited map[collector.ID]bool
	// SeenGap is how long before its first sighting a zombie first seen
	// after WatchStart (and not Exited) may have become one: the time
	// since the reading before that listed processes. explain's window,
	// whose first and last readings alone list them, is one such gap.
	// Zero: the caller's readings lie closer together than MinAge
	// matters, or SeenGaps gives each zombie's.
	SeenGap time.Duration
	// SeenGaps gives SeenGap zombie by zombie, for a caller whose
	// readings lie apart by more than that (a monitor scanning every
	// 15 s without the kernel's exits: Step.ZombieGap); a zombie it
	// holds takes its gap from it, not from SeenGap.
	SeenGaps map[collector.ID]time.Duration
}

// DiagnoseZombies is DiagnoseZombiesWith the default options: youth is
// judged by DefaultZombieMinAge, from what the snapshot proves.
func DiagnoseZombies(snap *collector.Snapshot, firstSeen map[collector.ID]time.Time, wchan map[int]string) []ZombieGroup {
	return DiagnoseZombiesWith(snap, firstSeen, wchan, ZombieOptions{})
}

// DiagnoseZombiesWith groups the zombies of snap by parent and diagnoses
// each parent. firstSeen gives when each zombie was first seen (missing:
// the snapshot's time); wchan gives what a parent pid is blocked in
// (missing: unknown). Groups are ordered by number of zombies, most
// first, then by parent pid.
func DiagnoseZombiesWith(snap *collector.Snapshot, firstSeen map[collector.ID]time.Time, wchan map[int]string, o ZombieOptions) []ZombieGroup {
	if snap == nil {
		return nil
	}
	if o.MinAge == 0 {
		o.MinAge = DefaultZombieMinAge
	}
	groups := make(map[int]*ZombieGroup)
	for i := range snap.Processes {
		z := &snap.Processes[i]
		if !IsZombie(z) {
			continue
		}
		g := groups[z.PPID]
		if g == nil {
			g = &ZombieGroup{Parent: collector.ID{PID: z.PPID}, MinAge: o.MinAge}
			groups[z.PPID] = g
		}
		g.Zombies = append(g.Zombies, zombieInfo(z, snap.TakenAt, firstSeen, o))
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
		g.Young = true
		for _, z := range g.Zombies {
			g.Young = g.Young && z.Young
		}
		par := Find(snap, ppid)
		if par == nil || ppid == 0 {
			g.ParentMissing = true
		} else {
			g.describeParent(par, wchan[ppid])
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

// zombieInfo describes zombie z at now, and whether it is provably
// younger than o.MinAge or provably at least that old. Its age is at
// most its process's age, and, when it was first seen after the watch
// began, about the time since then; it is at least the time since it was
// first seen, when something watched.
func zombieInfo(z *collector.Process, now time.Time, firstSeen map[collector.ID]time.Time, o ZombieOptions) ZombieInfo {
	info := ZombieInfo{ID: z.ID(), Comm: z.Comm, Exit: exitStatus(z), ExitUnavailable: z.Unavailable["exit_code"],
		FirstSeen: now, StartedAt: z.StartedAt}
	if t, ok := firstSeen[z.ID()]; ok && !t.IsZero() {
		info.FirstSeen, info.Observed, info.Exited = t, true, o.Exited[z.ID()]
	}
	if o.MinAge < 0 {
		info.OldEnough = true
		return info
	}
	upper := time.Duration(-1) // unknown
	if !z.StartedAt.IsZero() {
		upper = now.Sub(z.StartedAt)
	}
	if info.Observed && !o.WatchStart.IsZero() && info.FirstSeen.After(o.WatchStart) {
		d := now.Sub(info.FirstSeen)
		if !info.Exited {
			// It became one after the reading before, not at its sighting.
			if gap, ok := o.SeenGaps[info.ID]; ok {
				d += gap
			} else {
				d += o.SeenGap
			}
		}
		if upper < 0 || d < upper {
			upper = d
		}
	}
	info.Young = upper >= 0 && upper < o.MinAge
	info.OldEnough = info.Observed && now.Sub(info.FirstSeen) >= o.MinAge
	return info
}

// SinceExited reports whether g.Since is when its oldest zombie exited,
// not only when it was first seen: every zombie's time is its kernel
// exit's.
func (g *ZombieGroup) SinceExited() bool {
	for _, z := range g.Zombies {
		if !z.Exited {
			return false
		}
	}
	return len(g.Zombies) > 0
}

// AgeText says how long g's zombies have been zombies as far as is known,
// at now: "exited 2m0s ago" (the oldest's, when it is known from the
// kernel's exit events) or "first seen 2s ago" (when pinspect first saw
// the oldest: it may be older, and the words do not read as its age);
// "" under a second.
func (g *ZombieGroup) AgeText(now time.Time) string {
	d := now.Sub(g.Since)
	if g.Since.IsZero() || d < time.Second {
		return ""
	}
	ds := d.Truncate(time.Second).String()
	switch {
	case !g.SinceExited():
		return "first seen " + ds + " ago"
	case len(g.Zombies) == 1:
		return "exited " + ds + " ago"
	}
	return "the oldest exited " + ds + " ago"
}

// ParentStateLetterName is the parent's state as the outputs name it
// (StateLetterName): LeaderExitedLetter and LeaderExitedName for a
// leader-exited parent, else the kernel's letter (0 when unknown) and
// its name.
func (g *ZombieGroup) ParentStateLetterName() (byte, string) {
	if g.ParentLeaderExited {
		return LeaderExitedLetter, LeaderExitedName
	}
	return g.ParentState, collector.StateName(g.ParentState)
}

// describeParent fills the parent fields of g from par, wchan its wait
// channel ("" when unknown).
func (g *ZombieGroup) describeParent(par *collector.Process, wchan string) {
	g.Parent = par.ID()
	g.ParentComm = par.Comm
	g.ParentState = par.State
	g.ParentLeaderExited = LeaderExited(par)
	g.ParentWChan = wchan
	if par.PTMasked && wchan == "" {
		g.ParentWChanUnavailable = collector.ReasonMaskedField
	}
	g.SIGCHLD = SigchldDisposition(par)
	g.ParentTracer = par.TracerPID
	g.ParentIsInit = par.PID == 1 || isPidnsInit(par)
}

// Rediagnose writes g's Diagnosis and Remedy again from its fields and
// snap (the snapshot it was diagnosed from), after a caller changed what
// g may say: a server that hides the parent's wait channel from a client
// clears ParentWChan, sets ParentWChanUnavailable and calls Rediagnose, so
// the sentences carry nothing the fields no longer do.
func (g *ZombieGroup) Rediagnose(snap *collector.Snapshot) {
	var par *collector.Process
	if !g.ParentMissing {
		par = Find(snap, g.Parent.PID)
		if par == nil {
			g.ParentMissing = true
		}
	}
	g.Diagnosis, g.Remedy = diagnose(g, par, snap.TakenAt)
}

// diagnose explains why g's parent is not reaping, and what to do.
func diagnose(g *ZombieGroup, par *collector.Process, now time.Time) (diagnosis, remedy string) {
	n := len(g.Zombies)
	kids := "1 zombie child"
	if n != 1 {
		kids = strconv.Itoa(n) + " zombie children"
	}
	w := zombieWordsFor(n)
	age := ""
	if t := g.AgeText(now); t != "" {
		age = " (" + t + ")"
	}
	if g.ParentMissing {
		return fmt.Sprintf("%s of pid %d, which could not be read", kids, g.Parent.PID),
			"re-run with more privileges to diagnose the parent; zombies cannot be killed, only reaped by their parent"
	}
	d := parentDiag{g: g, par: par, who: fmt.Sprintf("pid %d (%s)", par.PID, par.Comm), kids: kids, age: age, w: w}
	d.handOff = fmt.Sprintf("killing or restarting %s hands %s to init (or the nearest subreaper), which reaps %s", d.who, w.obj, w.them)
	if g.ParentIsInit {
		d.handOff = d.who + " is an init: it must reap adopted children; it cannot be killed to hand them on, so fix or replace it (run a real init such as tini, or docker --init)"
	}
	if g.ParentWChan != "" {
		d.in = " in " + g.ParentWChan
	}
	if diag, rem, ok := d.blocked(); ok {
		return diag, rem
	}
	if g.Young {
		return fmt.Sprintf("%s has %s younger than %s: young, %s may still be reaped (a parent that reaps collects a child when it next runs)%s",
				d.who, kids, g.MinAge, w.they, d.doing()),
			fmt.Sprintf("nothing yet: look again in a few seconds (pinspect zombies --older-than %s reports only zombies that stay)", g.MinAge)
	}
	return fmt.Sprintf("%s %s; %s%s%s", d.who, d.why(), kids, age, d.doing()),
		"fix the parent to reap (waitpid in a loop, or SIGCHLD set to SIG_IGN before forking); meanwhile " + d.handOff + "; zombies themselves cannot be killed"
}

// parentDiag is what a diagnosis says of a zombie parent.
type parentDiag struct {
	g                           *ZombieGroup
	par                         *collector.Process
	who, kids, age, in, handOff string
	w                           zombieWords
}

// zombieWords are the words that refer back to a parent's zombies, which
// agree with their number: "it" for one, "them" for several (obj where
// "it" could be read as the parent).
type zombieWords struct {
	they, them, obj, these, zombies, stay string
}

// zombieWordsFor returns the words for n zombies.
func zombieWordsFor(n int) zombieWords {
	if n == 1 {
		return zombieWords{they: "it", them: "it", obj: "the zombie", these: "this child", zombies: "zombie", stay: "stays"}
	}
	return zombieWords{they: "they", them: "them", obj: "them", these: "these children", zombies: "zombies", stay: "stay"}
}

// blocked diagnoses a parent that cannot call wait() at all: exited
// itself, stopped, traced or in uninterruptible sleep (young zombies
// included: such a parent reaps none). A stopped parent that neither
// handles nor ignores SIGCHLD gets both remedies: once continued it
// reaps only if it calls wait() itself.
func (d *parentDiag) blocked() (diagnosis, remedy string, ok bool) {
	who, kids, age, par, w := d.who, d.kids, d.age, d.par, d.w
	also, alsoFix := "", ""
	switch d.g.SIGCHLD {
	case SigchldDefault:
		also = "; besides, it neither handles nor ignores SIGCHLD, so once it runs it collects " + w.obj + " only if it calls wait() itself"
	case SigchldBlocked:
		also = "; besides, it blocks SIGCHLD, so once it runs no handler collects " + w.obj + ": only a wait() of its own would"
	}
	if also != "" {
		alsoFix = "; if the " + w.zombies + " " + w.stay + " once it runs, fix it to reap (waitpid in a loop, or SIGCHLD set to SIG_IGN before forking)"
	}
	switch {
	case IsZombie(par):
		pass := "its zombies pass to init, which reaps them"
		if len(d.g.Zombies) == 1 {
			pass = "its zombie passes to init, which reaps it"
		}
		return fmt.Sprintf("%s has exited itself (it is a zombie too) and has %s%s", who, kids, age),
			fmt.Sprintf("when pid %d's own parent reaps it, %s; look at pid %d", par.PPID, pass, par.PPID), true
	case par.State == 'T':
		return fmt.Sprintf("%s is stopped (SIGSTOP/SIGTSTP), so it cannot call wait(); it has %s%s%s", who, kids, age, also),
			fmt.Sprintf("continue it (kill -CONT %d)%s; or %s", par.PID, alsoFix, d.handOff), true
	case par.State == 't':
		tr := ""
		if par.TracerPID > 0 {
			tr = fmt.Sprintf(" by pid %d", par.TracerPID)
		}
		return fmt.Sprintf("%s is stopped under a debugger%s, so it cannot call wait(); it has %s%s%s", who, tr, kids, age, also),
			"let the debugger continue or detach" + alsoFix + "; or " + d.handOff, true
	case par.State == 'D':
		return fmt.Sprintf("%s is in uninterruptible sleep%s (waiting on I/O or a lock), so it cannot call wait(); it has %s%s", who, d.in, kids, age),
			"it reaps when the I/O completes, if it reaps at all; find what it waits on (storage, NFS, FUSE); " + d.handOff, true
	}
	return "", "", false
}

// why says what the parent does with SIGCHLD and wait().
func (d *parentDiag) why() string {
	w := d.w
	switch d.g.SIGCHLD {
	case SigchldIgnored:
		if len(d.g.Zombies) == 1 {
			return "ignores SIGCHLD now, so new children are reaped automatically, but this one exited before it did so and it never called wait() for it"
		}
		return "ignores SIGCHLD now, so new children are reaped automatically, but these exited before it did so and it never called wait() for them"
	case SigchldBlocked:
		return "blocks SIGCHLD and never calls wait(): the signal stays pending and any handler or signalfd reader does not collect " + w.these
	case SigchldHandled:
		return "handles SIGCHLD but does not wait() for " + w.these + " (a handler that does not loop on waitpid(-1, WNOHANG) misses children whose signals merged)"
	case SigchldDefault:
		return "neither handles nor ignores SIGCHLD and does not call wait(): it never collects its children's exit status"
	}
	return "does not call wait() " + sigchldUnknown(d.par)
}

// sigchldUnknown says, in parentheses, what is not known of par's SIGCHLD
// handling when SigchldDisposition could not tell it: its whole status
// (not read), or only its dispositions (left out of a task-iterator walk
// and not read back), the blocked mask being known then.
func sigchldUnknown(par *collector.Process) string {
	if par == nil || par.Read&collector.SrcStatus == 0 {
		return "(its status could not be read: whether it ignores, blocks or handles SIGCHLD is unknown)"
	}
	if par.SigBlk&sigchldBit != 0 {
		return "(it blocks SIGCHLD; whether it also ignores it is unknown: its signal dispositions could not be read)"
	}
	return "(it does not block SIGCHLD; whether it ignores or handles it is unknown: its signal dispositions could not be read)"
}

// doing says what the parent is doing: its state and wait channel.
func (d *parentDiag) doing() string {
	state := collector.StateName(d.par.State)
	if LeaderExited(d.par) {
		state = "running on its other threads (its main thread exited)"
	}
	switch {
	case d.g.ParentWChan != "":
		return fmt.Sprintf("; it is %s%s", state, d.in)
	case d.g.ParentWChanUnavailable != "":
		return fmt.Sprintf("; it is %s (what it waits on is %s for this user)", state, d.g.ParentWChanUnavailable)
	case d.par.State != 0:
		return "; it is " + state
	}
	return ""
}
