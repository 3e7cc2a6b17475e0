package dashboard

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// The detail view's tabs.
const (
	tabThreads = iota
	tabMemory
	tabLifecycle
	tabStatus
	tabExplain
	numTabs
)

var tabNames = [numTabs]string{"Threads", "Memory", "Lifecycle", "Status", "Explain"}

// detailView shows one process: its threads, address space, lifecycle and
// status, one tab at a time. Only the visible tab is formatted per frame.
type detailView struct {
	d        *Dashboard
	root     *tview.Flex
	title    *tview.TextView
	tabBar   *tview.TextView
	body     *tview.Pages
	thrModel *gridModel
	thrTable *tview.Table
	memView  *tview.TextView
	memModel *gridModel
	memTable *tview.Table
	memFlex  *tview.Flex
	life     *tview.TextView
	status   *tview.TextView
	explain  *tview.TextView // the Explain tab (explain.go)
	teach    bool            // the Explain tab shows the lessons
	tab      int
	id       collector.ID
	tabX     [numTabs + 1]int // tab label boundaries in the tab bar
}

func newDetailView(d *Dashboard) *detailView {
	v := &detailView{d: d}
	v.title = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	v.tabBar = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	v.tabBar.SetMouseCapture(func(action tview.MouseAction, ev *tcell.EventMouse) (tview.MouseAction, *tcell.EventMouse) {
		if action != tview.MouseLeftClick {
			return action, ev
		}
		x, _ := ev.Position()
		bx, _, _, _ := v.tabBar.GetInnerRect()
		for i := 0; i < numTabs; i++ {
			if x-bx >= v.tabX[i] && x-bx < v.tabX[i+1] {
				v.setTab(i)
				return tview.MouseConsumed, nil
			}
		}
		return action, ev
	})
	v.thrModel = newGridModel(
		[]string{"TID", "COMM", "S", "CPU%", "VCSW/s", "NVCSW/s", "VCSW", "NVCSW", "CPU", "STACK"},
		[]bool{true, false, false, true, true, true, true, true, true, false})
	v.thrTable = newGridTable(v.thrModel)
	v.memView = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	v.memModel = newGridModel(
		[]string{"START", "END", "PERMS", "CLASS", "SIZE", "RSS", "PATH"},
		[]bool{false, false, false, false, true, true, false})
	v.memTable = newGridTable(v.memModel)
	v.memFlex = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(v.memView, 0, 1, false).
		AddItem(v.memTable, 0, 1, true)
	v.life = tview.NewTextView().SetDynamicColors(true).SetWrap(false).SetScrollable(true)
	v.status = tview.NewTextView().SetDynamicColors(true).SetWrap(false).SetScrollable(true)
	v.explain = tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true).SetScrollable(true)
	v.body = tview.NewPages().
		AddPage(tabNames[tabThreads], v.thrTable, true, true).
		AddPage(tabNames[tabMemory], v.memFlex, true, false).
		AddPage(tabNames[tabLifecycle], v.life, true, false).
		AddPage(tabNames[tabStatus], v.status, true, false).
		AddPage(tabNames[tabExplain], v.explain, true, false)
	v.root = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(v.title, 2, 0, false).
		AddItem(v.tabBar, 1, 0, false).
		AddItem(v.body, 0, 1, true).
		AddItem(d.keys, 1, 0, false)
	v.drawTabs()
	return v
}

// layout shrinks the fixed rows on small screens.
func (v *detailView) layout(_, h int) {
	titleH, barH, keysH := 2, 1, 1
	if h < 8 {
		titleH = 0
	}
	if h < 4 {
		barH = 0
	}
	if h < 3 {
		keysH = 0
	}
	v.root.ResizeItem(v.title, titleH, 0)
	v.root.ResizeItem(v.tabBar, barH, 0)
	v.root.ResizeItem(v.d.keys, keysH, 0)
}

// open shows a process, keeping the current tab.
func (v *detailView) open(id collector.ID, pid int) {
	v.id = id
	v.thrTable.Select(1, 0).ScrollToBeginning()
	v.memTable.Select(1, 0).ScrollToBeginning()
	v.life.ScrollToBeginning()
	v.status.ScrollToBeginning()
	v.explain.ScrollToBeginning()
	v.d.updateKeys()
	v.refreshOpen()
}

