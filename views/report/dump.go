package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// The schemas of `pinspect dump` rows (docs/RECORD.md): one NDJSON line
// or CSV row per process, thread, event or sample of the record.
const (
	DumpProcessSchema = "pinspect.dump.process/v1"
	DumpThreadSchema  = "pinspect.dump.thread/v1"
	DumpSystemSchema  = "pinspect.dump.system/v1"
)

// DumpProcessRow is one process in one recorded sample: the snapshot
// document's process fields (without threads) and its rates since the
// previous sample of the same recorder run (absent for the first).
type DumpProcessRow struct {
	Schema      string   `json:"schema"`
	Time        string   `json:"time"`
	Seq         uint64   `json:"seq"`
	CPUPercent  *float64 `json:"cpu_percent,omitempty"`
	VolPerSec   *float64 `json:"voluntary_ctxt_switches_per_second,omitempty"`
	InvolPerSec *float64 `json:"involuntary_ctxt_switches_per_second,omitempty"`
	ProcessDoc
}

// DumpThreadRow is one thread in one recorded sample that read threads.
type DumpThreadRow struct {
	Schema     string   `json:"schema"`
	Time       string   `json:"time"`
	Seq        uint64   `json:"seq"`
	PID        int      `json:"pid"`
	CPUPercent *float64 `json:"cpu_percent,omitempty"`
	ThreadDoc
}

// DumpSystemRow is the machine in one recorded sample.
type DumpSystemRow struct {
	Schema            string   `json:"schema"`
	Time              string   `json:"time"`
	Seq               uint64   `json:"seq"`
	IntervalSeconds   float64  `json:"interval_seconds"`
	CPUPercent        *float64 `json:"cpu_percent,omitempty"`
	CtxPerSec         *float64 `json:"ctxt_switches_per_second,omitempty"`
	ForksPerSec       *float64 `json:"forks_per_second,omitempty"`
	Processes         int      `json:"processes"`
	Threads           int      `json:"threads"`
	Zombies           int      `json:"zombies"`
	Events            int      `json:"events"`
	Load1             float64  `json:"load1"`
	Load5             float64  `json:"load5"`
	Load15            float64  `json:"load15"`
	MemTotalBytes     uint64   `json:"mem_total_bytes,omitempty"`
	MemAvailableBytes uint64   `json:"mem_available_bytes,omitempty"`
	ProcsRunning      uint64   `json:"procs_running"`
	ProcsBlocked      uint64   `json:"procs_blocked"`
	ScanDurationSecs  float64  `json:"scan_duration_seconds"`
}

// DumpWriter writes dump rows as NDJSON or CSV. CSV columns are fixed
// per kind (a header row first); cells of absent values are empty.
// Strings in CSV are sanitised for a terminal (control bytes become ?);
// NDJSON keeps them exact (raw bytes in *_raw_base64 fields).
type DumpWriter struct {
	w      io.Writer
	csv    *csv.Writer
	header bool
	rows   int
}

// Rows returns how many rows were written (CSV's header not counted).
func (d *DumpWriter) Rows() int { return d.rows }

// NewDumpWriter makes a writer; format is "ndjson" or "csv".
func NewDumpWriter(w io.Writer, format string) (*DumpWriter, error) {
	switch format {
	case "ndjson", "json":
		return &DumpWriter{w: w}, nil
	case "csv":
		return &DumpWriter{w: w, csv: csv.NewWriter(w)}, nil
	}
	return nil, fmt.Errorf("--format %q: want ndjson or csv", format)
}

// Flush writes what CSV buffered and returns the first write error.
func (d *DumpWriter) Flush() error {
	if d.csv == nil {
		return nil
	}
	d.csv.Flush()
	return d.csv.Error()
}

func (d *DumpWriter) line(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	d.rows++
	_, err = d.w.Write(append(inertJSON(b), '\n'))
	return err
}

// Header writes the CSV header row of kind ("process", "thread",
// "event" or "system") now, before any row: a dump that matches no row
// is then a header alone, which a CSV reader takes for an empty table
// (with no line at all it finds no columns). NDJSON has no header: a
// no-op. A later row does not write it again.
func (d *DumpWriter) Header(kind string) error {
	cols, ok := map[string][]string{"process": processColumns, "thread": threadColumns, "event": eventColumns, "system": systemColumns}[kind]
	if !ok {
		return fmt.Errorf("no dump rows of kind %q", kind)
	}
	if d.csv == nil || d.header {
		return nil
	}
	d.header = true
	return d.csv.Write(cols)
}

