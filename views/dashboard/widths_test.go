package dashboard

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/collector"
)

// TestUserWidthHolds: the USER column is as wide as the longest name
// shown, and a short-lived process with a longer name does not make it
// jump back when it exits: a real process of nobody's (6 letters) beside
// this test's own (root's, 4), then gone.
func TestUserWidthHolds(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the helper runs as nobody")
	}
	sleeper := exec.Command("sleep", "600")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}, Pdeathsig: syscall.SIGKILL}
	if err := sleeper.Start(); err != nil {
		t.Skipf("cannot run a process as nobody: %v", err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = sleeper.Process.Kill()
			_ = sleeper.Wait()
		}
	})
	self := os.Getpid()
	a := snapshot(t, self, sleeper.Process.Pid)
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	exited = true
	b := snapshot(t, self)
	// The base scan the harness reuses was taken while it ran.
	b.Processes = slices.DeleteFunc(b.Processes, func(p collector.Process) bool { return p.PID == sleeper.Process.Pid })
	sim := tcell.NewSimulationScreen("UTF-8")
	d := New(newTestSource(), Options{Screen: sim, PIDs: []int{self, sleeper.Process.Pid}})
	d.apply(frameOf(1, nil, a))
	if len(d.model.rows) != 2 {
		t.Fatalf("%d rows, want this process and the sleeper", len(d.model.rows))
	}
	wide := d.model.colWidth(colUser)
	if want := len("nobody"); d.model.widths[colUser] != want {
		t.Fatalf("USER width %d beside nobody's process, want %d", d.model.widths[colUser], want)
	}
	d.apply(frameOf(2, a, b))
	if len(d.model.rows) != 1 {
		t.Fatalf("%d rows after the sleeper exited, want 1", len(d.model.rows))
	}
	if got := d.model.colWidth(colUser); got != wide {
		t.Errorf("USER width %d after nobody's process exited, was %d: the columns jump", got, wide)
	}
}

// TestHeldWidth: a data-sized width grows at once, holds for widthHold
// after the wider values are gone, then shrinks; a snapshot time that
// goes back (a replay's seek) takes the width the data needs.
func TestHeldWidth(t *testing.T) {
	var h heldWidth
	t0 := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	steps := []struct {
		need int
		at   time.Duration
		want int
	}{
		{4, 0, 4},
		{10, time.Second, 10},
		{4, 2 * time.Second, 10},
		{4, widthHold, 10},
		{6, widthHold + 2*time.Second, 6},
		{4, widthHold + 3*time.Second, 6},
		{4, -time.Hour, 4},
	}
	for i, s := range steps {
		if got := h.update(s.need, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: need %d at %v: width %d, want %d", i, s.need, s.at, got, s.want)
		}
	}
}