func (v *detailView) isOpen() bool {
	front, _ := v.d.pages.GetFrontPage()
	return front == pageDetail || front == pageConfirm
}

// refresh updates the view for a new frame when it is open.
func (v *detailView) refresh() {
	if v.isOpen() {
		v.refreshOpen()
	}
}

// focusTarget is the primitive that takes keys for the current tab.
func (v *detailView) focusTarget() tview.Primitive {
	switch v.tab {
	case tabThreads:
		return v.thrTable
	case tabMemory:
		return v.memTable
	case tabLifecycle:
		return v.life
	case tabExplain:
		return v.explain
	}
	return v.status
}

func (v *detailView) setTab(i int) {
	v.tab = (i + numTabs) % numTabs
	v.body.SwitchToPage(tabNames[v.tab])
	v.d.app.SetFocus(v.focusTarget())
	v.drawTabs()
	v.refreshOpen()
}

// onKey handles the detail view's own keys; it reports whether it used
// the key.
func (v *detailView) onKey(ev *tcell.EventKey) bool {
	switch ev.Key() {
	case tcell.KeyTab, tcell.KeyRight:
		v.setTab(v.tab + 1)
		return true
	case tcell.KeyBacktab, tcell.KeyLeft:
		v.setTab(v.tab - 1)
		return true
	case tcell.KeyBackspace, tcell.KeyBackspace2:
		v.d.closeDetail()
		return true
	case tcell.KeyRune:
		if r := ev.Rune(); r >= '1' && r < '1'+numTabs {
			v.setTab(int(r - '1'))
			return true
		}
		if ev.Rune() == 'l' && v.tab == tabExplain {
			v.teach = !v.teach
			v.refreshOpen()
			return true
		}
	}
	return false
}

func (v *detailView) drawTabs() {
	var b strings.Builder
	x := 0
	for i, n := range tabNames {
		v.tabX[i] = x
		label := " " + strconv.Itoa(i+1) + " " + n + " "
		if i == v.tab {
			b.WriteString("[black:aqua]" + label + "[-:-]")
		} else {
			b.WriteString("[white:navy]" + label + "[-:-]")
		}
		b.WriteByte(' ')
		x += len(label) + 1
	}
	v.tabX[numTabs] = x
	v.tabBar.SetText(b.String())
}

// process returns the newest data for the shown process: the focus data
// when it is this process (it has threads), else the snapshot's entry, or
// nil when the process is gone.
func (v *detailView) process() *collector.Process {
	if f := v.d.focus; f != nil && f.proc != nil && f.proc.ID() == v.id {
		return f.proc
	}
	if v.d.frame == nil || v.d.frame.Snapshot == nil {
		return nil
	}
	p := lifecycle.Find(v.d.frame.Snapshot, v.id.PID)
	if p == nil || p.StartTicks != v.id.StartTicks {
		return nil
	}
	return p
}

// focusFor returns the focus data when it is about the shown process.
func (v *detailView) focusFor() *focusData {
	if f := v.d.focus; f != nil && f.pid == v.id.PID && (f.proc == nil || f.proc.ID() == v.id) {
		return f
	}
	return nil
}

func (v *detailView) refreshOpen() {
	if v.d.frame == nil || v.d.frame.Snapshot == nil {
		return
	}
	p := v.process()
	var b strings.Builder
	if p == nil {
		b.WriteString("[red::b]process " + strconv.Itoa(v.id.PID) + " is gone[-::-]")
		b.WriteString(" (it exited or its pid was reused); Esc goes back\n")
		v.title.SetText(b.String())
		return
	}
	b.WriteString("[::b]" + strconv.Itoa(p.PID) + " " + inert(p.Comm) + "[::-]  ")
	b.WriteString("[" + colorName(stateColor(p.State)) + "]" + stateText(p) + "[-]")
	b.WriteString("  user " + inert(p.User) + "  parent " + strconv.Itoa(p.PPID) + "  threads " + strconv.FormatInt(p.NumThreads, 10))
	if v.d.fd != nil {
		if r := v.d.fd.procRate(p); r.ok {
			b.WriteString("  CPU " + percentString(r.cpu) + "%  vcsw/s " + rateString(r.vol) + "  nvcsw/s " + rateString(r.invol))
		}
	}
	b.WriteString("\n[gray]" + commandText(p) + "[-]")
	v.title.SetText(b.String())

	switch v.tab {
	case tabThreads:
		v.fillThreads(p)
	case tabMemory:
		v.fillMemory(p)
	case tabLifecycle:
		v.fillLifecycle(p)
	case tabStatus:
		v.fillStatus(p)
	case tabExplain:
		v.fillExplain(p.PID)
	}
}

