package sampler

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/fixtures/livehelper"
	"github.com/pinspect/pinspect/views/report"
)

// The live tests start real programs (fixtures/livehelper), sample them
// over a window as `pinspect explain PID` does, and assert the verdict.
// The machine they run on is shared (other builds, other tests), so every
// assertion is about a cause that holds under load: a verdict that rests
// on the program's own shape, never on a timing.
//
// go test ./collector/sampler -run Live -record writes each sample to
// collector/explain/testdata/NAME.json.gz, where the explain package's
// tests replay them.

var record = flag.Bool("record", false, "write each live sample to ../explain/testdata")

// liveWindow is the window of the live samples.
const liveWindow = 2 * time.Second

func newSampler(t *testing.T) *Sampler {
	t.Helper()
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return New(r, Options{Window: liveWindow})
}

// sampleOf samples pid and, with -record, writes the sample as name.
func sampleOf(t *testing.T, name string, pid int) (*explain.Sample, []explain.Finding) {
	t.Helper()
	sm, err := newSampler(t).Process(context.Background(), pid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *record {
		writeSample(t, name, sm)
	}
	return sm, explain.Explain(sm)
}

func writeSample(t *testing.T, name string, sm *explain.Sample) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(sm); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "explain", "testdata", name+".json.gz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// find returns the finding with id, failing the test with every finding
// when there is none.
func find(t *testing.T, fs []explain.Finding, id string) explain.Finding {
	t.Helper()
	for _, f := range fs {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no %s finding; got:\n%s", id, dump(fs))
	return explain.Finding{}
}

func has(fs []explain.Finding, id string) bool {
	return slices.ContainsFunc(fs, func(f explain.Finding) bool { return f.ID == id })
}

func byQuestion(fs []explain.Finding, q string) *explain.Finding {
	for i := range fs {
		if fs[i].Question == q {
			return &fs[i]
		}
	}
	return nil
}

func dump(fs []explain.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  [%s] %s: %s\n", f.Severity, f.ID, f.Verdict)
		for _, e := range f.Evidence {
			fmt.Fprintf(&b, "      %s [%s]\n", e.Text, e.Source)
		}
	}
	return b.String()
}

func evidence(f explain.Finding, name string) (float64, bool) {
	for _, e := range f.Evidence {
		if e.Name == name && e.Value != nil {
			return *e.Value, true
		}
	}
	return 0, false
}

// cpus is the CPUs this test may use.
func cpus() int { return runtime.NumCPU() }

// TestLiveOversubscribedPool: 64 CPU-bound threads on a 2-CPU machine.
// The verdict is the pool's own oversubscription, and it rests on
// run-queue wait from schedstat (its first evidence), not on involuntary
// switches.
func TestLiveOversubscribedPool(t *testing.T) {
	p := livehelper.Start(t, "cpupool", "64")
	_, fs := sampleOf(t, "cpupool64", p.PID())
	f := find(t, fs, "pool_oversubscribed")
	if f.Evidence[0].Name != "run_queue_wait_per_slice_ms" || !strings.Contains(f.Evidence[0].Source, "schedstat") {
		t.Errorf("the verdict's first evidence is %+v, want run-queue wait from schedstat", f.Evidence[0])
	}
	if w, _ := evidence(f, "run_queue_wait_share"); w < 0.5 {
		t.Errorf("run-queue wait share %.2f: 64 threads on %d CPUs wait most of the time", w, cpus())
	}
	if f.Severity != explain.Warning {
		t.Errorf("severity %s", f.Severity)
	}
	// The process's state is its main thread's (S in pthread_join);
	// its threads are R.
	find(t, fs, "state_hides_threads")
	if b := byQuestion(fs, explain.QBound); b == nil || b.ID != "cpu_bound" {
		t.Errorf("bound: %+v", b)
	}
}

// TestLiveRightSizedPool: as many CPU-bound threads as CPUs is never the
// pool's own oversubscription, whatever else runs on the machine.
func TestLiveRightSizedPool(t *testing.T) {
	p := livehelper.Start(t, "cpupool", strconv.Itoa(cpus()))
	_, fs := sampleOf(t, "cpupool-right", p.PID())
	if has(fs, "pool_oversubscribed") {
		t.Fatalf("a pool of %d threads on %d CPUs called oversubscribed:\n%s", cpus(), cpus(), dump(fs))
	}
	if f := byQuestion(fs, explain.QPool); f == nil || (f.ID != "run_queue_ok" && f.ID != "cpu_neighbours") {
		t.Fatalf("pool answer: %+v\n%s", f, dump(fs))
	}
}

// TestLiveNeighbours: a right-sized pool on a machine loaded by three
// times as many CPU-bound neighbour processes waits in the run queue, and
// the wait is blamed on the neighbours, the busiest of whom are named.
func TestLiveNeighbours(t *testing.T) {
	var spinners []int
	for range 3 * cpus() {
		spinners = append(spinners, livehelper.Start(t, "spin").PID())
	}
	p := livehelper.Start(t, "cpupool", strconv.Itoa(cpus()))
	sm, fs := sampleOf(t, "cpupool-neighbours", p.PID())
	f := find(t, fs, "cpu_neighbours")
	if v, ok := evidence(f, "others_runnable_avg"); !ok || v < 1 {
		t.Errorf("others runnable %.1f (ok %v) with %d spinners", v, ok, len(spinners))
	}
	named := 0
	for _, n := range sm.Neighbours {
		if slices.Contains(spinners, n.PID) {
			named++
		}
	}
	// The spinners run at nice 19 (so as not to starve the rest of the
	// test suite): on a machine busy with other work they get too little
	// CPU to be among the five busiest, and then the list must be full.
	if named == 0 && len(sm.Neighbours) < maxNeighbours {
		t.Errorf("no spinner among the neighbours %+v", sm.Neighbours)
	}
}

// TestLiveCgroupThrottled: a right-sized pool in a cgroup with a quota of
// a fifth of a CPU is held back by the quota, and the verdict says so:
// throttled periods when the pool reaches its quota; when neighbours keep
// it below even that (a machine loaded far beyond its CPUs), its two
// computing threads against the 0.2 CPUs the quota allows.
func TestLiveCgroupThrottled(t *testing.T) {
	cg := cpuCgroup(t, 20000, 100000)
	p := livehelper.Start(t, "cpupool", "2")
	cg.add(t, p.PID())
	_, fs := sampleOf(t, "cpupool-quota", p.PID())
	if has(fs, "cpu_neighbours") {
		t.Fatalf("a pool under a 0.2-CPU quota blamed on the neighbours:\n%s", dump(fs))
	}
	if !has(fs, "cgroup_throttled") {
		f := find(t, fs, "pool_oversubscribed")
		if v, _ := evidence(f, "cpus_available"); v != 0.2 {
			t.Errorf("the pool's CPUs are %.2f, want the quota's 0.2:\n%s", v, dump(fs))
		}
		return
	}
	f := find(t, fs, "cgroup_throttled")
	if v, _ := evidence(f, "cgroup_quota_cpus"); v != 0.2 {
		t.Errorf("quota %.2f CPUs, want 0.2", v)
	}
	if v, _ := evidence(f, "cgroup_throttled_periods"); v < 1 {
		t.Errorf("throttled periods %.0f", v)
	}
}

// TestLiveIOPool: 64 threads that sleep 20 ms between tiny pieces of work
// are I/O-bound, waiting on timers; more threads would help.
func TestLiveIOPool(t *testing.T) {
	p := livehelper.Start(t, "iopool", "64", "20")
	_, fs := sampleOf(t, "iopool64", p.PID())
	f := find(t, fs, "io_bound")
	if !strings.Contains(f.Verdict, "nanosleep") || !strings.Contains(f.Verdict, "more threads raise throughput") {
		t.Errorf("verdict: %s", f.Verdict)
	}
	if has(fs, "pool_oversubscribed") {
		t.Errorf("an I/O pool called oversubscribed:\n%s", dump(fs))
	}
	w := find(t, fs, "waits")
	if !strings.Contains(w.Verdict, "nanosleep") {
		t.Errorf("waits: %s", w.Verdict)
	}
	s := find(t, fs, "switch_cost")
	if len(s.Unmeasured) == 0 || !strings.Contains(s.Unmeasured[0].What, "TLB") {
		t.Errorf("switch cost does not say what /proc cannot measure: %+v", s.Unmeasured)
	}
}

// TestLiveDiskPool: 16 threads writing and fdatasync-ing a real file are
// disk-bound: threads in D, storage writes in /proc/PID/io, and the
// process's state letter hides the D threads.
func TestLiveDiskPool(t *testing.T) {
	dir := t.TempDir()
	p := livehelper.Start(t, "diskpool", "16", filepath.Join(dir, "data"))
	_, fs := sampleOf(t, "diskpool16", p.PID())
	f := find(t, fs, "disk_bound")
	// The window's rate may be 0 on a loaded machine: threads that wait
	// in fdatasync for the whole window dirty no page in it (a land's
	// make test saw "write_bytes rate 0" with the 16 threads in D). The
	// rate must be there, and the helper's own counter must show that it
	// did write to storage.
	if v, ok := evidence(f, "storage_write_bytes_per_second"); !ok || v < 0 {
		t.Errorf("write_bytes rate %.0f (ok %v)", v, ok)
	}
	if wb := ioWriteBytes(t, p.PID()); wb <= 0 {
		t.Errorf("the disk pool wrote %d bytes to storage (/proc/%d/io write_bytes)", wb, p.PID())
	}
	find(t, fs, "state_hides_d")
}

// ioWriteBytes is write_bytes of /proc/PID/io.
func ioWriteBytes(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("/proc/%d/io: %q", pid, l)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/io has no write_bytes", pid)
	return 0
}

// TestLiveGILThreads and TestLiveGILProcesses: 8 CPU-bound CPython threads
// take turns on the interpreter lock (one CPU at most in all, futex
// waits); the same work in 4 processes has no such finding.
func TestLiveGILThreads(t *testing.T) {
	p := livehelper.Python(t, "gil_threads.py", "8")
	sm, fs := sampleOf(t, "gil-threads", p.PID())
	if sm.Runtime.Kind != collector.RuntimeCPython {
		t.Fatalf("runtime %+v", sm.Runtime)
	}
	f := find(t, fs, "gil_serialised")
	if v, _ := evidence(f, "cpu_used_cpus"); v > 1.25 {
		t.Errorf("%.2f CPUs under the GIL", v)
	}
	if v, _ := evidence(f, "futex_share"); v < 0.2 {
		t.Errorf("futex share %.2f", v)
	}
}

func TestLiveGILProcesses(t *testing.T) {
	p := livehelper.Python(t, "gil_procs.py", "4")
	_, fs := sampleOf(t, "gil-procs-parent", p.PID())
	fam := find(t, fs, "family_memory")
	if v, _ := evidence(fam, "family_processes"); v != 5 {
		t.Errorf("family of %.0f processes, want 5", v)
	}
	_, wfs := sampleOf(t, "gil-procs-worker", p.PIDs[1])
	if has(wfs, "gil_serialised") {
		t.Errorf("a single-threaded worker process has a GIL finding:\n%s", dump(wfs))
	}
	if b := byQuestion(wfs, explain.QBound); b == nil || !strings.HasPrefix(b.ID, "cpu_bound") {
		t.Errorf("worker bound: %+v\n%s", b, dump(wfs))
	}
}

// TestLiveAsyncio: an asyncio program is one thread waiting in epoll_wait
// on an eventpoll descriptor.
func TestLiveAsyncio(t *testing.T) {
	p := livehelper.Python(t, "asyncio_loop.py")
	sm, fs := sampleOf(t, "asyncio", p.PID())
	f := find(t, fs, "event_loop")
	if sm.FDs == nil || sm.FDs.EventPoll == 0 {
		t.Errorf("fds %+v", sm.FDs)
	}
	if v, _ := evidence(f, "loop_poll_share"); v < 0.5 {
		t.Errorf("poll share %.2f", v)
	}
}

// TestLiveGoroutines: a Go program with 100,000 goroutines is named as Go
// with its toolchain version, on a handful of OS threads.
func TestLiveGoroutines(t *testing.T) {
	p := livehelper.Goroutines(t)
	sm, fs := sampleOf(t, "goroutines", p.PID())
	f := find(t, fs, "runtime_go")
	if sm.Runtime.Version != runtime.Version() {
		t.Errorf("version %q, want %q", sm.Runtime.Version, runtime.Version())
	}
	if v, _ := evidence(f, "os_threads"); v < 1 || v > 64 {
		t.Errorf("%.0f OS threads for 100,000 goroutines", v)
	}
	if v, _ := evidence(f, "anon_resident_bytes"); v < 100<<20 {
		t.Errorf("%.0f bytes resident in anonymous mappings: 100,000 goroutine stacks need more", v)
	}
	if has(fs, "lock_wait") {
		t.Errorf("the Go runtime's parked threads read as lock waits:\n%s", dump(fs))
	}
}

// TestLiveForkCOW: after fork the child shares the parent's 64 MiB
// copy-on-write; after it writes every page it has copied them; a child
// writing pages during the window is copying now.
func TestLiveForkCOW(t *testing.T) {
	p := livehelper.Start(t, "cow", "64", "0")
	child := p.PIDs[1]
	_, fs := sampleOf(t, "cow-shared", child)
	f := find(t, fs, "cow_shared")
	if !strings.Contains(f.Verdict, "parent") {
		t.Errorf("verdict does not name the parent: %s", f.Verdict)
	}
	if err := syscall.Kill(child, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, fs = sampleOf(t, "cow-copied", child)
		return has(fs, "cow_copied")
	})

	q := livehelper.Start(t, "cow", "128", "8000")
	if err := syscall.Kill(q.PIDs[1], syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	_, fs = sampleOf(t, "cow-copying", q.PIDs[1])
	c := find(t, fs, "cow_copying")
	if v, _ := evidence(c, "minor_faults_per_second"); v < 100 {
		t.Errorf("%.0f minor faults/s while copying", v)
	}
}

// TestLiveZygote: a parent that filled 32 MiB and forked 8 children is a
// family whose summed RSS is several times its PSS.
func TestLiveZygote(t *testing.T) {
	p := livehelper.Start(t, "zygote", "8", "32")
	_, fs := sampleOf(t, "zygote", p.PID())
	f := find(t, fs, "family_memory")
	rss, _ := evidence(f, "family_rss_sum_bytes")
	pss, _ := evidence(f, "family_pss_sum_bytes")
	if n, _ := evidence(f, "family_processes"); n != 9 || rss < 3*pss {
		t.Errorf("%.0f processes, RSS %.0f vs PSS %.0f:\n%s", n, rss, pss, dump(fs))
	}
	find(t, fs, "cow_shared")
}

// TestLiveLeak: a process growing 8 MiB a second by anonymous mappings is
// growing steadily, with low confidence over a 2 s window, and the growth
// is placed in anonymous mappings rather than [heap].
func TestLiveLeak(t *testing.T) {
	p := livehelper.Start(t, "leak", "8", "512")
	_, fs := sampleOf(t, "leak", p.PID())
	f := find(t, fs, "memory_growing")
	if !strings.Contains(f.Verdict, "confidence low") {
		t.Errorf("verdict: %s", f.Verdict)
	}
	if a, _ := evidence(f, "anon_growth_bytes"); a < 1<<20 {
		t.Errorf("anonymous growth %.0f bytes:\n%s", a, dump(fs))
	}
}

// TestLiveMachine: with a 64-thread pool running, the machine-wide sample
// examines it and puts its oversubscription among the worst findings.
func TestLiveMachine(t *testing.T) {
	p := livehelper.Start(t, "cpupool", "64")
	m, err := newSampler(t).Machine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if *record {
		writeMachine(t, m)
	}
	fs := explain.ExplainMachine(m)
	found := false
	for _, f := range fs {
		if f.PID == p.PID() && f.ID == "pool_oversubscribed" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the pool's oversubscription is not among the machine's findings:\n%s", dump(fs))
	}
	if byQuestion(fs, explain.QMachine) == nil {
		t.Errorf("no machine finding")
	}
	// The reader (this test binary) is neither examined nor among the
	// busiest, and the machine finding says it was left out.
	self := os.Getpid()
	if m.SelfPID != self {
		t.Errorf("SelfPID %d, want %d", m.SelfPID, self)
	}
	for _, sm := range m.Processes {
		if sm.PID == self {
			t.Errorf("the reader itself (%d) was examined", self)
		}
	}
	for _, n := range m.Top {
		if n.PID == self {
			t.Errorf("the reader itself (%d) is among the busiest", self)
		}
	}
	if mf := byQuestion(fs, explain.QMachine); mf != nil && !slices.ContainsFunc(mf.Evidence, func(e explain.Evidence) bool { return e.Name == "reader_excluded" }) {
		t.Errorf("the machine finding does not say the reader was left out:\n%s", dump(fs))
	}
}

func writeMachine(t *testing.T, m *explain.MachineSample) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(m); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	if err := os.WriteFile(filepath.Join("..", "explain", "testdata", "machine.json.gz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in a minute")
		}
		livehelper.Sleep()
	}
}

