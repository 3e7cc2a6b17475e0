package monitor

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// openBothSources opens the BPF tracepoints and the proc connector over a
// task-iterator reader and runs them until the test ends; it skips where
// either cannot be had as this user, and fails where root should have
// both.
func openBothSources(t *testing.T, threads bool) (tp, conn kernelSource) {
	t.Helper()
	r, err := collector.NewReader(collector.Options{Backend: collector.BackendTaskIter, NoTaskstats: true})
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("not root: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	o := Options{Connector: true, Threads: threads, MaxPending: DefaultMaxPending}
	tp, err = openTracepoints(r, o, func() {})
	if err != nil {
		t.Fatalf("as root, over the task iterator: %v", err)
	}
	conn = openKernelSource(r, o, func() {})
	if live, note := conn.status(); !live {
		_ = tp.(*tpSource).ev.Close()
		t.Skipf("no connector here: %s", note)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for _, k := range []kernelSource{tp, conn} {
		go func() { k.run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() { cancel(); <-done; <-done })
	return tp, conn
}

// syncBoth waits until both sources hold every event the kernel sent
// before the call.
func syncBoth(t *testing.T, srcs ...kernelSource) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, k := range srcs {
		if err := k.sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// eventLine is what both sources must agree on of an event: all but its
// time (each source stamps its own), its source and the exec's exe (the
// tracepoints give none).
func eventLine(e *lifecycle.KernelEvent) string {
	if e.Type == lifecycle.ThreadStart || e.Type == lifecycle.ThreadExit {
		// The connector names the last thread of a process that ended
		// from what it no longer holds (no start time, no name); the
		// tracepoints' are checked against the spawn's apart.
		return fmt.Sprintf("%s pid=%d tid=%d", e.Type, e.ID.PID, e.TID)
	}
	st := "-"
	if e.ExitStatus != nil {
		st = fmt.Sprintf("%d/%d/%v", e.ExitStatus.Code, e.ExitStatus.Signal, e.ExitStatus.CoreDumped)
	}
	return fmt.Sprintf("%s pid=%d start=%d tid=%d comm=%q old=%q ppid=%d status=%s note=%q",
		e.Type, e.ID.PID, e.ID.StartTicks, e.TID, e.Comm, e.OldComm, e.PPID, st, e.Note)
}

// linesOf are the lines of the events of processes pids, in order per
// process, the processes in pids' order. The names this test process
// goes by are written <test>: the child of a fork is a copy of the
// thread that forked it, while the connector names it by the process
// (whose main thread its sync marker may have renamed).
func linesOf(evs []lifecycle.KernelEvent, pids []int, testNames ...string) []string {
	var out []string
	for _, pid := range pids {
		for i := range evs {
			if evs[i].ID.PID == pid {
				e := evs[i]
				if slices.Contains(testNames, e.Comm) {
					e.Comm = "<test>"
				}
				if slices.Contains(testNames, e.OldComm) {
					e.OldComm = "<test>"
				}
				out = append(out, eventLine(&e))
			}
		}
	}
	return out
}

// TestTracepointsMatchConnector: the BPF tracepoints and the proc
// connector, both live at once, report the same lifecycle inputs for
// processes this test starts (filtered by pid: the machine's other
// processes are not looked at): forks, execs (a second exec named by its
// program), exits with a code, ends by a signal, a process whose main
// thread exits before its worker ends it, thread starts and exits. Each
// process stays in a state the connector's lookups can read (waiting, or
// a zombie) until both sources have its events, so that the connector
// names everything as it can; the tracepoints need no such wait.
func TestTracepointsMatchConnector(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	if _, err := exec.LookPath("cat"); err != nil {
		t.Skip("no cat")
	}
	self, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/comm", syscall.Gettid()))
	if err != nil {
		t.Fatal(err)
	}
	testComm := strings.TrimSpace(string(self))
	tp, conn := openBothSources(t, true)
	syncBoth(t, tp, conn)
	_, _ = tp.take(), conn.take()
	var pids []int

	// Exits with codes and signals: zombie children of a helper, which
	// a signal then ends.
	ex := livehelper.Start(t, "exits", "3", "sig9", "sig15", "0")
	pids = append(pids, ex.PIDs...)
	syncBoth(t, tp, conn)
	_ = syscall.Kill(ex.PID(), syscall.SIGKILL)
	waitZombie(t, ex.PID())

	// Two execs: sh, then cat, each waiting for the sources.
	cmd := exec.Command(sh, "-c", "read x; exec cat")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pids = append(pids, cmd.Process.Pid)
	syncBoth(t, tp, conn)
	_, _ = io.WriteString(in, "x\n")
	waitComm(t, cmd.Process.Pid, "cat")
	syncBoth(t, tp, conn)
	_ = in.Close()
	waitZombie(t, cmd.Process.Pid)
	syncBoth(t, tp, conn)
	_ = cmd.Wait()

	// Threads, and a main thread that exits before its worker ends the
	// process with code 7.
	th := livehelper.Start(t, "threads", "3")
	pids = append(pids, th.PID())
	le := livehelper.Start(t, "leaderexit")
	pids = append(pids, le.PID())
	waitLeaderZombie(t, le.PID())
	syncBoth(t, tp, conn)
	_ = syscall.Kill(le.PID(), syscall.SIGUSR1)
	waitZombie(t, le.PID())
	syncBoth(t, tp, conn)
	_ = syscall.Kill(th.PID(), syscall.SIGKILL)
	waitZombie(t, th.PID())
	syncBoth(t, tp, conn)

	a, b := takeEnded(t, pids, tp, conn)
	names := []string{testComm, syncMarker}
	got, want := linesOf(a, pids, names...), linesOf(b, pids, names...)
	// The tracepoints name every thread event by its process.
	starts := map[int]uint64{}
	for _, e := range a {
		if e.Type == lifecycle.Spawn {
			starts[e.ID.PID] = e.ID.StartTicks
		}
	}
	for _, e := range a {
		if (e.Type == lifecycle.ThreadStart || e.Type == lifecycle.ThreadExit) && slices.Contains(pids, e.ID.PID) &&
			(e.ID.StartTicks != starts[e.ID.PID] || e.Comm != "procshape") {
			t.Errorf("thread event %s, want its process's start %d and name procshape", eventLine(&e), starts[e.ID.PID])
		}
	}
	// One end, one event: each source reports a process's end once, as
	// its exit, and nothing of it after; the thread that ends a process
	// is reported by the exit alone (the leader-exit helper's one worker
	// has no thread_exit), every other started thread by a thread_exit.
	for _, src := range []struct {
		name string
		evs  []lifecycle.KernelEvent
	}{{"tracepoints", a}, {"connector", b}} {
		for _, pid := range pids {
			checkOneEnd(t, src.name, src.evs, pid)
		}
		for _, e := range src.evs {
			if e.ID.PID == le.PID() && e.Type == lifecycle.ThreadExit {
				t.Errorf("%s: the thread that ended process %d is a thread_exit too: %s", src.name, le.PID(), eventLine(&e))
			}
		}
	}
	// Which thread of a process killed at once ends it last is the
	// kernel's race, each source seeing its own moment (checked above);
	// the rest must be the same. Thread events come in the order the
	// threads ended on their CPUs: compare them as sets.
	joined := strings.Join(got, "\n")
	got, want = withoutThreadExits(got), withoutThreadExits(want)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the sources differ:\ntracepoints:\n  %s\nconnector:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// The cases happened: the checks above compared something.
	for _, w := range []string{`exec pid=` + fmt.Sprint(cmd.Process.Pid), `comm="cat" old="sh"`, "status=3/0/false", "status=0/9/false",
		"status=0/15/false", "status=7/0/false", "thread_start", "thread_exit"} {
		if !strings.Contains(joined, w) {
			t.Errorf("no %q among the events:\n  %s", w, joined)
		}
	}
}

// takeEnded takes the events of tp and conn until each holds an exit of
// every process of pids (each ended), syncing both before each take.
// A process whose leader is a zombie may still have threads ending:
// its last thread's end comes after a wait for the zombie, and the
// connector's event of it even after the parent could reap it (the
// kernel sends it once the thread is released), so a sync then may
// come before it. It waits at most 20 s, then fails.
func takeEnded(t *testing.T, pids []int, tp, conn kernelSource) (a, b []lifecycle.KernelEvent) {
	t.Helper()
	a, b, _ = takeEndedInTakes(t, pids, tp, conn)
	return a, b
}

// takeEndedInTakes is takeEnded, and gives for each of conn's events the
// number of the take it came in: the connector reports a thread's end
// when the thread is released, which may come after a take that already
// held its process's exit (see kernelSource's take).
func takeEndedInTakes(t *testing.T, pids []int, tp, conn kernelSource) (a, b []lifecycle.KernelEvent, bTakes []int) {
	t.Helper()
	ended := func(evs []lifecycle.KernelEvent) bool {
		for _, pid := range pids {
			if !slices.ContainsFunc(evs, func(e lifecycle.KernelEvent) bool { return e.ID.PID == pid && e.Type == lifecycle.Exit }) {
				return false
			}
		}
		return true
	}
	for take, deadline := 0, time.Now().Add(20*time.Second); ; take++ {
		if take > 0 {
			livehelper.Sleep()
		}
		syncBoth(t, tp, conn)
		a, b = append(a, tp.take().Events...), append(b, conn.take().Events...)
		for len(bTakes) < len(b) {
			bTakes = append(bTakes, take)
		}
		if ended(a) && ended(b) {
			return a, b, bTakes
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every one of processes %v ended within 20s:\ntracepoints:\n  %s\nconnector:\n  %s", pids,
				strings.Join(linesOf(a, pids), "\n  "), strings.Join(linesOf(b, pids), "\n  "))
		}
	}
}

// checkOneEnd checks one source's events of process pid: at most one
// exit and nothing after it; every thread_exit is of a thread it saw
// start, at most one started thread (the one whose end was the exit)
// without one.
func checkOneEnd(t *testing.T, source string, evs []lifecycle.KernelEvent, pid int) {
	t.Helper()
	checkOneEndInTakes(t, source, evs, nil, pid)
}

// checkOneEndInTakes is checkOneEnd where takes gives each event's take
// (nil: all came in one): a thread_exit in a take after the one that
// held the exit is a thread released late, not an event after the end.
func checkOneEndInTakes(t *testing.T, source string, evs []lifecycle.KernelEvent, takes []int, pid int) {
	t.Helper()
	ended, endTake := false, 0
	takeOf := func(i int) int {
		if takes == nil {
			return 0
		}
		return takes[i]
	}
	started, exited := map[int]bool{}, map[int]bool{}
	for i := range evs {
		e := &evs[i]
		if e.ID.PID != pid {
			continue
		}
		if ended && (e.Type != lifecycle.ThreadExit || takeOf(i) == endTake) {
			t.Errorf("%s: %s after process %d's exit", source, eventLine(e), pid)
		}
		switch e.Type {
		case lifecycle.Exit:
			ended, endTake = true, takeOf(i)
		case lifecycle.ThreadStart:
			started[e.TID] = true
		case lifecycle.ThreadExit:
			if !started[e.TID] || exited[e.TID] {
				t.Errorf("%s: %s of a thread not started, or ended twice", source, eventLine(e))
			}
			exited[e.TID] = true
		}
	}
	if ended && len(started)-len(exited) > 1 {
		t.Errorf("%s: process %d started threads %v, and only %v ended before it", source, pid, started, exited)
	}
}

// withoutThreadExits is lines without the thread_exit ones.
func withoutThreadExits(lines []string) []string {
	return slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "thread_exit") })
}

