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
// case of ASCII letters ignored.
func TestNameMatchesAsTheDashboard(t *testing.T) {
	token := "ExeOnlyDir" + strconv.Itoa(os.Getpid())
	dir := filepath.Join(t.TempDir(), token)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sleep")
	livehelper.CopiesOf(t, "sleep", bin)
	pid := strconv.Itoa(livehelper.ExecAs(t, bin, "sleep", "600"))
	for _, name := range []string{token, strings.ToLower(token), strings.ToUpper(token)} {
		out, errs, code := runInProcess(t, "ps", "--name", name, "--columns", "pid,comm")
		found := false
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == pid {
				found = true
			}
		}
		if code != 0 || !found {
			t.Errorf("ps --name %s: exit %d, no row for %s:\n%s%s", name, code, pid, out, errs)
		}
	}
}
