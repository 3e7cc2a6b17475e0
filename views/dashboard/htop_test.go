package dashboard

// Issue 16: the dashboard an htop user would switch to, driven on a
// simulation screen with frames of real processes: the key map, the
// meters, the columns chooser and its config, tagging, tree folding, the
// layouts, the events panel, the detail view's fixes, the sources'
// seams (remote, replay, threads).

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// TestHelpListsEveryKey: F1 shows the help, made from the key map: every
// key of the map is in it; a key that does nothing says so.
func TestHelpListsEveryKey(t *testing.T) {
	h := start(t, Options{}, 160, 50)
	a, b := frames(t)
	h.src.send(a)
	h.src.send(b)
	h.waitFor("COMMAND")
	h.key(tcell.KeyF1)
	h.waitFor("this help")
	var help string
	h.ui(func() { help = h.d.help.GetText(true) }, false)
	for _, k := range keyMap {
		if k.mode == replayOnly { // t T: the tree and TIME+ live
			continue
		}
		if !strings.Contains(help, k.keys) || !strings.Contains(help, k.what[:min(20, len(k.what))]) {
			t.Errorf("help lacks %q (%s)", k.keys, k.what)
		}
	}
	for _, want := range []string{"F2 S", "F3 /", "F4 \\", "F5", "F6", "F7", "F8", "F9 k", "F10 q", "space", "PPID", "MEM%", "TIME+", "CGROUP"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	h.key(tcell.KeyEscape)
	h.waitState("help closed", func(d *Dashboard) bool { f, _ := d.pages.GetFrontPage(); return f == pageMain })
	for _, want := range []string{"Replay", "] [", "} {", "@ b"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks the replay's %q:\n%s", want, help)
		}
	}
	// The replay's keys are kept free live: each says what it is for and
	// does nothing else (no nice dialog for htop's [ and ]).
	for _, r := range "[]{}@" {
		h.runes(string(r))
		h.waitFor("a replay's keys (pinspect replay, --at)")
		h.waitState("no dialog", func(d *Dashboard) bool {
			f, _ := d.pages.GetFrontPage()
			return f == pageMain && d.inputMode == inputNone
		})
		h.onUI(func() { h.d.status = "" })
	}
	h.runes("x")
	h.waitFor("'x' does nothing here (? lists every key)")
	h.key(tcell.KeyF12)
	h.waitFor("F12 does nothing here")
}

