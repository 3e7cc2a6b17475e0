package taskiter

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
	"golang.org/x/sys/unix"
)

// openForTest loads the iterator, skipping when this test binary may not
// load BPF (not root) and failing when it should be able to.
func openForTest(t *testing.T) *Iterator {
	t.Helper()
	it, err := Open(Options{})
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("not root: %v", err)
		}
		t.Fatalf("as root: %v", err)
	}
	t.Cleanup(func() { _ = it.Close() })
	return it
}

// seen is a task as one pass saw it.
type seen struct {
	task  Task
	group Group
	tot   Totals
}

// passAll runs one pass and keeps a copy of every task, with the
// process totals summed onto each leader.
func passAll(t *testing.T, it *Iterator) map[int]*seen {
	t.Helper()
	m := make(map[int]*seen, 1024)
	_, err := it.Pass(func(tk *Task) error {
		s := &seen{task: *tk}
		s.task.Group = nil
		if tk.Group != nil {
			s.group = *tk.Group
			s.task.Group = &s.group
		}
		m[tk.TID] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m {
		if s.task.TID != s.task.TGID {
			continue
		}
		s.tot = s.group.Totals()
	}
	for _, s := range m {
		if l := m[s.task.TGID]; l != nil {
			l.tot.Add(&s.task)
		}
	}
	return m
}

// procStat is a /proc stat file split after the comm: field n of
// proc(5) is f[n-3].
type procStat struct {
	comm string
	f    []string
}

func (s procStat) u(n int) uint64 {
	v, _ := strconv.ParseUint(s.f[n-3], 10, 64)
	return v
}

func (s procStat) i(n int) int64 {
	v, _ := strconv.ParseInt(s.f[n-3], 10, 64)
	return v
}

func readStat(path string) (procStat, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, false
	}
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return procStat{}, false
	}
	return procStat{comm: string(b[i+1 : j]), f: strings.Fields(string(b[j+1:]))}, true
}

func readStatus(path string) (map[string]string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	m := make(map[string]string)
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, true
}

// procView is one process as /proc shows it.
type procView struct {
	stat    procStat
	status  map[string]string
	threads map[int]procStat
	tstatus map[int]map[string]string
}

func readProcView(pid int, threads bool) (*procView, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	st, ok := readStat(dir + "/stat")
	if !ok {
		return nil, false
	}
	ss, ok := readStatus(dir + "/status")
	if !ok {
		return nil, false
	}
	v := &procView{stat: st, status: ss}
	if threads {
		v.threads = map[int]procStat{}
		v.tstatus = map[int]map[string]string{}
		ents, _ := os.ReadDir(dir + "/task")
		for _, e := range ents {
			tid, _ := strconv.Atoi(e.Name())
			if s, ok := readStat(dir + "/task/" + e.Name() + "/stat"); ok {
				v.threads[tid] = s
			}
			if s, ok := readStatus(dir + "/task/" + e.Name() + "/status"); ok {
				v.tstatus[tid] = s
			}
		}
	}
	return v, true
}

