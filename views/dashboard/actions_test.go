package dashboard

import (
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestActionsOnlyOnShownTags: a tagged process the table does not show
// (the filter hides it) receives neither F9's signal nor F8's nice: they
// go to the selected process, and the dialog names it. In the detail view
// they go to the process shown there, even when another is tagged and
// shown in the table.
func TestActionsOnlyOnShownTags(t *testing.T) {
	ha := livehelper.Start(t, "comm", run("tage-a"))
	hb := livehelper.Start(t, "comm", run("tage-b"))
	signals := make(chan collector.ID, 8)
	renices := make(chan collector.ID, 8)
	h := start(t, Options{
		Signal: func(id collector.ID, _ syscall.Signal) error { signals <- id; return nil },
		Renice: func(id collector.ID, _ int) error { renices <- id; return nil },
	}, 200, 40)
	a, b := frames(t, ha.PID(), hb.PID())
	h.src.send(a)
	h.src.send(b)
	idA := lifecycle.Find(b.Snapshot, ha.PID()).ID()
	idB := lifecycle.Find(b.Snapshot, hb.PID()).ID()
	only := func(what string, pid int) {
		h.t.Helper()
		h.waitState(what, func(d *Dashboard) bool {
			return len(d.model.rows) == 1 && d.model.rows[0].p.PID == pid
		})
	}
	// Tag A, then filter so that only B is shown.
	h.runes("\\" + run("tage-a"))
	h.key(tcell.KeyEnter)
	only("only A shown", ha.PID())
	h.runes(" ")
	h.waitState("A tagged", func(d *Dashboard) bool { return d.model.tagged[idA] })
	h.key(tcell.KeyEscape)
	h.waitState("the filter cleared", func(d *Dashboard) bool { return d.vo.filter == "" && len(d.model.rows) > 2 })
	h.runes("\\" + run("tage-b"))
	h.key(tcell.KeyEnter)
	only("only B shown", hb.PID())
	h.key(tcell.KeyHome)

	h.key(tcell.KeyF9)
	title := "Send a signal to process " + strconv.Itoa(hb.PID()) + " (" + run("tage-b")
	scr := h.waitFor(title)
	// The pid as a word: the helpers' cache directory's hash, on the
	// screen in B's command line, may hold its digits.
	if regexp.MustCompile(`\b` + strconv.Itoa(ha.PID()) + `\b`).MatchString(scr) {
		t.Errorf("the signal menu names the hidden tagged process %d:\n%s", ha.PID(), scr)
	}
	for i := 0; i < 6; i++ { // STOP is the seventh choice
		h.key(tcell.KeyDown)
	}
	h.key(tcell.KeyEnter)
	expect := func(ch chan collector.ID, what string, want collector.ID) {
		h.t.Helper()
		select {
		case id := <-ch:
			if id != want {
				t.Errorf("%s went to %v; want %v (the hidden tagged one is %v)", what, id, want, idA)
			}
		case <-time.After(patience):
			t.Fatalf("%s was not called", what)
		}
	}
	expect(signals, "the signal", idB)
	h.waitFor("sent SIGSTOP to " + strconv.Itoa(hb.PID()))

	h.key(tcell.KeyF8)
	h.waitUntil("the nice dialog names B", func(s string) bool {
		return strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(s, "║", " ")), " "), "nice value (every thread) of process "+strconv.Itoa(hb.PID()))
	})
	h.key(tcell.KeyEnter) // Renice
	expect(renices, "renice", idB)
	h.waitState("dialog closed", func(d *Dashboard) bool { f, _ := d.pages.GetFrontPage(); return f == pageMain })

	// Both shown, A tagged: B's detail view acts on B alone.
	h.key(tcell.KeyEscape)
	h.runes("\\" + run("tage-"))
	h.key(tcell.KeyEnter)
	h.waitState("both shown", func(d *Dashboard) bool { return len(d.model.rows) == 2 })
	h.onUI(func() { h.d.table.Select(h.d.model.find(rowKey{id: idB})+1, 0) })
	h.key(tcell.KeyEnter)
	h.waitState("B's detail", func(d *Dashboard) bool { f, _ := d.pages.GetFrontPage(); return f == pageDetail && d.detail.id == idB })
	h.key(tcell.KeyF9)
	h.waitFor(title)
	h.key(tcell.KeyEnter) // TERM
	expect(signals, "the signal from the detail view", idB)
	select {
	case id := <-signals:
		t.Errorf("a second signal went to %v", id)
	case id := <-renices:
		t.Errorf("a second renice went to %v", id)
	default:
	}
}

