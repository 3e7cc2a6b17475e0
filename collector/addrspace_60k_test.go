package collector

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// manyMaps is the mapping count of the large-address-space tests.
const manyMaps = 60000

// startManyMaps starts a helper with manyMaps extra mappings, or skips
// when vm.max_map_count (default 65530) does not allow it.
func startManyMaps(tb testing.TB) *livehelper.Proc {
	tb.Helper()
	b, err := os.ReadFile("/proc/sys/vm/max_map_count")
	if err != nil {
		tb.Skipf("vm.max_map_count: %v", err)
	}
	if max, _ := strconv.Atoi(strings.TrimSpace(string(b))); max < manyMaps+200 {
		tb.Skipf("vm.max_map_count %d is below %d", max, manyMaps+200)
	}
	return livehelper.Start(tb, "maps", strconv.Itoa(manyMaps))
}

// TestAddressSpaceLive60k reads a real process with 60,000 mappings: all
// are parsed and classified, and the memory used stays a few hundred
// bytes per mapping (the parse streams through a fixed buffer).
func TestAddressSpaceLive60k(t *testing.T) {
	p := startManyMaps(t)
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Per-mapping smaps is about 70 MB of text here: it is measured by
	// BenchmarkAddressSpace60k, not run under -race in the suite.
	for _, per := range []bool{false} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		as, err := r.AddressSpace(p.PID(), AddrOptions{PerMapping: per})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if len(as.Maps) < manyMaps || countClass(as, SegAnon) < manyMaps {
			t.Fatalf("per-mapping %v: %d maps, %d anon", per, len(as.Maps), countClass(as, SegAnon))
		}
		if as.Memory == nil || as.Memory.RSSBytes < manyMaps/2*4096 {
			t.Errorf("memory %+v: the helper touched %d pages", as.Memory, manyMaps/2)
		}
		perMap := (after.TotalAlloc - before.TotalAlloc) / uint64(len(as.Maps))
		if perMap > 512 {
			t.Errorf("per-mapping %v: %d bytes allocated per mapping", per, perMap)
		}
		t.Logf("per-mapping %v: %d maps, %d bytes allocated per mapping, %d mallocs", per, len(as.Maps), perMap, after.Mallocs-before.Mallocs)
	}
}

// BenchmarkAddressSpace60k measures AddressSpace on 60,000 mappings:
// go test -run '^$' -bench AddressSpace60k -benchmem ./collector
func BenchmarkAddressSpace60k(b *testing.B) {
	p := startManyMaps(b)
	r, err := NewReader(Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, per := range []bool{false, true} {
		b.Run("smaps="+strconv.FormatBool(per), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.AddressSpace(p.PID(), AddrOptions{PerMapping: per}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
