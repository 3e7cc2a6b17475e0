package dashboard

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

func TestMainScreenShowsProcesses(t *testing.T) {
	helper := livehelper.Start(t, "comm", run("dash1"))
	h := start(t, Options{}, 160, 50)
	a, b := frames(t, helper.PID())
	h.src.send(a)
	h.src.send(b)
	scr := h.waitFor("ctx ")
	for _, want := range []string{"PID", "USER", "THR", "CPU%", "MEM%", "RES", "SHR", "TIME+", "VCSW/s", "NVCSW/s", "COMMAND",
		"tasks ", "running", "sleeping", "zombie", "ctx ", "every 1s", "events ", "zombies: ", "Mem[", "Swp[", "Avg[", "PSI "} {
		if !strings.Contains(scr, want) {
			t.Errorf("main screen lacks %q:\n%s", want, scr)
		}
	}
	h.runes("\\" + run("dash1"))
	h.key(tcell.KeyEnter)
	scr = h.waitUntil("the helper's row", func(s string) bool { return rowOf(s, helper.PID()) != "" })
	if l := rowOf(scr, helper.PID()); !strings.Contains(l, "("+run("dash1")+")") || !strings.Contains(l, " S ") {
		t.Errorf("helper row %q lacks its comm or state", l)
	}
}

func TestSortByKeysAndHeaderClick(t *testing.T) {
	h := start(t, Options{}, 160, 40)
	a, b := frames(t)
	h.src.send(a)
	h.src.send(b)
	h.waitFor("COMMAND")
	h.waitState("rows", func(d *Dashboard) bool { return len(d.model.rows) > 10 })

	compareRows := func(x, y *row, c colID) int { return h.d.model.compareRows(x, y, c) }
	sorted := func(cmp func(x, y *row) int) func(d *Dashboard) bool {
		return func(d *Dashboard) bool {
			return slices.IsSortedFunc(d.model.rows, func(x, y row) int { return cmp(&x, &y) })
		}
	}
	// Default: CPU% descending.
	h.waitState("CPU% descending", sorted(func(x, y *row) int { return -compareRows(x, y, colCPU) }))
	h.runes("N")
	h.waitState("PID ascending", sorted(func(x, y *row) int { return compareRows(x, y, colPID) }))
	h.waitFor("PID▲")
	h.runes("N")
	h.waitState("PID descending", sorted(func(x, y *row) int { return -compareRows(x, y, colPID) }))
	h.runes("M")
	h.waitState("MEM% descending", sorted(func(x, y *row) int { return -compareRows(x, y, colMem) }))
	h.runes(">")
	h.waitState("TIME+ after MEM%", func(d *Dashboard) bool { return d.vo.sortCol == colTime })

	// Click the USER header.
	scr := h.waitFor("USER")
	var x, y int
	for i, l := range strings.Split(scr, "\n") {
		if j := strings.Index(l, "USER"); j >= 0 && strings.Contains(l, "COMMAND") {
			x, y = len([]rune(l[:j])), i
			break
		}
	}
	h.mouse(x+1, y, tcell.Button1)
	h.mouse(x+1, y, tcell.ButtonNone)
	h.waitState("USER ascending after a header click", func(d *Dashboard) bool {
		return d.vo.sortCol == colUser && !d.vo.sortDesc &&
			slices.IsSortedFunc(d.model.rows, func(x, y row) int { return compareRows(&x, &y, colUser) })
	})
	h.waitFor("USER▲")
}

