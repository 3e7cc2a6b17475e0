package collector

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/hungfuse"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestSharedExeExecCheck: a link is shared only while the process it was
// read from has the address space the pass saw: the same start time
// and every address of its layout, read from its stat now. Another
// layout (the process exec'd: a new stack, new code), another start (its
// pid was reused), or a layout the pass did not have in full, and each
// process reads its own link.
func TestSharedExeExecCheck(t *testing.T) {
	r := newIterReader(t, Options{})
	s := r.newScan(nil)
	var buf []byte
	self := os.Getpid()
	st, err := readStat(atFDCWD, s.path.set(self, 0, "stat"), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if !st.layout.HasExtended || st.layout.Masked() {
		t.Skipf("this kernel's stat has no full layout: %+v", st.layout)
	}
	now := sharedExe{pid: self, start: st.starttime, layout: st.layout}
	if !s.sameAddressSpace(&now) {
		t.Fatalf("this process's own layout and start are not the same: %+v", now)
	}
	for name, change := range map[string]func(*sharedExe){
		"stack":     func(e *sharedExe) { e.layout.StartStack += 4096 },
		"code":      func(e *sharedExe) { e.layout.StartCode += 4096 },
		"end code":  func(e *sharedExe) { e.layout.EndCode++ },
		"arguments": func(e *sharedExe) { e.layout.ArgStart++ },
		"env":       func(e *sharedExe) { e.layout.EnvEnd++ },
		"brk":       func(e *sharedExe) { e.layout.StartBrk += 4096 },
		"start":     func(e *sharedExe) { e.start++ },
		"partial":   func(e *sharedExe) { e.layout.HasExtended = false },
		"masked":    func(e *sharedExe) { e.layout.StartCode, e.layout.EndCode, e.layout.StartStack = 1, 1, 0 },
		"gone":      func(e *sharedExe) { e.pid = 1 << 30 },
	} {
		e := now
		change(&e)
		if s.sameAddressSpace(&e) {
			t.Errorf("%s changed: still taken as the same address space", name)
		}
	}
}

// TestIterScanHungProcess: a scan on the task iterator, as a one-shot
// command makes it, with a process hung on its memory-map lock (a thread
// in D state on a FUSE file that never answers): the read of its
// /proc/PID/cmdline blocks, is abandoned at the deadline, and the scan
// ends with the process in it and its cmdline "timeout"; with the cmdline
// program as well.
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
	// Both ways a one-shot command reads cmdlines: /proc reads, and the
	// cmdline program, whose lock check finds the hung process's memory
	// map lock contended and leaves it to /proc.
	for _, bpf := range []bool{false, true} {
		r := newIterReader(t, Options{ReadTimeout: 100 * time.Millisecond, BPFCmdlines: bpf})
		s, err := r.Scan(context.Background(), ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Collector != BackendTaskIter {
			t.Fatalf("scanned by %s: %s", s.Collector, s.CollectorNote)
		}
		if bpf != (s.CmdlinesBPF > 0) {
			t.Errorf("%d cmdlines from the cmdline program (asked for: %v)", s.CmdlinesBPF, bpf)
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
			t.Errorf("BPF cmdlines %v: the hung process's cmdline: %q read %v, unavailable %q", bpf, p.Cmdline, p.Read&SrcCmdline != 0, p.Unavailable["cmdline"])
		}
	}
}

// TestFindIterExeCursor: the cursor finds what a binary search of the
// executables finds, for pids asked in order (its use), again, and out of
// order (it searches then).
func TestFindIterExeCursor(t *testing.T) {
	s := &scan{}
	for pid := 3; pid < 400; pid += 3 {
		s.iterExes = append(s.iterExes, iterExe{pid: pid})
	}
	search := func(pid int) (int, bool) {
		return slices.BinarySearchFunc(s.iterExes, pid, func(e iterExe, pid int) int { return e.pid - pid })
	}
	asks := []int{1, 2, 3, 3, 4, 9, 10, 12, 11, 3, 1, 30, 31, 33, 200, 150, 201, 399, 400, 500, 2, 600}
	for pid := 5; pid < 420; pid += 7 {
		asks = append(asks, pid)
	}
	for _, pid := range asks {
		i, found := s.findIterExe(pid)
		wi, wfound := search(pid)
		if found != wfound || found && i != wi {
			t.Fatalf("pid %d: found %v at %d, want %v at %d", pid, found, i, wfound, wi)
		}
	}
}
