package monitor

import (
	"context"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSyncMarkerLeavesProcessName: a sync's marker thread never renames
// the main thread, whose name is the process's (the comm in ps, and the
// name children forked from it inherit): Go parks the main thread rather
// than end it with a goroutine that exits locked, so a marker that ran
// there left the whole process named pinspect-sync. A mark begun on the
// main thread is made so (onMainThread), not left to where the runtime
// places a goroutine (review final8 8).
func TestSyncMarkerLeavesProcessName(t *testing.T) {
	want, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the rename happens; nothing reads its event
	s := &connSource{}
	for i := 0; i < 2000; i++ {
		_ = s.barrierSync(ctx)
		got, err := os.ReadFile("/proc/self/comm")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("after %d marks the process is named %q, was %q", i+1, got, want)
		}
	}
	// The marker started on the main thread itself, as the runtime may
	// place it: it moves to another thread before it renames one.
	for i := 0; i < 20; i++ {
		seen, started := make(chan struct{}), make(chan error, 1)
		onMainThread(func() {
			if tid := unix.Gettid(); tid != os.Getpid() {
				t.Errorf("the main thread's tid %d is not the pid %d", tid, os.Getpid())
			}
			s.markThread(seen, started, nil)
		})
		if err := <-started; err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile("/proc/self/comm")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("after a mark begun on the main thread the process is named %q, was %q", got, want)
		}
	}
}
