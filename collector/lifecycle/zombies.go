package lifecycle

import (
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

// ZombieGroup is the zombies of one parent, with the diagnosis of why that
// parent is not reaping them.
type ZombieGroup struct {
	// Parent is the parent's identity; ParentComm, ParentState and
	// ParentWChan what it is and what it is blocked in ("" when unknown).
	Parent      collector.ID
	ParentComm  string
	ParentState byte
	ParentWChan string
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
}

// ZombieInfo is one zombie.
type ZombieInfo struct {
	ID   collector.ID
	Comm string
	// Exit is the decoded exit status (stat field 52), nil when unknown.
	Exit *collector.ExitStatus
	// FirstSeen is when the zombie was first seen (by a monitor, or the
	// snapshot time when seen once).
	FirstSeen time.Time
}

// DiagnoseZombies groups the zombies of snap by parent and diagnoses each
// parent. firstSeen gives when each zombie was first seen (missing: the
// snapshot's time); wchan gives what a parent pid is blocked in (missing:
// unknown).
func DiagnoseZombies(snap *collector.Snapshot, firstSeen map[collector.ID]time.Time, wchan map[int]string) []ZombieGroup {
	return nil
}
