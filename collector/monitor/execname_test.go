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

// TestExecNamedAcrossBatches: an exec of a process whose next exec came
// in the next batch, soon enough that the first batch's lookups may have
// read the later program, is left unnamed (NoteExecNameExecAgain), and
// its spawn keeps its parent's name (the lookup read the later program's
// name: before, both took it, and the exec's old comm with them). A child
// forked by such a process and gone before its lookup has no name either,
// and a note saying that its parent's is unknown. An exec whose later
// exec came well after the lookups keeps the name they read. The
// processes are real (sh exec'ing sleep) and have run both programs
// before the first batch's lookups, as when a second burst arrives after
// the first was read.
func TestExecNamedAcrossBatches(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	selfComm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	testComm := strings.TrimSpace(string(selfComm))
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	me := os.Getpid()
	fork := func(parent, pid int, ts uint64) procEvent {
		return procEvent{What: procEventFork, ParentPID: parent, ParentTGID: parent, PID: pid, TGID: pid, TimestampNs: ts}
	}
	execEv := func(pid int, ts uint64) procEvent {
		return procEvent{What: procEventExec, PID: pid, TGID: pid, TimestampNs: ts}
	}

	t.Run("next-batch-exec", func(t *testing.T) {
		before := uint64(monotonicNow())
		cmd := exec.Command(sh, "-c", "exec "+sleep+" 100")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The exec events' times are after the process started (a process
		// started after its exec event is another one: NoteExecNameReused).
		started := uint64(monotonicNow())
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		pid := cmd.Process.Pid
		waitStat(t, pid, func(comm string, state byte) bool { return comm == "sleep" })
		second := uint64(monotonicNow()) // after the second exec, before the first batch's lookups
		d := newDecoder(r, false)
		first := d.newBatch([]procEvent{fork(me, pid, before), execEv(pid, started)}, time.Now(), false, 0)
		d.prepare(first, nil)
		next := d.newBatch([]procEvent{execEv(pid, second)}, time.Now(), false, 0)
		d.prepare(next, []*batch{first})
		evs := d.emit(nil, first, []*batch{next})
		evs = d.emit(evs, next, nil)
		if len(evs) != 3 {
			t.Fatalf("events %+v, want a spawn and two execs", evs)
		}
		spawn, x1, x2 := evs[0], evs[1], evs[2]
		if spawn.Comm != testComm {
			t.Errorf("spawn named %q, want its parent's name %q (the lookup read the program of its second exec)", spawn.Comm, testComm)
		}
		if x1.Comm != "" || x1.Exe != "" || x1.Note != lifecycle.NoteExecNameExecAgain || x1.OldComm != testComm {
			t.Errorf("first exec (sh): comm %q exe %q note %q old %q; want none, none, %q, %q",
				x1.Comm, x1.Exe, x1.Note, x1.OldComm, lifecycle.NoteExecNameExecAgain, testComm)
		}
		if x2.Comm != "sleep" || x2.Note != "" {
			t.Errorf("second exec: comm %q note %q, want sleep", x2.Comm, x2.Note)
		}
	})

	t.Run("later-exec", func(t *testing.T) {
		// An exec event timed well after the lookups: the lookups read
		// the program before it.
		before := uint64(monotonicNow())
		cmd := exec.Command(sleep, "100")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		started := uint64(monotonicNow())
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		pid := cmd.Process.Pid
		d := newDecoder(r, false)
		first := d.newBatch([]procEvent{fork(me, pid, before), execEv(pid, started)}, time.Now(), false, 0)
		d.prepare(first, nil)
		if first.lookedUpNs == 0 {
			t.Fatal("a batch with a spawn and an exec made no lookups")
		}
		next := d.newBatch([]procEvent{execEv(pid, uint64(first.settledNs()+1))}, time.Now(), false, 0)
		evs := d.emit(nil, first, []*batch{next})
		if len(evs) != 2 || evs[0].Comm != testComm || evs[1].Comm != "sleep" || evs[1].Note != "" {
			t.Errorf("events %+v; want the spawn named %q (at fork), the exec sleep", evs, testComm)
		}
	})

	t.Run("child-of-unnamed", func(t *testing.T) {
		// sh runs a child sh that prints its pid and exits (reaped by its
		// parent), then execs sleep.
		before := uint64(monotonicNow())
		cmd := exec.Command(sh, "-c", `sh -c 'echo $$'; exec `+sleep+" 100")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		started := uint64(monotonicNow())
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		pid := cmd.Process.Pid
		line := make([]byte, 32)
		n, err := out.Read(line)
		if err != nil {
			t.Fatal(err)
		}
		child, err := strconv.Atoi(strings.TrimSpace(string(line[:n])))
		if err != nil {
			t.Fatalf("child pid %q: %v", line[:n], err)
		}
		waitStat(t, pid, func(comm string, state byte) bool { return comm == "sleep" })
		second := uint64(monotonicNow())
		d := newDecoder(r, false)
		first := d.newBatch([]procEvent{
			fork(me, pid, before), execEv(pid, started),
			fork(pid, child, started), execEv(child, started),
			{What: procEventExit, PID: child, TGID: child, ParentPID: pid, ParentTGID: pid, TimestampNs: started},
		}, time.Now(), false, 0)
		d.prepare(first, nil)
		next := d.newBatch([]procEvent{execEv(pid, second)}, time.Now(), false, 0)
		d.prepare(next, []*batch{first})
		evs := d.emit(nil, first, []*batch{next})
		evs = d.emit(evs, next, nil)
		if len(evs) != 6 {
			t.Fatalf("events %+v, want 6", evs)
		}
		if x := evs[1]; x.Comm != "" || x.Note != lifecycle.NoteExecNameExecAgain {
			t.Errorf("parent's first exec: comm %q note %q; want none, %q", x.Comm, x.Note, lifecycle.NoteExecNameExecAgain)
		}
		if c := evs[2]; c.Type != lifecycle.Spawn || c.ID.PID != child || c.Comm != "" || c.Note != lifecycle.NoteSpawnParentNameUnknown {
			t.Errorf("child's spawn: %s pid %d comm %q note %q; want no name, %q", c.Type, c.ID.PID, c.Comm, c.Note, lifecycle.NoteSpawnParentNameUnknown)
		}
		if x := evs[3]; x.Comm != "" || x.Note != lifecycle.NoteExecNameGone || x.OldComm != "" {
			t.Errorf("child's exec: comm %q old %q note %q; want none, none, %q", x.Comm, x.OldComm, x.Note, lifecycle.NoteExecNameGone)
		}
		if x := evs[4]; x.Type != lifecycle.Exit || x.Comm != "" || x.Note != lifecycle.NoteExitNameUnknown {
			t.Errorf("child's exit: %s comm %q note %q", x.Type, x.Comm, x.Note)
		}
		if x := evs[5]; x.Comm != "sleep" || x.Note != "" {
			t.Errorf("parent's second exec: comm %q note %q, want sleep", x.Comm, x.Note)
		}
	})
}

