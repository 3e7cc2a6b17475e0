//go:build linux

package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// TestOneShotFirstCollection: a one-shot command collects no garbage
// until its heap reaches oneShotFirstGCBytes, and after its first
// collection goes on with GOGC=200 and no memory limit, so that a snapshot
// bigger than the limit is not collected again and again.
func TestOneShotFirstCollection(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT set: oneShot obeys them")
	}
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	})
	read := func() (gogc, limit int64) {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
		metrics.Read(s)
		return int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
	}
	oneShot()
	if gogc, limit := read(); gogc != -1 || limit != oneShotFirstGCBytes {
		t.Fatalf("before the first collection: GOGC %d, limit %d; want off (-1), %d", gogc, limit, oneShotFirstGCBytes)
	}
	runtime.GC()
	deadline := time.Now().Add(30 * time.Second)
	for {
		gogc, limit := read()
		if gogc == oneShotGCPercent && limit == math.MaxInt64 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first collection: GOGC %d, limit %d; want %d, none", gogc, limit, oneShotGCPercent)
		}
		runtime.GC() // a cleanup may wait for a later cycle
		time.Sleep(10 * time.Millisecond)
	}
}