func colorName(c tcell.Color) string {
	for name, v := range tcell.ColorNames {
		if v == c {
			return name
		}
	}
	return "white"
}

// stackOf finds the stack mapping of a thread in the address space.
func stackOf(mem *memView, tid int, leader bool) string {
	if mem == nil {
		return "-"
	}
	for i := range mem.maps {
		m := &mem.maps[i]
		isStack := m.class == string(collector.SegStack) || m.class == string(collector.SegThreadStack)
		if isStack && ((m.tid == tid && tid != 0) || (leader && m.class == string(collector.SegStack))) {
			return hex(m.start) + " " + humanBytes(m.end-m.start)
		}
	}
	if why, ok := mem.stackWhy[tid]; ok {
		return "? (" + inert(why) + ")"
	}
	return "-"
}

func hex(v uint64) string { return strconv.FormatUint(v, 16) }

func (v *detailView) fillThreads(p *collector.Process) {
	rows := v.thrModel.rows[:0]
	clear(v.thrModel.rows)
	f := v.focusFor()
	var mem *memView
	if f != nil {
		mem = f.mem
	}
	for i := range p.Threads {
		t := &p.Threads[i]
		r := v.d.fd.threadRate(p, t)
		cpu, vol, invol := "-", "-", "-"
		if r.ok {
			cpu, vol, invol = percentString(r.cpu), rateString(r.vol), rateString(r.invol)
		}
		vc, ic := "-", "-"
		if t.HasStatus {
			vc, ic = strconv.FormatUint(t.VolCtx, 10), strconv.FormatUint(t.InvolCtx, 10)
		}
		rows = append(rows, gridRow{
			text: []string{strconv.Itoa(t.TID), inert(t.Comm), stateLetter(t.State), cpu, vol, invol, vc, ic,
				strconv.FormatInt(t.Processor, 10), stackOf(mem, t.TID, t.TID == p.PID)},
			color: stateColor(t.State),
		})
	}
	if len(p.Threads) == 0 {
		msg := "waiting for this process's threads…"
		if f != nil && f.err != "" {
			msg = "threads unavailable: " + inert(f.err)
		} else if r, ok := p.Unavailable["threads"]; ok {
			msg = "threads unavailable: " + inert(r)
		}
		rows = append(rows, gridRow{text: []string{"", msg}, color: tcell.ColorGray})
	}
	v.thrModel.rows = rows
}

