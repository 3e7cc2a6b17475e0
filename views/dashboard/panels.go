package dashboard

import (
	"strconv"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// panel is one of the bottom panels beside the process table (zombies,
// events, and whatever another view registers in bottomPanels). Tab moves
// the keys between the table and the shown panels; a focused panel
// scrolls with the arrows, and its own keys come first.
type panel struct {
	name string
	// box is what the panel draws (a bordered primitive); focus what
	// takes keys when it is focused.
	box   tview.Primitive
	focus tview.Primitive
	// update reformats the panel for the current frame and filters.
	update func()
	// onKey handles the panel's own keys while it is focused; it reports
	// whether it used the key.
	onKey func(ev *tcell.EventKey) bool
	// keys describes the panel's own keys for the footer and help.
	keys string
	// weight is the panel's share of the width.
	weight int
}

// textPanelKeys are the keys of a bottom panel of scrollable text (the
// zombies, the findings): the dashboard passes the scroll keys to it
// (the footer says "Esc table" before them).
const textPanelKeys = "↑↓ PgUp PgDn Home End scroll"

// bottomPanels makes the bottom panels, in their order on screen. A view
// that adds a panel (for example explain's findings) appends its maker
// here and keeps its code in its own file.
var bottomPanels = []func(d *Dashboard) *panel{newZombiePanel, newEventPanel, newFindingsPanel}

// panelNames lists the registered panels' names (for the config), in
// bottomPanels' order.
func panelNames() []string {
	return []string{"zombies", "events", "findings"}
}

// setBorderFocus makes a bordered box show whether it has the keys.
func setBorderFocus(b bordered, focused bool) {
	if focused {
		b.SetBorderColor(tcell.ColorYellow)
	} else {
		b.SetBorderColor(tcell.ColorWhite)
	}
}

// setPanelText sets a bottom panel's text when it differs from the text
// the panel was last given. The panels are filled again every frame, and
// tview parses a TextView's whole text again (tags, graphemes, line
// breaks) at its next draw after each SetText; a text that did not change
// keeps its parsed lines. The zombie panel's draw was 2.2 % of the
// dashboard's CPU at 2,000 x 9, half the process table's, its parsing a
// third of that (docs/PERFORMANCE.md, live13). Nothing else sets these
// panels' texts.
func (d *Dashboard) setPanelText(tv *tview.TextView, text string) {
	if last, ok := d.panelTexts[tv]; ok && last == text {
		return
	}
	if d.panelTexts == nil {
		d.panelTexts = map[*tview.TextView]string{}
	}
	d.panelTexts[tv] = text
	tv.SetText(text)
}

// newZombiePanel is the zombie panel: each parent that is not reaping,
// its zombies, the diagnosis and the remedy.
func newZombiePanel(d *Dashboard) *panel {
	tv := tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true).SetScrollable(true)
	tv.SetBorder(true).SetTitle(" zombies ").SetTitleAlign(tview.AlignLeft)
	p := &panel{name: "zombies", box: tv, focus: tv, weight: 1, keys: textPanelKeys}
	p.update = func() { d.fillZombies(tv) }
	return p
}

// maxZombiesListed caps the pids listed per parent in the zombie panel.
const maxZombiesListed = 6

// zombieGroupMatches reports whether a zombie group passes the filters
// of o (the table's, or the --pid scope's alone). The --pid scope keeps a
// group when its parent or one of its zombies is among the pids; the
// other filters (the filter text the way a table row matches it: comm,
// command line, pid; the user and cgroup filters) keep it when its parent
// or one of its zombies passes them all. The two are apart because a
// zombie of a --pid process is seldom a --pid itself: with --pid P and a
// filter naming only P's zombie, the group of P is kept.
func (d *Dashboard) zombieGroupMatches(g *zombieGroup, o viewOpts) bool {
	if o.filter == "" && o.users == nil && o.workload == "" && o.pids == nil {
		return true
	}
	var snap *collector.Snapshot
	if d.frame != nil {
		snap = d.frame.Snapshot
	}
	pids := o.pids
	o.states, o.hideKernel, o.pids = "", false, nil
	inScope := pids == nil
	passes := false
	check := func(id collector.ID, comm string) {
		inScope = inScope || pids[id.PID]
		if passes {
			return
		}
		if p := lifecycle.FindID(snap, id); p != nil && snap != nil {
			passes = o.matches(p)
			return
		}
		// Not in the snapshot (gone since): its comm and pid.
		passes = o.users == nil && o.workload == "" &&
			(lifecycle.ContainsFold(comm, o.filter) || strings.HasPrefix(strconv.Itoa(id.PID), o.filter))
	}
	check(g.parent, g.parentComm)
	for _, z := range g.zombies {
		check(z, "")
	}
	return inScope && passes
}

