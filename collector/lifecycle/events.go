// Package lifecycle holds pure functions over snapshots: Diff (lifecycle
// events between two snapshots), rates (CPU %, context switches per
// second), and the zombie and orphan diagnoses. It does no I/O and never
// reads the clock: every time comes from the snapshots. It imports only
// collector's types and the standard library.
package lifecycle

import (
	"time"

	"github.com/pinspect/pinspect/collector"
)

// EventType names a lifecycle event.
type EventType string

// The event types.
const (
	Spawn       EventType = "spawn"        // a new process (identity not seen before)
	Exec        EventType = "exec"         // same identity, a new program (exe changed, or the connector's exec)
	Rename      EventType = "rename"       // same identity and exe, comm changed (prctl PR_SET_NAME)
	Exit        EventType = "exit"         // the process is gone (or, from the connector, exited)
	Zombie      EventType = "zombie"       // entered state Z
	Reaped      EventType = "reaped"       // a zombie disappeared: its parent collected it
	Reparent    EventType = "reparent"     // ppid changed: the parent exited, the process was adopted
	StateChange EventType = "state"        // leader state letter changed
	ThreadStart EventType = "thread_start" // a new thread in a known process
	ThreadExit  EventType = "thread_exit"  // a thread of a known process is gone
	// Lost says kernel events may be missing (a connector overrun); Note
	// says what happened. The monitor emits it; Diff never does.
	Lost EventType = "lost"
)

// The notes a kernel source puts on an exec or exit event whose name (and
// exe) it left unknown rather than name the process by what it was before
// its exec. Outputs show them as the event's note; fillFromSnapshots
// leaves such an event's name unknown.
const (
	NoteExecNameGone      = "name and exe unknown: the process was gone before they could be read"
	NoteExecNameReused    = "name and exe unknown: its pid belonged to a later process when they were read"
	NoteExecNameExecAgain = "name and exe unknown: it ran another program before they could be read"
	NoteExecNameNotRead   = "name and exe unknown: not read (the read failed)"
	// NoteExecNameBehindExited and NoteExecNameBehind are on the execs
	// a kernel source did not look up while it caught up with a backlog
	// of the kernel's events: it reads only each process's last exec of
	// the backlog, and only of a process whose exit is not in it, up to a
	// bound.
	NoteExecNameBehindExited = "name and exe unknown: not read, it exited while pinspect was catching up with the kernel's events"
	NoteExecNameBehind       = "name and exe unknown: not read, pinspect was catching up with the kernel's events and read only some"
	NoteExitNameUnknown      = "name unknown: it exited before its name after its exec could be read"
	// NoteSpawnParentNameUnknown is on a spawn named by its parent (it
	// was gone, or had run another program, when it was read: at fork it
	// had its parent's name) whose parent's name is not known either.
	NoteSpawnParentNameUnknown = "name unknown: it was not read before it ran another program or exited, and its parent's name (its name at fork) is unknown"
	// NoteAdoptedBeforeExit is on a reparent of a process that exited
	// before a scan showed it under its new parent, when its old
	// parent's exit (the time of the adoption) was not reported: it is
	// dated at its own exit, which the adoption preceded.
	NoteAdoptedBeforeExit = "adopted when its parent exited, at a time not known before its own exit: dated at that exit"
	// NoteOldParentByPID is on a reparent dated at its old parent's exit
	// (as above) when that exit was told from others of its pid by the
	// pid and the order of events alone: its start time, or the old
	// parent's, is unknown (a kernel exit of a process no scan read).
	NoteOldParentByPID = "dated at its old parent's exit, found by pid alone: that exit's start time, or the parent's, is unknown"
)

// UnknownName is how text outputs (watch, events, the dashboard) show a
// name pinspect does not know: an event's comm or old comm left empty
// because it could not be read (its note says why). JSON leaves such a
// field out instead.
const UnknownName = "?"

// ShownName is name, or UnknownName when it is empty (not known).
func ShownName(name string) string {
	if name == "" {
		return UnknownName
	}
	return name
}

