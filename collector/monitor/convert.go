package monitor

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// maxLeaderGone and maxComms bound the decoder's memory: entries of
// processes whose end was missed would otherwise pile up.
const (
	maxLeaderGone = 1 << 16
	maxComms      = 1 << 16
)

// identity is what a lookup tells of a live process.
type identity struct {
	StartTicks uint64
	Comm       string
	State      byte
	NumThreads int64
}

// identities is what the connector may ask of the /proc reader while an
// event is fresh: a new process's identity, an exec'd program, and
// whether a thread is still listed. Nothing else of /proc is read
// between scans.
type identities interface {
	// identity looks pid up; the error says why it could not
	// (collector.IsVanished: it is gone).
	identity(pid int) (identity, error)
	// exe is pid's executable path, "" when unknown.
	exe(pid int) string
	// taskListed reports whether thread tid of process tgid is still
	// listed (an exiting thread is, until the kernel releases it).
	taskListed(tgid, tid int) bool
}

// decoder turns connector events into lifecycle inputs. It remembers, per
// pid, the comm and start time the connector saw (so an exit names what
// exited) and the processes whose main thread exited while others run on
// (their exit is their last thread's). One goroutine owns it.
type decoder struct {
	ids     identities
	threads bool  // report thread starts and exits
	offset  int64 // CLOCK_BOOTTIME minus CLOCK_MONOTONIC, ns

	comms      map[int]connProc
	leaderGone map[int]bool
}

// connProc is what the decoder remembers of a process.
type connProc struct {
	comm  string
	start uint64
	ppid  int // the parent at fork, 0 when not seen forked
}

func (c connProc) id(pid int) collector.ID { return collector.ID{PID: pid, StartTicks: c.start} }

func newDecoder(ids identities, threads bool) *decoder {
	return &decoder{ids: ids, threads: threads, offset: bootOffset(),
		comms: make(map[int]connProc), leaderGone: make(map[int]bool)}
}

// leadersExited records processes whose main thread a scan saw exited.
func (d *decoder) leadersExited(pids []int) {
	for _, pid := range pids {
		d.setLeaderGone(pid, true)
	}
}

func (d *decoder) setLeaderGone(pid int, gone bool) {
	if !gone {
		delete(d.leaderGone, pid)
		return
	}
	if len(d.leaderGone) >= maxLeaderGone {
		clear(d.leaderGone)
	}
	d.leaderGone[pid] = true
}

// convert turns a datagram's events, received at now, into lifecycle
// inputs. In a hurry it looks nothing up.
func (d *decoder) convert(in []procEvent, now time.Time, hurry bool) []lifecycle.KernelEvent {
	var out []lifecycle.KernelEvent
	monoNow := monotonicNow()
	for i := range in {
		ev := &in[i]
		at := now.Add(-time.Duration(monoNow - int64(ev.TimestampNs)))
		if int64(ev.TimestampNs) > monoNow || ev.TimestampNs == 0 {
			at = now
		}
		e := lifecycle.KernelEvent{Event: lifecycle.Event{Time: at, Source: lifecycle.SourceConnector}}
		var ok bool
		switch ev.What {
		case procEventFork:
			ok = d.fork(&e, ev, hurry)
		case procEventExec:
			ok = d.exec(&e, ev, hurry)
		case procEventComm:
			d.comm(ev)
		case procEventExit:
			out, ok = d.exit(out, &e, ev, hurry)
		}
		if ok {
			out = append(out, e)
		}
	}
	if len(d.comms) > maxComms {
		clear(d.comms)
	}
	return out
}

// fork completes e as a spawn (or, for a new thread, a thread_start).
func (d *decoder) fork(e *lifecycle.KernelEvent, ev *procEvent, hurry bool) bool {
	if ev.PID != ev.TGID {
		if !d.threads {
			return false
		}
		d.threadEvent(e, lifecycle.ThreadStart, ev, hurry)
		return true
	}
	e.Type = lifecycle.Spawn
	e.PPID = ev.ParentTGID
	var c identity
	ok := false
	if !hurry {
		c, ok = d.identity(ev.PID)
	}
	if !ok {
		// Gone already: it was a copy of its parent until it exec'd.
		c.StartTicks = uint64((int64(ev.TimestampNs) + d.offset) / int64(time.Second/collector.ClockTicks))
		c.Comm = d.lookup(ev.ParentTGID, hurry).comm
	}
	e.ID = collector.ID{PID: ev.PID, StartTicks: c.StartTicks}
	e.Comm = c.Comm
	e.StartRead = ok
	d.comms[ev.PID] = connProc{comm: c.Comm, start: c.StartTicks, ppid: ev.ParentTGID}
	return true
}

// exec completes e as an exec of process ev.TGID (a thread's exec is
// reported by the kernel for the leader too).
func (d *decoder) exec(e *lifecycle.KernelEvent, ev *procEvent, hurry bool) bool {
	if ev.PID != ev.TGID {
		return false
	}
	e.Type = lifecycle.Exec
	old := d.comms[ev.TGID]
	e.OldComm = old.comm
	e.ID, e.Comm = old.id(ev.TGID), old.comm
	if hurry {
		return true
	}
	if c, ok := d.identity(ev.TGID); ok {
		e.ID.StartTicks, e.Comm = c.StartTicks, c.Comm
		d.comms[ev.TGID] = connProc{comm: c.Comm, start: c.StartTicks, ppid: old.ppid}
	}
	e.Exe = d.ids.exe(ev.TGID)
	return true
}

