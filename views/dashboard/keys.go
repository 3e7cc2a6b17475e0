package dashboard

import (
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// keyScope is where a key acts.
type keyScope uint8

const (
	inMain   keyScope = 1 << iota // the process table (and a focused panel that does not use the key)
	inDetail                      // the detail view
	inBoth   = inMain | inDetail
)

// keyMode says whether a key acts live, in a replay, or in both.
type keyMode uint8

const (
	anyMode    keyMode = iota
	liveOnly           // not in a replay (a Timeline source)
	replayOnly         // only in a replay
	// replayKeys act only in a replay, and are kept free in a live view
	// for it ([ ] { } @, the recorder's keys): the help lists them there
	// too, and pressing one live says what it is for.
	replayKeys
)

// replay reports whether a key of this mode is a replay's.
func (m keyMode) replay() bool { return m == replayOnly || m == replayKeys }

// keyMatch is one key: a special key, or a rune (k == tcell.KeyRune).
type keyMatch struct {
	k tcell.Key
	r rune
}

func rk(r rune) keyMatch      { return keyMatch{k: tcell.KeyRune, r: r} }
func sk(k tcell.Key) keyMatch { return keyMatch{k: k} }
func (m keyMatch) is(ev *tcell.EventKey) bool {
	if m.k == tcell.KeyRune {
		return ev.Key() == tcell.KeyRune && ev.Rune() == m.r
	}
	return ev.Key() == m.k
}

// keyDef is one row of the key map: the keys as the help shows them,
// what they match, where and when they act, what they do. The help page
// (F1, ?) is made from this table, so every key the dashboard reacts to
// is listed, and a key pressed where it does nothing says so.
type keyDef struct {
	keys  string
	match []keyMatch
	scope keyScope
	mode  keyMode
	what  string
	run   func(d *Dashboard) // nil: the table or the view handles it
}

// keyMap is the dashboard's key map, htop's where htop has the action.
// In a replay (pinspect replay, --remote --at), t and T step through the
// samples as in atop, [ and ] too; the tree stays on F5 and TIME+ sorting
// in the F6 menu. [ ] { } @ are the replay's in a live view too (htop's
// [ and ] nice keys are F7 and F8 here), so they never do something else
// to a user who expects a step through the record.
var keyMap []keyDef

// The key map is filled at init: its actions reach the help page, which
// reads it.
func init() { keyMap = keyTable() }

func keyTable() []keyDef {
	return []keyDef{
		{"↑ ↓ PgUp PgDn Home End j g G", nil, inMain, anyMode, "move; a click selects, the wheel scrolls", nil},
		{"Enter, double click", nil, inMain, anyMode, "the detail view of the selected process", nil},
		{"F1 ? h", []keyMatch{sk(tcell.KeyF1), rk('?'), rk('h')}, inBoth, anyMode, "this help: every key", (*Dashboard).showHelp},
		{"F2 S", []keyMatch{sk(tcell.KeyF2), rk('S')}, inBoth, anyMode, "setup: columns (add, remove, reorder), meters, sort, interval, panels; kept in the config file", (*Dashboard).openSetup},
		{"F3 /", []keyMatch{sk(tcell.KeyF3), rk('/')}, inMain, anyMode, "search: select the next process whose comm, executable path or command line contains the text (case ignored), or whose pid starts with it (F3 or ↓ again: next, Shift-F3 or ↑: previous); the list stays whole", func(d *Dashboard) { d.openInput(inputSearch) }},
		{"n", []keyMatch{rk('n')}, inMain, anyMode, "the next match of the last search", func(d *Dashboard) {
			if d.search == "" {
				d.setStatus("[yellow]no search yet: F3 or / starts one[-]")
				return
			}
			d.findNext(d.selIndex()+1, 1)
		}},
		{"F4 \\", []keyMatch{sk(tcell.KeyF4), rk('\\')}, inMain, anyMode, "filter: only the processes whose comm, executable path or command line contains the text (case ignored, as --name), or whose pid starts with it (Enter keeps it, Esc clears it)", func(d *Dashboard) { d.openInput(inputFilter) }},
		{"F5 t", []keyMatch{sk(tcell.KeyF5)}, inMain, anyMode, "tree by parent (siblings keep the sort); t too, except in a replay", (*Dashboard).toggleTree},
		{"t", []keyMatch{rk('t')}, inMain, liveOnly, "tree (as F5)", (*Dashboard).toggleTree},
		{"+ - *", []keyMatch{rk('+'), rk('='), rk('-'), rk('*')}, inMain, anyMode, "tree: expand, collapse the selected subtree; * expands all (collapses all when none is folded)", nil},
		{"F6", []keyMatch{sk(tcell.KeyF6)}, inMain, anyMode, "sort menu (the list jumps to the top)", (*Dashboard).sortMenu},
		{"< > , .", []keyMatch{rk('<'), rk('>'), rk(','), rk('.')}, inMain, anyMode, "sort by the previous, next column; a click on a header sorts by it", nil},
		{"I r", []keyMatch{rk('I'), rk('r')}, inMain, anyMode, "invert the sort", func(d *Dashboard) { d.sortBy(d.vo.sortCol, true) }},
		{"P M N V", []keyMatch{rk('P'), rk('M'), rk('N'), rk('V')}, inMain, anyMode, "sort by CPU%, MEM%, PID, VCSW/s (again: invert)", nil},
		{"T", []keyMatch{rk('T')}, inMain, liveOnly, "sort by TIME+", nil},
		{"F7", []keyMatch{sk(tcell.KeyF7)}, inBoth, anyMode, "nice -1 (more CPU; needs CAP_SYS_NICE): asks first; the tagged processes the table shows, else the selected one; every thread", func(d *Dashboard) { d.askNice(-1) }},
		{"F8", []keyMatch{sk(tcell.KeyF8)}, inBoth, anyMode, "nice +1 (less CPU): asks first", func(d *Dashboard) { d.askNice(+1) }},
		{"F9 k", []keyMatch{sk(tcell.KeyF9), rk('k')}, inBoth, anyMode, "signal menu (TERM HUP INT KILL USR1 USR2 STOP CONT) for the tagged processes the table shows, else the selected one (the detail view: its process); each checked by pid and start time", (*Dashboard).signalMenu},
		{"F10 q", []keyMatch{sk(tcell.KeyF10), rk('q')}, inBoth, anyMode, "quit (Ctrl-C too); the terminal is restored", (*Dashboard).quit},
		{"space", []keyMatch{rk(' ')}, inMain, anyMode, "tag or untag the selected process, and move down", (*Dashboard).tagSelected},
		{"c", []keyMatch{rk('c')}, inMain, anyMode, "tag the selected process and all its descendants", (*Dashboard).tagChildren},
		{"U", []keyMatch{rk('U')}, inMain, anyMode, "untag all", (*Dashboard).untagAll},
		{"u", []keyMatch{rk('u')}, inMain, anyMode, "show one user's processes (menu)", (*Dashboard).userMenu},
		{"w", []keyMatch{rk('w')}, inMain, anyMode, "show one cgroup's processes: systemd unit, container or pod (menu)", (*Dashboard).cgroupMenu},
		{"K", []keyMatch{rk('K')}, inMain, anyMode, "hide or show kernel threads", (*Dashboard).toggleKernel},
		{"H", []keyMatch{rk('H')}, inMain, anyMode, "threads under every process (read for every process while on)", (*Dashboard).toggleThreads},
		{"s", []keyMatch{rk('s')}, inMain, anyMode, "state filter: all, R, S, D, Z, T, I in turn", (*Dashboard).cycleState},
		{"z", []keyMatch{rk('z')}, inMain, anyMode, "zombies only (again: all)", (*Dashboard).toggleZombies},
		{"Z", []keyMatch{rk('Z')}, inBoth, liveOnly, "pause or resume sampling", (*Dashboard).togglePause},
		{"d D", []keyMatch{rk('d'), rk('D')}, inBoth, liveOnly, "refresh interval longer, shorter (250ms .. 10s; F2 for any)", nil},
		{"e", []keyMatch{rk('e')}, inMain, anyMode, "show or hide the bottom panels", (*Dashboard).togglePanels},
		{"Tab", []keyMatch{sk(tcell.KeyTab)}, inMain, anyMode, "the keys to the next panel (zombies, events: scroll, filter with F4) and back", (*Dashboard).nextPanel},
		{"Esc", []keyMatch{sk(tcell.KeyEscape)}, inMain, anyMode, "clear the filter, search, user, cgroup and state filters", (*Dashboard).clearFilters},
		{"t T", []keyMatch{rk('t'), rk('T')}, inBoth, replayOnly, "replay: next, previous sample (atop's t and T)", nil},
		{"] [", []keyMatch{rk(']'), rk('[')}, inBoth, replayKeys, "replay: next, previous sample", nil},
		{"} {", []keyMatch{rk('}'), rk('{')}, inBoth, replayKeys, "replay: ten samples forward, back", nil},
		{"@ b", []keyMatch{rk('@'), rk('b')}, inBoth, replayKeys, "replay: jump to a time (2026-12-01 02:00, 02:00, 2h ago)", func(d *Dashboard) { d.openInput(inputJump) }},
		{"Tab Shift-Tab ← → 1-9", nil, inDetail, anyMode, "detail view: the next, previous, n-th tab", nil},
		{"Esc Backspace", nil, inDetail, anyMode, "detail view: back to the table", nil},
	}
}

// runKey finds the key in the key map for the scope and runs it. It
// reports whether the key belongs to the map (even when its action is
// handled elsewhere).
func (d *Dashboard) runKey(ev *tcell.EventKey, scope keyScope) bool {
	replay := d.opts.Timeline != nil
	for i := range keyMap {
		k := &keyMap[i]
		if k.scope&scope == 0 || k.mode == liveOnly && replay || k.mode == replayOnly && !replay {
			continue
		}
		for _, m := range k.match {
			if !m.is(ev) {
				continue
			}
			if k.mode == replayKeys && !replay {
				d.setStatus("[yellow]" + tview.Escape(k.keys) + ": a replay's keys (pinspect replay, --at); a live view keeps them free[-]")
				return true
			}
			if k.run != nil {
				k.run(d)
			} else {
				d.specialKey(ev)
			}
			return true
		}
	}
	return false
}

// specialKey runs the keys of the map whose action depends on which one
// of its keys was pressed.
func (d *Dashboard) specialKey(ev *tcell.EventKey) {
	r := ev.Rune()
	if d.opts.Timeline != nil {
		switch r {
		case 't', ']':
			d.opts.Timeline.Step(1)
			return
		case 'T', '[':
			d.opts.Timeline.Step(-1)
			return
		case '}':
			d.opts.Timeline.Step(10)
			return
		case '{':
			d.opts.Timeline.Step(-10)
			return
		}
	}
	if c, ok := sortKeys[r]; ok {
		d.sortBy(c, c == d.vo.sortCol)
		return
	}
	switch r {
	case '+', '=':
		d.fold(false)
	case '-':
		d.fold(true)
	case '*':
		d.foldAll()
	case '<', ',':
		d.sortBy((d.vo.sortCol+numCols-1)%numCols, false)
	case '>', '.':
		d.sortBy((d.vo.sortCol+1)%numCols, false)
	case 'd':
		d.stepInterval(+1)
	case 'D':
		d.stepInterval(-1)
	}
}

// helpText is the help page, made from the key map.
func (d *Dashboard) helpText() string {
	var b strings.Builder
	replay := d.opts.Timeline != nil
	section := func(title string, scope keyScope) {
		b.WriteString("[::b]" + title + "[::-]\n")
		for _, k := range keyMap {
			if k.scope&scope == 0 || k.scope != scope && scope == inDetail || k.mode == liveOnly && replay || k.mode.replay() && !replay {
				continue
			}
			what := tview.Escape(k.what)
			if d.actionUnavailable(k.keys) != "" {
				what += " [gray](" + d.actionUnavailable(k.keys) + ")[-]"
			}
			b.WriteString("  [yellow]" + padRight(tview.Escape(k.keys), 30) + "[-] " + what + "\n")
		}
		b.WriteByte('\n')
	}
	section("Process table", inMain)
	section("Detail view (also: F1 F2 F7 F8 F9 F10 Z d D)", inDetail)
	if !replay {
		b.WriteString("[::b]Replay[::-] (pinspect replay, --at; kept free here)\n")
		for _, k := range keyMap {
			if k.mode == replayKeys {
				b.WriteString("  [yellow]" + padRight(tview.Escape(k.keys), 30) + "[-] " + tview.Escape(k.what) + "\n")
			}
		}
		b.WriteByte('\n')
	}
	for _, t := range d.detail.tabs {
		if t.keys != "" {
			b.WriteString("[::b]Tab " + t.name + "[::-]: " + tview.Escape(t.keys) + "\n")
		}
	}
	for _, p := range d.panels {
		if p.keys != "" {
			b.WriteString("[::b]Panel " + p.name + "[::-] (Tab gives it the keys): " + tview.Escape(p.keys) + "\n")
		}
	}
	b.WriteString("\n[::b]Columns[::-] (F2 adds, removes and moves them)\n")
	for c := colID(0); c < numCols; c++ {
		b.WriteString("  [yellow]" + padRight(colDefs[c].title, 8) + "[-] " + tview.Escape(colDefs[c].help) + "\n")
	}
	b.WriteString("\n[::b]Meters[::-]\n")
	for m := meterID(0); m < numMeters; m++ {
		b.WriteString("  [yellow]" + padRight(meterDefs[m].title, 12) + "[-] " + tview.Escape(meterDefs[m].help) + "\n")
	}
	b.WriteString("\nAn event marked * came from the kernel's process-events connector.\n")
	b.WriteString("Rows: running green, uninterruptible orange, zombie red, stopped magenta, idle grey, tagged yellow with *.\n")
	return b.String()
}

// actionUnavailable says why an action key is not offered here, or "".
func (d *Dashboard) actionUnavailable(keys string) string {
	switch {
	case strings.HasPrefix(keys, "F9"):
		return d.actionRefusal("signals", d.opts.Signal != nil)
	case strings.HasPrefix(keys, "F7"), strings.HasPrefix(keys, "F8"):
		return d.actionRefusal("nice", d.opts.Renice != nil)
	case keys == "H":
		if _, ok := d.src.(ThreadSampler); !ok {
			return "this source gives the selected process's threads only"
		}
	}
	return ""
}

// updateKeys formats the footer: "? help" and "q quit" first, so that a
// narrow terminal never loses them, then the status, then the most used
// keys of what has the keys.
func (d *Dashboard) updateKeys() {
	if d.status != "" && d.frame != nil && d.frame.Seq > d.statusUntil {
		d.status = ""
	}
	key := func(k, what string) string { return "[black:aqua]" + k + "[-:-]" + what + " " }
	s := key("?", " help") + key("q", " quit")
	if d.status != "" {
		s += d.status + "  "
	}
	front, _ := d.pages.GetFrontPage()
	switch {
	case front == pageDetail:
		s += key("Esc", " back") + key("Tab", " next tab") + key("1-"+string(rune('0'+len(d.detail.tabs))), " tab")
		if t := d.detail.tabs[d.detail.tab]; t.keys != "" {
			s += "[yellow]" + t.name + ":[-] " + t.keys + " "
		}
		if d.actionRefusal("signals", d.opts.Signal != nil) == "" {
			s += key("F9", " kill")
		}
	case d.panelFocus >= 0 && d.panelFocus < len(d.panels):
		p := d.panels[d.panelFocus]
		s += key("Tab", " next") + key("Esc", " table") + "[yellow]" + p.name + ":[-] " + tview.Escape(p.keys) + " "
	default:
		s += key("F2", "setup") + key("F3", "search") + key("F4", "filter") + key("F5", "tree") + key("F6", "sort")
		if d.actionRefusal("nice", d.opts.Renice != nil) == "" {
			s += key("F7", "nice-") + key("F8", "nice+")
		}
		if d.actionRefusal("signals", d.opts.Signal != nil) == "" {
			s += key("F9", "kill")
		}
		s += key("space", "tag") + key("u", "user") + key("H", "threads") + key("K", "kthreads") + key("Tab", "panels")
	}
	if d.opts.Timeline != nil {
		s += key("t/T", " step") + key("b", " jump")
	}
	d.keys.SetText(s)
}