func (v *detailView) fillMemory(p *collector.Process) {
	f := v.focusFor()
	var mem *memView
	note := "waiting for the address space…"
	if f != nil {
		mem = f.mem
		if f.memNote != "" {
			note = f.memNote
		}
	}
	if r, ok := p.Unavailable["maps"]; ok {
		note = "maps unavailable: " + r
	}
	var b strings.Builder
	b.WriteString("[::b]Address space[::-]  " + memoryText(p) + "\n")
	rows := v.memModel.rows[:0]
	clear(v.memModel.rows)
	if mem == nil {
		b.WriteString("[gray]" + inert(note) + "[-]\n")
		l := p.Layout
		if !l.Masked() {
			b.WriteString("from stat: code " + hex(l.StartCode) + "-" + hex(l.EndCode) + " (" + humanBytes(l.EndCode-l.StartCode) + ")")
			if l.HasExtended {
				b.WriteString("  data " + hex(l.StartData) + "-" + hex(l.EndData) + " (" + humanBytes(l.EndData-l.StartData) + ")  brk " + hex(l.StartBrk))
			}
			b.WriteString("  stack " + hex(l.StartStack) + "\n")
		}
		v.memView.SetText(b.String())
		v.memModel.rows = rows
		return
	}
	if mem.note != "" {
		b.WriteString("[gray]" + inert(mem.note) + "[-]\n")
	}
	// The diagram: one bar per segment class, scaled to the largest.
	var largest uint64
	for _, s := range mem.segments {
		largest = max(largest, s.bytes)
	}
	const barW = 30
	for _, s := range mem.segments {
		n := 1
		if largest > 0 {
			// log scale: a 4 KiB page and a 1 TiB reservation both show.
			n = max(1, barW*bits.Len64(s.bytes>>12)/max(1, bits.Len64(largest>>12)))
		}
		b.WriteString(padRight(inert(s.name), 14) + " [aqua]" + strings.Repeat("█", n) + "[-]" +
			strings.Repeat(" ", barW-min(n, barW)) + " " + padLeft(humanBytes(s.bytes), 7))
		if s.rss > 0 {
			b.WriteString("  rss " + padLeft(humanBytes(s.rss), 7))
		}
		b.WriteString("  " + strconv.Itoa(s.count) + " maps")
		if s.name == string(collector.SegHeap) {
			b.WriteString("  [gray]" + heapNote + "[-]")
		}
		b.WriteString("\n")
	}
	v.memView.SetText(b.String())
	for i := range mem.maps {
		m := &mem.maps[i]
		rss := "-"
		if m.rss > 0 {
			rss = humanBytes(m.rss)
		}
		path := inert(m.path)
		if m.tid != 0 {
			if m.class == string(collector.SegGuard) {
				path += " [gray](guard of thread " + strconv.Itoa(m.tid) + "'s stack)[-]"
			} else {
				path += " [gray](stack of thread " + strconv.Itoa(m.tid) + ")[-]"
			}
		}
		rows = append(rows, gridRow{
			text:  []string{hex(m.start), hex(m.end), inert(m.perms), inert(m.class), humanBytes(m.end - m.start), rss, path},
			color: classColor(m.class),
		})
	}
	v.memModel.rows = rows
}

func classColor(c string) tcell.Color {
	switch {
	case strings.Contains(c, "code"):
		return tcell.ColorLime
	case strings.Contains(c, "heap"):
		return tcell.ColorYellow
	case strings.Contains(c, "stack"):
		return tcell.ColorAqua
	case strings.Contains(c, "data"), strings.Contains(c, "bss"):
		return tcell.ColorOrange
	case c == "guard", c == "reserved":
		return tcell.ColorGray
	}
	return tcell.ColorSilver
}

// heapNote says what the heap row holds: the brk area only. glibc's
// malloc gives each block above its mmap threshold (128 KiB, rising with
// use to 32 MiB) an anonymous mapping of its own, and other threads'
// arenas are anonymous memory too.
const heapNote = "(brk area only: big malloc blocks and other threads' arenas are anon)"

