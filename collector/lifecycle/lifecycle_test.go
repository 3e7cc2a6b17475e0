package lifecycle

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// proc builds a process as the reader would after reading stat and status.
func proc(pid, ppid int, start uint64, comm string, state byte) collector.Process {
	return collector.Process{
		PID: pid, Read: collector.SrcStat | collector.SrcStatus,
		ProcStat: collector.ProcStat{
			PPID: ppid, StartTicks: start, Comm: comm, State: state,
			PGID: pid, SID: pid, NumThreads: 1, ExitCode: -1,
		},
	}
}

func snap(at time.Duration, ps ...collector.Process) *collector.Snapshot {
	return &collector.Snapshot{TakenAt: t0.Add(at), Monotonic: at + time.Hour, Processes: ps}
}

func types(evs []Event) string {
	var b []string
	for _, e := range evs {
		s := string(e.Type) + ":" + strconv.Itoa(e.ID.PID)
		if e.TID != 0 {
			s += "/" + strconv.Itoa(e.TID)
		}
		b = append(b, s)
	}
	return strings.Join(b, " ")
}

func TestDiffPidReuseIsExitAndSpawn(t *testing.T) {
	prev := snap(0, proc(1, 0, 1, "init", 'S'), proc(100, 1, 500, "old", 'S'))
	cur := snap(time.Second, proc(1, 0, 1, "init", 'S'), proc(100, 1, 900, "new", 'S'))
	evs := Diff(prev, cur)
	if got, want := types(evs), "exit:100 spawn:100"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	if evs[0].ID.StartTicks != 500 || evs[1].ID.StartTicks != 900 || evs[1].Comm != "new" {
		t.Errorf("identities: %+v", evs)
	}
	for _, e := range evs {
		if !e.Time.Equal(cur.TakenAt) || e.Source != SourcePoll {
			t.Errorf("event %v: time %v source %q", e.Type, e.Time, e.Source)
		}
	}
}