func listPIDs(t *testing.T) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestPassMatchesProc reads /proc (A), runs a pass (B), reads /proc
// again (C), and holds every field the iterator gives to what /proc
// shows: equal where A and C agree, between them for counters that only
// grow. The quiet helper processes (sleeping threads, zombies, a renamed
// process, a process whose leader exited) are compared in full; every
// other process of the machine on the fields that do not wobble.
func TestPassMatchesProc(t *testing.T) {
	it := openForTest(t)
	helpers := []*livehelper.Proc{
		livehelper.Start(t, "threads", "5"),
		livehelper.Start(t, "zombies", "2"),
		livehelper.Start(t, "comm", "a)b c\x1b[1m"),
		livehelper.Start(t, "leaderexit"),
	}
	quiet := map[int]bool{}
	for _, h := range helpers {
		for _, pid := range h.PIDs {
			quiet[pid] = true
		}
	}
	// Let the leaderexit helper's leader become a zombie first.
	lx := helpers[3].PID()
	for i := 0; i < 500; i++ {
		if s, ok := readStat("/proc/" + strconv.Itoa(lx) + "/stat"); ok && s.f[0] == "Z" {
			break
		}
		livehelper.Sleep()
	}

	pids := listPIDs(t)
	a := map[int]*procView{}
	for _, pid := range pids {
		if v, ok := readProcView(pid, quiet[pid]); ok {
			a[pid] = v
		}
	}
	b := passAll(t, it)
	c := map[int]*procView{}
	for _, pid := range pids {
		if v, ok := readProcView(pid, quiet[pid]); ok {
			c[pid] = v
		}
	}

	for pid := range quiet {
		if b[pid] == nil {
			t.Errorf("helper pid %d is not in the pass", pid)
		}
	}
	compared := 0
	for _, pid := range pids {
		va, vc, s := a[pid], c[pid], b[pid]
		if va == nil || vc == nil || s == nil {
			continue // vanished, or not shown to the iterator
		}
		if va.stat.u(22) != vc.stat.u(22) {
			continue // the pid was reused
		}
		compared++
		checkProcess(t, pid, va, s, vc, quiet[pid])
		if quiet[pid] {
			checkThreads(t, pid, va, b, vc)
		}
	}
	if compared < len(quiet) {
		t.Fatalf("compared %d processes, fewer than the %d helpers", compared, len(quiet))
	}
	t.Logf("compared %d processes with /proc", compared)
}

// within checks a field: equal to A when A and C agree (or always, for
// exact), else between A and C.
func within(t *testing.T, pid int, name string, a, b, c uint64) {
	t.Helper()
	lo, hi := min(a, c), max(a, c)
	if b < lo || b > hi {
		t.Errorf("pid %d %s: iterator %d, /proc %d then %d", pid, name, b, a, c)
	}
}

// pfWQWorker is PF_WQ_WORKER: the task is a workqueue worker.
const pfWQWorker = 0x20

// checkWorkerName checks a workqueue worker's names, /proc's before and
// after the pass and the iterator's: equal when nothing moved, else each
// begins with the task's comm (the work queue after it changed).
func checkWorkerName(t *testing.T, pid int, a, b, c, comm string) {
	t.Helper()
	if a == b && b == c {
		return
	}
	for _, n := range []struct{ who, name string }{{"/proc before", a}, {"iterator", b}, {"/proc after", c}} {
		if !strings.HasPrefix(n.name, comm) {
			t.Errorf("pid %d worker name (%s) %q does not begin with its comm %q", pid, n.who, n.name, comm)
		}
	}
}

func same(t *testing.T, pid int, name string, a, b, c any) {
	t.Helper()
	if a == c && a != b {
		t.Errorf("pid %d %s: iterator %v, /proc %v both times", pid, name, b, a)
	}
}

