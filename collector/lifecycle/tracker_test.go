package lifecycle

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// kspawn is a kernel spawn of p, at snapshot time at (plus a little),
// with its start ticks read or not.
func kspawn(p collector.Process, at time.Duration, read bool) KernelEvent {
	return KernelEvent{Event: Event{Type: Spawn, Time: t0.Add(at), ID: p.ID(), Comm: p.Comm, PPID: p.PPID, Source: SourceConnector}, StartRead: read}
}

func kexit(p collector.Process, at time.Duration, code int) KernelEvent {
	es := collector.DecodeWaitStatus(int64(code << 8))
	return KernelEvent{Event: Event{Type: Exit, Time: t0.Add(at), ID: p.ID(), Comm: p.Comm, PPID: p.PPID, Source: SourceConnector, ExitStatus: &es}}
}

func sources(evs []Event) string {
	var b []string
	for _, e := range evs {
		b = append(b, string(e.Type)+"/"+e.Source)
	}
	return strings.Join(b, " ")
}

// TestTrackerKernelEventsAreNotRepeated: a spawn and an exit the kernel
// reported are not reported again by the poll in the window; the kernel's
// comes first, with its exit status.
func TestTrackerKernelEventsAreNotRepeated(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	child := proc(500, 1, 900, "job", 'R')
	tr := NewTracker(0)
	s0 := snap(0, init1)
	tr.Observe(nil, s0, Kernel{})
	s1 := snap(time.Second, init1, child)
	st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kspawn(child, 500*time.Millisecond, true)}})
	if got, want := sources(st.Events), "spawn/connector"; got != want {
		t.Fatalf("step 1: %q, want %q", got, want)
	}
	s2 := snap(2*time.Second, init1)
	st = tr.Observe(s1, s2, Kernel{Events: []KernelEvent{kexit(child, 1500*time.Millisecond, 3)}})
	if got, want := sources(st.Events), "exit/connector"; got != want {
		t.Fatalf("step 2: %q, want %q", got, want)
	}
	if e := st.Events[0]; e.ExitStatus == nil || e.ExitStatus.Code != 3 || !e.Time.Equal(t0.Add(1500*time.Millisecond)) {
		t.Errorf("exit %+v", e)
	}
}

// TestTrackerPollFirstThenKernel: a spawn the poll reported first (the
// kernel's conversion fell behind) is not repeated when the kernel's
// arrives in the window; after the window it is (a pid reused much later).
func TestTrackerPollFirstThenKernel(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	child := proc(600, 1, 900, "late", 'S')
	tr := NewTracker(0)
	s0 := snap(0, init1)
	tr.Observe(nil, s0, Kernel{})
	s1 := snap(time.Second, init1, child)
	if got := sources(tr.Observe(s0, s1, Kernel{}).Events); got != "spawn/poll" {
		t.Fatalf("step 1: %q", got)
	}
	st := tr.Observe(s1, s1, Kernel{Events: []KernelEvent{kspawn(child, 900*time.Millisecond, true)}})
	if len(st.Events) != 0 {
		t.Fatalf("the late kernel spawn was repeated: %q", sources(st.Events))
	}
	for i := 0; i < DedupWindow; i++ {
		tr.Observe(s1, s1, Kernel{})
	}
	st = tr.Observe(s1, s1, Kernel{Events: []KernelEvent{kspawn(child, 900*time.Millisecond, true)}})
	if got := sources(st.Events); got != "spawn/connector" {
		t.Errorf("after the window: %q, want the kernel's spawn", got)
	}
}

// TestTrackerPollExitFirstThenKernel: an exit the poll reported first
// (the kernel's was converted, or held, past the scan that found the
// process gone) is not repeated when the kernel's arrives in the window
// after it: serve counted the process's exit twice (once with an
// unknown outcome) and the event times went backwards. While a kernel
// source is live the poll's exit waits a step (TestTrackerHoldsPollExit);
// here the kernel's comes two steps late, after the poll's went out. The
// exit of a later process given the pid (another start time) is kept,
// and so is one after the window, and one whose status says the process
// failed (a crash lost its signal: review of names7). Without a kernel
// source, the poll's exit goes out at once.
func TestTrackerPollExitFirstThenKernel(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	child := proc(610, 1, 900, "brief", 'S')
	later := proc(610, 1, 990, "next", 'S')
	other := proc(620, 1, 50, "other", 'S')
	s0 := snap(0, init1, child)
	s1 := snap(time.Second, init1)
	// live starts a tracker whose kernel source has delivered an event,
	// and takes it past the step that finds the child gone (held) and
	// the one that lets the poll's exit out.
	live := func() *Tracker {
		t.Helper()
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{Events: []KernelEvent{kexit(other, -time.Second, 0)}})
		if got := sources(tr.Observe(s0, s1, Kernel{}).Events); got != "" {
			t.Fatalf("the step that found the child gone: %q, want its exit held", got)
		}
		if got := sources(tr.Observe(s1, s1, Kernel{}).Events); got != "exit/poll" {
			t.Fatalf("the step after: %q, want the poll's exit", got)
		}
		return tr
	}
	tr := live()
	st := tr.Observe(s1, s1, Kernel{Events: []KernelEvent{kexit(child, 900*time.Millisecond, 0)}})
	if len(st.Events) != 0 {
		t.Fatalf("the late kernel exit was repeated: %q", sources(st.Events))
	}
	// A crash the poll reported first, without its status: the kernel's
	// exit, with the signal and the core dump, is kept (it was dropped as
	// a repeat, and the crash lost its signal); a failing code too.
	for _, ws := range []int64{11 | 0x80, 3 << 8} {
		tr = live()
		k := kexit(child, 900*time.Millisecond, 0)
		es := collector.DecodeWaitStatus(ws)
		k.ExitStatus = &es
		st = tr.Observe(s1, s1, Kernel{Events: []KernelEvent{k}})
		if len(st.Events) != 1 || st.Events[0].ExitStatus == nil || *st.Events[0].ExitStatus != es {
			t.Errorf("a failed exit (%+v) the poll reported first: %q, want the kernel's exit with its status", es, sources(st.Events))
		}
	}
	tr = live()
	st = tr.Observe(s1, s1, Kernel{Events: []KernelEvent{kexit(later, 1500*time.Millisecond, 0)}})
	if got := sources(st.Events); got != "exit/connector" {
		t.Errorf("a later process's exit under the pid: %q, want the kernel's exit", got)
	}
	tr = live()
	for i := 1; i < DedupWindow; i++ {
		tr.Observe(s1, s1, Kernel{})
	}
	st = tr.Observe(s1, s1, Kernel{Events: []KernelEvent{kexit(child, 900*time.Millisecond, 0)}})
	if got := sources(st.Events); got != "exit/connector" {
		t.Errorf("after the window: %q, want the kernel's exit", got)
	}
	// No kernel source: nothing to wait for.
	tr = NewTracker(0)
	tr.Observe(nil, s0, Kernel{})
	if got := sources(tr.Observe(s0, s1, Kernel{}).Events); got != "exit/poll" {
		t.Errorf("without a kernel source, the step that found the child gone: %q, want the poll's exit", got)
	}
}

