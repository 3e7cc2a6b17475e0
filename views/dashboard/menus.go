package dashboard

import (
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// menuItem is one choice of a menu.
type menuItem struct {
	label, help string
}

// openMenu shows a list of choices over the current page; Enter calls
// done with the chosen index, Esc (or q) closes it and calls nothing.
func (d *Dashboard) openMenu(title string, items []menuItem, selected int, done func(i int)) {
	back, _ := d.pages.GetFrontPage()
	list := tview.NewList().ShowSecondaryText(false).SetHighlightFullLine(true).
		SetSelectedBackgroundColor(tcell.ColorAqua).SetSelectedTextColor(tcell.ColorBlack)
	w := tview.TaggedStringWidth(title) + 4
	for _, it := range items {
		text := it.label
		if it.help != "" {
			text += "  [gray]" + tview.Escape(it.help) + "[-]"
		}
		list.AddItem(text, "", 0, nil)
		w = max(w, tview.TaggedStringWidth(text)+4)
	}
	list.SetCurrentItem(selected)
	list.SetBorder(true).SetTitle(" " + title + " ").SetTitleAlign(tview.AlignLeft)
	closeMenu := func() {
		d.pages.RemovePage(pageMenu)
		d.pages.SwitchToPage(back)
		d.restoreFocus()
		d.updateKeys()
	}
	list.SetSelectedFunc(func(i int, _, _ string, _ rune) {
		closeMenu()
		done(i)
	})
	list.SetDoneFunc(closeMenu)
	list.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		if ev.Key() == tcell.KeyRune && ev.Rune() == 'q' || ev.Key() == tcell.KeyF10 {
			closeMenu()
			return nil
		}
		return ev
	})
	h := len(items) + 2
	d.menu = list
	d.pages.AddPage(pageMenu, centered(list, w, h), true, true)
	d.app.SetFocus(list)
	d.updateKeys()
}

// centered places p in the middle of the screen, at most w x h: a menu
// wider or taller than the terminal (the sort menu's help texts at 80
// columns) is cut to it, from its left and top edges, so the choices and
// the title stay in sight.
func centered(p tview.Primitive, w, h int) tview.Primitive {
	return &centeredBox{Box: tview.NewBox(), p: p, w: w, h: h}
}

// centeredBox draws p centred in its own rectangle (the whole page).
type centeredBox struct {
	*tview.Box
	p    tview.Primitive
	w, h int
}

// Draw places p, cut to the rectangle, and draws it.
func (c *centeredBox) Draw(screen tcell.Screen) {
	x, y, W, H := c.GetRect()
	w, h := min(c.w, W), min(c.h, H)
	c.p.SetRect(x+(W-w)/2, y+(H-h)/2, w, h)
	c.p.Draw(screen)
}

// Focus gives the focus to p.
func (c *centeredBox) Focus(delegate func(p tview.Primitive)) { delegate(c.p) }

// HasFocus reports whether p has it.
func (c *centeredBox) HasFocus() bool { return c.p.HasFocus() }

// InputHandler is p's.
func (c *centeredBox) InputHandler() func(*tcell.EventKey, func(tview.Primitive)) {
	return c.p.InputHandler()
}

// MouseHandler is p's.
func (c *centeredBox) MouseHandler() func(tview.MouseAction, *tcell.EventMouse, func(tview.Primitive)) (bool, tview.Primitive) {
	return c.p.MouseHandler()
}

// PasteHandler is p's.
func (c *centeredBox) PasteHandler() func(string, func(tview.Primitive)) { return c.p.PasteHandler() }

// sortMenu is F6: every column, the current one selected; choosing one
// sorts by it and jumps to the top.
func (d *Dashboard) sortMenu() {
	items := make([]menuItem, numCols)
	for c := colID(0); c < numCols; c++ {
		items[c] = menuItem{label: padRight(colDefs[c].title, 8), help: colDefs[c].help}
	}
	d.openMenu("Sort by", items, int(d.vo.sortCol), func(i int) { d.sortBy(colID(i), true) })
}

// signalChoices are the F9 menu's signals, TERM first (htop's default).
var signalChoices = []struct {
	sig  syscall.Signal
	name string
	help string
}{
	{syscall.SIGTERM, "TERM", "ask to terminate (a program may clean up)"},
	{syscall.SIGHUP, "HUP", "hang up: many daemons reload their configuration"},
	{syscall.SIGINT, "INT", "interrupt, as Ctrl-C"},
	{syscall.SIGKILL, "KILL", "kill at once: cannot be caught (a zombie is already dead)"},
	{syscall.SIGUSR1, "USR1", "user-defined 1"},
	{syscall.SIGUSR2, "USR2", "user-defined 2"},
	{syscall.SIGSTOP, "STOP", "stop (pause) it: cannot be caught"},
	{syscall.SIGCONT, "CONT", "continue a stopped process"},
}