// TestLiveDiskPoolDelays: with kernel.task_delayacct on, explain reads
// the disk pool's block-I/O delay from taskstats and shows it, nonzero,
// in the disk_bound and waits evidence. It turns the sysctl on for the
// test (root only) and puts the old value back.
func TestLiveDiskPoolDelays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it turns kernel.task_delayacct on, and taskstats needs CAP_NET_ADMIN")
	}
	const sysctl = "/proc/sys/kernel/task_delayacct"
	old, err := os.ReadFile(sysctl)
	if err != nil {
		t.Skipf("kernel.task_delayacct: %v", err)
	}
	// Started while delay accounting is (as usual) off: the kernel keeps
	// no delays for its threads, whatever it does afterwards.
	var before *livehelper.Proc
	if strings.TrimSpace(string(old)) == "0" {
		before = livehelper.Start(t, "diskpool", "16", filepath.Join(t.TempDir(), "data"))
	}
	if err := os.WriteFile(sysctl, []byte("1\n"), 0); err != nil {
		t.Skipf("cannot turn kernel.task_delayacct on: %v", err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(sysctl, old, 0); err != nil {
			t.Errorf("restoring kernel.task_delayacct to %q: %v", strings.TrimSpace(string(old)), err)
		}
	})
	s := newSampler(t)
	if used, why := s.r.Taskstats(); !used {
		t.Skipf("taskstats not usable here: %v", why)
	}
	p := livehelper.Start(t, "diskpool", "16", filepath.Join(t.TempDir(), "data"))
	sm, err := s.Process(context.Background(), p.PID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sm.Machine.DelayAcct != "on" || sm.First.Delays == nil || sm.Last.Delays == nil {
		t.Fatalf("delays not read: delay_acct %q, first %+v, last %+v, unavailable %v", sm.Machine.DelayAcct, sm.First.Delays, sm.Last.Delays, sm.Unavailable)
	}
	fs := explain.Explain(sm)
	for _, id := range []string{"disk_bound", "waits"} {
		f := find(t, fs, id)
		if v, ok := evidence(f, "blkio_delay_ms_per_second"); !ok || v <= 0 {
			t.Errorf("%s: block-I/O delay %.1f ms/s (present %v):\n%s", id, v, ok, dump(fs))
		}
		for _, u := range f.Unmeasured {
			if strings.Contains(u.What, "taskstats") {
				t.Errorf("%s: delays read but still unmeasured: %+v", id, u)
			}
		}
	}
	if before == nil {
		return
	}
	sm, err = s.Process(context.Background(), before.PID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := find(t, explain.Explain(sm), "disk_bound")
	if v, ok := evidence(f, "blkio_delay_ms_per_second"); ok {
		t.Errorf("a process started before delay accounting was on shows %.1f ms/s of block-I/O delay", v)
	}
	if !slices.ContainsFunc(f.Unmeasured, func(u explain.Unmeasured) bool {
		return u.Why == explain.DelaysUntrackedReason+"; the D-state samples stand in for it"
	}) {
		t.Errorf("disk_bound unmeasured %+v, want the predates reason", f.Unmeasured)
	}
}

// TestZombieOfLongWindowNotYoung: a child that became a zombie inside
// a window longer than the 5 s below which a zombie may still be reaped
// is not called younger than 5 s: it was seen only in the window's last
// reading and may have been one since just after the first. The verdict
// says it became one between the two readings. (Its age was taken from
// its first sighting, 0, and explain --window 8s said "all younger than
// 5s" of a zombie 6 s old.) The parent is this test's process; the child
// is killed after the first reading, in the sampler's first sleep.
func TestZombieOfLongWindowNotYoung(t *testing.T) {
	child := exec.Command("sleep", "600")
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := livehelper.StartSteady(child); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
	})
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	killed := false
	opts := Options{Window: 6 * time.Second}
	opts.Sleep = func(ctx context.Context, d time.Duration) error {
		if !killed {
			killed = true
			child.Process.Kill()
			for end := time.Now().Add(time.Minute); !isZombie(child.Process.Pid); livehelper.Sleep() {
				if time.Now().After(end) {
					t.Error("the killed child did not become a zombie within a minute")
					break
				}
			}
		}
		return sleep(ctx, d)
	}
	sm, err := New(r, opts).Process(context.Background(), os.Getpid(), nil)
	if err != nil {
		t.Fatal(err)
	}
	z := sm.ZombieChildren
	if z == nil || len(z.Zombies) != 1 || z.Zombies[0].PID != child.Process.Pid {
		t.Fatalf("zombie children %+v, want the killed child %d", z, child.Process.Pid)
	}
	if z.Young || z.NotBefore.IsZero() || !z.NotBefore.Before(z.Since) {
		t.Errorf("a zombie seen only in the last reading of a 6 s window: young %v, became one between %v and %v", z.Young, z.NotBefore, z.Since)
	}
	f := find(t, explain.Explain(sm), "zombie_children")
	if strings.Contains(f.Verdict, "younger than") || !strings.Contains(f.Verdict, "the oldest became one between ") {
		t.Errorf("verdict %q", f.Verdict)
	}
}

