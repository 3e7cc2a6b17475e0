package collector

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestExplainSourcesLive reads the explain sources of a real 5-thread C process:
// every thread with its scheduler accounting, a worker asleep in a system
// call with a wait channel, the process's I/O counters, descriptors,
// cgroup CPU limit and memory, and the machine's pressure and runnable
// count.
func TestExplainSourcesLive(t *testing.T) {
	p := livehelper.Start(t, "threads", "5")
	pr, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	var ts *TaskSamples
	deadline := time.Now().Add(30 * time.Second)
	for {
		ts, err = pr.Tasks(p.PID(), 0, ProbeAll)
		if err != nil {
			t.Fatal(err)
		}
		asleep := 0
		for _, tk := range ts.Tasks {
			if tk.HasSyscall && tk.Syscall.InSyscall() && tk.HasWChan && tk.WChanState == WChanFunc {
				asleep++
			}
		}
		if asleep > 0 || time.Now().After(deadline) {
			if asleep == 0 {
				t.Fatalf("no thread seen asleep in a system call with a wait channel: %+v", ts.Tasks)
			}
			break
		}
		livehelper.Sleep()
	}
	if len(ts.Tasks) != 5 || ts.Unavailable != nil {
		t.Fatalf("%d tasks, unavailable %v", len(ts.Tasks), ts.Unavailable)
	}
	var tids []int
	for _, tk := range ts.Tasks {
		if !tk.HasSched || tk.StartTicks == 0 || tk.Comm == "" {
			t.Errorf("task %+v: no schedstat or stat", tk)
		}
		tids = append(tids, tk.TID)
	}
	for _, w := range p.TIDs {
		if !slices.Contains(tids, w) {
			t.Errorf("worker %d not among %v", w, tids)
		}
	}
	if ts.RSSBytes == 0 || ts.StartTicks == 0 {
		t.Errorf("process numbers missing: %+v", ts)
	}
	if _, err := pr.Tasks(p.PID(), ts.StartTicks+1, ProbeSched); !IsVanished(err) {
		t.Errorf("a pid with another start time: %v, want vanished", err)
	}
	if _, err := pr.Tasks(1<<22+1, 0, ProbeAll); !IsVanished(err) {
		t.Errorf("a pid that does not exist: %v, want vanished", err)
	}
	if io, err := pr.IO(p.PID()); err != nil || io == nil {
		t.Errorf("IO: %v", err)
	}
	// The helper's descriptors depend on how the test runs (CI may start
	// it with standard input closed): hold the count to the directory
	// listing itself, and the kinds to what the helper surely has.
	fdDir, dirErr := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID()))
	fds, err := pr.FDs(p.PID())
	if err != nil || dirErr != nil || fds.Count != len(fdDir) || fds.Pipes == 0 {
		t.Errorf("FDs = %+v, %v; /proc lists %d, %v (stdout is a pipe)", fds, err, len(fdDir), dirErr)
	}
	if m, err := pr.MemoryTotals(p.PID()); err != nil || m.RSSBytes == 0 || m.PSSBytes == 0 {
		t.Errorf("MemoryTotals = %+v, %v", m, err)
	}
	c, err := pr.CgroupCPU(p.PID())
	if err == nil && (c.Version != 1 && c.Version != 2 || c.Path == "") {
		t.Errorf("CgroupCPU = %+v", c)
	}
	if err != nil && !IsVanished(err) {
		t.Logf("cgroup CPU not readable here: %v", err)
	}
	h := pr.Pressure()
	if _, statErr := os.Stat("/proc/pressure/cpu"); statErr == nil && (h.CPU == nil || h.IO == nil || h.Memory == nil) {
		t.Errorf("pressure files exist but read %+v", h)
	} else if statErr != nil && h.Unavailable["cpu"] == "" {
		t.Errorf("no pressure files and no reason: %+v", h)
	}
	if n, total, err := pr.Runnable(); err != nil || n < 1 || total < n {
		t.Errorf("Runnable = %d/%d, %v (this test is runnable)", n, total, err)
	}
	clues, unavail := pr.RuntimeClues(p.PID(), nil, "", 0)
	if clues.GoVersion != "" || unavail != nil || filepath.Base(clues.Exe) != "procshape" {
		t.Errorf("C helper clues = %+v, %v", clues, unavail)
	}
	self, _ := pr.RuntimeClues(os.Getpid(), nil, "", 0)
	if rt := DetectRuntime(self); rt.Kind != RuntimeGo || rt.Version == "" {
		t.Errorf("the test binary is a Go program: %+v", rt)
	}
}

