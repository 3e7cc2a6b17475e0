package dashboard

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// seg is one item of a header line: its text, a shorter form for narrow
// screens ("" when it has none), and its priority (0 and below are never
// dropped; a larger number is shortened, then dropped, first when the
// line does not fit, so a negative one is shortened after those of 0).
type seg struct {
	long, short string
	prio        int
}

// fit joins segments with two spaces into at most w cells: it switches
// the least important segments to their short forms first, then drops
// them, least important first. Segments of priority 0 and below always
// stay.
func fit(segs []seg, w int) string {
	use := make([]string, len(segs))
	for i, s := range segs {
		use[i] = s.long
	}
	width := func() int {
		n := 0
		for _, u := range use {
			if u != "" {
				if n > 0 {
					n += 2
				}
				n += taggedWidth(u)
			}
		}
		return n
	}
	order := make([]int, len(segs))
	for i := range order {
		order[i] = i
	}
	// Least important first; among equals, the later one.
	slices.SortStableFunc(order, func(a, b int) int {
		if segs[a].prio != segs[b].prio {
			return segs[b].prio - segs[a].prio
		}
		return b - a
	})
	for _, i := range order {
		if width() <= w {
			break
		}
		if segs[i].short != "" {
			use[i] = segs[i].short
		}
	}
	for _, i := range order {
		if width() <= w {
			break
		}
		if segs[i].prio > 0 {
			use[i] = ""
		}
	}
	var b strings.Builder
	for _, u := range use {
		if u == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("  ")
		}
		b.WriteString(u)
	}
	return b.String()
}

// headerLines formats the header's text lines for width w.
func (d *Dashboard) headerLines(w int) []string {
	var snap *collector.Snapshot
	if d.frame != nil {
		snap = d.frame.Snapshot
	}
	return []string{fit(d.hostSegs(snap), w), fit(d.activitySegs(snap), w), fit(d.shapeSegs(snap), w)}
}

// hostSegs is line 1: where the data comes from, the host, its load,
// CPU busy share and memory.
func (d *Dashboard) hostSegs(snap *collector.Snapshot) []seg {
	segs := []seg{{long: "[::b]pinspect[::-]", prio: 0}}
	if d.opts.Timeline != nil {
		segs = append(segs, seg{long: "[black:aqua] REPLAY " + inert(d.opts.Timeline.Where()) + " [-:-]", prio: 0})
	}
	if d.opts.Origin != "" {
		segs = append(segs, seg{long: "[black:aqua] " + inert(d.opts.Origin) + " [-:-]", prio: 0})
	}
	if snap == nil {
		return append(segs, seg{long: "waiting for the first sample…", prio: 0})
	}
	h := &snap.Host
	segs = append(segs, seg{long: "[aqua]" + inert(h.Hostname) + "[-]", prio: 2})
	if d.frame != nil && d.frame.Rates != nil {
		segs = append(segs, seg{long: "CPU " + percentString(d.frame.Rates.System.CPUPercent) + "%", prio: 1})
	} else {
		segs = append(segs, seg{long: "CPU -", prio: 1})
	}
	if d.meterOn(meterLoad) {
		if _, bad := h.Unavailable["loadavg"]; bad {
			segs = append(segs, seg{long: "load -", prio: 3})
		} else {
			segs = append(segs, seg{long: "load " + strconv.FormatFloat(h.Load1, 'f', 2, 64) + " " +
				strconv.FormatFloat(h.Load5, 'f', 2, 64) + " " + strconv.FormatFloat(h.Load15, 'f', 2, 64),
				short: "load " + strconv.FormatFloat(h.Load1, 'f', 2, 64), prio: 3})
		}
	}
	if h.CPUs > 0 {
		segs = append(segs, seg{long: "CPUs " + strconv.Itoa(h.CPUs), prio: 6})
	} else {
		segs = append(segs, seg{long: "CPUs ?", prio: 6}) // cpuinfo unreadable: unknown, not 0
	}
	if h.UptimeSeconds > 0 {
		segs = append(segs, seg{long: "up " + durationString(time.Duration(h.UptimeSeconds*float64(time.Second))), prio: 5})
	}
	if !d.meterOn(meterMemory) && h.MemTotalBytes > 0 && h.HasMemAvail {
		segs = append(segs, seg{long: "mem " + humanBytes(h.MemTotalBytes-min(h.MemAvailBytes, h.MemTotalBytes)) + "/" + humanBytes(h.MemTotalBytes), prio: 4})
	}
	if d.meterOn(meterPSI) && d.lastH < meterTallH {
		segs = append(segs, seg{long: "PSI " + psiText(snap), prio: 4})
	}
	if h.Kernel != "" {
		segs = append(segs, seg{long: inert(h.Kernel), prio: 7})
	}
	return segs
}