func checkProcess(t *testing.T, pid int, va *procView, s *seen, vc *procView, quiet bool) {
	t.Helper()
	tk, g := &s.task, &s.group
	if s.task.TID != s.task.TGID {
		t.Fatalf("pid %d: the record is not a leader's", pid)
	}
	A, C := va.stat, vc.stat
	// Identity and rarely changing fields: for every process.
	if got, want := tk.StartTicks(), A.u(22); got != want {
		t.Errorf("pid %d start ticks: iterator %d, /proc %d", pid, got, want)
	}
	name, _ := tk.Name(nil)
	if A.u(9)&pfWQWorker != 0 {
		// A workqueue worker's /proc name is its comm (or its full
		// kthread name), then "-" or "+" and the work queue it last ran,
		// which changes from one moment to the next (and back): the comm
		// part is what holds still.
		checkWorkerName(t, pid, A.comm, string(name), C.comm, string(tk.Comm()))
	} else {
		same(t, pid, "comm", A.comm, string(name), C.comm)
	}
	same(t, pid, "ppid", A.i(4), int64(tk.PPID), C.i(4))
	same(t, pid, "pgrp", A.i(5), int64(g.PGID), C.i(5))
	same(t, pid, "session", A.i(6), int64(g.SID), C.i(6))
	same(t, pid, "tty_nr", A.i(7), int64(g.TTYNr()), C.i(7))
	same(t, pid, "priority", A.i(18), tk.Priority(), C.i(18))
	same(t, pid, "nice", A.i(19), tk.Nice(), C.i(19))
	same(t, pid, "rt_priority", A.u(40), uint64(tk.RTPriority), C.u(40))
	same(t, pid, "policy", A.u(41), uint64(tk.Policy), C.u(41))
	same(t, pid, "start_code", A.u(26), g.StartCode, C.u(26))
	same(t, pid, "end_code", A.u(27), g.EndCode, C.u(27))
	same(t, pid, "start_stack", A.u(28), g.StartStack, C.u(28))
	for n, v := range map[int]uint64{45: g.StartData, 46: g.EndData, 47: g.StartBrk, 48: g.ArgStart, 49: g.ArgEnd, 50: g.EnvStart, 51: g.EnvEnd} {
		same(t, pid, "stat field "+strconv.Itoa(n), A.u(n), v, C.u(n))
	}
	same(t, pid, "uids", va.status["Uid"], ids(g.UIDs), vc.status["Uid"])
	same(t, pid, "gids", va.status["Gid"], ids(g.GIDs), vc.status["Gid"])
	same(t, pid, "NSpid", va.status["NSpid"], nspids(g), vc.status["NSpid"])
	same(t, pid, "CapEff", va.status["CapEff"], hex16(g.CapEff), vc.status["CapEff"])
	same(t, pid, "CapPrm", va.status["CapPrm"], hex16(g.CapPrm), vc.status["CapPrm"])
	same(t, pid, "CapInh", va.status["CapInh"], hex16(g.CapInh), vc.status["CapInh"])
	same(t, pid, "CapBnd", va.status["CapBnd"], hex16(g.CapBnd), vc.status["CapBnd"])
	same(t, pid, "CapAmb", va.status["CapAmb"], hex16(g.CapAmb), vc.status["CapAmb"])
	same(t, pid, "TracerPid", va.status["TracerPid"], strconv.Itoa(tk.TracerPID), vc.status["TracerPid"])
	if !quiet {
		return
	}
	// Signal dispositions change and change back in a busy process (a Go
	// test binary's signal.Notify and Stop: SIGHUP caught, ignored, caught
	// again between the three reads failed a land): the helpers' only.
	same(t, pid, "SigIgn", va.status["SigIgn"], hex16(g.SigIgnored), vc.status["SigIgn"])
	same(t, pid, "SigCgt", va.status["SigCgt"], hex16(g.SigCaught), vc.status["SigCgt"])
	// The quiet helpers: everything, counters between the two reads.
	same(t, pid, "state", A.f[0], string(tk.StateLetter()), C.f[0])
	same(t, pid, "tpgid", A.i(8), int64(g.TPGID), C.i(8))
	same(t, pid, "flags", A.u(9), uint64(tk.Flags), C.u(9))
	same(t, pid, "num_threads", A.i(20), int64(g.NumThreads), C.i(20))
	same(t, pid, "vsize", A.u(23), g.TotalVMPages*uint64(os.Getpagesize()), C.u(23))
	same(t, pid, "rss", A.u(24), g.RSSPages(), C.u(24))
	same(t, pid, "processor", A.i(39), int64(tk.CPU), C.i(39))
	same(t, pid, "exit_code", A.i(52), int64(g.ExitCode(tk)), C.i(52))
	same(t, pid, "SigBlk", va.status["SigBlk"], hex16(tk.SigBlocked), vc.status["SigBlk"])
	same(t, pid, "SigPnd", va.status["SigPnd"], hex16(tk.SigPending), vc.status["SigPnd"])
	same(t, pid, "ShdPnd", va.status["ShdPnd"], hex16(g.SigShared), vc.status["ShdPnd"])
	same(t, pid, "VmPeak", va.status["VmPeak"], kB(g, g.PeakVMPages()), vc.status["VmPeak"])
	same(t, pid, "VmSwap", va.status["VmSwap"], kB(g, g.SwapPages()), vc.status["VmSwap"])
	if g.HasMM {
		// The exact sums (percpu_counter_sum in BPF) on every kernel
		// with per-CPU RSS counters (6.2 and later).
		res, ok := g.ResidentPages()
		if !ok && kernelAtLeast(6, 2) {
			t.Errorf("pid %d: no exact RSS sums on Linux %s", pid, kernelRelease())
		}
		if ok {
			same(t, pid, "VmRSS", va.status["VmRSS"], kB(g, res), vc.status["VmRSS"])
		}
	}
	within(t, pid, "minflt", A.u(10), s.tot.MinFlt, C.u(10))
	within(t, pid, "majflt", A.u(12), s.tot.MajFlt, C.u(12))
	within(t, pid, "blkio ticks", A.u(42), NsToTicks(tk.BlkioDelayNs), C.u(42))
	u, st := s.tot.CPUTimeTicks(g)
	within(t, pid, "utime+stime", A.u(14)+A.u(15), u+st, C.u(14)+C.u(15)+1)
	if u < A.u(14) || st < A.u(15) {
		t.Errorf("pid %d cpu time below an earlier /proc read: iterator %d/%d, /proc %d/%d", pid, u, st, A.u(14), A.u(15))
	}
	lv, _ := strconv.ParseUint(va.status["voluntary_ctxt_switches"], 10, 64)
	cv, _ := strconv.ParseUint(vc.status["voluntary_ctxt_switches"], 10, 64)
	within(t, pid, "leader voluntary switches", lv, tk.VolCtx, cv)
}

