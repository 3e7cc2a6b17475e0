package dashboard

import (
	"math"
	"strconv"
	"strings"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// meterID is one of the header's meters (F2 chooses which are shown).
type meterID uint8

// The meters. The bars (cpus, cpu, memory, swap) and PSI are drawn in
// the meter area, htop's layout: per-CPU bars on the left, memory and
// swap on the right; load and tasks are text on the header's lines.
const (
	meterCPUs meterID = iota
	meterCPUAvg
	meterMemory
	meterSwap
	meterPSI
	meterLoad
	meterTasks
	numMeters
)

var meterDefs = [numMeters]struct{ key, title, help string }{
	meterCPUs:   {"cpus", "CPUs", "a bar per CPU: user green, nice blue, system red, irq yellow, steal aqua"},
	meterCPUAvg: {"cpu", "CPU average", "one bar for all CPUs (the header's CPU busy %)"},
	meterMemory: {"memory", "Memory", "used (total - available) green, buffers blue, page cache yellow; used/total"},
	meterSwap:   {"swap", "Swap", "used swap; 'no swap' when none is configured"},
	meterPSI:    {"psi", "Pressure", "PSI: share of the last 10 s some task stalled on CPU, memory, I/O"},
	meterLoad:   {"load", "Load", "load averages over 1, 5, 15 minutes"},
	meterTasks:  {"tasks", "Tasks", "tasks by state, zombies, orphans"},
}

var defaultMeters = []meterID{meterCPUs, meterCPUAvg, meterMemory, meterSwap, meterPSI, meterLoad, meterTasks}

func meterByKey(k string) (meterID, bool) {
	for m := meterID(0); m < numMeters; m++ {
		if meterDefs[m].key == k {
			return m, true
		}
	}
	return 0, false
}

// meterLines builds the meter area for width w, at most maxLines lines:
// the CPU bars packed into columns on the left half, memory, swap and
// PSI on the right. It returns the lines (tview-tagged).
func (d *Dashboard) meterLines(w, maxLines int) []string {
	if w < 20 || maxLines <= 0 {
		return nil
	}
	var snap *collector.Snapshot
	if d.frame != nil {
		snap = d.frame.Snapshot
	}
	var sys *lifecycle.SystemRate
	if d.frame != nil && d.frame.Rates != nil {
		sys = &d.frame.Rates.System
	}
	leftW := w / 2
	rightW := w - leftW - 1
	var left, right []string
	if d.meterOn(meterMemory) {
		right = append(right, memBar(snap, rightW))
	}
	if d.meterOn(meterSwap) {
		right = append(right, swapBar(snap, rightW))
	}
	if d.meterOn(meterPSI) && len(right) < maxLines {
		right = append(right, psiLine(snap, rightW))
	}
	room := maxLines
	if d.meterOn(meterCPUAvg) {
		room--
	}
	if d.meterOn(meterCPUs) && room > 0 {
		left = cpuBars(snap, sys, leftW, room)
	}
	if d.meterOn(meterCPUAvg) {
		var avg *lifecycle.CPURate
		if sys != nil && sys.Total.CPU == -1 {
			avg = &sys.Total
		}
		left = append(left, cpuBar("Avg", avg, leftW))
	}
	n := max(len(left), len(right))
	lines := make([]string, 0, n)
	for i := 0; i < n; i++ {
		l, r := "", ""
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		lines = append(lines, padRight(l, leftW)+" "+r)
	}
	return lines
}

// meterOn reports whether a meter is shown.
func (d *Dashboard) meterOn(m meterID) bool { return d.meters[m] }

// cpuBars packs one bar per CPU into at most lines lines of width w,
// as many columns as fit (a bar needs 12 cells). When they do not fit it
// says so and gives the busiest CPU instead.
func cpuBars(snap *collector.Snapshot, sys *lifecycle.SystemRate, w, lines int) []string {
	if snap == nil {
		return []string{"[gray]CPUs: waiting for the first sample…[-]"}
	}
	if _, bad := snap.Host.Unavailable["stat"]; bad {
		return []string{"[gray]CPUs: -: /proc/stat " + inert(snap.Host.Unavailable["stat"]) + "[-]"}
	}
	n := len(snap.Host.PerCPU)
	if n == 0 {
		return []string{"[gray]CPUs: - (this source has no per-CPU times)[-]"}
	}
	rates := map[int]*lifecycle.CPURate{}
	if sys != nil {
		for i := range sys.CPUs {
			rates[sys.CPUs[i].CPU] = &sys.CPUs[i]
		}
	}
	const minBar = 12
	perLine := max(1, (n+lines-1)/lines)
	if perLine*minBar+(perLine-1) > w {
		// Too many CPUs for the room: the busiest one and the spread.
		lo, hi, hiCPU := 101.0, -1.0, -1
		for _, r := range rates {
			if r.Busy < lo {
				lo = r.Busy
			}
			if r.Busy > hi {
				hi, hiCPU = r.Busy, r.CPU
			}
		}
		if hiCPU < 0 {
			return []string{lifecycle.CountOf(n, "CPU", "CPUs") + " [gray](no rates yet)[-]"}
		}
		return []string{lifecycle.CountOf(n, "CPU", "CPUs") + ": busiest " + strconv.Itoa(hiCPU) + " " + percentString(hi) +
			"%, idlest " + percentString(lo) + "% [gray](F2: fewer meters, or a taller terminal)[-]"}
	}
	barW := (w - (perLine - 1)) / perLine
	labelW := len(strconv.Itoa(snap.Host.PerCPU[n-1].CPU))
	var out []string
	for i := 0; i < n; i += perLine {
		var b strings.Builder
		for j := i; j < min(i+perLine, n); j++ {
			if j > i {
				b.WriteByte(' ')
			}
			c := snap.Host.PerCPU[j].CPU
			b.WriteString(cpuBar(padLeft(strconv.Itoa(c), labelW), rates[c], barW))
		}
		out = append(out, b.String())
	}
	return out
}

// cpuBar draws one CPU's bar: label[|||||   12.3%] in w cells, by kind
// of time; "-" inside when the rate is not known yet.
func cpuBar(label string, r *lifecycle.CPURate, w int) string {
	if r == nil {
		return bar(label, w, nil, "-")
	}
	return bar(label, w, []barPart{
		{r.Nice, "blue"}, {r.User, "green"}, {r.System, "red"}, {r.IRQ, "yellow"}, {r.Steal, "aqua"},
	}, percentString(r.Busy)+"%")
}

// barPart is one coloured share of a bar, in percent of its width.
type barPart struct {
	pct   float64
	color string
}

// bar draws label[parts... text] in w cells: the parts as '|' in their
// colours, left to right, and the text right-aligned inside, over the
// bar (as htop does).
func bar(label string, w int, parts []barPart, text string) string {
	inner := w - len(label) - 2
	if inner < len(text) {
		return padRight(label+" "+text, w)
	}
	cells := make([]byte, inner)
	colors := make([]int8, inner) // index into parts, -1 empty
	for i := range colors {
		colors[i] = -1
	}
	pos := 0
	acc := 0.0
	for pi, p := range parts {
		acc += max(p.pct, 0)
		end := min(int(math.Round(acc/100*float64(inner))), inner)
		for ; pos < end; pos++ {
			colors[pos] = int8(pi)
		}
	}
	for i := range cells {
		cells[i] = ' '
		if colors[i] >= 0 {
			cells[i] = '|'
		}
	}
	copy(cells[inner-len(text):], text)
	var b strings.Builder
	b.WriteString("[aqua]" + label + "[-]" + literalBracket)
	cur := int8(-2)
	for i := 0; i < inner; i++ {
		col := colors[i]
		if i >= inner-len(text) {
			col = -3 // the text
		}
		if col != cur {
			switch {
			case col == -3:
				b.WriteString("[white]")
			case col < 0:
				b.WriteString("[-]")
			default:
				b.WriteString("[" + parts[col].color + "]")
			}
			cur = col
		}
		b.WriteByte(cells[i])
	}
	b.WriteString("[-]]")
	return b.String()
}

// memBar is the memory meter: used (total - available), buffers and
// page cache, and used/total.
func memBar(snap *collector.Snapshot, w int) string {
	if snap == nil {
		return bar("Mem", w, nil, "-")
	}
	h := &snap.Host
	if _, bad := h.Unavailable["meminfo"]; bad || h.MemTotalBytes == 0 {
		return bar("Mem", w, nil, "-")
	}
	tot := float64(h.MemTotalBytes)
	var used uint64
	switch {
	case h.HasMemAvail:
		used = h.MemTotalBytes - min(h.MemAvailBytes, h.MemTotalBytes)
	case h.HasMemDetail:
		used = h.MemTotalBytes - min(h.MemFreeBytes+h.MemBuffersBytes+h.MemCachedBytes, h.MemTotalBytes)
	default:
		return bar("Mem", w, nil, "-")
	}
	parts := []barPart{{100 * float64(used) / tot, "green"}}
	if h.HasMemDetail {
		cache := h.MemCachedBytes + h.MemSReclaimableBytes - min(h.MemShmemBytes, h.MemCachedBytes+h.MemSReclaimableBytes)
		room := h.MemTotalBytes - used
		buf := min(h.MemBuffersBytes, room)
		cache = min(cache, room-buf)
		parts = append(parts, barPart{100 * float64(buf) / tot, "blue"}, barPart{100 * float64(cache) / tot, "yellow"})
	}
	return bar("Mem", w, parts, humanBytes(used)+"/"+humanBytes(h.MemTotalBytes))
}

// swapBar is the swap meter; "no swap" when none is configured, "-"
// when meminfo does not say.
func swapBar(snap *collector.Snapshot, w int) string {
	if snap == nil || !snap.Host.HasSwap {
		return bar("Swp", w, nil, "-")
	}
	h := &snap.Host
	if h.SwapTotalBytes == 0 {
		return bar("Swp", w, nil, "no swap")
	}
	used := h.SwapTotalBytes - min(h.SwapFreeBytes, h.SwapTotalBytes)
	return bar("Swp", w, []barPart{{100 * float64(used) / float64(h.SwapTotalBytes), "red"}},
		humanBytes(used)+"/"+humanBytes(h.SwapTotalBytes))
}

// psiLine is the pressure meter: the share of the last 10 s some task
// stalled on each resource.
func psiLine(snap *collector.Snapshot, w int) string {
	return padRight("[aqua]PSI[-] "+psiText(snap), w)
}

// psiText is "cpu 12.3% mem 0.0% io 1.2% (some, 10 s)", with "-" and the
// reason for what could not be read.
func psiText(snap *collector.Snapshot) string {
	if snap == nil || snap.Host.Pressure == nil {
		return "-"
	}
	hp := snap.Host.Pressure
	var b strings.Builder
	one := func(name string, p *collector.Pressure, key string) {
		b.WriteString(name + " ")
		if p == nil {
			b.WriteString("-")
			return
		}
		v := p.Some.Avg10
		switch {
		case v >= 40:
			b.WriteString("[red]")
		case v >= 10:
			b.WriteString("[yellow]")
		default:
			b.WriteString("[-]")
		}
		b.WriteString(percentString(v) + "%[-]")
		_ = key
	}
	one("cpu", hp.CPU, "cpu")
	b.WriteByte(' ')
	one("mem", hp.Memory, "memory")
	b.WriteByte(' ')
	one("io", hp.IO, "io")
	if hp.CPU == nil && hp.Memory == nil && hp.IO == nil {
		if why := hp.Unavailable["cpu"]; why != "" {
			return "- [gray](" + inert(why) + ")[-]"
		}
	}
	b.WriteString(" [gray](some, 10s)[-]")
	return b.String()
}
