package monitor

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/taskiter"
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

// TestTracepointExecExeOfShortProgram: a program that execs and ends
// between two scans, which no scan reads, has its executable on its exec
// row and its exit row, from the exec's record (the tracepoints named
// none before: the exe came only from the next scan's read).
func TestTracepointExecExeOfShortProgram(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF")
	}
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true")
	}
	want, err := filepath.EvalSymlinks(trueBin)
	if err != nil {
		t.Fatal(err)
	}
	m, ch := startMonitorOn(t, collector.Options{Backend: collector.BackendTaskIter, NoTaskstats: true},
		Options{Interval: time.Hour, Connector: true, Tracepoints: true})
	frameAfterSync(t, m, ch)
	cmd := exec.Command(trueBin)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	f := frameAfterSync(t, m, ch)
	var execs, exits int
	for _, e := range f.Events {
		if e.ID.PID != pid || e.Source != lifecycle.SourceTracepoint {
			continue
		}
		switch e.Type {
		case lifecycle.Exec:
			execs++
			if e.Exe != want || e.Comm != "true" {
				t.Errorf("exec of %s: comm %q exe %q, want true and %q", trueBin, e.Comm, e.Exe, want)
			}
		case lifecycle.Exit:
			exits++
			if e.Exe != want {
				t.Errorf("exit of %s: exe %q, want %q", trueBin, e.Exe, want)
			}
		}
	}
	if execs != 1 || exits != 1 {
		t.Errorf("%d execs and %d exits of the child from the tracepoints, want one each: %+v", execs, exits, f.Events)
	}
}

