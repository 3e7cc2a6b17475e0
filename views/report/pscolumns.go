package report

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// The columns of `pinspect ps`: what -o table, wide and csv show, what
// --columns selects and what --sort orders by. A column reads a
// ProcessDoc, so every output format shows the same values; JSON keeps
// its rows (PSDoc) and only follows the order.

// psLine is what a column reads: a process, and its rates over ps
// --sample's window (nil without --sample).
type psLine struct {
	*ProcessDoc
	rates *PSRates
}

// PSView is what ps prints: the snapshot document's processes, in the
// order they are printed, with --sample's rates by pid (nil without it).
type PSView struct {
	Doc *SnapshotDoc
	// Snap is the snapshot Doc was made from, for what the snapshot
	// document does not carry (the RSS split); nil: none.
	Snap          *collector.Snapshot
	Rates         map[int]PSRates
	SampleSeconds *float64
}

// line returns the i-th process of v with its rates.
func (v *PSView) line(i int) psLine {
	p := &v.Doc.Processes[i]
	l := psLine{ProcessDoc: p}
	if r, ok := v.Rates[p.PID]; ok {
		l.rates = &r
	}
	return l
}

// PSDoc is the JSON document of v, its rows in v's order.
func (v *PSView) PSDoc() *PSDoc {
	d := NewPSDoc(v.Doc)
	if v.Snap != nil {
		for i := range d.Processes {
			d.Processes[i].RSSSplit = rssSplitOf(v.Snap, d.Processes[i].PID)
		}
	}
	if v.SampleSeconds != nil {
		d.AddRates(v.Rates, *v.SampleSeconds)
	}
	return d
}

// rssSplitOf returns the RSS split of the process pid of snap (sorted
// by pid), nil when it has none or is not there.
func rssSplitOf(snap *collector.Snapshot, pid int) *RSSSplitDoc {
	i, ok := collector.SearchPID(snap.Processes, pid)
	if !ok {
		return nil
	}
	anon, file, shmem, ok := snap.Processes[i].RSSSplit()
	if !ok {
		return nil
	}
	return &RSSSplitDoc{AnonBytes: anon, FileBytes: file, ShmemBytes: shmem}
}

// PSColumn is one column of `pinspect ps`.
type PSColumn struct {
	// Key is the name --columns and --sort take.
	Key string
	// Header heads the table column.
	Header string
	// Field heads the CSV column: the JSON field name, unit included.
	Field string
	// Left aligns text columns to the left in tables.
	Left bool
	// Help says what the column holds (pinspect ps --help).
	Help string
	// cell is the table text: "?" when unknown, "-" when absent.
	cell func(p *psLine, taken time.Time) string
	// value is the CSV text, "" when unknown or absent.
	value func(p *psLine) string
	// num is the numeric sort key (ok false: unknown); nil for text
	// columns, which sort by value.
	num func(p *psLine) (float64, bool)
	// Sampled marks the columns of rates over --sample's window.
	Sampled bool
}

// PSColumnsTable, PSColumnsWide and PSColumnsCSV are the default columns
// of each format.
var (
	PSColumnsTable = []string{"pid", "ppid", "user", "state", "thr", "vcsw", "nvcsw", "rss", "command"}
	PSColumnsWide  = []string{"pid", "ppid", "pgid", "sid", "tty", "user", "state", "nice", "thr", "vcsw", "nvcsw", "ctxsrc", "time", "rss", "vsz", "start", "command"}
	PSColumnsCSV   = PSColumnsWide
	// With --sample the rates take the totals' place.
	PSColumnsTableSampled = []string{"pid", "ppid", "user", "state", "thr", "cpu", "vcsw/s", "nvcsw/s", "rqwait", "rd/s", "wr/s", "rss", "command"}
	PSColumnsWideSampled  = []string{"pid", "ppid", "pgid", "sid", "tty", "user", "state", "nice", "thr", "cpu", "vcsw/s", "nvcsw/s", "rqwait", "rd/s", "wr/s", "ctxsrc", "time", "rss", "vsz", "start", "command"}
	PSColumnsCSVSampled   = PSColumnsWideSampled
)

