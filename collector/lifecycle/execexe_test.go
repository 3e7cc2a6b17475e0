package lifecycle

import (
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// TestTrackerKernelExecTakesScansExe: a kernel exec that names no
// executable (the tracepoints') takes exe from the scan after it and
// old_exe from the scan before it, only where those scans show its
// process under the names it ran: of two execs in one step, the first
// gets old_exe and the last exe; an exec the scan after it does not show
// (it came after the scan) keeps exe unknown.
func TestTrackerKernelExecTakesScansExe(t *testing.T) {
	withExe := func(p collector.Process, exe string) collector.Process {
		p.Exe, p.Read = exe, p.Read|collector.SrcExe
		return p
	}
	sh := withExe(proc(700, 1, 900, "sh", 'S'), "/usr/bin/dash")
	cat := withExe(proc(700, 1, 900, "cat", 'S'), "/usr/bin/cat")
	other := withExe(proc(710, 1, 950, "sh", 'S'), "/usr/bin/dash")
	prev := snap(0, sh, other)
	cur := snap(time.Second, cat, other)
	kexec := func(p collector.Process, comm, old string) KernelEvent {
		return KernelEvent{Event: Event{Type: Exec, Time: t0.Add(500 * time.Millisecond), Source: SourceTracepoint,
			ID: p.ID(), Comm: comm, OldComm: old}}
	}
	tr := NewTracker(0)
	tr.Observe(nil, prev, Kernel{})
	st := tr.Observe(prev, cur, Kernel{Events: []KernelEvent{
		kexec(sh, "env", "sh"), kexec(sh, "cat", "env"), kexec(other, "python3", "sh")}})
	var got []Event
	for _, e := range st.Events {
		if e.Type == Exec {
			got = append(got, e)
		}
	}
	want := []struct {
		pid               int
		comm, exe, oldExe string
	}{
		{700, "env", "", "/usr/bin/dash"},
		{700, "cat", "/usr/bin/cat", ""},
		{710, "python3", "", "/usr/bin/dash"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d execs, want %d (the poll's exec replaced): %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if e := got[i]; e.ID.PID != w.pid || e.Comm != w.comm || e.Exe != w.exe || e.OldExe != w.oldExe {
			t.Errorf("exec %d: pid %d %q exe %q old_exe %q, want pid %d %q exe %q old_exe %q",
				i, e.ID.PID, e.Comm, e.Exe, e.OldExe, w.pid, w.comm, w.exe, w.oldExe)
		}
	}
	// A shim (a python3 script run by bash) exec'ing the real python3
	// after the scan keeps its name: the scan's exe is the shim's, not
	// the exec's (review: exe "/usr/bin/bash" on the exec of python3).
	shim := withExe(proc(720, 1, 990, "python3", 'S'), "/usr/bin/bash")
	tr = NewTracker(0)
	before, at := snap(0, shim), snap(time.Second, shim)
	tr.Observe(nil, before, Kernel{})
	late := KernelEvent{Event: Event{Type: Exec, Time: t0.Add(1500 * time.Millisecond), Source: SourceTracepoint,
		ID: shim.ID(), Comm: "python3", OldComm: "python3"}}
	for _, e := range tr.Observe(before, at, Kernel{Events: []KernelEvent{late}}).Events {
		if e.Type == Exec && e.Exe != "" {
			t.Errorf("an exec after the scan that kept its name: exe %q, want none (the scan's is the shim's)", e.Exe)
		}
	}
}

// TestTrackerNamesWhatExecsAndExitsReplaced: where the source did not
// know what an exec replaced (the process was there before it), the
// exec takes the name and exe the scan before it read; an exit takes
// the exe the scans last read of its process. Only when nothing since
// can have changed them: after an exec that came after the scan (in
// the step before), the name is that exec's and the exe unknown; an
// exit whose name is not the scan's keeps its exe unknown.
func TestTrackerNamesWhatExecsAndExitsReplaced(t *testing.T) {
	withExe := func(p collector.Process, exe string) collector.Process {
		p.Exe, p.Read = exe, p.Read|collector.SrcExe
		return p
	}
	kev := func(typ EventType, p collector.Process, at time.Duration, comm string) KernelEvent {
		e := KernelEvent{Event: Event{Type: typ, Time: t0.Add(at), Source: SourceTracepoint, ID: p.ID(), Comm: comm}}
		if typ == Exit {
			e.ExitStatus = &collector.ExitStatus{Signal: 15}
		}
		return e
	}
	find := func(st Step, typ EventType, pid int) *Event {
		for i := range st.Events {
			if e := &st.Events[i]; e.Type == typ && e.ID.PID == pid {
				return e
			}
		}
		t.Fatalf("no %s of %d among %+v", typ, pid, st.Events)
		return nil
	}
	sh := withExe(proc(800, 1, 900, "sh", 'S'), "/usr/bin/dash")
	long := withExe(proc(801, 1, 900, "averyveryverylo", 'S'), "/opt/averyveryverylongname_prog")
	py := withExe(proc(802, 1, 900, "python3", 'S'), "/usr/bin/bash")
	renamed := withExe(proc(803, 1, 900, "worker", 'S'), "/usr/bin/daemon")
	s0 := snap(0, sh, long, py, renamed)
	s1 := snap(time.Second, sh, long, py, renamed)
	s2 := snap(2 * time.Second)
	tr := NewTracker(0)
	tr.Observe(nil, s0, Kernel{})
	// Step 1: sh execs cat (the source never saw sh start); python3, a
	// shim, execs the real python3 after the scan.
	st := tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kev(Exec, sh, 500*time.Millisecond, "cat"), kev(Exec, py, 1500*time.Millisecond, "python3")}})
	if e := find(st, Exec, 800); e.OldComm != "sh" || e.OldExe != "/usr/bin/dash" {
		t.Errorf("exec of a process there before the source: old_comm %q old_exe %q, want sh and /usr/bin/dash", e.OldComm, e.OldExe)
	}
	// Step 2: every one ends; the long-named program is killed.
	st = tr.Observe(s1, s2, Kernel{Events: []KernelEvent{kev(Exit, long, 2100*time.Millisecond, "averyveryverylo"),
		kev(Exit, py, 2100*time.Millisecond, "python3"), kev(Exit, renamed, 2100*time.Millisecond, "renamed"),
		kev(Exit, sh, 2100*time.Millisecond, "cat")}})
	for _, w := range []struct {
		pid int
		exe string
	}{{801, "/opt/averyveryverylongname_prog"}, {802, ""}, {803, ""}, {800, ""}} {
		if e := find(st, Exit, w.pid); e.Exe != w.exe {
			t.Errorf("exit of %d %q: exe %q, want %q", w.pid, e.Comm, e.Exe, w.exe)
		}
	}
	// The shim's exec after the scan, then another: what it replaced is
	// the late exec's, not the scan's.
	tr = NewTracker(0)
	tr.Observe(nil, s0, Kernel{})
	tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kev(Exec, py, 1500*time.Millisecond, "python3")}})
	s2py := snap(2*time.Second, withExe(proc(802, 1, 900, "node", 'S'), "/usr/bin/node"))
	st = tr.Observe(s1, s2py, Kernel{Events: []KernelEvent{kev(Exec, py, 1700*time.Millisecond, "node")}})
	if e := find(st, Exec, 802); e.OldComm != "python3" || e.OldExe != "" || e.Exe != "/usr/bin/node" {
		t.Errorf("exec after a late exec: old_comm %q old_exe %q exe %q, want python3, unknown and /usr/bin/node", e.OldComm, e.OldExe, e.Exe)
	}
}

