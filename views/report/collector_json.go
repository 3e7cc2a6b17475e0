package report

import (
	"strconv"

	"github.com/pinspect/pinspect/collector"
)

// The collector's small value types as the schema writes them: the
// collector's types carry no JSON (docs/SCHEMA.md is this package's).

// ScanCountsDoc is a snapshot's scan bookkeeping (collector.ScanCounts).
type ScanCountsDoc struct {
	Listed          int `json:"listed"`
	Vanished        int `json:"vanished"`
	VanishedThreads int `json:"vanished_threads"`
	Denied          int `json:"denied"`
	ParseErrors     int `json:"parse_errors"`
	Timeouts        int `json:"timeouts"`
	Unreadable      int `json:"unreadable"`
	// NotPresent counts files absent from a process directory that is
	// still there (a /proc tree another program wrote).
	NotPresent int `json:"not_present"`
}

// NewScanCountsDoc converts scan counts.
func NewScanCountsDoc(c collector.ScanCounts) ScanCountsDoc {
	return ScanCountsDoc{
		Listed: c.Listed, Vanished: c.Vanished, VanishedThreads: c.VanishedThreads,
		Denied: c.Denied, ParseErrors: c.ParseErrors, Timeouts: c.Timeouts, Unreadable: c.Unreadable,
		NotPresent: c.NotPresent,
	}
}

// ProblemDoc is one recorded read problem (collector.Problem).
type ProblemDoc struct {
	PID    int    `json:"pid"`
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// newProblemDocs converts a snapshot's problems; nil for none.
func newProblemDocs(ps []collector.Problem) []ProblemDoc {
	if len(ps) == 0 {
		return nil
	}
	out := make([]ProblemDoc, len(ps))
	for i, p := range ps {
		out[i] = ProblemDoc{PID: p.PID, File: p.File, Reason: p.Reason}
	}
	return out
}

// ExitStatusDoc is a decoded wait status (collector.ExitStatus) as the
// schema writes it: {"exited":true,"code":N} (code 0 included) or
// {"exited":false,"signal":N,"signal_name":"SIGSEGV","core_dumped":B}.
// String is the status's.
type ExitStatusDoc struct {
	collector.ExitStatus
}

// NewExitStatusDoc converts an exit status; nil stays nil.
func NewExitStatusDoc(es *collector.ExitStatus) *ExitStatusDoc {
	if es == nil {
		return nil
	}
	return &ExitStatusDoc{*es}
}

// MarshalJSON writes the schema's form.
func (e ExitStatusDoc) MarshalJSON() ([]byte, error) {
	if e.Exited {
		return []byte(`{"exited":true,"code":` + strconv.Itoa(e.Code) + `}`), nil
	}
	return []byte(`{"exited":false,"signal":` + strconv.Itoa(e.Signal) + `,"signal_name":"` + collector.SignalName(e.Signal) +
		`","core_dumped":` + strconv.FormatBool(e.CoreDumped) + `}`), nil
}
