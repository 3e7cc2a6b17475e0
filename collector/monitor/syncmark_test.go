package monitor

import (
	"context"
	"os"
	"testing"
)

// TestSyncMarkerLeavesProcessName: a sync's marker thread never renames
// the main thread, whose name is the process's (the comm in ps, and the
// name children forked from it inherit): Go parks the main thread rather
// than end it with a goroutine that exits locked, so a marker that ran
// there left the whole process named pinspect-sync.
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
}
