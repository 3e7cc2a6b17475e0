package dashboard

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// testSource is a Source fed by the test with Frames built from real
// snapshots; it records what the dashboard asked for.
type testSource struct {
	mu           sync.Mutex
	ch           chan *monitor.Frame
	latest       *monitor.Frame
	interval     time.Duration
	paused       bool
	focus        []int
	unsubscribed bool
}

func newTestSource() *testSource { return &testSource{ch: make(chan *monitor.Frame, 64)} }

func (s *testSource) Subscribe() (<-chan *monitor.Frame, func()) {
	return s.ch, func() {
		s.mu.Lock()
		s.unsubscribed = true
		s.mu.Unlock()
	}
}

func (s *testSource) Latest() *monitor.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}

func (s *testSource) SetInterval(d time.Duration) {
	s.mu.Lock()
	s.interval = d
	s.mu.Unlock()
}

func (s *testSource) SetPaused(p bool) {
	s.mu.Lock()
	s.paused = p
	s.mu.Unlock()
}

func (s *testSource) Focus(pid int) {
	s.mu.Lock()
	s.focus = append(s.focus, pid)
	s.mu.Unlock()
}

func (s *testSource) send(f *monitor.Frame) {
	s.mu.Lock()
	s.latest = f
	s.mu.Unlock()
	s.ch <- f
}

var (
	baseOnce   sync.Once
	baseSnap   *collector.Snapshot
	baseErr    error
	baseReader *collector.Reader
	readerMu   sync.Mutex
)

// snapshot returns a real snapshot: one full scan of /proc (taken once per
// test binary, for speed, without this binary's earlier helpers) with the
// given pids read afresh, with their threads, and put in (or added) in pid
// order, stamped now.
func snapshot(t testing.TB, pids ...int) *collector.Snapshot {
	t.Helper()
	baseOnce.Do(func() {
		baseReader, baseErr = collector.NewReader(collector.Options{})
		if baseErr == nil {
			baseSnap, baseErr = baseReader.Snapshot(context.Background())
		}
	})
	if baseErr != nil {
		t.Fatal(baseErr)
	}
	readerMu.Lock()
	defer readerMu.Unlock()
	snap := *baseSnap
	snap.TakenAt = time.Now()
	snap.Monotonic = baseSnap.Monotonic + time.Since(baseSnap.TakenAt)
	// The base holds the helpers of the tests that ran before (under
	// go test -count, the same names): they are gone, and a filter by
	// their name would find them. Only the pids asked for are kept.
	prefix := run("")
	snap.Processes = slices.DeleteFunc(slices.Clone(baseSnap.Processes), func(p collector.Process) bool {
		return strings.HasPrefix(p.Comm, prefix) && !slices.Contains(pids, p.PID)
	})
	for _, pid := range pids {
		p, _, err := baseReader.Process(pid)
		if err != nil {
			t.Fatalf("reading %d: %v", pid, err)
		}
		i, found := slices.BinarySearchFunc(snap.Processes, pid, func(q collector.Process, pid int) int { return q.PID - pid })
		if found {
			snap.Processes[i] = *p
		} else {
			snap.Processes = slices.Insert(snap.Processes, i, *p)
		}
	}
	return &snap
}

// frames returns two consecutive real frames (so rates are known) with
// the given pids read afresh in each.
func frames(t testing.TB, pids ...int) (*monitor.Frame, *monitor.Frame) {
	t.Helper()
	a := snapshot(t, pids...)
	time.Sleep(50 * time.Millisecond)
	b := snapshot(t, pids...)
	return frameOf(1, nil, a), frameOf(2, a, b)
}

// frameOf builds a Frame the way the monitor does, from real snapshots.
func frameOf(seq uint64, prev, cur *collector.Snapshot) *monitor.Frame {
	return &monitor.Frame{
		Seq: seq, Snapshot: cur, Interval: time.Second,
		Rates:   lifecycle.ComputeRates(prev, cur),
		Zombies: lifecycle.DiagnoseZombies(cur, nil, nil),
		Orphans: lifecycle.DetectOrphans(cur, nil),
	}
}

// patience is how long a test waits for a condition (the dashboard to
// draw, a helper to reach a state) before it fails. It is long because
// the tests share the machine with builds and other suites: under a load
// average in the hundreds, with the race detector, a draw has taken more
// than a minute. A test that passes waits only as long as it must.
const patience = 3 * time.Minute

// pause returns the poll interval after d: from 20 ms, doubling up to a
// quarter second, so a waiting test does not itself load the UI goroutine
// it waits for.
func pause(d time.Duration) time.Duration { return min(2*d, 250*time.Millisecond) }

// harness runs a Dashboard on a simulation screen.
type harness struct {
	t    *testing.T
	d    *Dashboard
	sim  tcell.SimulationScreen
	src  *testSource
	done chan error
}

func start(t *testing.T, opts Options, w, h int) *harness {
	t.Helper()
	sim := tcell.NewSimulationScreen("UTF-8")
	opts.Screen = sim
	src := newTestSource()
	d := New(src, opts)
	sim.SetSize(w, h) // after New: SetScreen calls Init, which resets the size
	hs := &harness{t: t, d: d, sim: sim, src: src, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { hs.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-hs.done:
		case <-time.After(patience):
			t.Error("dashboard did not stop")
		}
	})
	hs.waitFor("pinspect")
	return hs
}

