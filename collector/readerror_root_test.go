package collector

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadErrorNamesRoot (tester11 T8): an error reading a process's file
// in a tree given as the root names the path read there, never /proc.
// Process 123's stat and status are random bytes, its other files absent
// and pid 124 has no directory at all.
func TestReadErrorNamesRoot(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "123")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"123/stat": "\x8a\x01 not a stat at all", "123/status": "\x8a\x01garbage\n", "stat": "x",
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := NewReader(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	errs := map[string]error{}
	_, errs["Tasks"] = r.Tasks(123, 0, 0)
	_, errs["IO"] = r.IO(123)
	_, _, errs["SchedStatSum"] = r.SchedStatSum(123)
	_, errs["FDs"] = r.FDs(123)
	_, errs["WChan"] = r.WChan(123)
	_, errs["MemoryTotals"] = r.MemoryTotals(123)
	_, errs["CgroupCPU"] = r.CgroupCPU(123)
	_, _, errs["Process 124"] = r.Process(124)
	_, errs["AddressSpace 124"] = r.AddressSpace(124, AddrOptions{})
	_, _, errs["Runnable"] = r.Runnable()
	for name, err := range errs {
		var re *ReadError
		if err == nil || !errors.As(err, &re) {
			t.Errorf("%s: error %v, want a ReadError", name, err)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "read "+root+"/") || strings.Contains(msg, "/proc/") {
			t.Errorf("%s: %q, want the path under %s", name, msg, root)
		}
	}
	// The message is the path: root, pid and file, one slash each.
	re := &ReadError{PID: 7, File: "stat", Err: errors.New("x"), Root: "/tmp/fp/"}
	if got := re.Error(); got != "read /tmp/fp/7/stat: x" {
		t.Errorf("%q", got)
	}
	if got := (&ReadError{PID: 7, File: "stat", Err: errors.New("x")}).Error(); got != "read /proc/7/stat: x" {
		t.Errorf("no root: %q", got)
	}
}
