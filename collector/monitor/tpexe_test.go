package monitor

import (
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestTracepointExecNamesExe: an exec the tracepoints report carries the
// executable the scan after it read (exe) and the one the scan before it
// read (old_exe), as the poll's exec did, which it replaces: metrics
// rules and --name filters match on the exe.
func TestTracepointExecNamesExe(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF")
	}
	m, ch := startMonitorOn(t, collector.Options{Backend: collector.BackendTaskIter, NoTaskstats: true},
		Options{Interval: time.Hour, Connector: true, Tracepoints: true})
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
	exeIn := func(f *Frame) string {
		for _, p := range f.Snapshot.Processes {
			if p.PID == pid {
				return p.Exe
			}
		}
		return ""
	}
	oldExe := exeIn(frameAfterSync(t, m, ch))
	if _, err := io.WriteString(in, "x\n"); err != nil {
		t.Fatal(err)
	}
	waitComm(t, pid, "cat")
	f := frameAfterSync(t, m, ch)
	newExe := exeIn(f)
	if oldExe == "" || newExe == "" || oldExe == newExe {
		t.Fatalf("the scans read exe %q before and %q after the exec", oldExe, newExe)
	}
	var execs int
	for _, e := range f.Events {
		if e.ID.PID != pid || e.Type != lifecycle.Exec {
			continue
		}
		execs++
		if e.Source != lifecycle.SourceTracepoint || e.Exe != newExe || e.OldExe != oldExe {
			t.Errorf("exec from %s: exe %q old_exe %q, want %q and %q from the tracepoints", e.Source, e.Exe, e.OldExe, newExe, oldExe)
		}
	}
	if execs != 1 {
		t.Errorf("%d exec events of the child, want one", execs)
	}
}
