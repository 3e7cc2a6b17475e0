package dashboard

import (
	"strconv"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// detailTab is one tab of the detail view.
type detailTab struct {
	name string
	// prim is what the tab shows; focus what takes its keys.
	prim  tview.Primitive
	focus tview.Primitive
	// fill formats the tab for the current frame (only while shown).
	fill func(p *collector.Process)
	// top scrolls the tab back to its start (a process was opened).
	top func()
	// onKey handles the tab's own keys (nil: none); keys describes them
	// for the footer and the help.
	onKey func(ev *tcell.EventKey) bool
	keys  string
}

// detailTabs make the detail view's tabs, in order (keys 1-9). A view
// that adds a tab (for example explain's) appends its maker here and
// keeps its code in its own file.
var detailTabs = []func(v *detailView) *detailTab{newThreadsTab, newMemoryTab, newLifecycleTab, newStatusTab, newExplainTab}

// The built-in tabs' indices in detailTabs.
const (
	tabThreads = iota
	tabMemory
	tabLifecycle
	tabStatus
	tabExplain
)

// detailView shows one process, one tab at a time. Only the visible tab
// is formatted per frame.
type detailView struct {
	d      *Dashboard
	root   *tview.Flex
	title  *tview.TextView
	tabBar *tview.TextView
	body   *tview.Pages
	tabs   []*detailTab
	tab    int
	id     collector.ID
	tabX   []int // tab label boundaries in the tab bar
	// fresh is set when a process was just opened: the next fill of each
	// tab scrolls it to the top.
	fresh map[int]bool
	// opened is true from open until the view is closed.
	opened bool
	// teach makes the Explain tab show the lessons.
	teach bool
}

func newDetailView(d *Dashboard) *detailView {
	v := &detailView{d: d, fresh: map[int]bool{}}
	v.title = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	v.tabBar = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	v.tabBar.SetMouseCapture(func(action tview.MouseAction, ev *tcell.EventMouse) (tview.MouseAction, *tcell.EventMouse) {
		if action != tview.MouseLeftClick {
			return action, ev
		}
		x, _ := ev.Position()
		bx, _, _, _ := v.tabBar.GetInnerRect()
		for i := range v.tabs {
			if x-bx >= v.tabX[i] && x-bx < v.tabX[i+1] {
				v.setTab(i)
				return tview.MouseConsumed, nil
			}
		}
		return action, ev
	})
	v.body = tview.NewPages()
	for _, mk := range detailTabs {
		t := mk(v)
		v.tabs = append(v.tabs, t)
		v.body.AddPage(t.name, t.prim, true, len(v.tabs) == 1)
	}
	v.tabX = make([]int, len(v.tabs)+1)
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

// open shows a process, keeping the current tab; every tab starts at its
// top (the Threads tab with the leader in sight).
func (v *detailView) open(id collector.ID) {
	v.id = id
	v.opened = true
	for i, t := range v.tabs {
		v.fresh[i] = true
		if t.top != nil {
			t.top()
		}
	}
	v.d.updateKeys()
	v.refreshOpen()
}

// isOpen reports whether the detail view is shown (a dialog over it
// keeps it open).
func (v *detailView) isOpen() bool { return v.opened }

func (v *detailView) tabName() string { return v.tabs[v.tab].name }

// refresh updates the view for a new frame when it is open.
func (v *detailView) refresh() {
	if v.isOpen() {
		v.refreshOpen()
	}
}

// focusTarget is the primitive that takes keys for the current tab.
func (v *detailView) focusTarget() tview.Primitive { return v.tabs[v.tab].focus }

func (v *detailView) setTab(i int) {
	v.tab = (i + len(v.tabs)) % len(v.tabs)
	v.body.SwitchToPage(v.tabs[v.tab].name)
	v.d.app.SetFocus(v.focusTarget())
	v.drawTabs()
	v.refreshOpen()
	v.d.updateFocus()
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
	case tcell.KeyBackspace, tcell.KeyBackspace2, tcell.KeyEscape:
		v.d.closeDetail()
		return true
	case tcell.KeyRune:
		if r := ev.Rune(); r >= '1' && r < '1'+rune(len(v.tabs)) {
			v.setTab(int(r - '1'))
			return true
		}
	}
	if t := v.tabs[v.tab]; t.onKey != nil {
		return t.onKey(ev)
	}
	return false
}

func (v *detailView) drawTabs() {
	var b strings.Builder
	x := 0
	for i, t := range v.tabs {
		v.tabX[i] = x
		label := " " + strconv.Itoa(i+1) + " " + t.name + " "
		if i == v.tab {
			b.WriteString("[black:aqua]" + label + "[-:-]")
		} else {
			b.WriteString("[white:navy]" + label + "[-:-]")
		}
		b.WriteByte(' ')
		x += len(label) + 1
	}
	v.tabX[len(v.tabs)] = x
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
	return lifecycle.FindID(v.d.frame.Snapshot, v.id)
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
	b.WriteString("[" + colorName(stateColor(lifecycle.StateLetter(p))) + "]" + stateText(p) + "[-]")
	b.WriteString("  user " + inert(p.User) + "  parent " + strconv.Itoa(p.PPID) + "  threads " + strconv.FormatInt(p.NumThreads, 10))
	if v.d.fd != nil {
		if r := v.d.fd.procRate(p); r.ok {
			b.WriteString("  CPU " + percentString(r.cpu) + "%  vcsw/s " + rateString(r.vol) + "  nvcsw/s " + rateString(r.invol))
		}
	}
	b.WriteString("\n[gray]" + commandText(p) + "[-]")
	v.title.SetText(b.String())
	t := v.tabs[v.tab]
	t.fill(p)
	if v.fresh[v.tab] {
		delete(v.fresh, v.tab)
		if t.top != nil {
			t.top()
		}
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

// The Threads tab.

// newThreadsTab lists every thread, the leader first: TID, comm, state,
// CPU% and switch rates, the switch totals, the last CPU and the stack.
func newThreadsTab(v *detailView) *detailTab {
	model := newGridModel(
		[]string{"TID", "COMM", "S", "CPU%", "VCSW/s", "NVCSW/s", "VCSW", "NVCSW", "CPU", "STACK"},
		[]bool{true, false, false, true, true, true, true, true, true, false})
	table := newGridTable(model)
	t := &detailTab{name: "Threads", prim: table, focus: table}
	t.top = func() { table.Select(1, 0).ScrollToBeginning() }
	t.fill = func(p *collector.Process) { v.fillThreads(model, p); reselect(table) }
	return t
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

// reselect selects a table's selection again after its rows changed, so
// that the next draw keeps it in sight (a tview table that once had fewer
// rows than lines otherwise follows its end).
func reselect(t *tview.Table) {
	r, c := t.GetSelection()
	t.Select(max(r, 1), c)
}

func hex(v uint64) string { return strconv.FormatUint(v, 16) }

func (v *detailView) fillThreads(model *gridModel, p *collector.Process) {
	rows := model.rows[:0]
	clear(model.rows)
	f := v.focusFor()
	var mem *memView
	if f != nil {
		mem = f.mem
	}
	// The leader first, then by thread id.
	order := make([]int, 0, len(p.Threads))
	for i := range p.Threads {
		if p.Threads[i].TID == p.PID {
			order = append([]int{i}, order...)
		} else {
			order = append(order, i)
		}
	}
	for _, i := range order {
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
	model.rows = rows
}

// The Memory tab.

// newMemoryTab shows the address space: the sizes, the segment classes
// as bars on a linear scale, then every mapping with its resident memory.
func newMemoryTab(v *detailView) *detailTab {
	text := tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	model := newGridModel(
		[]string{"START", "END", "PERMS", "CLASS", "SIZE", "RSS", "PATH"},
		[]bool{false, false, false, false, true, true, false})
	table := newGridTable(model)
	flex := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(text, 0, 1, false).
		AddItem(table, 0, 1, true)
	t := &detailTab{name: "Memory", prim: flex, focus: table}
	t.top = func() { table.Select(1, 0).ScrollToBeginning() }
	t.fill = func(p *collector.Process) { v.fillMemory(text, model, p); reselect(table) }
	return t
}

// sizesLine is the process's memory sizes, each labelled for what it
// is (VmPeak is the peak of the virtual size, not of the resident set),
// each "-" when unknown (a kernel thread or a zombie has no address
// space; never a fake 0).
func sizesLine(p *collector.Process) string {
	virt, rss, shr, peak, swap := "-", "-", "-", "-", "-"
	if x, ok := virtOf(p); ok {
		virt = humanBytes(x)
	}
	if x, ok := rssOf(p); ok {
		rss = humanBytes(x)
	} else if r := p.Unavailable["rss"]; r != "" {
		rss = "- (" + inert(r) + ")"
	}
	if x, ok := sharedOf(p); ok {
		shr = humanBytes(x)
	}
	if p.HasVM {
		peak, swap = humanBytes(p.VmPeakB), humanBytes(p.VmSwapB)
	}
	return "VSZ " + virt + "  RSS " + rss + "  shared " + shr + "  peak virtual (VmPeak) " + peak + "  swap " + swap
}

func (v *detailView) fillMemory(text *tview.TextView, model *gridModel, p *collector.Process) {
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
	b.WriteString("[::b]Address space[::-]  " + sizesLine(p) + "\n")
	rows := model.rows[:0]
	clear(model.rows)
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
		text.SetText(b.String())
		model.rows = rows
		return
	}
	if mem.note != "" {
		b.WriteString("[gray]" + inert(mem.note) + "[-]\n")
	}
	// One bar per segment class, linear, scaled to the largest class:
	// 48.7M and 194.8M differ by four times in length, as in size.
	var largest uint64
	for _, s := range mem.segments {
		largest = max(largest, s.bytes)
	}
	const barW = 30
	for _, s := range mem.segments {
		b.WriteString(padRight(inert(s.name), 14) + " [aqua]" + linearBar(s.bytes, largest, barW) + "[-] " + padLeft(humanBytes(s.bytes), 7))
		if s.rssKnown {
			b.WriteString("  rss " + padLeft(humanBytes(s.rss), 7))
		}
		b.WriteString("  " + lifecycle.CountOf(s.count, "map", "maps"))
		if s.name == string(collector.SegHeap) {
			b.WriteString("  [gray]" + heapNote + "[-]")
		}
		b.WriteString("\n")
	}
	if n := mem.rssNote(); n != "" {
		b.WriteString("[gray]" + n + "[-]\n")
	}
	text.SetText(b.String())
	for i := range mem.maps {
		m := &mem.maps[i]
		rss := "-"
		if m.rssKnown {
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
	model.rows = rows
}

// linearBar draws v out of largest as a bar of w cells, with eighth
// blocks for the remainder, padded to w; a non-zero value shows at
// least a sliver.
func linearBar(v, largest uint64, w int) string {
	if largest == 0 {
		return strings.Repeat(" ", w)
	}
	eighths := int(float64(v) / float64(largest) * float64(w*8))
	if v > 0 && eighths == 0 {
		eighths = 1
	}
	full, part := eighths/8, eighths%8
	s := strings.Repeat("█", full)
	n := full
	if part > 0 && full < w {
		s += string([]rune("▏▎▍▌▋▊▉")[part-1])
		n++
	}
	return s + strings.Repeat(" ", max(w-n, 0))
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

// padRight pads s with spaces on the right to n screen cells, measured
// as tview measures a tagged text (taggedWidth, which spares the meters'
// texts, padded at every refresh, tview's grapheme segmentation).
func padRight(s string, n int) string {
	if w := taggedWidth(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

// padLeft pads s with spaces on the left to n screen cells (taggedWidth).
func padLeft(s string, n int) string {
	if w := taggedWidth(s); w < n {
		return strings.Repeat(" ", n-w) + s
	}
	return s
}

// The Lifecycle tab.

// maxLifeEvents caps the events listed in the Lifecycle tab.
const maxLifeEvents = 200

func newLifecycleTab(v *detailView) *detailTab {
	tv := tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true).SetScrollable(true)
	t := &detailTab{name: "Lifecycle", prim: tv, focus: tv}
	t.top = func() { tv.ScrollToBeginning() }
	t.fill = func(p *collector.Process) { tv.SetText(v.lifecycleText(p)) }
	return t
}

// lifecycleText is the Lifecycle tab: start, state and its place in the
// lifecycle, parent, group and session, the diagnosis when the process
// is an orphan, a zombie or a parent leaving zombies, its children and
// its events.
func (v *detailView) lifecycleText(p *collector.Process) string {
	var b strings.Builder
	snap := v.d.frame.Snapshot
	b.WriteString("[::b]Started[::-] ")
	if p.StartedAt.IsZero() {
		b.WriteString("-")
	} else {
		b.WriteString(p.StartedAt.Local().Format("2006-01-02 15:04:05"))
		if !snap.TakenAt.IsZero() {
			b.WriteString(" (" + durationString(snap.TakenAt.Sub(p.StartedAt)) + " ago)")
		}
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
	v.writeDiagnoses(&b, p)

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
		b.WriteString("  " + e.Time.Local().Format("15:04:05") + " [" + colorName(eventColor(e.Type)) + "]" + padRight(string(e.Type), 12) + "[-] " +
			padLeft(strconv.Itoa(eventPID(e)), 7) + " " + eventDetail(e) + "\n")
	}
	if n == 0 {
		b.WriteString("  [gray]none seen since the dashboard started[-]\n")
	}
	return b.String()
}

// writeDiagnoses adds the frame's diagnoses about p: as an orphan (who
// adopted it and the evidence), as a parent that leaves zombies (the
// diagnosis and the remedy), as a zombie (its parent's diagnosis).
func (v *detailView) writeDiagnoses(b *strings.Builder, p *collector.Process) {
	f := v.d.frame
	id := p.ID()
	for i := range f.Orphans {
		o := &f.Orphans[i]
		if o.ID != id {
			continue
		}
		if o.Daemon {
			b.WriteString("[yellow::b]daemon[-::-]: it detached on purpose (it leads its own session) and runs under " +
				strconv.Itoa(o.Adopter) + " " + inert(o.AdopterComm) + "\n")
		} else {
			b.WriteString("[yellow::b]orphan[-::-]: its parent exited")
			if o.OldPPID != 0 {
				b.WriteString(" (it was " + strconv.Itoa(o.OldPPID) + ")")
			}
			b.WriteString("; adopted by " + strconv.Itoa(o.Adopter) + " " + inert(o.AdopterComm))
			if o.AdopterKind != "" {
				b.WriteString(" (" + inert(o.AdopterKind) + ")")
			}
			b.WriteString("\n")
		}
		if o.Evidence != "" {
			b.WriteString("  [gray]evidence:[-] " + inert(o.Evidence) + "\n")
		}
	}
	for i := range f.Zombies {
		g := &f.Zombies[i]
		isParent := g.Parent == id
		isChild := false
		for _, z := range g.Zombies {
			if z.ID == id {
				isChild = true
			}
		}
		if !isParent && !isChild {
			continue
		}
		if isParent {
			b.WriteString("[red::b]parent of " + lifecycle.CountOf(len(g.Zombies), "zombie", "zombies") + "[-::-]:")
			for k, z := range g.Zombies {
				if k == maxZombiesListed {
					b.WriteString(" …")
					break
				}
				b.WriteString(" " + strconv.Itoa(z.ID.PID))
			}
			b.WriteByte('\n')
		}
		if g.Diagnosis != "" {
			b.WriteString("  " + inert(g.Diagnosis) + "\n")
		}
		if g.Remedy != "" {
			b.WriteString("  [yellow]→ " + inert(g.Remedy) + "[-]\n")
		}
	}
}

func eventPID(e *lifecycle.Event) int {
	if e.TID != 0 {
		return e.TID
	}
	return e.ID.PID
}