// checkThreads compares every thread of a quiet helper with its
// task/TID files, and the process's switch totals with their sum (no
// thread of a helper has exited, so the totals are the live sum).
func checkThreads(t *testing.T, pid int, va *procView, b map[int]*seen, vc *procView) {
	t.Helper()
	var sumA, sumC uint64
	for tid, A := range va.threads {
		C, ok := vc.threads[tid]
		s := b[tid]
		if !ok || s == nil {
			t.Errorf("pid %d thread %d: in /proc, not in the pass", pid, tid)
			continue
		}
		tk := &s.task
		if tk.TGID != pid {
			t.Errorf("thread %d: tgid %d, want %d", tid, tk.TGID, pid)
		}
		if got, want := tk.StartTicks(), A.u(22); got != want {
			t.Errorf("thread %d start ticks: iterator %d, /proc %d", tid, got, want)
		}
		a, _ := strconv.ParseUint(va.tstatus[tid]["voluntary_ctxt_switches"], 10, 64)
		c, _ := strconv.ParseUint(vc.tstatus[tid]["voluntary_ctxt_switches"], 10, 64)
		if va.tstatus[tid]["nonvoluntary_ctxt_switches"] == vc.tstatus[tid]["nonvoluntary_ctxt_switches"] && a == c {
			// It did not run between the /proc reads, so its state held
			// still. (The helper's fast workers wake every 2 ms: S, R, S
			// with the same letter both times is a thread that ran.)
			same(t, tid, "thread state", A.f[0], string(tk.StateLetter()), C.f[0])
		}
		same(t, tid, "thread comm", A.comm, string(tk.Comm()), C.comm)
		same(t, tid, "thread nice", A.i(19), tk.Nice(), C.i(19))
		u, st := tk.CPUTimeTicks()
		within(t, tid, "thread utime+stime", A.u(14)+A.u(15), u+st, C.u(14)+C.u(15)+1)
		within(t, tid, "thread minflt", A.u(10), tk.MinFlt, C.u(10))
		within(t, tid, "thread voluntary switches", a, tk.VolCtx, c)
		sumA += a
		sumC += c
	}
	if l := b[pid]; l != nil && l.group.ExitedVolCtx == 0 {
		within(t, pid, "process voluntary switches", sumA, l.tot.VolCtx, sumC)
	}
}

func ids(v [4]int) string {
	s := make([]string, 4)
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, "\t")
}

func nspids(g *Group) string {
	s := make([]string, g.NSPidsLen)
	for i := range s {
		s[i] = strconv.Itoa(g.NSPids[i])
	}
	return strings.Join(s, "\t")
}