// rate returns a rate of the line's --sample (ok false: none).
func rate(p *psLine, f func(r *PSRates) *float64) (float64, bool) {
	if p.rates == nil {
		return 0, false
	}
	if v := f(p.rates); v != nil {
		return *v, true
	}
	return 0, false
}

// rateColumn is a column of --sample's rates, shown with decimals (or,
// bytes, as HumanBytes when human).
func rateColumn(key, header, field, help string, decimals int, bytes bool, f func(r *PSRates) *float64) PSColumn {
	num := func(p *psLine) (float64, bool) { return rate(p, f) }
	return PSColumn{Key: key, Header: header, Field: field, Help: help + " (--sample)", Sampled: true, num: num,
		cell: func(p *psLine, _ time.Time) string {
			v, ok := num(p)
			if !ok {
				return "?"
			}
			if bytes {
				return optRate(&v)
			}
			return optF(&v, decimals)
		}}
}

func intp(v *int) (float64, bool) {
	if v == nil {
		return 0, false
	}
	return float64(*v), true
}

func i64p(v *int64) (float64, bool) {
	if v == nil {
		return 0, false
	}
	return float64(*v), true
}

func u64p(v *uint64) (float64, bool) {
	if v == nil {
		return 0, false
	}
	return float64(*v), true
}

