package dashboard

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/collector"
)

// TestMemoryRSSNote: the Memory tab says "reading smaps" only while the
// address space it shows was read without smaps; once read with smaps
// every row has its RSS and the line goes; and when the smaps read
// failed (here an entry without Rss) the rows are maps', none with an
// RSS ("-", not 0), and the note gives the reason instead of "reading"
// for ever (the whole list went with the failed read before).
func TestMemoryRSSNote(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "fixtures", "proc", "maps-c"))); err != nil {
		t.Fatal(err)
	}
	const pid = 26269
	r, err := collector.NewReader(collector.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	space := func(per bool) *memView {
		t.Helper()
		// As the monitor reads the focused process.
		as, err := r.AddressSpace(pid, collector.AddrOptions{PerMapping: per, MapsFallback: true})
		if err != nil {
			t.Fatal(err)
		}
		return memFromSpace(as)
	}
	if m := space(false); len(m.maps) == 0 || !strings.Contains(m.rssNote(), "reading smaps") {
		t.Errorf("without smaps: %d rows, note %q, want rows and \"reading smaps\"", len(m.maps), m.rssNote())
	}
	m := space(true)
	if len(m.maps) == 0 || m.rssNote() != "" {
		t.Errorf("with smaps: %d rows, note %q, want rows and no note", len(m.maps), m.rssNote())
	}
	for _, mp := range m.maps {
		if !mp.rssKnown {
			t.Errorf("with smaps: mapping %x has no RSS", mp.start)
		}
	}
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
	rows := len(space(false).maps)
	m = space(true)
	if len(m.maps) != rows || !strings.Contains(m.rssNote(), "not read (smaps: malformed smaps") ||
		!strings.Contains(m.rssNote(), "from maps, without RSS") || strings.Contains(m.note, "maps unavailable") {
		t.Errorf("a failed smaps read: %d rows (maps has %d), RSS note %q, note %q; want maps' rows and the reason", len(m.maps), rows, m.rssNote(), m.note)
	}
	for _, mp := range m.maps {
		if mp.rssKnown {
			t.Errorf("a failed smaps read: mapping %x has an RSS %d", mp.start, mp.rss)
		}
	}
	for _, sg := range m.segments {
		if sg.rssKnown {
			t.Errorf("a failed smaps read: segment %s has an RSS %d", sg.name, sg.rss)
		}
	}
}
