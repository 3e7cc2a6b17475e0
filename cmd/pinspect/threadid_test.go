//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestShowThreadID (tester11 T1): /proc/TID of a thread that is not its
// process's main thread exists, unlisted; `show TID` read it as a process
// of that number (exit 0, "Process TID", the whole process's memory),
// while ps and explain found none. Now show and explain say whose thread
// it is and exit 1, as for any id that is no process.
func TestShowThreadID(t *testing.T) {
	pid := os.Getpid()
	// A thread of our own that lives until the test ends: any other
	// thread of the test binary may be one the Go runtime ends (a
	// goroutine that exits while locked to its thread takes the thread
	// with it), and a thread that exited is rightly no thread of ours.
	// A goroutine locked to the main thread keeps it, so the next one
	// gets another.
	tids := make(chan int)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tid := pid
	for i := 0; tid == pid && i < 4; i++ {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tids <- syscall.Gettid()
			<-release
		}()
		tid = <-tids
	}
	if tid == pid {
		t.Fatalf("4 locked goroutines all ran on the main thread %d", pid)
	}
	want := fmt.Sprintf("no such process: %d is a thread of process %d", tid, pid)
	for _, args := range [][]string{
		{"show", strconv.Itoa(tid)},
		{"show", "--json", strconv.Itoa(tid)},
		{"explain", "--window", "200ms", "--interval", "50ms", strconv.Itoa(tid)},
	} {
		r := pinspect(t, args...)
		if r.code != exitNoMatch || !strings.Contains(r.stderr, want) || r.stdout != "" {
			t.Errorf("%q: exit %d stdout %.80q stderr %q, want exit 1 with %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
	// The process itself is still shown.
	if r := pinspect(t, "show", strconv.Itoa(pid)); r.code != 0 || !strings.Contains(r.stdout, strconv.Itoa(pid)) {
		t.Errorf("show %d: exit %d stderr %q", pid, r.code, r.stderr)
	}
}
