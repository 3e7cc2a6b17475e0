package sampler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCgroup is a CPU cgroup a live test makes (and removes) to put a
// process under a CFS quota.
type testCgroup struct{ dir string }

// cpuCgroup makes a cgroup with quotaUs of CPU per periodUs: under the
// v1 cpu controller's hierarchy where there is one, else in the unified
// hierarchy. It needs root; without root (or without a cpu controller
// this process may use) the test is skipped, saying why.
func cpuCgroup(t *testing.T, quotaUs, periodUs int) *testCgroup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a cgroup")
	}
	name := fmt.Sprintf("pinspect-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	var cg *testCgroup
	for _, v1 := range []string{"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"} {
		if _, err := os.Stat(filepath.Join(v1, "cpu.cfs_quota_us")); err == nil {
			cg = &testCgroup{dir: filepath.Join(v1, name)}
			if err := os.Mkdir(cg.dir, 0o755); err != nil {
				t.Skipf("cannot make a v1 cpu cgroup: %v", err)
			}
			t.Cleanup(cg.remove)
			cg.write(t, "cpu.cfs_period_us", strconv.Itoa(periodUs))
			cg.write(t, "cpu.cfs_quota_us", strconv.Itoa(quotaUs))
			return cg
		}
	}
	ctrl, err := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control")
	if err != nil || !slices.Contains(strings.Fields(string(ctrl)), "cpu") {
		t.Skipf("no cpu controller enabled at the unified root (%q, %v)", ctrl, err)
	}
	cg = &testCgroup{dir: filepath.Join("/sys/fs/cgroup", name)}
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		t.Skipf("cannot make a cgroup: %v", err)
	}
	t.Cleanup(cg.remove)
	cg.write(t, "cpu.max", fmt.Sprintf("%d %d", quotaUs, periodUs))
	return cg
}

func (c *testCgroup) write(t *testing.T, file, v string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, file), []byte(v), 0o644); err != nil {
		t.Fatalf("cgroup %s: %v", file, err)
	}
}

// add moves a process (all its threads) into the cgroup.
func (c *testCgroup) add(t *testing.T, pid int) {
	t.Helper()
	c.write(t, "cgroup.procs", strconv.Itoa(pid))
}

// remove waits for the cgroup's processes to be gone (the helpers are
// killed first: cleanups run in reverse order) and removes it.
func (c *testCgroup) remove() {
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := syscall.Rmdir(c.dir)
		if err == nil || errors.Is(err, syscall.ENOENT) || time.Now().After(deadline) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
