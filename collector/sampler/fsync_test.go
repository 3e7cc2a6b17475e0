package sampler

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestLiveFsyncWriter (tester11 T7): one thread writing 64 KiB and
// fsyncing it in a loop (a 64 KiB file in the test's temporary
// directory, removed after) is disk-bound: its waits are D in fsync, or
// runnable inside fsync on a loaded machine, never asleep in S. It was
// `io_bound`, "more threads raise throughput": syncs of one file
// serialise, so the advice says so instead. For its 2 s window the
// helper writes some 200-300 MiB/s to the disk under TMPDIR (ext4 on the
// project's machine): a concurrent benchmark's disk numbers move.
func TestLiveFsyncWriter(t *testing.T) {
	p := livehelper.Start(t, "fsyncer", filepath.Join(t.TempDir(), "fsync.dat"))
	sm, fs := sampleOf(t, "fsyncer", p.PID())
	syncing := 0
	for _, tk := range sm.Burst {
		for _, ts := range tk.Tasks {
			if ts.State == 'D' || ts.HasSyscall && ts.Syscall.InSyscall() && explain.SyscallName(sm.Machine.Arch, ts.Syscall.Nr) == "fsync" {
				syncing++
			}
		}
	}
	f := byQuestion(fs, explain.QBound)
	if f == nil {
		t.Fatalf("no bound finding:\n%s", dump(fs))
	}
	if v, ok := evidence(*f, "storage_write_bytes_per_second"); f.ID != "disk_bound" && (!ok || v == 0) {
		t.Skipf("no storage writes counted in %s (a tmpfs?):\n%s", t.TempDir(), dump(fs))
	}
	if syncing == 0 {
		t.Skipf("the writer was never seen in D or in fsync in %d samples:\n%s", len(sm.Burst), dump(fs))
	}
	if f.ID != "disk_bound" {
		t.Errorf("bound finding %s, want disk_bound:\n%s", f.ID, dump(fs))
	}
	if !strings.Contains(strings.Join(f.Try, " "), "serialise") {
		t.Errorf("advice for one fsyncing thread: %q", f.Try)
	}
	for _, g := range fs {
		if text := g.Verdict + strings.Join(g.Try, " "); strings.Contains(text, "more threads raise") || strings.Contains(text, "More threads help") {
			t.Errorf("%s: more threads for one file's fsyncs: %s", g.ID, text)
		}
	}
	// tester12 #3: a one-thread process's state letter is its only
	// thread's; it hides no D thread ("Its state says R, but 1 of its 1
	// threads were in D").
	if has(fs, "state_hides_d") {
		t.Errorf("state_hides_d for a one-thread process:\n%s", dump(fs))
	}
}
