package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// EventSchema is the schema version of one `pinspect watch --json` line.
const EventSchema = "pinspect.event/v1"

// EventDoc is one lifecycle event as a JSON object (one NDJSON line of
// `pinspect watch --json`). Fields other than the common ones appear only
// for the types that carry them.
type EventDoc struct {
	Schema     string `json:"schema"`
	Type       string `json:"type"`
	Time       string `json:"time"`
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks,omitempty"`
	// Comm is the process's name (raw bytes in CommRawBase64 when not
	// valid UTF-8).
	Comm          string `json:"comm,omitempty"`
	CommRawBase64 string `json:"comm_raw_base64,omitempty"`
	PPID          int    `json:"ppid,omitempty"`
	Source        string `json:"source"`

	OldPPID     int    `json:"old_ppid,omitempty"`
	AdopterKind string `json:"adopter_kind,omitempty"`
	// OldComm, OldExe and Exe have their raw bytes in the *RawBase64
	// fields when not valid UTF-8, as Comm has.
	OldComm          string `json:"old_comm,omitempty"`
	OldCommRawBase64 string `json:"old_comm_raw_base64,omitempty"`
	OldExe           string `json:"old_exe,omitempty"`
	OldExeRawBase64  string `json:"old_exe_raw_base64,omitempty"`
	Exe              string `json:"exe,omitempty"`
	ExeRawBase64     string `json:"exe_raw_base64,omitempty"`
	// ExecPath, on an exec and on the exit of a process whose exec the
	// BPF tracepoints reported, is the path that exec was given: not
	// exe (not resolved, possibly relative; cut to 127 bytes when
	// ExecPathTruncated). ExecInterp is a script's interpreter, which
	// the kernel ran instead.
	ExecPath            string         `json:"exec_path,omitempty"`
	ExecPathRawBase64   string         `json:"exec_path_raw_base64,omitempty"`
	ExecPathTruncated   bool           `json:"exec_path_truncated,omitempty"`
	ExecInterp          string         `json:"exec_interp,omitempty"`
	ExecInterpRawBase64 string         `json:"exec_interp_raw_base64,omitempty"`
	ExecInterpTruncated bool           `json:"exec_interp_truncated,omitempty"`
	OldState            string         `json:"old_state,omitempty"`
	State               string         `json:"state,omitempty"`
	TID                 int            `json:"tid,omitempty"`
	Exit                *ExitStatusDoc `json:"exit,omitempty"`
	Note                string         `json:"note,omitempty"`
	// FilteredTreeAffected, on a lost event under watch --pid, says
	// whether the followed tree could have lost events.
	FilteredTreeAffected *bool `json:"filtered_tree_affected,omitempty"`
}

// NewEventDoc converts an event.
func NewEventDoc(e *lifecycle.Event) EventDoc {
	d := EventDoc{
		Schema: EventSchema, Type: string(e.Type), Time: e.Time.UTC().Format(time.RFC3339Nano),
		PID: e.ID.PID, StartTicks: e.ID.StartTicks, PPID: e.PPID, Source: e.Source,
		OldPPID: e.OldPPID, AdopterKind: e.AdopterKind,
		TID: e.TID, Exit: NewExitStatusDoc(e.ExitStatus), Note: e.Note, FilteredTreeAffected: e.TreeAffected,
	}
	d.Comm, d.CommRawBase64 = textAndRaw(e.Comm)
	d.OldComm, d.OldCommRawBase64 = textAndRaw(e.OldComm)
	d.OldExe, d.OldExeRawBase64 = textAndRaw(e.OldExe)
	d.Exe, d.ExeRawBase64 = textAndRaw(e.Exe)
	if ep := e.ExecPath; ep != nil {
		d.ExecPath, d.ExecPathRawBase64 = textAndRaw(ep.Path)
		d.ExecInterp, d.ExecInterpRawBase64 = textAndRaw(ep.Interp)
		d.ExecPathTruncated, d.ExecInterpTruncated = ep.PathTruncated, ep.InterpTruncated
	}
	if e.OldState != 0 {
		d.OldState = string(e.OldState)
	}
	if e.State != 0 {
		d.State = string(e.State)
	}
	return d
}