// TestTrackerHoldsPollExit: while a kernel source is live, an exit the
// poll found first (the process gone, no status) waits one step, and
// the kernel's exit arriving in that step replaces it: one exit, with
// the kernel's status (a crash was reported twice, the poll's without
// its signal, then the kernel's). The kernel's exit of a later process
// given the pid does not replace it: both go out, by time; a held exit
// no kernel exit replaced goes out a step late, dated as the poll dated
// it; and a zombie the poll read, with its status, is not held.
func TestTrackerHoldsPollExit(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	child := proc(610, 1, 900, "brief", 'S')
	later := proc(610, 1, 990, "next", 'S')
	other := proc(620, 1, 50, "other", 'S')
	s0 := snap(0, init1, child)
	s1 := snap(time.Second, init1)
	s2 := snap(2*time.Second, init1)
	start := func() *Tracker {
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{Events: []KernelEvent{kexit(other, -time.Second, 0)}})
		if got := sources(tr.Observe(s0, s1, Kernel{}).Events); got != "" {
			t.Fatalf("the step that found the child gone: %q, want its exit held", got)
		}
		return tr
	}
	for _, ws := range []int64{0, 11 | 0x80, 3 << 8} {
		tr := start()
		k := kexit(child, 900*time.Millisecond, 0)
		es := collector.DecodeWaitStatus(ws)
		k.ExitStatus = &es
		st := tr.Observe(s1, s2, Kernel{Events: []KernelEvent{k}})
		if len(st.Events) != 1 || st.Events[0].Source != SourceConnector || st.Events[0].ExitStatus == nil || *st.Events[0].ExitStatus != es {
			t.Errorf("the kernel's exit (%+v) a step after the poll found the process gone: %q, want the kernel's alone, with its status", es, sources(st.Events))
		}
		if st = tr.Observe(s2, s2, Kernel{}); len(st.Events) != 0 {
			t.Errorf("the step after the kernel's exit (%+v): %q, want none", es, sources(st.Events))
		}
	}
	// The connector's exit of a process it never named: no name, start
	// or parent. It replaces the held exit and keeps what the held one
	// knew from the scans (review of polish6: 7-14 % of exits lost their
	// names).
	tr := start()
	bare := kexit(child, 900*time.Millisecond, 0)
	bare.Comm, bare.ID.StartTicks, bare.PPID = "", 0, 0
	st := tr.Observe(s1, s2, Kernel{Events: []KernelEvent{bare}})
	if len(st.Events) != 1 || st.Events[0].Source != SourceConnector || st.Events[0].Comm != "brief" || st.Events[0].ID != child.ID() ||
		st.Events[0].PPID != 1 || st.Events[0].Note != "" || st.Events[0].OldState != 'S' {
		t.Errorf("a bare kernel exit replacing the held one: %+v, want one connector exit named brief, start 900, parent 1, state S, no note", st.Events)
	}
	// One whose name after an exec is unknown keeps no name and its
	// note: the held exit's name may be from before the exec (review).
	tr = start()
	bare.Note = NoteExitNameUnknown
	st = tr.Observe(s1, s2, Kernel{Events: []KernelEvent{bare}})
	if len(st.Events) != 1 || st.Events[0].Comm != "" || st.Events[0].Note != NoteExitNameUnknown || st.Events[0].ID != child.ID() {
		t.Errorf("a kernel exit whose name after its exec is unknown, replacing the held one: %+v, want it unnamed with its note", st.Events)
	}
	tr = start()
	st = tr.Observe(s1, s2, Kernel{Events: []KernelEvent{kexit(later, 1500*time.Millisecond, 0)}})
	if got := sources(st.Events); got != "exit/poll exit/connector" || !st.Events[0].Time.Equal(s1.TakenAt) || st.Events[0].ID != child.ID() {
		t.Errorf("a later process's exit under the pid: %q (%+v), want the poll's exit of the first, at the scan that found it gone, then the kernel's", got, st.Events)
	}
	tr = start()
	st = tr.Observe(s1, s2, Kernel{})
	if got := sources(st.Events); got != "exit/poll" || !st.Events[0].Time.Equal(s1.TakenAt) || st.Events[0].ExitStatus != nil {
		t.Errorf("no kernel exit in the step after: %q (%+v), want the poll's exit, dated at the scan that found it gone", got, st.Events)
	}
	// A zombie read with its status, then reaped: the reaped event, with
	// the status, goes out at once.
	zombie := proc(610, 1, 900, "brief", 'Z')
	zombie.ExitCode = 0
	tr = NewTracker(0)
	z0 := snap(0, init1, zombie)
	tr.Observe(nil, z0, Kernel{Events: []KernelEvent{kexit(other, -time.Second, 0)}})
	if st := tr.Observe(z0, s1, Kernel{}); types(st.Events) != "reaped:610" || st.Events[0].ExitStatus == nil {
		t.Errorf("a zombie reaped: %q, want its reaped event with its status at once", types(st.Events))
	}
}