// waitZombie waits until process pid is a zombie (or gone).
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("process %d a zombie", pid), func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		s := string(b)
		return strings.HasPrefix(s[strings.LastIndexByte(s, ')')+1:], " Z")
	})
}

// waitLeaderZombie waits until process pid's main thread has exited.
func waitLeaderZombie(t *testing.T, pid int) {
	t.Helper()
	waitZombie(t, pid)
}

// waitComm waits until process pid is named comm.
func waitComm(t *testing.T, pid int, comm string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("process %d named %s", pid, comm), func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return strings.TrimSpace(string(b)) == comm
	})
}

// waitFor polls ok for up to 20 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); livehelper.Sleep() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within 20s", what)
		}
	}
}

// startMonitorOn is startMonitor over a reader made with ro.
func startMonitorOn(t *testing.T, ro collector.Options, o Options) (*Monitor, <-chan *Frame) {
	t.Helper()
	r, err := collector.NewReader(ro)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	m := New(r, o)
	ch, unsub := m.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		unsub()
		<-done
	})
	waitFrame(t, ch, "a first frame", func(*Frame) bool { return true })
	return m, ch
}

// TestMonitorChoosesTracepoints: a monitor asked for the tracepoints
// uses them over a task-iterator reader (its frames say so, and a
// process this test starts arrives from them at the next synced frame,
// named); over a /proc reader it uses the connector, and its note says
// why not the tracepoints.
func TestMonitorChoosesTracepoints(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF")
	}
	t.Run("task_iter", func(t *testing.T) {
		m, ch := startMonitorOn(t, collector.Options{Backend: collector.BackendTaskIter, NoTaskstats: true},
			Options{Interval: time.Hour, Connector: true, Tracepoints: true})
		if f := m.Latest(); !f.EventsLive || f.EventsNote != noteTracepoints {
			t.Fatalf("live %v, note %q; want the tracepoints", f.EventsLive, f.EventsNote)
		}
		p := livehelper.Start(t, "comm", "tpnamed")
		f := frameAfterSync(t, m, ch)
		var spawn, exec bool
		for _, e := range f.Events {
			if e.ID.PID != p.PID() || e.Source != lifecycle.SourceTracepoint {
				continue
			}
			spawn = spawn || e.Type == lifecycle.Spawn && e.PPID == os.Getpid()
			exec = exec || e.Type == lifecycle.Exec && e.Comm == "procshape"
		}
		if !spawn || !exec {
			t.Errorf("the frame after Sync lacks the helper's spawn (%v) or its named exec (%v): %d events", spawn, exec, len(f.Events))
		}
	})
	t.Run("proc", func(t *testing.T) {
		m, _ := startMonitorOn(t, collector.Options{Backend: collector.BackendProc, NoTaskstats: true},
			Options{Interval: time.Hour, Connector: true, Tracepoints: true})
		f := m.Latest()
		if !strings.HasPrefix(f.EventsNote, noteSubscribed+"; BPF tracepoints not used: ") {
			t.Errorf("note %q, want the connector's and why not the tracepoints", f.EventsNote)
		}
		t.Log(f.EventsNote)
	})
}

