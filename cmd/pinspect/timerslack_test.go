//go:build linux

package main

import (
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadSlack reads thread tid's timer slack in nanoseconds.
func threadSlack(t *testing.T, tid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/timerslack_ns")
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestWidenTimerSlack: every thread of the process has the slack after
// widenTimerSlack, the runtime's monitor thread (which no Go code runs
// on) included, and so do the threads started after it.
func TestWidenTimerSlack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writing another thread's timer slack takes CAP_SYS_NICE")
	}
	const want = 3 * time.Millisecond
	before, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	defer widenTimerSlack(50 * time.Microsecond) // the kernel's default
	set, found := widenTimerSlack(want)
	if set != found || found < len(before) {
		t.Fatalf("set %d of %d threads (%d listed before)", set, found, len(before))
	}
	for _, e := range before {
		tid, _ := strconv.Atoi(e.Name())
		if got := threadSlack(t, tid); got != want.Nanoseconds() {
			t.Errorf("thread %d: slack %d ns, want %d", tid, got, want.Nanoseconds())
		}
	}
	// Threads started from now on: goroutines locked to threads of their
	// own, all held at once, so the runtime has to start some.
	const n = 8
	tids := make(chan int, n)
	release := make(chan struct{})
	for range n {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with it
			tids <- unix.Gettid()
			<-release
		}()
	}
	seen := map[int]bool{}
	for range n {
		tid := <-tids
		seen[tid] = true
		if got := threadSlack(t, tid); got != want.Nanoseconds() {
			t.Errorf("thread %d, started after: slack %d ns, want %d", tid, got, want.Nanoseconds())
		}
	}
	close(release)
	if len(seen) != n {
		t.Fatalf("%d goroutines locked to %d threads", n, len(seen))
	}
}

// TestTimerSlackOnlyOwnThreads: writeTimerSlack refuses a thread of
// another process (a tid of ours that ended and was taken by another
// process would be one), and leaves its slack as it was.
func TestTimerSlackOnlyOwnThreads(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	path := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/timerslack_ns"
	before, err := os.ReadFile(path)
	if err != nil {
		t.Skip("cannot read another process's timerslack_ns:", err)
	}
	if err := writeTimerSlack(cmd.Process.Pid, []byte("4000000")); err == nil {
		t.Error("writeTimerSlack set another process's thread")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the other process's slack went from %q to %q", before, after)
	}
}

// TestOneShotTimerSlack: a one-shot command gives every thread of the
// process agentTimerSlack, the runtime's monitor thread included (it
// polls every 20 us on one P otherwise).
func TestOneShotTimerSlack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writing another thread's timer slack takes CAP_SYS_NICE")
	}
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
		widenTimerSlack(50 * time.Microsecond) // the kernel's default
	})
	oneShot()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		if got := threadSlack(t, tid); got != agentTimerSlack.Nanoseconds() {
			t.Errorf("thread %d: slack %d ns, want %d", tid, got, agentTimerSlack.Nanoseconds())
		}
	}
}
