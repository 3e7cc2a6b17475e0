package dashboard

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// colID is a process table column.
type colID uint8

// The process table's columns (F2 chooses which are shown, and their
// order; COMMAND is always last).
const (
	colPID colID = iota
	colPPID
	colUser
	colPri
	colNice
	colVirt
	colRes
	colShr
	colState
	colCPU
	colMem
	colTime
	colThr
	colVol
	colInvol
	colStart
	colStarted
	colCgroup
	colProcessor
	colTTY
	colCmd
	numCols
)

// colDef describes a column: its config key, title, what it shows, its
// width (0: from the data, see tableModel.widths), whether it is
// left-aligned and whether it sorts largest first.
type colDef struct {
	key, title, help string
	width            int
	left, desc       bool
}

var colDefs = [numCols]colDef{
	colPID:       {key: "pid", title: "PID", help: "process id (thread id on a thread row)"},
	colPPID:      {key: "ppid", title: "PPID", help: "parent's process id"},
	colUser:      {key: "user", title: "USER", help: "user name of the real uid", left: true},
	colPri:       {key: "pri", title: "PRI", help: "kernel priority (20+nice for normal tasks; RT for real-time)", width: 3},
	colNice:      {key: "nice", title: "NI", help: "nice value (-20 most favoured .. 19 least)", width: 3},
	colVirt:      {key: "virt", title: "VIRT", help: "virtual memory size (all mappings, resident or not)", width: 5, desc: true},
	colRes:       {key: "res", title: "RES", help: "resident memory (RSS); - where a process has none (kernel threads, zombies)", width: 5, desc: true},
	colShr:       {key: "shr", title: "SHR", help: "shared resident memory: file-backed and shmem pages (statm)", width: 5, desc: true},
	colState:     {key: "state", title: "S", help: "state: R running, S sleeping, D uninterruptible, Z zombie, T stopped, I idle, L main thread exited (alive: other threads run; the kernel shows Z)", width: 1, left: true},
	colCPU:       {key: "cpu", title: "CPU%", help: "CPU time since the last sample, in percent of one CPU", width: 5, desc: true},
	colMem:       {key: "mem", title: "MEM%", help: "RES as a share of the machine's memory", width: 4, desc: true},
	colTime:      {key: "time", title: "TIME+", help: "user+system CPU time: minutes:seconds.hundredths, hours h minutes:seconds, or days", width: 9, desc: true},
	colThr:       {key: "threads", title: "THR", help: "number of threads", width: 3, desc: true},
	colVol:       {key: "vcsw", title: "VCSW/s", help: "voluntary context switches per second (the process blocked: I/O-bound)", width: 6, desc: true},
	colInvol:     {key: "nvcsw", title: "NVCSW/s", help: "involuntary context switches per second (preempted: CPU contention)", width: 7, desc: true},
	colStart:     {key: "start", title: "START", help: "start: the time today, the day this year, else the year", width: 5, left: true},
	colStarted:   {key: "started", title: "STARTED", help: "start date and time, in full", width: 19, left: true},
	colCgroup:    {key: "cgroup", title: "CGROUP", help: "workload from the cgroup path: systemd unit, container (runtime:id) or pod; else the cgroup path", width: 22, left: true},
	colProcessor: {key: "processor", title: "CPU", help: "the CPU it last ran on", width: 3},
	colTTY:       {key: "tty", title: "TTY", help: "controlling terminal", width: 6, left: true},
	colCmd:       {key: "command", title: "COMMAND", help: "command line; (comm) when it differs from the program; [comm] for kernel threads and zombies", left: true},
}

// defaultColumns is the table without a config: htop's memory and time
// columns with pinspect's thread count and context-switch rates.
var defaultColumns = []colID{colPID, colUser, colState, colCPU, colMem, colRes, colShr, colTime, colThr, colVol, colInvol, colCmd}

// colByKey finds a column by its config key.
func colByKey(k string) (colID, bool) {
	for c := colID(0); c < numCols; c++ {
		if colDefs[c].key == k {
			return c, true
		}
	}
	return 0, false
}

// columnKeys lists every column's key.
func columnKeys() []string {
	out := make([]string, numCols)
	for c := range out {
		out[c] = colDefs[c].key
	}
	return out
}

// sortKeys are the htop keys that sort by a column directly.
var sortKeys = map[rune]colID{'N': colPID, 'P': colCPU, 'M': colMem, 'T': colTime, 'V': colVol}

// cellText formats one column of a row.
func (m *tableModel) cellText(rw *row, c colID) string {
	if rw.t != nil {
		if s, ok := m.threadText(rw, c); ok {
			return s
		}
	}
	return colText[c](m, rw)
}

// statKnown is "-" for a process whose stat could not be read, else the
// formatted value.
func statKnown(p *collector.Process, f func() string) string {
	if p.Read&collector.SrcStat == 0 {
		return "-"
	}
	return f()
}

// bytesText formats an optional byte count.
func bytesText(v uint64, ok bool) string {
	if !ok {
		return "-"
	}
	return compactBytes(v)
}

