package collector

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/hungfuse"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestCmdlineFromMemory: a cmdline read from the process's memory at
// its argument range is byte for byte what /proc/PID/cmdline gives, cut
// at the same limits: plain arguments, and arguments rewritten as
// setproctitle does (shorter and NUL-padded; NUL then padding, so the
// area's last byte is not NUL; spilling into the environment; filling a
// whole environment area longer than a page, where the file stops at a
// page).
func TestCmdlineFromMemory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("process_vm_readv of another user's process needs root")
	}
	cases := []struct {
		name string
		args []string
		env  []string
	}{
		{"plain", []string{"comm", "plainname"}, nil},
		{"short", []string{"title", "short", "postgres: writer"}, nil},
		{"padded", []string{"title", "padded", "nginx: worker process"}, nil},
		{"long", []string{"title", "long", "spill-into-env"}, []string{"A=1", "B=22"}},
		{"huge", []string{"title", "huge", "page"}, []string{"BIG=" + strings.Repeat("y", 6000)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pid := livehelper.StartEnv(t, c.env, c.args...).PID()
			st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if err != nil {
				t.Fatal(err)
			}
			f, err := parseStat(st)
			if err != nil {
				t.Fatal(err)
			}
			l := f.layout
			at := cmdlineAt{pid: pid, argStart: l.ArgStart, argEnd: l.ArgEnd, envStart: l.EnvStart, envEnd: l.EnvEnd}
			path := []byte("/proc/" + strconv.Itoa(pid) + "/cmdline\x00")
			for _, limit := range []int{DefaultCmdlineMax, 4096, 4095, 100, 11, 1} {
				var fb, mb []byte
				want, wantTrunc, err := readAt(path, &fb, limit)
				if err != nil {
					t.Fatal(err)
				}
				got, gotTrunc, ok := at.read(&mb, limit)
				if !ok {
					t.Fatalf("limit %d: read from memory failed", limit)
				}
				if !bytes.Equal(got, want) || gotTrunc != wantTrunc {
					t.Errorf("limit %d: memory %q (cut %v), file %q (cut %v)", limit, got, gotTrunc, want, wantTrunc)
				}
			}
		})
	}
}

// TestIterScanHungProcess: a scan on the task iterator, as a one-shot
// command makes it, with a process hung on its memory-map lock (a thread
// in D state on a FUSE file that never answers): the cmdline read from
// its memory blocks as the file's would, is abandoned at the deadline,
// and the scan ends with the process in it and its cmdline "timeout".
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