// isZombie reports whether pid is in state Z.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// procState is pid's state letter from /proc/PID/stat, 0 when unreadable.
func procState(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i <= 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// TestLiveStopped: a sleeping process stopped by SIGSTOP (T), and
// another stopped under a tracer (t, this test binary attached with
// ptrace), are stopped, not idle: the verdict says what resumes them and
// names the tracer's pid (TracerPid); the waits finding does not call the
// stopped threads asleep.
func TestLiveStopped(t *testing.T) {
	p := livehelper.Start(t, "comm", "stopme")
	if err := syscall.Kill(p.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return procState(p.PID()) == 'T' })
	_, fs := sampleOf(t, "stopped", p.PID())
	f := find(t, fs, "stopped")
	if has(fs, "idle") || !strings.Contains(f.Verdict, "SIGCONT") || !strings.Contains(f.Verdict, "state T") {
		t.Errorf("SIGSTOP:\n%s", dump(fs))
	}
	if w := byQuestion(fs, explain.QWaits); w == nil || !strings.Contains(w.Verdict, "stopped (T or t) in 100%") {
		t.Errorf("waits of a stopped process:\n%s", dump(fs))
	}

	if os.Geteuid() != 0 {
		t.Skip("ptrace of a helper needs root here (yama ptrace_scope)")
	}
	q := livehelper.Start(t, "comm", "traceme")
	attached, detach, done := make(chan error), make(chan struct{}), make(chan struct{})
	go func() {
		// ptrace requests must come from the thread that attached.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(done)
		err := syscall.PtraceAttach(q.PID())
		if err == nil {
			var ws syscall.WaitStatus
			_, err = syscall.Wait4(q.PID(), &ws, syscall.WALL, nil)
		}
		attached <- err
		if err != nil {
			return
		}
		<-detach
		_ = syscall.PtraceDetach(q.PID())
	}()
	if err := <-attached; err != nil {
		t.Fatalf("ptrace attach: %v", err)
	}
	t.Cleanup(func() { close(detach); <-done })
	waitFor(t, func() bool { return procState(q.PID()) == 't' })
	_, fs = sampleOf(t, "traced", q.PID())
	f = find(t, fs, "stopped")
	// TracerPid is the tracing thread's id: one of this test binary's.
	v, ok := evidence(f, "tracer_pid")
	if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(int(v))); !ok || v <= 0 || err != nil {
		t.Errorf("tracer_pid %v (ok %v) is not a thread of this test (pid %d): %v", v, ok, os.Getpid(), err)
	}
	if has(fs, "idle") || !strings.Contains(f.Verdict, "TracerPid "+strconv.Itoa(int(v))) || !strings.Contains(f.Verdict, "state t") {
		t.Errorf("ptrace-stopped:\n%s", dump(fs))
	}
}