func numText(f func(p *psLine) (float64, bool)) func(p *psLine) string {
	return func(p *psLine) string {
		if v, ok := f(p); ok {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
}

func numCell(f func(p *psLine) (float64, bool)) func(p *psLine, _ time.Time) string {
	return func(p *psLine, _ time.Time) string {
		if v, ok := f(p); ok {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return "?"
	}
}

// cpuSeconds is user + system time; unknown unless both are known. Both
// are whole clock ticks (1/100 s), so is the sum: rounding to the tick
// drops the float addition's noise (0.15000000000000002).
func cpuSeconds(p *psLine) (float64, bool) {
	if p.UserSeconds == nil || p.SystemSeconds == nil {
		return 0, false
	}
	return math.Round((*p.UserSeconds+*p.SystemSeconds)*100) / 100, true
}

// psColumns are every column, in --help order.
var psColumns = []PSColumn{
	{Key: "pid", Header: "PID", Field: "pid", Help: "process id",
		num: func(p *psLine) (float64, bool) { return float64(p.PID), true }},
	{Key: "ppid", Header: "PPID", Field: "ppid", Help: "parent's pid",
		num: func(p *psLine) (float64, bool) { return intp(p.PPID) }},
	{Key: "pgid", Header: "PGID", Field: "pgid", Help: "process group",
		num: func(p *psLine) (float64, bool) { return intp(p.PGID) }},
	{Key: "sid", Header: "SID", Field: "sid", Help: "session",
		num: func(p *psLine) (float64, bool) { return intp(p.SID) }},
	{Key: "tty", Header: "TTY", Field: "tty", Left: true, Help: "controlling terminal (- for none)",
		cell: func(p *psLine, _ time.Time) string {
			switch {
			case p.TTYNr == nil:
				return "?"
			case *p.TTYNr == 0:
				return "-"
			case p.TTY == "":
				return strconv.Itoa(*p.TTYNr)
			}
			return sanitize.Terminal(p.TTY)
		},
		value: func(p *psLine) string { return p.TTY }},
	{Key: "user", Header: "USER", Field: "user", Left: true, Help: "owner (real uid's name)",
		cell:  func(p *psLine, _ time.Time) string { return sanitize.Terminal(orQ(p.User)) },
		value: func(p *psLine) string { return p.User }},
	{Key: "uid", Header: "UID", Field: "uid", Help: "real uid",
		num: func(p *psLine) (float64, bool) { return intp(p.UID) }},
	{Key: "state", Header: "S", Field: "state", Left: true, Help: "state letter (R S D Z T t X I P; L: the main thread exited while other threads run, alive; the kernel and the JSON say Z with leader_exited)",
		cell:  func(p *psLine, _ time.Time) string { return orQ(psState(p.ProcessDoc)) },
		value: func(p *psLine) string { return psState(p.ProcessDoc) }},
	{Key: "nice", Header: "NI", Field: "nice", Help: "nice value",
		num: func(p *psLine) (float64, bool) { return i64p(p.Nice) }},
	{Key: "pri", Header: "PRI", Field: "priority", Help: "kernel priority",
		num: func(p *psLine) (float64, bool) { return i64p(p.Priority) }},
	{Key: "thr", Header: "THR", Field: "num_threads", Help: "threads",
		num: func(p *psLine) (float64, bool) { return i64p(p.NumThreads) }},
	{Key: "vcsw", Header: "VCSW", Field: "voluntary_ctxt_switches", Help: "voluntary context switches, whole process",
		num: func(p *psLine) (float64, bool) { return u64p(p.VolCtx) }},
	{Key: "nvcsw", Header: "NVCSW", Field: "involuntary_ctxt_switches", Help: "involuntary context switches, whole process",
		num: func(p *psLine) (float64, bool) { return u64p(p.InvolCtx) }},
	{Key: "ctxsrc", Header: "CTXSRC", Field: "ctxt_switches_source", Left: true, Help: "where VCSW/NVCSW come from (taskstats, task_iter, thread_sum, leader_only)",
		cell:  func(p *psLine, _ time.Time) string { return dashIfEmpty(p.CtxSource) },
		value: func(p *psLine) string { return p.CtxSource }},
	{Key: "time", Header: "TIME", Field: "cpu_seconds", Help: "CPU time, user + system ([D-]HH:MM:SS; seconds in CSV)",
		cell: func(p *psLine, _ time.Time) string {
			if v, ok := cpuSeconds(p); ok {
				return clockTime(v)
			}
			return "?"
		},
		num: cpuSeconds},
	{Key: "rss", Header: "RSS", Field: "rss_bytes", Help: "resident memory (- for none: zombies, kernel threads)",
		cell: func(p *psLine, _ time.Time) string { return optBytes(p.RSSBytes) },
		num:  func(p *psLine) (float64, bool) { return u64p(p.RSSBytes) }},
	{Key: "vsz", Header: "VSZ", Field: "vsize_bytes", Help: "virtual memory size",
		cell: func(p *psLine, _ time.Time) string { return optBytes(p.VSizeBytes) },
		num:  func(p *psLine) (float64, bool) { return u64p(p.VSizeBytes) }},
	{Key: "start", Header: "START", Field: "started_at", Left: true, Help: "start time (HH:MM today, else Mon DD; RFC 3339 in CSV)",
		cell: func(p *psLine, taken time.Time) string {
			t, err := time.Parse(time.RFC3339Nano, p.StartedAt)
			if err != nil {
				return "?"
			}
			if t.Year() == taken.Year() && t.YearDay() == taken.YearDay() {
				return t.Format("15:04")
			}
			return t.Format("Jan02")
		},
		value: func(p *psLine) string { return p.StartedAt }},
	rateColumn("cpu", "CPU%", "cpu_percent", "CPU time over wall time, percent of one CPU", 1, false, func(r *PSRates) *float64 { return r.CPUPercent }),
	rateColumn("vcsw/s", "VCSW/s", "voluntary_ctxt_switches_per_second", "voluntary context switches per second", 0, false, func(r *PSRates) *float64 { return r.VolPerSec }),
	rateColumn("nvcsw/s", "NVCSW/s", "involuntary_ctxt_switches_per_second", "involuntary context switches per second", 0, false, func(r *PSRates) *float64 { return r.InvolPerSec }),
	rateColumn("rqwait", "RQWAIT", "run_queue_wait_seconds_per_second", "run-queue wait: threads waiting for a CPU, on average", 2, false, func(r *PSRates) *float64 { return r.RunQueueWait }),
	rateColumn("rd/s", "RD/s", "read_bytes_per_second", "storage reads, bytes per second", 0, true, func(r *PSRates) *float64 { return r.ReadBPS }),
	rateColumn("wr/s", "WR/s", "write_bytes_per_second", "storage writes, bytes per second", 0, true, func(r *PSRates) *float64 { return r.WriteBPS }),
	{Key: "comm", Header: "COMM", Field: "comm", Left: true, Help: "command name (15 bytes, the kernel's)",
		cell:  func(p *psLine, _ time.Time) string { return sanitize.Terminal(derefStr(p.Comm)) },
		value: func(p *psLine) string { return derefOr(p.Comm, "") }},
	{Key: "exe", Header: "EXE", Field: "exe", Left: true, Help: "executable path",
		cell: func(p *psLine, _ time.Time) string {
			s := sanitize.Terminal(dashIfEmpty(p.Exe))
			if p.ExeDeleted {
				s += "  [deleted]" // as show writes it: a file's own name can end in " (deleted)"
			}
			return s
		},
		value: func(p *psLine) string { return p.Exe }},
	{Key: "command", Header: "COMMAND", Field: "command", Left: true, Help: "command line ([comm] for kernel threads, comm <defunct> for zombies)",
		cell:  func(p *psLine, _ time.Time) string { return sanitize.Terminal(psCommand(p)) },
		value: psCommand},
}

// psState is the state letter a table shows: the kernel's, or L
// (lifecycle.LeaderExitedLetter) for a process whose main thread exited
// while other threads run, which the kernel shows as Z but is alive.
func psState(p *ProcessDoc) string {
	if p.LeaderExited {
		return string(rune(lifecycle.LeaderExitedLetter))
	}
	return p.State
}

// psCommand is the COMMAND text of p.
func psCommand(p *psLine) string {
	c := CommandLine(p.Cmdline, derefStr(p.Comm), p.State == "Z" && !p.LeaderExited, p.KernelThread)
	if p.CmdlineTrunc && len(p.Cmdline) > 0 {
		c += TruncatedMarker
	}
	return c
}

func derefOr(s *string, or string) string {
	if s == nil {
		return or
	}
	return *s
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clockTime formats seconds as ps's TIME: [D-]HH:MM:SS.
func clockTime(sec float64) string {
	s := int64(sec)
	d, h, m := s/86400, s/3600%24, s/60%60
	out := fmt.Sprintf("%02d:%02d:%02d", h, m, s%60)
	if d > 0 {
		out = strconv.FormatInt(d, 10) + "-" + out
	}
	return out
}

// PSColumnHelp lists the columns for --help: "key  HEADER  what".
func PSColumnHelp() string {
	var b strings.Builder
	for _, c := range psColumns {
		fmt.Fprintf(&b, "  %-8s %-8s %s\n", c.Key, c.Header, c.Help)
	}
	return b.String()
}

// LookupPSColumns resolves comma-separated column keys.
func LookupPSColumns(keys []string) ([]PSColumn, error) {
	out := make([]PSColumn, 0, len(keys))
	for _, k := range keys {
		i := slices.IndexFunc(psColumns, func(c PSColumn) bool { return c.Key == k })
		if i < 0 {
			return nil, fmt.Errorf("unknown column %q (want some of %s)", k, psColumnKeys())
		}
		out = append(out, psColumns[i])
	}
	return out, nil
}

func psColumnKeys() string {
	keys := make([]string, len(psColumns))
	for i, c := range psColumns {
		keys[i] = c.Key
	}
	return strings.Join(keys, ",")
}

// PSSortKey is one --sort key: a column, descending with a leading "-".
type PSSortKey struct {
	Column     PSColumn
	Descending bool
}

// ParsePSSort parses --sort ("-rss,pid"). A leading "+" is accepted as
// ascending, as ps takes it.
func ParsePSSort(spec string) ([]PSSortKey, error) {
	var out []PSSortKey
	for _, k := range strings.Split(spec, ",") {
		k = strings.TrimSpace(k)
		desc := strings.HasPrefix(k, "-")
		k = strings.TrimLeft(k, "+-")
		cols, err := LookupPSColumns([]string{k})
		if err != nil {
			return nil, err
		}
		out = append(out, PSSortKey{cols[0], desc})
	}
	return out, nil
}

// SortPS orders v's processes by keys, then by pid. Unknown values sort
// last whatever the direction: they are not smaller or larger than any.
func SortPS(v *PSView, keys []PSSortKey) {
	slices.SortStableFunc(v.Doc.Processes, func(a, b ProcessDoc) int {
		la, lb := psLine{ProcessDoc: &a}, psLine{ProcessDoc: &b}
		if r, ok := v.Rates[a.PID]; ok {
			la.rates = &r
		}
		if r, ok := v.Rates[b.PID]; ok {
			lb.rates = &r
		}
		for _, k := range keys {
			if c := compareColumn(k.Column, &la, &lb, k.Descending); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.PID, b.PID)
	})
}

func compareColumn(c PSColumn, a, b *psLine, desc bool) int {
	var r int
	if c.num != nil {
		x, okx := c.num(a)
		y, oky := c.num(b)
		switch {
		case !okx && !oky:
			return 0
		case !okx:
			return 1
		case !oky:
			return -1
		}
		r = cmp.Compare(x, y)
	} else {
		x, y := c.value(a), c.value(b)
		switch {
		case x == "" && y == "":
			return 0
		case x == "":
			return 1
		case y == "":
			return -1
		}
		r = strings.Compare(x, y)
	}
	if desc {
		r = -r
	}
	return r
}

// PSTableOptions shape a ps table.
type PSTableOptions struct {
	// Width truncates each line to this many terminal columns (a
	// terminal's width; wide characters take two, combining marks none);
	// 0 does not truncate (wide, or not a terminal).
	Width int
	// NoHeaders leaves out the heading line and the summary line.
	NoHeaders bool
}

// WritePSColumns writes processes as an aligned table of cols, then the
// summary line of d. Every string from /proc is sanitised.
func WritePSColumns(w io.Writer, v *PSView, cols []PSColumn, o PSTableOptions) error {
	d := v.Doc
	taken, _ := time.Parse(time.RFC3339Nano, d.TakenAt)
	rows := make([][]string, 0, len(d.Processes)+1)
	if !o.NoHeaders {
		h := make([]string, len(cols))
		for i, c := range cols {
			h[i] = c.Header
		}
		rows = append(rows, h)
	}
	for i := range d.Processes {
		p := v.line(i)
		r := make([]string, len(cols))
		for j, c := range cols {
			if c.cell != nil {
				r[j] = c.cell(&p, taken)
			} else {
				r[j] = numCell(c.num)(&p, taken)
			}
		}
		rows = append(rows, r)
	}
	widths := make([]int, len(cols))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-displayWidth(c))
			switch {
			case i == len(r)-1 && cols[i].Left:
				line.WriteString(c) // the last text column is not padded
			case cols[i].Left:
				line.WriteString(c + pad)
			default:
				line.WriteString(pad + c)
			}
			if i < len(r)-1 {
				line.WriteByte(' ')
			}
		}
		s := line.String()
		if o.Width > 0 {
			s = truncateWidth(s, o.Width)
		}
		bw.WriteString(s)
		bw.WriteByte('\n')
	}
	if !o.NoHeaders {
		writePSSummary(bw, d.Summary, v.SampleSeconds)
	}
	return bw.Flush()
}

// WritePSCSV writes processes as CSV (RFC 4180): a heading line of JSON
// field names unless noHeaders, then one line per process. Numbers are
// exact (bytes, seconds), times RFC 3339, an unknown or absent value an
// empty field. Strings are sanitised as for a terminal (a CSV file is
// read on one too) and quoted when they hold a comma or a quote.
func WritePSCSV(w io.Writer, v *PSView, cols []PSColumn, noHeaders bool) error {
	d := v.Doc
	cw := csv.NewWriter(w)
	if !noHeaders {
		h := make([]string, len(cols))
		for i, c := range cols {
			h[i] = c.Field
		}
		if err := cw.Write(h); err != nil {
			return err
		}
	}
	rec := make([]string, len(cols))
	for i := range d.Processes {
		p := v.line(i)
		for j, c := range cols {
			if c.value != nil {
				rec[j] = sanitize.Terminal(c.value(&p))
			} else {
				rec[j] = numText(c.num)(&p)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// PSColumnPairs are the column keys with what each holds (for shell
// completion).
func PSColumnPairs() [][2]string {
	out := make([][2]string, len(psColumns))
	for i, c := range psColumns {
		out[i] = [2]string{c.Key, c.Help}
	}
	return out
}