// targets are the processes an action applies to, as htop picks them
// from the rows it displays: in the detail view, the process it shows;
// else the tagged processes among the table's rows (a tagged process the
// filter, a folded subtree or the user menu hides is not touched), or
// the selected one when none shown is tagged. The second result names
// them for a dialog: pid and comm of each, or of the first few and how
// many more.
func (d *Dashboard) targets() ([]*collector.Process, string) {
	if front, _ := d.pages.GetFrontPage(); front == pageDetail {
		return oneTarget(d.detail.process())
	}
	var out []*collector.Process
	if len(d.model.tagged) > 0 {
		for i := range d.model.rows {
			if rw := &d.model.rows[i]; rw.t == nil && d.model.tagged[rw.p.ID()] {
				out = append(out, rw.p)
			}
		}
	}
	if len(out) == 0 {
		var p *collector.Process
		if rw := d.selected(); rw != nil {
			p = rw.p
		}
		return oneTarget(p)
	}
	if len(out) == 1 {
		_, s := oneTarget(out[0])
		return out, "1 tagged " + s
	}
	return out, strconv.Itoa(len(out)) + " tagged processes: " + namePIDs(out, maxNamedTargets)
}

// maxNamedTargets is how many targets a dialog's title names before it
// says how many more there are.
const maxNamedTargets = 3

