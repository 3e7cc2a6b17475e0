//go:build linux

package main

import (
	"runtime/metrics"
	"testing"
	"time"
)

// heapFreeSink keeps the test's allocation from being optimised away.
var heapFreeSink []byte

// TestCollectAfterFrameReturnsPages: the dashboard's collection after a
// refresh leaves no free heap pages resident: 64 MiB allocated and
// dropped are given back to the kernel at once, not kept up to the next
// goal (a plain runtime.GC leaves them to the background scavenger,
// which returns them over seconds).
func TestCollectAfterFrameReturnsPages(t *testing.T) {
	heapFreeSink = make([]byte, 64<<20)
	for i := 0; i < len(heapFreeSink); i += 4096 {
		heapFreeSink[i] = 1 // resident
	}
	heapFreeSink = nil
	lastFreeOSMemory.Store(0)
	collectAfterFrame()
	waitCollected(t)
	if free := heapFreeResident(); free > 16<<20 {
		t.Errorf("%d MiB of free heap pages still resident after the collection", free>>20)
	}
	if lastFreeOSMemory.Load() == 0 {
		t.Error("the pages were given back but the time was not kept")
	}
}

// TestCollectAfterFrameSpacesReturns: within freeOSMemoryEvery of the
// last return, a refresh's collection does not give pages back (at a
// 100 ms interval each return would be faulted back in at once).
func TestCollectAfterFrameSpacesReturns(t *testing.T) {
	lastFreeOSMemory.Store(time.Now().Add(time.Hour).UnixNano()) // a return "just now", for as long as the test runs
	defer lastFreeOSMemory.Store(0)
	heapFreeSink = make([]byte, 64<<20)
	for i := 0; i < len(heapFreeSink); i += 4096 {
		heapFreeSink[i] = 1
	}
	heapFreeSink = nil
	collectAfterFrame()
	waitCollected(t)
	if free := heapFreeResident(); free < 32<<20 {
		t.Errorf("only %d MiB of free heap pages resident: pages were given back within %v of the last return", free>>20, freeOSMemoryEvery)
	}
}

// waitCollected waits for collectAfterFrame's collection to end.
func waitCollected(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); gcRunning.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("the collection did not end within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// heapFreeResident is the runtime's free heap memory still backed by
// pages.
func heapFreeResident() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