// TestExecNamesLive runs, under a monitor with the kernel's connector,
// processes that exec twice a few milliseconds apart (sh -c 'sleep
// 0.00N; exec sleep 0.01': the review's reproduction, where 3 of 73 first
// execs were named after the second program), and checks every event of
// theirs: the spawn has the test's name (its name at fork), the first
// exec is named sh or left unnamed with a note, the second sleep or
// unnamed, the exit sleep or unnamed; never a later program's name.
// Only the test's own children are looked at.
func TestExecNamesLive(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	m, ch := startMonitor(t, Options{Interval: time.Hour, Connector: true})
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	selfComm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	testComm := strings.TrimSpace(string(selfComm))
	mine := map[int]bool{}
	for i := range 30 {
		cmd := exec.Command(sh, "-c", "sleep 0.00"+strconv.Itoa(1+i%9)+"; exec "+sleep+" 0.01")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		mine[cmd.Process.Pid] = true
	}
	got := map[int][]lifecycle.Event{}
	for _, f := range framesThroughSync(t, m, ch) {
		for _, e := range f.Events {
			if mine[e.ID.PID] && e.Source == lifecycle.SourceConnector {
				got[e.ID.PID] = append(got[e.ID.PID], e)
			}
		}
	}
	named := 0
	for pid := range mine {
		var execs []lifecycle.Event
		for _, e := range got[pid] {
			switch e.Type {
			case lifecycle.Spawn:
				if e.Comm != testComm {
					t.Errorf("pid %d: spawn named %q, want %q", pid, e.Comm, testComm)
				}
			case lifecycle.Exec:
				execs = append(execs, e)
			case lifecycle.Exit:
				if e.Comm != "sleep" && (e.Comm != "" || e.Note == "") {
					t.Errorf("pid %d: exit named %q (note %q), want sleep or no name with a note", pid, e.Comm, e.Note)
				}
			}
		}
		if len(execs) != 2 {
			t.Errorf("pid %d: %d exec events from the kernel, want 2: %+v", pid, len(execs), got[pid])
			continue
		}
		for i, want := range []string{"sh", "sleep"} {
			x := execs[i]
			if x.Comm != want && (x.Comm != "" || x.Exe != "" || x.Note == "") {
				t.Errorf("pid %d: exec %d named %q exe %q (note %q), want %s or no name with a note", pid, i+1, x.Comm, x.Exe, x.Note, want)
			}
			if x.Comm == want {
				named++
			}
		}
		if old := execs[1].OldComm; old != "" && old != "sh" {
			t.Errorf("pid %d: second exec's old name %q, want sh or none", pid, old)
		}
	}
	t.Logf("%d of %d execs named", named, 2*len(mine))
}