// TestTrackerExitOfUnscannedProcessTakesItsExecsExe (tester12 B9, the
// exit rows): a process forked and exec'd after a scan began (in no
// scan) and ended in the next step keeps the exe the connector read at
// its exec on its exit; its exit had none, beside an exec row with it
// (`dump event`: 2 of 12 such exits under `record --interval 1s`).
func TestTrackerExitOfUnscannedProcessTakesItsExecsExe(t *testing.T) {
	p := proc(800, 1, 1000, "napx", 'S')
	s0, s1, s2 := snap(0), snap(time.Second), snap(2*time.Second)
	tr := NewTracker(0)
	tr.Observe(nil, s0, Kernel{})
	exec := KernelEvent{Event: Event{Type: Exec, Time: t0.Add(1200 * time.Millisecond), ID: p.ID(), Comm: "napx", OldComm: "sh",
		Exe: "/tmp/napx", Source: SourceConnector}}
	tr.Observe(s0, s1, Kernel{Events: []KernelEvent{kspawn(p, 1100*time.Millisecond, true), exec}})
	st := tr.Observe(s1, s2, Kernel{Events: []KernelEvent{kexit(p, 1600*time.Millisecond, 0)}})
	if len(st.Events) != 1 || st.Events[0].Type != Exit || st.Events[0].Exe != "/tmp/napx" {
		t.Errorf("events %+v, want the exit with exe /tmp/napx (its exec's)", st.Events)
	}
}

// TestTrackerKernelExecRenamedAfter (tester13 B3): a program that
// renames itself (prctl PR_SET_NAME) after its exec and before the next
// scan still takes that scan's exe on its exec: the scan shows its
// identity under a name that is neither the exec's old name nor prev's,
// so it was read after the exec. A scan that still shows the old name
// (it read the process before the exec) gives no exe.
func TestTrackerKernelExecRenamedAfter(t *testing.T) {
	withExe := func(p collector.Process, exe string) collector.Process {
		p.Exe, p.Read = exe, p.Read|collector.SrcExe
		return p
	}
	bash := withExe(proc(730, 1, 900, "bash", 'S'), "/usr/bin/bash")
	renamed := withExe(proc(730, 1, 900, "renamed", 'S'), "/usr/bin/python3.11")
	stale := withExe(proc(730, 1, 900, "bash", 'S'), "/usr/bin/bash")
	exec := KernelEvent{Event: Event{Type: Exec, Time: t0.Add(500 * time.Millisecond), Source: SourceTracepoint,
		ID: bash.ID(), Comm: "python3", OldComm: "bash"}}
	for _, c := range []struct {
		name    string
		cur     collector.Process
		oldComm string
		want    string
	}{
		{"renamed after exec", renamed, "bash", "/usr/bin/python3.11"},
		{"renamed, source without old_comm", renamed, "", "/usr/bin/python3.11"},
		{"read before the exec", stale, "bash", ""},
	} {
		tr := NewTracker(0)
		prev, cur := snap(0, bash), snap(time.Second, c.cur)
		tr.Observe(nil, prev, Kernel{})
		ex := exec
		ex.OldComm = c.oldComm
		n := 0
		for _, e := range tr.Observe(prev, cur, Kernel{Events: []KernelEvent{ex}}).Events {
			if e.Type == Exec {
				n++
				if e.Exe != c.want {
					t.Errorf("%s: exec exe %q, want %q", c.name, e.Exe, c.want)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: %d execs, want 1", c.name, n)
		}
	}
}
