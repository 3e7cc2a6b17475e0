package metrics

import (
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// proc is a model process as a scan returns it: started at start ticks,
// comm, user and system ticks, voluntary switches.
func proc(pid int, start uint64, comm string, utime, stime, vol uint64) collector.Process {
	p := collector.Process{PID: pid, Read: collector.SrcStat | collector.SrcStatus}
	p.StartTicks, p.Comm, p.State, p.NumThreads = start, comm, 'S', 1
	p.UTimeTicks, p.STimeTicks, p.VolCtx = utime, stime, vol
	return p
}

// frameAt is frame seq at second sec of a test clock holding ps.
func frameAt(seq uint64, sec int, ps ...collector.Process) *monitor.Frame {
	return &monitor.Frame{Seq: seq, Snapshot: &collector.Snapshot{TakenAt: time.Unix(1_700_000_000+int64(sec), 0), Processes: ps}}
}

func groupValue(t *testing.T, mfs map[string]*dto.MetricFamily, name, group string, extra map[string]string) float64 {
	t.Helper()
	want := map[string]string{"group": group}
	for k, v := range extra {
		want[k] = v
	}
	v, ok := find(mfs, name, want)
	if !ok {
		t.Fatalf("no %s%v", name, want)
	}
	return v
}

// A group's counters only grow while its processes exit and others
// start, and a process renamed by an exec leaves what it did so far to
// its old group and counts in the new one from then on.
func TestGroupCountersAcrossExitsAndExecs(t *testing.T) {
	c := NewCollector(Options{})
	cpu := func(group string) float64 {
		mfs := gather(t, c)
		return groupValue(t, mfs, "pinspect_group_cpu_seconds_total", group, map[string]string{"mode": "user"}) +
			groupValue(t, mfs, "pinspect_group_cpu_seconds_total", group, map[string]string{"mode": "system"})
	}
	// Two workers of one group; 100 ticks are one second.
	c.Observe(frameAt(1, 0, proc(10, 1, "worker", 300, 100, 5), proc(11, 2, "worker", 200, 0, 7)))
	if v := cpu("worker"); v != 6 {
		t.Fatalf("worker cpu %v, want 6 s (their whole lives)", v)
	}
	// 10 exits after doing 100 ticks more; 12 starts.
	c.Observe(frameAt(2, 15, proc(10, 1, "worker", 350, 150, 9), proc(11, 2, "worker", 250, 0, 8)))
	c.Observe(frameAt(3, 30, proc(11, 2, "worker", 260, 0, 9), proc(12, 3, "worker", 10, 0, 1)))
	if v := cpu("worker"); v != 5+2.6+0.1 {
		t.Errorf("after an exit and a start: worker cpu %v, want 7.7 s (the exited one's 5 s kept)", v)
	}
	mfs := gather(t, c)
	if v := groupValue(t, mfs, "pinspect_group_context_switches_total", "worker", map[string]string{"type": "voluntary"}); v != 9+9+1 {
		t.Errorf("worker voluntary switches %v, want 19", v)
	}
	if v := groupValue(t, mfs, "pinspect_group_processes", "worker", map[string]string{"state": "sleeping"}); v != 2 {
		t.Errorf("worker processes %v, want 2", v)
	}
	// 12 execs into "sh": its 0.1 s stay with worker, sh counts from here.
	c.Observe(frameAt(4, 45, proc(11, 2, "worker", 260, 0, 9), proc(12, 3, "sh", 30, 0, 1)))
	if w, s := cpu("worker"), cpu("sh"); w != 7.7 || s != 0.2 {
		t.Errorf("after the exec: worker %v sh %v; want 7.7 and 0.2", w, s)
	}
	// A counter that drops (a thread-summed total when a thread exits)
	// does not take the group back.
	c.Observe(frameAt(5, 60, proc(11, 2, "worker", 260, 0, 3), proc(12, 3, "sh", 30, 0, 1)))
	mfs = gather(t, c)
	if v := groupValue(t, mfs, "pinspect_group_context_switches_total", "worker", map[string]string{"type": "voluntary"}); v != 19 {
		t.Errorf("after a drop in one process's total: worker voluntary %v, want 19 (never less)", v)
	}
	// Everything exits: the counters stay; the groups stay for the
	// retention, then go.
	c.Observe(frameAt(6, 75))
	if w := cpu("worker"); w != 7.7 {
		t.Errorf("with no members: worker cpu %v, want 7.7", w)
	}
	c.Observe(frameAt(7, 75+int(DefaultGroupRetention/time.Second)))
	mfs = gather(t, c)
	if _, ok := find(mfs, "pinspect_group_cpu_seconds_total", map[string]string{"group": "worker"}); ok {
		t.Error("worker kept after the retention with no members")
	}
	if _, ok := find(mfs, "pinspect_group_processes", map[string]string{"group": OtherGroup}); !ok {
		t.Error("the group other is always exported")
	}
}

// Past groups.max, new groups' processes go to "other"; a rule's group
// always has room; a slot frees when an empty group expires.
func TestGroupBound(t *testing.T) {
	g, _, err := ParseConfig([]byte("groups:\n  max: 2\n  retention: 1m\n  rules: [{name: db, comm: [postgres]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := NewCollector(Options{Groups: g})
	c.Observe(frameAt(1, 0, proc(1, 1, "a", 0, 0, 0), proc(2, 1, "b", 0, 0, 0), proc(3, 1, "c", 0, 0, 0),
		proc(4, 1, "d", 0, 0, 0), proc(5, 1, "postgres", 0, 0, 0)))
	mfs := gather(t, c)
	if v := sumOf(mfs, "pinspect_group_processes", map[string]string{"group": OtherGroup}); v != 2 {
		t.Errorf("other holds %v processes, want 2 (c and d)", v)
	}
	if v := sumOf(mfs, "pinspect_group_processes", map[string]string{"group": "db"}); v != 1 {
		t.Errorf("db holds %v, want 1 (a rule's group has room)", v)
	}
	if v, _ := find(mfs, "pinspect_groups", nil); v != 4 {
		t.Errorf("pinspect_groups %v, want 4 (a, b, db, other)", v)
	}
	if v, ok := find(mfs, "pinspect_groups_overflow_processes", nil); v != 2 {
		t.Errorf("pinspect_groups_overflow_processes %v (%v), want 2 (c and d)", v, ok)
	}
	// a exits; after the retention its slot goes to e. c, seen before,
	// stays in other.
	c.Observe(frameAt(2, 10, proc(2, 1, "b", 0, 0, 0), proc(3, 1, "c", 0, 0, 0)))
	c.Observe(frameAt(3, 80, proc(2, 1, "b", 0, 0, 0), proc(3, 1, "c", 0, 0, 0), proc(6, 2, "e", 0, 0, 0)))
	mfs = gather(t, c)
	if v := sumOf(mfs, "pinspect_group_processes", map[string]string{"group": "e"}); v != 1 {
		t.Errorf("e: %v processes, want 1 (a's slot freed)", v)
	}
	if _, ok := find(mfs, "pinspect_group_processes", map[string]string{"group": "a"}); ok {
		t.Error("a still exported after its retention")
	}
	if v, _ := find(mfs, "pinspect_groups_overflow_processes", nil); v != 1 {
		t.Errorf("pinspect_groups_overflow_processes %v, want 1 (c; d exited)", v)
	}
	// A process that "unmatched: other" puts in other is not an overflow.
	g, _, err = ParseConfig([]byte("groups:\n  unmatched: other\n  max: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	c = NewCollector(Options{Groups: g})
	c.Observe(frameAt(1, 0, proc(1, 1, "a", 0, 0, 0), proc(2, 1, "b", 0, 0, 0)))
	mfs = gather(t, c)
	if v, ok := find(mfs, "pinspect_groups_overflow_processes", nil); !ok || v != 0 {
		t.Errorf("with unmatched: other, pinspect_groups_overflow_processes %v (%v), want 0", v, ok)
	}
	if v := sumOf(mfs, "pinspect_group_processes", map[string]string{"group": OtherGroup}); v != 2 {
		t.Errorf("with unmatched: other, other holds %v, want 2", v)
	}
}

// On the live machine: a process that burns CPU and is killed leaves its
// CPU time with its group, the group's counters never drop from frame to
// frame, and its exit is counted in the group by outcome.
func TestGroupCountersLive(t *testing.T) {
	spin := livehelper.Start(t, "spin")
	livehelper.Start(t, "threads", "3")
	sc := newScanner(t, true)
	c := NewCollector(Options{Groups: rules(t, procshapeRule)})
	var last float64
	step := func() float64 {
		t.Helper()
		c.Observe(sc.frame())
		mfs := gather(t, c)
		v := sumOf(mfs, "pinspect_group_cpu_seconds_total", map[string]string{"group": "procshape"})
		if v < last {
			t.Fatalf("group cpu went from %v to %v", last, v)
		}
		last = v
		return v
	}
	for deadline := time.Now().Add(60 * time.Second); step() < 0.2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the spinning helper's group reached only %v CPU seconds in 60 s", last)
		}
	}
	before := last
	if err := syscall.Kill(spin.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = spin.Cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		step()
		if lifecycle.Find(c.last.Snapshot, spin.PID()) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed helper is still in /proc")
		}
	}
	step()
	if last < before {
		t.Errorf("group cpu %v after the exit, want >= %v", last, before)
	}
	mfs := gather(t, c)
	if v := sumOf(mfs, "pinspect_group_exits_total", map[string]string{"group": "procshape"}); v < 1 {
		t.Errorf("group procshape exits %v, want >= 1", v)
	}
	if v := groupValue(t, mfs, "pinspect_group_processes", "procshape", map[string]string{"state": "sleeping"}) +
		groupValue(t, mfs, "pinspect_group_processes", "procshape", map[string]string{"state": "running"}); v < 1 {
		t.Errorf("group procshape has %v live processes, want the threads helper", v)
	}
}

// A group whose processes all live and die between two scans (a job a
// timer starts every minute, seen only through the connector's events)
// has no member at any scan: its events keep it, and its counters do not
// restart when it has been memberless for the retention.
func TestGroupKeptByEvents(t *testing.T) {
	g, _, err := ParseConfig([]byte("groups:\n  retention: 1m\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := NewCollector(Options{Groups: g})
	const every = 15    // seconds between scans
	for i := range 20 { // 5 minutes, past the retention
		f := frameAt(uint64(i+1), i*every, proc(1, 1, "init", 0, 0, 0))
		code := &collector.ExitStatus{Exited: true}
		f.Events = []lifecycle.Event{
			{Type: lifecycle.Spawn, ID: collector.ID{PID: 1000 + i, StartTicks: uint64(100 + i)}, Comm: "cronjob"},
			{Type: lifecycle.Exit, ID: collector.ID{PID: 1000 + i, StartTicks: uint64(100 + i)}, Comm: "cronjob", ExitStatus: code},
		}
		c.Observe(f)
		mfs := gather(t, c)
		if v := groupValue(t, mfs, "pinspect_group_exits_total", "cronjob", map[string]string{"outcome": "success"}); v != float64(i+1) {
			t.Fatalf("at %d s: cronjob exits %v, want %d (the counter restarted)", i*every, v, i+1)
		}
	}
	// Once the events stop, the group goes after the retention.
	c.Observe(frameAt(21, 20*every, proc(1, 1, "init", 0, 0, 0)))
	c.Observe(frameAt(22, 20*every+61, proc(1, 1, "init", 0, 0, 0)))
	if _, ok := find(gather(t, c), "pinspect_group_exits_total", map[string]string{"group": "cronjob"}); ok {
		t.Error("cronjob kept after the retention without events")
	}
}

// A pid taken by a new process between two scans: the old process's
// work stays with its group as an exit's does, and the new one counts
// its whole life in its own group; the processes around it keep theirs.
func TestGroupCountersPIDReused(t *testing.T) {
	c := NewCollector(Options{})
	cpu := func(group string) float64 {
		mfs := gather(t, c)
		return groupValue(t, mfs, "pinspect_group_cpu_seconds_total", group, map[string]string{"mode": "user"}) +
			groupValue(t, mfs, "pinspect_group_cpu_seconds_total", group, map[string]string{"mode": "system"})
	}
	c.Observe(frameAt(1, 0, proc(9, 1, "keep", 100, 0, 1), proc(10, 2, "old", 300, 0, 1), proc(11, 3, "keep", 100, 0, 1)))
	c.Observe(frameAt(2, 15, proc(9, 1, "keep", 150, 0, 1), proc(10, 2, "old", 400, 0, 1), proc(11, 3, "keep", 150, 0, 1)))
	c.Observe(frameAt(3, 30, proc(9, 1, "keep", 200, 0, 1), proc(10, 5, "new", 50, 0, 1), proc(11, 3, "keep", 200, 0, 1)))
	if o, n, k := cpu("old"), cpu("new"), cpu("keep"); o != 4 || n != 0.5 || k != 4 {
		t.Errorf("old %v new %v keep %v; want 4, 0.5 and 4", o, n, k)
	}
	mfs := gather(t, c)
	if v := groupValue(t, mfs, "pinspect_group_processes", "old", map[string]string{"state": "sleeping"}); v != 0 {
		t.Errorf("old's processes %v, want 0", v)
	}
	c.Observe(frameAt(4, 45, proc(9, 1, "keep", 200, 0, 1), proc(11, 3, "keep", 250, 0, 1)))
	if o, n, k := cpu("old"), cpu("new"), cpu("keep"); o != 4 || n != 0.5 || k != 4.5 {
		t.Errorf("after the new one exits: old %v new %v keep %v; want 4, 0.5 and 4.5", o, n, k)
	}
	if len(c.table.procs) != 2 {
		t.Errorf("%d members, want 2", len(c.table.procs))
	}
}
