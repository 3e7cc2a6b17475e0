package taskiter

import (
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestWalkNoSighand: a walk asked to leave the signal dispositions out
// gives no process's (HasSighand false, both masks 0), and the next walk
// that asks for them has every process's again, the helper's ignored
// SIGUSR2 and caught SIGHUP included.
func TestWalkNoSighand(t *testing.T) {
	it := openForTest(t)
	if !it.Walking() {
		t.Skip(it.WalkUnavailable)
	}
	h := livehelper.Start(t, "sigdisp")
	const sigHUP, sigUSR2 = 1 << 0, 1 << 11
	for _, skip := range []bool{true, false, true} {
		groups, with := 0, 0
		var helper *Group
		_, err := it.PassWith(PassOptions{SumThreads: true, NoSighand: skip}, func(tk *Task) error {
			if tk.Group == nil {
				return nil
			}
			groups++
			if tk.Group.HasSighand {
				with++
			}
			if skip && (tk.Group.SigIgnored != 0 || tk.Group.SigCaught != 0) {
				t.Errorf("skipped: process %d has ignored %#x caught %#x", tk.TID, tk.Group.SigIgnored, tk.Group.SigCaught)
			}
			if tk.TID == h.PID() {
				g := *tk.Group
				helper = &g
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case helper == nil:
			t.Fatalf("skip=%v: helper %d not in the walk", skip, h.PID())
		case skip && with != 0:
			t.Errorf("skipped: %d of %d processes have dispositions", with, groups)
		case !skip && (with < groups/2 || !helper.HasSighand):
			t.Errorf("asked again: %d of %d processes have dispositions, the helper's: %v", with, groups, helper.HasSighand)
		case !skip && (helper.SigIgnored&sigUSR2 == 0 || helper.SigCaught&sigHUP == 0):
			t.Errorf("asked again: helper ignored %#x caught %#x; want SIGUSR2 ignored, SIGHUP caught", helper.SigIgnored, helper.SigCaught)
		}
	}
}
