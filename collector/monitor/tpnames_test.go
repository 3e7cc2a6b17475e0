package monitor

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// exeOf is the exe frame f's scan read for process pid ("" when it did
// not).
func exeOf(f *Frame, pid int) string {
	for _, p := range f.Snapshot.Processes {
		if p.PID == pid {
			return p.Exe
		}
	}
	return ""
}

// TestTracepointExecOfProcessBeforeStart: a process that ran before the
// monitor started (the tracepoints never saw it forked) execs: its exec
// names the program it replaced, the name and exe the scan before it
// read (review final8: old_comm and old_exe were absent).
func TestTracepointExecOfProcessBeforeStart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF")
	}
	cmd := exec.Command("sh", "-c", "read x; exec cat")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	waitComm(t, pid, "sh")
	m, ch := startMonitorOn(t, collector.Options{Backend: collector.BackendTaskIter, NoTaskstats: true},
		Options{Interval: time.Hour, Connector: true, Tracepoints: true})
	if f := m.Latest(); f.EventsNote != noteTracepoints {
		t.Fatalf("note %q; want the tracepoints", f.EventsNote)
	}
	oldExe := exeOf(frameAfterSync(t, m, ch), pid)
	if _, err := io.WriteString(in, "x\n"); err != nil {
		t.Fatal(err)
	}
	waitComm(t, pid, "cat")
	f := frameAfterSync(t, m, ch)
	if oldExe == "" {
		t.Fatal("the scan before the exec read no exe")
	}
	var execs int
	for _, e := range f.Events {
		if e.ID.PID != pid || e.Type != lifecycle.Exec {
			continue
		}
		execs++
		if e.Source != lifecycle.SourceTracepoint || e.OldComm != "sh" || e.OldExe != oldExe || e.Comm != "cat" {
			t.Errorf("exec from %s: %q old_comm %q old_exe %q, want cat replacing sh and %q from the tracepoints",
				e.Source, e.Comm, e.OldComm, e.OldExe, oldExe)
		}
	}
	if execs != 1 {
		t.Errorf("%d exec events of the child, want one", execs)
	}
}

// TestTracepointExitNamesExe: a program whose name is longer than a
// comm's 15 bytes, killed: its exit carries the exe the scans read, so
// a filter on the program's full name or path finds the crash (tester8
// 7: the exit had no exe, and the comm holds only the name's start).
func TestTracepointExitNamesExe(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF")
	}
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Skip("no cat")
	}
	b, err := os.ReadFile(cat)
	if err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(t.TempDir(), "averyveryverylongname_prog")
	if err := os.WriteFile(prog, b, 0o755); err != nil {
		t.Fatal(err)
	}
	m, ch := startMonitorOn(t, collector.Options{Backend: collector.BackendTaskIter, NoTaskstats: true},
		Options{Interval: time.Hour, Connector: true, Tracepoints: true})
	cmd := exec.Command(prog)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	waitComm(t, pid, "averyveryverylo")
	exe := exeOf(frameAfterSync(t, m, ch), pid)
	if exe != prog {
		t.Fatalf("the scan read exe %q, want %q", exe, prog)
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	waitZombie(t, pid)
	var exit *lifecycle.Event
	for deadline := time.Now().Add(20 * time.Second); exit == nil; {
		if time.Now().After(deadline) {
			t.Fatal("no exit of the program within 20s")
		}
		f := frameAfterSync(t, m, ch)
		for i := range f.Events {
			if e := &f.Events[i]; e.ID.PID == pid && e.Type == lifecycle.Exit {
				exit = e
			}
		}
	}
	if exit.Exe != prog || exit.ExitStatus == nil || exit.ExitStatus.Signal != int(syscall.SIGTERM) {
		t.Errorf("exit from %s: exe %q status %+v, want %q killed by SIGTERM", exit.Source, exit.Exe, exit.ExitStatus, prog)
	}
}