func TestFilterAndEscape(t *testing.T) {
	h1 := livehelper.Start(t, "comm", run("flta"))
	h2 := livehelper.Start(t, "comm", run("fltb"))
	h := start(t, Options{}, 160, 40)
	a, b := frames(t, h1.PID(), h2.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitFor("COMMAND")
	h.runes("\\" + strings.ToUpper(run("flt"))) // case-insensitive
	h.waitState("the filter typed", func(d *Dashboard) bool { return d.vo.filter == run("flt") })
	scr := h.waitUntil("only the two helpers", func(s string) bool {
		return rowOf(s, h1.PID()) != "" && rowOf(s, h2.PID()) != ""
	})
	h.waitState("two rows", func(d *Dashboard) bool { return len(d.model.rows) == 2 })
	if !strings.Contains(scr, "filter: "+strings.ToUpper(run("flt"))) {
		t.Errorf("filter prompt not shown:\n%s", scr)
	}
	h.runes("A")
	h.waitState("one row", func(d *Dashboard) bool { return len(d.model.rows) == 1 && d.model.rows[0].p.PID == h1.PID() })
	// A new frame keeps the filter.
	_, c := frames(t, h1.PID(), h2.PID())
	c.Seq = 3
	h.src.send(c)
	h.waitState("one row after a frame", func(d *Dashboard) bool { return d.frame.Seq == 3 && len(d.model.rows) == 1 })
	// Esc leaves the prompt and clears the filter.
	h.key(tcell.KeyEscape)
	h.waitState("filter cleared", func(d *Dashboard) bool { return d.inputMode == inputNone && len(d.model.rows) > 2 })
	// Enter keeps it, shown as typed though matched without regard to
	// case (the header showed it lower-cased; tester14); Esc on the
	// table clears it.
	h.runes("\\" + run("FltB"))
	h.key(tcell.KeyEnter)
	h.waitState("filter kept", func(d *Dashboard) bool { return d.inputMode == inputNone && len(d.model.rows) == 1 })
	h.waitFor("filter " + run("FltB"))
	// Opened again, the input line holds it as typed.
	h.runes("\\")
	h.waitFor("filter: " + run("FltB"))
	h.key(tcell.KeyEnter)
	h.waitState("filter kept again", func(d *Dashboard) bool { return d.inputMode == inputNone && len(d.model.rows) == 1 })
	h.key(tcell.KeyEscape)
	h.waitState("filter cleared by Esc", func(d *Dashboard) bool { return d.vo.filter == "" && len(d.model.rows) > 2 })
}

func TestTreeAndStateFilter(t *testing.T) {
	z := livehelper.Start(t, "zombies", "2")
	h := start(t, Options{Filter: "procshape"}, 160, 40)
	var a, b = frames(t, z.PIDs...)
	// Wait until the children are zombies in the snapshot.
	for end := time.Now().Add(patience); ; {
		n := 0
		for _, pid := range z.PIDs[1:] {
			if p := lifecycle.Find(b.Snapshot, pid); p != nil && p.IsZombie() {
				n++
			}
		}
		if n == 2 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("zombies did not appear")
		}
		a, b = frames(t, z.PIDs...)
	}
	h.src.send(a)
	h.src.send(b)
	h.waitUntil("zombie rows", func(s string) bool { return rowOf(s, z.PIDs[1]) != "" })
	h.runes("t")
	scr := h.waitUntil("the tree", func(s string) bool {
		l := rowOf(s, z.PIDs[2])
		return strings.Contains(l, "└─") || strings.Contains(l, "├─")
	})
	// The parent comes before its children, and children are indented.
	var parentLine, childLine int = -1, -1
	for i, l := range strings.Split(scr, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == strconv.Itoa(z.PID()) {
			parentLine = i
		}
		if len(f) > 0 && f[0] == strconv.Itoa(z.PIDs[1]) {
			childLine = i
		}
	}
	if parentLine < 0 || childLine <= parentLine {
		t.Errorf("tree order wrong (parent line %d, child line %d):\n%s", parentLine, childLine, scr)
	}
	if l := rowOf(scr, z.PIDs[1]); !strings.Contains(l, " Z ") {
		t.Errorf("zombie row %q does not show state Z", l)
	}
	// Zombies only.
	h.runes("z")
	h.waitState("zombies only", func(d *Dashboard) bool {
		n := 0
		for _, r := range d.model.rows {
			if !r.p.IsZombie() {
				return false
			}
			if r.p.PPID == z.PID() {
				n++
			}
		}
		return n == 2
	})
	h.waitFor("state Z")
	// The zombie panel names the parent (its text: other tests' zombie
	// parents may fill the visible lines).
	h.waitFor("zombies: ")
	h.waitState("the zombie panel names the parent", func(d *Dashboard) bool {
		return strings.Contains(d.panels[d.panelIndex("zombies")].box.(*tview.TextView).GetText(true), "of parent "+strconv.Itoa(z.PID()))
	})
	// Rows are coloured by state: the zombie rows are red (but for the
	// selected one, drawn in the selection's colours).
	scr = h.waitUntil("the zombie rows", func(s string) bool { return rowOf(s, z.PIDs[1]) != "" && rowOf(s, z.PIDs[2]) != "" })
	var colours []tcell.Color
	for i, l := range strings.Split(scr, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || (f[0] != strconv.Itoa(z.PIDs[1]) && f[0] != strconv.Itoa(z.PIDs[2])) {
			continue
		}
		h.onUI(func() {
			cells, w, _ := h.sim.GetContents()
			for x := 0; x < w; x++ {
				if c := cells[i*w+x]; len(c.Runes) > 0 && c.Runes[0] == 'Z' {
					fg, _, _ := c.Style.Decompose()
					colours = append(colours, fg)
					break
				}
			}
		})
	}
	if !slices.Contains(colours, tcell.ColorRed) {
		t.Errorf("zombie rows drawn in %v, want red", colours)
	}
}