// scopedZombies is g as the panel lists it: under --pid, when the
// parent is not a --pid process, only its zombies that are (the others
// counted in others): --pid Z shows zombie Z, not its siblings.
func (d *Dashboard) scopedZombies(g zombieGroup) zombieGroup {
	pids := d.vo.pids
	if pids == nil || pids[g.parent.PID] {
		return g
	}
	var zs []collector.ID
	var st []string
	for i, z := range g.zombies {
		if pids[z.PID] {
			zs = append(zs, z)
			if i < len(g.statuses) {
				st = append(st, g.statuses[i])
			}
		}
	}
	if len(zs) == 0 {
		return g
	}
	g.others += len(g.zombies) - len(zs)
	g.zombies, g.statuses = zs, st
	return g
}

// fillZombies formats the zombie panel.
func (d *Dashboard) fillZombies(tv *tview.TextView) {
	var groups []zombieGroup
	if d.fd != nil {
		groups = d.fd.zombies()
	}
	// The --pid scope alone, without the filters the user can change.
	scopeOnly := viewOpts{pids: d.vo.pids, self: d.vo.self}
	total, inScope, shown := 0, 0, 0
	kept := groups[:0:0]
	for i := range groups {
		n := len(groups[i].zombies)
		total += n
		if d.scope != nil && d.zombieGroupMatches(&groups[i], scopeOnly) {
			inScope += len(d.scopedZombies(groups[i]).zombies)
		}
		if d.zombieGroupMatches(&groups[i], d.vo) {
			g := d.scopedZombies(groups[i])
			kept = append(kept, g)
			shown += len(g.zombies)
		}
	}
	// The title counts the zombies the panel lists, of how many: the
	// machine's, or under --pid those held by (or among) the --pid
	// processes, saying so (with a filter too it counted the filtered
	// ones as all the --pid processes held).
	of := total
	if d.scope != nil {
		of = inScope
	}
	title := "zombies: " + strconv.Itoa(shown)
	if shown != of {
		title += " of " + strconv.Itoa(of)
	}
	if d.scope != nil {
		title += " (" + d.scope.pidList() + ")"
	}
	tv.SetTitle(" " + title + " ")
	switch {
	case total == 0:
		d.setPanelText(tv, "[gray]no zombies[-]")
		return
	case len(kept) == 0 && d.scope != nil && inScope == 0:
		d.setPanelText(tv, "[gray]no zombies held by "+d.scope.pidList()+"[-]")
		return
	case len(kept) == 0:
		d.setPanelText(tv, "[gray]no zombie or parent matches the filter[-]")
		return
	}
	var b strings.Builder
	for _, g := range kept {
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
		if g.others > 0 {
			b.WriteString(" [gray](the parent holds " + strconv.Itoa(g.others) + " more, not selected)[-]")
		}
		b.WriteByte('\n')
		if g.diagnosis != "" {
			b.WriteString("  " + inert(g.diagnosis) + "\n")
		}
		if g.remedy != "" {
			b.WriteString("  [yellow]→ " + inert(g.remedy) + "[-]\n")
		}
	}
	d.setPanelText(tv, b.String())
}

// newEventPanel is the event log: newest first, filterable (F4 or \
// while it has the keys), scrollable (it scrolls without a selection),
// with its rate and its lag in the title.
func newEventPanel(d *Dashboard) *panel {
	t := tview.NewTable().SetContent(d.log).SetFixed(1, 0).SetSelectable(false, false)
	t.SetBorder(true).SetTitleAlign(tview.AlignLeft)
	p := &panel{name: "events", box: t, focus: t, weight: 1, keys: "F4/\\ filter events, ↑↓ PgUp PgDn scroll, Esc back"}
	p.update = func() {
		// At the top the newest events stay in sight; scrolled back, the
		// same events stay in sight as new ones come in on top. (An
		// offset of 0 must be set again: a table that once had fewer rows
		// than lines follows its end.)
		off, offc := t.GetOffset()
		d.log.followed = off == 0
		if d.log.followed {
			t.ScrollToBeginning()
		} else if d.log.newSince > 0 {
			t.SetOffset(off+d.log.newSince, offc)
		}
		d.log.newSince = 0
		t.SetTitle(" " + d.log.title(d) + " ")
	}
	p.onKey = func(ev *tcell.EventKey) bool {
		switch {
		case ev.Key() == tcell.KeyF4 || ev.Key() == tcell.KeyRune && ev.Rune() == '\\':
			d.openInput(inputEvents)
			return true
		case ev.Key() == tcell.KeyHome:
			t.ScrollToBeginning()
		case ev.Key() == tcell.KeyUp || ev.Key() == tcell.KeyDown || ev.Key() == tcell.KeyPgUp ||
			ev.Key() == tcell.KeyPgDn || ev.Key() == tcell.KeyEnd:
			t.InputHandler()(ev, func(tview.Primitive) {})
		default:
			return false
		}
		off, _ := t.GetOffset()
		d.log.followed = off == 0
		t.SetTitle(" " + d.log.title(d) + " ")
		return true
	}
	return p
}
