package collector

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// pidReuseEnv marks the re-executed test binary running inside a new pid
// namespace.
const pidReuseEnv = "PINSPECT_PIDREUSE_CHILD"

// TestPIDReuse forces a pid to be reused and checks that the two
// processes have different identities (pid, start time): anything keyed by
// ID (CPU and rates in lifecycle) cannot carry over from the old process
// to the new one. The pid is reused deterministically by writing
// ns_last_pid inside a new pid namespace with its own /proc, which needs
// root (CAP_SYS_ADMIN) and unshare(1); the test binary re-executes itself
// there.
func TestPIDReuse(t *testing.T) {
	if os.Getenv(pidReuseEnv) == "1" {
		pidReuseChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("forcing pid reuse needs root: ns_last_pid in a new pid namespace")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare(1) not installed")
	}
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", os.Args[0], "-test.run=^TestPIDReuse$", "-test.v")
	cmd.Env = append(os.Environ(), pidReuseEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a new pid namespace:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if !strings.Contains(string(out), "PASS") || strings.Contains(string(out), "SKIP") {
		t.Fatal("the child did not run the check")
	}
}

func pidReuseChild(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		t.Helper()
		c := exec.Command("sleep", "60")
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the test binary, should it die
		if err := livehelper.StartSteady(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	identity := func(pid int) ID {
		t.Helper()
		p, _, err := r.Process(pid)
		if err != nil {
			t.Fatal(err)
		}
		return p.ID()
	}
	first := start()
	pid := first.Process.Pid
	old := identity(pid)
	first.Process.Kill()
	first.Wait()
	if _, _, err := r.Process(pid); !IsVanished(err) {
		t.Fatalf("reaped pid %d: %v, want vanished", pid, err)
	}
	// Start times are in clock ticks (10 ms): let at least one pass so the
	// new process cannot share the old one's.
	for startTicksNow(t) <= old.StartTicks+1 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
		t.Fatalf("ns_last_pid: %v", err)
	}
	second := start()
	defer func() { second.Process.Kill(); second.Wait() }()
	if second.Process.Pid != pid {
		t.Fatalf("pid not reused: got %d, want %d", second.Process.Pid, pid)
	}
	reused := identity(pid)
	t.Logf("pid %d: first process %+v, after reuse %+v", pid, old, reused)
	if reused == old || reused.StartTicks <= old.StartTicks {
		t.Fatalf("reused pid %d has the old identity: %+v vs %+v", pid, reused, old)
	}
}

// startTicksNow is the current time in clock ticks since boot (from
// /proc/uptime), comparable with a start time.
func startTicksNow(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(secs * ClockTicks)
}
