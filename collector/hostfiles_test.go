package collector

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHostFilesNeverBlock: the machine-wide files under a /proc root the
// user names (--proc-root) used to be read with plain opens, so a FIFO
// where the hostname should be hung NewReader for ever (serve never
// started, and SIGTERM only ended it after its grace), and a FIFO for
// loadavg or task_delayacct hung every scan, and every explain request.
// Now each is opened without blocking and must be a regular file within
// its cap: the facts are unavailable with a reason, and the scan goes on.
func TestHostFilesNeverBlock(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../fixtures/proc/vanished")); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sys/kernel"), 0o755))
	fifos := []string{"sys/kernel/hostname", "sys/kernel/task_delayacct", "loadavg", "stat", "cpuinfo"}
	for _, f := range fifos {
		path := filepath.Join(root, f)
		_ = os.Remove(path)
		must(unix.Mkfifo(path, 0o644))
	}
	// A device that never ends where the uptime should be, and a file
	// over the cap where the kernel release should be.
	_ = os.Remove(filepath.Join(root, "uptime"))
	must(os.Symlink("/dev/zero", filepath.Join(root, "uptime")))
	must(os.WriteFile(filepath.Join(root, "sys/kernel/osrelease"), make([]byte, maxHostFileBytes+1), 0o644))
	t.Cleanup(func() {
		// Anything still blocked on a FIFO (the old code) is let go.
		for _, f := range fifos {
			if fd, err := unix.Open(filepath.Join(root, f), unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				unix.Close(fd)
			}
		}
	})

	type result struct {
		snap *Snapshot
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := NewReader(Options{Root: root})
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer r.Close()
		snap, err := r.Snapshot(context.Background())
		done <- result{snap, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("NewReader and a snapshot blocked on the machine-wide files (2 minutes)")
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := map[string]string{
		"hostname":       "would block",
		HostDelayAcctKey: "would block",
		"loadavg":        "would block",
		"stat":           "would block",
		"cpus":           "would block",
		"uptime":         "would block",
		"kernel":         "too large",
	}
	for key, reason := range want {
		if got := res.snap.Host.Unavailable[key]; got != reason {
			t.Errorf("Host.Unavailable[%q] = %q, want %q", key, got, reason)
		}
	}
	if len(res.snap.Processes) == 0 {
		t.Error("no process read")
	}
	if res.snap.Host.MemTotalBytes == 0 {
		t.Error("meminfo, a regular file, was not read")
	}
}