// TestLiveTracedRunning: a process under a tracer that stops it at
// every system call and resumes it (strace's PTRACE_SYSCALL loop, here
// run by the test on dd copying a byte at a time) is stopped (t) in many
// samples, yet runs between the stops: "traced", not "stopped" and
// "held" (review3: strace'd dd, 0.24 CPUs, was called held).
func TestLiveTracedRunning(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ptrace of a helper needs root here (yama ptrace_scope)")
	}
	dd := exec.Command("dd", "if=/dev/zero", "of=/dev/null", "bs=1")
	if err := dd.Start(); err != nil {
		t.Skip("no dd:", err)
	}
	t.Cleanup(func() { _ = dd.Process.Kill(); _ = dd.Wait() })
	pid := dd.Process.Pid
	traceSyscalls(t, pid)
	_, fs := sampleOf(t, "strace-like", pid)
	if has(fs, "stopped") || has(fs, "idle") {
		t.Errorf("a tracee running between its tracer's stops was called stopped or idle:\n%s", dump(fs))
	}
	if f := byQuestion(fs, explain.QBound); f == nil || f.ID == "traced" && !strings.Contains(f.Verdict, "running between its stops") {
		t.Errorf("bound finding of a running tracee:\n%s", dump(fs))
	}
}

// traceSyscalls attaches to pid with ptrace and stops it at every system
// call, as strace does, until the test ends; it returns the id of the
// tracing thread (pid's TracerPid).
func traceSyscalls(t *testing.T, pid int) int {
	t.Helper()
	attached, stop, done := make(chan error), make(chan struct{}), make(chan struct{})
	tracer := make(chan int, 1)
	go func() {
		// ptrace requests must come from the thread that attached.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(done)
		tracer <- syscall.Gettid()
		var ws syscall.WaitStatus
		err := syscall.PtraceAttach(pid)
		if err == nil {
			_, err = syscall.Wait4(pid, &ws, syscall.WALL, nil)
		}
		attached <- err
		if err != nil {
			return
		}
		sig := 0
		for {
			select {
			case <-stop:
				_ = syscall.PtraceDetach(pid)
				return
			default:
			}
			if syscall.PtraceSyscall(pid, sig) != nil {
				return
			}
			if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil || ws.Exited() || ws.Signaled() {
				return
			}
			// A signal stop (SIGCHLD of a shell's child) is passed on;
			// a system call stop (SIGTRAP) is not a signal.
			sig = 0
			if ws.Stopped() && ws.StopSignal() != syscall.SIGTRAP {
				sig = int(ws.StopSignal())
			}
		}
	}()
	tid := <-tracer
	if err := <-attached; err != nil {
		t.Fatalf("ptrace attach: %v", err)
	}
	t.Cleanup(func() { close(stop); <-done })
	return tid
}

