//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestShowThreadID (tester11 T1): /proc/TID of a thread that is not its
// process's main thread exists, unlisted; `show TID` read it as a process
// of that number (exit 0, "Process TID", the whole process's memory),
// while ps and explain found none. Now show and explain say whose thread
// it is and exit 1, as for any id that is no process.
func TestShowThreadID(t *testing.T) {
	pid := os.Getpid()
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	tid := 0
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n != pid {
			tid = n
			break
		}
	}
	if tid == 0 {
		t.Fatalf("the test binary has no thread but its main one: %d entries", len(entries))
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
