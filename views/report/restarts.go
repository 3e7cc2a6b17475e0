package report

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// RestartsSchema is the schema of `pinspect events --restarts --json`.
const RestartsSchema = "pinspect.restarts/v1"

// Restart is one restart of a program in the record: a process of it
// ended, and later another one started.
type Restart struct {
	Ended, Started lifecycle.Event
	// AcrossDamage: damage the query skipped may have held events
	// between the two (another end or start of the program), so they may
	// not be one restart.
	AcrossDamage bool
}

// RestartDoc is one restart in JSON.
type RestartDoc struct {
	EndedAt     string         `json:"ended_at"`
	EndedPID    int            `json:"ended_pid"`
	EndedComm   string         `json:"ended_comm,omitempty"`
	Exit        *ExitStatusDoc `json:"exit,omitempty"`
	StartedAt   string         `json:"started_at"`
	StartedPID  int            `json:"started_pid"`
	StartedComm string         `json:"started_comm,omitempty"`
	DownSeconds float64        `json:"down_seconds"`
	// AcrossDamage is true when damage skipped in the record may have
	// held events between the end and the start (another end or start of
	// the program): they may not be one restart.
	AcrossDamage bool `json:"across_damage,omitempty"`
}

// EndDoc is the end of a process that no start followed in the record.
type EndDoc struct {
	EndedAt   string         `json:"ended_at"`
	EndedPID  int            `json:"ended_pid"`
	EndedComm string         `json:"ended_comm,omitempty"`
	Exit      *ExitStatusDoc `json:"exit,omitempty"`
}

// RestartsDoc is the document of `pinspect events --restarts --json`.
type RestartsDoc struct {
	Schema   string       `json:"schema"`
	Name     string       `json:"name"`
	Restarts []RestartDoc `json:"restarts"`
	// StillDown is the last end of a process of the name when no start
	// followed it before the end of the record (absent otherwise).
	StillDown *EndDoc `json:"still_down,omitempty"`
}

// NewRestartsDoc builds the restarts document; down is the last end not
// followed by a start (nil: none).
func NewRestartsDoc(name string, rs []Restart, down *lifecycle.Event) *RestartsDoc {
	d := &RestartsDoc{Schema: RestartsSchema, Name: name, Restarts: []RestartDoc{}}
	if down != nil {
		d.StillDown = &EndDoc{EndedAt: rfc(down.Time), EndedPID: down.ID.PID, EndedComm: down.Comm, Exit: NewExitStatusDoc(down.ExitStatus)}
	}
	for _, r := range rs {
		d.Restarts = append(d.Restarts, RestartDoc{
			EndedAt: rfc(r.Ended.Time), EndedPID: r.Ended.ID.PID, EndedComm: r.Ended.Comm, Exit: NewExitStatusDoc(r.Ended.ExitStatus),
			StartedAt: rfc(r.Started.Time), StartedPID: r.Started.ID.PID, StartedComm: r.Started.Comm,
			DownSeconds: r.Started.Time.Sub(r.Ended.Time).Seconds(), AcrossDamage: r.AcrossDamage,
		})
	}
	return d
}

// WriteRestartsText prints the restarts as a table, and a last end that
// was not followed by a start (still down at the end of the record). A
// restart across damage ends in a mark, which a last line explains.
func WriteRestartsText(w io.Writer, name string, rs []Restart, down *lifecycle.Event) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s of %q in the record\n", lifecycle.CountOf(len(rs), "restart", "restarts"), sanitize.Terminal(name))
	if len(rs) > 0 {
		fmt.Fprintf(bw, "%-23s %7s %-16s %-22s %-23s %7s %s\n", "ENDED", "PID", "COMM", "HOW", "STARTED AGAIN", "PID", "DOWN")
	}
	across := 0
	for _, r := range rs {
		mark := ""
		if r.AcrossDamage {
			mark, across = "  (across damage)", across+1
		}
		how := "-"
		if r.Ended.ExitStatus != nil {
			how = r.Ended.ExitStatus.String()
		}
		fmt.Fprintf(bw, "%-23s %7d %-16s %-22s %-23s %7d %s%s\n", r.Ended.Time.Local().Format("2006-01-02 15:04:05.000"), r.Ended.ID.PID,
			shownName(r.Ended.Comm), how, r.Started.Time.Local().Format("2006-01-02 15:04:05.000"), r.Started.ID.PID,
			r.Started.Time.Sub(r.Ended.Time).Round(time.Millisecond), mark)
	}
	if across > 0 {
		fmt.Fprintf(bw, "(across damage): damage skipped in the record may have held events between the end and the start; %s may not be one restart\n",
			map[bool]string{true: "that pair", false: "those pairs"}[across == 1])
	}
	if down != nil {
		fmt.Fprintf(bw, "last end not followed by a start: pid %d at %s\n", down.ID.PID, down.Time.Local().Format("2006-01-02 15:04:05"))
	}
	return bw.Flush()
}
