package collector

import (
	"errors"
	"os"
	"testing"
)

const rollupSample = `55d903919000-7ffcdc703000 ---p 00000000 00:00 0                          [rollup]
Rss:                1628 kB
Pss:                 309 kB
Pss_Dirty:           112 kB
Shared_Clean:       1464 kB
Shared_Dirty:          0 kB
Private_Clean:        52 kB
Private_Dirty:       112 kB
Swap:                  8 kB
SwapPss:               0 kB
VmFlags: rd wr mr mw me ac
`

func TestParseRollup(t *testing.T) {
	ents, err := parseSmaps([]byte(rollupSample))
	if err != nil {
		t.Fatal(err)
	}
	got, err := rollupTotals(ents)
	if err != nil {
		t.Fatal(err)
	}
	want := MemoryTotals{RSSBytes: 1628 << 10, PSSBytes: 309 << 10, USSBytes: 164 << 10, SharedBytes: 1464 << 10, SwapBytes: 8 << 10,
		PrivateDirtyBytes: 112 << 10}
	if *got != want {
		t.Fatalf("got %+v, want %+v", *got, want)
	}
	for _, bad := range []string{
		"Rss: 1 kB\n", // field before header
		"1000-2000 ---p 0 00:00 0 [rollup]\nRss: 1 MB\n",
		"1000-2000 ---p 0 00:00 0 [rollup]\nRss: x kB\n",
		"1000-2000 ---p 0 00:00 0 [rollup]\nRss 1 kB\n",
		"1000-2000 ---p 0 0:0:0 0 [rollup]\n",
	} {
		if _, err := parseSmaps([]byte(bad)); !errors.Is(err, errSmapsFormat) {
			t.Errorf("%q: err %v, want errSmapsFormat", bad, err)
		}
	}
	// A rollup without Rss (or with two entries) is an error, not zeros.
	for _, bad := range []string{"", "1000-2000 ---p 0 00:00 0 [rollup]\n", rollupSample + rollupSample} {
		ents, err := parseSmaps([]byte(bad))
		if err != nil {
			t.Fatal(err)
		}
		if m, err := rollupTotals(ents); err == nil {
			t.Errorf("%q: got %+v, want an error", bad, m)
		}
	}
}

// TestSmapsSumMatchesRollup checks, on real captures, that summing
// per-mapping smaps gives the rollup (PSS within rounding: the kernel
// rounds each mapping's PSS down).
func TestSmapsSumMatchesRollup(t *testing.T) {
	for _, p := range fixtureFiles(t, "smaps") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ents, err := parseSmaps(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var sum smapsCounters
		for i := range ents {
			sum.add(&ents[i].c)
		}
		rb, err := os.ReadFile(p + "_rollup")
		if err != nil {
			t.Fatal(err)
		}
		re, err := parseSmaps(rb)
		if err != nil {
			t.Fatal(err)
		}
		roll, err := rollupTotals(re)
		if err != nil {
			t.Fatalf("%s_rollup: %v", p, err)
		}
		tot := sum.totals()
		if tot.RSSBytes != roll.RSSBytes || tot.USSBytes != roll.USSBytes {
			t.Errorf("%s: smaps sum %+v, rollup %+v", p, tot, *roll)
		}
		if d := int64(tot.PSSBytes) - int64(roll.PSSBytes); d > 4<<10*int64(len(ents)) || d < -4<<10*int64(len(ents)) {
			t.Errorf("%s: PSS sum %d vs rollup %d", p, tot.PSSBytes, roll.PSSBytes)
		}
	}
}

func FuzzParseSmaps(f *testing.F) {
	f.Add([]byte(rollupSample))
	for _, p := range fixtureFiles(f, "smaps") {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ents, err := parseSmaps(b)
		if err != nil {
			return
		}
		for _, e := range ents {
			if e.m.End < e.m.Start {
				t.Fatalf("accepted an impossible mapping %+v", e.m)
			}
			if e.c.rss%1024 != 0 || e.c.rss > 1<<63 {
				t.Fatalf("impossible rss %d", e.c.rss)
			}
		}
		_, _ = rollupTotals(ents)
	})
}