// TestSearchKeepsTheList: F3 selects the next matching process without
// filtering; F3 again goes to the next match; n after Enter too.
func TestSearchKeepsTheList(t *testing.T) {
	h1 := livehelper.Start(t, "comm", run("srcha"))
	h2 := livehelper.Start(t, "comm", run("srchb"))
	h := start(t, Options{}, 160, 50)
	a, b := frames(t, h1.PID(), h2.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitFor("COMMAND")
	h.runes("N") // PID order: the two helpers in pid order
	h.waitState("the frame applied", func(d *Dashboard) bool { return d.frame != nil && d.frame.Seq == 2 && len(d.model.rows) > 2 })
	var total int
	h.ui(func() { total = len(h.d.model.rows) }, false)
	h.key(tcell.KeyF3)
	h.runes(run("srch"))
	lo, hi := min(h1.PID(), h2.PID()), max(h1.PID(), h2.PID())
	selected := func(pid int) func(d *Dashboard) bool {
		return func(d *Dashboard) bool { r := d.selected(); return r != nil && r.p.PID == pid }
	}
	h.waitState("the first match selected", selected(lo))
	h.key(tcell.KeyF3)
	h.waitState("the next match selected", selected(hi))
	h.key(tcell.KeyEnter)
	h.waitState("search closed, the list whole", func(d *Dashboard) bool {
		return d.inputMode == inputNone && len(d.model.rows) == total && d.search == run("srch")
	})
	h.runes("n")
	h.waitState("n: the match after it (around)", selected(lo))
	h.key(tcell.KeyF3)
	h.runes("zzzznomatch")
	h.waitFor("search (no process matches): zzzznomatch")
	h.key(tcell.KeyEscape)
	h.runes("n")
	h.waitFor("no search yet")
}

// TestSortMenuAndResortJumpsToTop: F6 lists every column; choosing one
// sorts by it and shows the top of the list (the first row selected,
// even after the user had moved down), as does a sort key.
func TestSortMenuAndResortJumpsToTop(t *testing.T) {
	h := start(t, Options{}, 160, 50)
	a, b := frames(t)
	h.src.send(a)
	h.src.send(b)
	h.waitFor("COMMAND")
	h.waitState("rows", func(d *Dashboard) bool { return len(d.model.rows) > 10 })
	for i := 0; i < 8; i++ {
		h.key(tcell.KeyDown)
	}
	h.waitState("moved down", func(d *Dashboard) bool { r, _ := d.table.GetSelection(); return r > 5 })
	h.key(tcell.KeyF6)
	scr := h.waitFor("Sort by")
	for _, title := range []string{"PPID", "VIRT", "TIME+", "STARTED", "CGROUP"} {
		if !strings.Contains(scr, title) {
			t.Errorf("sort menu lacks %s:\n%s", title, scr)
		}
	}
	// Down to PPID (the second item) and choose it.
	h.ui(func() { h.d.menu.SetCurrentItem(int(colPPID)) }, true)
	h.key(tcell.KeyEnter)
	h.waitState("sorted by PPID, at the top", func(d *Dashboard) bool {
		r, _ := d.table.GetSelection()
		off, _ := d.table.GetOffset()
		return d.vo.sortCol == colPPID && r == 1 && off == 0
	})
	for i := 0; i < 8; i++ {
		h.key(tcell.KeyDown)
	}
	h.waitState("moved down", func(d *Dashboard) bool { r, _ := d.table.GetSelection(); return r > 5 })
	h.runes("P")
	h.waitState("sorted by CPU%, at the top", func(d *Dashboard) bool {
		r, _ := d.table.GetSelection()
		return d.vo.sortCol == colCPU && r == 1
	})
}

// TestMeters: a bar per CPU with its busy share, memory and swap bars,
// PSI, the CPU busy % in the header; the values are the frame's.
func TestMeters(t *testing.T) {
	h := start(t, Options{}, 200, 50)
	a, b := frames(t)
	h.src.send(a)
	h.src.send(b)
	n := len(b.Snapshot.Host.PerCPU)
	scr := h.waitUntil("the second frame's rates", func(s string) bool {
		return strings.Contains(s, "Mem[") && strings.Contains(s, "CPU "+percentString(b.Rates.System.CPUPercent)+"%")
	})
	if n == 0 {
		t.Fatal("the snapshot has no per-CPU times")
	}
	lines := strings.Split(scr, "\n")
	bars := 0
	for _, l := range lines[:8] {
		for _, c := range b.Snapshot.Host.PerCPU {
			if strings.Contains(l, strconv.Itoa(c.CPU)+"[") {
				bars++
			}
		}
	}
	if bars < n {
		t.Errorf("%d CPU bars for %d CPUs:\n%s", bars, n, scr)
	}
	for _, want := range []string{"Avg[", "Swp[", "PSI ", "CPU " + percentString(b.Rates.System.CPUPercent) + "%"} {
		if !strings.Contains(scr, want) {
			t.Errorf("meters lack %q:\n%s", want, strings.Join(lines[:8], "\n"))
		}
	}
	hst := &b.Snapshot.Host
	used := humanBytes(hst.MemTotalBytes-min(hst.MemAvailBytes, hst.MemTotalBytes)) + "/" + humanBytes(hst.MemTotalBytes)
	if !strings.Contains(scr, used) {
		t.Errorf("memory meter lacks %q", used)
	}
	if hst.HasSwap && hst.SwapTotalBytes == 0 && !strings.Contains(scr, "no swap") {
		t.Errorf("swap meter does not say there is no swap")
	}
	// A host without the files says "-", never 0.
	c := *b.Snapshot
	c.Host = collector.Host{Hostname: "fixture", Unavailable: map[string]string{"stat": "not present", "meminfo": "not present"}}
	f := &monitor.Frame{Seq: 3, Snapshot: &c, Interval: time.Second}
	h.src.send(f)
	scr = h.waitFor("/proc/stat not present")
	if !strings.Contains(scr, "Mem[") || strings.Contains(scr, "0B/") {
		t.Errorf("unknown memory shown as a value:\n%s", scr)
	}
}

// TestBarsAreLinear: bars are proportional: 48.7M against 194.8M is a
// quarter of the length; a CPU bar fills by its share.
func TestBarsAreLinear(t *testing.T) {
	const m = 1 << 20
	small, large := linearBar(487*m/10, 1948*m/10, 40), linearBar(1948*m/10, 1948*m/10, 40)
	count := func(s string) int { return strings.Count(s, "█") }
	if count(large) != 40 || count(small) != 9 && count(small) != 10 {
		t.Errorf("bars %q (%d) and %q (%d): want 40 and about 10", small, count(small), large, count(large))
	}
	if linearBar(1, 1<<40, 10) == strings.Repeat(" ", 10) {
		t.Error("a non-zero size shows nothing")
	}
	b := bar("0", 24, []barPart{{50, "green"}}, "50.0%")
	if got := strings.Count(tview.Escape(b), "|"); got < 9 || got > 11 {
		t.Errorf("a half bar of 21 cells has %d marks: %q", got, b)
	}
}

// TestColumnsChooserAndConfig: F2 removes SHR, adds PPID and moves it
// left; closing keeps the setup through SaveConfig; the config read back
// gives the same table.
func TestColumnsChooserAndConfig(t *testing.T) {
	var mu sync.Mutex
	var saved []Config
	save := func(c Config) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		saved = append(saved, c)
		return "/tmp/test/dashboard.conf", nil
	}
	h := start(t, Options{SaveConfig: save}, 160, 50)
	a, b := frames(t)
	h.src.send(a)
	h.src.send(b)
	h.waitFor("COMMAND")
	h.key(tcell.KeyF2)
	h.waitFor("Columns shown")
	// Remove SHR.
	h.ui(func() { h.d.setup.active.SetCurrentItem(slices.Index(h.d.model.cols, colShr)) }, true)
	h.key(tcell.KeyDelete)
	h.waitState("SHR removed", func(d *Dashboard) bool { return !slices.Contains(d.model.cols, colShr) })
	// COMMAND stays.
	h.ui(func() { h.d.setup.active.SetCurrentItem(len(h.d.model.cols) - 1) }, true)
	h.key(tcell.KeyDelete)
	h.waitFor("COMMAND stays")
	// Add PPID from the available list, then move it left twice.
	h.key(tcell.KeyTab)
	h.ui(func() { h.d.setup.avail.SetCurrentItem(slices.Index(h.d.setup.hidden(), colPPID)) }, true)
	h.key(tcell.KeyEnter)
	h.waitState("PPID added before COMMAND", func(d *Dashboard) bool {
		n := len(d.model.cols)
		return n > 2 && d.model.cols[n-2] == colPPID && d.model.cols[n-1] == colCmd
	})
	h.key(tcell.KeyBacktab)
	h.ui(func() { h.d.setup.active.SetCurrentItem(len(h.d.model.cols) - 2) }, true)
	h.key(tcell.KeyF7)
	h.key(tcell.KeyF7)
	h.waitState("PPID moved left", func(d *Dashboard) bool {
		n := len(d.model.cols)
		return d.model.cols[n-4] == colPPID
	})
	// Meters: switch PSI off in the third list.
	h.key(tcell.KeyTab)
	h.key(tcell.KeyTab)
	h.ui(func() { h.d.setup.other.SetCurrentItem(int(meterPSI)) }, true)
	h.key(tcell.KeyEnter)
	h.waitState("PSI off", func(d *Dashboard) bool { return !d.meters[meterPSI] })
	h.key(tcell.KeyEscape)
	h.waitFor("setup saved to /tmp/test/dashboard.conf")
	scr := h.waitFor("PPID")
	if strings.Contains(scr, " SHR ") || strings.Contains(scr, "PSI cpu") {
		t.Errorf("SHR or PSI still shown:\n%s", scr)
	}
	mu.Lock()
	if len(saved) != 1 {
		t.Fatalf("SaveConfig called %d times", len(saved))
	}
	c := saved[0]
	mu.Unlock()
	if slices.Contains(c.Columns, "shr") || !slices.Contains(c.Columns, "ppid") || c.Columns[len(c.Columns)-1] != "command" || slices.Contains(c.Meters, "psi") {
		t.Errorf("saved %+v", c)
	}
	// Round trip: the file a new dashboard reads gives the same setup.
	back, err := ParseConfig(c.Marshal())
	if err != nil || !slices.Equal(back.Columns, c.Columns) || !slices.Equal(back.Meters, c.Meters) || back.Sort != c.Sort {
		t.Fatalf("round trip: %+v, %v; want %+v", back, err, c)
	}
	h2 := start(t, Options{Config: &back}, 160, 50)
	h2.src.send(a)
	h2.src.send(b)
	h2.waitState("the same columns", func(d *Dashboard) bool { return slices.Equal(d.model.cols, h.d.model.cols) })
}

