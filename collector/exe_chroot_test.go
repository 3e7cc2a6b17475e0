package collector

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestExeNamedDeletedChroot: a chrooted process's exe link is written
// from the reader's root (the chroot's directory in it), not from the
// process's root, so looking the name up under /proc/PID/root found
// nothing and a real file named "x (deleted)" in a chroot read as deleted.
// The name is looked up from the reader's root too; a file really deleted
// in a chroot is still deleted.
func TestExeNamedDeletedChroot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	bin := livehelper.GoroutinesBinary(t)
	dir := t.TempDir()
	named, gone := filepath.Join(dir, "x (deleted)"), filepath.Join(dir, "y")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	wants := map[int]struct {
		exe     string
		deleted bool
	}{}
	for path, deleted := range map[string]bool{named: false, gone: true} {
		if err := os.WriteFile(path, b, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/"+filepath.Base(path), "-n", "1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
		pid := livehelper.StartExec(t, cmd, path)
		wants[pid] = struct {
			exe     string
			deleted bool
		}{path, deleted}
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	for _, backend := range []Backend{BackendProc, BackendTaskIter} {
		r, err := NewReader(Options{Backend: backend})
		if err != nil {
			if backend == BackendTaskIter {
				continue // no BPF here: the /proc reader was checked
			}
			t.Fatal(err)
		}
		s, err := r.Scan(context.Background(), ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, p := range s.Processes {
			if w, ok := wants[p.PID]; ok {
				found++
				if p.Exe != w.exe || p.ExeDeleted != w.deleted {
					t.Errorf("%s: pid %d: exe %q deleted %v, want %q deleted %v", s.Collector, p.PID, p.Exe, p.ExeDeleted, w.exe, w.deleted)
				}
			}
		}
		if found != len(wants) {
			t.Errorf("%s: %d of the %d chrooted helpers in the scan", s.Collector, found, len(wants))
		}
		r.Close()
	}
}