// TestSmapsDirtyLive: after fork, a child's inherited 16 MiB buffer is
// Shared_Dirty in its anonymous mapping; after the child writes every
// page it is Private_Dirty.
func TestSmapsDirtyLive(t *testing.T) {
	p := livehelper.Start(t, "cow", "16", "0")
	child := p.PIDs[1]
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	dirty := func() (shared, private uint64) {
		as, err := r.AddressSpace(child, AddrOptions{PerMapping: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range as.Maps {
			if m.Dirty == nil {
				t.Fatalf("mapping %x without dirty counters", m.Start)
			}
			if m.Class == SegAnon {
				shared += m.Dirty.SharedDirtyBytes
				private += m.Dirty.PrivateDirtyBytes
			}
		}
		return shared, private
	}
	if s, _ := dirty(); s < 16<<20 {
		t.Fatalf("after fork: %d bytes shared dirty, want the 16 MiB buffer", s)
	}
	if err := syscall.Kill(child, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, pv := dirty()
		if pv >= 16<<20 && s < 1<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the child's writes: %d shared, %d private", s, pv)
		}
		livehelper.Sleep()
	}
}

// TestCgroupCPUFixture reads cgroup CPU limits from fixture trees: a v2
// hierarchy whose parent holds the tightest quota, and a v1 cpu,cpuacct
// hierarchy.
func TestCgroupCPUFixture(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("proc/42/cgroup", "0::/a/b\n")
	write("cg2/cgroup.controllers", "cpu memory\n")
	write("cg2/a/cpu.max", "50000 100000\n")
	write("cg2/a/cpu.stat", "usage_usec 1\nnr_periods 10\nnr_throttled 4\nthrottled_usec 300\n")
	write("cg2/a/b/cpu.max", "max 100000\n")
	write("cg2/a/b/cpu.stat", "usage_usec 1\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n")
	pr := cgroupFixtureReader(t, filepath.Join(dir, "proc"), filepath.Join(dir, "cg2"))
	c, err := pr.CgroupCPU(42)
	if err != nil || c.Version != 2 || c.Path != "/a/b" || c.LimitPath != "/a" || c.LimitCPUs() != 0.5 ||
		c.Stat == nil || *c.Stat != (CgroupCPUStat{Periods: 10, Throttled: 4, ThrottledNs: 300000}) {
		t.Fatalf("v2 = %+v (stat %+v), %v", c, c.Stat, err)
	}
	write("proc/43/cgroup", "2:cpuacct:/\n1:cpu,cpuacct:/job\n0::/\n")
	write("cg1/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
	write("cg1/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
	write("cg1/cpu,cpuacct/job/cpu.cfs_quota_us", "150000\n")
	write("cg1/cpu,cpuacct/job/cpu.cfs_period_us", "100000\n")
	write("cg1/cpu,cpuacct/job/cpu.stat", "nr_periods 5\nnr_throttled 1\nthrottled_time 7\n")
	pr = cgroupFixtureReader(t, filepath.Join(dir, "proc"), filepath.Join(dir, "cg1"))
	c, err = pr.CgroupCPU(43)
	if err != nil || c.Version != 1 || c.LimitPath != "/job" || c.LimitCPUs() != 1.5 || c.Stat == nil || c.Stat.ThrottledNs != 7 {
		t.Fatalf("v1 = %+v, %v", c, err)
	}
	write("cg1/cpu,cpuacct/job/cpu.cfs_quota_us", "garbage\n")
	if _, err := pr.CgroupCPU(43); err == nil {
		t.Error("a malformed quota file was accepted")
	}
	if _, err := pr.CgroupCPU(44); !IsVanished(err) {
		t.Errorf("no such process: %v", err)
	}
}

func cgroupFixtureReader(t *testing.T, root, cgroups string) *Reader {
	t.Helper()
	r, err := NewReader(Options{Root: root, CgroupRoot: cgroups, NoTaskstats: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