// TestTrackerDedupWindow: the poll's report of an event the kernel
// reported DedupWindow steps earlier is dropped; one step later it is not.
func TestTrackerDedupWindow(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	child := proc(700, 1, 900, "c", 'S')
	for _, late := range []int{DedupWindow, DedupWindow + 1} {
		tr := NewTracker(0)
		s0 := snap(0, init1)
		tr.Observe(nil, s0, Kernel{})
		tr.Observe(s0, s0, Kernel{Events: []KernelEvent{kspawn(child, 0, true)}})
		for i := 1; i < late; i++ {
			tr.Observe(s0, s0, Kernel{})
		}
		got := sources(tr.Observe(s0, snap(time.Second, init1, child), Kernel{}).Events)
		if want := map[bool]string{true: "", false: "spawn/poll"}[late <= DedupWindow]; got != want {
			t.Errorf("poll spawn %d steps after the kernel's: %q, want %q", late, got, want)
		}
	}
}

// TestTrackerRenameMeetsKernelExec: the poll sees only a comm change when
// the exe could not be read; the kernel's exec already said it.
func TestTrackerRenameMeetsKernelExec(t *testing.T) {
	p := proc(800, 1, 5, "sh", 'S')
	q := p
	q.Comm = "sleep"
	tr := NewTracker(0)
	a, b := snap(0, p), snap(time.Second, q)
	tr.Observe(nil, a, Kernel{})
	ex := KernelEvent{Event: Event{Type: Exec, Time: t0.Add(time.Millisecond), ID: q.ID(), Comm: "sleep", OldComm: "sh", Exe: "/usr/bin/sleep", Source: SourceConnector}}
	if got := sources(tr.Observe(a, b, Kernel{Events: []KernelEvent{ex}}).Events); got != "exec/connector" {
		t.Errorf("events %q, want the kernel's exec only", got)
	}
}

// TestTrackerRenameAfterKernelExec: a process renames itself
// (prctl(PR_SET_NAME)) a scan after its exec, inside the dedup window of
// the kernel's exec. The poll's rename starts from the name the exec
// gave: it is another event, not the exec seen again, and is kept, as is
// a second rename. A rename whose old name is the one before the exec is
// the exec (TestTrackerRenameMeetsKernelExec).
func TestTrackerRenameAfterKernelExec(t *testing.T) {
	p := proc(801, 1, 5, "bash", 'S')
	q := p
	q.Comm = "python3"
	r := q
	r.Comm = "renamedX"
	tr := NewTracker(0)
	a, b, c := snap(0, p), snap(time.Second, q), snap(2*time.Second, r)
	tr.Observe(nil, a, Kernel{})
	ex := KernelEvent{Event: Event{Type: Exec, Time: t0.Add(time.Millisecond), ID: q.ID(), Comm: "python3", OldComm: "bash", Exe: "/usr/bin/python3", Source: SourceConnector}}
	if got := types(tr.Observe(a, b, Kernel{Events: []KernelEvent{ex}}).Events); got != "exec:801" {
		t.Fatalf("events %q, want the kernel's exec", got)
	}
	st := tr.Observe(b, c, Kernel{})
	if got := types(st.Events); got != "rename:801" {
		t.Fatalf("events %q, want the rename after the exec", got)
	}
	if e := st.Events[0]; e.OldComm != "python3" || e.Comm != "renamedX" {
		t.Errorf("rename %q -> %q, want python3 -> renamedX", e.OldComm, e.Comm)
	}
	s := r
	s.Comm = "renamedY"
	if got := types(tr.Observe(c, snap(3*time.Second, s), Kernel{}).Events); got != "rename:801" {
		t.Errorf("events %q, want the second rename too", got)
	}
}

// TestTrackerThreadEventsMeetByTID: thread events pair up by thread id.
func TestTrackerThreadEventsMeetByTID(t *testing.T) {
	p := proc(60, 1, 5, "app", 'S')
	p.Read |= collector.SrcTasks
	p.Threads = []collector.Thread{{TID: 60, StartTicks: 5}}
	q := p
	q.Threads = []collector.Thread{{TID: 60, StartTicks: 5}, {TID: 61, StartTicks: 6}, {TID: 62, StartTicks: 7}}
	a, b := snap(0, p), snap(time.Second, q)
	a.ThreadsRead, b.ThreadsRead = true, true
	tr := NewTracker(0)
	tr.Observe(nil, a, Kernel{})
	k := KernelEvent{Event: Event{Type: ThreadStart, Time: t0, ID: p.ID(), TID: 61, Source: SourceConnector}}
	st := tr.Observe(a, b, Kernel{Events: []KernelEvent{k}})
	if got, want := types(st.Events), "thread_start:60/61 thread_start:60/62"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
}

