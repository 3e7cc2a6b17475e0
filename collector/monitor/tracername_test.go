package monitor

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// stracedSleep starts `sleep 600` under `strace -p` and returns both
// pids once the sleep's status names strace as its tracer. It skips
// without strace or root.
func stracedSleep(t *testing.T) (sleepPID, stracePID int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("strace -p of a child needs root here (yama ptrace_scope)")
	}
	path, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("no strace")
	}
	sl := exec.Command("sleep", "600")
	if err := sl.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	t.Cleanup(func() { _ = sl.Process.Kill(); _ = sl.Wait() })
	st := exec.Command(path, "-o", "/dev/null", "-p", strconv.Itoa(sl.Process.Pid))
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	// Registered after the sleep's: runs first, so strace detaches
	// before the sleep is killed.
	t.Cleanup(func() { _ = st.Process.Signal(os.Interrupt); _ = st.Wait() })
	status := "/proc/" + strconv.Itoa(sl.Process.Pid) + "/status"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(status)
		if strings.Contains(string(b), "\nTracerPid:\t"+strconv.Itoa(st.Process.Pid)+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("strace %d not the tracer of %d in 20 s", st.Process.Pid, sl.Process.Pid)
		}
	}
	return sl.Process.Pid, st.Process.Pid
}

// TestMonitorExplainNamesTracer (fix12b's open items): the dashboard's
// traced finding names the tracer by command and pid, as explain does,
// from the snapshot its TracerPid came with (it said "(TracerPid N)").
func TestMonitorExplainNamesTracer(t *testing.T) {
	pid, tracer := stracedSleep(t)
	m, ch := startMonitor(t, Options{Interval: 100 * time.Millisecond, Explain: true, ExplainTicks: 8})
	m.Focus(pid)
	want := "strace (TracerPid " + strconv.Itoa(tracer) + ")"
	var last string
	deadline := time.After(20 * time.Second)
	for {
		select {
		case f := <-ch:
			if f.Explain == nil || f.Explain.PID != pid {
				continue
			}
			for _, x := range f.Explain.Focus {
				if x.ID == "traced" {
					last = x.Verdict
					if strings.Contains(x.Verdict, want) {
						return
					}
				}
			}
		case <-deadline:
			t.Fatalf("no traced finding naming %q in 20 s; last: %q", want, last)
		}
	}
}
