package collector

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/hungfuse"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestIterScanHungProcess: a scan on the task iterator, as a one-shot
// command makes it, with a process hung on its memory-map lock (a thread
// in D state on a FUSE file that never answers): the read of its
// /proc/PID/cmdline blocks, is abandoned at the deadline, and the scan
// ends with the process in it and its cmdline "timeout".
func TestIterScanHungProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the FUSE mount and the task iterator")
	}
	if err := hungfuse.Available(); err != nil {
		t.Skip(err)
	}
	fs, err := hungfuse.Mount(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the helper's cleanup, so it runs first: the hung
	// process can exit only once the file system answers.
	hung := livehelper.Start(t, "memhang", fs.File()).PID()
	t.Cleanup(func() { _ = fs.Close() })
	hungfuse.WaitHung(t, hung)
	r := newIterReader(t, Options{ReadTimeout: 100 * time.Millisecond})
	s, err := r.Scan(context.Background(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Collector != BackendTaskIter {
		t.Fatalf("scanned by %s: %s", s.Collector, s.CollectorNote)
	}
	var p *Process
	for i := range s.Processes {
		if s.Processes[i].PID == hung {
			p = &s.Processes[i]
		}
	}
	if p == nil {
		t.Fatalf("the hung process %d is not in the snapshot", hung)
	}
	if p.Read&SrcCmdline != 0 || !strings.Contains(p.Unavailable["cmdline"], "timeout") {
		t.Errorf("the hung process's cmdline: %q read %v, unavailable %q", p.Cmdline, p.Read&SrcCmdline != 0, p.Unavailable["cmdline"])
	}
}
