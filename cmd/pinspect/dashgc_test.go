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
	collectAfterFrame()
	for deadline := time.Now().Add(time.Minute); gcRunning.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("the collection did not end within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	if free := s[0].Value.Uint64(); free > 16<<20 {
		t.Errorf("%d MiB of free heap pages still resident after the collection", free>>20)
	}
}