// rateText formats a known rate, "-" for an unknown one.
func rateText(rw *row, f func(r rate) string) string {
	if !rw.r.ok {
		return "-"
	}
	return f(rw.r)
}

// colText formats each column of a process row.
var colText [numCols]func(m *tableModel, rw *row) string

func init() {
	colText = [numCols]func(m *tableModel, rw *row) string{
		colPID:  func(_ *tableModel, rw *row) string { return strconv.Itoa(rw.p.PID) },
		colPPID: func(_ *tableModel, rw *row) string { return strconv.Itoa(rw.p.PPID) },
		colUser: func(_ *tableModel, rw *row) string {
			if rw.p.Read&collector.SrcStatus == 0 && rw.p.User == "" {
				return "-"
			}
			return inert(rw.p.User)
		},
		colPri: func(_ *tableModel, rw *row) string { return priString(rw.p.Priority, rw.p.Read&collector.SrcStat != 0) },
		colNice: func(_ *tableModel, rw *row) string {
			return statKnown(rw.p, func() string { return strconv.FormatInt(rw.p.Nice, 10) })
		},
		colVirt:  func(_ *tableModel, rw *row) string { return bytesText(virtOf(rw.p)) },
		colRes:   func(_ *tableModel, rw *row) string { return bytesText(rssOf(rw.p)) },
		colShr:   func(_ *tableModel, rw *row) string { return bytesText(sharedOf(rw.p)) },
		colState: func(_ *tableModel, rw *row) string { return stateLetter(lifecycle.StateLetter(rw.p)) },
		colCPU: func(_ *tableModel, rw *row) string {
			return rateText(rw, func(r rate) string { return percentString(r.cpu) })
		},
		colMem: func(m *tableModel, rw *row) string {
			if v, ok := rssOf(rw.p); ok && m.memTotal > 0 {
				return percentString(100 * float64(v) / float64(m.memTotal))
			}
			return "-"
		},
		colTime: func(_ *tableModel, rw *row) string {
			return statKnown(rw.p, func() string { return cpuTimeString(rw.p.CPUTicks()) })
		},
		colThr: func(_ *tableModel, rw *row) string {
			return statKnown(rw.p, func() string { return strconv.FormatInt(rw.p.NumThreads, 10) })
		},
		colVol: func(_ *tableModel, rw *row) string {
			return rateText(rw, func(r rate) string { return rateString(r.vol) })
		},
		colInvol: func(_ *tableModel, rw *row) string {
			return rateText(rw, func(r rate) string { return rateString(r.invol) })
		},
		colStart: func(m *tableModel, rw *row) string { return startString(rw.p.StartedAt, m.now) },
		colStarted: func(_ *tableModel, rw *row) string {
			if rw.p.StartedAt.IsZero() {
				return "-"
			}
			return rw.p.StartedAt.Local().Format("2006-01-02 15:04:05")
		},
		colCgroup: func(_ *tableModel, rw *row) string { return cgroupText(rw.p) },
		colProcessor: func(_ *tableModel, rw *row) string {
			return statKnown(rw.p, func() string { return strconv.FormatInt(rw.p.Processor, 10) })
		},
		colTTY: func(_ *tableModel, rw *row) string {
			return statKnown(rw.p, func() string { return ttyText(rw.p.TTY) })
		},
		colCmd: func(m *tableModel, rw *row) string {
			if rw.hidden > 0 { // before the command, which may be cut
				return m.prefix(rw) + "[gray](" + strconv.Itoa(int(rw.hidden)) + " folded: +)[-] " + commandText(rw.p)
			}
			return m.prefix(rw) + commandText(rw.p)
		},
	}
}

// ttyText names a controlling terminal: pts/3, tty1, major:minor, "?"
// for none.
func ttyText(nr int) string {
	if n := collector.TTYName(nr); n != "" {
		return n
	}
	if nr != 0 {
		return strconv.Itoa(nr>>8&0xfff) + ":" + strconv.Itoa(nr&0xff|(nr>>12)&0xfff00)
	}
	return "?"
}

// threadText formats the columns that differ on a thread row; ok false
// for the columns that show the process's value.
func (m *tableModel) threadText(rw *row, c colID) (string, bool) {
	t := rw.t
	switch c {
	case colPID:
		return strconv.Itoa(t.TID), true
	case colState:
		return stateLetter(t.State), true
	case colPri:
		return priString(t.Priority, true), true
	case colNice:
		return strconv.FormatInt(t.Nice, 10), true
	case colTime:
		return cpuTimeString(t.CPUTicks()), true
	case colProcessor:
		return strconv.FormatInt(t.Processor, 10), true
	case colVirt, colRes, colShr, colMem, colThr, colStart, colStarted, colPPID, colTTY:
		return "", true
	case colCmd:
		return m.prefix(rw) + "· " + inert(t.Comm), true
	}
	return "", false
}

// priString is the PRI column: stat's priority, RT for real-time -100.
func priString(v int64, known bool) string {
	switch {
	case !known:
		return "-"
	case v <= -100:
		return "RT"
	}
	return strconv.FormatInt(v, 10)
}

