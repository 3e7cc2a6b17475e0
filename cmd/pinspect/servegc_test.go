package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestServeGC: serve runs at GOGC serveGCPercent unless the environment
// sets GOGC, which it leaves alone.
func TestServeGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	serveGC()
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Errorf("GOGC %d without the environment's, want %d", got, serveGCPercent)
	}
	t.Setenv("GOGC", "100")
	serveGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC %d with GOGC=100 in the environment, want 100", got)
	}
}