// comm remembers a process's new name.
func (d *decoder) comm(ev *procEvent) {
	if ev.PID == ev.TGID {
		c := d.comms[ev.TGID]
		c.comm = ev.Comm
		d.comms[ev.TGID] = c
	}
}

// exit completes e as a process exit or a thread exit. The kernel reports
// the main thread's exit with pid == tgid even when other threads run on
// (pthread_exit in main): then the process has not exited, and its last
// thread's exit says when it does (appended to out before e).
func (d *decoder) exit(out []lifecycle.KernelEvent, e *lifecycle.KernelEvent, ev *procEvent, hurry bool) ([]lifecycle.KernelEvent, bool) {
	if ev.PID != ev.TGID {
		if !hurry && d.leaderGone[ev.TGID] && d.processEnded(ev.TGID, ev.PID) {
			// The last thread of a process whose main thread exited
			// earlier: now the process has exited.
			d.setLeaderGone(ev.TGID, false)
			x := *e
			d.exitEvent(&x, ev)
			out = append(out, x)
		}
		if !d.threads {
			return out, false
		}
		d.threadEvent(e, lifecycle.ThreadExit, ev, hurry)
		return out, true
	}
	if !hurry {
		if c, ok := d.identity(ev.PID); ok {
			if k, known := d.comms[ev.PID]; !known || k.comm == "" {
				d.comms[ev.PID] = connProc{comm: c.Comm, start: c.StartTicks, ppid: k.ppid}
			}
			if c.NumThreads > 1 {
				d.setLeaderGone(ev.PID, true)
				return out, false
			}
		}
	}
	d.exitEvent(e, ev)
	return out, true
}

// threadEvent completes e as a thread_start or thread_exit (typ) of
// thread ev.PID in process ev.TGID.
func (d *decoder) threadEvent(e *lifecycle.KernelEvent, typ lifecycle.EventType, ev *procEvent, hurry bool) {
	c := d.lookup(ev.TGID, hurry)
	e.Type = typ
	e.ID = c.id(ev.TGID)
	e.TID = ev.PID
	e.Comm = c.comm
}

// exitEvent completes e as the exit of process ev.TGID with ev's exit
// code, and forgets the process.
func (d *decoder) exitEvent(e *lifecycle.KernelEvent, ev *procEvent) {
	c := d.comms[ev.TGID]
	e.Type = lifecycle.Exit
	e.ID = c.id(ev.TGID)
	e.Comm = c.comm
	e.PPID = ev.ParentTGID
	if e.PPID == 0 {
		// The kernel builds the exit event after the parent is told,
		// and leaves the parent out when it has already reaped the
		// child: use the parent the fork event named.
		e.PPID = c.ppid
	}
	es := collector.DecodeWaitStatus(int64(ev.ExitCode))
	e.ExitStatus = &es
	delete(d.comms, ev.TGID)
}

// processEnded reports whether process tgid, whose main thread exited
// earlier, has no thread left running once thread tid (now exiting) is
// gone: the process is gone, or its leader is Z with no other thread. The
// exiting thread is still counted until the kernel releases it, so it is
// discounted while it is listed (checked before the lookup, so a release
// in between only lowers the count).
func (d *decoder) processEnded(tgid, tid int) bool {
	exiting := d.ids.taskListed(tgid, tid)
	c, err := d.ids.identity(tgid)
	if err != nil {
		return collector.IsVanished(err)
	}
	others := c.NumThreads - 1 // the leader stays counted until reaped
	if exiting {
		others--
	}
	return c.State == 'Z' && others <= 0
}

// identity looks pid up, ok false when it could not.
func (d *decoder) identity(pid int) (identity, bool) {
	c, err := d.ids.identity(pid)
	return c, err == nil
}

// lookup returns what is known of process pid, looking it up (and
// remembering it) when it was not seen forked, unless in a hurry.
func (d *decoder) lookup(pid int, hurry bool) connProc {
	c, ok := d.comms[pid]
	if ok && c.comm != "" || hurry {
		return c
	}
	if id, ok := d.identity(pid); ok {
		c.comm, c.start = id.Comm, id.StartTicks
		d.comms[pid] = c
	}
	return c
}

// monotonicNow is CLOCK_MONOTONIC in ns: connector timestamps are on it.
func monotonicNow() int64 {
	var mono unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	return mono.Nano()
}

// bootOffset is CLOCK_BOOTTIME minus CLOCK_MONOTONIC in ns (time spent
// suspended): connector timestamps are monotonic, start ticks boottime.
func bootOffset() int64 {
	var b, m unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &b) != nil || unix.ClockGettime(unix.CLOCK_MONOTONIC, &m) != nil {
		return 0
	}
	return b.Nano() - m.Nano()
}
