package dashboard

import (
	"slices"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// setupView is F2: the columns shown and their order, the columns not
// shown, and the other settings (meters, panels, sort, interval, tree,
// kernel threads). Every change applies at once; closing it keeps the
// setup in the config file (Options.SaveConfig) when it changed.
type setupView struct {
	d      *Dashboard
	root   *tview.Flex
	active *tview.List
	avail  *tview.List
	other  *tview.List
	note   *tview.TextView
	lists  []*tview.List
	cur    int
	// before is the setup when the page opened.
	before []byte
	// otherRows maps a row of other to its setting.
	otherRows []setupRow
}

// setupRow is one setting of the third list.
type setupRow struct {
	label  func() string
	toggle func(dir int)
}

func newSetupView(d *Dashboard) *setupView {
	v := &setupView{d: d}
	mk := func(title string) *tview.List {
		l := tview.NewList().ShowSecondaryText(false).SetHighlightFullLine(true).
			SetSelectedBackgroundColor(tcell.ColorAqua).SetSelectedTextColor(tcell.ColorBlack).
			SetSelectedFocusOnly(true)
		l.SetBorder(true).SetTitle(" " + title + " ").SetTitleAlign(tview.AlignLeft)
		return l
	}
	v.active = mk("Columns shown")
	v.avail = mk("Columns available")
	v.other = mk("Meters, panels, display")
	v.lists = []*tview.List{v.active, v.avail, v.other}
	v.note = tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true)
	v.root = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(tview.NewTextView().SetDynamicColors(true).SetText("[::b]pinspect setup[::-]  (F2)"), 1, 0, false).
		AddItem(tview.NewFlex().
			AddItem(v.active, 0, 1, true).
			AddItem(v.avail, 0, 1, false).
			AddItem(v.other, 0, 2, false), 0, 1, true).
		AddItem(v.note, 3, 0, false)
	v.otherRows = v.makeOtherRows()
	return v
}

// makeOtherRows lists the settings of the third list.
func (v *setupView) makeOtherRows() []setupRow {
	d := v.d
	check := func(on bool) string {
		if on {
			return "[x] "
		}
		return "[ ] "
	}
	var rows []setupRow
	for m := meterID(0); m < numMeters; m++ {
		rows = append(rows, setupRow{
			label:  func() string { return tview.Escape(check(d.meters[m])) + "meter " + meterDefs[m].title },
			toggle: func(int) { d.meters[m] = !d.meters[m]; d.updateHeader() },
		})
	}
	for _, name := range panelNames() {
		rows = append(rows, setupRow{
			label:  func() string { return tview.Escape(check(d.showPanel[name])) + "panel " + name },
			toggle: func(int) { d.showPanel[name] = !d.showPanel[name]; d.relayoutPanels(); d.updatePanels() },
		})
	}
	rows = append(rows,
		setupRow{
			label: func() string {
				dir := "largest first"
				if !d.vo.sortDesc {
					dir = "smallest first"
				}
				return "sort: " + colDefs[d.vo.sortCol].title + ", " + dir + "  [gray](← → column, Enter invert)[-]"
			},
			toggle: func(dir int) {
				if dir == 0 {
					d.sortBy(d.vo.sortCol, true)
				} else {
					d.sortBy((d.vo.sortCol+numCols+colID(dir))%numCols, false)
				}
			},
		},
		setupRow{
			label: func() string { return "interval: " + intervalString(d.interval) + "  [gray](← → change)[-]" },
			toggle: func(dir int) {
				if d.opts.Timeline != nil {
					return
				}
				if dir == 0 {
					dir = 1
				}
				d.stepInterval(dir)
			},
		},
		setupRow{
			label:  func() string { return tview.Escape(check(d.vo.tree)) + "tree view" },
			toggle: func(int) { d.toggleTree() },
		},
		setupRow{
			label:  func() string { return tview.Escape(check(d.vo.hideKernel)) + "hide kernel threads" },
			toggle: func(int) { d.vo.hideKernel = !d.vo.hideKernel; d.rebuild(); d.updateHeader() },
		},
	)
	return rows
}

// open fills the lists from the current setup.
func (v *setupView) open() {
	// The setup as last kept: an interval chosen with d or D since is a
	// change F2 keeps when it closes.
	before := v.d.currentConfig()
	before.Interval = v.d.cfg.Interval
	v.before = before.Marshal()
	v.cur = 0
	v.fill(0, 0, 0)
	v.focusList(0)
}

func (v *setupView) focusTarget() tview.Primitive { return v.lists[v.cur] }

// fill refreshes the three lists, selecting the given rows.
func (v *setupView) fill(a, b, c int) {
	d := v.d
	v.active.Clear()
	for _, id := range d.model.cols {
		v.active.AddItem(padRight(colDefs[id].title, 8)+" [gray]"+tview.Escape(colDefs[id].help)+"[-]", "", 0, nil)
	}
	v.avail.Clear()
	for _, id := range v.hidden() {
		v.avail.AddItem(padRight(colDefs[id].title, 8)+" [gray]"+tview.Escape(colDefs[id].help)+"[-]", "", 0, nil)
	}
	v.other.Clear()
	for _, r := range v.otherRows {
		v.other.AddItem(r.label(), "", 0, nil)
	}
	v.active.SetCurrentItem(min(a, max(v.active.GetItemCount()-1, 0)))
	v.avail.SetCurrentItem(min(b, max(v.avail.GetItemCount()-1, 0)))
	v.other.SetCurrentItem(min(c, max(v.other.GetItemCount()-1, 0)))
	v.note.SetText(v.help())
}

