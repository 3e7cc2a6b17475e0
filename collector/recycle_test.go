package collector

import (
	"context"
	"reflect"
	"runtime"
	"slices"
	"testing"
)

// TestRecycleProcesses: with RecycleProcesses a task-iterator scan writes
// into the array of an earlier snapshot that nothing holds any more, and
// never into one that something holds: a kept snapshot, and a pointer to
// one process of a snapshot otherwise let go, keep their processes as
// they were read while the Reader scans again and again.
func TestRecycleProcesses(t *testing.T) {
	r := newIterReader(t, Options{RecycleProcesses: true, NoTaskstats: true})
	scan := func() *Snapshot {
		t.Helper()
		s, err := r.Scan(context.Background(), ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Processes) == 0 {
			t.Fatal("a scan with no processes")
		}
		return s
	}
	arrayOf := func(ps []Process) uintptr { return reflect.ValueOf(ps).Pointer() }

	kept := scan()
	keptCopy := slices.Clone(kept.Processes)
	held := scan()
	one := &held.Processes[len(held.Processes)/2]
	oneCopy := *one
	heldArray := arrayOf(held.Processes)
	held = nil

	recycled := 0
	for i := 0; i < 30 && recycled < 3; i++ {
		s := scan()
		if a := arrayOf(s.Processes); a == arrayOf(kept.Processes) || a == heldArray {
			t.Fatalf("scan %d wrote into the array of a snapshot still held", i)
		}
		s = nil
		// The collection finds the snapshot let go; its finalizer runs
		// on the runtime's finalizer goroutine.
		runtime.GC()
		for j := 0; j < 1000 && r.recycled.Load() == nil; j++ {
			runtime.Gosched()
		}
		ready := r.recycled.Load()
		if ready == nil {
			continue
		}
		if a := arrayOf(ready.procs); a == arrayOf(kept.Processes) || a == heldArray {
			t.Fatalf("an array still held was recycled")
		}
		for k := range ready.procs {
			if !reflect.ValueOf(ready.procs[k]).IsZero() {
				t.Fatalf("a recycled array holds process %d at %d", ready.procs[k].PID, k)
			}
		}
		if next := scan(); arrayOf(next.Processes) == arrayOf(ready.procs) {
			recycled++
		}
	}
	if recycled < 3 {
		t.Fatalf("%d scans wrote into a recycled array, want 3", recycled)
	}
	if !reflect.DeepEqual(kept.Processes, keptCopy) {
		t.Error("a kept snapshot's processes changed")
	}
	if !reflect.DeepEqual(*one, oneCopy) {
		t.Error("a process pointed to changed")
	}
	runtime.KeepAlive(kept)
	runtime.KeepAlive(one)
}

// TestRecycleProcessesOff: without the option no finalizer is set and no
// array is kept (serve, record, the one-shot).
func TestRecycleProcessesOff(t *testing.T) {
	r := newIterReader(t, Options{NoTaskstats: true})
	for i := 0; i < 3; i++ {
		if _, err := r.Scan(context.Background(), ScanOptions{}); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
	}
	for j := 0; j < 1000; j++ {
		runtime.Gosched()
	}
	if r.recycled.Load() != nil {
		t.Fatal("a Reader without RecycleProcesses kept an array")
	}
}
