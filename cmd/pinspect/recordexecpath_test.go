package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/views/report"
)

// TestRecordKeepsExecPath: the record stores the path an exec was given
// (from the BPF exec record), so `events --name` and `dump event --name`
// find a program that exec'd and ended between two samples by it, as
// watch does: a link to sh whose name is longer than a comm's 15 bytes,
// --name the part past them. The record kept no exec path: neither
// found it (its comm is the first 15 bytes, its exe sh).
func TestRecordKeepsExecPath(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	tmp := t.TempDir()
	needle := "recpath" + strconv.Itoa(os.Getpid())
	prog := filepath.Join(tmp, "xpathxxxxxxxxxx-"+needle)
	if err := os.Symlink(sh, prog); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "rec")
	rec := startRecording(t, dir)
	if !strings.Contains(rec.errb.String(), "BPF tracepoints") {
		t.Skipf("no BPF tracepoints (the exec path comes from them): %s", rec.errb.String())
	}
	if err := exec.Command(prog, "-c", "exit 3").Run(); err == nil {
		t.Fatal("the program exited 0")
	}
	rec.stop(t)
	out, stderr, code := runInProcess(t, "events", "--dir", dir, "--name", needle, "--json")
	if code != 0 {
		t.Fatalf("events --name %s: exit %d: %s", needle, code, stderr)
	}
	types := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e report.EventDoc
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("bad NDJSON line %q: %v", l, err)
		}
		if e.ExecPath != prog || strings.Contains(e.Exe, needle) {
			t.Errorf("event %s: want exec_path %s, never as exe", l, prog)
		}
		types[e.Type]++
		if e.Type == "exit" && (e.Exit == nil || e.Exit.Code != 3) {
			t.Errorf("exit %s: want code 3", l)
		}
	}
	if types["exec"] != 1 || types["exit"] != 1 {
		t.Errorf("events --name %s: %v, want its exec and exit; stdout %q", needle, types, out)
	}
	out, stderr, code = runInProcess(t, "dump", "event", "--dir", dir, "--name", needle)
	if code != 0 || strings.Count(out, `"exec_path":"`+prog+`"`) != 2 {
		t.Errorf("dump event --name %s: exit %d, want its exec and exit with their path: %q %s", needle, code, out, stderr)
	}
	// The CSV has the path too (it had no column for it).
	out, stderr, code = runInProcess(t, "dump", "event", "--dir", dir, "--name", needle, "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 3 {
		t.Fatalf("dump event --format csv --name %s: exit %d, %v, want a header and 2 rows: %q %s", needle, code, err, out, stderr)
	}
	col := slices.Index(rows[0], "exec_path")
	if col < 0 {
		t.Fatalf("dump event --format csv: no exec_path column in %q", rows[0])
	}
	for _, r := range rows[1:] {
		if r[col] != prog || r[slices.Index(rows[0], "exec_path_truncated")] != "false" {
			t.Errorf("CSV row %q: want exec_path %s, not truncated", r, prog)
		}
	}
}
