package dashboard

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestFocusFeedsDetail checks the path the real monitor takes: threads,
// details and the address space arrive in Frame.Focus for the selected
// process only (the snapshots read only its threads), and its threads'
// rates come from the frame's Rates.
func TestFocusFeedsDetail(t *testing.T) {
	th := livehelper.Start(t, "threads", "3")
	h := start(t, Options{Filter: "procshape"}, 160, 50)
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	focusFrame := func(seq uint64, prev *monitor.Frame) *monitor.Frame {
		snap := snapshot(t, th.PID())
		var prevSnap *collector.Snapshot
		if prev != nil {
			prevSnap = prev.Snapshot
		}
		f := frameOf(seq, prevSnap, snap)
		p := lifecycle.Find(snap, th.PID())
		det, err := r.DetailsOf(p)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := r.AddressSpace(th.PID(), collector.AddrOptions{StartTicks: p.StartTicks})
		if err != nil {
			t.Fatal(err)
		}
		f.Focus = &monitor.Focus{PID: th.PID(), Process: p, Details: det, Space: sp}
		return f
	}
	a := focusFrame(1, nil)
	tids := workerTIDs(t, &collector.Snapshot{Processes: []collector.Process{*a.Focus.Process}}, th.PID())
	b := focusFrame(2, a)
	h.src.send(a)
	h.waitState("frame 1", func(d *Dashboard) bool { return d.frame != nil && d.frame.Seq == 1 })
	h.src.send(b)
	h.waitState("frame 2", func(d *Dashboard) bool { return d.frame.Seq == 2 })
	h.waitUntil("the helper", func(s string) bool { return rowOf(s, th.PID()) != "" })
	// Nothing is focused until H or the detail view needs it.
	h.waitState("no focus yet", func(d *Dashboard) bool { return d.focusPID == 0 })
	// H shows the focused process's threads under it.
	h.runes("H")
	h.onUI(func() {
		h.d.table.Select(h.d.model.find(rowKey{id: lifecycle.Find(b.Snapshot, th.PID()).ID()})+1, 0)
	})
	h.waitState("focus asked for the helper", func(d *Dashboard) bool {
		h.src.mu.Lock()
		defer h.src.mu.Unlock()
		return len(h.src.focus) > 0 && h.src.focus[len(h.src.focus)-1] == th.PID()
	})

	h.waitUntil("thread rows from the focus", func(s string) bool {
		for _, tid := range tids {
			if rowOf(s, tid) == "" {
				return false
			}
		}
		return true
	})
	h.runes("H")

	h.key(tcell.KeyEnter)
	scr := h.waitUntil("threads with rates and stacks", func(s string) bool {
		l := rowOf(s, tids[0])
		return strings.Contains(s, "1 Threads") && l != "" && !strings.Contains(l, " - ") // rates known from two scans with its threads
	})
	if l := rowOf(scr, th.PID()); !strings.Contains(l, "7ff") && !strings.Contains(l, "?") {
		t.Errorf("leader thread row lacks its stack: %q\n%s", l, scr)
	}
	h.runes("2")
	// The threads' stacks are told from the anonymous maps once the
	// focus has read the threads' stack pointers, which can be a refresh
	// after the tab first shows (under make test's load the first screen
	// had them as anon): wait for them, failing if they never come.
	scr = h.waitUntil("the memory tab with the threads' stacks", func(s string) bool {
		return strings.Contains(s, "Address space") && strings.Contains(s, "thread_stack")
	})
	if testing.Verbose() {
		t.Log(scr)
	}
	for _, want := range []string{"code", "heap", "stack", "thread_stack", "START", "PERMS", "r-xp", "procshape"} {
		if !strings.Contains(scr, want) {
			t.Errorf("memory tab lacks %q:\n%s", want, scr)
		}
	}
	if !strings.Contains(scr, "stack of thread "+strconv.Itoa(tids[0])) && !strings.Contains(scr, "stack of thread "+strconv.Itoa(tids[len(tids)-1])) {
		t.Logf("no thread stack attributed on screen (may be below the fold):\n%s", scr)
	}
	h.runes("4")
	scr = h.waitFor("Namespaces")
	defer func() {
		// Leaving the detail view with H off drops the focus.
		h.key(tcell.KeyEscape)
		h.waitState("focus cleared", func(d *Dashboard) bool {
			h.src.mu.Lock()
			defer h.src.mu.Unlock()
			return len(h.src.focus) > 0 && h.src.focus[len(h.src.focus)-1] == 0
		})
	}()
	// The whole tab (it scrolls): the details, and the namespaces the
	// children will get labelled as such.
	var text string
	h.ui(func() { text = h.d.detail.tabs[tabStatus].prim.(*tview.TextView).GetText(true) }, false)
	for _, want := range []string{"Waiting in", "Cgroup", "Limit Max open files", "Caps bounding", "Namespaces of children", "pid:", "peak virtual (VmPeak)"} {
		if !strings.Contains(text, want) {
			t.Errorf("status tab lacks %q:\n%s", want, text)
		}
	}
	_ = scr
}
