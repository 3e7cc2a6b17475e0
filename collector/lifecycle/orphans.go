package lifecycle

import (
	"fmt"
	"sort"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// The kinds of adopter of an orphan.
const (
	AdopterInit      = "init"       // pid 1 of the reader's pid namespace
	AdopterSubreaper = "subreaper"  // a PR_SET_CHILD_SUBREAPER process
	AdopterPidnsInit = "pidns_init" // the init (pid 1) of a nested pid namespace
)

// AdopterKinds returns every adopter kind.
func AdopterKinds() []string { return []string{AdopterInit, AdopterSubreaper, AdopterPidnsInit} }

// Orphan is a process whose parent exited and which was adopted.
type Orphan struct {
	ID   collector.ID
	Comm string
	// Adopter is the pid of the new parent, AdopterComm its comm and
	// AdopterKind its kind (see the Adopter constants).
	Adopter     int
	AdopterComm string
	AdopterKind string
	// Evidence says why this is believed to be an orphan.
	Evidence string
	// Observed is true when a reparent event was seen directly.
	Observed bool
	// Daemon is true for a process that detached on purpose (leads its own
	// session): reported as a daemon, not an orphan.
	Daemon bool
	// OldPPID is the parent it had before, when observed (0 otherwise).
	OldPPID int
	// ReparentedAt is when the re-parenting was seen, when observed (the
	// zero time otherwise); views format it.
	ReparentedAt time.Time
	// PGID and SID are its process group and session.
	PGID, SID int
}

// DetectOrphans finds orphans in snap. observed maps identities to the
// Reparent events a monitor saw for them (may be nil).
//
// A process is an orphan when its parent is an adopter (pid 1, the init of
// a nested pid namespace, or a child subreaper) and either a reparent was
// observed, or, in this one snapshot, it still belongs to a session or
// process group that its adopter did not give it: its session is neither
// its own nor its parent's, or its process group is neither its own nor
// its parent's. A process that leads its own session under an adopter is
// a daemon (detached on purpose, or started as a service), reported with
// Daemon set; so is a classic double-fork daemon (its session and group
// are the same, their leader is gone, and it has no terminal). Kernel threads, zombies and the adopters' own children that
// share their session and group are not reported.
//
// There is no /proc field for PR_SET_CHILD_SUBREAPER, so a process counts
// as a subreaper when it is the new parent of an observed reparent (not to
// pid 1 or a namespace init), or when it has a child whose session is
// neither the child's own nor its own: a child inherits its parent's
// session at fork, so such a child was born to someone else and adopted.
func DetectOrphans(snap *collector.Snapshot, observed map[collector.ID]Event) []Orphan {
	if snap == nil {
		return nil
	}
	subreapers := findSubreapers(snap, observed)
	var out []Orphan
	for i := range snap.Processes {
		if o, ok := orphanOf(snap, &snap.Processes[i], subreapers, observed); ok {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Daemon != out[j].Daemon {
			return !out[i].Daemon
		}
		return out[i].ID.PID < out[j].ID.PID
	})
	return out
}

// findSubreapers returns the pids believed to be child subreapers, each
// with the reason: the new parent of an observed reparent (not pid 1 or a
// namespace init), or a parent with a child in a session that is neither
// the child's own nor the parent's.
func findSubreapers(snap *collector.Snapshot, observed map[collector.ID]Event) map[int]string {
	subreapers := make(map[int]string)
	for _, e := range observed {
		if e.Type == Reparent && e.PPID > 1 {
			if par := Find(snap, e.PPID); par != nil && !isPidnsInit(par) {
				subreapers[e.PPID] = "it adopted observed orphans"
			}
		}
	}
	for i := range snap.Processes {
		c := &snap.Processes[i]
		if !candidate(c) || c.PPID <= 1 {
			continue
		}
		par := Find(snap, c.PPID)
		if par == nil || isPidnsInit(par) || !known(par, collector.SrcStat) {
			continue
		}
		if c.SID != c.PID && c.SID != par.SID && c.SID > 0 {
			if _, ok := subreapers[par.PID]; !ok {
				subreapers[par.PID] = fmt.Sprintf("its child %d is in session %d, neither the child's nor its own", c.PID, c.SID)
			}
		}
	}
	return subreapers
}

// orphanOf says whether c is an orphan or a daemon under an adopter, and
// why.
func orphanOf(snap *collector.Snapshot, c *collector.Process, subreapers map[int]string, observed map[collector.ID]Event) (Orphan, bool) {
	if !candidate(c) {
		return Orphan{}, false
	}
	par := Find(snap, c.PPID)
	kind := adopterKindOf(par, c, subreapers)
	if kind == "" {
		return Orphan{}, false
	}
	o := Orphan{
		ID: c.ID(), Comm: c.Comm, Adopter: par.PID, AdopterComm: par.Comm, AdopterKind: kind,
		PGID: c.PGID, SID: c.SID,
	}
	if e, ok := observed[c.ID()]; ok && e.Type == Reparent && e.PPID == c.PPID {
		o.Observed = true
		o.OldPPID = e.OldPPID
		o.ReparentedAt = e.Time
		o.Evidence = fmt.Sprintf("observed: parent %d exited, adopted by %d", e.OldPPID, e.PPID)
		switch e.Source {
		case SourceConnector:
			o.Evidence += " (fork seen by the kernel connector)"
		case SourceTracepoint:
			o.Evidence += " (fork seen by the kernel's fork tracepoint)"
		}
	}
	why, daemon, ok := membershipEvidence(snap, c, par)
	switch {
	case daemon:
		o.Daemon = true
	case o.Observed:
		why = ""
	case !ok:
		return Orphan{}, false
	}
	if o.Evidence == "" {
		o.Evidence = why
	}
	if kind == AdopterSubreaper && !o.Observed {
		o.Evidence += "; adopter is a subreaper because " + subreapers[par.PID]
	}
	return o, true
}

// membershipEvidence reads c's session and process group against its
// adopter par: a daemon (it leads its own session, or is a classic
// double-fork daemon: session and group the same, their leader gone, no
// terminal), an orphan by membership (with why), or neither (ok false).
func membershipEvidence(snap *collector.Snapshot, c, par *collector.Process) (why string, daemon, ok bool) {
	switch {
	case c.SID == c.PID:
		return "leads its own session (setsid): detached on purpose", true, true
	case c.SID != par.SID && c.SID > 0 && Find(snap, c.SID) == nil && c.PGID == c.SID && c.TTY == 0:
		return fmt.Sprintf("double-fork daemon: session %d's leader exited on purpose, no terminal", c.SID), true, true
	case c.SID != par.SID && c.SID > 0:
		return fmt.Sprintf("in session %d%s, not its adopter's (%d)", c.SID, leaderNote(snap, c.SID), par.SID), false, true
	case c.PGID != c.PID && c.PGID != par.PGID && c.PGID > 0:
		return fmt.Sprintf("in process group %d%s, not its adopter's (%d)", c.PGID, leaderNote(snap, c.PGID), par.PGID), false, true
	}
	return "", false, false
}

// candidate reports whether p can be an orphan at all: a readable, live,
// user-space process other than pid 1.
func candidate(p *collector.Process) bool {
	return known(p, collector.SrcStat) && p.PID > 1 && !p.IsKernelThread() && !p.IsZombie() && p.PPID > 0
}

// leaderNote describes the leader of a session or group.
func leaderNote(snap *collector.Snapshot, id int) string {
	if l := Find(snap, id); l != nil {
		return " (led by " + l.Comm + ")"
	}
	return " (its leader is gone)"
}

// isPidnsInit reports whether p is pid 1 of a nested pid namespace.
func isPidnsInit(p *collector.Process) bool {
	return len(p.NSPids) > 1 && p.NSPids[len(p.NSPids)-1] == 1
}

// adopterKindOf says what kind of adopter par is for child c: "init",
// "pidns_init", "subreaper" (when subreapers is nil, any other parent, as
// after an observed reparent; else only members of subreapers), or "" when
// par is not an adopter.
func adopterKindOf(par, c *collector.Process, subreapers map[int]string) string {
	switch {
	case par == nil:
		return ""
	case par.PID == 1:
		return AdopterInit
	case isPidnsInit(par) && len(c.NSPids) == len(par.NSPids):
		return AdopterPidnsInit
	case subreapers == nil:
		return AdopterSubreaper
	}
	if _, ok := subreapers[par.PID]; ok {
		return AdopterSubreaper
	}
	return ""
}
