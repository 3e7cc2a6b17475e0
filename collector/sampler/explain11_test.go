package sampler

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestLiveVforkParentLogging (review3 S1): a vfork parent waiting in
// kernel_clone while its other thread writes a log to a real file (4 KiB
// every 250 ms, storage bytes in /proc/PID/io) is an uninterruptible wait,
// not disk-bound: the D samples say they wait in kernel_clone, and a few
// KiB a second do not explain a thread in D all the window.
func TestLiveVforkParentLogging(t *testing.T) {
	p := livehelper.Start(t, "vforkwait", filepath.Join(t.TempDir(), "log"))
	waitFor(t, func() bool { return procState(p.PID()) == 'D' })
	_, fs := sampleOf(t, "vforkwait-log", p.PID())
	f := find(t, fs, "uninterruptible_wait")
	if has(fs, "disk_bound") || !strings.Contains(f.Verdict, "kernel_clone") {
		t.Errorf("vfork parent with a logger:\n%s", dump(fs))
	}
	if v, ok := evidence(f, "storage_write_bytes_per_second"); !ok || v <= 0 {
		t.Errorf("the logger's storage writes are not in the evidence (%v, %v): the test shows nothing\n%s", v, ok, dump(fs))
	}
}
