package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestPSMarksDeletedExe: ps's EXE column marks a deleted executable with
// "[deleted]" (as show does), and not one whose own name ends in the
// kernel's " (deleted)": real copies of sleep, "y" removed after it
// started, "x (deleted)" still there.
func TestPSMarksDeletedExe(t *testing.T) {
	dir := t.TempDir()
	named, gone := filepath.Join(dir, "x (deleted)"), filepath.Join(dir, "y")
	livehelper.CopiesOf(t, "sleep", named, gone)
	pids := map[string]string{}
	for _, bin := range []string{named, gone} {
		pids[bin] = strconv.Itoa(livehelper.Exec(t, bin, "300"))
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runInProcess(t, "ps", "--pid", pids[named]+","+pids[gone], "--columns", "pid,exe")
	if code != 0 {
		t.Fatalf("ps: exit %d: %s", code, errs)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = l
		}
	}
	if r := rows[pids[gone]]; !strings.HasSuffix(r, gone+"  [deleted]") {
		t.Errorf("the removed executable's row %q, want %s  [deleted]:\n%s", r, gone, out)
	}
	if r := rows[pids[named]]; !strings.HasSuffix(r, named) {
		t.Errorf("the row of the executable named %q: %q, want no mark:\n%s", named, r, out)
	}
}
