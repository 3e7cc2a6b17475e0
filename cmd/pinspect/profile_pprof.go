//go:build linux && pprof

package main

// This file exists only in a binary built with `-tags pprof` (never in a
// release build: runtime/pprof and its writers would add to every
// user's executable): with PINSPECT_PPROF_DIR set, it profiles the whole
// run of whatever command runs, for docs/PERFORMANCE.md's measurements.
//
//	go build -tags pprof -o bin/pinspect-pprof ./cmd/pinspect
//	PINSPECT_PPROF_DIR=/tmp/prof bin/pinspect-pprof --interval 1s
//
// It writes DIR/cpu.pprof (the first PINSPECT_PPROF_CPU_SECONDS, default
// 30, after PINSPECT_PPROF_DELAY_SECONDS, default 10: the steady state,
// not the start-up) and DIR/heap.pprof every 10 s (live objects as of the
// last collection, and every allocation since the start; the sampling
// rate is PINSPECT_PPROF_MEMRATE bytes, default 64 KiB).

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
)

func init() {
	dir := os.Getenv("PINSPECT_PPROF_DIR")
	if dir == "" {
		return
	}
	runtime.MemProfileRate = envInt("PINSPECT_PPROF_MEMRATE", 64<<10)
	delay := time.Duration(envInt("PINSPECT_PPROF_DELAY_SECONDS", 10)) * time.Second
	cpu := time.Duration(envInt("PINSPECT_PPROF_CPU_SECONDS", 30)) * time.Second
	go func() {
		time.Sleep(delay)
		if f, err := os.Create(filepath.Join(dir, "cpu.pprof")); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				time.Sleep(cpu)
				pprof.StopCPUProfile()
			}
			f.Close()
		}
	}()
	go func() {
		for {
			time.Sleep(10 * time.Second)
			tmp := filepath.Join(dir, "heap.pprof.tmp")
			if f, err := os.Create(tmp); err == nil {
				err = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
				if err == nil {
					os.Rename(tmp, filepath.Join(dir, "heap.pprof"))
				}
			}
		}
	}()
}

// envInt is the environment variable name as a positive integer, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