// TestTagsOfExitedProcessesDropped: when a tagged process exits, its tag
// goes with it: the header counts the live tagged processes only.
func TestTagsOfExitedProcessesDropped(t *testing.T) {
	ha := livehelper.Start(t, "comm", run("tagx-a"))
	hb := livehelper.Start(t, "comm", run("tagx-b"))
	h := start(t, Options{Filter: run("tagx")}, 160, 40)
	a, b := frames(t, ha.PID(), hb.PID())
	h.src.send(a)
	h.src.send(b)
	h.waitState("two rows", func(d *Dashboard) bool { return len(d.model.rows) == 2 })
	h.runes("  ")
	h.waitState("both tagged", func(d *Dashboard) bool { return len(d.model.tagged) == 2 })
	h.waitFor("2 tagged")
	if err := hb.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = hb.Cmd.Wait()
	c := snapshot(t, ha.PID())
	h.src.send(frameOf(3, b.Snapshot, c))
	h.waitState("B's tag dropped", func(d *Dashboard) bool {
		return len(d.model.tagged) == 1 && d.model.tagged[lifecycle.Find(c, ha.PID()).ID()]
	})
	h.waitUntil("the header counts 1", func(s string) bool {
		return strings.Contains(s, "1 tagged") && !strings.Contains(s, "2 tagged")
	})
}

// TestIntervalKeptByF2: an interval chosen with d (outside F2) is a
// change F2 keeps in the config file when it closes, as --interval's help
// promises.
func TestIntervalKeptByF2(t *testing.T) {
	saved := make(chan Config, 4)
	h := start(t, Options{SaveConfig: func(c Config) (string, error) {
		saved <- c
		return "/tmp/test/dashboard.conf", nil
	}}, 160, 50)
	a, _ := frames(t)
	h.src.send(a)
	// The frame applied first, so that "every 1s" on the header is the
	// frame's (it says so before any frame too). A frame taken before a
	// d no longer undoes it (TestIntervalNotUndoneByOldFrame).
	h.waitState("the frame applied", func(d *Dashboard) bool { return d.frame == a })
	h.waitFor("every 1s")
	h.runes("dd")
	h.waitFor("every 3s")
	h.key(tcell.KeyF2)
	h.waitFor("Columns shown")
	h.key(tcell.KeyEscape)
	h.waitFor("setup saved to /tmp/test/dashboard.conf")
	select {
	case c := <-saved:
		if c.Interval != 3*time.Second {
			t.Errorf("saved interval %v; want 3s", c.Interval)
		}
		if back, err := ParseConfig(c.Marshal()); err != nil || back.Interval != 3*time.Second {
			t.Errorf("read back: interval %v, %v; want 3s", back.Interval, err)
		}
	case <-time.After(patience):
		t.Fatal("SaveConfig was not called")
	}
}

// TestHelpTextsKeepBrackets: a help text with brackets ("[comm] for
// kernel threads") reaches the screen whole in F1's help (every key,
// column and meter text) and the F6 menu: tview would take "[comm]" for
// a colour tag and drop it.
func TestHelpTextsKeepBrackets(t *testing.T) {
	h := start(t, Options{}, 220, 50)
	a, _ := frames(t)
	h.src.send(a)
	h.waitFor("COMMAND")
	var help string
	h.onUI(func() { help = h.d.helpText() })
	tv := tview.NewTextView().SetDynamicColors(true)
	tv.SetText(help)
	plain := tv.GetText(true)
	var want []string
	for _, k := range keyMap {
		if k.mode != replayOnly { // a live view's help lists every other
			want = append(want, k.what)
		}
	}
	for c := colID(0); c < numCols; c++ {
		want = append(want, colDefs[c].help)
	}
	for m := meterID(0); m < numMeters; m++ {
		want = append(want, meterDefs[m].help)
	}
	for _, w := range want {
		if !strings.Contains(plain, w) {
			t.Errorf("F1's help lacks %q", w)
		}
	}
	h.key(tcell.KeyF6)
	h.waitFor("[comm] for kernel threads and zombies")
}
