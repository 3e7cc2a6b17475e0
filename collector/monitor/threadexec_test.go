package monitor

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// receiveUntil receives the connector's events until one satisfies done
// (within a minute), and returns them all.
func receiveUntil(t *testing.T, k *connector, done func(ev procEvent) bool) []procEvent {
	t.Helper()
	var evs []procEvent
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		n := len(evs)
		var err error
		evs, err = k.receiveWithin(evs, 100)
		if err != nil && err != errAckTimeout {
			t.Fatal(err)
		}
		for _, ev := range evs[n:] {
			if done(ev) {
				return evs
			}
		}
	}
	t.Fatal("the connector did not report the awaited event within a minute")
	return nil
}

// eventsOf keeps the events of process pid (its threads' too).
func eventsOf(evs []procEvent, pid int) []procEvent {
	var out []procEvent
	for _, ev := range evs {
		if ev.TGID == pid || ev.PID == pid {
			out = append(out, ev)
		}
	}
	return out
}

// readerAndConnector opens a Reader and the kernel's process connector,
// both closed at the test's end; it skips the test without the
// connector.
func readerAndConnector(t *testing.T) (*collector.Reader, *connector) {
	t.Helper()
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	k, err := dialConnector()
	if err != nil {
		t.Skipf("no kernel process events here: %v", err)
	}
	t.Cleanup(func() { k.close(); k.release() })
	return r, k
}

func describe(evs []lifecycle.KernelEvent) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %d/%d %q", e.Type, e.ID.PID, e.ID.StartTicks, e.Comm)
		if e.Note != "" {
			fmt.Fprintf(&b, " (%s)", e.Note)
		}
	}
	return b.String()
}

// TestThreadExecIsNotExit: when a thread other than the main one calls
// execve, the kernel ends the main thread (an exit event with pid ==
// tgid, code 0) and the exec'ing thread goes on as the process, with its
// pid and start time, in the new program. That exit is not the
// process's: the decoder reported it, and then an exec of a process it
// had forgotten. The events are the kernel's for a real helper, converted
// once the exec is over (the lookups read the process in its new
// program, with one thread): in one batch, and with the exec in the
// batch after the exit's, the exit then waiting in the source's pending
// events.
func TestThreadExecIsNotExit(t *testing.T) {
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	evs, leaderExit := threadExecEvents(t)
	pid := evs[leaderExit].PID
	check := func(t *testing.T, out []lifecycle.KernelEvent) {
		t.Helper()
		var types []string
		for _, e := range out {
			types = append(types, string(e.Type))
		}
		if got := strings.Join(types, " "); got != "spawn exec exec" {
			t.Fatalf("events %q, want spawn exec exec:%s", got, describe(out))
		}
		// Converted after both execs, the first is not named (its lookup
		// read the second's program), and the second's old name is not
		// known: never the new one.
		if x := out[2]; x.ID != out[0].ID || x.Comm != "texecd" || x.OldComm != "" && x.OldComm != "procshape" {
			t.Errorf("the worker's exec %+v, want the spawned process %v renamed texecd (from procshape or an unknown name)", x, out[0].ID)
		}
	}
	// The lookups read the process after its exec: alive, one thread.
	// In a hurry there are no exit lookups: the exit is converted, and
	// the exec takes it back (unexit).
	for _, hurry := range []bool{false, true} {
		name := map[bool]string{false: "looked up", true: "in a hurry"}[hurry]
		t.Run(name+", one batch", func(t *testing.T) {
			d := newDecoder(r, false)
			check(t, d.convert(evs, time.Now(), hurry))
		})
		t.Run(name+", two batches", func(t *testing.T) {
			check(t, convertTwo(r, evs, leaderExit, hurry, 0))
		})
	}
	// An exit that cannot be a main thread's end, or one followed by a
	// loss of events (which may have hidden a fork of the pid), stays.
	// Without the thread's fork (made before pinspect looked, or lost):
	// in a hurry the exit of a process known to make threads is looked
	// up, and a lookup that finds it alive says it did not end, loss or
	// not (TestThreadExecExitTakenBeforeExec); this is the take-back.
	noThreads := slices.DeleteFunc(slices.Clone(evs), func(ev procEvent) bool { return ev.What == procEventFork && ev.PID != ev.TGID })
	exitAt := slices.IndexFunc(noThreads, func(ev procEvent) bool { return ev.What == procEventExit && ev.PID == pid })
	for _, c := range []struct {
		name   string
		code   uint32
		losses uint64
	}{{"killed", 9, 0}, {"events lost between", 0, 1}} {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(noThreads)
			in[exitAt].ExitCode = c.code
			out := convertTwo(r, in, exitAt, true, c.losses)
			var types []string
			for _, e := range out {
				types = append(types, string(e.Type))
			}
			if got := strings.Join(types, " "); got != "spawn exec exit exec" {
				t.Errorf("events %q, want the exit kept: spawn exec exit exec:%s", got, describe(out))
			}
		})
	}
}

