package lifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// readFixture reads fixtures/proc/lifecycle (see its README).
func readFixture(t *testing.T) *collector.Snapshot {
	t.Helper()
	r, err := collector.NewReader(collector.Options{Root: "../../fixtures/proc/lifecycle",
		Now: func() time.Time { return time.Unix(1767225600+1000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDiagnoseZombiesFixture(t *testing.T) {
	s := readFixture(t)
	seen := map[collector.ID]time.Time{{PID: 101, StartTicks: 200}: s.TakenAt.Add(-time.Minute)}
	groups := DiagnoseZombies(s, seen, map[int]string{100: "hrtimer_nanosleep"})
	type want struct {
		parent  int
		sigchld string
		zombies int
		diag    string
	}
	wants := []want{
		{100, SigchldDefault, 2, "neither handles nor ignores SIGCHLD"},
		{200, SigchldDefault, 1, "is stopped"},
		{300, SigchldHandled, 1, "handles SIGCHLD but does not wait()"},
		{350, SigchldBlocked, 1, "blocks SIGCHLD"},
	}
	if len(groups) != len(wants) {
		t.Fatalf("%d groups, want %d: %+v", len(groups), len(wants), groups)
	}
	for i, w := range wants {
		g := groups[i]
		if g.Parent.PID != w.parent || g.SIGCHLD != w.sigchld || len(g.Zombies) != w.zombies || !strings.Contains(g.Diagnosis, w.diag) {
			t.Errorf("group %d: parent %d sigchld %q zombies %d diagnosis %q; want %+v", i, g.Parent.PID, g.SIGCHLD, len(g.Zombies), g.Diagnosis, w)
		}
		if g.Remedy == "" {
			t.Errorf("group %d has no remedy", i)
		}
	}
	g := groups[0]
	if g.ParentWChan != "hrtimer_nanosleep" || !strings.Contains(g.Diagnosis, "in hrtimer_nanosleep") {
		t.Errorf("wchan not used: %q / %q", g.ParentWChan, g.Diagnosis)
	}
	if z := g.Zombies[0]; z.ID.PID != 101 || z.Exit == nil || !z.Exit.Exited || z.Exit.Code != 2 || !z.FirstSeen.Equal(s.TakenAt.Add(-time.Minute)) {
		t.Errorf("zombie 101: %+v", z)
	}
	if z := g.Zombies[1]; z.ID.PID != 102 || z.Exit == nil || z.Exit.Exited || z.Exit.Signal != 9 || !z.FirstSeen.Equal(s.TakenAt) {
		t.Errorf("zombie 102: %+v", z)
	}
	if !g.Since.Equal(s.TakenAt.Add(-time.Minute)) || !strings.Contains(g.Diagnosis, "(first seen 1m0s ago)") {
		t.Errorf("since %v, diagnosis %q", g.Since, g.Diagnosis)
	}
	if !strings.Contains(groups[1].Remedy, "kill -CONT 200") {
		t.Errorf("stopped parent remedy %q", groups[1].Remedy)
	}
}

func TestDetectOrphansFixture(t *testing.T) {
	s := readFixture(t)
	got := map[int]Orphan{}
	for _, o := range DetectOrphans(s, nil) {
		got[o.ID.PID] = o
	}
	orphans := map[int]string{600: AdopterInit, 701: AdopterSubreaper, 801: AdopterPidnsInit}
	// 400's leader thread exited but its other threads run: a live
	// process in its own session under init, so a daemon, not a zombie.
	daemons := []int{100, 200, 300, 350, 400, 550, 700, 800, 900}
	for pid, kind := range orphans {
		o, ok := got[pid]
		if !ok || o.Daemon || o.AdopterKind != kind || o.Evidence == "" || o.Observed {
			t.Errorf("orphan %d: %+v (ok %v), want kind %s", pid, o, ok, kind)
		}
	}
	for _, pid := range daemons {
		if o, ok := got[pid]; !ok || !o.Daemon {
			t.Errorf("daemon %d: %+v (ok %v)", pid, o, ok)
		}
	}
	if len(got) != len(orphans)+len(daemons) {
		t.Errorf("%d reported, want %d: %+v", len(got), len(orphans)+len(daemons), got)
	}
	for _, pid := range []int{500, 702, 802} {
		if _, ok := got[pid]; ok {
			t.Errorf("pid %d must not be reported: %+v", pid, got[pid])
		}
	}
	if o := got[701]; o.Adopter != 700 || o.AdopterComm != "shim" || !strings.Contains(o.Evidence, "subreaper") {
		t.Errorf("subreaper orphan %+v", o)
	}
}

func TestDetectOrphansObserved(t *testing.T) {
	sub := proc(10, 1, 5, "reaper", 'S')
	sub.SID, sub.PGID = 10, 10
	kid := proc(12, 10, 9, "kid", 'S')
	kid.SID, kid.PGID = 10, 10 // same session and group: no evidence in one snapshot
	s := snap(time.Second, proc(1, 0, 1, "init", 'S'), sub, kid)
	if got := DetectOrphans(s, nil); len(got) != 1 || !got[0].Daemon || got[0].ID.PID != 10 {
		t.Fatalf("without observation only the daemon: %+v", got)
	}
	ev := Event{Type: Reparent, ID: kid.ID(), PPID: 10, OldPPID: 11, Time: s.TakenAt, Source: SourceConnector}
	got := DetectOrphans(s, map[collector.ID]Event{kid.ID(): ev})
	if len(got) != 2 || got[0].ID.PID != 12 || !got[0].Observed || got[0].AdopterKind != AdopterSubreaper || got[0].OldPPID != 11 {
		t.Fatalf("observed orphan: %+v", got)
	}
	// The time is kept as a value for views to format, not in the text.
	if !got[0].ReparentedAt.Equal(s.TakenAt) || strings.Contains(got[0].Evidence, s.TakenAt.UTC().Format("15:04:05")) {
		t.Errorf("observed orphan: reparented at %v, evidence %q", got[0].ReparentedAt, got[0].Evidence)
	}
}
