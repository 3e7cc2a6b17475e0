package dashboard

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestPIDScopesPanels: with --pid the events panel shows the events of
// that process and of the processes it starts (as watch --pid), not the
// machine's, and the findings panel that process's findings, saying how
// many others it leaves out; both titles name the scope.
func TestPIDScopesPanels(t *testing.T) {
	one := livehelper.Start(t, "comm", run("scoped"))
	pid := one.PID()
	h := start(t, Options{PIDs: []int{pid}}, 180, 50)
	a, b := frames(t, pid)
	other := 0 // another real process of the snapshot
	for i := range b.Snapshot.Processes {
		if p := b.Snapshot.Processes[i].PID; p != pid && p > 1 {
			other = p
			break
		}
	}
	now := b.Snapshot.TakenAt
	b.Events = []lifecycle.Event{
		{Type: lifecycle.Spawn, Time: now, ID: collector.ID{PID: 3999001}, PPID: pid, Comm: "scopedchild"},
		{Type: lifecycle.Exec, Time: now, ID: collector.ID{PID: 3999001}, PPID: pid, Comm: "scopedexec"},
		{Type: lifecycle.Spawn, Time: now, ID: collector.ID{PID: 3999002}, PPID: other, Comm: "strangerspawn"},
		{Type: lifecycle.Exit, Time: now, ID: collector.ID{PID: other}, PPID: 1, Comm: "strangerexit"},
	}
	b.Explain = &monitor.ExplainFrame{Machine: []explain.Finding{
		{ID: "machine_cpu_contended", Question: explain.QMachine, Severity: explain.Warning, Verdict: "MACHINEWIDE verdict."},
		{ID: "pool_oversubscribed", Question: explain.QPool, Severity: explain.Warning, PID: other, Comm: "x", Verdict: "STRANGER verdict."},
		{ID: "pool_oversubscribed", Question: explain.QPool, Severity: explain.Notice, PID: pid, Comm: "scoped", Verdict: "SCOPED verdict."},
	}}
	h.src.send(a)
	h.src.send(b)
	events := h.waitForIn("events", "events: 2 of "+strconv.Itoa(pid)+"'s tree")
	if !strings.Contains(events, "scopedchild") || !strings.Contains(events, "scopedexec") {
		t.Errorf("the process's child's events are missing:\n%s", events)
	}
	if strings.Contains(events, "stranger") {
		t.Errorf("another process's events shown with --pid:\n%s", events)
	}
	findings := h.waitForIn("findings", "SCOPED verdict")
	if !strings.Contains(findings, "findings of "+strconv.Itoa(pid)+"'s tree") {
		t.Errorf("the findings panel's title does not say its scope:\n%s", findings)
	}
	if strings.Contains(findings, "MACHINEWIDE") || strings.Contains(findings, "STRANGER") {
		t.Errorf("other findings shown with --pid:\n%s", findings)
	}
	if !strings.Contains(findings, "2 findings of other processes") {
		t.Errorf("the findings left out are not counted:\n%s", findings)
	}
}

// TestNoScopeShowsAll: without --pid both panels show the machine's.
func TestNoScopeShowsAll(t *testing.T) {
	h := start(t, Options{}, 180, 50)
	a, b := frames(t)
	now := b.Snapshot.TakenAt
	b.Events = []lifecycle.Event{{Type: lifecycle.Spawn, Time: now, ID: collector.ID{PID: 3999002}, PPID: 1, Comm: "strangerspawn"}}
	b.Explain = &monitor.ExplainFrame{Machine: []explain.Finding{
		{ID: "machine_cpu_contended", Question: explain.QMachine, Severity: explain.Warning, Verdict: "MACHINEWIDE verdict."}}}
	h.src.send(a)
	h.src.send(b)
	if ev := h.waitForIn("events", "strangerspawn"); !strings.Contains(ev, "events: 1") {
		t.Errorf("events title:\n%s", ev)
	}
	if f := h.waitForIn("findings", "MACHINEWIDE"); strings.Contains(f, "not shown") {
		t.Errorf("findings:\n%s", f)
	}
}

// TestPIDScopesZombieTitle: with --pid the zombie panel lists the zombies
// the --pid processes hold, and its title counts those, saying so: not
// the machine's zombies (another parent's two here).
func TestPIDScopesZombieTitle(t *testing.T) {
	mine := livehelper.Start(t, "zombies", "2")
	theirs := livehelper.Start(t, "zombies", "2")
	h := start(t, Options{PIDs: []int{mine.PID()}}, 180, 50)
	pids := append(slices.Clone(mine.PIDs), theirs.PIDs...)
	var a, b *monitor.Frame
	for end := time.Now().Add(patience); ; {
		a, b = frames(t, pids...)
		n := 0
		for _, pid := range append(slices.Clone(mine.PIDs[1:]), theirs.PIDs[1:]...) {
			if p := lifecycle.Find(b.Snapshot, pid); p != nil && p.IsZombie() {
				n++
			}
		}
		if n == 4 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the helpers' zombies did not appear")
		}
	}
	h.src.send(a)
	h.src.send(b)
	panel := h.waitForIn("zombies", "of parent "+strconv.Itoa(mine.PID()))
	if want := "zombies: 2 (--pid " + strconv.Itoa(mine.PID()) + ")"; !strings.Contains(panel, want) {
		t.Errorf("zombie panel under --pid: want the title %q:\n%s", want, panel)
	}
	if strings.Contains(panel, "of parent "+strconv.Itoa(theirs.PID())) {
		t.Errorf("another parent's zombies listed under --pid:\n%s", panel)
	}
}

