package monitor

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestChildOfUnnamedSpawnUnnamed: a process G whose name after its first
// exec is unknown (it exec'd again before the lookups) forks P; P, still
// G's copy, forks C (gone before the lookups) and then runs sleep. P's
// spawn has no name (its name at fork was G's unknown one), and so has
// C's, whose name at fork was P's, and P's exec has no old name: before,
// P was remembered as merely unread, and C's spawn and P's exec took
// P's name read after its exec (sleep). The processes are real and in
// their final state before the decoder converts their events.
func TestChildOfUnnamedSpawnUnnamed(t *testing.T) {
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	me := os.Getpid()
	cmd := exec.Command("sh", "-c", `( sh -c 'echo C $$'; exec sleep 100 ) & echo P $!; exec sleep 100`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := cmd.Process.Pid
	defer func() { _ = syscall.Kill(-g, syscall.SIGKILL); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	var p, c int
	for (p == 0 || c == 0) && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "P":
			p = n
		case "C":
			c = n
		}
	}
	if p == 0 || c == 0 {
		t.Fatalf("the shells did not say their pids (P %d, C %d)", p, c)
	}
	waitStat(t, g, func(comm string, _ byte) bool { return comm == "sleep" })
	waitStat(t, p, func(comm string, _ byte) bool { return comm == "sleep" })
	// C is reaped by P's shell before P runs sleep: gone now.
	at := uint64(monotonicNow())
	fork := func(parent, pid int) procEvent {
		return procEvent{What: procEventFork, ParentPID: parent, ParentTGID: parent, PID: pid, TGID: pid, TimestampNs: at}
	}
	execOf := func(pid int) procEvent { return procEvent{What: procEventExec, PID: pid, TGID: pid, TimestampNs: at} }
	d := newDecoder(r, false)
	evs := d.convert([]procEvent{fork(me, g), execOf(g), fork(g, p), fork(p, c), execOf(c),
		{What: procEventExit, PID: c, TGID: c, ParentTGID: p, TimestampNs: at}, execOf(p), execOf(g)}, time.Now(), false)
	// find returns pid's last event of type typ.
	find := func(typ lifecycle.EventType, pid int) *lifecycle.KernelEvent {
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Type == typ && evs[i].ID.PID == pid {
				return &evs[i]
			}
		}
		t.Fatalf("no %s of %d in %+v", typ, pid, evs)
		return nil
	}
	for _, pid := range []int{p, c} {
		if e := find(lifecycle.Spawn, pid); e.Comm != "" || e.Note != lifecycle.NoteSpawnParentNameUnknown {
			t.Errorf("spawn of %d: comm %q, note %q; want no name and the note %q", pid, e.Comm, e.Note, lifecycle.NoteSpawnParentNameUnknown)
		}
	}
	if e := find(lifecycle.Exec, p); e.OldComm != "" {
		t.Errorf("exec of P: old comm %q; want none (its name before was G's unknown one)", e.OldComm)
	}
	if e := find(lifecycle.Exec, g); e.Comm != "sleep" {
		t.Errorf("G's last exec: comm %q, want sleep", e.Comm)
	}
}