func hex16(v uint64) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

// kB is a status memory line's value; a process without an address
// space has no such line.
func kB(g *Group, pages uint64) string {
	if !g.HasMM {
		return ""
	}
	return strconv.FormatUint(pages*uint64(os.Getpagesize())/1024, 10) + " kB"
}

// TestPassesConcurrently runs passes from several goroutines at once
// (the race detector watches the shared reader pool).
func TestPassesConcurrently(t *testing.T) {
	it := openForTest(t)
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		wg.Go(func() {
			st, err := it.Pass(func(*Task) error { return nil })
			if err != nil {
				t.Error(err)
			}
			counts[i] = st.Tasks
		})
	}
	wg.Wait()
	for i, n := range counts {
		if n == 0 {
			t.Errorf("pass %d saw no task", i)
		}
	}
}

// kernelRelease is uname's release, e.g. "6.18.44-fc".
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// kernelAtLeast reports whether the running kernel is major.minor or
// later.
func kernelAtLeast(major, minor int) bool {
	var v [2]int
	fmt.Sscanf(kernelRelease(), "%d.%d", &v[0], &v[1])
	return v[0] > major || v[0] == major && v[1] >= minor
}

// TestPassStoppedExitCode: a stopped process's exit_code is its stop
// signal, as stat shows it (do_task_stat takes the group's
// group_exit_code while the group is stopped), not its leader's 0.
func TestPassStoppedExitCode(t *testing.T) {
	it := openForTest(t)
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the test binary, should it die
	if err := livehelper.StartSteady(cmd); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var st procStat
	for range 500 {
		var ok bool
		if st, ok = readStat("/proc/" + strconv.Itoa(pid) + "/stat"); ok && st.f[0] == "T" {
			break
		}
		livehelper.Sleep()
	}
	if st.f[0] != "T" || st.i(52) != int64(syscall.SIGSTOP) {
		t.Fatalf("stat of the stopped sleep: state %s exit_code %d", st.f[0], st.i(52))
	}
	b := passAll(t, it)
	s := b[pid]
	if s == nil {
		t.Fatal("the stopped process is not in the pass")
	}
	if got := s.group.ExitCode(&s.task); got != int32(syscall.SIGSTOP) {
		t.Errorf("iterator exit code %d, want %d (SIGSTOP)", got, syscall.SIGSTOP)
	}
}

// TestPassExeIdentity: the group record's executable identity is the
// file /proc/PID/exe links to (stat of the link: inode and device), and
// two processes with the same mount and dentry have the same link.
func TestPassExeIdentity(t *testing.T) {
	it := openForTest(t)
	m := passAll(t, it)
	checked := 0
	links := map[ExeID]string{}
	for pid, s := range m {
		if s.task.TID != s.task.TGID {
			continue
		}
		g := &s.group
		p := "/proc/" + strconv.Itoa(pid) + "/exe"
		link, err := os.Readlink(p)
		if err != nil {
			continue // exited, a kernel thread, or no exe
		}
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			continue
		}
		if !g.HasExe {
			t.Errorf("pid %d: exe %q but no identity in the record", pid, link)
			continue
		}
		if st.Ino != g.Exe.Ino || st.Dev != g.Exe.StatDev() {
			// An exec between the pass and the stat changes both: a
			// process that still differs in a second pass is wrong.
			again := passAll(t, it)[pid]
			if again != nil && again.group.Exe.Ino != st.Ino {
				t.Errorf("pid %d (%s): exe inode %d dev %#x, record %d %#x", pid, link, st.Ino, st.Dev, g.Exe.Ino, g.Exe.StatDev())
			}
			continue
		}
		id := ExeID{Mount: g.Exe.Mount, Dentry: g.Exe.Dentry}
		if prev, ok := links[id]; ok && prev != link {
			t.Errorf("pid %d: exe %q, another process with the same mount and dentry links to %q", pid, link, prev)
		}
		links[id] = link
		checked++
	}
	if checked < 3 {
		t.Fatalf("only %d processes checked", checked)
	}
	t.Logf("%d processes, %d distinct executables", checked, len(links))
}