// TestParseConfig: a bad file gives the defaults for what it could not
// use and one line naming each problem; never a panic.
func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte("# comment\ncolumns=pid,user,nope\nsort=mem\nsort_desc=maybe\ninterval=50ms\nmeters=cpus,memory\nbogus=1\nno equals\n"))
	if err == nil {
		t.Fatal("no error for a bad file")
	}
	for _, want := range []string{"line 2: unknown column \"nope\"", "line 4: sort_desc", "line 5: interval", "and 2 more"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if c.Sort != "mem" || !slices.Equal(c.Meters, []string{"cpus", "memory"}) || !slices.Equal(c.Columns, DefaultConfig().Columns) {
		t.Errorf("valid lines not applied or invalid ones applied: %+v", c)
	}
	big := make([]byte, MaxConfigBytes+1)
	if _, err := ParseConfig(big); err == nil {
		t.Error("an oversized file accepted")
	}
	d := DefaultConfig()
	d.Interval = 2 * time.Second
	d.Tree, d.HideKernelThreads = true, true
	back, err := ParseConfig(d.Marshal())
	if err != nil || back.Interval != d.Interval || !back.Tree || !back.HideKernelThreads || !slices.Equal(back.Columns, d.Columns) {
		t.Errorf("round trip %+v %v", back, err)
	}
}

// TestTaggingSignalsAllTagged: space tags, F9's choice goes to every
// tagged process (each by its identity), U untags; c tags a process and
// its children.
func TestTaggingSignalsAllTagged(t *testing.T) {
	h1 := livehelper.Start(t, "comm", run("taga"))
	h2 := livehelper.Start(t, "comm", run("tagb"))
	z := livehelper.Start(t, "zombies", "2")
	type call struct {
		id  collector.ID
		sig syscall.Signal
	}
	calls := make(chan call, 8)
	h := start(t, Options{Signal: func(id collector.ID, sig syscall.Signal) error {
		calls <- call{id, sig}
		return nil
	}}, 160, 40)
	a, b := frames(t, append([]int{h1.PID(), h2.PID()}, z.PIDs...)...)
	h.src.send(a)
	h.src.send(b)
	h.runes("\\" + run("tag"))
	h.key(tcell.KeyEnter)
	h.waitState("two rows", func(d *Dashboard) bool { return len(d.model.rows) == 2 })
	h.runes(" ")
	h.runes(" ")
	h.waitState("both tagged", func(d *Dashboard) bool { return len(d.model.tagged) == 2 })
	h.waitFor("2 tagged")
	h.waitUntil("tagged rows marked", func(s string) bool {
		return strings.Contains(rowOf(s, h1.PID()), " * ") && strings.Contains(rowOf(s, h2.PID()), " * ")
	})
	h.key(tcell.KeyF9)
	scr := h.waitFor("Send a signal to 2 tagged processes")
	for _, sig := range []string{"TERM", "HUP", "INT", "KILL", "USR1", "USR2", "STOP", "CONT"} {
		if !strings.Contains(scr, sig) {
			t.Errorf("menu lacks %s", sig)
		}
	}
	// USR1 is the fifth choice.
	for i := 0; i < 4; i++ {
		h.key(tcell.KeyDown)
	}
	h.key(tcell.KeyEnter)
	got := map[collector.ID]syscall.Signal{}
	for len(got) < 2 {
		select {
		case c := <-calls:
			got[c.id] = c.sig
		case <-time.After(patience):
			t.Fatalf("signals sent: %v", got)
		}
	}
	for _, pid := range []int{h1.PID(), h2.PID()} {
		if id := lifecycle.Find(b.Snapshot, pid).ID(); got[id] != syscall.SIGUSR1 {
			t.Errorf("process %v got %v, want SIGUSR1", id, got[id])
		}
	}
	h.waitFor("sent SIGUSR1 to 2 processes")
	h.runes("U")
	h.waitState("untagged", func(d *Dashboard) bool { return len(d.model.tagged) == 0 })
	// c: the zombie parent and its two children.
	h.key(tcell.KeyEscape)
	h.waitState("the filter cleared", func(d *Dashboard) bool { return d.vo.filter == "" && len(d.model.rows) > 3 })
	h.onUI(func() {
		h.d.table.Select(h.d.model.find(rowKey{id: lifecycle.Find(b.Snapshot, z.PID()).ID()})+1, 0)
	})
	h.runes("c")
	h.waitFor("tagged 3 processes")
	h.waitState("three tagged", func(d *Dashboard) bool {
		for _, pid := range z.PIDs {
			if !d.model.tagged[lifecycle.Find(b.Snapshot, pid).ID()] {
				return false
			}
		}
		return len(d.model.tagged) == 3
	})
}

