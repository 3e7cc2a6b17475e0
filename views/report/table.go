package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rivo/uniseg"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// WriteJSON writes v as indented JSON followed by a newline, with DEL and
// C1 controls escaped too (see inertJSON), so a document printed on a
// terminal cannot act on it.
func WriteJSON(w io.Writer, v any) error { return writeJSON(w, v, true) }

// WriteCompactJSON is WriteJSON on one line: for pipes and scripts, where
// indentation costs time and bytes for nobody to read (jq re-indents).
func WriteCompactJSON(w io.Writer, v any) error { return writeJSON(w, v, false) }

func writeJSON(w io.Writer, v any, indent bool) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(inertJSON(buf.Bytes()))
	return err
}

// PSRow is one row of `pinspect ps --json`.
type PSRow struct {
	PID   int    `json:"pid"`
	PPID  *int   `json:"ppid,omitempty"`
	User  string `json:"user,omitempty"`
	State string `json:"state,omitempty"`
	// LeaderExited is true for a process whose main thread exited while
	// other threads run: State is the kernel's Z, but the process is
	// alive (the table shows L).
	LeaderExited bool    `json:"leader_exited,omitempty"`
	Threads      *int64  `json:"num_threads,omitempty"`
	VolCtx       *uint64 `json:"voluntary_ctxt_switches,omitempty"`
	InvolCtx     *uint64 `json:"involuntary_ctxt_switches,omitempty"`
	CtxSource    string  `json:"ctxt_switches_source,omitempty"`
	RSSBytes     *uint64 `json:"rss_bytes,omitempty"`
	// RSSSplit is RSSBytes by what backs it, as show's rss_split:
	// status's RssAnon, RssFile and RssShmem (or the task iterator's
	// exact sums of the same counters), read with RSSBytes, to which they
	// add up. Absent when they were not read with it (statm's fallback)
	// or not kept (ps --at on a record written before fields 76-77).
	RSSSplit *RSSSplitDoc `json:"rss_split,omitempty"`
	Command  string       `json:"command"`
	PSRates
}

// PSRates are a process's rates over `ps --sample`'s window; each is
// absent when it could not be measured (the process was not there at
// both ends, its file was unreadable).
type PSRates struct {
	// CPUPercent is user+system CPU over wall time, in percent of one CPU.
	CPUPercent *float64 `json:"cpu_percent,omitempty"`
	// VolPerSec and InvolPerSec are context switches per second.
	VolPerSec   *float64 `json:"voluntary_ctxt_switches_per_second,omitempty"`
	InvolPerSec *float64 `json:"involuntary_ctxt_switches_per_second,omitempty"`
	// RunQueueWait is run-queue wait in seconds per second: the average
	// number of its threads that were runnable but waiting for a CPU.
	RunQueueWait *float64 `json:"run_queue_wait_seconds_per_second,omitempty"`
	// RunQueueSource is where it comes from: "task_iter" (the kernel's
	// per-process total, exited threads included), "taskstats" (the same,
	// with delay accounting on) or "schedstat" (summed over the live
	// threads' task/TID/schedstat).
	RunQueueSource string `json:"run_queue_wait_source,omitempty"`
	// ReadBPS and WriteBPS are bytes per second read from and written to
	// storage (/proc/PID/io read_bytes, write_bytes).
	ReadBPS  *float64 `json:"read_bytes_per_second,omitempty"`
	WriteBPS *float64 `json:"write_bytes_per_second,omitempty"`
}

// PSDoc is the `pinspect ps --json` document.
type PSDoc struct {
	Schema  string  `json:"schema"`
	TakenAt string  `json:"taken_at"`
	Summary Summary `json:"summary"`
	// SampleSeconds is the window of the rates (ps --sample); absent
	// without it.
	SampleSeconds *float64 `json:"sample_seconds,omitempty"`
	Processes     []PSRow  `json:"processes"`
}

// AddRates sets each row's rates (by pid) and the window.
func (d *PSDoc) AddRates(rates map[int]PSRates, secs float64) {
	d.SampleSeconds = &secs
	for i := range d.Processes {
		d.Processes[i].PSRates = rates[d.Processes[i].PID]
	}
}

// PSSchema is the schema version of the ps document.
const PSSchema = "pinspect.ps/v1"

// NewPSDoc builds the ps document from the full snapshot document.
func NewPSDoc(d *SnapshotDoc) *PSDoc {
	out := &PSDoc{Schema: PSSchema, TakenAt: d.TakenAt, Summary: d.Summary, Processes: make([]PSRow, 0, len(d.Processes))}
	for i := range d.Processes {
		p := &d.Processes[i]
		command := CommandLine(p.Cmdline, derefStr(p.Comm), p.State == "Z" && !p.LeaderExited, p.KernelThread)
		if p.CmdlineTrunc && len(p.Cmdline) > 0 {
			command += TruncatedMarker
		}
		out.Processes = append(out.Processes, PSRow{
			PID: p.PID, PPID: p.PPID, User: p.User, State: p.State, LeaderExited: p.LeaderExited, Threads: p.NumThreads,
			VolCtx: p.VolCtx, InvolCtx: p.InvolCtx, CtxSource: p.CtxSource, RSSBytes: p.RSSBytes,
			Command: command,
		})
	}
	return out
}