// TestTrackerFillsGoneProcesses: a kernel event whose process was gone
// before the source could look it up takes its comm, start time and
// parent from the snapshots.
func TestTrackerFillsGoneProcesses(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	p := proc(900, 1, 77, "brief", 'S')
	tr := NewTracker(0)
	s0 := snap(0, init1, p)
	tr.Observe(nil, s0, Kernel{})
	bare := KernelEvent{Event: Event{Type: Exit, Time: t0.Add(time.Millisecond), ID: collector.ID{PID: 900}, Source: SourceConnector}}
	st := tr.Observe(s0, snap(time.Second, init1), Kernel{Events: []KernelEvent{bare}})
	if len(st.Events) != 1 {
		t.Fatalf("events %q", sources(st.Events))
	}
	if e := st.Events[0]; e.Comm != "brief" || e.ID.StartTicks != 77 || e.PPID != 1 {
		t.Errorf("exit not filled from the snapshot: %+v", e)
	}
	// A start time that disagrees is another process: nothing is taken.
	other := bare
	other.ID.StartTicks = 5
	st = tr.Observe(s0, s0, Kernel{Events: []KernelEvent{other}})
	if e := st.Events[0]; e.Comm != "" || e.ID.StartTicks != 5 {
		t.Errorf("filled from another process with the pid: %+v", e)
	}
}

// TestTrackerExecNameNotFromSnapshot: an exec whose name the kernel
// source could not read keeps it unknown, though a snapshot shows the
// pid with the same start time: the snapshot may have read the process
// before it exec'd ("brief" is its old name). So does an exit the source
// marked as unnamed after its exec; an exit without the mark is named
// from the snapshot as before.
func TestTrackerExecNameNotFromSnapshot(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	p := proc(900, 1, 77, "brief", 'S')
	tr := NewTracker(0)
	s0 := snap(0, init1, p)
	tr.Observe(nil, s0, Kernel{})
	ex := KernelEvent{Event: Event{Type: Exec, Time: t0.Add(time.Millisecond), ID: collector.ID{PID: 900, StartTicks: 77},
		OldComm: "brief", Source: SourceConnector, Note: NoteExecNameGone}}
	end := kexit(p, 2*time.Millisecond, 3)
	end.Comm, end.Note = "", NoteExitNameUnknown
	st := tr.Observe(s0, snap(time.Second, init1), Kernel{Events: []KernelEvent{ex, end}})
	if len(st.Events) != 2 {
		t.Fatalf("events %q", sources(st.Events))
	}
	for _, e := range st.Events {
		if e.Comm != "" {
			t.Errorf("%s named %q from a snapshot taken before the exec", e.Type, e.Comm)
		}
	}
}

// TestTrackerForkReparent: the kernel saw a fork by a parent that exited
// before the next scan; the scan shows the child under a subreaper. The
// poll never saw the first parent: only the fork reveals the adoption.
// It is reported once, tracked as an observed orphan, and forgotten when
// the child moves on.
func TestTrackerForkReparent(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	sr := proc(100, 1, 10, "subreaper", 'S')
	sr.SID, sr.PGID = 100, 100
	grand := proc(102, 100, 30, "grandchild", 'S')
	grand.SID, grand.PGID = 100, 101
	tr := NewTracker(0)
	s0 := snap(0, init1, sr)
	tr.Observe(nil, s0, Kernel{})
	fork := kspawn(proc(102, 101, 30, "grandchild", 'S'), 100*time.Millisecond, true)
	s1 := snap(time.Second, init1, sr, grand)
	st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{fork}})
	if got, want := types(st.Events), "spawn:102 reparent:102"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	rp := st.Events[1]
	if rp.OldPPID != 101 || rp.PPID != 100 || rp.AdopterKind != AdopterSubreaper || rp.Source != SourceConnector || !rp.Time.Equal(s1.TakenAt) {
		t.Errorf("reparent %+v", rp)
	}
	if o := st.Orphans[0]; o.ID.PID != 102 || !o.Observed || o.OldPPID != 101 || o.AdopterKind != AdopterSubreaper || o.Daemon {
		t.Errorf("orphans %+v", st.Orphans)
	}
	// Next scans: not reported again; still an observed orphan.
	st = tr.Observe(s1, s1, Kernel{})
	if len(st.Events) != 0 || st.Orphans[0].ID.PID != 102 || !st.Orphans[0].Observed {
		t.Errorf("second step: events %q orphans %+v", types(st.Events), st.Orphans)
	}
	// The child is adopted again, by init: the observation is forgotten.
	g2 := grand
	g2.PPID = 1
	s3 := snap(3*time.Second, init1, sr, g2)
	st = tr.Observe(s1, s3, Kernel{})
	if got := types(st.Events); got != "reparent:102" {
		t.Errorf("events %q", got)
	}
	if _, kept := tr.reparents[grand.ID()]; !kept {
		t.Error("the poll's reparent must be tracked")
	}
	// Gone: nothing is kept.
	s4 := snap(4*time.Second, init1, sr)
	tr.Observe(s3, s4, Kernel{})
	if len(tr.reparents) != 0 {
		t.Errorf("reparents of a gone process kept: %+v", tr.reparents)
	}
	for i := 0; i < DedupWindow; i++ {
		tr.Observe(s4, s4, Kernel{})
	}
	if len(tr.forkParent) != 0 || len(tr.recent) != 0 {
		t.Errorf("fork parents or reports kept past the window: %+v %+v", tr.forkParent, tr.recent)
	}
}

