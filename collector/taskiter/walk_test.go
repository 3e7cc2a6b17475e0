package taskiter

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestWalkUsedWhereAvailable: on Linux 6.7 and later, as root, passes
// use the walk (one program run), not the seq_file iterator.
func TestWalkUsedWhereAvailable(t *testing.T) {
	it := openForTest(t)
	if !kernelAtLeast(6, 7) {
		t.Skipf("kernel %s has no open-coded task iterator", kernelRelease())
	}
	if !it.Walking() || it.WalkUnavailable != nil {
		t.Fatalf("walking %v: %v", it.Walking(), it.WalkUnavailable)
	}
}

// TestWalkOrder: the walk gives processes in ascending pid order, each
// leader with its group record first and then its own threads.
func TestWalkOrder(t *testing.T) {
	it := openForTest(t)
	if !it.Walking() {
		t.Skip(it.WalkUnavailable)
	}
	last, leader := 0, 0
	st, err := it.Pass(func(tk *Task) error {
		if tk.TID == tk.TGID {
			if tk.Group == nil {
				return fmt.Errorf("leader %d without a group record", tk.TID)
			}
			if tk.TID <= last {
				return fmt.Errorf("process %d after %d", tk.TID, last)
			}
			last, leader = tk.TID, tk.TID
			return nil
		}
		if tk.Group != nil {
			return fmt.Errorf("thread %d with a group record", tk.TID)
		}
		if tk.TGID != leader {
			return fmt.Errorf("thread %d of %d after leader %d", tk.TID, tk.TGID, leader)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Groups == 0 || st.Tasks < st.Groups {
		t.Fatalf("%+v", st)
	}
}

// TestWalkMatchesSeqFile runs a pass of the walk and one of the seq_file
// iterator and compares every task both saw on what does not change
// while it lives.
func TestWalkMatchesSeqFile(t *testing.T) { walkMatchesSeqFile(t) }

// TestWalkWindows is TestWalkMatchesSeqFile read through the smallest
// windows (a whole number of pages and records: 256 task records), with
// a process of 800 threads so that the arrays span several windows.
func TestWalkWindows(t *testing.T) {
	old := winBytes
	winBytes = 1
	t.Cleanup(func() { winBytes = old })
	livehelper.Start(t, "threads", "800")
	walkMatchesSeqFile(t)
}

// TestWalkCountsAtLoad: the run at load, which visits only the leaders,
// counts every thread as well (each process's thread count), as a pass
// that visits them all finds: a helper's 800 threads are in the count,
// and, when the machine made and reaped no task between the two (the
// kernel's fork and task counts did not move), the count is the pass's
// exactly. On a busy machine (make test runs packages that start
// hundreds of threads beside this one) that equality is not checked.
func TestWalkCountsAtLoad(t *testing.T) {
	livehelper.Start(t, "threads", "800")
	forks, tasks := machineTaskCounts(t)
	it := openForTest(t)
	if !it.Walking() {
		t.Skip("no walk here")
	}
	w := it.walk
	if w.countedTasks < w.countedGroups+799 {
		t.Fatalf("counted %d tasks in %d processes, with a process of 800 threads running", w.countedTasks, w.countedGroups)
	}
	st, err := it.Pass(func(*Task) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if forksAfter, tasksAfter := machineTaskCounts(t); forksAfter != forks || tasksAfter != tasks {
		t.Logf("the machine forked or reaped meanwhile (%d forks, %d -> %d tasks): counts not compared", forksAfter-forks, tasks, tasksAfter)
		return
	}
	if st.Tasks != w.countedTasks || st.Groups != w.countedGroups {
		t.Errorf("counted %d tasks in %d processes at load, the pass found %d in %d", w.countedTasks, w.countedGroups, st.Tasks, st.Groups)
	}
}

// TestPassBeforeRun: a pass calls BeforeRun once, before it visits the
// first task (the scan reads the kernel's counts there).
func TestPassBeforeRun(t *testing.T) {
	it := openForTest(t)
	calls, visited := 0, 0
	o := PassOptions{BeforeRun: func() {
		if visited > 0 {
			t.Error("BeforeRun after a visit")
		}
		calls++
	}}
	for range 2 {
		calls, visited = 0, 0
		if _, err := it.PassWith(o, func(*Task) error { visited++; return nil }); err != nil {
			t.Fatal(err)
		}
		if calls != 1 || visited == 0 {
			t.Fatalf("BeforeRun called %d times, %d tasks visited", calls, visited)
		}
	}
}

// TestPassAfterRun: a pass calls AfterRun once, after the run and before
// it visits the first task, with the parents its processes name that it
// did not show: each named by a process of the pass, none among them.
func TestPassAfterRun(t *testing.T) {
	it := openForTest(t)
	if it.walk == nil {
		t.Skip("the seq_file iterator does not call AfterRun")
	}
	for range 2 {
		calls, visited := 0, 0
		var missing []int
		leaders := map[int]bool{}
		parents := map[int]bool{}
		o := PassOptions{AfterRun: func(m []int) {
			if visited > 0 {
				t.Error("AfterRun after a visit")
			}
			calls++
			missing = append(missing[:0], m...)
		}}
		if _, err := it.PassWith(o, func(task *Task) error {
			visited++
			if task.Group != nil {
				leaders[task.TID] = true
				if task.HasParent && task.PPID > 0 {
					parents[task.PPID] = true
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if calls != 1 || visited == 0 {
			t.Fatalf("AfterRun called %d times, %d tasks visited", calls, visited)
		}
		if !slices.IsSorted(missing) || len(slices.Compact(slices.Clone(missing))) != len(missing) {
			t.Errorf("missing parents %v: not sorted once each", missing)
		}
		for _, pp := range missing {
			if leaders[pp] || !parents[pp] {
				t.Errorf("missing parent %d: in the pass %v, a parent in it %v", pp, leaders[pp], parents[pp])
			}
		}
		for pp := range parents {
			if !leaders[pp] && !slices.Contains(missing, pp) {
				t.Errorf("parent %d not in the pass and not named missing (%v)", pp, missing)
			}
		}
		t.Logf("missing parents %v of %d processes", missing, len(leaders))
	}
}

// machineTaskCounts reads the kernel's count of forks since boot
// (/proc/stat's processes line) and then of tasks (/proc/loadavg).
func machineTaskCounts(t *testing.T) (forks, tasks uint64) {
	t.Helper()
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(stat), "\nprocesses ")
	if !ok {
		t.Fatal("/proc/stat has no processes line")
	}
	line, _, _ := strings.Cut(rest, "\n")
	if forks, err = strconv.ParseUint(line, 10, 64); err != nil {
		t.Fatal(err)
	}
	load, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok = strings.Cut(string(load), "/")
	if !ok {
		t.Fatalf("/proc/loadavg: %q", load)
	}
	field, _, _ := strings.Cut(rest, " ")
	if tasks, err = strconv.ParseUint(field, 10, 64); err != nil {
		t.Fatal(err)
	}
	return forks, tasks
}

func walkMatchesSeqFile(t *testing.T) {
	walk := openForTest(t)
	if !walk.Walking() {
		t.Skip(walk.WalkUnavailable)
	}
	seq, err := Open(Options{SeqFile: true})
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	if seq.Walking() {
		t.Fatal("SeqFile: the walk was loaded")
	}
	// The walk between two seq_file passes: a difference counts only
	// where both seq_file passes agree (a process that exits or execs
	// between the passes changes).
	a, b, c := passAll(t, seq), passAll(t, walk), passAll(t, seq)
	both := 0
	for tid, sb := range b {
		sa, sc := a[tid], c[tid]
		if sa == nil || sc == nil || sa.task.StartBootNs != sb.task.StartBootNs || sc.task.StartBootNs != sb.task.StartBootNs {
			continue // born or gone between the passes
		}
		both++
		ta, tb, tc := &sa.task, &sb.task, &sc.task
		if ta.TGID != tb.TGID && ta.TGID == tc.TGID {
			t.Errorf("task %d: walk tgid %d, seq_file %d", tid, tb.TGID, ta.TGID)
		}
		if (ta.Group == nil) != (tb.Group == nil) && (ta.Group == nil) == (tc.Group == nil) {
			t.Errorf("task %d: group record walk %v seq_file %v", tid, tb.Group != nil, ta.Group != nil)
			continue
		}
		if ta.Group == nil || tb.Group == nil || tc.Group == nil {
			continue
		}
		key := func(g *Group) string {
			return fmt.Sprint(g.UIDs, g.GIDs, g.SID, nspids(g), g.CapBnd, g.HasMM, g.StartCode, g.EndCode)
		}
		ka, kb, kc := key(ta.Group), key(tb.Group), key(tc.Group)
		if ka == kc && ka != kb {
			t.Errorf("process %d: walk %s, seq_file %s both times", tid, kb, ka)
		}
	}
	// The seq_file iterator walks this pid namespace's pids; the walk
	// the task list: nearly every task is in all three passes.
	if both < len(a)*9/10 {
		t.Errorf("only %d of %d tasks in every pass (walk saw %d)", both, len(a), len(b))
	}
	t.Logf("%d tasks compared (walk %d, seq_file %d and %d)", both, len(b), len(a), len(c))
}

// TestWalkUnavailableLine: a kernel without the open-coded iterator's
// kfuncs gets one line naming the reason and the fallback.
func TestWalkUnavailableLine(t *testing.T) {
	err := walkUnavailable(fmt.Errorf("load program: %w", ebpf.ErrNotSupported))
	line := err.Error()
	if !strings.Contains(line, "open-coded task iterator (Linux 6.7 or later)") || !strings.Contains(line, "per-task iterator") || strings.Contains(line, "\n") {
		t.Errorf("%q", line)
	}
	if errors.Is(err, os.ErrNotExist) {
		t.Errorf("%v", err)
	}
}

// TestWalkSumsThreads: with SumThreads the walk visits the threads of the
// processes asked for only; every other process's live threads are in
// its Group.ThreadSums, counted in PassStats.Tasks.
func TestWalkSumsThreads(t *testing.T) {
	it := openForTest(t)
	if !it.Walking() {
		t.Skip(it.WalkUnavailable)
	}
	self := os.Getpid()
	ownThreads, others, summed := 0, 0, 0
	st, err := it.PassWith(PassOptions{SumThreads: true, ThreadsOf: []int{self}}, func(tk *Task) error {
		switch {
		case tk.TGID == self:
			ownThreads++
			if tk.Group != nil && tk.Group.ThreadSums.Threads != 0 {
				return fmt.Errorf("own process summed %d threads", tk.Group.ThreadSums.Threads)
			}
		case tk.Group == nil:
			others++
		default:
			summed += tk.Group.ThreadSums.Threads
			states := 0
			for _, n := range tk.Group.ThreadSumStates {
				states += n
			}
			if states != tk.Group.ThreadSums.Threads {
				return fmt.Errorf("process %d: %d threads summed, %d counted by state %v", tk.TID, tk.Group.ThreadSums.Threads, states, tk.Group.ThreadSumStates)
			}
			if n := tk.Group.ThreadSums.Threads + 1; tk.Group.NumThreads > 0 && n > tk.Group.NumThreads+1 {
				return fmt.Errorf("process %d: %d threads summed, %d live", tk.TID, n-1, tk.Group.NumThreads)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if others != 0 {
		t.Errorf("%d threads of other processes visited", others)
	}
	if ownThreads < 2 {
		t.Errorf("own threads visited: %d (a Go test binary has several)", ownThreads)
	}
	if st.Tasks < st.Groups+summed {
		t.Errorf("stats %+v, %d summed", st, summed)
	}
	// The same pass again, every thread: as many tasks, give or take the
	// machine's churn.
	full, err := it.Pass(func(*Task) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if d := full.Tasks - st.Tasks; d > full.Tasks/10 || -d > full.Tasks/10 {
		t.Errorf("summed pass saw %d tasks, full pass %d", st.Tasks, full.Tasks)
	}
	t.Logf("summed pass: %+v (%d threads summed); full pass: %+v", st, summed, full)
}

// readProcIO parses /proc/PID/io into the walk's order.
func readProcIO(pid int) (IOCounters, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return IOCounters{}, false
	}
	var c IOCounters
	dst := map[string]*uint64{
		"rchar": &c.RChar, "wchar": &c.WChar, "syscr": &c.SyscR, "syscw": &c.SyscW,
		"read_bytes": &c.ReadBytes, "write_bytes": &c.WriteBytes, "cancelled_write_bytes": &c.CancelledWB,
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if p := dst[k]; ok && p != nil {
			if *p, err = strconv.ParseUint(v, 10, 64); err != nil {
				return IOCounters{}, false
			}
			n++
		}
	}
	return c, n == len(dst)
}

// TestWalkIOMatchesProc: the walk's io counters of a process are what
// /proc/PID/io shows: the exited threads' plus every live thread's, with
// its threads kept or summed in the kernel. A helper does known I/O in
// three threads (one exited, one live, the leader) and then none; every
// other process whose /proc/PID/io did not move across the pass must
// match too.
func TestWalkIOMatchesProc(t *testing.T) {
	it := openForTest(t)
	if !it.Walking() {
		t.Skip(it.WalkUnavailable)
	}
	const readB, writeB = 1_000_000, 300_000
	h := livehelper.Start(t, "iocount", strconv.Itoa(readB), strconv.Itoa(writeB))
	for _, summed := range []bool{false, true} {
		before := map[int]IOCounters{}
		for _, pid := range listPIDs(t) {
			if c, ok := readProcIO(pid); ok {
				before[pid] = c
			}
		}
		got := map[int]IOCounters{}
		noIO := 0
		_, err := it.PassWith(PassOptions{SumThreads: summed}, func(tk *Task) error {
			if tk.Group == nil {
				return nil
			}
			if !tk.Group.HasIO {
				noIO++
				return nil
			}
			got[tk.TID] = tk.Group.IO
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		compared := 0
		for pid, b := range before {
			a, ok := readProcIO(pid)
			g, inPass := got[pid]
			if !ok || a != b || !inPass {
				continue // it did I/O meanwhile, or exited
			}
			compared++
			if g != a {
				t.Errorf("summed=%v: process %d: walk io %+v, /proc/%d/io %+v", summed, pid, g, pid, a)
			}
		}
		g, ok := got[h.PID()]
		p, _ := readProcIO(h.PID())
		switch {
		case !ok:
			t.Errorf("summed=%v: helper %d has no io in the walk", summed, h.PID())
		case g != p:
			t.Errorf("summed=%v: helper: walk io %+v, /proc %+v", summed, g, p)
		case g.RChar < 2*readB || g.WChar < writeB || g.SyscR < 2*readB/4096 || g.SyscW < writeB/4096:
			t.Errorf("summed=%v: helper io %+v misses its known I/O (%d read twice, %d written)", summed, g, readB, writeB)
		}
		if compared < 10 || noIO > len(got)/10 {
			t.Errorf("summed=%v: %d processes compared, %d with io, %d without", summed, compared, len(got), noIO)
		}
		t.Logf("summed=%v: %d processes compared with /proc/PID/io, %d without io in the walk", summed, compared, noIO)
	}
}

// TestWalkNoIO: a walk asked to leave io out gives no process io (and
// still every process, with its threads summed), and the next walk that
// asks for it has it again, the helper's known reads and writes included.
func TestWalkNoIO(t *testing.T) {
	it := openForTest(t)
	if !it.Walking() {
		t.Skip(it.WalkUnavailable)
	}
	const readB, writeB = 1_000_000, 300_000
	h := livehelper.Start(t, "iocount", strconv.Itoa(readB), strconv.Itoa(writeB))
	for _, noIO := range []bool{true, false, true} {
		groups, withIO := 0, 0
		var helper *Group
		_, err := it.PassWith(PassOptions{SumThreads: true, NoIO: noIO}, func(tk *Task) error {
			if tk.Group == nil {
				return nil
			}
			groups++
			if tk.Group.HasIO {
				withIO++
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
			t.Fatalf("noIO=%v: helper %d not in the walk", noIO, h.PID())
		case helper.ThreadSums.Threads+1 != helper.NumThreads && helper.NumThreads > 1:
			t.Errorf("noIO=%v: helper has %d threads, %d summed", noIO, helper.NumThreads, helper.ThreadSums.Threads)
		case noIO && withIO != 0:
			t.Errorf("noIO: %d of %d processes have io", withIO, groups)
		case !noIO && (withIO < groups/2 || !helper.HasIO):
			t.Errorf("io asked again: %d of %d processes have io, the helper's: %v", withIO, groups, helper.HasIO)
		case !noIO && (helper.IO.RChar < 2*readB || helper.IO.WChar < writeB):
			t.Errorf("io asked again: helper io %+v misses its known I/O (%d read twice, %d written)", helper.IO, readB, writeB)
		}
		t.Logf("noIO=%v: %d processes, %d with io", noIO, groups, withIO)
	}
}

// TestWalkCountsThreadStates: the kernel's count of a summed process's
// threads by state is what the threads' own records say: a helper's 20
// pool threads, all asleep, are counted 20 S (the leader has its own
// record).
func TestWalkCountsThreadStates(t *testing.T) {
	it := openForTest(t)
	if !it.Walking() {
		t.Skip(it.WalkUnavailable)
	}
	h := livehelper.Start(t, "iopool", "20", "100000")
	// The pool's threads are made before the helper says it is ready, but
	// on a loaded machine some have not reached their first sleep yet (7
	// of 20 were R in one make test): the counts are compared once all 20
	// sleep, and again if a thread woke between the two passes.
	var want [len(StateLetters)]int
	var got Totals
	var gotStates [len(StateLetters)]int
	deadline := time.Now().Add(30 * time.Second)
	for {
		want = [len(StateLetters)]int{}
		_, err := it.Pass(func(tk *Task) error {
			if tk.TGID == h.PID() && tk.TID != tk.TGID {
				want[strings.IndexByte(StateLetters, tk.StateLetter())]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, gotStates = Totals{}, [len(StateLetters)]int{}
		_, err = it.PassWith(PassOptions{SumThreads: true}, func(tk *Task) error {
			if tk.TID == h.PID() && tk.Group != nil {
				got, gotStates = tk.Group.ThreadSums, tk.Group.ThreadSumStates
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want[1] == 20 && gotStates == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if gotStates != want || got.Threads != 20 || want[1] != 20 {
		t.Errorf("summed %d threads by state %v; their records say %v (want all 20 S)", got.Threads, gotStates, want)
	}
}

// TestRawRuns: with Options.RawRuns the walk runs in a raw system call,
// and a pass sees what a pass run through cilium/ebpf sees: this test
// binary with its threads, and a helper's sleeping pool field for field
// on what does not move while it sleeps (ids, parent, name, start time,
// policy, priority, state).
func TestRawRuns(t *testing.T) {
	plain := openForTest(t)
	if !plain.Walking() {
		t.Skip(plain.WalkUnavailable)
	}
	it, err := Open(Options{RawRuns: true, Idents: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = it.Close() })
	if !it.Walking() || !it.walk.raw {
		t.Fatalf("walking %v, raw %v: %v", it.Walking(), it.walk != nil && it.walk.raw, it.WalkUnavailable)
	}
	if it.idents == nil || !it.idents.raw {
		t.Fatalf("identity program %v, raw: %v", it.idents != nil, it.IdentsUnavailable)
	}
	h := livehelper.Start(t, "iopool", "8", "100000")
	type still struct {
		TID, PPID   int
		Comm        string
		StartBootNs uint64
		Policy      uint32
		StaticPrio  int
		State       byte
	}
	helperTasks := func(w *Iterator) (map[int]still, int) {
		t.Helper()
		self := os.Getpid()
		tasks, own := map[int]still{}, 0
		_, err := w.Pass(func(tk *Task) error {
			if tk.TGID == self {
				own++
			}
			if tk.TGID == h.PID() {
				tasks[tk.TID] = still{tk.TID, tk.PPID, string(tk.Comm()), tk.StartBootNs, tk.Policy, tk.StaticPrio, tk.StateLetter()}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return tasks, own
	}
	for range 2 { // the second pass reuses the arrays the first made
		raw, own := helperTasks(it)
		ref, _ := helperTasks(plain)
		if own < 2 {
			t.Errorf("own tasks seen: %d (a Go test binary has several threads)", own)
		}
		if len(ref) != 9 {
			t.Errorf("a plain pass saw %d of the helper's tasks, want its leader and 8 pool threads", len(ref))
		}
		if !maps.Equal(raw, ref) {
			t.Errorf("the helper's tasks differ:\nraw   %v\nplain %v", raw, ref)
		}
	}
}

// TestWalkCgroupID: asked for it, the walk gives this process's cgroup id
// in the unified hierarchy, the inode number of its cgroup's directory
// (what /proc/self/cgroup's "0::" line names); not asked, none.
func TestWalkCgroupID(t *testing.T) {
	it := openForTest(t)
	if !it.Walking() {
		t.Skip(it.WalkUnavailable)
	}
	raw, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Skip(err)
	}
	mnt := ""
	for _, line := range strings.Split(string(raw), "\n") {
		if fs := strings.Fields(line); len(fs) > 2 && fs[2] == "cgroup2" {
			mnt = fs[1]
			break
		}
	}
	cg, err := os.ReadFile("/proc/self/cgroup")
	if mnt == "" || err != nil {
		t.Skipf("no cgroup2 mount (%v)", err)
	}
	path := ""
	for _, line := range strings.Split(string(cg), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			path = p
		}
	}
	var st syscall.Stat_t
	if path == "" || syscall.Stat(mnt+path, &st) != nil {
		t.Skipf("this process's unified cgroup %q is not under %s", path, mnt)
	}
	for _, asked := range []bool{true, false, true} {
		var self *Group
		with := 0
		_, err := it.PassWith(PassOptions{SumThreads: true, CgroupID: asked}, func(tk *Task) error {
			if tk.Group == nil {
				return nil
			}
			if tk.Group.HasCgroupID {
				with++
			}
			if tk.TID == os.Getpid() {
				g := *tk.Group
				self = &g
			}
			return nil
		})
		switch {
		case err != nil:
			t.Fatal(err)
		case self == nil:
			t.Fatal("this process is not in the walk")
		case asked && (!self.HasCgroupID || self.CgroupID != st.Ino):
			t.Errorf("asked: cgroup id %d (given %v), want %s's inode %d", self.CgroupID, self.HasCgroupID, mnt+path, st.Ino)
		case !asked && with != 0:
			t.Errorf("not asked: %d processes have a cgroup id", with)
		}
	}
}