// TruncatedMarker ends a command line cut at the read cap.
const TruncatedMarker = " …[truncated]"

// CommandLine is what a COMMAND column shows: the arguments, or "[comm]"
// for a kernel thread, or "comm <defunct>" for a zombie. It is not
// sanitised; text writers sanitise it.
func CommandLine(args []string, comm string, zombie, kthread bool) string {
	switch {
	case zombie:
		return comm + " <defunct>"
	case len(args) > 0:
		return strings.Join(args, " ")
	case kthread:
		return "[" + comm + "]"
	}
	return comm
}

func derefStr(s *string) string {
	if s == nil {
		return "?"
	}
	return *s
}

// writePSSummary writes the line under a ps table: the counts shown, the
// whole scan's bookkeeping, and the window of --sample's rates.
func writePSSummary(bw *bufio.Writer, s Summary, sampleSeconds *float64) {
	timeouts := ""
	if s.Scan.Timeouts > 0 {
		timeouts = fmt.Sprintf(", timeouts %d", s.Scan.Timeouts)
	}
	// The scan counts are the whole scan's: a filter selects processes
	// after the reading, so they are labelled apart from the shown counts.
	sample := ""
	if sampleSeconds != nil {
		sample = fmt.Sprintf("; rates over %.1f s (RQWAIT: threads waiting for a CPU on average)", *sampleSeconds)
	}
	fmt.Fprintf(bw, "%s, %s, %s; scan: vanished %d, denied %d, parse errors %d%s; context switches: %s%s%s\n",
		lifecycle.CountOf(s.Processes, "process", "processes"), lifecycle.CountOf(s.Threads, "thread", "threads"), lifecycle.CountOf(s.Zombies, "zombie", "zombies"),
		s.Scan.Vanished, s.Scan.Denied, s.Scan.ParseErrors, timeouts, ctxNote(s.CtxSwitchSource), collectorNote(s), sample)
}

// collectorNote names the backend that read the processes, and why not
// the task iterator when that needs saying.
func collectorNote(s Summary) string {
	if s.Collector == "" {
		return ""
	}
	out := "; collector: " + s.Collector
	if s.CollectorPinned {
		out += " (pinned)"
	}
	if s.CollectorNote != "" {
		out += " (" + sanitize.Terminal(s.CollectorNote) + ")"
	}
	return out
}

func ctxNote(src string) string {
	switch collector.CtxSource(src) {
	case collector.CtxTaskIter:
		return "kernel totals (task iterator, whole process)"
	case collector.CtxThreadSum:
		return "summed over live threads"
	case collector.CtxTaskstats:
		return "taskstats (whole process)"
	}
	return "leader thread only"
}

// displayWidth is how many terminal columns sanitised text s takes: a
// wide character (CJK, most emoji) two, a combining mark none, by
// grapheme cluster (uniseg, the library tview lays out with); printable
// ASCII is its length.
func displayWidth(s string) int {
	if isASCII(s) {
		return len(s)
	}
	return uniseg.StringWidth(s)
}

// truncateWidth cuts s to at most n terminal columns, between grapheme
// clusters: a wide character that would straddle column n is left out
// whole, and a combining mark stays with its letter.
func truncateWidth(s string, n int) string {
	if isASCII(s) {
		return s[:min(len(s), max(n, 0))]
	}
	w, state, rest := 0, -1, s
	for rest != "" {
		var cw int
		next := rest
		_, next, cw, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if w+cw > n {
			break
		}
		w, rest = w+cw, next
	}
	return s[:len(s)-len(rest)]
}

// isASCII reports whether s is ASCII only (one column a byte, once
// sanitised).
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func optF(v *float64, decimals int) string {
	if v == nil {
		return "?"
	}
	return strconv.FormatFloat(*v, 'f', decimals, 64)
}

// optRate formats bytes per second like HumanBytes ("-" when unknown).
func optRate(v *float64) string {
	if v == nil {
		return "?"
	}
	if *v < 1 {
		return "0"
	}
	return HumanBytes(uint64(*v))
}

func optBytes(v *uint64) string {
	if v == nil {
		return "-"
	}
	return HumanBytes(*v)
}

// HumanBytes formats a byte count as 12K, 3.4M, 1.2G (binary units).
func HumanBytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return strconv.FormatUint(b, 10) + "B"
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	v := float64(b) / float64(div)
	suffix := "KMGTP"[exp : exp+1]
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64) + suffix
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + suffix
}