// TestTrackerReparentBeforeExit (tester11 T3): a subreaper's child forks
// a grandchild and exits; the grandchild is adopted by the subreaper and
// exits too, all between two scans, and the scan shows it a zombie under
// the subreaper. Its reparent was dated at that scan, after its exit.
// It comes before the exit: at the old parent's exit when the kernel
// reported it, else at its own exit with a note; and not at all when an
// earlier step gave the exit out (that exit names the adopter).
func TestTrackerReparentBeforeExit(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	sr := proc(100, 1, 10, "subreaper", 'S')
	mid := proc(101, 100, 30, "mid", 'S')
	grand := proc(102, 101, 31, "grand", 'S')
	zombie := grand
	zombie.PPID, zombie.State, zombie.ExitCode = 100, 'Z', 5<<8
	s0 := snap(0, init1, sr)
	s1 := snap(time.Second, init1, sr, zombie)
	gexit := kexit(grand, 600*time.Millisecond, 5)
	gexit.PPID = 100
	t.Run("old parent's exit seen", func(t *testing.T) {
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{})
		st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kspawn(mid, 100*time.Millisecond, true),
			kspawn(grand, 150*time.Millisecond, true), kexit(mid, 200*time.Millisecond, 0), gexit}})
		if got, want := types(st.Events), "spawn:101 spawn:102 exit:101 reparent:102 exit:102 zombie:102"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		if rp := st.Events[3]; !rp.Time.Equal(t0.Add(200*time.Millisecond)) || rp.OldPPID != 101 || rp.PPID != 100 || rp.Note != "" {
			t.Errorf("reparent %+v, want at the old parent's exit, 101 -> 100", rp)
		}
	})
	t.Run("old parent's pid another's before", func(t *testing.T) {
		// review7 A-S2: the pid of the middle child was another
		// process's earlier in the step; its exit is not the old
		// parent's (matched by pid only, the reparent was dated at it,
		// before the grandchild's spawn).
		stale := proc(101, 1, 20, "stale", 'S')
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{})
		st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kspawn(stale, 20*time.Millisecond, true), kexit(stale, 50*time.Millisecond, 0),
			kspawn(mid, 100*time.Millisecond, true), kspawn(grand, 150*time.Millisecond, true), kexit(mid, 200*time.Millisecond, 0), gexit}})
		if got, want := types(st.Events), "spawn:101 exit:101 spawn:101 spawn:102 exit:101 reparent:102 exit:102 zombie:102"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		if rp := st.Events[5]; !rp.Time.Equal(t0.Add(200*time.Millisecond)) || rp.OldPPID != 101 || rp.Note != "" {
			t.Errorf("reparent %+v, want at the middle child's exit (200ms), not the earlier process's", rp)
		}
	})
	t.Run("old parent's pid another's before, its start unknown", func(t *testing.T) {
		// The earlier process's exit has no start time (its fork was
		// not seen and no scan read it): it was taken as the old
		// parent's, whose spawn came after it.
		stale := proc(101, 100, 0, "", 'S')
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{})
		st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kexit(stale, 50*time.Millisecond, 0),
			kspawn(mid, 100*time.Millisecond, true), kspawn(grand, 150*time.Millisecond, true), kexit(mid, 200*time.Millisecond, 0), gexit}})
		if got, want := types(st.Events), "exit:101 spawn:101 spawn:102 exit:101 reparent:102 exit:102 zombie:102"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		if rp := st.Events[4]; !rp.Time.Equal(t0.Add(200*time.Millisecond)) || rp.OldPPID != 101 || rp.Note != "" {
			t.Errorf("reparent %+v, want at the middle child's exit (200ms), not the one before its spawn", rp)
		}
	})
	t.Run("old parent's exit by pid alone", func(t *testing.T) {
		// Neither the old parent's spawn nor a scan of it: its exit
		// has no start time to compare. It is the first exit of its
		// pid after it forked the grandchild, and the reparent says
		// it was found by pid alone.
		anon := proc(101, 100, 0, "", 'S')
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{})
		st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kspawn(grand, 150*time.Millisecond, true), kexit(anon, 200*time.Millisecond, 0), gexit}})
		if got, want := types(st.Events), "spawn:102 exit:101 reparent:102 exit:102 zombie:102"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		if rp := st.Events[2]; !rp.Time.Equal(t0.Add(200*time.Millisecond)) || rp.Note != NoteOldParentByPID {
			t.Errorf("reparent %+v, want at the exit of pid 101 with the note %q", rp, NoteOldParentByPID)
		}
	})
	t.Run("old parent's pid another's after", func(t *testing.T) {
		// The scan before shows the middle child (start 30); its exit
		// was not reported, and a later process at its pid (start 40)
		// exits in the step: not the old parent's exit, whose start
		// the scan gave.
		other := proc(101, 100, 40, "other", 'S')
		s0 := snap(0, init1, sr, mid)
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{})
		st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kspawn(grand, 150*time.Millisecond, true), kexit(other, 300*time.Millisecond, 0), gexit}})
		for _, rp := range st.Events {
			if rp.Type == Reparent && rp.ID.PID == 102 && (!rp.Time.Equal(gexit.Time) || rp.Note != NoteAdoptedBeforeExit) {
				t.Errorf("reparent %+v, want at its own exit with %q (events %q)", rp, NoteAdoptedBeforeExit, types(st.Events))
			}
		}
	})
	t.Run("old parent's exit not seen", func(t *testing.T) {
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{})
		st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kspawn(grand, 150*time.Millisecond, true), gexit}})
		if got, want := types(st.Events), "spawn:102 reparent:102 exit:102 zombie:102"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		if rp := st.Events[1]; !rp.Time.Equal(gexit.Time) || rp.Note != NoteAdoptedBeforeExit {
			t.Errorf("reparent %+v, want at its exit with a note", rp)
		}
	})
	t.Run("exit given out before", func(t *testing.T) {
		// The exit is read after the scan that still shows the
		// grandchild under its parent at fork; the next shows it a
		// zombie under the subreaper.
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{})
		s1 := snap(time.Second, init1, sr, mid, grand)
		late := gexit
		late.Time = t0.Add(1100 * time.Millisecond)
		st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kspawn(grand, 150*time.Millisecond, true), late}})
		// The exit names the subreaper: the adoption is reported before
		// it (exitReparents), and not again when a scan shows it.
		if got, want := types(st.Events), "spawn:102 spawn:101 reparent:102 exit:102"; got != want {
			t.Fatalf("step 1: events %q, want %q", got, want)
		}
		s2 := snap(2*time.Second, init1, sr, zombie)
		st = tr.Observe(s1, s2, Kernel{})
		for _, e := range st.Events {
			if e.Type == Reparent {
				t.Errorf("step 2: %q: a reparent after the exit given out in step 1", types(st.Events))
			}
		}
		if _, kept := tr.reparents[zombie.ID()]; !kept {
			t.Error("the adoption must still be tracked")
		}
	})
	t.Run("reaped before a scan", func(t *testing.T) {
		// tester12 B1: the subreaper reaps the grandchild at once; no
		// scan shows it under the subreaper. Its exit names it.
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{})
		mexit := kexit(mid, 200*time.Millisecond, 0)
		st := tr.Observe(s0, snap(time.Second, init1, sr), Kernel{Events: []KernelEvent{kspawn(mid, 100*time.Millisecond, true),
			kspawn(grand, 150*time.Millisecond, true), mexit, gexit}})
		if got, want := types(st.Events), "spawn:101 spawn:102 exit:101 reparent:102 exit:102"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		if rp := st.Events[3]; !rp.Time.Equal(mexit.Time) || rp.OldPPID != 101 || rp.PPID != 100 || rp.AdopterKind != AdopterSubreaper || rp.Note != "" {
			t.Errorf("reparent %+v, want at the old parent's exit, 101 -> 100 (subreaper)", rp)
		}
	})
}