// TestPIDAndFilterZombieTitle: with --pid and a filter the zombie
// panel's title counts the zombies the filter keeps of those the --pid
// processes hold, and a filter that keeps none says so (the title
// counted the filtered zombies as all the --pid processes held, and the
// panel said they held none).
func TestPIDAndFilterZombieTitle(t *testing.T) {
	a := livehelper.Start(t, "zombies", "2")
	b := livehelper.Start(t, "zombies", "2")
	pids := append(slices.Clone(a.PIDs), b.PIDs...)
	var f1, f2 *monitor.Frame
	for end := time.Now().Add(patience); ; {
		f1, f2 = frames(t, pids...)
		// Both frames must hold the 4 zombies: the panel below is read as
		// soon as it says the filter keeps none, which it says after f1
		// already (a land saw "0 of 3" from an f1 taken while the 4th
		// child was still exiting).
		n := 0
		for _, pid := range append(slices.Clone(a.PIDs[1:]), b.PIDs[1:]...) {
			for _, f := range []*monitor.Frame{f1, f2} {
				if p := lifecycle.Find(f.Snapshot, pid); p != nil && p.IsZombie() {
					n++
				}
			}
		}
		if n == 8 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the helpers' zombies did not appear")
		}
	}
	scope := []int{a.PID(), b.PID()}
	label := "--pid " // and the two pids

	h := start(t, Options{PIDs: scope, Filter: "no-such-name-at-all"}, 180, 50)
	h.src.send(f1)
	h.src.send(f2)
	panel := h.waitForIn("zombies", "no zombie or parent matches the filter")
	if want := "zombies: 0 of 4 (" + label; !strings.Contains(panel, want) {
		t.Errorf("zombie panel under --pid with a filter keeping none: want the title %q:\n%s", want, panel)
	}

	// A filter keeping one parent: its pid (when no pid of the other's
	// starts with it).
	filter := strconv.Itoa(a.PID())
	for _, pid := range b.PIDs {
		if strings.HasPrefix(strconv.Itoa(pid), filter) {
			t.Skipf("pid %d of the other helper starts with %s", pid, filter)
		}
	}
	h = start(t, Options{PIDs: scope, Filter: filter}, 180, 50)
	h.src.send(f1)
	h.src.send(f2)
	panel = h.waitForIn("zombies", "of parent "+filter)
	if want := "zombies: 2 of 4 (" + label; !strings.Contains(panel, want) {
		t.Errorf("zombie panel under --pid with a filter keeping one parent: want the title %q:\n%s", want, panel)
	}

	// A filter naming only one of b's zombies (by its pid, not a --pid
	// itself): b's group is kept through its zombie, as the table keeps
	// the zombie's row (the panel said no zombie matched).
	zombie := strconv.Itoa(b.PIDs[1])
	for _, pid := range append(slices.Clone(a.PIDs), b.PID(), b.PIDs[2]) {
		if strings.HasPrefix(strconv.Itoa(pid), zombie) {
			t.Skipf("pid %d starts with %s", pid, zombie)
		}
	}
	h = start(t, Options{PIDs: scope, Filter: zombie}, 180, 50)
	h.src.send(f1)
	h.src.send(f2)
	panel = h.waitForIn("zombies", "of parent "+strconv.Itoa(b.PID()))
	if want := "zombies: 2 of 4 (" + label; !strings.Contains(panel, want) {
		t.Errorf("zombie panel under --pid with a filter naming a zombie: want the title %q:\n%s", want, panel)
	}
}

// TestPIDOfZombieListsItAlone: with --pid of one zombie the zombie panel
// lists that zombie under its parent's diagnosis, counts its siblings
// without listing them, and its title counts the one (it listed the
// whole group).
func TestPIDOfZombieListsItAlone(t *testing.T) {
	p := livehelper.Start(t, "zombies", "3")
	var a, b *monitor.Frame
	for end := time.Now().Add(patience); ; {
		a, b = frames(t, p.PIDs...)
		n := 0
		for _, pid := range p.PIDs[1:] {
			if q := lifecycle.Find(b.Snapshot, pid); q != nil && q.IsZombie() {
				n++
			}
		}
		if n == 3 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the helper's zombies did not appear")
		}
	}
	one := p.PIDs[2]
	h := start(t, Options{PIDs: []int{one}}, 180, 50)
	h.src.send(a)
	h.src.send(b)
	panel := h.waitForIn("zombies", "of parent "+strconv.Itoa(p.PID()))
	flat := strings.Join(strings.Fields(strings.ReplaceAll(panel, "│", " ")), " ") // as wrapped
	if want := "zombies: 1 (--pid " + strconv.Itoa(one) + ")"; !strings.Contains(panel, want) || !strings.Contains(flat, "(the parent holds 2 more, not selected)") {
		t.Errorf("zombie panel under --pid of a zombie: want the title %q and the siblings counted:\n%s", want, panel)
	}
	for _, pid := range []int{p.PIDs[1], p.PIDs[3]} {
		if strings.Contains(panel, " "+strconv.Itoa(pid)+"(") {
			t.Errorf("sibling %d listed under --pid %d:\n%s", pid, one, panel)
		}
	}
	if !strings.Contains(panel, " "+strconv.Itoa(one)+"(") {
		t.Errorf("zombie %d not listed:\n%s", one, panel)
	}
}