// TestTracepointExecExeRenamedBefore (B3's residual, tester13): a
// program renamed before its exec, whose source knows only the name
// before the rename (its old_comm is stale), and a scan that read it
// renamed, before the exec, but is dated after it (a reading older than
// its snapshot): the scan's name is none of the names before the exec
// that the tracker knows, so it took the scan's exe, the old program's,
// for the exec. The exec's record names the new program: it is kept.
// The processes, the scans and the records are real; the tracker is
// told of the scan as the step after the exec.
func TestTracepointExecExeRenamedBefore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF")
	}
	catBin, err := exec.LookPath("cat")
	if err != nil {
		t.Skip("no cat")
	}
	wantExe, err := filepath.EvalSymlinks(catBin)
	if err != nil {
		t.Fatal(err)
	}
	r, err := collector.NewReader(collector.Options{Backend: collector.BackendTaskIter, NoTaskstats: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	src, err := openTracepoints(r, Options{MaxPending: 1 << 16}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*tpSource)
	t.Cleanup(func() { _ = s.ev.Close() })
	read := func() []lifecycle.KernelEvent {
		t.Helper()
		if err := s.ev.Flush(); err != nil {
			t.Fatal(err)
		}
		var out []lifecycle.KernelEvent
		for {
			flushed, err := s.ev.Receive(func(e *taskiter.ProcEvent) { out = s.convert(out, e) })
			if err != nil {
				t.Fatal(err)
			}
			if flushed {
				return out
			}
		}
	}
	// sh renames itself (a comm is written by its own process only) at
	// the first line, and execs cat at the second.
	cmd := exec.Command("sh", "-c", "read x; printf renamed > /proc/$$/comm; read x; exec "+catBin)
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
	read() // the fork and sh's exec: the source knows it as sh
	ctx := context.Background()
	prev, err := r.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tr := lifecycle.NewTracker(0)
	tr.Observe(nil, prev, lifecycle.Kernel{})
	if _, err := io.WriteString(in, "x\n"); err != nil {
		t.Fatal(err)
	}
	waitComm(t, pid, "renamed")
	early, err := r.Snapshot(ctx) // reads it renamed, before the exec
	if err != nil {
		t.Fatal(err)
	}
	var oldExe string
	for _, p := range early.Processes {
		if p.PID == pid {
			oldExe = p.Exe
			if p.Comm != "renamed" {
				t.Fatalf("the scan read %q, want renamed", p.Comm)
			}
		}
	}
	if oldExe == "" || oldExe == wantExe {
		t.Fatalf("the scan before the exec read exe %q", oldExe)
	}
	if _, err := io.WriteString(in, "x\n"); err != nil {
		t.Fatal(err)
	}
	waitComm(t, pid, "cat")
	evs := read()
	cur := *early
	cur.TakenAt = time.Now()
	var execs int
	for _, e := range tr.Observe(prev, &cur, lifecycle.Kernel{Live: true, Source: lifecycle.SourceTracepoint, Events: evs}).Events {
		if e.Type != lifecycle.Exec || e.ID.PID != pid {
			continue
		}
		execs++
		if e.Comm != "cat" || e.OldComm != "sh" || e.Exe != wantExe {
			t.Errorf("exec: %q (old %q) exe %q, want cat (old sh) and %q, not the scan's %q", e.Comm, e.OldComm, e.Exe, wantExe, oldExe)
		}
	}
	if execs != 1 {
		t.Errorf("%d execs of the child, want one", execs)
	}
}

// TestConnectorFallbackExecFields: where the tracepoints cannot be used
// (here: the scans read /proc), the connector reports execs with what it
// can give: the exe its lookup read while the process ran, never an exec
// path (the connector has none: nil, absent from every output), and for
// a program gone before its lookup, or one whose name it could not
// read, no exe ("": absent) and a note, never a wrong one.
func TestConnectorFallbackExecFields(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for the connector")
	}
	catBin, err := exec.LookPath("cat")
	if err != nil {
		t.Skip("no cat")
	}
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true")
	}
	wantCat, err := filepath.EvalSymlinks(catBin)
	if err != nil {
		t.Fatal(err)
	}
	wantTrue, err := filepath.EvalSymlinks(trueBin)
	if err != nil {
		t.Fatal(err)
	}
	m, ch := startMonitorOn(t, collector.Options{Backend: collector.BackendProc, NoTaskstats: true},
		Options{Interval: time.Hour, Connector: true, Tracepoints: true})
	if f := m.Latest(); !f.EventsLive || EventsSourceOf(f.EventsLive, f.EventsNote) != lifecycle.SourceConnector {
		t.Skipf("no connector: live %v, %q", f.EventsLive, f.EventsNote)
	}
	frameAfterSync(t, m, ch)
	long := exec.Command("sh", "-c", "read x; exec "+catBin)
	in, err := long.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close(); _ = long.Wait() })
	if _, err := io.WriteString(in, "x\n"); err != nil {
		t.Fatal(err)
	}
	waitComm(t, long.Process.Pid, "cat")
	short := exec.Command(trueBin)
	if err := short.Run(); err != nil {
		t.Fatal(err)
	}
	shBin, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	wantSh, err := filepath.EvalSymlinks(shBin)
	if err != nil {
		t.Fatal(err)
	}
	f := frameAfterSync(t, m, ch)
	exes := map[string]string{"cat": wantCat, "true": wantTrue, "sh": wantSh}
	seen := map[int]bool{}
	for _, e := range f.Events {
		if e.Type != lifecycle.Exec || e.ID.PID != long.Process.Pid && e.ID.PID != short.Process.Pid {
			continue
		}
		seen[e.ID.PID] = true
		if e.Source != lifecycle.SourceConnector || e.ExecPath != nil {
			t.Errorf("exec of %d from %s with exec path %+v, want the connector's without one", e.ID.PID, e.Source, e.ExecPath)
		}
		switch {
		case e.Comm == "" && (e.Exe != "" || e.Note == ""):
			t.Errorf("exec of %d unnamed: exe %q, note %q; want no exe and a note", e.ID.PID, e.Exe, e.Note)
		case e.Comm == "cat" && e.Exe != wantCat:
			t.Errorf("exec of %d into cat, which runs on: exe %q, want %q", e.ID.PID, e.Exe, wantCat)
		case e.Comm != "" && e.Exe != "" && e.Exe != exes[e.Comm]:
			t.Errorf("exec of %d into %s: exe %q, want %q or none", e.ID.PID, e.Comm, e.Exe, exes[e.Comm])
		}
	}
	if len(seen) != 2 {
		t.Errorf("execs of %d of the 2 programs: %+v", len(seen), f.Events)
	}
}