func (d *DumpWriter) row(header, cells []string) error {
	if !d.header {
		d.header = true
		if err := d.csv.Write(header); err != nil {
			return err
		}
	}
	for i, c := range cells {
		cells[i] = sanitize.Terminal(c)
	}
	d.rows++
	return d.csv.Write(cells)
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func fptr(v float64) *float64 { return &v }

func cellF(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

func cellU(v *uint64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatUint(*v, 10)
}

func cellI(v *int) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(*v)
}

func cellI64(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

var processColumns = []string{"time", "seq", "pid", "start_ticks", "ppid", "pgid", "sid", "uid", "user", "state", "comm",
	"cpu_percent", "utime_seconds", "stime_seconds", "rss_bytes", "vsize_bytes", "num_threads", "minor_faults", "major_faults",
	"voluntary_ctxt_switches", "involuntary_ctxt_switches", "voluntary_ctxt_switches_per_second",
	"involuntary_ctxt_switches_per_second", "exit_status", "exe", "cmdline"}

// Process writes one process row; rates may be nil.
func (d *DumpWriter) Process(at time.Time, seq uint64, p *collector.Process, rates *lifecycle.Rates) error {
	r := DumpProcessRow{Schema: DumpProcessSchema, Time: rfc(at), Seq: seq, ProcessDoc: NewProcessDoc(p, false)}
	if rates != nil {
		if pr, ok := rates.Process(p.ID()); ok {
			r.CPUPercent, r.VolPerSec, r.InvolPerSec = fptr(pr.CPUPercent), fptr(pr.VolPerSec), fptr(pr.InvolPerSec)
		}
	}
	if d.csv == nil {
		return d.line(&r)
	}
	comm := ""
	if r.Comm != nil {
		comm = *r.Comm
	}
	exit := ""
	if r.ExitStatus != nil {
		exit = r.ExitStatus.String()
	}
	return d.row(processColumns, []string{r.Time, strconv.FormatUint(seq, 10), strconv.Itoa(p.PID), cellU(r.StartTicks),
		cellI(r.PPID), cellI(r.PGID), cellI(r.SID), cellI(r.UID), r.User, r.State, comm,
		cellF(r.CPUPercent), cellF(r.UserSeconds), cellF(r.SystemSeconds), cellU(r.RSSBytes), cellU(r.VSizeBytes),
		cellI64(r.NumThreads), cellU(r.MinorFaults), cellU(r.MajorFaults), cellU(r.VolCtx), cellU(r.InvolCtx),
		cellF(r.VolPerSec), cellF(r.InvolPerSec), exit, r.Exe, strings.Join(r.Cmdline, " ")})
}

var threadColumns = []string{"time", "seq", "pid", "tid", "start_ticks", "comm", "state", "cpu_percent", "utime_seconds",
	"stime_seconds", "last_cpu", "voluntary_ctxt_switches", "involuntary_ctxt_switches"}

// Thread writes one thread row.
func (d *DumpWriter) Thread(at time.Time, seq uint64, pid int, t *collector.Thread, rates *lifecycle.Rates) error {
	r := DumpThreadRow{Schema: DumpThreadSchema, Time: rfc(at), Seq: seq, PID: pid, ThreadDoc: NewThreadDoc(t)}
	if rates != nil {
		if tr, ok := rates.Thread(pid, t.TID); ok {
			r.CPUPercent = fptr(tr.CPUPercent)
		}
	}
	if d.csv == nil {
		return d.line(&r)
	}
	return d.row(threadColumns, []string{r.Time, strconv.FormatUint(seq, 10), strconv.Itoa(pid), strconv.Itoa(t.TID),
		strconv.FormatUint(t.StartTicks, 10), r.Comm, r.State, cellF(r.CPUPercent),
		strconv.FormatFloat(r.UserSeconds, 'f', -1, 64), strconv.FormatFloat(r.SystemSeconds, 'f', -1, 64),
		strconv.FormatInt(t.Processor, 10), cellU(r.VolCtx), cellU(r.InvolCtx)})
}

// eventColumns: exec_path and the columns after it came later (record
// field 18), after note, and old_exe, old_state and state (which the
// NDJSON rows always had) after those, so that an older reader's
// columns keep their places.
var eventColumns = []string{"time", "type", "pid", "start_ticks", "ppid", "comm", "source", "exit", "exit_code", "signal",
	"core_dumped", "old_ppid", "adopter_kind", "old_comm", "exe", "tid", "note",
	"exec_path", "exec_path_truncated", "exec_interp", "exec_interp_truncated",
	"old_exe", "old_state", "state"}

// Event writes one event row (the `pinspect watch --json` line in NDJSON).
func (d *DumpWriter) Event(e *lifecycle.Event) error {
	if d.csv == nil {
		return d.line(NewEventDoc(e))
	}
	exit, code, sig, core := "", "", "", ""
	if x := e.ExitStatus; x != nil {
		exit = x.String()
		if x.Exited {
			code = strconv.Itoa(x.Code)
		} else {
			sig, core = strconv.Itoa(x.Signal), strconv.FormatBool(x.CoreDumped)
		}
	}
	opt := func(v int) string {
		if v == 0 {
			return ""
		}
		return strconv.Itoa(v)
	}
	// The exec path's cells are empty when it is not known (the flags
	// too: absent, never false).
	var path, pathCut, interp, interpCut string
	if ep := e.ExecPath; ep != nil {
		path, pathCut, interp = ep.Path, strconv.FormatBool(ep.PathTruncated), ep.Interp
		if ep.Interp != "" {
			interpCut = strconv.FormatBool(ep.InterpTruncated)
		}
	}
	state := func(s byte) string {
		if s == 0 {
			return ""
		}
		return string(s)
	}
	return d.row(eventColumns, []string{rfc(e.Time), string(e.Type), strconv.Itoa(e.ID.PID), strconv.FormatUint(e.ID.StartTicks, 10),
		opt(e.PPID), e.Comm, e.Source, exit, code, sig, core, opt(e.OldPPID), e.AdopterKind, e.OldComm, e.Exe, opt(e.TID), e.Note,
		path, pathCut, interp, interpCut, e.OldExe, state(e.OldState), state(e.State)})
}

var systemColumns = []string{"time", "seq", "interval_seconds", "cpu_percent", "ctxt_switches_per_second", "forks_per_second",
	"processes", "threads", "zombies", "events", "load1", "load5", "load15", "mem_total_bytes", "mem_available_bytes",
	"procs_running", "procs_blocked", "scan_duration_seconds"}

// System writes one sample's machine row.
func (d *DumpWriter) System(seq uint64, interval time.Duration, snap *collector.Snapshot, events int, rates *lifecycle.Rates) error {
	h := &snap.Host
	r := DumpSystemRow{Schema: DumpSystemSchema, Time: rfc(snap.TakenAt), Seq: seq, IntervalSeconds: interval.Seconds(),
		Processes: len(snap.Processes), Events: events, Load1: h.Load1, Load5: h.Load5, Load15: h.Load15,
		MemTotalBytes: h.MemTotalBytes, MemAvailableBytes: h.MemAvailBytes, ProcsRunning: h.ProcsRunning,
		ProcsBlocked: h.ProcsBlocked, ScanDurationSecs: snap.ScanDuration.Seconds()}
	for i := range snap.Processes {
		p := &snap.Processes[i]
		r.Threads += int(max(p.NumThreads, 0))
		if lifecycle.IsZombie(p) {
			r.Zombies++
		}
	}
	if rates != nil {
		r.CPUPercent, r.CtxPerSec, r.ForksPerSec = fptr(rates.System.CPUPercent), fptr(rates.System.CtxPerSec), fptr(rates.System.ForksPerSec)
	}
	if d.csv == nil {
		return d.line(&r)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return d.row(systemColumns, []string{r.Time, strconv.FormatUint(seq, 10), f(r.IntervalSeconds), cellF(r.CPUPercent),
		cellF(r.CtxPerSec), cellF(r.ForksPerSec), strconv.Itoa(r.Processes), strconv.Itoa(r.Threads), strconv.Itoa(r.Zombies),
		strconv.Itoa(events), f(r.Load1), f(r.Load5), f(r.Load15), strconv.FormatUint(r.MemTotalBytes, 10),
		strconv.FormatUint(r.MemAvailableBytes, 10), strconv.FormatUint(r.ProcsRunning, 10), strconv.FormatUint(r.ProcsBlocked, 10),
		f(r.ScanDurationSecs)})
}