// TestTrackerZombieAdoptedAfterExit (review7 A-M1): a child that exits
// and stays a zombie under a parent that does not reap it, whose parent
// exits later, is adopted after its exit (the kernel re-parents zombies
// too): its exit names the old parent, and its reparent stays after the
// exit (and after the old parent's), in the same step and when the
// adoption is seen a step after the exit.
func TestTrackerZombieAdoptedAfterExit(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	sr := proc(100, 1, 10, "subreaper", 'S')
	mid := proc(101, 100, 30, "mid", 'S')
	grand := proc(102, 101, 31, "grand", 'S')
	zUnderMid := grand
	zUnderMid.State, zUnderMid.ExitCode = 'Z', 7<<8
	zUnderSR := zUnderMid
	zUnderSR.PPID = 100
	gexit := kexit(grand, 200*time.Millisecond, 7) // PPID 101: ended under its parent
	t.Run("same step", func(t *testing.T) {
		tr := NewTracker(0)
		s0 := snap(0, init1, sr, mid, grand)
		tr.Observe(nil, s0, Kernel{})
		s1 := snap(time.Second, init1, sr, zUnderSR)
		st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{gexit, kexit(mid, 600*time.Millisecond, 0)}})
		if got, want := types(st.Events), "exit:102 exit:101 reparent:102 zombie:102"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		if rp := st.Events[2]; rp.Note != "" || rp.OldPPID != 101 || rp.PPID != 100 {
			t.Errorf("reparent %+v", rp)
		}
	})
	t.Run("next step", func(t *testing.T) {
		tr := NewTracker(0)
		s0 := snap(0, init1, sr, mid, grand)
		tr.Observe(nil, s0, Kernel{})
		s1 := snap(time.Second, init1, sr, mid, zUnderMid)
		tr.Observe(s0, s1, Kernel{Events: []KernelEvent{gexit}})
		s2 := snap(2*time.Second, init1, sr, zUnderSR)
		st := tr.Observe(s1, s2, Kernel{Events: []KernelEvent{kexit(mid, 1500*time.Millisecond, 0)}})
		if got, want := types(st.Events), "exit:101 reparent:102"; got != want {
			t.Errorf("events %q, want %q", got, want)
		}
	})
}

// BenchmarkReparentsBeforeExits (review7 A-M2): a step with 10,000
// reparents and 10,000 exits (a parent of many children killed); it was
// quadratic (2.2 s a step), now one pass and one sort.
func BenchmarkReparentsBeforeExits(b *testing.B) {
	const n = 10000
	at := t0.Add(time.Second)
	cur := snap(2 * time.Second)
	evs := make([]Event, 0, 2*n)
	for i := range n {
		evs = append(evs, Event{Type: Exit, Time: at.Add(time.Duration(i)), ID: collector.ID{PID: 1000 + i, StartTicks: 5}, PPID: 1, Source: SourceConnector})
	}
	for i := range n {
		evs = append(evs, Event{Type: Reparent, Time: cur.TakenAt, ID: collector.ID{PID: 1000 + i, StartTicks: 5}, PPID: 1, OldPPID: 999, Source: SourceConnector})
	}
	tr := NewTracker(0)
	in := make([]Event, len(evs))
	b.ResetTimer()
	for range b.N {
		copy(in, evs)
		if out := tr.reparentsBeforeExits(in, nil, cur); len(out) != 2*n || out[0].Type != Reparent {
			b.Fatalf("%d events, first %s", len(out), out[0].Type)
		}
	}
}

// TestTrackerForkReparentAdopters: the adopter's kind comes from the one
// definition (init, a namespace's init, a subreaper; unknown when the new
// parent could not be read); an estimated start time never rules out.
func TestTrackerForkReparentAdopters(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	nsInit := proc(300, 1, 3, "tini", 'S')
	nsInit.NSPids = []int{300, 1}
	kids := []collector.Process{proc(301, 300, 40, "a", 'S'), proc(400, 1, 41, "b", 'S'), proc(500, 450, 42, "c", 'S')}
	kids[0].NSPids = []int{301, 7}
	s0 := snap(0, init1, nsInit)
	s1 := snap(time.Second, append([]collector.Process{init1, nsInit}, kids...)...)
	var k Kernel
	for _, c := range kids {
		f := c
		f.PPID = 999
		k.Events = append(k.Events, kspawn(f, 0, false))
	}
	k.Events[2].ID.StartTicks = 1 // an estimate that disagrees: not read, so not checked
	tr := NewTracker(0)
	tr.Observe(nil, s0, Kernel{})
	st := tr.Observe(s0, s1, k)
	got := map[int]string{}
	for _, e := range st.Events {
		if e.Type == Reparent {
			got[e.ID.PID] = e.AdopterKind
		}
	}
	want := map[int]string{301: AdopterPidnsInit, 400: AdopterInit, 500: ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("adopter kinds %v, want %v", got, want)
	}
}

