package dashboard

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/pinspect/pinspect/collector"
)

// TestSortByRateAsRowSorter: a sort by a rate column (sortByRate) puts
// the rows in the order rowSorter does, both ways, with equal rates,
// unknown rates and NaN among them; another column is left to rowSorter.
func TestSortByRateAsRowSorter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	procs := make([]collector.Process, 500)
	for i, pid := range rng.Perm(len(procs)) {
		procs[i].PID = 1 + 3*pid // distinct, in no order
	}
	value := func() float64 {
		switch rng.IntN(6) {
		case 0:
			return 0
		case 1:
			return math.NaN()
		case 2:
			return 1.5 // ties, broken by pid
		}
		return rng.Float64() * 100
	}
	m := newTableModel(nil)
	for _, c := range []colID{colCPU, colVol, colInvol} {
		for _, desc := range []bool{false, true} {
			for _, n := range []int{0, 1, 2, 500} {
				rows := make([]row, n)
				for i := range rows {
					rows[i] = row{p: &procs[i], r: rate{cpu: value(), vol: value(), invol: value(), ok: rng.IntN(5) != 0}}
				}
				want := append([]row(nil), rows...)
				sort.Sort(&rowSorter{m: m, rows: want, col: c, desc: desc})
				if !m.sortByRate(rows, c, desc) {
					t.Fatalf("column %d is not a rate column", c)
				}
				for i := range rows {
					if rows[i].p != want[i].p {
						t.Fatalf("column %d, desc %v, %d rows: row %d is pid %d, rowSorter's pid %d", c, desc, n, i, rows[i].p.PID, want[i].p.PID)
					}
				}
			}
		}
	}
	if m.sortByRate(nil, colPID, false) {
		t.Error("sortByRate sorted by PID")
	}
}
