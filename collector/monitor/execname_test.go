package monitor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestExecNamedAfterExec: an exec event names the process by the program
// it runs after the exec, or leaves the name and exe unknown (with a note
// saying why) when the lookup could not read that program; it never
// repeats the name from before the exec, and the exit then names the
// process only by what was read after its last exec. The processes are
// real (sh, sleep) and in the state each case needs (reaped, a zombie,
// exec'd twice, running) before the decoder converts their events, as
// the connector's would arrive: the lookups find them as a late batch
// would, whatever the machine's load. Both lookups are tried: /proc, and
// the BPF identity program the dashboard uses, where it loads.
func TestExecNamedAfterExec(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	sleepExe, err := filepath.EvalSymlinks(sleep)
	if err != nil {
		t.Fatal(err)
	}
	selfComm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	testComm := strings.TrimSpace(string(selfComm))
	readers := map[string]*collector.Reader{}
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readers["proc"] = r
	if br, err := collector.NewReader(collector.Options{Backend: collector.BackendTaskIter, BPFIdentities: true, NoTaskstats: true}); err == nil {
		defer br.Close()
		readers["bpf"] = br
	} else {
		t.Logf("no BPF identity program (%v): /proc lookups only", err)
	}
	me := os.Getpid()

	for name, r := range readers {
		t.Run(name+"/reaped", func(t *testing.T) {
			// sh -c 'exit 3', reaped before the lookups: as under a
			// coalesced or busy listener, where most are.
			before := uint64(monotonicNow())
			cmd := exec.Command(sh, "-c", "exit 3")
			_ = cmd.Run()
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 3 {
				t.Fatalf("sh: %v", cmd.ProcessState)
			}
			pid := cmd.Process.Pid
			evs := convertLife(r, me, pid, before, 1, true)
			x, end := evs[1], evs[2]
			if x.Comm != "" || x.Exe != "" || x.Note != lifecycle.NoteExecNameGone {
				t.Errorf("exec of a reaped process: comm %q exe %q note %q; want none, none, %q (before the exec it was %q)",
					x.Comm, x.Exe, x.Note, lifecycle.NoteExecNameGone, testComm)
			}
			if x.OldComm != testComm {
				t.Errorf("old comm %q, want %q", x.OldComm, testComm)
			}
			if end.Comm != "" || end.Note != lifecycle.NoteExitNameUnknown || end.ExitStatus == nil || end.ExitStatus.Code != 3 {
				t.Errorf("exit: comm %q note %q status %v; want no name, %q, exit 3", end.Comm, end.Note, end.ExitStatus, lifecycle.NoteExitNameUnknown)
			}
		})
		t.Run(name+"/zombie", func(t *testing.T) {
			// Exited, not yet reaped: a zombie keeps its comm.
			before := uint64(monotonicNow())
			cmd := exec.Command(sh, "-c", "exit 3")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Wait() }()
			pid := cmd.Process.Pid
			waitStat(t, pid, func(comm string, state byte) bool { return state == 'Z' })
			evs := convertLife(r, me, pid, before, 1, true)
			x, end := evs[1], evs[2]
			if x.Comm != "sh" || x.Note != "" {
				t.Errorf("exec of a zombie: comm %q note %q, want \"sh\" and no note", x.Comm, x.Note)
			}
			if end.Comm != "sh" || end.Note != "" {
				t.Errorf("exit: comm %q note %q, want \"sh\"", end.Comm, end.Note)
			}
		})
		t.Run(name+"/exec-again", func(t *testing.T) {
			// sh -c 'exec sleep 100': two execs before the lookups; the
			// first ran sh, which the lookup can no longer see.
			before := uint64(monotonicNow())
			cmd := exec.Command(sh, "-c", "exec "+sleep+" 100")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			pid := cmd.Process.Pid
			waitStat(t, pid, func(comm string, state byte) bool { return comm == "sleep" })
			evs := convertLife(r, me, pid, before, 2, false)
			first, second := evs[1], evs[2]
			if evs[0].Comm != testComm {
				t.Errorf("spawn named %q, want its parent's name %q (it exec'd after the fork)", evs[0].Comm, testComm)
			}
			if first.Comm != "" || first.Exe != "" || first.Note != lifecycle.NoteExecNameExecAgain {
				t.Errorf("first exec (sh): comm %q exe %q note %q; want none, none, %q", first.Comm, first.Exe, first.Note, lifecycle.NoteExecNameExecAgain)
			}
			if second.Comm != "sleep" || second.Exe != sleepExe || second.Note != "" {
				t.Errorf("second exec: comm %q exe %q note %q; want sleep, %s", second.Comm, second.Exe, second.Note, sleepExe)
			}
		})
		t.Run(name+"/reused", func(t *testing.T) {
			// An exec event older than the process now at its pid (the
			// pid was taken again): the lookup read another process.
			before := uint64(monotonicNow())
			time.Sleep(20 * time.Millisecond) // two clock ticks: the process starts later than the event
			cmd := exec.Command(sleep, "100")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			pid := cmd.Process.Pid
			d := newDecoder(r, false)
			evs := d.convert([]procEvent{{What: procEventExec, PID: pid, TGID: pid, TimestampNs: before}}, time.Now(), false)
			if len(evs) != 1 || evs[0].Comm != "" || evs[0].Exe != "" || evs[0].Note != lifecycle.NoteExecNameReused {
				t.Errorf("exec before the process at its pid started: %+v; want no name, no exe, note %q", evs, lifecycle.NoteExecNameReused)
			}
		})
		t.Run(name+"/running", func(t *testing.T) {
			before := uint64(monotonicNow())
			cmd := exec.Command(sleep, "100")
			if err := cmd.Start(); err != nil { // returns once the exec succeeded
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			pid := cmd.Process.Pid
			evs := convertLife(r, me, pid, before, 1, false)
			x := evs[1]
			if x.Comm != "sleep" || x.Exe != sleepExe || x.Note != "" || x.OldComm != testComm {
				t.Errorf("exec of a running process: comm %q exe %q note %q old %q; want sleep, %s, no note, %q",
					x.Comm, x.Exe, x.Note, x.OldComm, sleepExe, testComm)
			}
		})
	}
}

// convertLife converts, in one batch with lookups, the events the
// connector sends for child pid of parent: its fork (at or after
// before, on the monotonic clock), execs exec events, and with exited its
// exit with status 3. It returns the converted events, in that order.
func convertLife(r *collector.Reader, parent, pid int, before uint64, execs int, exited bool) []lifecycle.KernelEvent {
	now := uint64(monotonicNow())
	in := []procEvent{{What: procEventFork, ParentPID: parent, ParentTGID: parent, PID: pid, TGID: pid, TimestampNs: before}}
	for range execs {
		in = append(in, procEvent{What: procEventExec, PID: pid, TGID: pid, TimestampNs: now})
	}
	if exited {
		in = append(in, procEvent{What: procEventExit, PID: pid, TGID: pid, ParentTGID: parent, ExitCode: 3 << 8, TimestampNs: now})
	}
	d := newDecoder(r, false)
	return d.convert(in, time.Now(), false)
}

// waitStat waits until process pid's stat satisfies ok.
func waitStat(t *testing.T, pid int, ok func(comm string, state byte) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open >= 0 && end+2 < len(s) && ok(s[open+1:end], s[end+2]) {
			return
		}
	}
	t.Fatalf("pid %d never reached the state the test waits for", pid)
}