// convertTwo converts evs as the source does when the exit at index at
// ends a batch: both batches received (and looked up) before the first
// is emitted, the first's events pending when the second is emitted; the
// second taken with the connector's count of losses at losses.
func convertTwo(r *collector.Reader, evs []procEvent, at int, hurry bool, losses uint64) []lifecycle.KernelEvent {
	d := newDecoder(r, false)
	b1 := d.newBatch(evs[:at+1], time.Now(), hurry, 0)
	d.prepare(b1, nil)
	b2 := d.newBatch(evs[at+1:], time.Now(), hurry, losses)
	d.prepare(b2, []*batch{b1})
	pending := d.emit(nil, b1, []*batch{b2})
	d.pendingExit = func(pid int) (lifecycle.KernelEvent, bool) {
		var x lifecycle.KernelEvent
		var ok bool
		pending, x, ok = takeExit(pending, pid)
		return x, ok
	}
	out := d.emit(nil, b2, nil)
	return append(pending, out...)
}

// TestExitOfReusedPidNotMoved: the exit of a process the decoder never
// saw forked is named by a lookup of its pid; when the pid was given to
// a new process after the exit and before the lookup, the lookup read
// the new process, and its start and name were the old process's exit's
// (and its threads, a reason to hold the exit back). The kernel's events
// of a real reuse: a helper killed and reaped, and a new process made at
// its pid (clone3's set_tid, which leaves the machine's next pid where
// it was: no write to ns_last_pid), converted after both.
func TestExitOfReusedPidNotMoved(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("choosing a pid (clone3's set_tid) needs root")
	}
	r, k := readerAndConnector(t)
	for try := 0; try < 20; try++ {
		old := livehelper.Start(t, "comm", "oldproc")
		pid := old.PID()
		_ = old.Cmd.Process.Kill()
		_ = old.Cmd.Wait()
		cur := livehelper.Start(t, "pidat", strconv.Itoa(pid), "newproc")
		if cur.PID() == 0 {
			_ = cur.Cmd.Wait()
			if code := cur.Cmd.ProcessState.ExitCode(); code != int(syscall.EEXIST) {
				t.Skipf("clone3 with set_tid: %v", syscall.Errno(code))
			}
			continue // another fork took the pid first
		}
		if cur.PID() != pid {
			t.Fatalf("pidat %d made pid %d", pid, cur.PID())
		}
		waitStat(t, pid, func(comm string, _ byte) bool { return comm == "newproc" })
		var forked bool
		evs := eventsOf(receiveUntil(t, k, func(ev procEvent) bool {
			forked = forked || ev.What == procEventFork && ev.PID == pid
			return forked && ev.What == procEventExec && ev.TGID == pid
		}), pid)
		// From the old process's exit on: the decoder knows nothing of it.
		for len(evs) > 0 && !(evs[0].What == procEventExit && evs[0].PID == pid) {
			evs = evs[1:]
		}
		if len(evs) == 0 {
			t.Fatal("the kernel reported no exit of the old process")
		}
		newStart, err := r.Identity(pid, false)
		if err != nil {
			t.Fatal(err)
		}
		out := newDecoder(r, false).convert(evs, time.Now(), false)
		if len(out) == 0 || out[0].Type != lifecycle.Exit {
			t.Fatalf("events %s, want the old process's exit first", describe(out))
		}
		if x := out[0]; x.ID.StartTicks == newStart.StartTicks || x.Comm == "newproc" {
			t.Errorf("the old process's exit is named as the new one (start %d, newproc): %s", newStart.StartTicks, describe(out))
		}
		return
	}
	t.Skip("another fork took the freed pid in 20 tries")
}
