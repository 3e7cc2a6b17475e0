package metrics

import (
	"encoding/base64"
	"time"
	"unicode/utf8"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// Schema versions of the API documents that are not the snapshot
// document (that one is report.SnapshotSchema).
const (
	ZombiesSchema = "pinspect.zombies/v1"
	OrphansSchema = "pinspect.orphans/v1"
	EventSchema   = "pinspect.event/v1"
	// ProcessEntrySchema marks /api/v1/processes/{pid} while it serves the
	// process's snapshot entry (the show document replaces it).
	ProcessEntrySchema = "pinspect.process_entry/v1"
)

// TODO(integrator): if views/report gains zombies/orphans/event documents
// (for `pinspect zombies --json`, `orphans --json`, `watch --json`), serve
// those instead of the ones below so the CLI and the API share one schema.

// ZombiesDoc is /api/v1/zombies: the monitor's zombie diagnoses.
type ZombiesDoc struct {
	Schema  string `json:"schema"`
	TakenAt string `json:"taken_at"`
	Seq     uint64 `json:"frame_seq"`
	// Zombies counts processes in state Z in the snapshot (ground truth,
	// also when the diagnosis below is still being computed).
	Zombies int              `json:"zombies"`
	Groups  []ZombieGroupDoc `json:"groups"`
}

// ZombieGroupDoc is one parent and its unreaped children.
type ZombieGroupDoc struct {
	ParentPID        int             `json:"parent_pid"`
	ParentStartTicks uint64          `json:"parent_start_ticks"`
	ParentComm       string          `json:"parent_comm"`
	ParentCommRaw    string          `json:"parent_comm_raw_base64,omitempty"`
	ParentState      string          `json:"parent_state,omitempty"`
	ParentWChan      string          `json:"parent_wchan,omitempty"`
	SIGCHLD          string          `json:"sigchld,omitempty"`
	Since            string          `json:"since,omitempty"`
	Diagnosis        string          `json:"diagnosis,omitempty"`
	Remedy           string          `json:"remedy,omitempty"`
	Zombies          []ZombieInfoDoc `json:"zombies"`
}

// ZombieInfoDoc is one zombie.
type ZombieInfoDoc struct {
	PID        int                   `json:"pid"`
	StartTicks uint64                `json:"start_ticks"`
	Comm       string                `json:"comm"`
	CommRaw    string                `json:"comm_raw_base64,omitempty"`
	ExitStatus *collector.ExitStatus `json:"exit_status,omitempty"`
	FirstSeen  string                `json:"first_seen,omitempty"`
}

// OrphansDoc is /api/v1/orphans.
type OrphansDoc struct {
	Schema  string      `json:"schema"`
	TakenAt string      `json:"taken_at"`
	Seq     uint64      `json:"frame_seq"`
	Orphans []OrphanDoc `json:"orphans"`
}

// OrphanDoc is one orphan (or self-detached daemon, Daemon true).
type OrphanDoc struct {
	PID         int    `json:"pid"`
	StartTicks  uint64 `json:"start_ticks"`
	Comm        string `json:"comm"`
	CommRaw     string `json:"comm_raw_base64,omitempty"`
	Adopter     int    `json:"adopter_pid"`
	AdopterComm string `json:"adopter_comm,omitempty"`
	AdopterKind string `json:"adopter_kind"`
	Evidence    string `json:"evidence,omitempty"`
	Observed    bool   `json:"observed"`
	Daemon      bool   `json:"daemon"`
}

// EventDoc is one line of /api/v1/events.
type EventDoc struct {
	Schema      string                `json:"schema"`
	Type        string                `json:"type"`
	Time        string                `json:"time"`
	PID         int                   `json:"pid"`
	StartTicks  uint64                `json:"start_ticks"`
	Comm        string                `json:"comm"`
	CommRaw     string                `json:"comm_raw_base64,omitempty"`
	PPID        int                   `json:"ppid,omitempty"`
	Source      string                `json:"source,omitempty"`
	OldPPID     int                   `json:"old_ppid,omitempty"`
	OldComm     string                `json:"old_comm,omitempty"`
	Exe         string                `json:"exe,omitempty"`
	OldExe      string                `json:"old_exe,omitempty"`
	State       string                `json:"state,omitempty"`
	OldState    string                `json:"old_state,omitempty"`
	TID         int                   `json:"tid,omitempty"`
	ExitStatus  *collector.ExitStatus `json:"exit_status,omitempty"`
	ExitOutcome string                `json:"exit_outcome,omitempty"`
	AdopterKind string                `json:"adopter_kind,omitempty"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// textRaw returns s as valid UTF-8 and, when it was not, its raw bytes in
// base64 (so nothing is lost; the same convention as the snapshot
// document).
func textRaw(s string) (string, string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	return string([]rune(s)), base64.StdEncoding.EncodeToString([]byte(s))
}

func stateStr(s byte) string {
	if s == 0 {
		return ""
	}
	return string(rune(s))
}

// NewZombiesDoc builds the zombies document of a frame.
func NewZombiesDoc(f *monitor.Frame) *ZombiesDoc {
	d := &ZombiesDoc{Schema: ZombiesSchema, Seq: f.Seq, Groups: []ZombieGroupDoc{}}
	if f.Snapshot != nil {
		d.TakenAt = rfc3339(f.Snapshot.TakenAt)
		for i := range f.Snapshot.Processes {
			if f.Snapshot.Processes[i].IsZombie() {
				d.Zombies++
			}
		}
	}
	for _, g := range f.Zombies {
		gd := ZombieGroupDoc{
			ParentPID: g.Parent.PID, ParentStartTicks: g.Parent.StartTicks,
			ParentState: stateStr(g.ParentState), ParentWChan: g.ParentWChan,
			SIGCHLD: g.SIGCHLD, Since: rfc3339(g.Since),
			Diagnosis: g.Diagnosis, Remedy: g.Remedy,
			Zombies: make([]ZombieInfoDoc, 0, len(g.Zombies)),
		}
		gd.ParentComm, gd.ParentCommRaw = textRaw(g.ParentComm)
		for _, z := range g.Zombies {
			zd := ZombieInfoDoc{PID: z.ID.PID, StartTicks: z.ID.StartTicks, ExitStatus: z.Exit, FirstSeen: rfc3339(z.FirstSeen)}
			zd.Comm, zd.CommRaw = textRaw(z.Comm)
			gd.Zombies = append(gd.Zombies, zd)
		}
		d.Groups = append(d.Groups, gd)
	}
	return d
}

// NewOrphansDoc builds the orphans document of a frame.
func NewOrphansDoc(f *monitor.Frame) *OrphansDoc {
	d := &OrphansDoc{Schema: OrphansSchema, Seq: f.Seq, Orphans: []OrphanDoc{}}
	if f.Snapshot != nil {
		d.TakenAt = rfc3339(f.Snapshot.TakenAt)
	}
	for _, o := range f.Orphans {
		od := OrphanDoc{
			PID: o.ID.PID, StartTicks: o.ID.StartTicks, Adopter: o.Adopter,
			AdopterComm: o.AdopterComm, AdopterKind: o.AdopterKind, Evidence: o.Evidence,
			Observed: o.Observed, Daemon: o.Daemon,
		}
		od.Comm, od.CommRaw = textRaw(o.Comm)
		od.AdopterComm, _ = textRaw(o.AdopterComm)
		d.Orphans = append(d.Orphans, od)
	}
	return d
}

// NewEventDoc converts one lifecycle event.
func NewEventDoc(e *lifecycle.Event) EventDoc {
	d := EventDoc{
		Schema: EventSchema, Type: string(e.Type), Time: rfc3339(e.Time),
		PID: e.ID.PID, StartTicks: e.ID.StartTicks, PPID: e.PPID, Source: e.Source,
		OldPPID: e.OldPPID, Exe: e.Exe, OldExe: e.OldExe,
		State: stateStr(e.State), OldState: stateStr(e.OldState), TID: e.TID,
		ExitStatus: e.ExitStatus, AdopterKind: e.AdopterKind,
	}
	d.Comm, d.CommRaw = textRaw(e.Comm)
	d.OldComm, _ = textRaw(e.OldComm)
	if e.Type == lifecycle.Exit {
		d.ExitOutcome = ExitOutcome(e.ExitStatus)
	}
	return d
}