func TestThreadsUnderProcess(t *testing.T) {
	th := livehelper.Start(t, "threads", "4")
	h := start(t, Options{Filter: "procshape"}, 160, 40)
	a, b := frames(t, th.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitUntil("the helper", func(s string) bool { return rowOf(s, th.PID()) != "" })
	h.runes("H")
	scr := h.waitUntil("thread rows", func(s string) bool {
		for _, tid := range workerTIDs(t, b.Snapshot, th.PID()) {
			if rowOf(s, tid) == "" {
				return false
			}
		}
		return true
	})
	if !strings.Contains(scr, "threads") {
		t.Errorf("header does not say threads:\n%s", scr)
	}
	// Threads come right after their process.
	h.waitState("thread rows follow the process", func(d *Dashboard) bool {
		for i, r := range d.model.rows {
			if r.p.PID == th.PID() && r.t == nil {
				return i+3 < len(d.model.rows) && d.model.rows[i+1].t != nil && d.model.rows[i+3].t != nil
			}
		}
		return false
	})
}

func TestSelectionFollowsProcess(t *testing.T) {
	h1 := livehelper.Start(t, "comm", run("sela"))
	h2 := livehelper.Start(t, "comm", run("selb"))
	h := start(t, Options{Filter: run("sel")}, 160, 40)
	a, b := frames(t, h1.PID(), h2.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitState("two rows", func(d *Dashboard) bool { return len(d.model.rows) == 2 })
	h.runes("N") // PID ascending: h1 first
	h.waitState("sorted", func(d *Dashboard) bool { return d.model.rows[0].p.PID == min(h1.PID(), h2.PID()) })
	h.key(tcell.KeyDown)
	second := max(h1.PID(), h2.PID())
	h.waitState("second selected", func(d *Dashboard) bool { r := d.selected(); return r != nil && r.p.PID == second })
	h.runes("N") // PID descending: the selected process moves to row 1
	h.waitState("selection stayed on the process", func(d *Dashboard) bool {
		r, _ := d.table.GetSelection()
		return r == 1 && d.selected().p.PID == second
	})
}

// TestSelectionStaysAtTopUntilMoved: until the user moves the selection,
// the first row stays selected when the order changes (the first frame,
// before CPU% is known, must not pin whatever row came first, which could
// scroll the busiest processes out of sight); once moved, it follows.
func TestSelectionStaysAtTopUntilMoved(t *testing.T) {
	h1 := livehelper.Start(t, "comm", run("topa"))
	h2 := livehelper.Start(t, "comm", run("topb"))
	h := start(t, Options{Filter: run("top")}, 160, 40)
	a, b := frames(t, h1.PID(), h2.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitState("two rows", func(d *Dashboard) bool { return len(d.model.rows) == 2 })
	lo, hi := min(h1.PID(), h2.PID()), max(h1.PID(), h2.PID())
	h.runes("N") // PID ascending
	h.waitState("ascending, first row selected", func(d *Dashboard) bool {
		r, _ := d.table.GetSelection()
		return d.model.rows[0].p.PID == lo && r == 1
	})
	h.runes("N") // PID descending: still the first row, now the other process
	h.waitState("first row still selected", func(d *Dashboard) bool {
		r, _ := d.table.GetSelection()
		return d.model.rows[0].p.PID == hi && r == 1 && d.selected().p.PID == hi
	})
}

func TestDetailTabs(t *testing.T) {
	th := livehelper.Start(t, "threads", "3")
	child := livehelper.Start(t, "zombies", "1")
	h := start(t, Options{Filter: "procshape"}, 160, 45)
	a, b := frames(t, append([]int{th.PID()}, child.PIDs...)...)
	h.src.send(a)
	h.src.send(b)
	h.waitUntil("the helper", func(s string) bool { return rowOf(s, th.PID()) != "" })
	h.onUI(func() {
		h.d.table.Select(h.d.model.find(rowKey{id: lifecycle.Find(b.Snapshot, th.PID()).ID()})+1, 0)
	})
	h.key(tcell.KeyEnter)
	scr := h.waitFor("1 Threads")
	for _, tid := range workerTIDs(t, b.Snapshot, th.PID()) {
		if rowOf(scr, tid) == "" {
			t.Errorf("threads tab lacks thread %d:\n%s", tid, scr)
		}
	}
	for _, want := range []string{"TID", "VCSW/s", "NVCSW/s", "STACK", strconv.Itoa(th.PID()) + " procshape"} {
		if !strings.Contains(scr, want) {
			t.Errorf("threads tab lacks %q:\n%s", want, scr)
		}
	}
	h.key(tcell.KeyTab)
	scr = h.waitFor("Address space")
	if !strings.Contains(scr, "VSZ") {
		t.Errorf("memory tab:\n%s", scr)
	}
	h.key(tcell.KeyTab)
	scr = h.waitFor("Children")
	if !strings.Contains(scr, "Parent") || !strings.Contains(scr, "Events") {
		t.Errorf("lifecycle tab:\n%s", scr)
	}
	h.runes("4")
	scr = h.waitFor("Signals caught")
	for _, want := range []string{"Capabilities", "Context switches", "Scheduling", "Command line"} {
		if !strings.Contains(scr, want) {
			t.Errorf("status tab lacks %q:\n%s", want, scr)
		}
	}
	h.key(tcell.KeyEscape)
	h.waitFor("COMMAND")

	// The zombie parent's lifecycle tab lists its zombie child.
	h.onUI(func() {
		p := lifecycle.Find(b.Snapshot, child.PID())
		h.d.table.Select(h.d.model.find(rowKey{id: p.ID()})+1, 0)
	})
	h.key(tcell.KeyEnter)
	h.runes("3")
	h.waitUntil("the child listed", func(s string) bool {
		return strings.Contains(s, "Children (1)") && strings.Contains(s, strconv.Itoa(child.PIDs[1]))
	})
}

func TestHostileNamesAreInert(t *testing.T) {
	hostile := "[red]\x1b[2J\a[:::x]"
	hp := livehelper.Start(t, "comm", hostile)
	h := start(t, Options{}, 200, 40)
	a, b := frames(t, hp.PID())
	// Another process of the machine whose names hold the filter's text
	// (a tester's or another suite's hostile helper) would be matched
	// too, and Enter could open it: keep only this test's.
	for _, f := range []*monitor.Frame{a, b} {
		f.Snapshot.Processes = slices.DeleteFunc(f.Snapshot.Processes, func(p collector.Process) bool {
			return p.PID != hp.PID() && lifecycle.MatchesName(&p, "2j")
		})
	}
	h.src.send(a)
	h.src.send(b)
	h.runes("\\2J")
	h.key(tcell.KeyEnter)
	h.waitState("the filter typed", func(d *Dashboard) bool { return d.vo.filter == "2j" && d.inputMode == inputNone })
	scr := h.waitUntil("the hostile row", func(s string) bool { return rowOf(s, hp.PID()) != "" })
	l := rowOf(scr, hp.PID())
	if !strings.Contains(l, "[red]?[2J?[:::x") || !strings.Contains(l, "[red]?[2J?[:::x]") {
		t.Errorf("hostile comm not shown literally: %q", l)
	}
	checkInert(t, h)
	h.key(tcell.KeyEnter)
	for _, tab := range "1234" {
		h.runes(string(tab))
		h.waitState("tab", func(d *Dashboard) bool { return d.detail.tab == int(tab-'1') })
		h.waitFor("[red]?[2J")
		checkInert(t, h)
	}
}

// checkInert fails when any screen cell holds a control rune.
func checkInert(t *testing.T, h *harness) {
	t.Helper()
	h.onUI(func() {
		cells, _, _ := h.sim.GetContents()
		for i, c := range cells {
			for _, r := range c.Runes {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
					t.Errorf("cell %d holds control rune %#x", i, r)
				}
			}
		}
	})
}

func TestResizeDownToOneCell(t *testing.T) {
	th := livehelper.Start(t, "threads", "2")
	h := start(t, Options{}, 120, 40)
	a, b := frames(t, th.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitFor("COMMAND")
	sizes := [][2]int{{1, 1}, {2, 1}, {1, 2}, {3, 3}, {10, 2}, {40, 5}, {80, 7}, {20, 30}, {200, 60}, {1, 1}}
	resize := func(w, hh int) {
		h.onUI(func() { h.sim.SetSize(w, hh) })
		h.post(tcell.NewEventResize(w, hh))
		h.waitState("resized", func(d *Dashboard) bool { return d.lastW == w && d.lastH == hh })
	}
	for _, s := range sizes {
		resize(s[0], s[1])
	}
	// The same in the detail view, the filter prompt and the help.
	h.runes("\\")
	for _, s := range sizes {
		resize(s[0], s[1])
	}
	h.key(tcell.KeyEnter)
	h.key(tcell.KeyEnter)
	h.waitState("detail", func(d *Dashboard) bool { return d.detail.isOpen() })
	small := [][2]int{{1, 1}, {3, 3}, {40, 5}, {120, 40}}
	for _, tab := range "1234" {
		h.runes(string(tab))
		for _, s := range small {
			resize(s[0], s[1])
		}
	}
	h.key(tcell.KeyEscape)
	h.runes("?")
	for _, s := range sizes {
		resize(s[0], s[1])
	}
	h.runes("?")
	resize(100, 30)
	h.waitFor("COMMAND")
}

func TestQuitStopsFeeder(t *testing.T) {
	h := start(t, Options{}, 100, 30)
	a, b := frames(t)
	// Keep frames coming while quitting: the feeder must not block
	// QueueUpdateDraw after Stop.
	stop := make(chan struct{})
	go func() {
		for i := uint64(3); ; i++ {
			f := *b
			f.Seq = i
			select {
			case h.src.ch <- &f:
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)
	h.src.send(a)
	h.waitFor("COMMAND")
	h.runes("q")
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
		h.done <- nil // for the cleanup
	case <-time.After(patience):
		t.Fatal("q did not stop the dashboard")
	}
	h.src.mu.Lock()
	defer h.src.mu.Unlock()
	if !h.src.unsubscribed {
		t.Error("the dashboard did not unsubscribe")
	}
}

func TestPauseAndInterval(t *testing.T) {
	h := start(t, Options{}, 160, 30)
	a, _ := frames(t)
	h.src.send(a)
	// The frame applied first, as in TestIntervalKeptByF2.
	h.waitState("the frame applied", func(d *Dashboard) bool { return d.frame == a })
	h.waitFor("every 1s")
	h.runes("Z")
	h.waitFor("PAUSED")
	h.runes("dd")
	h.waitFor("every 3s")
	h.runes("D")
	h.waitFor("every 2s")
	// + and - are the tree's fold keys, not the interval: outside the
	// tree they say so.
	h.runes("+")
	h.waitFor("the interval is d and D")
	h.src.mu.Lock()
	defer h.src.mu.Unlock()
	if !h.src.paused || h.src.interval != 2*time.Second {
		t.Errorf("source: paused %v interval %v; want true 2s", h.src.paused, h.src.interval)
	}
}

func TestSignalConfirmation(t *testing.T) {
	hp := livehelper.Start(t, "comm", run("sig"))
	type call struct {
		id  collector.ID
		sig syscall.Signal
	}
	calls := make(chan call, 4)
	h := start(t, Options{Filter: run("sig"), Signal: func(id collector.ID, sig syscall.Signal) error {
		calls <- call{id, sig}
		return nil
	}}, 160, 30)
	a, b := frames(t, hp.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitUntil("the helper", func(s string) bool { return rowOf(s, hp.PID()) != "" })
	h.runes("k")
	scr := h.waitFor("Send a signal to process " + strconv.Itoa(hp.PID()) + " (" + run("sig") + ")")
	for _, sig := range []string{"TERM", "HUP", "INT", "KILL", "USR1", "USR2", "STOP", "CONT"} {
		if !strings.Contains(scr, sig) {
			t.Errorf("menu lacks %s:\n%s", sig, scr)
		}
	}
	// The dialog survives any size.
	for _, sz := range [][2]int{{1, 1}, {5, 2}, {30, 6}, {160, 30}} {
		w, hh := sz[0], sz[1]
		h.onUI(func() { h.sim.SetSize(w, hh) })
		h.post(tcell.NewEventResize(w, hh))
		h.waitState("resized", func(d *Dashboard) bool { return d.lastW == w && d.lastH == hh })
	}
	h.waitFor("Send a signal")
	h.key(tcell.KeyEscape)
	h.waitState("menu closed", func(d *Dashboard) bool { f, _ := d.pages.GetFrontPage(); return f == pageMain })
	select {
	case c := <-calls:
		t.Fatalf("Esc sent %v", c)
	default:
	}
	h.key(tcell.KeyF9)
	h.waitFor("Send a signal")
	h.key(tcell.KeyEnter) // TERM, the first choice
	select {
	case c := <-calls:
		want := lifecycle.Find(b.Snapshot, hp.PID()).ID()
		if c.id != want || c.sig != syscall.SIGTERM {
			t.Errorf("Signal(%v, %v); want %v, SIGTERM", c.id, c.sig, want)
		}
	case <-time.After(patience):
		t.Fatal("Signal was not called")
	}
	h.waitFor("sent SIGTERM to " + strconv.Itoa(hp.PID()))
}

func TestReadonlyHasNoSignal(t *testing.T) {
	h := start(t, Options{}, 200, 30)
	a, _ := frames(t)
	h.src.send(a)
	h.waitFor("COMMAND")
	lines := h.lines()
	if footer := lines[len(lines)-1]; !strings.Contains(footer, "q quit") || strings.Contains(footer, "kill") || strings.Contains(footer, "nice") {
		t.Errorf("footer %q: want the keys without a signal or nice action", footer)
	}
	h.runes("k")
	h.waitFor("read-only (--readonly): no signals")
	h.key(tcell.KeyF7)
	h.waitFor("read-only (--readonly): no nice")
	h.runes("?")
	h.waitFor("this help")
	var help string
	h.ui(func() { help = h.d.help.GetText(true) }, false)
	if !strings.Contains(help, "(read-only (--readonly): no signals)") || !strings.Contains(help, "(read-only (--readonly): no nice)") {
		t.Errorf("help does not say the signal and nice actions are off:\n%s", help)
	}
}

// run names a helper of this test binary: "p", the binary's pid, "-" and
// base. Other runs of these tests on the machine (other worktrees, CI)
// start helpers too, and a filter by a fixed name would show theirs.
func run(base string) string { return fmt.Sprintf("p%d-%s", os.Getpid()%100000, base) }

// TestIntervalNotUndoneByOldFrame: a frame taken before d was pressed
// carries the interval before it; applied after the press, it must not
// put that interval back on the header, nor be where the next d steps
// from. A frame taken after the press says what is in force (a Source
// may not take the interval: a remote agent keeps its own).
func TestIntervalNotUndoneByOldFrame(t *testing.T) {
	h := start(t, Options{}, 160, 30)
	a, b := frames(t) // both taken before any key, at 1s
	h.src.send(a)
	h.waitState("the frame applied", func(d *Dashboard) bool { return d.frame == a })
	h.waitFor("every 1s")
	h.runes("dd")
	h.waitFor("every 3s")
	h.src.send(b)
	h.waitState("the old frame applied", func(d *Dashboard) bool { return d.frame == b })
	var iv time.Duration
	h.onUI(func() { iv = h.d.interval })
	if iv != 3*time.Second {
		t.Errorf("after a frame taken at 1s before dd: interval %v; want 3s", iv)
	}
	h.waitFor("every 3s")
	h.runes("d")
	h.waitFor("every 5s")
	h.src.mu.Lock()
	asked := h.src.interval
	h.src.mu.Unlock()
	if asked != 5*time.Second {
		t.Errorf("the third d asked %v of the source; want 5s (the step after 3s)", asked)
	}
	// A frame taken after the press, at another interval: the source's.
	c := frameOf(3, b.Snapshot, snapshot(t))
	c.Interval = 2 * time.Second
	h.src.send(c)
	h.waitState("the new frame applied", func(d *Dashboard) bool { return d.frame == c && d.interval == 2*time.Second })
	h.waitFor("every 2s")
}
