package collector

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestExeNamedDeleted: an executable whose own name ends in " (deleted)"
// is not deleted, though its exe link reads like a deleted one's; one
// removed after it started is, whatever its name. Real processes run
// copies of sleep: "x (deleted)" (there), "y" (removed), "z (deleted)"
// (removed: its link ends in the mark twice), and "w", removed while a
// hard link "w (deleted)" to the same file stays (that name is the
// running file's: shown, not deleted). Both backends, two scans each
// (the second from the memo).
func TestExeNamedDeleted(t *testing.T) {
	dir := t.TempDir()
	named, gone, goneNamed := filepath.Join(dir, "x (deleted)"), filepath.Join(dir, "y"), filepath.Join(dir, "z (deleted)")
	linked, link := filepath.Join(dir, "w"), filepath.Join(dir, "w (deleted)")
	livehelper.CopiesOf(t, "sleep", named, gone, goneNamed, linked)
	if err := os.Link(linked, link); err != nil {
		t.Fatal(err)
	}
	type want struct {
		exe     string
		deleted bool
	}
	wants := map[int]want{}
	for bin, w := range map[string]want{
		named:     {named, false},
		gone:      {gone, true},
		goneNamed: {goneNamed, true},
		linked:    {link, false},
	} {
		wants[livehelper.Exec(t, bin, "300")] = w
	}
	for _, p := range []string{gone, goneNamed, linked} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, backend := range []Backend{BackendProc, BackendTaskIter} {
		r, err := NewReader(Options{Backend: backend})
		if err != nil {
			if backend == BackendTaskIter && os.Geteuid() != 0 {
				continue
			}
			t.Fatal(err)
		}
		for scan := 1; scan <= 2; scan++ {
			s, err := r.Scan(context.Background(), ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			for _, p := range s.Processes {
				w, ok := wants[p.PID]
				if !ok {
					continue
				}
				found++
				if p.Exe != w.exe || p.ExeDeleted != w.deleted {
					t.Errorf("%s, scan %d: pid %d: exe %q deleted %v, want %q deleted %v (state %c)", s.Collector, scan, p.PID, p.Exe, p.ExeDeleted, w.exe, w.deleted, p.State)
				}
			}
			if found != len(wants) {
				t.Errorf("%s, scan %d: %d of %d processes", s.Collector, scan, found, len(wants))
			}
		}
		r.Close()
	}
}
