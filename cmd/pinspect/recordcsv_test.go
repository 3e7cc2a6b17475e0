package main

import (
	"encoding/csv"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestDumpEventCSVHasOldExeAndStates: `dump event --format csv` has the
// old_exe, old_state and state the NDJSON rows have (it had no columns
// for them), after the columns it had, which keep their places. A
// shell the record's first scan saw execs cat, which is then stopped:
// the exec's old_exe is the shell's program, and the state change
// says S to T.
func TestDumpEventCSVHasOldExeAndStates(t *testing.T) {
	sh := exec.Command("sh", "-c", "read x; exec cat")
	in, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	pid := sh.Process.Pid
	t.Cleanup(func() { _ = sh.Process.Kill(); _ = sh.Wait() })
	shExe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rec := startRecording(t, dir)
	if _, err := io.WriteString(in, "x\n"); err != nil {
		t.Fatal(err)
	}
	waitedFor(t, "sh to exec cat", func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		return err == nil && string(b) == "cat\n"
	})
	catExe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil || catExe == shExe {
		t.Fatalf("cat's exe %q (%v), sh's %q", catExe, err, shExe)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitedFor(t, "cat stopped", func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		i := strings.LastIndexByte(string(b), ')')
		return err == nil && i > 0 && len(b) > i+2 && b[i+2] == 'T'
	})
	// The record's last frame (SIGTERM) scans cat stopped.
	rec.stop(t)
	out, stderr, code := runInProcess(t, "dump", "event", "--dir", dir, "--pid", strconv.Itoa(pid), "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) < 2 {
		t.Fatalf("dump event --format csv --pid %d: exit %d, %v, want a header and rows: %q %s", pid, code, err, out, stderr)
	}
	// The columns of before, in their places (scripts read them by number).
	before := []string{"time", "type", "pid", "start_ticks", "ppid", "comm", "source", "exit", "exit_code", "signal",
		"core_dumped", "old_ppid", "adopter_kind", "old_comm", "exe", "tid", "note",
		"exec_path", "exec_path_truncated", "exec_interp", "exec_interp_truncated"}
	if h := rows[0]; len(h) < len(before) || !slices.Equal(h[:len(before)], before) {
		t.Fatalf("header %q: want it to start with %q", h, before)
	}
	col := func(name string) int {
		i := slices.Index(rows[0], name)
		if i < 0 {
			t.Fatalf("dump event --format csv: no %s column in %q", name, rows[0])
		}
		return i
	}
	typ, exe, oldExe, oldState, state := col("type"), col("exe"), col("old_exe"), col("old_state"), col("state")
	var execs, stops int
	for _, r := range rows[1:] {
		switch r[typ] {
		case "exec":
			execs++
			if r[oldExe] != shExe || r[exe] != catExe {
				t.Errorf("exec row %q: old_exe %q exe %q, want %q and %q", r, r[oldExe], r[exe], shExe, catExe)
			}
		case "state":
			if r[oldState] == "S" && r[state] == "T" {
				stops++
			}
		}
	}
	if execs != 1 || stops != 1 {
		t.Errorf("%d exec rows and %d state rows S to T, want 1 and 1: %q", execs, stops, rows)
	}
}
