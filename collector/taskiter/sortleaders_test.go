package taskiter

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// wrappedLeaders is n leaders in the order a machine whose pids wrapped
// runs times makes them: ascending runs of pids, each starting lower.
func wrappedLeaders(n, runs int, r *rand.Rand) []leaderAt {
	pids := map[int]bool{}
	var out []leaderAt
	for run := range runs {
		k := n / runs
		if run == runs-1 {
			k = n - len(out)
		}
		var p []int
		for len(p) < k {
			pid := 1 + r.IntN(1<<pidBits-1)
			if !pids[pid] {
				pids[pid] = true
				p = append(p, pid)
			}
		}
		slices.Sort(p)
		for _, pid := range p {
			out = append(out, leaderAt{tgid: pid, task: len(out), group: len(out), ppid: pid / 2})
		}
	}
	return out
}

// TestSortLeaders: sortLeaders puts leaders in pid order as
// slices.SortFunc does, each leader with its own indices, for lists of
// one or several ascending runs, random order, small and empty lists.
func TestSortLeaders(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tmp []leaderAt
	for _, tc := range []struct{ n, runs int }{{0, 1}, {1, 1}, {2, 2}, {10, 3}, {1000, 1}, {10000, 2}, {10000, 40}, {5000, 5000}} {
		a := wrappedLeaders(tc.n, tc.runs, r)
		if tc.runs == tc.n {
			r.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
		}
		want := slices.Clone(a)
		slices.SortFunc(want, cmpLeader)
		tmp = sortLeaders(a, tmp)
		if !slices.Equal(a, want) {
			t.Errorf("%d leaders in %d runs: not sorted as SortFunc sorts them", tc.n, tc.runs)
		}
	}
}

// BenchmarkSortLeaders is the sort of 10,000 leaders in two runs (the
// pids wrapped once), as indexLeaders meets it at 10,000 x 1;
// BenchmarkSortLeadersFunc the same with slices.SortFunc.
func BenchmarkSortLeaders(b *testing.B) { benchSortLeaders(b, false) }

// BenchmarkSortLeadersFunc is BenchmarkSortLeaders with slices.SortFunc.
func BenchmarkSortLeadersFunc(b *testing.B) { benchSortLeaders(b, true) }

func benchSortLeaders(b *testing.B, fn bool) {
	in := wrappedLeaders(10000, 2, rand.New(rand.NewPCG(3, 4)))
	a := make([]leaderAt, len(in))
	var tmp []leaderAt
	for b.Loop() {
		copy(a, in)
		if fn {
			slices.SortFunc(a, cmpLeader)
		} else {
			tmp = sortLeaders(a, tmp)
		}
	}
}
