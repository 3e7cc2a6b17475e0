package lifecycle

import (
	"testing"
	"time"
)

// TestTrackerExitTakesLastParentSeen: a kernel exit whose source could
// not tell the parent at the end (PPID 0, ForkPPID the parent at fork)
// names the parent the latest scan showing the process saw (its
// adopter), and the parent at fork only when no scan showed it.
func TestTrackerExitTakesLastParentSeen(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	shell := proc(400, 1, 800, "sh", 'S')
	child := proc(500, 400, 900, "job", 'S')
	adopted := proc(500, 1, 900, "job", 'S')
	tr := NewTracker(0)
	s0 := snap(0, init1, shell, child)
	tr.Observe(nil, s0, Kernel{})
	s1 := snap(time.Second, init1, adopted)
	tr.Observe(s0, s1, Kernel{Live: true})
	x := kexit(adopted, 1500*time.Millisecond, 9)
	x.PPID, x.ForkPPID = 0, 400
	st := tr.Observe(s1, snap(2*time.Second, init1), Kernel{Events: []KernelEvent{x}})
	if e := exitOf(st.Events, 500); e == nil || e.PPID != 1 {
		t.Fatalf("events %+v, want the exit under its adopter 1", st.Events)
	}

	// Never seen by a scan: the parent at fork.
	brief := proc(600, 400, 950, "brief", 'S')
	x = kexit(brief, 2500*time.Millisecond, 0)
	x.PPID, x.ForkPPID = 0, 400
	st = tr.Observe(snap(2*time.Second, init1), snap(3*time.Second, init1), Kernel{Events: []KernelEvent{x}})
	if e := exitOf(st.Events, 600); e == nil || e.PPID != 400 {
		t.Fatalf("events %+v, want the exit under its parent at fork 400", st.Events)
	}
}

// exitOf is the exit of pid among evs, nil when there is none.
func exitOf(evs []Event, pid int) *Event {
	for i := range evs {
		if evs[i].Type == Exit && evs[i].ID.PID == pid {
			return &evs[i]
		}
	}
	return nil
}