// TestTreeFolding: in the tree, - folds the selected subtree (its
// children leave the list, the row says how many), + unfolds it, *
// folds and unfolds all; outside the tree + and - say where they work.
func TestTreeFolding(t *testing.T) {
	z := livehelper.Start(t, "zombies", "2")
	h := start(t, Options{Filter: "procshape"}, 160, 40)
	a, b := frames(t, z.PIDs...)
	h.src.send(a)
	h.src.send(b)
	h.waitUntil("the children", func(s string) bool { return rowOf(s, z.PIDs[1]) != "" })
	h.runes("-")
	h.waitFor("+ and - fold subtrees in the tree view (F5)")
	h.key(tcell.KeyF5)
	h.waitUntil("the tree", func(s string) bool { return strings.Contains(rowOf(s, z.PIDs[1])+rowOf(s, z.PIDs[2]), "└─") })
	parent := lifecycle.Find(b.Snapshot, z.PID()).ID()
	h.onUI(func() { h.d.table.Select(h.d.model.find(rowKey{id: parent})+1, 0) })
	h.runes("-")
	scr := h.waitUntil("the subtree folded", func(s string) bool { return rowOf(s, z.PIDs[1]) == "" && rowOf(s, z.PIDs[2]) == "" })
	if l := rowOf(scr, z.PID()); !strings.Contains(l, "+ ") || !strings.Contains(l, "2 folded") {
		t.Errorf("folded row %q does not say what it hides", l)
	}
	h.runes("+")
	h.waitUntil("unfolded", func(s string) bool { return rowOf(s, z.PIDs[1]) != "" && rowOf(s, z.PIDs[2]) != "" })
	h.runes("*")
	h.waitUntil("all folded", func(s string) bool { return rowOf(s, z.PIDs[1]) == "" })
	h.runes("*")
	h.waitUntil("all unfolded", func(s string) bool { return rowOf(s, z.PIDs[1]) != "" })
	// A process without children has nothing to fold.
	child := lifecycle.Find(b.Snapshot, z.PIDs[1]).ID()
	h.onUI(func() { h.d.table.Select(h.d.model.find(rowKey{id: child})+1, 0) })
	h.runes("-")
	h.waitFor("has no children to fold")
}

// TestLayout80x24 and 200x50: the footer keeps "? help" and "q quit",
// the header keeps orphans, ctx and the events state, the bottom panels
// take at most a fifth of the height, column widths do not move as the
// list scrolls.
func TestLayouts(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		w, hh := sz[0], sz[1]
		t.Run(strconv.Itoa(w)+"x"+strconv.Itoa(hh), func(t *testing.T) {
			h := start(t, Options{}, w, hh)
			a, b := frames(t)
			b.EventsLive = true
			h.src.send(a)
			h.src.send(b)
			h.waitFor("COMMAND")
			scr := h.waitFor("orphans")
			lines := strings.Split(scr, "\n")
			footer := lines[len(lines)-1]
			if !strings.HasPrefix(footer, "? help q quit") {
				t.Errorf("footer %q does not start with ? help q quit", footer)
			}
			for _, want := range []string{"orphans ", "ctx ", "events live", "CPU ", "tasks "} {
				if !strings.Contains(scr, want) {
					t.Errorf("%dx%d header lacks %q:\n%s", w, hh, want, scr)
				}
			}
			var bottom int
			h.ui(func() { _, _, _, bottom = h.d.bottom.GetRect() }, false)
			if bottom > hh/5+1 || bottom < 4 {
				t.Errorf("bottom panels %d lines of %d", bottom, hh)
			}
			// Widths: the header line of the table is the same at the top
			// and after scrolling to the end.
			header := func(s string) string {
				for _, l := range strings.Split(s, "\n") {
					if strings.Contains(l, "COMMAND") && strings.Contains(l, "PID") {
						return l
					}
				}
				return ""
			}
			top := header(scr)
			h.key(tcell.KeyEnd)
			h.waitState("at the end", func(d *Dashboard) bool { r, _ := d.table.GetSelection(); return r == len(d.model.rows) })
			if end := header(h.text()); end != top {
				t.Errorf("column header moved while scrolling:\n%q\n%q", top, end)
			}
		})
	}
}

// TestEventsPanel: Tab gives the events panel the keys; F4 filters it;
// it scrolls and says so; when the events run behind, the header says
// how far instead of "live", and the panel's title too.
func TestEventsPanel(t *testing.T) {
	h := start(t, Options{}, 160, 50)
	a, b := frames(t)
	b.EventsLive = true
	var evs []lifecycle.Event
	now := b.Snapshot.TakenAt
	for i := 0; i < 300; i++ {
		typ := lifecycle.Spawn
		if i%3 == 0 {
			typ = lifecycle.Exit
		}
		evs = append(evs, lifecycle.Event{Type: typ, Time: now.Add(time.Duration(i) * time.Millisecond), ID: collector.ID{PID: 40000 + i}, Comm: "ev" + strconv.Itoa(i), PPID: 1})
	}
	b.Events = evs
	h.src.send(a)
	h.src.send(b)
	h.waitFor("events: 300")
	h.waitFor("ev299") // newest first
	h.key(tcell.KeyTab)
	h.key(tcell.KeyTab) // zombies, then events
	h.waitState("events focused", func(d *Dashboard) bool { return d.panelFocus == d.panelIndex("events") })
	h.waitFor("events: F4")
	h.key(tcell.KeyF4)
	h.runes("exit")
	h.key(tcell.KeyEnter)
	h.waitFor("filter exit: 100")
	h.waitState("only exits", func(d *Dashboard) bool {
		for _, i := range d.log.idx {
			if d.log.events[i].Type != lifecycle.Exit {
				return false
			}
		}
		return len(d.log.idx) == 100
	})
	h.key(tcell.KeyPgDn)
	h.key(tcell.KeyPgDn)
	h.waitFor("scrolled")
	// New events keep the same ones in sight while scrolled.
	c := *b
	c.Seq = 3
	c.Events = []lifecycle.Event{{Type: lifecycle.Exit, Time: now.Add(time.Second), ID: collector.ID{PID: 49999}, Comm: "late"}}
	c.EventsBehind = 12 * time.Second
	h.src.send(&c)
	scr := h.waitFor("12s behind")
	if strings.Contains(scr, "events live") {
		t.Errorf("header says live while 12s behind:\n%s", scr)
	}
	// The panel alone: the table's real processes may hold "late" (a
	// compile of text/template, on a machine that builds).
	if panel := h.waitForIn("events", "12s behind"); strings.Contains(panel, "late") {
		t.Errorf("a scrolled panel jumped to the newest event:\n%s", panel)
	}
	h.key(tcell.KeyHome)
	h.waitForIn("events", "late")
	h.key(tcell.KeyEscape)
	h.waitState("the table has the keys", func(d *Dashboard) bool { return d.panelFocus == -1 })
}