func padRight(s string, n int) string {
	if w := tview.TaggedStringWidth(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

func padLeft(s string, n int) string {
	if len(s) < n {
		return strings.Repeat(" ", n-len(s)) + s
	}
	return s
}

// maxLifeEvents caps the events listed in the Lifecycle tab.
const maxLifeEvents = 200

func (v *detailView) fillLifecycle(p *collector.Process) {
	var b strings.Builder
	snap := v.d.frame.Snapshot
	b.WriteString("[::b]Started[::-] " + p.StartedAt.Format("2006-01-02 15:04:05"))
	if !snap.TakenAt.IsZero() && !p.StartedAt.IsZero() {
		b.WriteString(" (" + durationString(snap.TakenAt.Sub(p.StartedAt)) + " ago)")
	}
	b.WriteString("   state " + stateText(p) + " (" + statePhase(p) + ")\n")
	b.WriteString("[::b]Parent[::-] " + strconv.Itoa(p.PPID))
	if pp := lifecycle.Find(snap, p.PPID); pp != nil {
		b.WriteString(" " + inert(pp.Comm) + " " + stateLetter(pp.State))
	}
	b.WriteString("   pgid " + strconv.Itoa(p.PGID) + "  sid " + strconv.Itoa(p.SID))
	if p.PGID == p.PID {
		b.WriteString(" (group leader)")
	}
	if p.SID == p.PID {
		b.WriteString(" (session leader)")
	}
	b.WriteByte('\n')
	if lifecycle.IsZombie(p) {
		b.WriteString("[red::b]zombie[-::-]: it has exited" + exitText(p, " (", ")"))
		b.WriteString("; its parent " + strconv.Itoa(p.PPID) + " has not collected its status with wait()\n")
	}

	var kids []*collector.Process
	for i := range snap.Processes {
		if c := &snap.Processes[i]; c.PPID == p.PID && c.PID != p.PID {
			kids = append(kids, c)
		}
	}
	b.WriteString("\n[::b]Children[::-] (" + strconv.Itoa(len(kids)) + ")\n")
	for i, c := range kids {
		if i == 50 {
			b.WriteString("  … " + strconv.Itoa(len(kids)-50) + " more\n")
			break
		}
		b.WriteString("  [" + colorName(stateColor(c.State)) + "]" + padLeft(strconv.Itoa(c.PID), 7) + " " + stateLetter(c.State) + "[-] " + inert(c.Comm))
		if lifecycle.IsZombie(c) {
			b.WriteString(exitText(c, "  ", ""))
		}
		b.WriteByte('\n')
	}

	b.WriteString("\n[::b]Events[::-] (this process, its threads and children; newest first)\n")
	n := 0
	evs := v.d.log.events
	for i := len(evs) - 1; i >= 0 && n < maxLifeEvents; i-- {
		e := &evs[i]
		if e.ID.PID != p.PID && e.PPID != p.PID && e.OldPPID != p.PID {
			continue
		}
		n++
		b.WriteString("  " + e.Time.Format("15:04:05") + " [" + colorName(eventColor(e.Type)) + "]" + padRight(string(e.Type), 12) + "[-] " +
			padLeft(strconv.Itoa(eventPID(e)), 7) + " " + eventDetail(e) + "\n")
	}
	if n == 0 {
		b.WriteString("  [gray]none seen since the dashboard started[-]\n")
	}
	v.life.SetText(b.String())
}

func eventPID(e *lifecycle.Event) int {
	if e.TID != 0 {
		return e.TID
	}
	return e.ID.PID
}

func (v *detailView) fillStatus(p *collector.Process) { v.status.SetText(v.statusText(p)) }

// statusText is the Status tab of process p.
func (v *detailView) statusText(p *collector.Process) string {
	var b strings.Builder
	line := func(k, val string) {
		b.WriteString("[aqua]" + padRight(k, 18) + "[-] " + val + "\n")
	}
	line("State", stateText(p)+" ("+statePhase(p)+")")
	line("PID / TGID", strconv.Itoa(p.PID)+" / "+strconv.Itoa(p.TGID))
	line("Parent", strconv.Itoa(p.PPID))
	line("Group / session", strconv.Itoa(p.PGID)+" / "+strconv.Itoa(p.SID))
	if len(p.NSPids) > 1 {
		ns := make([]string, len(p.NSPids))
		for i, x := range p.NSPids {
			ns[i] = strconv.Itoa(x)
		}
		line("PID in namespaces", strings.Join(ns, " → "))
	}
	tty := "none"
	if p.TTY != 0 {
		tty = strconv.Itoa(p.TTY>>8&0xfff) + ":" + strconv.Itoa(p.TTY&0xff|(p.TTY>>12)&0xfff00)
	}
	line("Terminal", tty)
	if p.TracerPID != 0 {
		line("Traced by", strconv.Itoa(p.TracerPID))
	}
	line("User", inert(p.User)+"  uid "+ints4(p.UIDs)+"  gid "+ints4(p.GIDs))
	line("Started", p.StartedAt.Format(time.RFC3339))
	line("Scheduling", collector.PolicyName(p.Policy)+"  priority "+strconv.FormatInt(p.Priority, 10)+
		"  nice "+strconv.FormatInt(p.Nice, 10)+"  last CPU "+strconv.FormatInt(p.Processor, 10))
	line("CPU time", "user "+ticks(p.UTimeTicks)+"  system "+ticks(p.STimeTicks)+"  I/O delay "+ioDelayText(p, &v.d.frame.Snapshot.Host))
	line("Memory", memoryText(p))
	line("Page faults", "minor "+strconv.FormatUint(p.MinFlt, 10)+"  major "+strconv.FormatUint(p.MajFlt, 10))
	line("Context switches", "voluntary "+strconv.FormatUint(p.VolCtx, 10)+"  involuntary "+strconv.FormatUint(p.InvolCtx, 10)+
		"  [gray]("+string(p.CtxSource)+")[-]")
	line("Signals pending", signalSet(p.SigPnd|p.ShdPnd))
	line("Signals blocked", signalSet(p.SigBlk))
	line("Signals ignored", signalSet(p.SigIgn))
	line("Signals caught", signalSet(p.SigCgt))
	line("Capabilities", capSet(p.CapEff))
	exe := inert(p.Exe)
	if p.ExeDeleted {
		exe += " [red](deleted)[-]"
	}
	line("Executable", exe)
	cmd := inertArgs(p.Cmdline)
	if p.CmdlineTruncated {
		cmd += " [gray](truncated)[-]"
	}
	line("Command line", cmd)
	if f := v.focusFor(); f != nil {
		for _, kv := range f.status {
			line(inert(kv.k), inert(kv.v))
		}
		if f.err != "" {
			line("Details", "[red]"+inert(f.err)+"[-]")
		}
	} else {
		line("Details", "[gray]waiting for cgroups, namespaces and limits…[-]")
	}
	if len(p.Unavailable) > 0 {
		keys := make([]string, 0, len(p.Unavailable))
		for k := range p.Unavailable {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			line("Unavailable", inert(k)+": "+inert(p.Unavailable[k]))
		}
	}
	return b.String()
}

func ints4(v [4]int) string {
	return strconv.Itoa(v[0]) + "," + strconv.Itoa(v[1]) + "," + strconv.Itoa(v[2]) + "," + strconv.Itoa(v[3])
}

// stateText is a process's state for a person: the kernel's letter and
// its name, or, for a process whose main thread exited while others run
// (the kernel shows its leader Z), that it is alive and on how many
// threads.
func stateText(p *collector.Process) string {
	if lifecycle.LeaderExited(p) {
		n := p.NumThreads - 1
		threads := " threads running"
		if n == 1 {
			threads = " thread running"
		}
		return stateLetter(p.State) + " leader exited, " + strconv.FormatInt(n, 10) + threads
	}
	return stateLetter(p.State) + " " + collector.StateName(p.State)
}

// statePhase places the process in the classic lifecycle: a
// leader-exited process is running on its other threads.
func statePhase(p *collector.Process) string {
	if lifecycle.LeaderExited(p) {
		return "alive"
	}
	return collector.StatePhase(p.State)
}

// memoryText is "VSZ … RSS … peak … swap …", each "-" when unknown (a
// kernel thread or a zombie has no address space; never a fake 0).
func memoryText(p *collector.Process) string {
	vsz, rss, peak, swap := "-", "-", "-", "-"
	if p.Read&collector.SrcStat != 0 && !p.IsKernelThread() && !lifecycle.IsZombie(p) {
		vsz = humanBytes(p.VSizeBytes)
	}
	if p.HasRSS {
		rss = humanBytes(p.RSSBytes)
	} else if r := p.Unavailable["rss"]; r != "" {
		rss = "- (" + inert(r) + ")"
	}
	if p.HasVM {
		peak, swap = humanBytes(p.VmPeakB), humanBytes(p.VmSwapB)
	}
	return "VSZ " + vsz + "  RSS " + rss + "  peak " + peak + "  swap " + swap
}

// ioDelayText is the process's block I/O delay, or why it is not known:
// with kernel.task_delayacct off the kernel counts no delays and the field
// is 0 for every process, whatever it waited.
func ioDelayText(p *collector.Process, h *collector.Host) string {
	if r, unknown := h.Unavailable[collector.HostDelayAcctKey]; unknown {
		return "[gray]- (kernel.task_delayacct: " + inert(r) + ")[-]"
	}
	if !h.DelayAcct {
		return "[gray]- (delay accounting is off: kernel.task_delayacct = 0)[-]"
	}
	return ticks(p.DelayTicks)
}

// exitText is a zombie's exit status between pre and post, or why it is
// unknown ("masked": the kernel hides it from this user), or "".
func exitText(p *collector.Process, pre, post string) string {
	switch {
	case p.ExitCode >= 0:
		return pre + collector.DecodeWaitStatus(p.ExitCode).String() + post
	case p.Unavailable["exit_code"] != "":
		return pre + "exit status " + inert(p.Unavailable["exit_code"]) + " for this user" + post
	}
	return ""
}

func ticks(t uint64) string {
	return (time.Duration(t) * time.Second / collector.ClockTicks).Round(10 * time.Millisecond).String()
}
