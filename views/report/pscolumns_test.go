package report

import (
	"testing"
)

func TestClockTime(t *testing.T) {
	for sec, want := range map[float64]string{0: "00:00:00", 59.99: "00:00:59", 3661: "01:01:01", 86400 + 7322: "1-02:02:02"} {
		if got := clockTime(sec); got != want {
			t.Errorf("clockTime(%v) = %q, want %q", sec, got, want)
		}
	}
}

// TestSortPSUnknownLast: a process whose value is unknown sorts after the
// known ones in both directions; ties keep pid order.
func TestSortPSUnknownLast(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	procs := func() []ProcessDoc {
		return []ProcessDoc{{PID: 4}, {PID: 1, RSSBytes: u(10)}, {PID: 3}, {PID: 2, RSSBytes: u(20)}}
	}
	for _, c := range []struct {
		spec string
		want []int
	}{
		{"rss", []int{1, 2, 3, 4}},
		{"-rss", []int{2, 1, 3, 4}},
		{"-pid", []int{4, 3, 2, 1}},
	} {
		keys, err := ParsePSSort(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		ps := procs()
		SortPS(&PSView{Doc: &SnapshotDoc{Processes: ps}}, keys)
		for i, p := range ps {
			if p.PID != c.want[i] {
				t.Errorf("--sort %s: %v, want %v", c.spec, ps, c.want)
				break
			}
		}
	}
	if _, err := ParsePSSort("rss,bogus"); err == nil {
		t.Error("an unknown sort key was accepted")
	}
}