// TestDetailThreadsFromTheTop: the Threads tab of a process with more
// threads than lines opens at the top, the leader first and selected.
func TestDetailThreadsFromTheTop(t *testing.T) {
	th := livehelper.Start(t, "threads", "60")
	// Only the helper: other procshape processes on the machine (other
	// tests', left behind) could fill the 24 lines before its row.
	h := start(t, Options{PIDs: []int{th.PID()}}, 120, 24)
	a, b := frames(t, th.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitUntil("the helper", func(s string) bool { return rowOf(s, th.PID()) != "" })
	h.onUI(func() {
		h.d.table.Select(h.d.model.find(rowKey{id: lifecycle.Find(b.Snapshot, th.PID()).ID()})+1, 0)
	})
	h.key(tcell.KeyEnter)
	h.waitFor("1 Threads")
	// The focus frame (with the threads) as the monitor sends it.
	p := lifecycle.Find(b.Snapshot, th.PID())
	c := *b
	c.Seq = 3
	c.Focus = &monitor.Focus{PID: p.PID, Process: p}
	h.src.send(&c)
	scr := h.waitUntil("threads listed", func(s string) bool {
		return strings.Contains(s, "TID") && rowOf(s, workerTIDs(t, b.Snapshot, th.PID())[0]) != ""
	})
	lines := strings.Split(scr, "\n")
	first := ""
	for i, l := range lines {
		if strings.Contains(l, "TID") && strings.Contains(l, "COMM") && i+1 < len(lines) {
			first = lines[i+1]
			break
		}
	}
	if f := strings.Fields(first); len(f) == 0 || f[0] != strconv.Itoa(th.PID()) {
		t.Errorf("the first thread row is %q, want the leader %d:\n%s", first, th.PID(), scr)
	}
	h.key(tcell.KeyEscape)
}

// TestLifecycleDiagnoses: the Lifecycle tab of a zombie's parent carries
// the zombie diagnosis and remedy; an orphan's says who adopted it.
func TestLifecycleDiagnoses(t *testing.T) {
	z := livehelper.Start(t, "zombies", "1")
	h := start(t, Options{Filter: "procshape"}, 160, 50)
	var b *monitor.Frame
	var a *monitor.Frame
	for end := time.Now().Add(patience); ; {
		a, b = frames(t, z.PIDs...)
		if p := lifecycle.Find(b.Snapshot, z.PIDs[1]); p != nil && p.IsZombie() {
			break
		}
		if time.Now().After(end) {
			t.Fatal("no zombie")
		}
	}
	h.src.send(a)
	h.src.send(b)
	h.waitUntil("the parent", func(s string) bool { return rowOf(s, z.PID()) != "" })
	h.onUI(func() {
		h.d.table.Select(h.d.model.find(rowKey{id: lifecycle.Find(b.Snapshot, z.PID()).ID()})+1, 0)
	})
	h.key(tcell.KeyEnter)
	h.runes("3")
	var text string
	h.waitState("the diagnosis", func(d *Dashboard) bool {
		text = d.detail.tabs[tabLifecycle].prim.(*tview.TextView).GetText(true)
		return strings.Contains(text, "parent of 1 zombie") && strings.Contains(text, "→ ")
	})
	// An orphan in the frame: its tab names the adopter.
	self := lifecycle.Find(b.Snapshot, z.PID())
	c := *b
	c.Seq = 3
	c.Orphans = []lifecycle.Orphan{{ID: self.ID(), Comm: self.Comm, Adopter: 1, AdopterComm: "init", AdopterKind: lifecycle.AdopterInit, OldPPID: 777, Evidence: "its session is neither its own nor its parent's"}}
	h.src.send(&c)
	h.waitState("the orphan diagnosis", func(d *Dashboard) bool {
		text = d.detail.tabs[tabLifecycle].prim.(*tview.TextView).GetText(true)
		return strings.Contains(text, "orphan: its parent exited (it was 777); adopted by 1 init (init)") && strings.Contains(text, "evidence:")
	})
}

// TestZombieFilterMatchesTheTable: the zombie panel keeps the parents
// the table's filter keeps (by command line too, not only comm).
func TestZombieFilterMatchesTheTable(t *testing.T) {
	z := livehelper.Start(t, "zombies", "1")
	h := start(t, Options{}, 160, 50)
	var a, b *monitor.Frame
	for end := time.Now().Add(patience); ; {
		a, b = frames(t, z.PIDs...)
		if p := lifecycle.Find(b.Snapshot, z.PIDs[1]); p != nil && p.IsZombie() {
			break
		}
		if time.Now().After(end) {
			t.Fatal("no zombie")
		}
	}
	h.src.send(a)
	h.src.send(b)
	// "zombies 1" is in the parent's command line, not its comm.
	h.runes("\\zombies 1")
	h.key(tcell.KeyEnter)
	h.waitState("the parent in the table and in the panel", func(d *Dashboard) bool {
		text := d.panels[d.panelIndex("zombies")].box.(*tview.TextView).GetText(true)
		return d.model.find(rowKey{id: lifecycle.Find(b.Snapshot, z.PID()).ID()}) >= 0 &&
			strings.Contains(text, "of parent "+strconv.Itoa(z.PID()))
	})
}

// TestPIDAndUserOptions: --pid and --user keep only those processes, and
// the header says so; K hides kernel threads.
func TestPIDAndUserOptions(t *testing.T) {
	hp := livehelper.Start(t, "comm", run("pidopt"))
	h := start(t, Options{PIDs: []int{hp.PID(), 1}}, 160, 40)
	a, b := frames(t, hp.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitState("two rows", func(d *Dashboard) bool { return len(d.model.rows) == 2 })
	h.waitFor("pid 1," + strconv.Itoa(hp.PID()))

	h2 := start(t, Options{Users: []string{"nosuchuser"}}, 160, 40)
	h2.src.send(a)
	h2.src.send(b)
	h2.waitFor("user nosuchuser")
	h2.waitState("no rows", func(d *Dashboard) bool { return d.frame != nil && len(d.model.rows) == 0 })

	h3 := start(t, Options{}, 160, 40)
	h3.src.send(a)
	h3.src.send(b)
	h3.waitFor("COMMAND")
	kthreads := 0
	for i := range b.Snapshot.Processes {
		if b.Snapshot.Processes[i].IsKernelThread() {
			kthreads++
		}
	}
	h3.runes("K")
	h3.waitState("kernel threads hidden", func(d *Dashboard) bool {
		for _, r := range d.model.rows {
			if r.p.IsKernelThread() {
				return false
			}
		}
		return d.model.shown == d.model.total-kthreads
	})
	h3.waitFor("no kernel threads")
}

// threadSource is a test source that can sample every process's
// threads.
type threadSource struct {
	*testSource
	all []bool
}

func (s *threadSource) SampleThreads(all bool) {
	s.mu.Lock()
	s.all = append(s.all, all)
	s.mu.Unlock()
}

// TestThreadsOfEveryProcess: H asks the source for every process's
// threads, and back.
func TestThreadsOfEveryProcess(t *testing.T) {
	sim := tcell.NewSimulationScreen("UTF-8")
	src := &threadSource{testSource: newTestSource()}
	d := New(src, Options{Screen: sim})
	sim.SetSize(120, 40)
	hs := &harness{t: t, d: d, sim: sim, src: src.testSource, done: make(chan error, 1)}
	go func() { hs.done <- d.Run(t.Context()) }()
	hs.waitFor("pinspect")
	a, _ := frames(t)
	src.send(a)
	hs.waitFor("COMMAND")
	hs.runes("H")
	hs.runes("H")
	hs.waitState("asked twice", func(*Dashboard) bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return slices.Equal(src.all, []bool{true, false})
	})
	hs.runes("q")
	<-hs.done
}

// fakeTimeline is a replay's timeline for the dashboard's seams.
type fakeTimeline struct {
	mu    sync.Mutex
	steps []int
}

func (f *fakeTimeline) Step(n int) { f.mu.Lock(); f.steps = append(f.steps, n); f.mu.Unlock() }
func (f *fakeTimeline) JumpTo(time.Time) error {
	return nil
}
func (f *fakeTimeline) Where() string { return "2026-12-01 02:00:05, sample 3/10" }

// TestReplayAndRemoteSeams: a replay binds t/T (atop) and [ ] { } to the
// timeline and says REPLAY with where it is; a remote view says so; both
// refuse actions; a process without a command line that is no kernel
// thread shows its comm, not [comm].
func TestReplayAndRemoteSeams(t *testing.T) {
	tl := &fakeTimeline{}
	h := start(t, Options{Timeline: tl, Signal: func(collector.ID, syscall.Signal) error { return nil }}, 160, 40)
	a, b := frames(t)
	h.src.send(a)
	h.src.send(b)
	h.waitFor("REPLAY 2026-12-01 02:00:05, sample 3/10")
	// Recorded events are not live: the header says they were recorded,
	// up to when, and by what.
	scr := h.waitFor("events recorded to " + b.Snapshot.TakenAt.Local().Format("15:04:05") + " (polled)")
	if strings.Contains(scr, "events live") || strings.Contains(scr, "behind") {
		t.Errorf("a replay's header calls its events live or late:\n%s", scr)
	}
	c := *b
	c.Seq, c.EventsLive = 3, true
	h.src.send(&c)
	scr = h.waitFor("events recorded to " + b.Snapshot.TakenAt.Local().Format("15:04:05") + " (connector)")
	if strings.Contains(scr, "events live") {
		t.Errorf("a replay's header calls its connector events live:\n%s", scr)
	}
	// A record made by serve or record from the BPF tracepoints says so
	// by its note.
	d := c
	d.Seq, d.EventsNote = 4, "kernel process events (BPF tracepoints, read once a scan)"
	h.src.send(&d)
	h.waitFor("events recorded to " + b.Snapshot.TakenAt.Local().Format("15:04:05") + " (tracepoints)")
	h.runes("tT][}{")
	h.waitState("steps", func(*Dashboard) bool {
		tl.mu.Lock()
		defer tl.mu.Unlock()
		return slices.Equal(tl.steps, []int{1, -1, 1, -1, 10, -10})
	})
	h.key(tcell.KeyF9)
	h.waitFor("a replay shows the past: no signals")
	h.key(tcell.KeyF5)
	h.waitState("F5 is still the tree", func(d *Dashboard) bool { return d.vo.tree })

	r := start(t, Options{Origin: "remote http://agent:9256"}, 160, 40)
	c = *b
	c.Snapshot = &collector.Snapshot{TakenAt: b.Snapshot.TakenAt, Host: b.Snapshot.Host}
	c.Snapshot.Processes = []collector.Process{{PID: 4242, Read: collector.SrcStat | collector.SrcStatus,
		ProcStat: collector.ProcStat{Comm: "nginx", State: 'S', NumThreads: 1}}}
	r.src.send(&c)
	scr = r.waitUntil("the remote row", func(s string) bool { return rowOf(s, 4242) != "" && strings.Contains(s, "remote http://agent:9256") })
	if l := rowOf(scr, 4242); !strings.Contains(l, "nginx") || strings.Contains(l, "[nginx]") {
		t.Errorf("remote row %q: want the comm, not the kernel-thread notation", l)
	}
	r.runes("k")
	r.waitFor("this view is remote")
}

// TestReplayHeaderKeepsEventsSource: at 120 columns (and 140) a replay's
// header shortens the task breakdown before it drops the events' source:
// "(tracepoints)" stays. Before, the events segment, last of equals, lost
// its source first and the breakdown was shortened as well (tester8).
func TestReplayHeaderKeepsEventsSource(t *testing.T) {
	for _, w := range []int{120, 140} {
		h := start(t, Options{Timeline: &fakeTimeline{}}, w, 40)
		a, b := frames(t)
		h.src.send(a)
		// The second frame is dated two seconds after b, so its header
		// is told from the first one's (a and b may share a second, and
		// the dashboard may hold a frame it has not drawn yet).
		c := *b
		snap := *b.Snapshot
		snap.TakenAt = snap.TakenAt.Add(2 * time.Second)
		c.Snapshot = &snap
		c.EventsLive, c.EventsNote = true, "kernel process events (BPF tracepoints, read once a scan)"
		h.src.send(&c)
		recorded := "events recorded to " + snap.TakenAt.Local().Format("15:04:05")
		scr := h.waitFor(recorded)
		if !strings.Contains(scr, recorded+" (tracepoints)") {
			t.Errorf("%d columns: the replay header lost the events' source:\n%s", w, scr)
		}
	}
}

// TestReplayHeaderAt80: at 80 columns a replay's activity line fits,
// its events segment short and whole ("events to 15:04:05"); it was 87
// cells with every segment short, and the terminal cut the time
// (review of fix9b).
func TestReplayHeaderAt80(t *testing.T) {
	h := start(t, Options{Timeline: &fakeTimeline{}}, 80, 40)
	a, b := frames(t)
	h.src.send(a)
	c := *b
	c.Seq = b.Seq + 1
	h.src.send(&c)
	h.waitState("the second frame held", func(d *Dashboard) bool { return d.frame != nil && d.frame.Seq == c.Seq })
	var line string
	h.ui(func() { line = h.d.headerLines(80)[1] }, false)
	text := regexp.MustCompile(`\[[a-z:-]*\]`).ReplaceAllString(line, "")
	if want := "events to " + b.Snapshot.TakenAt.Local().Format("15:04:05"); taggedWidth(line) > 80 || !strings.Contains(text, want) {
		t.Errorf("a replay's activity line at 80 columns: %q, %d cells; want %q within 80", text, taggedWidth(line), want)
	}
}

// TestPanelFootersSayTheirKeys: with each bottom panel focused (Tab),
// the footer names the panel and its keys; the zombies and findings
// panels ended it in a bare "zombies:" (tester8).
func TestPanelFootersSayTheirKeys(t *testing.T) {
	h := start(t, Options{}, 160, 40)
	a, b := frames(t)
	h.src.send(a)
	h.src.send(b)
	h.waitFor("COMMAND")
	for _, name := range []string{"zombies", "events", "findings"} {
		h.key(tcell.KeyTab)
		scr := h.waitUntil(name+" focused", func(s string) bool {
			ls := strings.Split(strings.TrimRight(s, "\n "), "\n")
			return strings.Contains(ls[len(ls)-1], " "+name+":")
		})
		ls := strings.Split(strings.TrimRight(scr, "\n "), "\n")
		footer := ls[len(ls)-1]
		if _, keys, _ := strings.Cut(footer, " "+name+":"); !strings.Contains(keys, "scroll") {
			t.Errorf("the %s panel's footer says no keys: %q", name, strings.TrimSpace(footer))
		}
	}
}

// TestNiceAsksThenRenices: F8 asks, naming the process and its new nice
// value; Cancel changes nothing; Renice calls Options.Renice with the
// process's identity. F7 asks for the lower value and says it needs
// CAP_SYS_NICE.
func TestNiceAsksThenRenices(t *testing.T) {
	hp := livehelper.Start(t, "comm", run("nice"))
	type call struct {
		id   collector.ID
		nice int
	}
	calls := make(chan call, 4)
	h := start(t, Options{Filter: run("nice"), Renice: func(id collector.ID, nice int) error {
		calls <- call{id, nice}
		return nil
	}}, 160, 40)
	a, b := frames(t, hp.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitUntil("the helper", func(s string) bool { return rowOf(s, hp.PID()) != "" })
	p := lifecycle.Find(b.Snapshot, hp.PID())
	up := strconv.Itoa(min(int(p.Nice)+1, 19))
	// The dialog's text, wherever it wraps.
	asks := func(want string) {
		h.t.Helper()
		h.waitUntil(strconv.Quote(want), func(s string) bool {
			return strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(s, "║", " ")), " "), want)
		})
	}
	h.key(tcell.KeyF8)
	asks("from " + strconv.FormatInt(p.Nice, 10) + " to " + up + "?")
	h.key(tcell.KeyRight) // Cancel
	h.key(tcell.KeyEnter)
	h.waitState("dialog closed", func(d *Dashboard) bool { f, _ := d.pages.GetFrontPage(); return f == pageMain })
	select {
	case c := <-calls:
		t.Fatalf("Cancel reniced: %v", c)
	default:
	}
	h.key(tcell.KeyF8)
	asks("from " + strconv.FormatInt(p.Nice, 10) + " to " + up + "?")
	h.key(tcell.KeyEnter) // Renice
	select {
	case c := <-calls:
		if c.id != p.ID() || strconv.Itoa(c.nice) != up {
			t.Errorf("Renice(%v, %d); want %v, %s", c.id, c.nice, p.ID(), up)
		}
	case <-time.After(patience):
		t.Fatal("Renice was not called")
	}
	h.waitState("dialog closed", func(d *Dashboard) bool { f, _ := d.pages.GetFrontPage(); return f == pageMain })
	if p.Nice > -20 {
		h.key(tcell.KeyF7)
		asks("needs CAP_SYS_NICE")
		h.key(tcell.KeyEscape)
		h.waitState("dialog closed", func(d *Dashboard) bool { f, _ := d.pages.GetFrontPage(); return f == pageMain })
	}
}

