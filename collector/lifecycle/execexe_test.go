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