// EventTypes returns every event type, in the order outputs list them.
func EventTypes() []EventType {
	return []EventType{Spawn, Exec, Rename, Exit, Zombie, Reaped, Reparent, StateChange, ThreadStart, ThreadExit, Lost}
}

// The event sources.
const (
	SourcePoll      = "poll"      // seen by comparing two snapshots
	SourceConnector = "connector" // reported by the kernel's process-events connector
	// SourceTracepoint: reported by pinspect's BPF programs on the
	// scheduler's fork, exec and exit tracepoints (serve and record).
	SourceTracepoint = "tracepoint"
)

// ExecPath is the program the kernel exec'd, as the exec's caller named
// it (the kernel's bprm at the exec tracepoint). It is not the executable
// /proc/PID/exe shows: its symlinks are not resolved, it may be relative
// to the caller's directory (./job.py) or /dev/fd/N (an fexecve), and
// the file may have changed since. Not sanitised.
type ExecPath struct {
	// Path is the path given to execve.
	Path string
	// Interp is, when Path is a script (or a binfmt_misc program), the
	// interpreter the kernel ran instead: a script's #! path; "" when the
	// kernel ran Path itself.
	Interp string
	// PathTruncated and InterpTruncated say that the path was longer
	// than the kernel's record holds (127 bytes) and is its beginning.
	PathTruncated, InterpTruncated bool
}

// Program is the path the kernel ran as an executable: Interp for a
// script, else Path; "" when that path was cut (it names no file) or ep
// is nil. What /proc/PID/exe would resolve, before its symlinks.
func (ep *ExecPath) Program() string {
	switch {
	case ep == nil:
		return ""
	case ep.Interp != "":
		if ep.InterpTruncated {
			return ""
		}
		return ep.Interp
	case ep.PathTruncated:
		return ""
	}
	return ep.Path
}

// Matches reports whether lowerNeedle (LowerASCII) is in the exec'd path
// or its interpreter, folding ASCII letters as ContainsFold; false for nil.
func (ep *ExecPath) Matches(lowerNeedle string) bool {
	return ep != nil && (ContainsFold(ep.Path, lowerNeedle) || ContainsFold(ep.Interp, lowerNeedle))
}

// FromKernel reports whether e was reported by a kernel source (the
// connector or the tracepoints) rather than seen by comparing scans.
func (e *Event) FromKernel() bool {
	return e.Source == SourceConnector || e.Source == SourceTracepoint
}

// Event is one lifecycle event. Fields beyond the common ones are set only
// for the types that carry them.
type Event struct {
	Type EventType
	// Time is when the event was observed: the snapshot's TakenAt, or the
	// kernel event's arrival time for connector events.
	Time time.Time
	ID   collector.ID
	Comm string
	PPID int
	// Source is "poll" (seen by comparing snapshots), "connector" (the
	// kernel's process-events connector) or "tracepoint" (pinspect's BPF
	// programs on the scheduler's tracepoints): FromKernel tells the
	// last two from the first.
	Source string

	// Spawn: PPID is the parent. Reparent: OldPPID -> PPID.
	OldPPID int
	// Exec: old and new comm and exe. Rename: old comm (Comm is the new).
	OldComm, OldExe, Exe string
	// ExecPath, on an Exec and on the Exit of a process whose last exec
	// the BPF tracepoints reported, is the path that exec was given: not
	// Exe (nil when not known). A process that execs and ends between
	// two scans has no Exe; this still names its program.
	ExecPath *ExecPath
	// StateChange and Zombie: old and new state letters.
	OldState, State byte
	// ThreadStart and ThreadExit: the thread.
	TID int
	// Exit: the decoded wait status, when known (connector, or the zombie's
	// stat field 52 seen before it was reaped).
	ExitStatus *collector.ExitStatus
	// Adopter for Reparent: what kind of process adopted it (see
	// AdopterKind).
	AdopterKind string
	// Note is a short free-text remark (for example why events may be
	// missing after a connector overrun, or why an exec's name is
	// unknown).
	Note string
	// TreeAffected is set on a Lost event by a Follower: whether the
	// followed tree could have lost events (some followed process was
	// alive). nil when nothing is followed.
	TreeAffected *bool
}
