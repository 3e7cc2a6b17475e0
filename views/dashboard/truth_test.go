package dashboard

// Issue 13 ("every number true") in the dashboard, on fixture trees:
// absent is never shown as zero (a kernel thread's RSS, the I/O delay
// with delay accounting off), a process whose main thread exited is
// alive, and a filter never keeps pinspect itself.

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// fixtureSnapshot reads a fixture tree under fixtures/proc.
func fixtureSnapshot(t *testing.T, tree string) *collector.Snapshot {
	t.Helper()
	r, err := collector.NewReader(collector.Options{Root: filepath.Join("..", "..", "fixtures", "proc", tree), Threads: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rowCells formats the table row of pid in a frame of snap.
func rowCells(t *testing.T, snap *collector.Snapshot, pid int) [numCols]string {
	t.Helper()
	m := newTableModel(nil)
	m.cols = m.cols[:0]
	for c := colID(0); c < numCols; c++ {
		m.cols = append(m.cols, c)
	}
	m.rebuild(&frameData{f: frameOf(1, nil, snap)}, viewOpts{}, nil)
	for i := range m.rows {
		if m.rows[i].p.PID == pid && m.rows[i].t == nil {
			cells := m.format(&m.rows[i])
			var out [numCols]string
			for j, c := range m.cols {
				out[c] = cells[j].Text
			}
			return out
		}
	}
	t.Fatalf("pid %d has no row", pid)
	return [numCols]string{}
}

// TestKernelThreadRSSIsAbsent (item 7): a kernel thread has no address
// space, so its RSS is "-" as ps shows it, not "0B"; a process with one
// shows status's VmRSS.
func TestKernelThreadRSSIsAbsent(t *testing.T) {
	snap := fixtureSnapshot(t, "kthread")
	for _, pid := range []int{2, 50} {
		if got := rowCells(t, snap, pid)[colRes]; got != "-" {
			t.Errorf("kernel thread %d: RSS %q, want -", pid, got)
		}
	}
	snap = fixtureSnapshot(t, "multithread")
	if got := rowCells(t, snap, 100)[colRes]; got != compactBytes(2048<<10) { // the table's five-character form
		t.Errorf("pid 100: RSS %q, want VmRSS 2048K (not stat field 24's 8 MiB)", got)
	}
}

// TestStatusTabAbsentNotZero (item 7): with kernel.task_delayacct 0 the
// Status tab says the I/O delay is not measured, not "0s"; a kernel
// thread's memory is "-". Item 2: a leader-exited process is alive.
func TestStatusTabAbsentNotZero(t *testing.T) {
	for _, c := range []struct {
		tree    string
		pid     int
		want    []string
		notWant []string
	}{
		{"foreign", 701, []string{"I/O delay [gray]- (delay accounting is off: kernel.task_delayacct = 0)", "RSS 2048K"}, []string{"I/O delay 0s"}},
		{"kthread", 50, []string{"I/O delay [gray]- (kernel.task_delayacct: not present)", "VSZ -  RSS -  shared -  peak virtual (VmPeak) -  swap -"}, []string{"RSS 0B"}},
		{"leader-exited", 14203, []string{"L leader exited (the kernel shows Z), 1 thread running (alive)", "RSS 1676K"}, []string{"zombie"}},
	} {
		snap := fixtureSnapshot(t, c.tree)
		d := &Dashboard{frame: frameOf(1, nil, snap)}
		v := &detailView{d: d}
		var p *collector.Process
		for i := range snap.Processes {
			if snap.Processes[i].PID == c.pid {
				p = &snap.Processes[i]
			}
		}
		text := v.statusText(p, 1000) // wide: no value wraps
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s %d: status tab lacks %q:\n%s", c.tree, c.pid, w, text)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(text, w) {
				t.Errorf("%s %d: status tab says %q:\n%s", c.tree, c.pid, w, text)
			}
		}
	}
}

// TestStatusTabDispositionsAbsent: dispositions the scan left out
// (collector.Options.BPFSkipDispositions) read "unknown" in the Status
// tab, never "none"; read ones are named.
func TestStatusTabDispositionsAbsent(t *testing.T) {
	snap := fixtureSnapshot(t, "multithread")
	d := &Dashboard{frame: frameOf(1, nil, snap)}
	v := &detailView{d: d}
	p := snap.Processes[0]
	p.SigIgn, p.SigCgt = 1<<11, 1<<0
	if text := v.statusText(&p, 1000); !strings.Contains(text, "Signals ignored") || !strings.Contains(text, "USR2") || !strings.Contains(text, "HUP") {
		t.Errorf("read dispositions not shown:\n%s", text)
	}
	p.SigIgn, p.SigCgt, p.SigDispAbsent = 0, 0, true
	text := v.statusText(&p, 1000)
	for _, k := range []string{"Signals ignored", "Signals caught"} {
		i := strings.Index(text, k)
		if i < 0 {
			t.Fatalf("no %q line:\n%s", k, text)
		}
		line, _, _ := strings.Cut(text[i:], "\n")
		if !strings.Contains(line, "unknown") || strings.Contains(line, "none") {
			t.Errorf("absent dispositions: %q", line)
		}
	}
}

// TestLeaderExitedRowIsAlive (item 2): the table shows a leader-exited
// process with its command line and memory, not as a zombie.
func TestLeaderExitedRowIsAlive(t *testing.T) {
	snap := fixtureSnapshot(t, "leader-exited")
	cells := rowCells(t, snap, 14203)
	if cells[colRes] != compactBytes(1676<<10) || !strings.Contains(cells[colCmd], "procshape leaderexit") || cells[colState] != "L" {
		t.Errorf("row: %q", cells)
	}
	h := start(t, Options{}, 160, 40)
	h.src.send(frameOf(1, nil, snap))
	h.src.send(frameOf(2, snap, snap))
	scr := h.waitUntil("the row", func(s string) bool { return rowOf(s, 14203) != "" })
	if !strings.Contains(scr, "zombies: 0") || strings.Contains(rowOf(scr, 14203), "defunct") {
		t.Errorf("the leader-exited process is counted or shown as a zombie:\n%s", scr)
	}
	h.key(tcell.KeyEnter)
	scr = h.waitFor("leader exited")
	if !strings.Contains(scr, strconv.Itoa(14203)) {
		t.Errorf("detail:\n%s", scr)
	}
}

// TestFilterLeavesOutSelf (item 6): a filter never keeps pinspect
// itself (Snapshot.SelfPID), as pgrep does; without one it is listed.
func TestFilterLeavesOutSelf(t *testing.T) {
	snap := fixtureSnapshot(t, "multithread")
	snap.SelfPID = 100 // as if pinspect were pid 100, whose comm is "server"
	m := &tableModel{}
	m.rebuild(&frameData{f: frameOf(1, nil, snap)}, viewOpts{filter: "server"}, nil)
	if len(m.rows) != 0 {
		t.Errorf("the filter kept pinspect itself: %d rows", len(m.rows))
	}
	m.rebuild(&frameData{f: frameOf(1, nil, snap)}, viewOpts{}, nil)
	if len(m.rows) != len(snap.Processes) {
		t.Errorf("no filter: %d rows of %d processes", len(m.rows), len(snap.Processes))
	}
}

// TestLeaderExitedLive: a live process whose main thread exited (procshape
// leaderexit) shows L in the state column, not the zombie letter Z, as
// pinspect ps does; the state filter L keeps it and Z leaves it out.
func TestLeaderExitedLive(t *testing.T) {
	hp := livehelper.Start(t, "leaderexit")
	var snap *collector.Snapshot
	for end := time.Now().Add(patience); ; livehelper.Sleep() {
		snap = snapshot(t, hp.PID())
		if p := lifecycle.Find(snap, hp.PID()); p != nil && lifecycle.LeaderExited(p) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the helper's main thread never showed as exited")
		}
	}
	if cells := rowCells(t, snap, hp.PID()); cells[colState] != "L" || strings.Contains(cells[colCmd], "defunct") {
		t.Errorf("row: %q", cells)
	}
	m := newTableModel(nil)
	m.rebuild(&frameData{f: frameOf(1, nil, snap)}, viewOpts{}, nil)
	if i := m.find(rowKey{id: lifecycle.Find(snap, hp.PID()).ID()}); i < 0 || m.format(&m.rows[i])[0].Color == stateColor('Z') {
		t.Errorf("the leader-exited row is missing or drawn in the zombie colour")
	}
	for _, c := range []struct {
		states string
		shown  bool
	}{{"L", true}, {"Z", false}, {"S", false}} {
		m := newTableModel(nil)
		m.rebuild(&frameData{f: frameOf(1, nil, snap)}, viewOpts{states: c.states}, nil)
		shown := m.find(rowKey{id: lifecycle.Find(snap, hp.PID()).ID()}) >= 0
		if shown != c.shown {
			t.Errorf("state filter %s keeps the leader-exited process: %v, want %v", c.states, shown, c.shown)
		}
	}
}
