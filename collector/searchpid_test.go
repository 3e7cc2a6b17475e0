package collector

import (
	"slices"
	"testing"
)

// TestSearchPID holds SearchPID to slices.BinarySearchFunc's answers on
// sorted lists of every length up to 40, for every pid in and around
// them (gaps, both ends, an empty list).
func TestSearchPID(t *testing.T) {
	for n := 0; n <= 40; n++ {
		procs := make([]Process, n)
		for i := range procs {
			procs[i].PID = 3*i + 2 // gaps of two between neighbours
		}
		for pid := 0; pid <= 3*n+3; pid++ {
			wi, wok := slices.BinarySearchFunc(procs, pid, func(p Process, pid int) int { return p.PID - pid })
			gi, gok := SearchPID(procs, pid)
			if gi != wi || gok != wok {
				t.Fatalf("n=%d pid=%d: SearchPID = %d, %v; want %d, %v", n, pid, gi, gok, wi, wok)
			}
		}
	}
}

// BenchmarkSearchPID is one lookup in 2,000 processes, by SearchPID and
// by slices.BinarySearchFunc (a copy of the record per step).
func BenchmarkSearchPID(b *testing.B) {
	procs := make([]Process, 2000)
	for i := range procs {
		procs[i].PID = 2*i + 1
	}
	b.Run("SearchPID", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			searchSink, _ = SearchPID(procs, (i%4000)|1)
		}
	})
	b.Run("BinarySearchFunc", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			searchSink, _ = slices.BinarySearchFunc(procs, (i%4000)|1, func(p Process, pid int) int { return p.PID - pid })
		}
	})
}

// searchSink keeps the benchmarks' results.
var searchSink int
