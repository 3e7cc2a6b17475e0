package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/cpu"
	"golang.org/x/sys/unix"
)

// TestLogicalCPUsAsGopsutil holds logicalCPUs to gopsutil's
// cpu.CountsWithContext(ctx, true) with its proc root set, which the
// host facts used before: on the live /proc, every fixture tree, and
// trees made for its corners (any case, a number that is not one, no
// colon, no cpuinfo, no processor lines, no cpuinfo and no stat, no
// newline at the end).
func TestLogicalCPUsAsGopsutil(t *testing.T) {
	roots := []string{"/proc"}
	trees, err := filepath.Glob("../fixtures/proc/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range trees {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			roots = append(roots, d)
		}
	}
	made := map[string]map[string]string{
		"cases":      {"cpuinfo": "processor\t: 0\nProcessor : 1\nPROCESSOR: 2\nprocessor : x\nprocessor 3\nprocessor :  4 \nmodel name : processor : 9\n"},
		"no-newline": {"cpuinfo": "processor : 0\nprocessor : 1"},
		"stat-only":  {"stat": "cpu  1 2 3\ncpu0 1 2 3\ncpu1 1 2\ncpux 1\ncpu\nintr 1\ncpu7"},
		"no-procs":   {"cpuinfo": "vendor_id : x\n", "stat": "cpu0 1\ncpu1 1\ncpu2 1\n"},
		"none":       {},
		"empty":      {"cpuinfo": "", "stat": ""},
	}
	for name, files := range made {
		d := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, s := range files {
			if err := os.WriteFile(filepath.Join(d, f), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		roots = append(roots, d)
	}
	for _, root := range roots {
		ctx := context.WithValue(context.Background(), common.EnvKey, common.EnvMap{common.HostProcEnvKey: root})
		want, wantErr := cpu.CountsWithContext(ctx, true)
		got, gotErr := logicalCPUs(root)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: logicalCPUs = %d, %v; gopsutil %d, %v", root, got, gotErr, want, wantErr)
		}
	}
}

// TestLogicalCPUsStatFIFO: a tree whose cpuinfo names no processor and
// whose stat is a FIFO with no writer: the count's fallback opened stat
// with no check and waited for a writer for ever (review14). It is now
// opened as every host file is, and the count is unknown.
func TestLogicalCPUsStatFIFO(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "cpuinfo"), []byte("vendor_id : x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "stat"), 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := logicalCPUs(root)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		if r.err == nil || r.n != 0 {
			t.Errorf("logicalCPUs over a FIFO stat = %d, %v; want an error", r.n, r.err)
		}
	case <-time.After(30 * time.Second):
		// Unblock the open so the goroutine ends with the test.
		if fd, err := unix.Open(filepath.Join(root, "stat"), unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
		t.Fatal("logicalCPUs hung on a FIFO stat")
	}
}

// TestLogicalCPUsCpuinfoTooLarge: a cpuinfo past the host files' bound
// (about 2,500 CPUs' worth) was cut there and counted low; it is now too
// large, and the count comes from stat (review14b).
func TestLogicalCPUsCpuinfoTooLarge(t *testing.T) {
	root := t.TempDir()
	var b strings.Builder
	for i := 0; b.Len() <= maxHostFileBytes; i++ {
		fmt.Fprintf(&b, "processor : %d\nmodel name : x\n\n", i)
	}
	if err := os.WriteFile(filepath.Join(root, "cpuinfo"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte("cpu  1 2 3\ncpu0 1\ncpu1 1\ncpu2 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := logicalCPUs(root); n != 3 || err != nil {
		t.Errorf("logicalCPUs with a %d-byte cpuinfo = %d, %v; want stat's 3", b.Len(), n, err)
	}
}
