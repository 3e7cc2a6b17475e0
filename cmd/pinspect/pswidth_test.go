package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rivo/uniseg"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestPSAlignsWideNames: ps pads its columns by display width, not by
// runes: real processes named (prctl PR_SET_NAME) with CJK characters
// (two columns each), emoji (two) and a combining accent (none) line up
// with a plain ASCII one, so every line of a table whose last column is
// a number is as wide as the heading's.
func TestPSAlignsWideNames(t *testing.T) {
	names := []string{"漢字漢字漢", "🙂🙂🙂", "cafe\u0301s", "plain"}
	var pids []string
	for _, n := range names {
		pids = append(pids, strconv.Itoa(livehelper.Start(t, "comm", n).PID()))
	}
	out, errs, code := runInProcess(t, "ps", "--pid", strings.Join(pids, ","), "--columns", "pid,comm,thr")
	if code != 0 {
		t.Fatalf("ps: exit %d: %s", code, errs)
	}
	lines := strings.Split(out, "\n")
	head := uniseg.StringWidth(lines[0])
	seen := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 0 || !slices.Contains(pids, f[0]) {
			continue
		}
		seen++
		if w := uniseg.StringWidth(l); w != head {
			t.Errorf("row %q is %d columns wide, the heading %d:\n%s", l, w, head, out)
		}
	}
	if seen != len(names) {
		t.Fatalf("%d of the %d helpers listed:\n%s", seen, len(names), out)
	}
	for _, n := range names {
		if !strings.Contains(out, n) {
			t.Errorf("name %q not shown:\n%s", n, out)
		}
	}
}