// ui runs f on the UI goroutine and fails the test, with every
// goroutine's stack, if the event loop does not run it within patience or
// has stopped (QueueUpdate would then block forever).
func (h *harness) ui(f func(), draw bool) {
	h.t.Helper()
	done := make(chan struct{})
	go func() {
		if draw {
			h.d.app.QueueUpdateDraw(f)
		} else {
			h.d.app.QueueUpdate(f)
		}
		close(done)
	}()
	select {
	case <-done:
	case err := <-h.done:
		h.done <- err
		h.t.Fatalf("the dashboard stopped unexpectedly: %v", err)
	case <-time.After(patience):
		buf := make([]byte, 1<<20)
		h.t.Fatalf("the UI goroutine did not respond for %v; goroutines:\n%s", patience, buf[:runtime.Stack(buf, true)])
	}
}

// lines returns the screen as text lines (read on the UI goroutine).
func (h *harness) lines() []string {
	h.t.Helper()
	var out []string
	h.ui(func() { out = screenLines(h.sim) }, false)
	return out
}

func screenLines(s tcell.SimulationScreen) []string {
	cells, w, hh := s.GetContents()
	lines := make([]string, hh)
	for y := 0; y < hh; y++ {
		var b strings.Builder
		for x := 0; x < w; x++ {
			if r := cells[y*w+x].Runes; len(r) == 0 {
				b.WriteByte(' ')
			} else {
				b.WriteString(string(r))
			}
		}
		lines[y] = strings.TrimRight(b.String(), " ")
	}
	return lines
}

func (h *harness) text() string { h.t.Helper(); return strings.Join(h.lines(), "\n") }

// panelText returns what the named bottom panel shows (its box, border
// and title included, as text lines), read on the UI goroutine: a test
// looking for an event's name must not find it in a real process's
// command line in the table (a compile of text/template holds "late").
func (h *harness) panelText(name string) string {
	h.t.Helper()
	var out []string
	h.ui(func() {
		i := h.d.panelIndex(name)
		if i < 0 {
			return
		}
		x, y, w, hh := h.d.panels[i].box.GetRect()
		cells, sw, sh := h.sim.GetContents()
		for row := max(y, 0); row < min(y+hh, sh); row++ {
			var b strings.Builder
			for col := max(x, 0); col < min(x+w, sw); col++ {
				if r := cells[row*sw+col].Runes; len(r) == 0 {
					b.WriteByte(' ')
				} else {
					b.WriteString(string(r))
				}
			}
			out = append(out, strings.TrimRight(b.String(), " "))
		}
	}, false)
	return strings.Join(out, "\n")
}

// waitForIn polls the named panel until it shows want.
func (h *harness) waitForIn(panel, want string) string {
	h.t.Helper()
	var txt string
	for end, d := time.Now().Add(patience), 20*time.Millisecond; time.Now().Before(end); d = pause(d) {
		if txt = h.panelText(panel); strings.Contains(txt, want) {
			return txt
		}
		time.Sleep(d)
	}
	h.t.Fatalf("timed out waiting for %q in the %s panel; it shows:\n%s", want, panel, txt)
	return ""
}

// waitUntil polls the screen until cond holds, with a generous deadline.
func (h *harness) waitUntil(what string, cond func(screen string) bool) string {
	h.t.Helper()
	var txt string
	for end, d := time.Now().Add(patience), 20*time.Millisecond; time.Now().Before(end); d = pause(d) {
		txt = h.text()
		if cond(txt) {
			return txt
		}
		time.Sleep(d)
	}
	h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, txt)
	return ""
}

func (h *harness) waitFor(want string) string {
	h.t.Helper()
	return h.waitUntil("\""+want+"\"", func(s string) bool { return strings.Contains(s, want) })
}

// key and runes post key events and wait for room in the screen's event
// queue (InjectKey drops events when the queue is full, as it is when the
// UI goroutine is slow on a loaded machine).
func (h *harness) key(k tcell.Key) { h.post(tcell.NewEventKey(k, 0, tcell.ModNone)) }

// post queues ev, retrying while the screen's event queue is full.
func (h *harness) post(ev tcell.Event) {
	for h.sim.PostEvent(ev) != nil {
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) runes(s string) {
	for _, r := range s {
		h.post(tcell.NewEventKey(tcell.KeyRune, r, tcell.ModNone))
	}
}

func (h *harness) mouse(x, y int, b tcell.ButtonMask) {
	h.post(tcell.NewEventMouse(x, y, b, tcell.ModNone))
}

// onUI runs f on the UI goroutine.
func (h *harness) onUI(f func()) { h.t.Helper(); h.ui(f, true) }

// rowOf returns the last screen line starting with pid (a table row; the
// detail view's title also starts with the pid), or "".
func rowOf(screen string, pid int) string {
	p := strconv.Itoa(pid)
	row := ""
	for _, l := range strings.Split(screen, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == p {
			row = l
		}
	}
	return row
}

// waitState polls a condition on the dashboard's state, read on the UI
// goroutine.
func (h *harness) waitState(what string, cond func(d *Dashboard) bool) {
	h.t.Helper()
	for end, d := time.Now().Add(patience), 20*time.Millisecond; time.Now().Before(end); d = pause(d) {
		var ok bool
		h.ui(func() { ok = cond(h.d) }, false)
		if ok {
			return
		}
		time.Sleep(d)
	}
	h.t.Fatalf("timed out waiting for %s", what)
}

// workerTIDs returns the non-leader thread ids of pid in a snapshot (the
// helper's own "tid" lines may come after its ready line on a loaded
// machine).
func workerTIDs(t testing.TB, snap *collector.Snapshot, pid int) []int {
	t.Helper()
	p := lifecycle.Find(snap, pid)
	if p == nil {
		t.Fatalf("pid %d not in the snapshot", pid)
	}
	var out []int
	for _, th := range p.Threads {
		if th.TID != pid {
			out = append(out, th.TID)
		}
	}
	if len(out) == 0 {
		t.Fatalf("pid %d has no worker threads in the snapshot", pid)
	}
	return out
}
