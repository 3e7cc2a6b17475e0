package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPSMarksDeletedExe: ps's EXE column marks a deleted executable with
// "[deleted]" (as show does), and not one whose own name ends in the
// kernel's " (deleted)": real copies of sleep, "y" removed after it
// started, "x (deleted)" still there.
func TestPSMarksDeletedExe(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	named, gone := filepath.Join(dir, "x (deleted)"), filepath.Join(dir, "y")
	pids := map[string]string{}
	for _, bin := range []string{named, gone} {
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "300")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		pid := strconv.Itoa(cmd.Process.Pid)
		pids[bin] = pid
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			if l, _ := os.Readlink("/proc/" + pid + "/exe"); l == bin {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pid %s did not exec %s", pid, bin)
			}
		}
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
