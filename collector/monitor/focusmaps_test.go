package monitor

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// TestFocusPerMappingFallsBackToMaps: in per-mapping mode a focused
// process whose smaps cannot be read (here an entry without Rss) had no
// mappings at all in its frame; it has maps' rows, none with an RSS,
// and Unavailable["smaps"] saying why, with the totals from
// smaps_rollup.
func TestFocusPerMappingFallsBackToMaps(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "fixtures", "proc", "maps-c"))); err != nil {
		t.Fatal(err)
	}
	const pid = 26269
	smaps := filepath.Join(root, "26269", "smaps")
	b, err := os.ReadFile(smaps)
	if err != nil {
		t.Fatal(err)
	}
	loc := regexp.MustCompile(`(?m)^Rss:.*\n`).FindIndex(b)
	if loc == nil {
		t.Fatal("the fixture's smaps has no Rss line")
	}
	if err := os.WriteFile(smaps, append(b[:loc[0]:loc[0]], b[loc[1]:]...), 0o644); err != nil {
		t.Fatal(err)
	}
	m, ch := startMonitorOn(t, collector.Options{Root: root}, Options{Interval: 50 * time.Millisecond})
	m.FocusMemory(true)
	m.Focus(pid)
	f := waitFrame(t, ch, "the focused process's address space", func(f *Frame) bool {
		return f.Focus != nil && f.Focus.PID == pid && (f.Focus.Space != nil || f.Focus.SpaceErr != "")
	})
	as := f.Focus.Space
	if as == nil {
		t.Fatalf("no address space: %s", f.Focus.SpaceErr)
	}
	if len(as.Maps) == 0 || as.PerMapping || as.Unavailable["smaps"] == "" || as.Unavailable["maps"] != "" {
		t.Fatalf("%d mappings, per-mapping %v, unavailable %v; want maps' rows and why smaps was not read", len(as.Maps), as.PerMapping, as.Unavailable)
	}
	for _, mp := range as.Maps {
		if mp.RSSBytes != nil {
			t.Errorf("mapping %x has an RSS %d from a failed smaps", mp.Start, *mp.RSSBytes)
		}
	}
	if as.Memory == nil || as.MemorySource != "smaps_rollup" {
		t.Errorf("memory %+v from %q, want smaps_rollup's totals", as.Memory, as.MemorySource)
	}
}