// namePIDs is "pid (comm)" of the first limit processes, comma-separated,
// and "and N more" for the rest.
func namePIDs(procs []*collector.Process, limit int) string {
	var b strings.Builder
	for i, p := range procs {
		if i == limit {
			b.WriteString(" and " + strconv.Itoa(len(procs)-limit) + " more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(p.PID) + " (" + inert(p.Comm) + ")")
	}
	return b.String()
}

// oneTarget is a single target (none when p is nil) and its name: pid,
// comm, user and start time.
func oneTarget(p *collector.Process) ([]*collector.Process, string) {
	if p == nil {
		return nil, ""
	}
	s := "process " + strconv.Itoa(p.PID) + " (" + inert(p.Comm) + ")"
	if p.User != "" {
		s += ", user " + inert(p.User)
	}
	if !p.StartedAt.IsZero() {
		s += ", started " + p.StartedAt.Local().Format("2006-01-02 15:04:05")
	}
	return []*collector.Process{p}, s
}

// actionRefusal says why an action that changes processes is not
// offered, or "" when it is.
func (d *Dashboard) actionRefusal(action string, have bool) string {
	switch {
	case d.opts.Timeline != nil:
		return "a replay shows the past: no " + action
	case d.opts.Origin != "":
		return "this view is remote (" + inert(d.opts.Origin) + "): no " + action
	case !have:
		return "read-only (--readonly): no " + action
	}
	return ""
}

// signalMenu is F9 and k: the signals for the tagged processes (or the
// selected one), named in the title. Choosing one sends it through
// Options.Signal, which checks each process's identity (pid and start
// time) first.
func (d *Dashboard) signalMenu() {
	if why := d.actionRefusal("signals", d.opts.Signal != nil); why != "" {
		d.setStatus("[yellow]" + why + "[-]")
		return
	}
	procs, who := d.targets()
	if len(procs) == 0 {
		d.setStatus("[yellow]no process selected[-]")
		return
	}
	ids := make([]collector.ID, len(procs))
	for i, p := range procs {
		ids[i] = p.ID()
	}
	items := make([]menuItem, len(signalChoices))
	for i, s := range signalChoices {
		items[i] = menuItem{label: padLeft(strconv.Itoa(int(s.sig)), 2) + " " + padRight(s.name, 4), help: s.help}
	}
	d.openMenu("Send a signal to "+who, items, 0, func(i int) {
		s := signalChoices[i]
		sent, failed := 0, ""
		for _, id := range ids {
			if err := d.opts.Signal(id, s.sig); err != nil {
				failed = err.Error()
				continue
			}
			sent++
		}
		switch {
		case failed != "" && sent == 0:
			d.setStatus("[red]" + inert(failed) + "[-]")
		case failed != "":
			d.setStatus("[yellow]sent SIG" + s.name + " to " + strconv.Itoa(sent) + " of " + strconv.Itoa(len(ids)) + "; " + inert(failed) + "[-]")
		case len(ids) == 1:
			d.setStatus("sent SIG" + s.name + " to " + strconv.Itoa(ids[0].PID))
		default:
			d.setStatus("sent SIG" + s.name + " to " + lifecycle.CountOf(sent, "process", "processes"))
		}
	})
}

// askNice is F7 (delta -1: more favoured) and F8 (+1): a dialog naming
// the processes and the new nice value; Renice applies it to each after
// checking its identity.
func (d *Dashboard) askNice(delta int) {
	if why := d.actionRefusal("nice", d.opts.Renice != nil); why != "" {
		d.setStatus("[yellow]" + why + "[-]")
		return
	}
	procs, who := d.targets()
	if len(procs) == 0 {
		d.setStatus("[yellow]no process selected[-]")
		return
	}
	type change struct {
		id   collector.ID
		nice int
	}
	var changes []change
	for _, p := range procs {
		if p.IsKernelThread() || p.Read&collector.SrcStat == 0 {
			continue
		}
		n := min(max(int(p.Nice)+delta, -20), 19)
		if n != int(p.Nice) {
			changes = append(changes, change{p.ID(), n})
		}
	}
	if len(changes) == 0 {
		d.setStatus("[yellow]nice unchanged: already at the limit (-20 .. 19), or a kernel thread[-]")
		return
	}
	text := "Change the nice value (every thread) of " + who
	if len(procs) == 1 {
		text += " from " + strconv.FormatInt(procs[0].Nice, 10) + " to " + strconv.Itoa(changes[0].nice)
	} else {
		text += " by " + strconv.Itoa(delta)
	}
	text += "?"
	if delta < 0 {
		text += "\n(a lower nice value needs CAP_SYS_NICE)"
	}
	back, _ := d.pages.GetFrontPage()
	d.confirm.ClearButtons().SetText(text).AddButtons([]string{"Renice", "Cancel"}).
		SetDoneFunc(func(_ int, label string) {
			d.pages.RemovePage(pageConfirm)
			d.pages.SwitchToPage(back)
			d.restoreFocus()
			if label != "Renice" {
				d.setStatus("nice unchanged")
				return
			}
			done, failed := 0, ""
			for _, c := range changes {
				if err := d.opts.Renice(c.id, c.nice); err != nil {
					failed = err.Error()
					continue
				}
				done++
			}
			switch {
			case failed != "":
				d.setStatus("[red]renice: " + strconv.Itoa(done) + " of " + strconv.Itoa(len(changes)) + " changed; " + inert(failed) + "[-]")
			default:
				d.setStatus("nice changed on " + lifecycle.CountOf(done, "process", "processes"))
			}
		})
	d.confirm.SetFocus(0)
	d.pages.AddPage(pageConfirm, d.confirm, true, true)
	d.app.SetFocus(d.confirm)
}

// userMenu is u: every user with processes in the frame, with counts;
// choosing one shows only that user's processes ("all" shows all).
func (d *Dashboard) userMenu() {
	counts := map[string]int{}
	if d.frame != nil && d.frame.Snapshot != nil {
		for i := range d.frame.Snapshot.Processes {
			counts[d.frame.Snapshot.Processes[i].User]++
		}
	}
	users := make([]string, 0, len(counts))
	for u := range counts {
		users = append(users, u)
	}
	slices.Sort(users)
	items := []menuItem{{label: "all users"}}
	sel := 0
	for i, u := range users {
		name := u
		if name == "" {
			name = "(unknown)"
		}
		items = append(items, menuItem{label: padRight(inert(name), 16), help: lifecycle.CountOf(counts[u], "process", "processes")})
		if len(d.vo.users) == 1 && d.vo.users[u] {
			sel = i + 1
		}
	}
	d.openMenu("Show processes of", items, sel, func(i int) {
		if i == 0 {
			d.vo.users = nil
		} else {
			d.vo.users = map[string]bool{users[i-1]: true}
		}
		d.rebuild()
		d.updateHeader()
		d.updatePanels()
	})
}

// cgroupMenu is w: every workload (or cgroup) with processes in the
// frame; choosing one shows only its processes.
func (d *Dashboard) cgroupMenu() {
	if d.frame == nil || d.frame.Snapshot == nil {
		d.setStatus("[yellow]no sample yet[-]")
		return
	}
	counts := map[string]int{}
	read := false
	for i := range d.frame.Snapshot.Processes {
		p := &d.frame.Snapshot.Processes[i]
		if p.Read&collector.SrcCgroup != 0 {
			read = true
		}
		counts[cgroupText(p)]++
	}
	if !read {
		d.setStatus("[yellow]this source does not read cgroups[-]")
		return
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	slices.Sort(names)
	items := []menuItem{{label: "all cgroups"}}
	sel := 0
	for i, n := range names {
		items = append(items, menuItem{label: padRight(n, 24), help: lifecycle.CountOf(counts[n], "process", "processes")})
		if n == d.vo.workload {
			sel = i + 1
		}
	}
	d.openMenu("Show processes in", items, sel, func(i int) {
		if i == 0 {
			d.vo.workload = ""
		} else {
			d.vo.workload = names[i-1]
		}
		d.rebuild()
		d.updateHeader()
		d.updatePanels()
	})
}
