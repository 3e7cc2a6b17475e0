package monitor

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestExecNamesFastChild: with the connector's events left to gather for
// long (a 2 s coalescing window, the dashboard's is 50 ms), a child that
// execs and exits within the window, reaped at once, is named by what it
// exec'd, not by its parent's comm: the exec-only subscription
// (ConnectorExecNames) looked it up as it exec'd. The child is a copy of
// cat named "quickcat", run by this test: it exits once the test has
// seen the exec-only subscription name it (so the lookup is not a race
// the test could lose), well before the main stream reads its events; a
// burst of short processes first keeps the listener in its coalescing
// pause.
func TestExecNamesFastChild(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: 200 * time.Millisecond, Connector: true, ConnectorCoalesce: 2 * time.Second, ConnectorExecNames: true})
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	cs := connOf(t, m)
	for deadline := time.Now().Add(time.Minute); !cs.execLive.Load(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Skip("no exec-only connector subscription here (the event filter is Linux 6.6 and later)")
		}
	}
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Skip("no cat binary")
	}
	b, err := os.ReadFile(cat)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "quickcat")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do true; /bin/true; done").Run(); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(bin)
	in, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	pid := child.Process.Pid
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		cs.execMu.Lock()
		named := false
		for k, id := range cs.execSeen {
			named = named || k.pid == pid && id.Comm == "quickcat"
		}
		cs.execMu.Unlock()
		if named {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the exec-only subscription did not name the child within a minute")
		}
	}
	in.Close()
	_ = child.Wait()
	exited = true
	var execEv, exitEv *lifecycle.Event
	waitFrame(t, ch, "the child's exec and exit", func(f *Frame) bool {
		for i := range f.Events {
			e := &f.Events[i]
			if e.ID.PID != pid {
				continue
			}
			switch e.Type {
			case lifecycle.Exec:
				execEv = e
			case lifecycle.Exit:
				exitEv = e
			}
		}
		return execEv != nil && exitEv != nil
	})
	if execEv.Comm != "quickcat" || execEv.Exe != bin {
		t.Errorf("exec event names %q (exe %q), want quickcat (%s)", execEv.Comm, execEv.Exe, bin)
	}
	if exitEv.Comm != "quickcat" {
		t.Errorf("exit event names %q, want quickcat", exitEv.Comm)
	}
}