// cgroupText is the CGROUP cell: the workload, else the cgroup path
// (its last components), "-" when not read.
func cgroupText(p *collector.Process) string {
	if p.Read&collector.SrcCgroup == 0 {
		return "-"
	}
	if w := p.Workload.String(); w != "" {
		return inert(w)
	}
	return inert(p.Cgroup)
}

// cpuTimeString formats CPU time like htop's TIME+: 12:34.56 under an
// hour, 5h12:09 under a hundred hours, 12d04h beyond.
func cpuTimeString(ticks uint64) string {
	const perSec = collector.ClockTicks
	if ticks > uint64(1<<62) {
		return "-"
	}
	cs := ticks * 100 / perSec // hundredths
	s := cs / 100
	switch {
	case s < 3600:
		return strconv.FormatUint(s/60, 10) + ":" + pad2(s%60) + "." + pad2(cs%100)
	case s < 100*3600:
		return strconv.FormatUint(s/3600, 10) + "h" + pad2(s/60%60) + ":" + pad2(s%60)
	}
	return strconv.FormatUint(s/86400, 10) + "d" + pad2(s/3600%24) + "h"
}

func pad2(v uint64) string {
	if v < 10 {
		return "0" + strconv.FormatUint(v, 10)
	}
	return strconv.FormatUint(v, 10)
}

// compareRows orders two rows by a column, then by PID.
func (m *tableModel) compareRows(a, b *row, c colID) int {
	r := colCmp[c](a, b)
	if r == 0 {
		r = cmp.Compare(a.p.PID, b.p.PID)
	}
	return r
}

// colCmp orders two process rows by each column.
var colCmp = [numCols]func(a, b *row) int{
	colPID:       func(a, b *row) int { return cmp.Compare(a.p.PID, b.p.PID) },
	colPPID:      func(a, b *row) int { return cmp.Compare(a.p.PPID, b.p.PPID) },
	colUser:      func(a, b *row) int { return strings.Compare(a.p.User, b.p.User) },
	colPri:       func(a, b *row) int { return cmp.Compare(a.p.Priority, b.p.Priority) },
	colNice:      func(a, b *row) int { return cmp.Compare(a.p.Nice, b.p.Nice) },
	colVirt:      func(a, b *row) int { return cmpKnown(virtOf(a.p))(virtOf(b.p)) },
	colRes:       func(a, b *row) int { return cmpKnown(rssOf(a.p))(rssOf(b.p)) },
	colShr:       func(a, b *row) int { return cmpKnown(sharedOf(a.p))(sharedOf(b.p)) },
	colState:     func(a, b *row) int { return cmp.Compare(a.p.State, b.p.State) },
	colCPU:       func(a, b *row) int { return cmpRate(a.r.ok, a.r.cpu, b.r.ok, b.r.cpu) },
	colMem:       func(a, b *row) int { return cmpKnown(rssOf(a.p))(rssOf(b.p)) },
	colTime:      func(a, b *row) int { return cmp.Compare(a.p.CPUTicks(), b.p.CPUTicks()) },
	colThr:       func(a, b *row) int { return cmp.Compare(a.p.NumThreads, b.p.NumThreads) },
	colVol:       func(a, b *row) int { return cmpRate(a.r.ok, a.r.vol, b.r.ok, b.r.vol) },
	colInvol:     func(a, b *row) int { return cmpRate(a.r.ok, a.r.invol, b.r.ok, b.r.invol) },
	colStart:     func(a, b *row) int { return cmp.Compare(a.p.StartTicks, b.p.StartTicks) },
	colStarted:   func(a, b *row) int { return cmp.Compare(a.p.StartTicks, b.p.StartTicks) },
	colCgroup:    func(a, b *row) int { return strings.Compare(cgroupText(a.p), cgroupText(b.p)) },
	colProcessor: func(a, b *row) int { return cmp.Compare(a.p.Processor, b.p.Processor) },
	colTTY:       func(a, b *row) int { return cmp.Compare(a.p.TTY, b.p.TTY) },
	colCmd:       func(a, b *row) int { return strings.Compare(a.p.Comm, b.p.Comm) },
}

// cmpKnown compares two optional values: unknown sorts below any value.
func cmpKnown(a uint64, aok bool) func(uint64, bool) int {
	return func(b uint64, bok bool) int {
		if aok != bok {
			if aok {
				return 1
			}
			return -1
		}
		return cmp.Compare(a, b)
	}
}

// cmpRate compares two rates: unknown sorts below any rate.
func cmpRate(aok bool, a float64, bok bool, b float64) int {
	if aok != bok {
		if aok {
			return 1
		}
		return -1
	}
	return cmp.Compare(a, b)
}

// startString formats a start time: the clock time for today, the date
// otherwise, like ps.
func startString(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	t = t.Local()
	now = now.Local()
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04")
	}
	if t.Year() == now.Year() {
		return t.Format("Jan02")
	}
	return t.Format("2006")
}