// TestLiveTracedSleeper (tester11 T4): a shell loop under a tracer that
// stops it at every system call (strace without -f) mostly sleeps, in
// wait4 for its child sleep: stopped (t) in few samples, so the bound
// finding is not `traced`. It still gets a `traced` finding naming the
// tracer by TracerPid and command (here this test's tracing thread, of
// the test binary), with the advice to detach it and the lesson. The
// command reaches a terminal sanitised.
func TestLiveTracedSleeper(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ptrace of a helper needs root here (yama ptrace_scope)")
	}
	sh := exec.Command("sh", "-c", "while :; do /bin/true; sleep 0.05; done")
	if err := sh.Start(); err != nil {
		t.Skip("no sh:", err)
	}
	t.Cleanup(func() { _ = sh.Process.Kill(); _ = sh.Wait() })
	pid := sh.Process.Pid
	tracer := traceSyscalls(t, pid)
	sm, fs := sampleOf(t, "traced-sleeper", pid)
	f := find(t, fs, "traced")
	comm := sm.Tracer
	if comm == nil || comm.TID != tracer || comm.PID != os.Getpid() {
		t.Fatalf("sample's tracer %+v, want thread %d of %d", comm, tracer, os.Getpid())
	}
	want := fmt.Sprintf("%s (TracerPid %d, a thread of %d)", comm.Comm, tracer, os.Getpid())
	if !strings.Contains(f.Verdict, want) {
		t.Errorf("verdict %q does not name the tracer as %q", f.Verdict, want)
	}
	if v, ok := evidence(f, "tracer_pid"); !ok || int(v) != tracer {
		t.Errorf("tracer_pid %v (ok %v), want %d", v, ok, tracer)
	}
	if len(f.Try) == 0 || !strings.Contains(f.Try[0], fmt.Sprintf("pinspect show %d", os.Getpid())) || f.Lesson == "" || f.Severity != explain.Notice {
		t.Errorf("advice %q, lesson %q, severity %v", f.Try, f.Lesson, f.Severity)
	}
	// A command with terminal controls is shown inert.
	sm.Tracer.Comm = "str\x1b[2Jace"
	var out bytes.Buffer
	if err := report.WriteExplainText(&out, report.NewExplainDoc(sm, explain.Explain(sm), ""), report.ExplainTextOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\x1b") || !strings.Contains(out.String(), "str?[2Jace (TracerPid") {
		t.Errorf("tracer command not sanitised:\n%s", out.String())
	}
}

// TestLiveTracedContinued (review7 B-S1): a tracer attached and then
// continued (a debugger's "continue") stops a sleeping process at
// nothing: the traced finding says a tracer is attached and what it
// would cost, never that the process runs slower.
func TestLiveTracedContinued(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ptrace of a helper needs root here (yama ptrace_scope)")
	}
	sl := exec.Command("sleep", "600")
	if err := sl.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	t.Cleanup(func() { _ = sl.Process.Kill(); _ = sl.Wait() })
	pid := sl.Process.Pid
	// Attach once sleep sleeps: attached before its exec is over, the
	// exec's SIGTRAP would stop it for a tracer that no longer waits, in
	// t for good (the test timed out waiting for S in a land's make test).
	waitFor(t, func() bool { return procState(pid) == 'S' })
	attached, detach, done := make(chan error), make(chan struct{}), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(done)
		var ws syscall.WaitStatus
		err := syscall.PtraceAttach(pid)
		if err == nil {
			_, err = syscall.Wait4(pid, &ws, syscall.WALL, nil)
		}
		if err == nil {
			err = syscall.PtraceCont(pid, 0)
		}
		attached <- err
		if err != nil {
			return
		}
		<-detach
		// Detaching needs the tracee stopped: stop it, then detach.
		_ = syscall.Kill(pid, syscall.SIGSTOP)
		_, _ = syscall.Wait4(pid, &ws, syscall.WALL, nil)
		_ = syscall.PtraceDetach(pid)
	}()
	if err := <-attached; err != nil {
		t.Fatalf("ptrace attach: %v", err)
	}
	t.Cleanup(func() { close(detach); <-done })
	waitFor(t, func() bool { return procState(pid) == 'S' })
	_, fs := sampleOf(t, "traced-continued", pid)
	f := find(t, fs, "traced")
	if strings.Contains(f.Verdict, "runs slower") || !strings.Contains(f.Verdict, "a tracer is attached") {
		t.Errorf("a continued tracer's verdict: %s", f.Verdict)
	}
}

// TestLiveVforkParent: a vfork parent whose child never execs waits in
// D (kernel_clone) with no I/O: an uninterruptible wait named by its wait
// channel and system call (clone, not "syscall 56"), not disk-bound.
func TestLiveVforkParent(t *testing.T) {
	p := livehelper.Start(t, "vforkwait")
	waitFor(t, func() bool { return procState(p.PID()) == 'D' })
	_, fs := sampleOf(t, "vforkwait", p.PID())
	f := find(t, fs, "uninterruptible_wait")
	if has(fs, "disk_bound") || !strings.Contains(f.Verdict, "kernel_clone") {
		t.Errorf("vfork parent:\n%s", dump(fs))
	}
	for _, tr := range f.Try {
		if strings.Contains(tr, "fsync") || strings.Contains(tr, "storage") {
			t.Errorf("storage advice for a vfork parent: %s", tr)
		}
	}
	w := byQuestion(fs, explain.QWaits)
	if w == nil || strings.Contains(w.Verdict, "syscall ") {
		t.Errorf("waits:\n%s", dump(fs))
	} else if runtime.GOARCH == "amd64" && !strings.Contains(w.Verdict, "clone") {
		t.Errorf("waits does not name clone: %s", w.Verdict)
	}
}
