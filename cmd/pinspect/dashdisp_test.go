//go:build linux

package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestDashboardZombieSIGCHLD: the dashboard's Reader has the walk leave
// every process's signal dispositions out; its monitor's frames still
// diagnose real zombies by their parent's SIGCHLD handling as it is
// (default, blocked, ignored after the children exited, caught), show the
// focused process's dispositions, and mark those of a process neither
// shown nor a zombie's parent absent, not 0.
func TestDashboardZombieSIGCHLD(t *testing.T) {
	var ropts collector.Options
	setDashboardReaderOptions(&ropts)
	if !ropts.BPFSkipDispositions {
		t.Fatal("the dashboard's walk reads every process's dispositions")
	}
	ropts.Backend = collector.BackendTaskIter
	r, err := collector.NewReader(ropts)
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("not root: %v", err)
		}
		t.Fatalf("as root: %v", err)
	}
	defer r.Close()
	want := map[string]string{"default": lifecycle.SigchldDefault, "block": lifecycle.SigchldBlocked,
		"ignore": lifecycle.SigchldIgnored, "catch": lifecycle.SigchldHandled}
	parents := map[string]*livehelper.Proc{}
	for how := range want {
		parents[how] = livehelper.Start(t, "zombies", "2", how)
	}
	focused := livehelper.Start(t, "sigdisp")
	other := livehelper.Start(t, "sigdisp")

	m := monitor.New(r, dashboardMonitorOptions(100*time.Millisecond, false))
	m.Focus(focused.PID())
	frames, stop := m.Subscribe()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	// ready says whether f shows every parent with both its zombies and
	// the focused process.
	ready := func(f *monitor.Frame) bool {
		if f.Snapshot == nil || f.Focus == nil || f.Focus.Process == nil {
			return false
		}
		for _, h := range parents {
			found := false
			for i := range f.Zombies {
				if g := &f.Zombies[i]; g.Parent.PID == h.PID() && len(g.Zombies) == 2 {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	var f *monitor.Frame
	for deadline := time.Now().Add(3 * time.Minute); ; {
		select {
		case f = <-frames:
		case err := <-done:
			t.Fatalf("the monitor stopped: %v", err)
		case <-time.After(time.Until(deadline)):
			t.Fatal("no frame with every zombie and the focus within three minutes")
		}
		if ready(f) {
			break
		}
	}
	if f.Snapshot.Collector != collector.BackendTaskIter {
		t.Fatalf("collector %q", f.Snapshot.Collector)
	}
	for how, h := range parents {
		for i := range f.Zombies {
			if g := &f.Zombies[i]; g.Parent.PID == h.PID() && g.SIGCHLD != want[how] {
				t.Errorf("parent %d (%s): SIGCHLD %q, diagnosis %q", h.PID(), how, g.SIGCHLD, g.Diagnosis)
			}
		}
	}
	const sigHUP, sigUSR2 = 1 << 0, 1 << 11
	if p := f.Focus.Process; p.SigDispAbsent || p.SigIgn&sigUSR2 == 0 || p.SigCgt&sigHUP == 0 {
		t.Errorf("focused %d: absent %v, ignored %#x, caught %#x", p.PID, p.SigDispAbsent, p.SigIgn, p.SigCgt)
	}
	if p := lifecycle.Find(f.Snapshot, other.PID()); p == nil || !p.SigDispAbsent || p.SigIgn != 0 || p.SigCgt != 0 {
		t.Errorf("process %d neither shown nor a parent: %+v; want its dispositions absent", other.PID(), p)
	}
}