// activitySegs is line 2: tasks by state, orphans, context switches,
// forks, the interval and the state of kernel events. The zombies are
// zombie processes (lifecycle.IsZombie): a process whose main thread
// exited while others run shows Z but is alive, and is not counted.
func (d *Dashboard) activitySegs(snap *collector.Snapshot) []seg {
	var segs []seg
	if snap != nil {
		c := lifecycle.CountStates(snap)
		n := &c.ByLetter
		z := "0 zombie"
		if c.Zombies > 0 {
			z = "[red::b]" + strconv.Itoa(c.Zombies) + " zombie[-::-]"
		}
		segs = append(segs, seg{
			long: "tasks " + strconv.Itoa(c.Total) + ": [lime]" + strconv.Itoa(n['R']) + " running[-], " +
				strconv.Itoa(n['S']+n['I']) + " sleeping, [orange]" + strconv.Itoa(n['D']) + " uninterruptible[-], [fuchsia]" +
				strconv.Itoa(n['T']+n['t']) + " stopped[-], " + z,
			short: "tasks " + strconv.Itoa(c.Total) + " [lime]" + strconv.Itoa(n['R']) + "R[-] " + strconv.Itoa(n['S']+n['I']) + "S [orange]" +
				strconv.Itoa(n['D']) + "D[-] [fuchsia]" + strconv.Itoa(n['T']+n['t']) + "T[-] " + z,
			prio: 0})
		if n := d.fd.orphans(); n >= 0 {
			segs = append(segs, seg{long: "orphans " + strconv.Itoa(n), prio: 0})
		}
		if v, ok := d.fd.systemCtx(); ok {
			segs = append(segs, seg{long: "ctx " + rateString(v) + "/s", prio: 0})
		} else {
			segs = append(segs, seg{long: "ctx -/s", prio: 0})
		}
		if d.frame != nil && d.frame.Rates != nil {
			segs = append(segs, seg{long: "forks " + rateString(d.frame.Rates.System.ForksPerSec) + "/s", prio: 3})
		}
	}
	if d.opts.Timeline == nil {
		segs = append(segs, seg{long: "every " + intervalString(d.interval), short: intervalString(d.interval), prio: 2})
	}
	if d.frame != nil {
		segs = append(segs, d.eventsSeg())
	}
	if d.paused {
		segs = append(segs, seg{long: "[black:yellow]PAUSED[-:-]", prio: 0})
	}
	return segs
}

// eventsBehindAfter is how far behind the clock the events may run
// before the header stops calling them live: two intervals (at least 2 s).
func (d *Dashboard) eventsBehindAfter() time.Duration {
	return max(2*d.interval, 2*time.Second)
}

// eventsSeg says where events come from and whether they keep up: live
// (the kernel's connector, in time), N s behind (the connector, or the
// dashboard, is late: the header must not say live then), or polled. A
// replay's events are neither live nor late: they were recorded, up to
// the sample shown, by the connector, the BPF tracepoints or polling (as
// the recorded frame's note says).
func (d *Dashboard) eventsSeg() seg {
	f := d.frame
	lag := d.eventLag()
	switch {
	case d.opts.Timeline != nil:
		how := "polled"
		switch monitor.EventsSourceOf(f.EventsLive, f.EventsNote) {
		case lifecycle.SourceTracepoint:
			how = "tracepoints"
		case lifecycle.SourceConnector:
			how = "connector"
		}
		s, short := "events [aqua]recorded[-]", "events"
		if f.Snapshot != nil {
			at := " to " + f.Snapshot.TakenAt.Local().Format("15:04:05")
			s, short = s+at, short+at
		}
		// The source outranks the long task breakdown (-1); the short
		// form keeps the time whole at 80 columns.
		return seg{long: s + " [gray](" + how + ")[-]", short: short, prio: -1}
	case f.EventsLive && lag >= d.eventsBehindAfter():
		s := "events [red::b]" + durationString(lag) + " behind[-::-]"
		return seg{long: s, prio: 0}
	case f.EventsLive:
		return seg{long: "events [lime]live[-]", prio: 0}
	}
	s := "events [yellow]polled[-]"
	if f.EventsNote != "" {
		return seg{long: s + " [gray](" + inert(f.EventsNote) + ")[-]", short: s, prio: 0}
	}
	return seg{long: s, prio: 0}
}

