package dashboard

import (
	"strconv"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// updateHeader formats the three header lines.
func (d *Dashboard) updateHeader() {
	var b strings.Builder
	var snap *collector.Snapshot
	if d.frame != nil {
		snap = d.frame.Snapshot
	}
	b.WriteString("[::b]pinspect[::-] ")
	if tl := d.opts.Timeline; tl != nil {
		b.WriteString("[black:aqua]REPLAY " + inert(tl.Where()) + "[-:-] ")
	}
	writeHost(&b, snap)
	b.WriteByte('\n')
	d.writeActivity(&b, snap)
	b.WriteByte('\n')
	d.writeShape(&b, snap)
	d.header.SetText(b.String())
}

// writeHost writes line 1: the host.
func writeHost(b *strings.Builder, snap *collector.Snapshot) {
	if snap == nil {
		b.WriteString(" waiting for the first sample…")
		return
	}
	h := &snap.Host
	b.WriteString(" [aqua]" + inert(h.Hostname) + "[-]")
	if h.UptimeSeconds > 0 {
		b.WriteString("  up " + durationString(time.Duration(h.UptimeSeconds*float64(time.Second))))
	}
	b.WriteString("  load " + strconv.FormatFloat(h.Load1, 'f', 2, 64) + " " +
		strconv.FormatFloat(h.Load5, 'f', 2, 64) + " " + strconv.FormatFloat(h.Load15, 'f', 2, 64))
	b.WriteString("  CPUs " + strconv.Itoa(h.CPUs))
	if h.MemTotalBytes > 0 {
		b.WriteString("  mem " + humanBytes(h.MemTotalBytes-min(h.MemAvailBytes, h.MemTotalBytes)) + "/" + humanBytes(h.MemTotalBytes))
	}
	if h.Kernel != "" {
		b.WriteString("  " + inert(h.Kernel))
	}
}

// writeActivity writes line 2: tasks by state, orphans, context
// switches, interval, events. The zombies are zombie processes
// (lifecycle.IsZombie): a process whose main thread exited while others
// run shows Z but is alive, and is not counted as one.
func (d *Dashboard) writeActivity(b *strings.Builder, snap *collector.Snapshot) {
	if snap != nil {
		c := lifecycle.CountStates(snap)
		n := &c.ByLetter
		b.WriteString("tasks " + strconv.Itoa(c.Total) + ": [lime]" + strconv.Itoa(n['R']) + " running[-], " +
			strconv.Itoa(n['S']+n['I']) + " sleeping, [orange]" + strconv.Itoa(n['D']) + " uninterruptible[-], [fuchsia]" +
			strconv.Itoa(n['T']+n['t']) + " stopped[-], ")
		if c.Zombies > 0 {
			b.WriteString("[red::b]" + strconv.Itoa(c.Zombies) + " zombie[-::-]")
		} else {
			b.WriteString("0 zombie")
		}
		if n := d.fd.orphans(); n >= 0 {
			b.WriteString("  orphans " + strconv.Itoa(n))
		}
		if v, ok := d.fd.systemCtx(); ok {
			b.WriteString("  ctx " + rateString(v) + "/s")
		} else {
			b.WriteString("  ctx -/s")
		}
	}
	b.WriteString("  every " + intervalString(d.interval))
	if d.frame != nil {
		if d.frame.EventsLive {
			b.WriteString("  events [lime]live[-]")
		} else {
			b.WriteString("  events [yellow]polled[-]")
			if d.frame.EventsNote != "" {
				b.WriteString(" (" + inert(d.frame.EventsNote) + ")")
			}
		}
	}
	if d.paused {
		b.WriteString("  [black:yellow]PAUSED[-:-]")
	}
}

// writeShape writes line 3: how the table is shaped, and the scan.
func (d *Dashboard) writeShape(b *strings.Builder, snap *collector.Snapshot) {
	b.WriteString("[gray]sort[-] " + colTitles[d.vo.sortCol])
	if d.vo.sortDesc {
		b.WriteString("▼")
	} else {
		b.WriteString("▲")
	}
	if d.vo.filter != "" {
		b.WriteString("  [gray]filter[-] [yellow]" + inert(d.vo.filter) + "[-]")
	}
	if d.vo.states != "" {
		b.WriteString("  [gray]state[-] [yellow]" + d.vo.states + "[-]")
	}
	if d.vo.tree {
		b.WriteString("  [yellow]tree[-]")
	}
	if d.vo.threads {
		b.WriteString("  [yellow]threads[-]")
		if snap != nil && !snap.ThreadsRead {
			b.WriteString(" [gray](of the selected process)[-]")
		}
	}
	if snap == nil {
		return
	}
	b.WriteString("  [gray]shown[-] " + strconv.Itoa(d.model.shown) + "/" + strconv.Itoa(d.model.total))
	if c := snap.Counts; c.Vanished+c.Denied+c.Unreadable > 0 {
		b.WriteString("  [gray]vanished " + strconv.Itoa(c.Vanished) + " denied " + strconv.Itoa(c.Denied) +
			" unreadable " + strconv.Itoa(c.Unreadable) + "[-]")
	}
	b.WriteString("  [gray]scan " + strconv.FormatInt(snap.ScanDuration.Milliseconds(), 10) + "ms")
	if snap.Collector != "" {
		b.WriteString(" (" + inert(string(snap.Collector)) + ")")
	}
	b.WriteString("[-]")
	switch snap.CtxSwitchSource {
	case collector.CtxLeaderOnly:
		b.WriteString("  [gray]csw/s: leader thread (all threads in the detail view)[-]")
	case "":
	default:
		b.WriteString("  [gray]csw/s: " + inert(string(snap.CtxSwitchSource)) + "[-]")
	}
}

// maxZombiesListed caps the pids listed per parent in the zombie panel.
const maxZombiesListed = 6

// updateZombies formats the zombie panel.
func (d *Dashboard) updateZombies() {
	var groups []zombieGroup
	if d.fd != nil {
		groups = d.fd.zombies()
	}
	total := 0
	for _, g := range groups {
		total += len(g.zombies)
	}
	if d.vo.filter != "" {
		// With a filter, the parents that match it.
		kept := groups[:0:0]
		for _, g := range groups {
			if containsFold(g.parentComm, d.vo.filter) || strings.HasPrefix(strconv.Itoa(g.parent.PID), d.vo.filter) {
				kept = append(kept, g)
			}
		}
		groups = kept
	}
	d.zombieView.SetTitle(" zombies: " + strconv.Itoa(total) + " ")
	if total == 0 {
		d.zombieView.SetText("[gray]no zombies[-]")
		return
	}
	if len(groups) == 0 {
		d.zombieView.SetText("[gray]no zombie parent matches the filter[-]")
		return
	}
	var b strings.Builder
	for _, g := range groups {
		b.WriteString("[red::b]" + strconv.Itoa(len(g.zombies)) + "[-::-] of parent [::b]" + strconv.Itoa(g.parent.PID) + "[::-]")
		if g.parentComm != "" {
			b.WriteString(" (" + inert(g.parentComm) + ")")
		}
		if g.parentInfo != "" {
			b.WriteString(" " + inert(g.parentInfo))
		}
		b.WriteString(":")
		for i, z := range g.zombies {
			if i == maxZombiesListed {
				b.WriteString(" …")
				break
			}
			b.WriteString(" " + strconv.Itoa(z.PID))
			if i < len(g.statuses) && g.statuses[i] != "" {
				b.WriteString("(" + g.statuses[i] + ")")
			}
		}
		b.WriteByte('\n')
		if g.diagnosis != "" {
			b.WriteString("  " + inert(g.diagnosis) + "\n")
		}
		if g.remedy != "" {
			b.WriteString("  [yellow]→ " + inert(g.remedy) + "[-]\n")
		}
	}
	d.zombieView.SetText(b.String())
}

// updateKeys formats the footer.
func (d *Dashboard) updateKeys() {
	if d.status != "" && d.frame != nil && d.frame.Seq > d.statusUntil {
		d.status = ""
	}
	var s string
	front, _ := d.pages.GetFrontPage()
	if front == pageDetail {
		s = "[black:aqua]Esc[-:-] back [black:aqua]Tab[-:-] next tab [black:aqua]1-4[-:-] tab "
	} else {
		s = "[black:aqua]Enter[-:-] detail [black:aqua]/[-:-] filter [black:aqua]t[-:-] tree [black:aqua]H[-:-] threads " +
			"[black:aqua]s[-:-] state [black:aqua]z[-:-] zombies [black:aqua]<>[-:-] sort [black:aqua]e[-:-] panels "
	}
	if d.opts.Signal != nil {
		s += "[black:aqua]k[-:-] signal "
	}
	s += "[black:aqua]space[-:-] pause [black:aqua]+-[-:-] interval [black:aqua]?[-:-] help [black:aqua]q[-:-] quit"
	if d.status != "" {
		s = d.status + "  " + s
	}
	d.keys.SetText(s)
}

// helpText is the ? page.
func helpText(signals bool) string {
	s := `[::b]Process table[::-]
  ↑ ↓ PgUp PgDn Home End, j  move; mouse click selects, wheel scrolls
  Enter, double click        open the detail view of the selected process
  /                          filter by name, command line or pid (Enter keeps it, Esc clears it)
  Esc                        clear the filter and the state filter
  t                          tree view by parent
  H                          show threads under their process
  s                          cycle the state filter: all, R, S, D, Z, T, I
  z                          zombies only (again: all)
  < > F6, click a header     choose the sort column (again on the same header: reverse)
  r                          reverse the sort
  N P M V I T                sort by PID, CPU%, RSS, VCSW/s, NVCSW/s, START
  e                          show or hide the zombie, event and findings panels

[::b]Detail view[::-]
  Tab Shift-Tab ← →, 1-5     switch tab: Threads, Memory, Lifecycle, Status, Explain
  l (Explain tab)            show or hide the lesson behind each finding
  Esc, Backspace             back to the table

[::b]Everywhere[::-]
  space                      pause or resume sampling
  + -                        change the refresh interval
`
	if signals {
		s += "  k                          send a signal to the selected process (asks first)\n"
	}
	s += `  ?                          this help
  q, Ctrl-C                  quit

[::b]Columns[::-]
  S: state (R running, S sleeping, D uninterruptible, Z zombie, T stopped, I idle)
  THR: threads; CPU%: of one CPU since the last sample
  VCSW/s, NVCSW/s: voluntary (blocked, I/O-bound) and involuntary (preempted,
  CPU contention) context switches per second
  An event marked * came from the kernel's process-events connector.`
	return s
}