// TestExecNamedInHurry: a batch converted while pinspect catches up with
// a backlog (no lookup for spawns and exits) still names the last exec
// of each process still running, up to maxHurriedExecLookups of them,
// and every exec it leaves unnamed says exactly why: it exited in the
// backlog, it ran another program, or the bound was reached. The
// processes are real: sleeps still running, and an sh that exited and
// was reaped.
func TestExecNamedInHurry(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	me := os.Getpid()
	before := uint64(monotonicNow())
	var running []int
	for range maxHurriedExecLookups + 1 {
		cmd := exec.Command(sleep, "100")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		running = append(running, cmd.Process.Pid)
	}
	done := exec.Command(sh, "-c", "exit 3")
	_ = done.Run()
	gone := done.Process.Pid
	after := uint64(monotonicNow()) // every exec was before
	var in []procEvent
	add := func(pid int, execs int, exited bool) {
		in = append(in, procEvent{What: procEventFork, ParentPID: me, ParentTGID: me, PID: pid, TGID: pid, TimestampNs: before})
		for range execs {
			in = append(in, procEvent{What: procEventExec, PID: pid, TGID: pid, TimestampNs: after})
		}
		if exited {
			in = append(in, procEvent{What: procEventExit, PID: pid, TGID: pid, ParentTGID: me, ExitCode: 3 << 8, TimestampNs: after})
		}
	}
	add(running[0], 2, false) // two execs: the first ran another program
	add(gone, 1, true)
	for _, pid := range running[1:] {
		add(pid, 1, false)
	}
	d := newDecoder(r, false)
	evs := d.convert(in, time.Now(), true)
	execs := map[int][]lifecycle.KernelEvent{}
	for _, e := range evs {
		if e.Type == lifecycle.Exec {
			execs[e.ID.PID] = append(execs[e.ID.PID], e)
		}
	}
	if x := execs[running[0]]; len(x) != 2 || x[0].Comm != "" || x[0].Note != lifecycle.NoteExecNameExecAgain || x[1].Comm != "sleep" || x[1].Note != "" {
		t.Errorf("twice-exec'd process: %+v; want the first unnamed (%q), the second sleep", x, lifecycle.NoteExecNameExecAgain)
	}
	if x := execs[gone]; len(x) != 1 || x[0].Comm != "" || x[0].Note != lifecycle.NoteExecNameBehindExited {
		t.Errorf("exited process: %+v; want no name, note %q", x, lifecycle.NoteExecNameBehindExited)
	}
	named, bounded := 0, 0
	for _, pid := range running[1:] {
		x := execs[pid]
		switch {
		case len(x) == 1 && x[0].Comm == "sleep" && x[0].Note == "":
			named++
		case len(x) == 1 && x[0].Comm == "" && x[0].Note == lifecycle.NoteExecNameBehind:
			bounded++
		default:
			t.Errorf("running process %d: %+v", pid, x)
		}
	}
	if d.unnamedBehind != 2 {
		t.Errorf("%d execs counted unnamed in the hurry, want 2 (the exited one, the one past the bound)", d.unnamedBehind)
	}
	if named != maxHurriedExecLookups-1 || bounded != 1 {
		t.Errorf("%d running processes' execs named, %d left unnamed at the bound; want %d and 1", named, bounded, maxHurriedExecLookups-1)
	}
}

// TestHeldBatchPlansAsEmitted: a batch prepared while the one before it is
// held asks the same lookups as when that one was emitted first: a
// process forked (and exec'd) in the held batch is known to be named and
// single-threaded, so its exit is not looked up; one that made a thread
// there is. The processes are real (a running sleep; the test binary,
// which has threads).
func TestHeldBatchPlansAsEmitted(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	me := os.Getpid()
	before := uint64(monotonicNow())
	cmd := exec.Command(sleep, "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	now := uint64(monotonicNow())
	first := []procEvent{
		{What: procEventFork, ParentPID: me, ParentTGID: me, PID: pid, TGID: pid, TimestampNs: before},
		{What: procEventExec, PID: pid, TGID: pid, TimestampNs: now},
		{What: procEventFork, ParentPID: me, ParentTGID: me, PID: me + 100000, TGID: me, TimestampNs: now}, // a thread of the test binary
	}
	second := []procEvent{
		{What: procEventExit, PID: pid, TGID: pid, ParentTGID: me, TimestampNs: now},
		{What: procEventExit, PID: me, TGID: me, ParentTGID: 1, TimestampNs: now},
	}
	plan := func(hold bool) []collector.IdentityQuery {
		ids := &countingIDs{identities: r}
		d := newDecoder(ids, false)
		// The test binary as the decoder would know it had it forked it.
		d.comms[me] = connProc{comm: "test", forked: true}
		b1 := d.newBatch(first, time.Now(), false, 0)
		d.prepare(b1, nil)
		var held []*batch
		if hold {
			held = []*batch{b1}
		} else {
			d.emit(nil, b1, nil)
		}
		ids.asked = nil
		d.prepare(d.newBatch(second, time.Now(), false, 0), held)
		return ids.asked
	}
	emitted, held := plan(false), plan(true)
	if len(emitted) != 1 || emitted[0].PID != me {
		t.Fatalf("after the first batch was emitted, the exits asked %+v; want only the threaded test binary's", emitted)
	}
	if len(held) != len(emitted) || held[0] != emitted[0] {
		t.Errorf("with the first batch held, the exits asked %+v; want %+v as when it was emitted", held, emitted)
	}
}