// TestCgroupMenuFilters: w lists the workloads (from a fixture tree's
// cgroup files: a systemd scope, a v1 path, none) with their counts;
// choosing one shows its processes only and the header says so.
func TestCgroupMenuFilters(t *testing.T) {
	r, err := collector.NewReader(collector.Options{Root: filepath.Join("..", "..", "fixtures", "proc", "cgroup-io"),
		PasswdPath: filepath.Join("..", "..", "fixtures", "passwd")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snap, err := r.Scan(context.Background(), collector.ScanOptions{Cgroups: true})
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, Options{}, 160, 40)
	h.src.send(frameOf(1, nil, snap))
	h.waitState("the fixture's frame", func(d *Dashboard) bool { return d.frame != nil && len(d.model.rows) == 3 })
	h.runes("w")
	scr := h.waitFor("Show processes in")
	if !strings.Contains(scr, "init.scope") || !strings.Contains(scr, "1 process ") || strings.Contains(scr, "1 processes") {
		t.Fatalf("cgroup menu:\n%s", scr)
	}
	h.ui(func() {
		for i := 0; i < h.d.menu.GetItemCount(); i++ {
			if m, _ := h.d.menu.GetItemText(i); strings.Contains(m, "init.scope") {
				h.d.menu.SetCurrentItem(i)
			}
		}
	}, true)
	h.key(tcell.KeyEnter)
	h.waitState("init.scope only", func(d *Dashboard) bool {
		return d.vo.workload == "init.scope" && len(d.model.rows) == 1 && d.model.rows[0].p.PID == 1
	})
	h.waitFor("cgroup init.scope")
}

// TestSkippedFrameKeepsItsLag: frames that come while the dashboard is
// busy are skipped into the newest one; a skipped frame's events were far
// behind, and the newest frame's kernel source converted nothing since
// (its own lag 0). The events shown are the skipped frame's, so the
// header and the events panel say how far behind they are, never live.
func TestSkippedFrameKeepsItsLag(t *testing.T) {
	h := start(t, Options{}, 160, 45)
	a, b := frames(t, os.Getpid())
	a.EventsLive, b.EventsLive = true, true
	h.src.send(a)
	h.waitFor("events live")
	old := time.Now().Add(-90 * time.Second)
	behind := *b
	behind.Events = []lifecycle.Event{{Type: lifecycle.Exit, Time: old, ID: collector.ID{PID: 48888}, Comm: "skipped", PPID: 1}}
	behind.EventsBehind = 90 * time.Second
	newest := *b
	newest.Seq = 3
	f := skipFrame(&behind, &newest)
	if f.EventsBehind != 90*time.Second || len(f.Events) != 1 {
		t.Fatalf("skipping a frame 90s behind with one event: %v behind, %d events", f.EventsBehind, len(f.Events))
	}
	h.src.send(f)
	scr := h.waitUntil("the skipped frame's event, 1m30s behind in the header and the panel", func(s string) bool {
		return strings.Contains(s, "skipped") && strings.Count(s, "1m30s behind") >= 2
	})
	if strings.Contains(scr, "events live") {
		t.Errorf("the header says live over events 90 s old:\n%s", scr)
	}
}

// TestIntervalFlagKeepsSavedInterval: an interval given on the command
// line (IntervalSet) wins over the setup file's for the run, and F2
// saving other changes keeps the file's interval, not the flag's and not
// none (htop-dev/htop#1177: htop writes its -d into htoprc, which its
// users find confusing); an interval chosen in the run with d or D is
// kept.
func TestIntervalFlagKeepsSavedInterval(t *testing.T) {
	var mu sync.Mutex
	var saved []Config
	save := func(c Config) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		saved = append(saved, c)
		return "/tmp/test/dashboard.conf", nil
	}
	last := func() Config {
		mu.Lock()
		defer mu.Unlock()
		if len(saved) == 0 {
			t.Fatal("nothing saved")
		}
		return saved[len(saved)-1]
	}
	file := DefaultConfig()
	file.Interval = 5 * time.Second
	h := start(t, Options{Interval: 2 * time.Second, IntervalSet: true, Config: &file, SaveConfig: save}, 160, 50)
	a, b := frames(t)
	h.src.send(a)
	h.src.send(b)
	h.waitFor("COMMAND")
	// The source runs at the flag's interval: it is never asked for the
	// file's.
	h.src.mu.Lock()
	asked := h.src.interval
	h.src.mu.Unlock()
	if asked != 0 {
		t.Errorf("the source was asked for %v, want the flag's (nothing asked)", asked)
	}
	// F2: a change that is not the interval.
	h.key(tcell.KeyF2)
	h.waitFor("Columns shown")
	h.ui(func() { h.d.setup.active.SetCurrentItem(slices.Index(h.d.model.cols, colShr)) }, true)
	h.key(tcell.KeyDelete)
	h.waitState("SHR removed", func(d *Dashboard) bool { return !slices.Contains(d.model.cols, colShr) })
	h.key(tcell.KeyEscape)
	h.waitFor("setup saved to")
	if c := last(); c.Interval != 5*time.Second || !strings.Contains(string(c.Marshal()), "interval=5s\n") {
		t.Errorf("F2 saved interval %v, want the file's 5s:\n%s", c.Interval, c.Marshal())
	}
	// d chooses another interval: F2 keeps that one.
	h.runes("d")
	h.waitState("an interval chosen", func(d *Dashboard) bool { return d.intervalChosen > 0 })
	var chosen time.Duration
	h.ui(func() { chosen = h.d.intervalChosen }, false)
	h.key(tcell.KeyF2)
	h.waitFor("Columns shown")
	h.key(tcell.KeyEscape)
	h.waitUntil("saved again", func(string) bool { mu.Lock(); defer mu.Unlock(); return len(saved) == 2 })
	if c := last(); c.Interval != chosen {
		t.Errorf("F2 saved interval %v, want the chosen %v", c.Interval, chosen)
	}
}