func TestDiffLifecycle(t *testing.T) {
	parent := proc(10, 1, 5, "sh", 'S')
	child := proc(20, 10, 50, "sh", 'R')
	child.Exe = "/bin/sh"
	child.Read |= collector.SrcExe
	worker := proc(30, 20, 60, "w", 'S')
	prev := snap(0, proc(1, 0, 1, "init", 'S'), parent, child, worker)

	child2 := child
	child2.Comm, child2.Exe = "sleep", "/usr/bin/sleep"
	child2.Read |= collector.SrcExe
	child2.State = 'S'
	worker2 := worker
	worker2.PPID = 1 // its parent 20 ... is still there: reparent anyway
	z := proc(40, 10, 70, "dead", 'Z')
	z.ExitCode = 3 << 8
	cur := snap(2*time.Second, proc(1, 0, 1, "init", 'S'), child2, worker2, z)
	cur.Processes[1].PPID = 1

	evs := Diff(prev, cur)
	if got, want := types(evs), "exit:10 exec:20 reparent:20 state:20 reparent:30 spawn:40 zombie:40"; got != want {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
	ex := evs[1]
	if ex.OldComm != "sh" || ex.Comm != "sleep" || ex.Exe != "/usr/bin/sleep" || ex.OldExe != "/bin/sh" {
		t.Errorf("exec event %+v", ex)
	}
	rp := evs[2]
	if rp.OldPPID != 10 || rp.PPID != 1 || rp.AdopterKind != AdopterInit {
		t.Errorf("reparent event %+v", rp)
	}
	if st := evs[3]; st.OldState != 'R' || st.State != 'S' {
		t.Errorf("state event %+v", st)
	}
	zev := evs[6]
	if zev.ExitStatus == nil || !zev.ExitStatus.Exited || zev.ExitStatus.Code != 3 {
		t.Errorf("zombie exit status %+v", zev.ExitStatus)
	}

	// The zombie is reaped: a reaped event with its status.
	cur2 := snap(3*time.Second, proc(1, 0, 1, "init", 'S'), child2, worker2)
	cur2.Processes[1].PPID = 1
	evs = Diff(cur, cur2)
	if got := types(evs); got != "reaped:40" {
		t.Fatalf("events %q, want reaped:40", got)
	}
	if evs[0].ExitStatus == nil || evs[0].ExitStatus.Code != 3 {
		t.Errorf("reaped status %+v", evs[0].ExitStatus)
	}
}

func TestDiffKernelThreadRenameIsNotExec(t *testing.T) {
	k := proc(9, 2, 3, "kworker/0:0-events", 'I')
	k2 := k
	k2.Comm = "kworker/0:0-mm_percpu_wq"
	if evs := Diff(snap(0, k), snap(time.Second, k2)); len(evs) != 0 {
		t.Errorf("kernel thread rename: %+v", evs)
	}
}

func TestDiffLeaderExitedIsNotZombie(t *testing.T) {
	p := proc(50, 1, 5, "app", 'S')
	p.NumThreads = 3
	q := p
	q.State = 'Z' // the leader thread exited; two threads run on
	evs := Diff(snap(0, p), snap(time.Second, q))
	if got := types(evs); got != "state:50" {
		t.Fatalf("events %q, want a state change only", got)
	}
	if g := DiagnoseZombies(snap(0, q), nil, nil); len(g) != 0 {
		t.Errorf("a process whose leader exited is not a zombie: %+v", g)
	}
}

func TestDiffThreads(t *testing.T) {
	p := proc(60, 1, 5, "app", 'S')
	p.Read |= collector.SrcTasks
	p.Threads = []collector.Thread{{TID: 60, StartTicks: 5}, {TID: 61, StartTicks: 6}, {TID: 62, StartTicks: 7}}
	q := p
	q.Threads = []collector.Thread{{TID: 60, StartTicks: 5}, {TID: 62, StartTicks: 9}, {TID: 63, StartTicks: 9}}
	a, b := snap(0, p), snap(time.Second, q)
	a.ThreadsRead, b.ThreadsRead = true, true
	if got, want := types(Diff(a, b)), "thread_exit:60/61 thread_exit:60/62 thread_start:60/62 thread_start:60/63"; got != want {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
	if Diff(nil, b) != nil {
		t.Error("Diff with no previous snapshot must be empty")
	}
}

func TestRates(t *testing.T) {
	p := proc(70, 1, 5, "spin", 'R')
	p.UTimeTicks, p.VolCtx, p.InvolCtx = 100, 10, 5
	p.Read |= collector.SrcTasks
	p.Threads = []collector.Thread{{TID: 70, StartTicks: 5, UTimeTicks: 100, HasStatus: true, VolCtx: 10, InvolCtx: 5}}
	q := p
	q.UTimeTicks, q.STimeTicks, q.VolCtx, q.InvolCtx = 250, 50, 30, 45
	q.Threads = []collector.Thread{{TID: 70, StartTicks: 5, UTimeTicks: 250, STimeTicks: 50, HasStatus: true, VolCtx: 30, InvolCtx: 45}}
	a, b := snap(0, p), snap(2*time.Second, q)
	a.ThreadsRead, b.ThreadsRead = true, true
	a.Host = collector.Host{ContextSwitches: 1000, ProcessesCreated: 10, CPUTicks: 1000, CPUIdleTicks: 800}
	b.Host = collector.Host{ContextSwitches: 3000, ProcessesCreated: 14, CPUTicks: 1400, CPUIdleTicks: 1100}
	r := ComputeRates(a, b)
	if r == nil || r.Seconds != 2 {
		t.Fatalf("rates %+v", r)
	}
	want := ProcRate{CPUPercent: 100, VolPerSec: 10, InvolPerSec: 20}
	if got, ok := r.Process(q.ID()); !ok || got != want {
		t.Errorf("process rate %+v %v, want %+v", got, ok, want)
	}
	if got, ok := r.Thread(70, 70); !ok || got != want {
		t.Errorf("thread rate %+v %v, want %+v", got, ok, want)
	}
	if got := r.System; got.CtxPerSec != 1000 || got.ForksPerSec != 2 || got.CPUPercent != 25 {
		t.Errorf("system rate %+v", got)
	}
	if _, ok := r.Process(collector.ID{PID: 70, StartTicks: 6}); ok {
		t.Error("a different identity must have no rate")
	}
	var nilRates *Rates
	if _, ok := nilRates.Process(q.ID()); ok {
		t.Error("nil rates have no process")
	}
	if ComputeRates(b, b) != nil {
		t.Error("no elapsed time must give nil rates")
	}
}

// A process whose main thread exited (Z with workers running) is not a
// zombie: when it disappears it exited (no status from the leader's stat),
// and when its last worker exits it becomes a zombie although the letter
// stays Z.
func TestDiffLeaderExited(t *testing.T) {
	le := proc(40, 1, 70, "le", 'Z')
	le.NumThreads, le.ExitCode = 2, 0
	z := le
	z.NumThreads, z.ExitCode = 1, 7<<8
	evs := Diff(snap(0, le), snap(time.Second, z))
	if got, want := types(evs), "zombie:40"; got != want {
		t.Fatalf("leader exited then last thread exited: events %q, want %q", got, want)
	}
	if es := evs[0].ExitStatus; es == nil || !es.Exited || es.Code != 7 {
		t.Errorf("zombie exit status %+v, want code 7", es)
	}
	evs = Diff(snap(0, le), snap(time.Second))
	if got, want := types(evs), "exit:40"; got != want {
		t.Fatalf("leader-exited process gone: events %q, want %q", got, want)
	}
	if evs[0].ExitStatus != nil {
		t.Errorf("exit status %+v from the leader's stat, want none", evs[0].ExitStatus)
	}
}

// TestRatesThreadsComeAndGo: a live-thread sum drops when a thread exits;
// the process rate is the matched threads' increases plus the counts of
// threads born since, not 0. A tid reused by a thread born in between
// counts as new; a thread born before the first snapshot but missing from
// it does not count whole.
func TestRatesThreadsComeAndGo(t *testing.T) {
	th := func(tid int, start, vol, invol uint64) collector.Thread {
		return collector.Thread{TID: tid, StartTicks: start, HasStatus: true, VolCtx: vol, InvolCtx: invol}
	}
	p := proc(80, 1, 5, "pool", 'S')
	p.Read |= collector.SrcTasks
	p.CtxSource = collector.CtxThreadSum
	p.Threads = []collector.Thread{th(80, 5, 100, 10), th(81, 6, 500, 50), th(82, 7, 40, 4)}
	p.VolCtx, p.InvolCtx = 640, 64
	q := p
	// 80 +10/+2; 81 exited; 82 reused by a thread born after the first
	// snapshot (uptime 10 s = 1000 ticks); 83 born after; 84 started
	// before the first snapshot (missed by it): only its later switches
	// are unknown, so it adds nothing.
	q.Threads = []collector.Thread{th(80, 5, 110, 12), th(82, 1050, 6, 1), th(83, 1100, 4, 3), th(84, 900, 70, 7)}
	q.VolCtx, q.InvolCtx = 190, 23
	a, b := snap(0, p), snap(2*time.Second, q)
	a.ThreadsRead, b.ThreadsRead = true, true
	a.Host.UptimeSeconds, b.Host.UptimeSeconds = 10, 12
	r := ComputeRates(a, b)
	want := ProcRate{VolPerSec: 10, InvolPerSec: 3} // (10+6+4)/2, (2+1+3)/2
	if got, ok := r.Process(q.ID()); !ok || got != want {
		t.Errorf("process rate %+v %v, want %+v", got, ok, want)
	}
	// Without thread rows the totals' delta is used, and a drop is 0.
	a.ThreadsRead, b.ThreadsRead = false, false
	if got, _ := ComputeRates(a, b).Process(q.ID()); got.VolPerSec != 0 || got.InvolPerSec != 0 {
		t.Errorf("dropping totals: rate %+v, want 0", got)
	}
}

// A comm change with the same exe (prctl(PR_SET_NAME)), or with the exe
// unknown, is a rename, not an exec.
func TestDiffRenameIsNotExec(t *testing.T) {
	p := proc(60, 1, 5, "app", 'S')
	p.Exe = "/usr/bin/app"
	p.Read |= collector.SrcExe
	q := p
	q.Comm = "app-worker"
	evs := Diff(snap(0, p), snap(time.Second, q))
	if got := types(evs); got != "rename:60" {
		t.Fatalf("same exe, new comm: events %q, want rename:60", got)
	}
	if evs[0].OldComm != "app" || evs[0].Comm != "app-worker" || evs[0].Exe != "" {
		t.Errorf("rename event %+v", evs[0])
	}
	q.Read &^= collector.SrcExe
	if got := types(Diff(snap(0, p), snap(time.Second, q))); got != "rename:60" {
		t.Errorf("exe unknown, new comm: events %q, want rename:60", got)
	}
}

// TestRatesExactTotals: totals that keep the switches of exited threads
// (taskstats' TGID totals, the task iterator's signal-struct sums) give
// the process rate by their own delta, even when every thread was read:
// a thread that exited between the scans took switches the per-thread
// increases cannot see.
func TestRatesExactTotals(t *testing.T) {
	th := func(tid int, start, vol, invol uint64) collector.Thread {
		return collector.Thread{TID: tid, StartTicks: start, HasStatus: true, VolCtx: vol, InvolCtx: invol}
	}
	for _, src := range []collector.CtxSource{collector.CtxTaskstats, collector.CtxTaskIter} {
		p := proc(90, 1, 5, "pool", 'S')
		p.Read |= collector.SrcTasks
		p.CtxSource = src
		p.Threads = []collector.Thread{th(90, 5, 100, 10), th(91, 6, 500, 50)}
		p.VolCtx, p.InvolCtx = 600, 60
		q := p
		// 91 ran 100 more voluntary and 10 more involuntary switches, then
		// exited; the totals keep them.
		q.Threads = []collector.Thread{th(90, 5, 110, 12)}
		q.VolCtx, q.InvolCtx = 710, 72
		a, b := snap(0, p), snap(2*time.Second, q)
		a.ThreadsRead, b.ThreadsRead = true, true
		want := ProcRate{VolPerSec: 55, InvolPerSec: 6} // (10+100)/2, (2+10)/2
		if got, ok := ComputeRates(a, b).Process(q.ID()); !ok || got != want {
			t.Errorf("%s: process rate %+v %v, want %+v", src, got, ok, want)
		}
	}
}

// TestCPURates: the per-CPU shares between two readings of /proc/stat's
// cpu lines, matched by CPU number (an offline CPU is left out).
func TestCPURates(t *testing.T) {
	h0 := collector.Host{
		CPUTotal: collector.CPUTimes{CPU: -1, User: 100, System: 100, Idle: 800},
		PerCPU:   []collector.CPUTimes{{CPU: 0, User: 50, System: 50, Idle: 400}, {CPU: 1, User: 50, System: 50, Idle: 400}},
	}
	h1 := collector.Host{
		CPUTotal: collector.CPUTimes{CPU: -1, User: 200, System: 150, Idle: 850},
		PerCPU:   []collector.CPUTimes{{CPU: 0, User: 140, System: 60, Idle: 400}, {CPU: 2, User: 1, Idle: 1}},
	}
	h0.CPUTicks, h1.CPUTicks = h0.CPUTotal.Total(), h1.CPUTotal.Total()
	h0.CPUIdleTicks, h1.CPUIdleTicks = h0.CPUTotal.IdleTotal(), h1.CPUTotal.IdleTotal()
	s := systemRate(&h0, &h1, 1)
	if s.Total.CPU != -1 || s.Total.User != 50 || s.Total.System != 25 || s.Total.Busy != 75 || s.CPUPercent != 75 {
		t.Errorf("total: %+v (busy %v)", s.Total, s.CPUPercent)
	}
	if len(s.CPUs) != 1 || s.CPUs[0].CPU != 0 || s.CPUs[0].User != 90 || s.CPUs[0].System != 10 || s.CPUs[0].Busy != 100 {
		t.Errorf("per CPU: %+v", s.CPUs)
	}
}

// TestZombieParentLeaderExited: a zombie whose parent's main thread has
// exited (its other threads run) names the parent leader-exited, not a
// zombie: the parent's stat says Z, and a reader of "state Z zombie"
// would take a live parent for a dead one (tester9).
func TestZombieParentLeaderExited(t *testing.T) {
	par := proc(80, 1, 5, "pool", 'Z')
	par.NumThreads = 4
	z := proc(81, 80, 6, "job", 'Z')
	gs := DiagnoseZombies(snap(0, par, z), nil, nil)
	if len(gs) != 1 || gs[0].Parent.PID != 80 {
		t.Fatalf("groups %+v, want one under 80", gs)
	}
	if !gs[0].ParentLeaderExited || gs[0].ParentState != 'Z' {
		t.Errorf("parent: leader exited %v, state %c; want leader exited, the kernel's Z", gs[0].ParentLeaderExited, gs[0].ParentState)
	}
	par.State, par.NumThreads = 'S', 1
	if gs := DiagnoseZombies(snap(0, par, z), nil, nil); len(gs) != 1 || gs[0].ParentLeaderExited {
		t.Errorf("a sleeping parent: %+v, want not leader-exited", gs)
	}
}

// TestLeaderExitedNamedOnce: a leader-exited process's state is named by
// one letter and one name wherever it is shown (StateLetterName, and a
// zombie group's ParentStateLetterName for such a parent): the recorded
// process of fixtures/proc/leader-exited (the kernel's Z, 2 threads).
func TestLeaderExitedNamedOnce(t *testing.T) {
	r, err := collector.NewReader(collector.Options{Root: "../../fixtures/proc/leader-exited"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snap, err := r.Scan(context.Background(), collector.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := Find(snap, 14203)
	if p == nil || p.State != 'Z' || !LeaderExited(p) {
		t.Fatalf("fixture process %+v, want the kernel's Z on a leader-exited process", p)
	}
	if l, n := StateLetterName(p); l != 'L' || n != "leader-exited" {
		t.Errorf("StateLetterName %c %q, want L leader-exited", l, n)
	}
	var g ZombieGroup
	g.describeParent(p, "")
	if l, n := g.ParentStateLetterName(); l != 'L' || n != "leader-exited" || g.ParentState != 'Z' {
		t.Errorf("ParentStateLetterName %c %q (state %c), want L leader-exited beside the kernel's Z", l, n, g.ParentState)
	}
	p.NumThreads = 1 // as if it were a zombie: the kernel's letter and name
	if l, n := StateLetterName(p); l != 'Z' || n != collector.StateName('Z') {
		t.Errorf("a zombie: %c %q", l, n)
	}
}