// TestTracepointsEveryThreadEnds: a process of many threads killed at
// once, its threads ending together on every CPU (several may each find
// none left and write the process's end): the tracepoints report one
// exit, nothing of the process after it, and a thread_exit for every
// thread they saw start but the one whose end was the exit; the
// connector reports nothing after the exit either, but for a thread_exit
// in a later take (a thread it reports when released, after a take
// that already held the exit: rev-fix9a 3).
func TestTracepointsEveryThreadEnds(t *testing.T) {
	tp, conn := openBothSources(t, true)
	for round := range 5 {
		p := livehelper.Start(t, "threads", "24")
		syncBoth(t, tp, conn)
		_ = syscall.Kill(p.PID(), syscall.SIGKILL)
		waitZombie(t, p.PID())
		evs, cevs, ctakes := takeEndedInTakes(t, []int{p.PID()}, tp, conn)
		checkOneEnd(t, "tracepoints", evs, p.PID())
		checkOneEndInTakes(t, "connector", cevs, ctakes, p.PID())
		starts, exits := 0, 0
		for _, e := range evs {
			if e.ID.PID == p.PID() {
				switch e.Type {
				case lifecycle.ThreadStart:
					starts++
				case lifecycle.Exit:
					exits++
				}
			}
		}
		if starts != 23 || exits != 1 {
			t.Errorf("round %d: %d thread starts and %d exits of the helper, want 23 and 1", round, starts, exits)
		}
	}
}
