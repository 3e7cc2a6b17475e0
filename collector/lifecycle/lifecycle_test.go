package lifecycle

import (
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
		PID: pid, PPID: ppid, StartTicks: start, Comm: comm, State: state,
		PGID: pid, SID: pid, NumThreads: 1, ExitCode: -1,
		Read: collector.SrcStat | collector.SrcStatus,
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
	if ex.OldComm != "sh" || ex.Comm != "sleep" || ex.Exe != "/usr/bin/sleep" {
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
	if got := r.System; got != (SystemRate{CtxPerSec: 1000, ForksPerSec: 2, CPUPercent: 25}) {
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
