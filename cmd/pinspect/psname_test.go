package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestNameMatchesAsTheDashboard: ps --name matches as the dashboard's F4
// filter does (lifecycle.MatchesName): the executable's path, with the
// case of ASCII letters ignored, and every other byte as it is: a name
// with a non-ASCII letter (Äpfel) or a byte that is not UTF-8 is found
// as typed (strings.ToLower made Ä ä and the byte U+FFFD, found nothing).
func TestNameMatchesAsTheDashboard(t *testing.T) {
	token := "ExeOnlyDir" + strconv.Itoa(os.Getpid())
	dir := filepath.Join(t.TempDir(), token)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sleep")
	livehelper.CopiesOf(t, "sleep", bin)
	pid := strconv.Itoa(livehelper.ExecAs(t, bin, "sleep", "600"))
	suffix := strconv.Itoa(os.Getpid() % 100000)
	apfel := "Äpfel" + suffix
	apfelPID := strconv.Itoa(livehelper.Start(t, "comm", apfel).PID())
	raw := "\xffRaw" + suffix
	rawPID := strconv.Itoa(livehelper.Start(t, "comm", raw).PID())
	for _, tc := range []struct{ pid, name string }{
		{pid, token}, {pid, strings.ToLower(token)}, {pid, strings.ToUpper(token)},
		{apfelPID, apfel}, {apfelPID, "ÄPFEL" + suffix},
		{rawPID, raw}, {rawPID, "\xffraw" + suffix},
	} {
		out, errs, code := runInProcess(t, "ps", "--name", tc.name, "--columns", "pid,comm")
		found := false
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == tc.pid {
				found = true
			}
		}
		if code != 0 || !found {
			t.Errorf("ps --name %q: exit %d, no row for %s:\n%s%s", tc.name, code, tc.pid, out, errs)
		}
	}
}