// eventLag is how far behind the events shown are: what the monitor's
// kernel source reported for the last frame, or the age of the frame
// itself when the dashboard applies it late.
func (d *Dashboard) eventLag() time.Duration {
	if d.frame == nil || d.opts.Timeline != nil {
		return 0
	}
	return max(d.frame.EventsBehind, d.applyLag)
}

// shapeSegs is line 3: how the table is shaped, and the scan.
func (d *Dashboard) shapeSegs(snap *collector.Snapshot) []seg {
	var segs []seg
	dir := "▲"
	if d.vo.sortDesc {
		dir = "▼"
	}
	segs = append(segs, seg{long: "[gray]sort[-] " + colDefs[d.vo.sortCol].title + dir, prio: 2})
	if d.vo.filter != "" {
		segs = append(segs, seg{long: "[gray]filter[-] [yellow]" + inert(d.vo.filterTyped) + "[-]", prio: 0})
	}
	if d.search != "" {
		segs = append(segs, seg{long: "[gray]search[-] " + inert(d.search), prio: 3})
	}
	if d.vo.users != nil {
		us := make([]string, 0, len(d.vo.users))
		for u := range d.vo.users {
			us = append(us, u)
		}
		slices.Sort(us)
		segs = append(segs, seg{long: "[gray]user[-] [yellow]" + inert(strings.Join(us, ",")) + "[-]", prio: 0})
	}
	if d.vo.workload != "" {
		segs = append(segs, seg{long: "[gray]cgroup[-] [yellow]" + inert(d.vo.workload) + "[-]", prio: 0})
	}
	if d.vo.pids != nil {
		ps := make([]int, 0, len(d.vo.pids))
		for p := range d.vo.pids {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		var b strings.Builder
		for i, p := range ps {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
		segs = append(segs, seg{long: "[gray]pid[-] [yellow]" + b.String() + "[-]", prio: 0})
	}
	if d.vo.states != "" {
		segs = append(segs, seg{long: "[gray]state[-] [yellow]" + d.vo.states + "[-]", prio: 0})
	}
	if d.vo.hideKernel {
		segs = append(segs, seg{long: "[yellow]no kernel threads[-]", short: "[yellow]-kthr[-]", prio: 1})
	}
	if d.vo.tree {
		segs = append(segs, seg{long: "[yellow]tree[-]", prio: 1})
	}
	if d.vo.threads {
		s := "[yellow]threads[-]"
		if snap != nil && !snap.ThreadsRead {
			s += " [gray](of the selected process)[-]"
		}
		segs = append(segs, seg{long: s, short: "[yellow]threads[-]", prio: 1})
	}
	if n := len(d.model.tagged); n > 0 {
		segs = append(segs, seg{long: "[yellow]" + strconv.Itoa(n) + " tagged[-]", prio: 0})
	}
	if snap == nil {
		return segs
	}
	segs = append(segs, seg{long: "[gray]shown[-] " + strconv.Itoa(d.model.shown) + "/" + strconv.Itoa(d.model.total), prio: 1})
	if c := snap.Counts; c.Vanished+c.Denied+c.Unreadable > 0 {
		segs = append(segs, seg{long: "[gray]vanished " + strconv.Itoa(c.Vanished) + " denied " + strconv.Itoa(c.Denied) +
			" unreadable " + strconv.Itoa(c.Unreadable) + "[-]", prio: 6})
	}
	sc := "[gray]scan " + strconv.FormatInt(snap.ScanDuration.Milliseconds(), 10) + "ms"
	if snap.Collector != "" {
		sc += " (" + inert(string(snap.Collector)) + ")"
	}
	segs = append(segs, seg{long: sc + "[-]", prio: 4})
	switch snap.CtxSwitchSource {
	case collector.CtxLeaderOnly:
		segs = append(segs, seg{long: "[gray]csw/s: leader thread (all threads in the detail view)[-]", short: "[gray]csw/s: leader[-]", prio: 5})
	case "":
	default:
		segs = append(segs, seg{long: "[gray]csw/s: " + inert(string(snap.CtxSwitchSource)) + "[-]", prio: 7})
	}
	return segs
}

// updateHeader formats the meters and the header lines for the screen.
func (d *Dashboard) updateHeader() {
	w := d.lastW
	if w <= 0 {
		w = 80
	}
	lines := d.meterLines(w, d.meterRows)
	lines = append(lines, d.headerLines(w)...)
	d.header.SetText(strings.Join(lines, "\n"))
	if n := len(lines); n != d.headerH && d.main != nil {
		d.headerH = n
		d.layout(d.lastW, d.lastH)
	}
}