// WriteEventJSON writes one event as a single JSON line.
func WriteEventJSON(w io.Writer, e *lifecycle.Event) error {
	b, err := json.Marshal(NewEventDoc(e))
	if err != nil {
		return err
	}
	b = append(inertJSON(b), '\n') // DEL and C1 escaped too, as in every document
	_, err = w.Write(b)
	return err
}

// shownName is an event's name as the text outputs show it: sanitised,
// lifecycle.UnknownName when it is not known, and quoted when it would
// read as that (sanitize.Name: a comm "?" is "?" with its quotes).
func shownName(name string) string { return sanitize.Name(name, lifecycle.UnknownName) }

// FormatEvent renders an event as one sanitised text line:
// "15:04:05.000 exit     1234 sleep  exit 0 (connector)". A name that
// is not known (an empty comm or old comm) shows as lifecycle.UnknownName,
// and the event's note, when it has one, says why.
func FormatEvent(e *lifecycle.Event) string {
	var b strings.Builder
	comm := sanitize.Terminal(e.Comm)
	if e.Type != lifecycle.Lost {
		comm = shownName(e.Comm)
	}
	fmt.Fprintf(&b, "%s %-12s %7d %-16s", e.Time.Local().Format("15:04:05.000"), e.Type, e.ID.PID, comm)
	switch e.Type {
	case lifecycle.Spawn:
		fmt.Fprintf(&b, " parent %d", e.PPID)
	case lifecycle.Exec:
		if e.OldComm != e.Comm || e.OldComm == "" {
			fmt.Fprintf(&b, " was %s", shownName(e.OldComm))
		}
		if e.Exe != "" {
			fmt.Fprintf(&b, " exe %s", sanitize.Terminal(e.Exe))
		} else {
			b.WriteString(execPathText(e.ExecPath))
		}
	case lifecycle.Exit, lifecycle.Reaped, lifecycle.Zombie:
		if e.ExitStatus != nil {
			b.WriteString(" " + e.ExitStatus.String())
		}
		if e.Exe == "" {
			b.WriteString(execPathText(e.ExecPath))
		}
		if e.Type == lifecycle.Zombie {
			fmt.Fprintf(&b, ", parent %d has not reaped it", e.PPID)
		}
	case lifecycle.Reparent:
		fmt.Fprintf(&b, " parent %d -> %d", e.OldPPID, e.PPID)
		if e.AdopterKind != "" {
			fmt.Fprintf(&b, " (%s)", e.AdopterKind)
		}
	case lifecycle.StateChange:
		fmt.Fprintf(&b, " %c -> %c (%s)", orDash(e.OldState), orDash(e.State), collector.StateName(e.State))
	case lifecycle.Rename:
		fmt.Fprintf(&b, " was %s", shownName(e.OldComm))
	case lifecycle.ThreadStart, lifecycle.ThreadExit:
		fmt.Fprintf(&b, " tid %d", e.TID)
	case lifecycle.Lost:
		b.WriteString(" " + sanitize.Terminal(e.Note))
	}
	if e.Note != "" && e.Type != lifecycle.Lost {
		b.WriteString(" (" + sanitize.Terminal(e.Note) + ")")
	}
	if e.FromKernel() {
		b.WriteString("  [kernel]")
	}
	return strings.TrimRight(b.String(), " ")
}

// execPathText is " path P via I (truncated)" for an event's exec'd path,
// shown where its exe is not known: it is not the exe, and says so by
// its word. "" for none.
func execPathText(ep *lifecycle.ExecPath) string {
	if ep == nil || ep.Path == "" && ep.Interp == "" {
		return ""
	}
	part := func(p string, cut bool) string {
		s := sanitize.Terminal(p)
		if cut {
			s += " (truncated)"
		}
		return s
	}
	s := " path " + part(ep.Path, ep.PathTruncated)
	if ep.Interp != "" {
		s += " via " + part(ep.Interp, ep.InterpTruncated)
	}
	return s
}

func orDash(c byte) byte {
	if c == 0 {
		return '-'
	}
	return c
}