// TestTrackerZombieFirstSeen: a zombie's first sighting is the kernel's
// exit time when one was seen for it (and is after its start), else the
// scan that first showed it; it is forgotten once reaped.
func TestTrackerZombieFirstSeen(t *testing.T) {
	par := proc(10, 1, 5, "parent", 'S')
	kid := proc(11, 10, 50, "kid", 'S')
	kid.StartedAt = t0.Add(-time.Hour)
	z := kid
	z.State, z.ExitCode = 'Z', 1<<8
	other := proc(12, 10, 60, "other", 'Z')
	tr := NewTracker(0)
	s0 := snap(0, par, kid)
	tr.Observe(nil, s0, Kernel{})
	s1 := snap(2*time.Second, par, z, other)
	st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kexit(kid, 1200*time.Millisecond, 1)}})
	if at := st.ZombieSince[z.ID()]; !at.Equal(t0.Add(1200 * time.Millisecond)) {
		t.Errorf("zombie first seen %v, want the kernel's exit time", at)
	}
	if at := st.ZombieSince[other.ID()]; !at.Equal(s1.TakenAt) {
		t.Errorf("zombie without a kernel exit first seen %v, want the scan's time", at)
	}
	st.ZombieSince[z.ID()] = time.Time{} // the step's own copy
	st = tr.Observe(s1, snap(3*time.Second, par, z, other), Kernel{})
	if at := st.ZombieSince[z.ID()]; !at.Equal(t0.Add(1200 * time.Millisecond)) {
		t.Errorf("first sighting changed to %v", at)
	}
	if !st.ZombieExited[z.ID()] || st.ZombieExited[other.ID()] {
		t.Errorf("zombies known to have exited at their first-seen time: %v, want only %v", st.ZombieExited, z.ID())
	}
	groups := DiagnoseZombies(s1, st.ZombieSince, nil)
	if len(groups) != 1 || len(groups[0].Zombies) != 2 || !groups[0].Zombies[0].Observed {
		t.Errorf("groups %+v", groups)
	}
	// How long they have been zombies: with one only seen (no exit event),
	// the diagnosis says how long they were seen, not that they have been
	// zombies that long; with the exit event alone, when it exited.
	now := t0.Add(3 * time.Second)
	s3 := snap(3*time.Second, par, z, other)
	g := DiagnoseZombiesWith(s3, st.ZombieSince, nil, ZombieOptions{Exited: st.ZombieExited})[0]
	if g.SinceExited() || !strings.Contains(g.Diagnosis, "2 zombie children (first seen 1s ago)") || g.AgeText(now) != "first seen 1s ago" {
		t.Errorf("zombies seen, not known to have exited then: %q, %q", g.Diagnosis, g.AgeText(now))
	}
	s3 = snap(3*time.Second, par, z)
	g = DiagnoseZombiesWith(s3, st.ZombieSince, nil, ZombieOptions{Exited: st.ZombieExited})[0]
	if !g.SinceExited() || !strings.Contains(g.Diagnosis, "1 zombie child (exited 1s ago)") {
		t.Errorf("a zombie whose exit the kernel reported: %q", g.Diagnosis)
	}
	if g = DiagnoseZombies(s3, st.ZombieSince, nil)[0]; g.SinceExited() || !strings.Contains(g.Diagnosis, "(first seen 1s ago)") {
		t.Errorf("without the exit events' word: %q", g.Diagnosis)
	}
	st = tr.Observe(s1, snap(4*time.Second, par), Kernel{})
	if len(st.ZombieSince) != 0 || len(tr.zombieSeen) != 0 {
		t.Errorf("reaped zombies kept: %v", tr.zombieSeen)
	}
	// Exit times are kept a minute.
	tr.Observe(s1, snap(exitMemory+10*time.Second, par), Kernel{})
	if len(tr.exitAt) != 0 {
		t.Errorf("exit times kept: %v", tr.exitAt)
	}
}

// TestTrackerZombieGap: a zombie first seen by a scan (no kernel exit)
// keeps the time from the scan before to that one, whatever the scans
// after it: 15 s apart, then 1 s, it is not young 1 s after its
// sighting (the gap of the scan that saw it bounds its age, not the
// last one's); a zombie whose exit the kernel reported has no gap; a
// reaped one is forgotten.
func TestTrackerZombieGap(t *testing.T) {
	par := proc(10, 1, 5, "parent", 'S')
	kid := proc(11, 10, 50, "kid", 'S')
	kid.StartedAt = t0.Add(-time.Hour)
	z := kid
	z.State, z.ExitCode = 'Z', 1<<8
	other := proc(12, 10, 60, "other", 'S')
	other.StartedAt = t0.Add(-time.Hour)
	oz := other
	oz.State = 'Z'
	tr := NewTracker(0)
	s0 := snap(0, par, kid, other)
	tr.Observe(nil, s0, Kernel{})
	s1 := snap(15*time.Second, par, z, oz)
	st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kexit(other, 14*time.Second, 0)}})
	if gap, ok := st.ZombieGap[z.ID()]; !ok || gap != 15*time.Second {
		t.Errorf("gap of a zombie first seen by a scan 15 s after the one before: %v (%v), want 15s", gap, ok)
	}
	if gap, ok := st.ZombieGap[oz.ID()]; ok {
		t.Errorf("a zombie whose exit the kernel reported has a gap: %v", gap)
	}
	s2 := snap(16*time.Second, par, z, oz)
	st = tr.Observe(s1, s2, Kernel{})
	o := ZombieOptions{WatchStart: st.WatchedSince, Exited: st.ZombieExited, SeenGaps: st.ZombieGap}
	for _, zi := range DiagnoseZombiesWith(s2, st.ZombieSince, nil, o)[0].Zombies {
		if want := zi.ID == oz.ID(); zi.Young != want {
			t.Errorf("zombie %d: young %v, want %v (a kernel exit 2 s ago: young; seen 1 s after a 15 s gap: not)", zi.ID.PID, zi.Young, want)
		}
	}
	st = tr.Observe(s2, snap(17*time.Second, par, oz), Kernel{})
	if len(st.ZombieGap) != 0 {
		t.Errorf("a reaped zombie's gap kept: %v", st.ZombieGap)
	}
}

