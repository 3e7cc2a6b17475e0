package sampler

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// tracerPID is /proc/PID(/task/TID)/status's TracerPid, -1 when
// unreadable.
func tracerPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// switchRate is the process's context switches a second between the
// sample's two full readings.
func switchRate(sm *explain.Sample) float64 {
	p0, p1 := sm.First.Process, sm.Last.Process
	secs := (sm.Last.At - sm.First.At).Seconds()
	if p0 == nil || p1 == nil || secs <= 0 {
		return 0
	}
	return float64(p1.VolCtx+p1.InvolCtx-p0.VolCtx-p0.InvolCtx) / secs
}

// TestLiveTracedIdleWorker (fix12b's open items): a tracer seized to one
// worker of a 16-thread pool (PTRACE_SEIZE: no SIGSTOP, so no group
// stop) that never stops it gets a traced finding, from the worker's own
// status; the main thread's says 0. Its switch rate is the traced
// thread's, not the whole pool's (which once scored 1 whatever the
// tracer did).
func TestLiveTracedIdleWorker(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ptrace of a helper needs root here (yama ptrace_scope)")
	}
	p := livehelper.Start(t, "iopool", "16", "2")
	pid := p.PID()
	var tid int
	waitFor(t, func() bool {
		ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		for _, e := range ents {
			if n, _ := strconv.Atoi(e.Name()); n != pid && n > 0 {
				tid = n
			}
		}
		return len(ents) == 17
	})
	seized, detach, done := make(chan error), make(chan struct{}), make(chan struct{})
	go func() {
		// ptrace requests must come from the thread that seized.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(done)
		err := unix.PtraceSeize(tid)
		seized <- err
		if err != nil {
			return
		}
		<-detach
		// A seized tracee is detached after PTRACE_INTERRUPT stops it.
		if unix.PtraceInterrupt(tid) == nil {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(tid, &ws, unix.WALL, nil)
			_ = unix.PtraceDetach(tid)
		}
	}()
	if err := <-seized; err != nil {
		t.Fatalf("ptrace seize of thread %d: %v", tid, err)
	}
	t.Cleanup(func() { close(detach); <-done })
	taskStatus := "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/status"
	waitFor(t, func() bool { return tracerPID(taskStatus) > 0 })
	if n := tracerPID("/proc/" + strconv.Itoa(pid) + "/status"); n != 0 {
		t.Fatalf("main thread's TracerPid %d, want 0", n)
	}
	sm, fs := sampleOf(t, "traced-idle-worker", pid)
	if !has(fs, "traced") {
		t.Fatalf("no traced finding for a worker traced by this test:\n%s", dump(fs))
	}
	f := find(t, fs, "traced")
	if v, ok := evidence(f, "tracer_pid"); !ok || int(v) != tracerPID(taskStatus) {
		t.Errorf("tracer_pid %v (ok %v), want the worker's %d", v, ok, tracerPID(taskStatus))
	}
	if v, ok := evidence(f, "traced_threads"); !ok || v != 1 {
		t.Errorf("traced_threads %v (ok %v), want 1:\n%s", v, ok, f.Verdict)
	}
	rate, ok := evidence(f, "switches_per_second")
	whole := switchRate(sm)
	if !ok || rate <= 0 || rate > whole/4 {
		t.Errorf("traced switches %.0f/s (ok %v) against the pool's %.0f/s: want the one worker's", rate, ok, whole)
	}
	if strings.Contains(f.Verdict, "runs slower") {
		t.Errorf("a tracer that stopped nothing said to slow it: %s", f.Verdict)
	}
}

// TestLiveTracedByGDB (tester12 B4): a shell loop under gdb, attached and
// continued, is stopped only at the forks and signals gdb catches. The
// traced finding names gdb, says what a debugger stops at (not strace's
// "every system call"), counts its switches as at most that many stops,
// and gives a debugger's advice, not "strace -e".
func TestLiveTracedByGDB(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ptrace of a helper needs root here (yama ptrace_scope)")
	}
	gdbPath, err := exec.LookPath("gdb")
	if err != nil {
		t.Skip("no gdb")
	}
	sh := exec.Command("sh", "-c", "while :; do sleep 0.1; done")
	if err := sh.Start(); err != nil {
		t.Skip("no sh:", err)
	}
	pid := sh.Process.Pid
	var gdbOut bytes.Buffer
	gdb := exec.Command(gdbPath, "-nx", "-batch", "-iex", "set debuginfod enabled off", "-p", strconv.Itoa(pid), "-ex", "continue")
	gdb.Stdout, gdb.Stderr = &gdbOut, &gdbOut
	if err := gdb.Start(); err != nil {
		t.Skip("gdb:", err)
	}
	t.Cleanup(func() {
		_ = sh.Process.Kill()
		_ = sh.Wait()
		// gdb ends when its inferior is killed; it is killed after 10 s.
		ended := make(chan struct{})
		go func() { _ = gdb.Wait(); close(ended) }()
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			_ = gdb.Process.Kill()
			<-ended
		}
	})
	status := "/proc/" + strconv.Itoa(pid) + "/status"
	waitFor(t, func() bool { return tracerPID(status) == gdb.Process.Pid && procState(pid) == 'S' })
	_, fs := sampleOf(t, "traced-gdb", pid)
	if !has(fs, "traced") {
		t.Fatalf("no traced finding under gdb (%s):\n%s", gdbOut.String(), dump(fs))
	}
	f := find(t, fs, "traced")
	if !strings.Contains(f.Verdict, "gdb (TracerPid "+strconv.Itoa(gdb.Process.Pid)+")") {
		t.Errorf("verdict does not name gdb: %s", f.Verdict)
	}
	if strings.Contains(f.Verdict, "strace") || strings.Contains(f.Verdict, "every system call") {
		t.Errorf("strace's stops claimed for gdb: %s", f.Verdict)
	}
	for _, e := range f.Evidence {
		if e.Name == "switches_per_second" && !strings.Contains(e.Text, "at most") {
			t.Errorf("every switch counted as a stop for gdb: %q", e.Text)
		}
	}
	if v, ok := evidence(f, "traced_stop_share"); ok && v == 0 && strings.Contains(f.Verdict, "runs slower") {
		t.Errorf("no stop seen, yet 'runs slower': %s", f.Verdict)
	}
	for _, tr := range f.Try {
		if strings.Contains(tr, "strace") {
			t.Errorf("strace advice for gdb: %s", tr)
		}
	}
}
