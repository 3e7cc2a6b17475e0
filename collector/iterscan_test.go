package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// newIterReader is a Reader on the task iterator, skipping when this
// test binary may not load BPF (not root) and failing when it should.
func newIterReader(t *testing.T, o Options) *Reader {
	t.Helper()
	o.Backend = BackendTaskIter
	r, err := NewReader(o)
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("not root: %v", err)
		}
		t.Fatalf("as root: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// How each Process field may differ between a /proc snapshot and a
// task-iterator snapshot taken between two /proc ones.
var (
	// Counters only grow: the iterator's value lies between the two /proc
	// reads.
	iterCounters = map[string]bool{
		"MinFlt": true, "MajFlt": true, "DelayTicks": true, "LeaderVol": true, "LeaderInv": true,
		"VolCtx": true, "InvolCtx": true, "CPUDelayNs": true,
	}
	// Fields that move while a process runs: compared on the quiet
	// helpers only (equal when both /proc reads agree).
	// SigIgn and SigCgt too: a Go test binary beside this one (the
	// dashboard run in-process) sets and resets its SIGHUP handler, and
	// was seen ignoring it at both /proc reads and catching it at the
	// pass between them. The quiet helpers' are compared exactly.
	iterVolatile = map[string]bool{
		"State": true, "Processor": true, "RSSBytes": true, "VSizeBytes": true,
		"VmPeakB": true, "VmSwapB": true, "SharedBytes": true, "NumThreads": true, "Flags": true, "SigPnd": true,
		"ShdPnd": true, "SigBlk": true, "SigIgn": true, "SigCgt": true, "Read": true, "Unavailable": true,
	}
	// Different by design: the context-switch source names the backend.
	iterSkip = map[string]bool{
		"CtxSource": true, "Threads": true, "UTimeTicks": true, "STimeTicks": true,
	}
)

// TestBackendsAgree takes a /proc snapshot (A), a task-iterator snapshot
// (B) and a /proc snapshot (C) of the live machine, with threads, and
// holds B to A and C field by field: equal where A and C agree, between
// them for counters. Every field of Process is covered (by reflection:
// a field added later is compared too). The quiet helpers (sleeping
// threads, zombies, a hostile name, a process whose leader exited) are
// compared in full, threads included; the rest of the machine on the
// fields that do not wobble. The iterator's Reader reads the cmdlines
// as a one-shot command does (Options.BPFCmdlines), with helpers that
// rewrote their argv as setproctitle does and one whose argument area
// the cmdline program must leave to /proc (a userfaultfd over it).
func TestBackendsAgree(t *testing.T) {
	backendsAgree(t, true, func([]int) ScanOptions { return ScanOptions{Threads: true} })
}

// TestBackendsAgreeSummed is TestBackendsAgree with the threads of the
// quiet helpers only: the walk then sums every other process's threads
// in the kernel, and its totals must still be /proc's.
func TestBackendsAgreeSummed(t *testing.T) {
	backendsAgree(t, false, func(quiet []int) ScanOptions { return ScanOptions{ThreadPIDs: quiet} })
}

func backendsAgree(t *testing.T, bpfCmdlines bool, scanOpts func(quiet []int) ScanOptions) {
	ri := newIterReader(t, Options{BPFCmdlines: bpfCmdlines})
	// Two /proc Readers: the second must read cmdline and exe afresh, not
	// from the first one's identity memo (a process exiting meanwhile
	// would keep them there).
	rp, err := NewReader(Options{Backend: BackendProc})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	rp2, err := NewReader(Options{Backend: BackendProc})
	if err != nil {
		t.Fatal(err)
	}
	defer rp2.Close()
	helpers := []*livehelper.Proc{
		livehelper.Start(t, "threads", "5"),
		livehelper.Start(t, "zombies", "2"),
		livehelper.Start(t, "comm", "a)b c\x1b[1m"),
		livehelper.Start(t, "leaderexit"),
		livehelper.Start(t, "threads", "1"), // stopped below
		// Ignored and caught signals that stay put: the masks are
		// compared on quiet helpers only, and the others' are 0.
		livehelper.Start(t, "sigdisp"),
		livehelper.Start(t, "title", "long", "long-title-", "300"),
		livehelper.Start(t, "title", "pad", "padded"),
		livehelper.Start(t, "title", "nul", "nul-padded"),
		livehelper.Start(t, "uffdargs"),
	}
	// A process stopped by SIGSTOP: /proc's stat field 52 shows 19 for it,
	// which is no exit status (both backends say 0 for a live process).
	if err := syscall.Kill(helpers[4].PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	quiet := map[int]bool{}
	for _, h := range helpers {
		for _, pid := range h.PIDs {
			quiet[pid] = true
		}
	}
	waitState(t, helpers[3].PID(), 'Z')
	waitState(t, helpers[4].PID(), 'T')

	ctx := context.Background()
	var quietPIDs []int
	for _, h := range helpers {
		quietPIDs = append(quietPIDs, h.PID())
	}
	opts := scanOpts(quietPIDs)
	a, err := rp.Scan(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ri.Scan(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rp2.Scan(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Collector != BackendProc || b.Collector != BackendTaskIter || b.CtxSwitchSource != CtxTaskIter {
		t.Fatalf("collectors %q %q, ctx source %q", a.Collector, b.Collector, b.CtxSwitchSource)
	}
	if bpfCmdlines != (b.CmdlinesBPF > 0) {
		t.Errorf("%d cmdlines from the cmdline program (asked for: %v)", b.CmdlinesBPF, bpfCmdlines)
	}
	if !b.ThreadsRead && opts.Threads {
		t.Error("ThreadsRead not set")
	}
	index := func(s *Snapshot) map[int]*Process {
		m := make(map[int]*Process, len(s.Processes))
		for i := range s.Processes {
			m[s.Processes[i].PID] = &s.Processes[i]
		}
		return m
	}
	am, bm, cm := index(a), index(b), index(c)
	const sigHUP, sigUSR2 = 1 << 0, 1 << 11
	for _, m := range []map[int]*Process{am, bm, cm} {
		if p := m[helpers[5].PID()]; p == nil {
			t.Fatalf("sigdisp helper %d missing", helpers[5].PID())
		} else if p.SigIgn&sigUSR2 == 0 || p.SigCgt&sigHUP == 0 {
			t.Fatalf("sigdisp helper (%s): SigIgn %#x SigCgt %#x; want SIGUSR2 ignored and SIGHUP caught", p.CtxSource, p.SigIgn, p.SigCgt)
		}
	}
	compared := 0
	var changed []string
	for pid, pa := range am {
		pc := cm[pid]
		if pc == nil || pc.StartTicks != pa.StartTicks {
			continue // exited or replaced between the /proc reads
		}
		pb := bm[pid]
		if pb == nil {
			t.Errorf("pid %d (%q) is in both /proc snapshots, not in the iterator's", pid, pa.Comm)
			continue
		}
		if why := changedBetween(pa, pc); why != "" && !quiet[pid] {
			// Another program's process that exited, began to exit or
			// exec'd between the /proc reads: the iterator's read, in
			// between, may be of neither state (another session's
			// fork-heavy program: a leader already without its memory
			// in the pass, with it at both /proc reads).
			changed = append(changed, fmt.Sprintf("%d (%q): %s", pid, pa.Comm, why))
			continue
		}
		if !opts.Threads && !quiet[pid] && (pa.State == 'Z' || pc.State == 'Z') {
			// Read without its threads, a process whose leader has
			// exited is read through whichever thread still lives, and
			// while a workload is torn down its threads die between the
			// reads (seen: the /proc scans' switch totals twice the
			// kernel's sum, a resident set read through a thread that
			// was gone). The quiet helpers include such a process, read
			// with its threads.
			continue
		}
		compared++
		compareProcess(t, pa, pb, pc, quiet[pid])
	}
	for pid := range quiet {
		if bm[pid] == nil {
			t.Errorf("helper %d missing", pid)
		}
	}
	if len(changed) > 0 {
		slices.Sort(changed)
		t.Logf("%d processes not compared, changed between the /proc reads: %s", len(changed), strings.Join(changed, "; "))
	}
	t.Logf("compared %d processes (%d listed); iterator scan %v, /proc scans %v and %v",
		compared, len(b.Processes), b.ScanDuration, a.ScanDuration, c.ScanDuration)
}

// changedBetween says how a process changed between two /proc reads, a
// and c, in a way that lets a read between them differ from both: it
// ended or its leader exited, it was exiting (PF_EXITING: its memory may
// be gone at one read and not the other), or it exec'd (or renamed
// itself, or rewrote its command line). "" when it did none of these.
func changedBetween(a, c *Process) string {
	const pfExiting, pfWQWorker = 0x4, 0x20
	switch {
	case a.IsZombie() != c.IsZombie() || a.LeaderExited() != c.LeaderExited():
		return fmt.Sprintf("state %c then %c, %d then %d threads", a.State, c.State, a.NumThreads, c.NumThreads)
	case (a.Flags|c.Flags)&pfExiting != 0 && (a.State != 'Z' || c.State != 'Z'):
		// (A zombie leader keeps the flag: not a change.)
		return fmt.Sprintf("exiting (flags %#x then %#x)", a.Flags, c.Flags)
	case a.Comm != c.Comm && a.Flags&pfWQWorker == 0, a.Exe != c.Exe, !slices.Equal(a.Cmdline, c.Cmdline):
		return fmt.Sprintf("exec'd or renamed (%q %q then %q %q)", a.Comm, a.Exe, c.Comm, c.Exe)
	}
	return ""
}

func waitState(t *testing.T, pid int, state byte) {
	t.Helper()
	r, err := NewReader(Options{Backend: BackendProc, NoTaskstats: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range 500 {
		if p, _, err := r.Process(pid); err == nil && p.State == state {
			return
		}
		livehelper.Sleep()
	}
	t.Fatalf("pid %d never reached state %c", pid, state)
}

// threadExited reports whether a thread of a is not in c (both read
// with threads): it exited between the two reads.
func threadExited(a, c *Process) bool {
	if c.NumThreads < a.NumThreads {
		return true
	}
	now := make(map[int]bool, len(c.Threads))
	for _, th := range c.Threads {
		now[th.TID] = true
	}
	for _, th := range a.Threads {
		if !now[th.TID] {
			return true
		}
	}
	return false
}

func compareProcess(t *testing.T, a, b, c *Process, quiet bool) {
	t.Helper()
	va, vb, vc := reflect.ValueOf(*a), reflect.ValueOf(*b), reflect.ValueOf(*c)
	// A workqueue worker's name ends with the work it last ran, which
	// changes from one moment to the next.
	const pfWQWorker = 0x20
	wqWorker := a.Flags&pfWQWorker != 0
	for _, f := range reflect.VisibleFields(va.Type()) {
		if f.Anonymous || iterSkip[f.Name] || (!quiet && iterVolatile[f.Name]) || wqWorker && f.Name == "Comm" {
			continue
		}
		x, y, z := va.FieldByIndex(f.Index).Interface(), vb.FieldByIndex(f.Index).Interface(), vc.FieldByIndex(f.Index).Interface()
		if iterCounters[f.Name] {
			ctx := strings.HasSuffix(f.Name, "Ctx") || f.Name == "CPUDelayNs"
			if ctx && a.IsZombie() {
				continue // a /proc zombie keeps only its leader's counts
			}
			lo, hi, v := x.(uint64), z.(uint64), y.(uint64)
			// The iterator's whole-process switch totals are the kernel's
			// own (getrusage's: the signal struct's count of released
			// threads plus every thread in the list). Taskstats' TGID
			// totals, which the /proc backend reports, miss the switches
			// a thread makes while it exits, a few per exited thread: for
			// a process some of whose threads exited, the iterator's
			// totals may be above the later /proc read. The quiet helpers
			// have no exited thread, but for a zombie leader.
			upper := !ctx || (quiet && !a.LeaderExited())
			// A thread that exits during the pass may be in neither
			// half of the iterator's total: the signal struct was read
			// before the thread's counts were added to it, and the
			// thread was gone when the walk reached its tid. Its
			// counts come back in the next pass; when a thread exited
			// between the /proc reads, only the upper bound holds.
			lower := !threadExited(a, c)
			if lower && v < min(lo, hi) || upper && v > max(lo, hi) {
				t.Errorf("pid %d (%q, state %c, quiet %v) %s: iterator %d, /proc %d then %d", a.PID, a.Comm, a.State, quiet, f.Name, v, lo, hi)
			}
			continue
		}
		if reflect.DeepEqual(x, z) && !reflect.DeepEqual(x, y) {
			t.Errorf("pid %d (%q) %s: iterator %#v, /proc %#v both times", a.PID, a.Comm, f.Name, y, x)
		}
	}
	// User and system time: the split may shift between reads, the sum
	// only grows (tick rounding may add one).
	if s := b.UTimeTicks + b.STimeTicks; s < a.UTimeTicks+a.STimeTicks || s > c.UTimeTicks+c.STimeTicks+1 {
		t.Errorf("pid %d cpu ticks: iterator %d+%d, /proc %d+%d then %d+%d", a.PID,
			b.UTimeTicks, b.STimeTicks, a.UTimeTicks, a.STimeTicks, c.UTimeTicks, c.STimeTicks)
	}
	if quiet {
		compareThreads(t, a, b, c)
	}
}

func compareThreads(t *testing.T, a, b, c *Process) {
	t.Helper()
	byTID := func(p *Process) map[int]*Thread {
		m := map[int]*Thread{}
		for i := range p.Threads {
			m[p.Threads[i].TID] = &p.Threads[i]
		}
		return m
	}
	bt, ct := byTID(b), byTID(c)
	if len(a.Threads) != len(b.Threads) && len(a.Threads) == len(c.Threads) {
		t.Errorf("pid %d: %d threads from the iterator, %d from /proc", a.PID, len(b.Threads), len(a.Threads))
	}
	for i := range a.Threads {
		ta := &a.Threads[i]
		tb, tc := bt[ta.TID], ct[ta.TID]
		if tc == nil {
			continue
		}
		if tb == nil {
			t.Errorf("pid %d thread %d missing from the iterator", a.PID, ta.TID)
			continue
		}
		xa, xb, xc := *ta, *tb, *tc
		// Counters are checked below; a thread's state can go S, R, S
		// between the reads on a loaded machine (an R seen only by the
		// middle read): it is held to /proc's when the thread did not
		// run between the /proc reads (no switch), else to a valid letter.
		if !strings.ContainsRune(StateLetters, rune(tb.State)) {
			t.Errorf("pid %d thread %d: state %q", a.PID, tb.TID, tb.State)
		}
		still := ta.HasStatus && tc.HasStatus && ta.VolCtx == tc.VolCtx && ta.InvolCtx == tc.InvolCtx
		if still && ta.State == tc.State && tb.State != ta.State {
			t.Errorf("pid %d thread %d: state %c from the iterator, %c from /proc both times (it did not run)", a.PID, tb.TID, tb.State, ta.State)
		}
		// A runnable thread may be moved to another CPU's queue
		// without running (load balancing; seen for a new thread
		// that had not run yet on a loaded machine: CPU 0, 1, 0): its
		// CPU is compared only when no read saw it runnable.
		// A thread that has not switched yet has not run since it was
		// made: it is runnable all along, whatever letter a read shows.
		// One that ran between the /proc reads (its switches changed)
		// may have run on another CPU in between.
		notRun := ta.VolCtx+ta.InvolCtx == 0 && tc.VolCtx+tc.InvolCtx == 0
		runnable := ta.State == 'R' || tb.State == 'R' || tc.State == 'R' || notRun || !still
		for _, x := range []*Thread{&xa, &xb, &xc} {
			x.UTimeTicks, x.STimeTicks, x.VolCtx, x.InvolCtx, x.CPUDelayNs, x.State = 0, 0, 0, 0, 0, 0
			if runnable {
				x.Processor = 0
			}
		}
		if xa == xc && xa != xb {
			t.Errorf("pid %d thread: iterator %+v, /proc %+v both times", a.PID, xb, xa)
		}
		delay := [3]uint64{ta.CPUDelayNs, tb.CPUDelayNs, tc.CPUDelayNs}
		if ta.State == 'Z' || ta.TID == a.PID {
			// The /proc backend has no run-queue delay for the leader
			// thread (its status file has none, and it is left out of
			// the per-thread taskstats batch) nor for an exited thread
			// (its query fails): it shows 0 there; the iterator has it.
			delay = [3]uint64{}
		}
		for _, k := range [][3]uint64{
			{ta.VolCtx, tb.VolCtx, tc.VolCtx}, {ta.InvolCtx, tb.InvolCtx, tc.InvolCtx},
			delay,
			{ta.UTimeTicks + ta.STimeTicks, tb.UTimeTicks + tb.STimeTicks, tc.UTimeTicks + tc.STimeTicks + 1},
		} {
			if k[1] < k[0] || k[1] > k[2] {
				t.Errorf("pid %d thread %d: iterator %d, /proc %d then %d", a.PID, ta.TID, k[1], k[0], k[2])
			}
		}
	}
}

// TestBackendChoice: auto picks the iterator on this machine's /proc as
// root and says nothing; a fixture tree is read from /proc without a
// note; asking for the iterator on a fixture tree is an error saying why.
func TestBackendChoice(t *testing.T) {
	r := newIterReader(t, Options{})
	if b, why := r.Backend(); b != BackendTaskIter || why != nil {
		t.Errorf("%v %v", b, why)
	}
	auto, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer auto.Close()
	if b, _ := auto.Backend(); b != BackendTaskIter {
		t.Errorf("auto as root: %v", b)
	}
	fx := fixtureReader(t, "multithread", false)
	defer fx.Close()
	s := snap(t, fx)
	if s.Collector != BackendProc || s.CollectorNote != "" {
		t.Errorf("fixture: %q %q", s.Collector, s.CollectorNote)
	}
	if _, err := NewReader(Options{Root: fx.Root(), Backend: BackendTaskIter}); err == nil || !strings.Contains(err.Error(), "this machine's tasks") {
		t.Errorf("iterator on a fixture: %v", err)
	}
	if _, err := NewReader(Options{Backend: "bogus"}); err == nil {
		t.Error("unknown backend accepted")
	}
}

func TestParseTaskTotal(t *testing.T) {
	for in, want := range map[string]int{
		"0.43 0.31 0.27 2/18350 4242\n": 18350,
		"1 2 3 10/7 1":                  7,
		"1 2 3 10/":                     -1,
		"garbage":                       -1,
		"1 2 3 1/99999999999999 5":      -1,
	} {
		got, ok := parseTaskTotal([]byte(in))
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("%q: %d, want %d", in, got, want)
		}
	}
}

// TestIterScansFindHidden: repeated scans of one Reader keep every
// process /proc lists, whether they list /proc again or take the
// kernel's task count as proof that only the known hidden ones are
// missing from the pass.
func TestIterScansFindHidden(t *testing.T) {
	r := newIterReader(t, Options{})
	churn := livehelper.Start(t, "churn", "200", "0", filepath.Join(t.TempDir(), "churn"))
	_ = churn
	for i := range 6 {
		s, err := r.Scan(context.Background(), ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		have := map[int]bool{}
		for k, p := range s.Processes {
			if have[p.PID] || k > 0 && s.Processes[k-1].PID >= p.PID {
				t.Fatalf("scan %d: pid %d twice or out of order", i, p.PID)
			}
			have[p.PID] = true
		}
		// Processes that exist both before and after this check must be
		// in the snapshot (pid 1 is hidden from the iterator here).
		for pid := range listPIDs(t) {
			if !have[pid] {
				if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil && pid < s.Processes[len(s.Processes)-1].PID && existedAt(pid, s) {
					t.Errorf("scan %d: pid %d missing", i, pid)
				}
			}
		}
		if !have[1] {
			t.Errorf("scan %d: pid 1 missing", i)
		}
	}
}

// existedAt reports whether pid started before the snapshot was taken.
func existedAt(pid int, s *Snapshot) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	st, err := parseStat(b)
	if err != nil {
		return false
	}
	started, ok := StartTime(s.Host.BootTime, st.starttime)
	return ok && started.Add(time.Second).Before(s.TakenAt)
}

// TestCloseDuringIterScan: Close while another goroutine scans on the
// task iterator (a server shutting down while a request scans). The
// iterator is unloaded only once the scan in flight has finished its
// pass (run with -race), and every scan is either a whole snapshot or
// ErrClosed: never one read from /proc because the iterator went away
// under it.
func TestCloseDuringIterScan(t *testing.T) {
	r := newIterReader(t, Options{})
	ctx := context.Background()
	if _, err := r.Scan(ctx, ScanOptions{}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		for {
			snap, err := r.Scan(ctx, ScanOptions{})
			if err != nil {
				done <- err
				return
			}
			if snap.Collector != BackendTaskIter {
				done <- errors.New("a scan fell back to /proc: " + snap.CollectorNote)
				return
			}
		}
	}()
	<-started
	livehelper.Sleep()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("the scan loop ended with %v, want ErrClosed", err)
	}
}

// TestIterCmdlineIdleReuse: past the cmdline TTL, the iterator backend
// reuses the cmdline of a process that has not run since it was read
// (its exact totals unchanged) and reads again that of a process that
// ran.
func TestIterCmdlineIdleReuse(t *testing.T) {
	r := newIterReader(t, Options{CmdlineTTL: time.Nanosecond})
	idle := exec.Command("sleep", "300")
	idle.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the test binary, should it die
	if err := livehelper.StartSteady(idle); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { idle.Process.Kill(); idle.Wait() })
	spin := livehelper.Start(t, "spin")
	ctx := context.Background()
	// The first snapshot is one where sleep has gone to sleep for good:
	// seen sleeping, with its cmdline, and not run since the scan before
	// (on a loaded machine it may still be starting when it first shows).
	var first *Snapshot
	var lastRan uint64
	for range 500 {
		s, err := r.Scan(ctx, ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p := findProc(s, idle.Process.Pid); p != nil && p.Comm == "sleep" && len(p.Cmdline) == 2 && p.State == 'S' {
			if ran := ranCount(p); ran == lastRan {
				first = s
				break
			} else {
				lastRan = ran
			}
		}
		livehelper.Sleep()
	}
	if first == nil {
		t.Fatal("sleep 300 never showed with its cmdline")
	}
	// The spinner runs between the scans; sleep does not. Scanned until
	// the spinner's counters show it ran since the first: on a machine
	// loaded by a whole make test it was seen not to in 20 ms, and its
	// cmdline was then rightly reused (the test failed a land).
	sp := findProc(first, spin.PID())
	if sp == nil {
		t.Fatalf("spinner %d not in the first snapshot", spin.PID())
	}
	firstRan := ranCount(sp)
	var second *Snapshot
	for range 500 {
		livehelper.Sleep()
		s, err := r.Scan(ctx, ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p := findProc(s, spin.PID()); p != nil && ranCount(p) != firstRan {
			second = s
			break
		}
	}
	if second == nil {
		t.Fatal("the spinner never ran")
	}
	same := func(pid int) bool {
		a, b := findProc(first, pid), findProc(second, pid)
		if a == nil || b == nil || len(a.Cmdline) == 0 || len(b.Cmdline) == 0 {
			t.Fatalf("pid %d or its cmdline missing", pid)
		}
		if !slices.Equal(a.Cmdline, b.Cmdline) {
			t.Fatalf("pid %d cmdline %q then %q", pid, a.Cmdline, b.Cmdline)
		}
		return &a.Cmdline[0] == &b.Cmdline[0] // the memo's, not read again
	}
	if !same(idle.Process.Pid) {
		t.Error("the idle process's cmdline was read again past the TTL")
	}
	if same(spin.PID()) {
		t.Error("the running process's cmdline was reused past the TTL")
	}
}

// TestIterScanSizesStay: a scan's process slice is sized from the
// population, and stays so scan after scan (a dashboard scans every
// second for hours). Sizing it from the previous slice's capacity grew it
// by a thirty-second every scan: twenty times the processes in two
// minutes of a dashboard, most of its heap.
func TestIterScanSizesStay(t *testing.T) {
	r := newIterReader(t, Options{})
	var first int
	for i := range 40 {
		s, err := r.Scan(context.Background(), ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n, c := len(s.Processes), cap(s.Processes)
		if i == 0 {
			first = n
		}
		// The population may move (other tests run); the capacity may
		// exceed it by the margin for newcomers, never grow with the
		// number of scans.
		if limit := 2*max(n, first) + 64; c > limit {
			t.Fatalf("scan %d: %d processes in a slice of capacity %d (first scan: %d processes)", i, n, c, first)
		}
	}
}

// TestMissingParents: the parents a pass names but did not show are
// found once each, in pid order (the hidden processes a first scan reads
// before it would list /proc).
func TestMissingParents(t *testing.T) {
	var procs []Process
	for _, pp := range [][2]int{{2, 0}, {5, 1}, {7, 5}, {9, 40}, {12, 1}, {13, 2}} {
		procs = append(procs, Process{PID: pp[0], ProcStat: ProcStat{PPID: pp[1]}})
	}
	got := missingParents(procs, nil)
	if !slices.Equal(got, []int{1, 40}) {
		t.Errorf("missingParents = %v, want [1 40]", got)
	}
}

// TestIterSharedExe: processes that run the same executable share one
// readlink of it, and each still shows its own link: two hard links of
// one file are two paths, and a deleted executable keeps its mark.
func TestIterSharedExe(t *testing.T) {
	r := newIterReader(t, Options{})
	dir := t.TempDir()
	a, hard, gone := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	livehelper.CopiesOf(t, "sleep", a, gone)
	if err := os.Link(a, hard); err != nil {
		t.Fatal(err)
	}
	want := map[int]string{}
	for _, bin := range []string{a, a, hard, hard, gone, gone, a} {
		want[livehelper.Exec(t, bin, "600")] = bin
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	s, err := r.Scan(context.Background(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, p := range s.Processes {
		bin, ok := want[p.PID]
		if !ok {
			continue
		}
		found++
		if p.Exe != bin || p.ExeDeleted != (bin == gone) {
			t.Errorf("pid %d: exe %q deleted %v, want %q deleted %v", p.PID, p.Exe, p.ExeDeleted, bin, bin == gone)
		}
	}
	if found != len(want) {
		t.Errorf("%d of %d processes in the snapshot", found, len(want))
	}
}

// TestIterFirstScanLists: a Reader's first task-iterator scan (a
// one-shot command's only one) finds every process /proc lists, whether
// it listed /proc or proved from the kernel's counts of tasks and forks
// that the pass and the parents it read saw every task (pid 1 is hidden
// from the iterator here, and has children in the pass).
func TestIterFirstScanLists(t *testing.T) {
	for i := range 4 {
		r := newIterReader(t, Options{})
		s, err := r.Scan(context.Background(), ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sc := r.idle; sc == nil || !sc.iterListedOnce || sc.iterListedAt == 0 {
			t.Fatalf("scan %d: neither listed /proc nor proved its count (scan state %v)", i, sc != nil)
		}
		have := map[int]bool{}
		for _, p := range s.Processes {
			have[p.PID] = true
		}
		for pid := range listPIDs(t) {
			if !have[pid] && existedAt(pid, s) {
				if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil && pid < s.Processes[len(s.Processes)-1].PID {
					t.Errorf("scan %d (listed %v): pid %d missing", i, r.idle.iterListed, pid)
				}
			}
		}
		if !have[1] {
			t.Errorf("scan %d (listed %v): pid 1 missing", i, r.idle.iterListed)
		}
		t.Logf("scan %d: listed /proc %v", i, r.idle.iterListed)
		_ = r.Close()
	}
}

// TestHiddenWindowProves: the counts read right after the walk's run
// prove a first scan's pass complete only when they were read and the
// pass and the missing parents' threads are every task there was at the
// window's start plus every one born in it, with the parents the scan
// found.
func TestHiddenWindowProves(t *testing.T) {
	before := taskCounts{tasks: 105, forks: 9000, ok: true}
	good := hiddenWindow{read: true, parents: []int{1}, threads: 5, forks: 9000, forksOK: true}
	if !good.proves(before, 100, []int{1}) {
		t.Fatal("an unchanged, matching window not proven")
	}
	born := good
	born.forks += 2
	if !born.proves(before, 102, []int{1}) {
		t.Error("two forks the pass saw: not proven")
	}
	bad := map[string]func(w *hiddenWindow) (int, []int){
		"not read":          func(w *hiddenWindow) (int, []int) { w.read = false; return 100, []int{1} },
		"forks unread":      func(w *hiddenWindow) (int, []int) { w.forksOK = false; return 100, []int{1} },
		"a fork not seen":   func(w *hiddenWindow) (int, []int) { w.forks++; return 100, []int{1} },
		"one hidden":        func(w *hiddenWindow) (int, []int) { return 99, []int{1} },
		"forks went back":   func(w *hiddenWindow) (int, []int) { w.forks -= 2; return 98, []int{1} },
		"other parents":     func(w *hiddenWindow) (int, []int) { return 100, []int{1, 7} },
		"parent missing":    func(w *hiddenWindow) (int, []int) { return 100, nil },
		"parent not read":   func(w *hiddenWindow) (int, []int) { w.threads = 0; return 100, []int{1} },
		"one hidden, forks": func(w *hiddenWindow) (int, []int) { w.forks += 3; return 102, []int{1} },
	}
	for name, f := range bad {
		w := good
		w.parents = slices.Clone(good.parents)
		tasks, parents := f(&w)
		if w.proves(before, tasks, parents) {
			t.Errorf("%s: proven", name)
		}
	}
	if good.proves(taskCounts{tasks: 105, forks: 9000}, 100, []int{1}) {
		t.Error("before's counts not read: proven")
	}
}

// TestCountWindowProves: the counting window proves a first scan's
// hidden processes known only when the counting run ran, the counts
// before and after it are both read and the same, and the walk's count
// with the parents' threads is the kernel's count of tasks.
func TestCountWindowProves(t *testing.T) {
	c := taskCounts{tasks: 105, forks: 9000, ok: true}
	good := countWindow{before: c, after: c, seen: 105, counted: true}
	if !good.proves() {
		t.Fatal("an unchanged, matching window not proven")
	}
	bad := map[string]func(w *countWindow){
		"not counted":         func(w *countWindow) { w.counted = false },
		"one hidden":          func(w *countWindow) { w.seen-- },
		"a fork":              func(w *countWindow) { w.after.forks++; w.after.tasks++; w.seen++ },
		"a fork and a reap":   func(w *countWindow) { w.after.forks++ },
		"a reap":              func(w *countWindow) { w.after.tasks-- },
		"before not read":     func(w *countWindow) { w.before.ok = false },
		"after not read":      func(w *countWindow) { w.after.ok = false },
		"more seen than runs": func(w *countWindow) { w.seen++ },
	}
	for name, f := range bad {
		w := good
		f(&w)
		if w.proves() {
			t.Errorf("%s: proven", name)
		}
	}
}

// TestCountTasksIsKernelCount: the walk's counting run and the threads
// of the processes hidden from it (read from /proc by the scan: pid 1
// here) add up to the kernel's count of tasks in /proc/loadavg, in a
// window where no task was born or reaped: the sum the counting window
// (countWindow) compares.
func TestCountTasksIsKernelCount(t *testing.T) {
	r := newIterReader(t, Options{})
	if r.iter.WalkUnavailable != nil {
		t.Skip("no walk: ", r.iter.WalkUnavailable)
	}
	if _, err := r.Scan(context.Background(), ScanOptions{}); err != nil {
		t.Fatal(err)
	}
	sc := r.idle
	hidden := slices.Clone(sc.iterHidden)
	deadline := time.Now().Add(20 * time.Second)
	for tries := 1; ; tries++ {
		w := sc.readCountWindow(hidden)
		if !w.counted {
			t.Fatal("the counting run did not run")
		}
		if w.before.unchanged(w.after) {
			if w.seen != w.before.tasks {
				t.Fatalf("the walk's count and the hidden processes' (%v) threads are %d tasks, the kernel's count %d", hidden, w.seen, w.before.tasks)
			}
			t.Logf("%d tasks (hidden %v), in try %d", w.seen, hidden, tries)
			return
		}
		if time.Now().After(deadline) {
			t.Skipf("no window without a fork or a reap in %d tries", tries)
		}
	}
}

// TestIterFirstScanWindow: a Reader's first scan reads the window right
// after the walk's run, with the parents it then finds hidden (pid 1 here).
func TestIterFirstScanWindow(t *testing.T) {
	r := newIterReader(t, Options{})
	if r.iter.WalkUnavailable != nil {
		t.Skip("no walk: ", r.iter.WalkUnavailable)
	}
	s, err := r.Scan(context.Background(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := r.idle.iterWindow
	if !w.read || !w.forksOK || w.forks == 0 {
		t.Fatalf("window not read: %+v", w)
	}
	var procs []Process
	for _, p := range s.Processes {
		if slices.Contains(r.idle.iterHidden, p.PID) {
			continue
		}
		procs = append(procs, p)
	}
	if want := missingParents(procs, nil); !slices.Equal(w.parents, want) {
		t.Errorf("window's parents %v, the scan's %v", w.parents, want)
	}
	if w.threads < len(w.parents) {
		t.Errorf("window %+v", w)
	}
	t.Logf("window %+v, listed /proc %v", w, r.idle.iterListed)
}

// TestTaskCounts: the counts that prove a first scan's pass complete
// change when a process is born between two reads, and are read from
// /proc/stat's "processes" line.
func TestTaskCounts(t *testing.T) {
	var buf []byte
	before := readTaskCounts("/proc", &buf)
	if !before.ok || before.forks == 0 || before.tasks == 0 {
		t.Fatalf("counts not read: %+v", before)
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Fatal(err)
	}
	after := readTaskCountsAfter("/proc", &buf)
	if before.unchanged(after) || after.forks <= before.forks {
		t.Errorf("a fork between the reads: %+v then %+v, taken as unchanged", before, after)
	}
	if before.unchanged(taskCounts{tasks: before.tasks, forks: before.forks}) {
		t.Error("a count not read taken as unchanged")
	}
	if !before.unchanged(before) {
		t.Error("equal counts not unchanged")
	}
	if (taskCounts{tasks: 5, forks: 9, ok: true}).unchanged(taskCounts{tasks: 4, forks: 9, ok: true}) {
		t.Error("a task reaped, taken as unchanged")
	}
	for in, want := range map[string]uint64{
		"cpu  1 2 3\nctxt 99\nbtime 17\nprocesses 123456\nprocs_running 2\n": 123456,
		"cpu 1\nprocesses 18446744073709551615":                              18446744073709551615,
	} {
		if got, ok := parseForkCount([]byte(in)); !ok || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{
		"processes 5\n", // not after a newline: not the line
		"cpu 1\nprocesses \n",
		"cpu 1\nprocesses x\n",
		"cpu 1\nprocesses 18446744073709551616\n",
	} {
		if got, ok := parseForkCount([]byte(in)); ok {
			t.Errorf("%q: %d, want no count", in, got)
		}
	}
}

// TestIterMemoKeepsNoStatus: a task-iterator Reader keeps, for each
// process, only what it reuses: no status fields (the pass gives them
// every scan) and no io counters unless a scan asked for io. A
// dashboard keeps an entry for each of its 2,000 processes; the status
// alone was 270 bytes of each.
func TestIterMemoKeepsNoStatus(t *testing.T) {
	r := newIterReader(t, Options{StatusTTL: 5 * time.Second, CmdlineTTL: time.Minute})
	var snap *Snapshot
	for range 3 {
		var err error
		if snap, err = r.Scan(context.Background(), ScanOptions{Cgroups: true, FreshStatus: []int{os.Getpid()}}); err != nil {
			t.Fatal(err)
		}
	}
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	n := 0
	for i := range snap.Processes {
		p := &snap.Processes[i]
		c := r.memo.procs[p.PID]
		if p.CtxSource != CtxTaskIter || c == nil {
			continue // read from /proc: hidden from the pass (a sandbox's init)
		}
		n++
		if c.status != nil || c.io != nil {
			t.Fatalf("process %d: the memo keeps status %v, io %v on the task iterator without io asked", p.PID, c.status != nil, c.io != nil)
		}
	}
	if n == 0 {
		t.Fatal("no process of the pass in the memo")
	}
	// What every entry pays (688 bytes with the status and io inline,
	// 320 with the cgroup inline).
	if sz := unsafe.Sizeof(procCache{}); sz > 224 {
		t.Errorf("a memo entry is %d bytes", sz)
	}
}

// TestIterStatusAtScan: every process whose status fields a task-iterator
// scan gave (the pass's, and those read from /proc because the pass did
// not show them) says they are this scan's: StatusAt is the snapshot's
// Monotonic, on the first scan and on a later one.
func TestIterStatusAtScan(t *testing.T) {
	r := newIterReader(t, Options{})
	if !r.iter.Walking() {
		t.Skip(r.iter.WalkUnavailable)
	}
	for scan := range 2 {
		snap, err := r.Scan(context.Background(), ScanOptions{Threads: true})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := range snap.Processes {
			p := &snap.Processes[i]
			if p.Read&SrcStatus == 0 {
				continue
			}
			n++
			if p.StatusAt != snap.Monotonic {
				t.Fatalf("scan %d: process %d (%s): status at %v, the scan at %v", scan, p.PID, p.CtxSource, p.StatusAt, snap.Monotonic)
			}
		}
		if n == 0 {
			t.Fatalf("scan %d: no process with its status", scan)
		}
	}
}

// TestIterIOFromWalk: with the walk, a reader with CAP_SYS_PTRACE reads a
// process's /proc/PID/io once and then takes the walk's sums, which are
// the file's: a helper that did known I/O in three threads (one exited)
// and a process that runs all the time (never idle, so never kept by
// ioIdle) match the file without it being read again, and so does every
// process whose file did not move across the scan. A reader without the
// capability reads the file every time (the kernel's ptrace check is
// the file's).
func TestIterIOFromWalk(t *testing.T) {
	ri := newIterReader(t, Options{})
	if !ri.iter.Walking() {
		t.Skip(ri.iter.WalkUnavailable)
	}
	if !ri.creds.CapSysPtrace {
		t.Skip("no CAP_SYS_PTRACE")
	}
	known := livehelper.Start(t, "iocount", "1000000", "300000")
	spin := livehelper.Start(t, "spin")
	ctx := context.Background()
	scan := func(r *Reader) (*Snapshot, map[int]bool) {
		t.Helper()
		s, err := r.Scan(ctx, ScanOptions{IO: true})
		if err != nil {
			t.Fatal(err)
		}
		read := map[int]bool{}
		for _, i := range r.idle.ioWant {
			read[s.Processes[i].PID] = true
		}
		return s, read
	}
	procIO := func(pid int) (IOCounters, bool) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
		if err != nil {
			return IOCounters{}, false
		}
		c, err := parseProcIO(b)
		return c, err == nil
	}
	first, read := scan(ri)
	for _, h := range []*livehelper.Proc{known, spin} {
		if !read[h.PID()] || findProcess(first, h.PID()) == nil {
			t.Fatalf("first scan: /proc/%d/io not read", h.PID())
		}
	}
	before := map[int]IOCounters{}
	for i := range first.Processes {
		if c, ok := procIO(first.Processes[i].PID); ok {
			before[first.Processes[i].PID] = c
		}
	}
	// The second scan once the spinning helper has run since the first
	// (so ioIdle cannot be what keeps its counters).
	ranSince := func(r *Reader, prev *Snapshot) (*Snapshot, map[int]bool) {
		t.Helper()
		was := ranCount(findProcess(prev, spin.PID()))
		deadline := time.Now().Add(time.Minute)
		for {
			livehelper.Sleep()
			s, read := scan(r)
			if p := findProcess(s, spin.PID()); p != nil && ranCount(p) != was {
				return s, read
			}
			if time.Now().After(deadline) {
				t.Fatal("the spinning helper never ran")
			}
		}
	}
	second, read := ranSince(ri, first)
	compared := 0
	for i := range second.Processes {
		p := &second.Processes[i]
		b, ok := before[p.PID]
		a, ok2 := procIO(p.PID)
		if !ok || !ok2 || a != b || p.Read&SrcIO == 0 {
			continue
		}
		compared++
		if p.IO != a {
			t.Errorf("pid %d (%s): io %+v, /proc/%d/io %+v (read from the file: %v)", p.PID, p.Comm, p.IO, p.PID, a, read[p.PID])
		}
	}
	for _, h := range []*livehelper.Proc{known, spin} {
		p := findProcess(second, h.PID())
		if p == nil || p.Read&SrcIO == 0 {
			t.Fatalf("second scan: pid %d or its io missing", h.PID())
		}
		if read[h.PID()] {
			t.Errorf("second scan read /proc/%d/io again: the walk's sums were not used", h.PID())
		}
	}
	if p := findProcess(second, known.PID()); p != nil && (p.IO.RChar < 2_000_000 || p.IO.WChar < 300_000) {
		t.Errorf("helper io %+v misses its known I/O", p.IO)
	}
	if compared < 10 {
		t.Errorf("%d processes compared", compared)
	}
	// Without CAP_SYS_PTRACE the file is read every time for a process
	// that ran.
	creds := ri.creds
	creds.CapSysPtrace = false
	ru := newIterReader(t, Options{Credentials: &creds})
	if _, read := ranSince(ru, second); !read[spin.PID()] {
		t.Errorf("a reader without CAP_SYS_PTRACE took the walk's io of pid %d", spin.PID())
	}
	t.Logf("%d processes compared with /proc/PID/io", compared)
}

// TestFrontForHidden: hidden processes whose pids come before the pass's
// are put in the free places before it, in pid order, without moving the
// pass, when they fit (the others are left to placeInOrder's insertion);
// placeInOrder puts every process in pid order.
func TestFrontForHidden(t *testing.T) {
	mk := func(pass, hidden []int) (*scan, []Process, int) {
		s := &scan{}
		s.iterFront = make([]Process, hiddenFront, hiddenFront+len(pass)+len(hidden))
		procs := s.iterFront[hiddenFront:hiddenFront]
		for _, pid := range append(slices.Clone(pass), hidden...) {
			procs = append(procs, Process{PID: pid, ProcStat: ProcStat{Comm: "c" + strconv.Itoa(pid)}})
		}
		return s, procs, len(pass)
	}
	pidsOf := func(procs []Process) []int {
		var pids []int
		for _, p := range procs {
			pids = append(pids, p.PID)
			if p.Comm != "c"+strconv.Itoa(p.PID) {
				t.Errorf("pid %d has comm %q", p.PID, p.Comm)
			}
		}
		return pids
	}
	for _, c := range []struct {
		pass, hidden []int
		front        int // hidden processes placed in front
	}{
		{[]int{5, 6, 7}, []int{3, 1}, 2},
		{[]int{5, 6, 7}, []int{9, 1}, 1},              // 9 after the pass: placed by placeInOrder
		{[]int{5, 6, 7}, []int{8, 6, 1, 2}, 2},        // 6: a pid in the pass (hidden last time)
		{[]int{10, 11}, []int{1, 2, 3, 4, 12, 13}, 4}, // as many as the free places
		{[]int{5, 6, 7}, []int{6}, 0},                 // none before the pass
		{[]int{10, 11}, []int{1, 2, 3, 4, 5}, 0},      // more than the free places
		{[]int{5, 6, 7}, nil, 0},                      // nothing hidden
	} {
		s, procs, n := mk(c.pass, c.hidden)
		first := &procs[0]
		got, gotN := s.frontFor(procs, n)
		if gotN != n+c.front || len(got) != len(procs) {
			t.Errorf("pass %v, hidden %v: %d in place of %d, want %d of %d", c.pass, c.hidden, gotN, len(got), n+c.front, len(procs))
			continue
		}
		if &got[c.front] != first {
			t.Errorf("pass %v, hidden %v: the pass's processes were moved", c.pass, c.hidden)
		}
		s, procs, n = mk(c.pass, c.hidden)
		placed := s.placeInOrder(procs, n)
		want := slices.Sorted(slices.Values(append(slices.Clone(c.pass), c.hidden...)))
		if pids := pidsOf(placed); !slices.Equal(pids, want) {
			t.Errorf("pass %v, hidden %v: placed %v, want %v", c.pass, c.hidden, pids, want)
		}
		if c.front > 0 {
			// The copies left behind past the processes are cleared.
			tail := s.iterFront[hiddenFront+len(procs)-c.front : hiddenFront+len(procs)]
			for _, p := range tail {
				if p.PID != 0 {
					t.Errorf("pass %v, hidden %v: a copy of %d kept past the end", c.pass, c.hidden, p.PID)
				}
			}
		}
	}
	// An array that is not the front's (a recycled one) is never used.
	s, procs, n := mk([]int{5}, []int{1})
	s.iterFront = nil
	if got, gotN := s.frontFor(procs, n); gotN != n || &got[0] != &procs[0] {
		t.Error("placed in front without a front")
	}
}

// TestIterFirstScanArenas: a Reader's first task-iterator scan takes its
// processes' names and pid lists from shared arenas (firstComm,
// firstInts): each pid list is its own (full: an append to one does not
// write into the next), each name and list is the process's, and the
// scan lets the arenas go; a later scan takes none from them.
func TestIterFirstScanArenas(t *testing.T) {
	r := newIterReader(t, Options{})
	self := os.Getpid()
	for scan := range 2 {
		s, err := r.Scan(context.Background(), ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sc := r.idle; sc.arenaInts != nil || sc.arenaBytes != nil {
			t.Fatalf("scan %d kept its arenas", scan)
		}
		for i := range s.Processes {
			p := &s.Processes[i]
			if cap(p.NSPids) != len(p.NSPids) {
				t.Fatalf("scan %d: pid %d's pid list %v has room for %d more", scan, p.PID, p.NSPids, cap(p.NSPids)-len(p.NSPids))
			}
			if len(p.NSPids) > 0 && p.NSPids[0] != p.PID {
				t.Errorf("scan %d: pid %d's pid list %v (its pid here first)", scan, p.PID, p.NSPids)
			}
			if p.PID == self && p.Comm != "collector.test" {
				t.Errorf("scan %d: own comm %q", scan, p.Comm)
			}
		}
	}
}

// TestIterCmdlineNeighboursShare: the file reads of a scan's command
// lines give processes with one command line, neighbours in pid order
// (forked workers), one slice of strings, as the cmdline program does
// (sharedParse); a process with another command line gets its own.
func TestIterCmdlineNeighboursShare(t *testing.T) {
	var procs []*exec.Cmd
	start := func(args ...string) *exec.Cmd {
		c := exec.Command(args[0], args[1:]...)
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the test binary, should it die
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, c)
		return c
	}
	t.Cleanup(func() {
		for _, c := range procs {
			c.Process.Kill()
			c.Wait()
		}
	})
	// Several tries: another process forked between two of them (a busy
	// machine) parts them in pid order.
	for try := 0; try < 5; try++ {
		a, b := start("sleep", "301"), start("sleep", "301")
		other := start("sleep", "302")
		r := newIterReader(t, Options{})
		var s *Snapshot
		for range 500 {
			var err error
			if s, err = r.Scan(context.Background(), ScanOptions{}); err != nil {
				t.Fatal(err)
			}
			pa, pb, po := findProc(s, a.Process.Pid), findProc(s, b.Process.Pid), findProc(s, other.Process.Pid)
			if pa != nil && pb != nil && po != nil && len(pa.Cmdline) == 2 && len(pb.Cmdline) == 2 && len(po.Cmdline) == 2 {
				break
			}
			s = nil
			livehelper.Sleep()
		}
		if s == nil {
			t.Fatal("the sleeps never showed with their command lines")
		}
		pa, pb, po := findProc(s, a.Process.Pid), findProc(s, b.Process.Pid), findProc(s, other.Process.Pid)
		if pa.Cmdline[1] != "301" || pb.Cmdline[1] != "301" || po.Cmdline[1] != "302" {
			t.Fatalf("command lines %q, %q, %q", pa.Cmdline, pb.Cmdline, po.Cmdline)
		}
		if &po.Cmdline[0] == &pb.Cmdline[0] {
			t.Fatalf("sleep 302 shares sleep 301's command line")
		}
		// Neighbours: no process between the two in the snapshot.
		ia, ib := -1, -1
		for i := range s.Processes {
			switch s.Processes[i].PID {
			case a.Process.Pid:
				ia = i
			case b.Process.Pid:
				ib = i
			}
		}
		if ib != ia+1 {
			continue
		}
		if &pa.Cmdline[0] != &pb.Cmdline[0] {
			t.Fatalf("neighbours %d and %d, one command line %q, hold two copies", pa.PID, pb.PID, pa.Cmdline)
		}
		return
	}
	t.Skip("the two sleeps were never neighbours in pid order")
}
