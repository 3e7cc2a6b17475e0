package sampler

import (
	"context"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestUnprivilegedWithholdsZombieExits: serve's explain samples a process
// a client may not see in full as an unprivileged reader would
// (Options.Unprivileged), and such a reader gets 0 for another user's
// zombie's exit code (stat field 52). The exit statuses of its zombie
// children (zombie_exit_status) and, for a zombie, its own are withheld
// and said to be; an unauthenticated client read "6131 killed by
// SIGSEGV" from /api/v1/explain/PID (tester14). A sample that is not
// unprivileged keeps them.
func TestUnprivilegedWithholdsZombieExits(t *testing.T) {
	z := livehelper.Start(t, "zombies", "3", "block")
	for _, c := range z.PIDs[1:] {
		waitFor(t, func() bool { return procState(c) == 'Z' })
	}
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	for _, unpriv := range []bool{false, true} {
		sm := New(r, Options{Window: liveWindow, Unprivileged: unpriv})
		parent, err := sm.Process(context.Background(), z.PID(), nil)
		if err != nil {
			t.Fatal(err)
		}
		zc := parent.ZombieChildren
		if zc == nil || len(zc.Zombies) != 3 {
			t.Fatalf("unprivileged %v: zombie children %+v, want 3", unpriv, zc)
		}
		exits := 0
		for _, c := range zc.Zombies {
			if c.Exit != nil {
				exits++
			}
		}
		f := find(t, explain.Explain(parent), "zombie_children")
		var statuses string
		for _, e := range f.Evidence {
			if e.Name == "zombie_exit_status" {
				statuses = e.Text
			}
		}
		if unpriv && (exits != 0 || statuses != "") {
			t.Errorf("unprivileged: %d zombie children with an exit status, evidence %q; want none", exits, statuses)
		}
		if !unpriv && (exits != 3 || !strings.Contains(statuses, "exit 1")) {
			t.Errorf("privileged: %d zombie children with an exit status, evidence %q; want 3", exits, statuses)
		}

		child, err := sm.Process(context.Background(), z.PIDs[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		p := child.Last.Process
		v := find(t, explain.Explain(child), "zombie").Verdict
		if unpriv && (p.ExitCode != -1 || p.Unavailable["exit_code"] != UnprivilegedReason || strings.Contains(v, "exit 1")) {
			t.Errorf("unprivileged zombie: exit code %d, unavailable %q, verdict %q; want it withheld", p.ExitCode, p.Unavailable["exit_code"], v)
		}
		if !unpriv && (p.ExitCode < 0 || !strings.Contains(v, "exit 1")) {
			t.Errorf("privileged zombie: exit code %d, verdict %q; want exit 1", p.ExitCode, v)
		}
	}
}