// hidden lists the columns not shown.
func (v *setupView) hidden() []colID {
	var out []colID
	for c := colID(0); c < numCols; c++ {
		if !slices.Contains(v.d.model.cols, c) {
			out = append(out, c)
		}
	}
	return out
}

func (v *setupView) help() string {
	s := "[yellow]Tab[-] next list  [yellow]↑ ↓[-] move  "
	switch v.cur {
	case 0:
		s += "[yellow]F7 Shift-↑[-] column left  [yellow]F8 Shift-↓[-] column right  [yellow]Del F9 -[-] remove (COMMAND stays last)"
	case 1:
		s += "[yellow]Enter F5 +[-] add before COMMAND"
	case 2:
		s += "[yellow]Enter space[-] toggle  [yellow]← →[-] change"
	}
	s += "\n[yellow]Esc F2 F10 q[-] close"
	if v.d.opts.SaveConfig != nil {
		s += " and keep the setup in the config file"
	} else {
		s += " (the setup is not kept: no config file)"
	}
	return s
}

func (v *setupView) focusList(i int) {
	v.cur = (i + len(v.lists)) % len(v.lists)
	v.d.app.SetFocus(v.lists[v.cur])
	v.note.SetText(v.help())
}

// onKey handles the setup page's keys.
func (v *setupView) onKey(ev *tcell.EventKey) *tcell.EventKey {
	d := v.d
	r := rune(0)
	if ev.Key() == tcell.KeyRune {
		r = ev.Rune()
	}
	switch {
	case ev.Key() == tcell.KeyEscape || ev.Key() == tcell.KeyF2 || ev.Key() == tcell.KeyF10 || r == 'q':
		v.close()
		return nil
	case ev.Key() == tcell.KeyTab:
		v.focusList(v.cur + 1)
		return nil
	case ev.Key() == tcell.KeyBacktab:
		v.focusList(v.cur - 1)
		return nil
	case ev.Key() == tcell.KeyF1 || r == '?':
		d.showHelp()
		return nil
	}
	a, b, c := v.active.GetCurrentItem(), v.avail.GetCurrentItem(), v.other.GetCurrentItem()
	var used bool
	switch v.cur {
	case 0:
		a, used = v.activeKey(ev, r, a)
	case 1:
		used = v.availKey(ev, r, b)
	case 2:
		used = v.otherKey(ev, r, c)
	}
	if !used {
		return ev
	}
	d.model.setHeader(d.vo)
	d.model.refresh()
	d.rebuild()
	v.fill(a, b, c)
	return nil
}

// activeKey moves or removes the shown column at a; it returns the row
// to select and whether it used the key.
func (v *setupView) activeKey(ev *tcell.EventKey, r rune, a int) (int, bool) {
	d := v.d
	cols := d.model.cols
	shift := ev.Modifiers()&tcell.ModShift != 0
	switch {
	case ev.Key() == tcell.KeyF7 || ev.Key() == tcell.KeyUp && shift:
		if a > 0 && cols[a] != colCmd {
			cols[a-1], cols[a] = cols[a], cols[a-1]
			a--
		}
	case ev.Key() == tcell.KeyF8 || ev.Key() == tcell.KeyDown && shift:
		if a+1 < len(cols)-1 {
			cols[a+1], cols[a] = cols[a], cols[a+1]
			a++
		}
	case ev.Key() == tcell.KeyDelete || ev.Key() == tcell.KeyF9 || r == '-':
		if a >= len(cols) || cols[a] == colCmd {
			v.note.SetText("[yellow]COMMAND stays: it is the column that takes the rest of the width[-]\n" + v.help())
			return a, true
		}
		d.model.cols = slices.Delete(cols, a, a+1)
	default:
		return a, false
	}
	return a, true
}

// availKey adds the available column at b before COMMAND.
func (v *setupView) availKey(ev *tcell.EventKey, r rune, b int) bool {
	if ev.Key() != tcell.KeyEnter && ev.Key() != tcell.KeyF5 && r != '+' && r != ' ' {
		return false
	}
	if h := v.hidden(); b < len(h) {
		cols := v.d.model.cols
		v.d.model.cols = slices.Insert(cols, len(cols)-1, h[b])
	}
	return true
}

// otherKey toggles or changes the setting at c.
func (v *setupView) otherKey(ev *tcell.EventKey, r rune, c int) bool {
	dir := 0
	switch {
	case ev.Key() == tcell.KeyEnter || r == ' ':
	case ev.Key() == tcell.KeyLeft:
		dir = -1
	case ev.Key() == tcell.KeyRight:
		dir = 1
	default:
		return false
	}
	if c < len(v.otherRows) {
		v.otherRows[c].toggle(dir)
	}
	return true
}

// close leaves the setup page, keeping the setup when it changed.
func (v *setupView) close() {
	d := v.d
	d.pages.SwitchToPage(pageMain)
	d.restoreFocus()
	d.updateKeys()
	c := d.currentConfig()
	if string(c.Marshal()) == string(v.before) {
		return
	}
	if d.opts.SaveConfig == nil {
		d.setStatus("setup changed for this run (no config file to keep it)")
		return
	}
	where, err := d.opts.SaveConfig(c)
	if err != nil {
		d.setStatus("[red]setup not saved: " + inert(err.Error()) + "[-]")
		return
	}
	d.cfg = c
	d.setStatus("setup saved to " + inert(where))
}
