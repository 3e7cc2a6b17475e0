package monitor

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestListFirstSeesExitBeforeKernelEvents: a process that ends while the
// kernel source is being opened (the BPF programs load and attach: watch
// missed the exit of a 0.3 s process started just before it) is in no
// kernel event and in no scan of the monitor; with ListFirst the scan
// before the source opens lists it, and the first frames report its
// exit. Here it is killed and reaped between that scan and the opening.
func TestListFirstSeesExitBeforeKernelEvents(t *testing.T) {
	for _, listFirst := range []bool{false, true} {
		cmd := exec.Command("sleep", "100")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		beforeKernelOpen = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
		m, ch := startMonitor(t, Options{Interval: time.Hour, Connector: true, Tracepoints: true, ListFirst: listFirst})
		beforeKernelOpen = nil
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		evs := eventsThroughSync(t, m, ch)
		exits := 0
		for _, e := range evs {
			if e.Type == lifecycle.Exit && e.ID.PID == pid {
				exits++
			}
		}
		if want := map[bool]int{false: 0, true: 1}[listFirst]; exits != want {
			t.Errorf("ListFirst %v: %d exits of %d, want %d: %+v", listFirst, exits, pid, want, evs)
		}
	}
}

// TestListFirstSeesProcessBeforeKernelEvents (fix11a's open item): a
// process that starts after the ListFirst scan and ends before the
// kernel source is live (the BPF programs load and attach) was in no
// scan and no event: watch missed a process started and ended within
// about 0.1 s of its start. The connector subscribed before the scan
// reports it, once: its spawn and its exit with its code.
func TestListFirstSeesProcessBeforeKernelEvents(t *testing.T) {
	var pid int
	var runErr error
	beforeKernelOpen = func() {
		cmd := exec.Command("sh", "-c", "exit 3")
		runErr = cmd.Run()
		if cmd.Process != nil {
			pid = cmd.Process.Pid
		}
	}
	m, ch := startMonitor(t, Options{Interval: time.Hour, Connector: true, Tracepoints: true, ListFirst: true})
	beforeKernelOpen = nil
	if pid == 0 {
		t.Fatalf("sh -c 'exit 3' did not start: %v", runErr)
	}
	// Without a kernel source (not root: no connector, no BPF) no early
	// connector runs either, and only a scan could see sh, which none did.
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here, so no early connector: %s", f.EventsNote)
	}
	evs := eventsThroughSync(t, m, ch)
	spawns, exits := 0, 0
	for _, e := range evs {
		if e.ID.PID != pid {
			continue
		}
		switch e.Type {
		case lifecycle.Spawn:
			spawns++
		case lifecycle.Exit:
			exits++
			if e.ExitStatus == nil || e.ExitStatus.Code != 3 {
				t.Errorf("exit %+v, want code 3", e)
			}
		}
	}
	if spawns != 1 || exits != 1 {
		t.Errorf("%d spawns and %d exits of %d (sh -c 'exit 3' between the scan and the kernel source's opening), want 1 and 1: %+v", spawns, exits, pid, evs)
	}
}

// TestBridgeLooksOnlyAtTheHandOff: the early connector's hand-off drops
// the kernel source's repeats of the early events, which come in its
// first takes, and stops looking once a take has only events after the
// hand-off: it looked through (and copied) every frame's events for the
// whole run (review7 A-S6).
func TestBridgeLooksOnlyAtTheHandOff(t *testing.T) {
	beforeKernelOpen = func() { _ = exec.Command("sh", "-c", "exit 3").Run() } // early events to hand off
	m, ch := startMonitor(t, Options{Interval: time.Hour, Connector: true, Tracepoints: true, ListFirst: true})
	beforeKernelOpen = nil
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here, so no early connector: %s", f.EventsNote)
	}
	m.mu.Lock()
	b, ok := m.kernel.(*bridged)
	m.mu.Unlock()
	if !ok {
		t.Fatalf("kernel source %T, want the early connector's hand-off", m.kernel)
	}
	frameAfterSync(t, m, ch)
	// A take with events after the hand-off only.
	if err := exec.Command("true").Run(); err != nil {
		t.Fatal(err)
	}
	frameAfterSync(t, m, ch)
	b.mu.Lock()
	n := len(b.seen)
	b.mu.Unlock()
	if n != 0 {
		t.Errorf("after the hand-off every take is still looked through for %d early events' repeats", n)
	}
}

// eventsThroughSync is every event of m's frames so far: the latest
// frame's and those of the frames up to the one after a Sync (which
// holds whatever the kernel had sent by then).
func eventsThroughSync(t *testing.T, m *Monitor, ch <-chan *Frame) []lifecycle.Event {
	t.Helper()
	evs := m.Latest().Events
	for _, f := range framesThroughSync(t, m, ch) {
		evs = append(evs, f.Events...)
	}
	return evs
}