// TestTrackerLeaderExitedIsNoZombie: Z with threads running is not a
// zombie for the tracker either.
func TestTrackerLeaderExitedIsNoZombie(t *testing.T) {
	p := proc(50, 1, 5, "app", 'Z')
	p.NumThreads = 3
	tr := NewTracker(0)
	s := snap(0, p)
	if st := tr.Observe(nil, s, Kernel{}); len(st.ZombieSince) != 0 {
		t.Errorf("leader-exited process tracked as a zombie: %v", st.ZombieSince)
	}
	if c := CountStates(s); c.Zombies != 0 || c.LeaderExited != 1 || c.ByLetter['Z'] != 1 {
		t.Errorf("counts %+v", c)
	}
}

// TestTrackerLostEvents: lost kernel events end the step's events with a
// Lost event saying why; a count of dropped events wins over a note.
func TestTrackerLostEvents(t *testing.T) {
	s := snap(0, proc(1, 0, 1, "init", 'S'))
	tr := NewTracker(0)
	st := tr.Observe(nil, s, Kernel{LostNote: "resubscribed"})
	if len(st.Events) != 1 || st.Events[0].Type != Lost || st.Events[0].Note != "resubscribed" || !st.Events[0].Time.Equal(s.TakenAt) {
		t.Errorf("events %+v", st.Events)
	}
	st = tr.Observe(s, s, Kernel{LostNote: "x", Dropped: 7})
	if len(st.Events) != 1 || !strings.HasPrefix(st.Events[0].Note, "7 kernel process events dropped") {
		t.Errorf("events %+v", st.Events)
	}
}

// TestTrackerForkParentsBounded: forks received while no scan was taken
// remember at most maxForks parents.
func TestTrackerForkParentsBounded(t *testing.T) {
	var k Kernel
	for pid := 5000; pid < 5050; pid++ {
		k.Events = append(k.Events, kspawn(proc(pid, 1, uint64(pid), "c", 'S'), 0, true))
	}
	tr := NewTracker(5)
	tr.Observe(nil, snap(0), k)
	if n := len(tr.forkParent); n != 5 {
		t.Errorf("%d fork parents remembered, want 5", n)
	}
}

// TestTrackerReplays: the same inputs make the same steps: a recorded run
// replays (events in the same order, including reparents found from
// several forks in one step).
func TestTrackerReplays(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	s0 := snap(0, init1)
	var procs []collector.Process
	var k Kernel
	for pid := 10; pid < 40; pid++ {
		c := proc(pid, 1, uint64(pid), "c", 'S')
		procs = append(procs, c)
		f := c
		f.PPID = 5
		k.Events = append(k.Events, kspawn(f, 0, true))
	}
	s1 := snap(time.Second, append([]collector.Process{init1}, procs...)...)
	run := func() []Event {
		tr := NewTracker(0)
		tr.Observe(nil, s0, Kernel{})
		return tr.Observe(s0, s1, k).Events
	}
	first := run()
	for i := 0; i < 5; i++ {
		if again := run(); !reflect.DeepEqual(first, again) {
			t.Fatalf("replay %d differs:\n%q\n%q", i, types(first), types(again))
		}
	}
}

// TestTrackerKernelLivenessSaid: where the monitor says whether a kernel
// source is live, the Tracker holds a poll exit for its kernel exit from
// the first step (it inferred liveness from a first delivery, and a
// crash before one was reported twice), stops holding once the source
// is said dead (it held every poll exit a step for good: review of
// polish6 6), and holds none in a step asked to hold every event (a
// Sync's frame: held exits were lost when a command stopped after it).
func TestTrackerKernelLivenessSaid(t *testing.T) {
	init1 := proc(1, 0, 1, "init", 'S')
	child := proc(610, 1, 900, "brief", 'S')
	s0 := snap(0, init1, child)
	s1 := snap(time.Second, init1)
	s2 := snap(2*time.Second, init1)
	for _, c := range []struct {
		name         string
		k            Kernel
		atOnce, late string
	}{
		{"live, nothing delivered yet", Kernel{Live: true}, "", "exit/poll"},
		{"said dead", Kernel{Polled: true}, "exit/poll", ""},
		{"a Sync's frame", Kernel{Live: true, Flush: true}, "exit/poll", ""},
	} {
		tr := NewTracker(0)
		first := Kernel{Live: true}
		if c.k.Polled {
			first = Kernel{Events: []KernelEvent{kexit(proc(620, 1, 50, "other", 'S'), -time.Second, 0)}} // delivered, then died
		}
		tr.Observe(nil, s0, first)
		if got := sources(tr.Observe(s0, s1, c.k).Events); got != c.atOnce {
			t.Errorf("%s: the step that found the child gone: %q, want %q", c.name, got, c.atOnce)
		}
		if got := sources(tr.Observe(s1, s2, Kernel{Live: c.k.Live, Polled: c.k.Polled}).Events); got != c.late {
			t.Errorf("%s: the step after: %q, want %q", c.name, got, c.late)
		}
	}
}
