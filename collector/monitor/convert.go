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

// identities answers the connector's lookups: who a pid (or a thread)
// is now. It is the reader's batch lookup (collector.Reader.Identities:
// stat, and exe on request, under the reader's read deadline, one
// handoff per batch); nothing else of /proc is read between scans.
type identities interface {
	Identities(qs []collector.IdentityQuery, out []collector.IdentityResult) []collector.IdentityResult
}

// lookupKey names one lookup of a batch. ended marks the lookup of a
// process made after its exiting thread's (processEnded), so the thread is
// checked first.
type lookupKey struct {
	pid, tid int
	exe      bool
	ended    bool
}

// lookups are one batch's answers.
type lookups map[lookupKey]collector.IdentityResult

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
	// threaded are the processes seen forked whose thread creation was
	// seen since (a fork event of another of their threads).
	threaded map[int]bool
	// execsLeft counts, per process, the exec events of the batch being
	// converted not yet converted: an exec with another after it in the
	// batch was followed by a new program before the batch's lookups,
	// which read the later program's name.
	execsLeft map[int]int
	// losses is the connector's count of event losses when the batch
	// being converted was read (connSource.losses).
	losses uint64

	// The current batch's lookups: planned, asked in one call, answered.
	qs   []collector.IdentityQuery
	keys []lookupKey
	res  []collector.IdentityResult
	got  lookups
}

// connProc is what the decoder remembers of a process.
type connProc struct {
	comm  string
	start uint64
	ppid  int // the parent at fork, 0 when not seen forked
	// startRead says start was read from the process, not estimated
	// from the fork event's time.
	startRead bool
	// execNameUnknown says the process exec'd and its name after the
	// exec could not be read (comm is then "").
	execNameUnknown bool
	// forked is set when the decoder saw the process forked, with no
	// event lost since (losses then): it had one thread then, and every
	// thread it made since is a fork event.
	forked bool
	losses uint64
}

func (c connProc) id(pid int) collector.ID { return collector.ID{PID: pid, StartTicks: c.start} }

func newDecoder(ids identities, threads bool) *decoder {
	return &decoder{ids: ids, threads: threads, offset: bootOffset(),
		comms: make(map[int]connProc), leaderGone: make(map[int]bool), threaded: make(map[int]bool), execsLeft: make(map[int]int), got: make(lookups)}
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
	clear(d.got)
	clear(d.execsLeft)
	if !hurry {
		d.lookUp(in)
	}
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
			ok = d.fork(&e, ev)
		case procEventExec:
			ok = d.exec(&e, ev)
		case procEventComm:
			d.comm(ev)
		case procEventExit:
			out, ok = d.exit(out, &e, ev)
		}
		if ok {
			out = append(out, e)
		}
	}
	if len(d.comms) > maxComms {
		clear(d.comms)
		clear(d.threaded)
	}
	return out
}

// fork completes e as a spawn (or, for a new thread, a thread_start).
func (d *decoder) fork(e *lifecycle.KernelEvent, ev *procEvent) bool {
	if ev.PID != ev.TGID {
		if c, ok := d.comms[ev.TGID]; ok && c.forked {
			d.threaded[ev.TGID] = true
		}
		if !d.threads {
			return false
		}
		d.threadEvent(e, lifecycle.ThreadStart, ev)
		return true
	}
	e.Type = lifecycle.Spawn
	e.PPID = ev.ParentTGID
	c, ok := d.identity(lookupKey{pid: ev.PID})
	if !ok {
		// Gone already: it was a copy of its parent until it exec'd.
		c.StartTicks = uint64((int64(ev.TimestampNs) + d.offset) / int64(time.Second/collector.ClockTicks))
		c.Comm = d.lookup(ev.ParentTGID).comm
	} else if d.execsLeft[ev.PID] > 0 {
		// It exec'd later in the batch, before the lookup: the name read
		// is its new program's (its start time stays); at fork it was
		// its parent's.
		c.Comm = d.lookup(ev.ParentTGID).comm
	}
	e.ID = collector.ID{PID: ev.PID, StartTicks: c.StartTicks}
	e.Comm = c.Comm
	e.StartRead = ok
	d.comms[ev.PID] = connProc{comm: c.Comm, start: c.StartTicks, ppid: ev.ParentTGID, startRead: ok, forked: true, losses: d.losses}
	delete(d.threaded, ev.PID)
	return true
}

// singleThreaded reports whether process pid is known to have one thread
// and its name: the decoder saw it forked (with one thread), named, and
// no thread of it created since, with no event lost in between. Its exit
// needs no lookup (which would only name it and count its threads).
func (d *decoder) singleThreaded(pid int) bool {
	c, ok := d.comms[pid]
	return ok && c.forked && c.comm != "" && c.losses == d.losses && !d.threaded[pid]
}

// exec completes e as an exec of process ev.TGID (a thread's exec is
// reported by the kernel for the leader too). The event carries no name:
// the kernel sets the new comm before it sends the event, so a lookup
// that finds the process reads the new program's comm and exe. When the
// lookup could not read this exec's program (the process was gone, its
// pid taken by a later process, or it exec'd again before the lookup),
// the name and exe are left unknown, with e.Note saying why, and the
// name before the exec is forgotten: it is not the process's any more.
func (d *decoder) exec(e *lifecycle.KernelEvent, ev *procEvent) bool {
	if ev.PID != ev.TGID {
		return false
	}
	e.Type = lifecycle.Exec
	old := d.comms[ev.TGID]
	e.OldComm = old.comm
	e.ID = old.id(ev.TGID)
	later := d.execsLeft[ev.TGID] > 1
	d.execsLeft[ev.TGID]--
	r, asked := d.got[lookupKey{pid: ev.TGID, exe: true}]
	c, ok := r.Identity, asked && r.Err == nil
	switch {
	case !ok && asked && collector.IsVanished(r.Err):
		e.Note = lifecycle.NoteExecNameGone
	case !ok:
		e.Note = lifecycle.NoteExecNameNotRead
	case d.otherProcess(old, c.StartTicks, ev):
		e.Note = lifecycle.NoteExecNameReused
	case later:
		e.Note = lifecycle.NoteExecNameExecAgain
	default:
		e.ID.StartTicks, e.Comm, e.Exe = c.StartTicks, c.Comm, c.Exe
		d.comms[ev.TGID] = connProc{comm: c.Comm, start: c.StartTicks, ppid: old.ppid, startRead: true, forked: old.forked, losses: old.losses}
		return true
	}
	old.comm, old.execNameUnknown = "", true // the exit looks it up
	d.comms[ev.TGID] = old
	return true
}

// otherProcess reports whether a lookup that read start (in ticks) for
// the pid of exec event ev found another process than the one that
// exec'd (known as old): one with another start time than the one read
// at its fork, or one that started after the exec (a process cannot
// start after its own exec; the start time estimated from a fork event's
// time can be a tick late, so it is not compared exactly).
func (d *decoder) otherProcess(old connProc, start uint64, ev *procEvent) bool {
	if old.startRead && old.start != start {
		return true
	}
	if ev.TimestampNs == 0 {
		return false
	}
	execTicks := uint64((int64(ev.TimestampNs) + d.offset) / int64(time.Second/collector.ClockTicks))
	return start > execTicks
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
func (d *decoder) exit(out []lifecycle.KernelEvent, e *lifecycle.KernelEvent, ev *procEvent) ([]lifecycle.KernelEvent, bool) {
	if ev.PID != ev.TGID {
		if d.leaderGone[ev.TGID] && d.processEnded(ev.TGID, ev.PID) {
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
		d.threadEvent(e, lifecycle.ThreadExit, ev)
		return out, true
	}
	if c, ok := d.identity(lookupKey{pid: ev.PID}); ok {
		// The exiting process's name after its last exec (a zombie
		// keeps its comm), unless the lookup found a later process.
		if k, known := d.comms[ev.PID]; !known || k.comm == "" && !d.otherProcess(k, c.StartTicks, ev) {
			d.comms[ev.PID] = connProc{comm: c.Comm, start: c.StartTicks, ppid: k.ppid, startRead: true}
		}
		if c.NumThreads > 1 {
			d.setLeaderGone(ev.PID, true)
			return out, false
		}
	}
	d.exitEvent(e, ev)
	return out, true
}

// threadEvent completes e as a thread_start or thread_exit (typ) of
// thread ev.PID in process ev.TGID.
func (d *decoder) threadEvent(e *lifecycle.KernelEvent, typ lifecycle.EventType, ev *procEvent) {
	c := d.lookup(ev.TGID)
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
	if c.comm == "" && c.execNameUnknown {
		e.Note = lifecycle.NoteExitNameUnknown
	}
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
	delete(d.threaded, ev.TGID)
}

// processEnded reports whether process tgid, whose main thread exited
// earlier, has no thread left running once thread tid (now exiting) is
// gone: the process is gone, or its leader is Z with no other thread. The
// exiting thread is still counted until the kernel releases it, so it is
// discounted while it is listed (checked before the lookup, so a release
// in between only lowers the count).
func (d *decoder) processEnded(tgid, tid int) bool {
	t, asked := d.got[lookupKey{pid: tgid, tid: tid}]
	c, asked2 := d.got[lookupKey{pid: tgid, ended: true}]
	if !asked || !asked2 {
		return false // not looked up (in a hurry): the scans tell
	}
	exiting := t.Err == nil
	if c.Err != nil {
		return collector.IsVanished(c.Err)
	}
	others := c.NumThreads - 1 // the leader stays counted until reaped
	if exiting {
		others--
	}
	return c.State == 'Z' && others <= 0
}

// identity is the batch's answer for k, ok false when it was not asked
// (in a hurry) or could not be read.
func (d *decoder) identity(k lookupKey) (collector.Identity, bool) {
	r, ok := d.got[k]
	return r.Identity, ok && r.Err == nil
}

// lookup returns what is known of process pid: what the decoder saw, or
// else the batch's answer (remembered).
func (d *decoder) lookup(pid int) connProc {
	c, ok := d.comms[pid]
	if ok && c.comm != "" {
		return c
	}
	if id, ok := d.identity(lookupKey{pid: pid}); ok {
		c.comm, c.start = id.Comm, id.StartTicks
		d.comms[pid] = c
	}
	return c
}

// lookUp plans the lookups the batch in may need, from what the decoder
// knows at its start, and asks for them in one call: a new process and
// its parent (if not known), an exec'd process with its exe, an exiting
// leader (unless singleThreaded: under churn, half the lookups), and for a thread exit of a process whose main thread exited
// (or exits in this batch) the thread and then the process.
func (d *decoder) lookUp(in []procEvent) {
	d.qs, d.keys = d.qs[:0], d.keys[:0]
	seen := make(map[lookupKey]bool, 2*len(in))
	ask := func(k lookupKey) {
		if !seen[k] {
			seen[k] = true
			d.keys = append(d.keys, k)
			d.qs = append(d.qs, collector.IdentityQuery{PID: k.pid, TID: k.tid, Exe: k.exe})
		}
	}
	unknown := func(pid int) bool { c, ok := d.comms[pid]; return !ok || c.comm == "" }
	leaders := map[int]bool{}
	made := map[int]bool{}
	for i := range in {
		ev := &in[i]
		switch {
		case ev.What == procEventFork && ev.PID == ev.TGID:
			ask(lookupKey{pid: ev.PID})
			if unknown(ev.ParentTGID) {
				ask(lookupKey{pid: ev.ParentTGID})
			}
		case ev.What == procEventExec && ev.PID == ev.TGID:
			ask(lookupKey{pid: ev.TGID, exe: true})
			d.execsLeft[ev.TGID]++
		case ev.What == procEventFork && ev.PID != ev.TGID:
			made[ev.TGID] = true // a thread, made earlier in the batch than an exit
		case ev.What == procEventExit:
			d.askExit(ev, ask, leaders, made)
		}
		if d.threads && ev.PID != ev.TGID && (ev.What == procEventFork || ev.What == procEventExit) && unknown(ev.TGID) {
			ask(lookupKey{pid: ev.TGID})
		}
	}
	if len(d.qs) == 0 {
		return
	}
	d.res = d.ids.Identities(d.qs, d.res[:0])
	for i, k := range d.keys {
		if i < len(d.res) {
			d.got[k] = d.res[i]
		}
	}
}

// askExit plans the lookups of an exit: an exiting leader's (unless
// singleThreaded and no thread of it was made earlier in the batch), and
// for a thread exit of a process whose main thread exited (or exits
// earlier in the batch) the thread and then the process.
func (d *decoder) askExit(ev *procEvent, ask func(lookupKey), leaders, made map[int]bool) {
	switch {
	case ev.PID == ev.TGID:
		if made[ev.PID] || !d.singleThreaded(ev.PID) {
			ask(lookupKey{pid: ev.PID})
		}
		leaders[ev.PID] = true
	case d.leaderGone[ev.TGID] || leaders[ev.TGID]:
		ask(lookupKey{pid: ev.TGID, tid: ev.PID})
		ask(lookupKey{pid: ev.TGID, ended: true})
	}
}

// monotonicNow is CLOCK_MONOTONIC in ns: connector timestamps are on it.
// It is read through Go's own clock (the vDSO), from one clock_gettime
// made at start: x/sys/unix's ClockGettime is a system call the scheduler
// is told of, and the converter read the clock twice for every batch of
// events, each time waking the runtime's monitor thread (sysmon) from its
// deep sleep. Go's monotonic clock is CLOCK_MONOTONIC, so the two stay
// apart by the microseconds between the two first reads.
func monotonicNow() int64 {
	return monoBase.ns + int64(time.Since(monoBase.at))
}

// monoBase pairs a reading of CLOCK_MONOTONIC with Go's clock at the same
// moment (monotonicNow).
var monoBase = func() (b struct {
	at time.Time
	ns int64
}) {
	var mono unix.Timespec
	b.at = time.Now()
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	b.ns = mono.Nano()
	return b
}()

// bootOffset is CLOCK_BOOTTIME minus CLOCK_MONOTONIC in ns (time spent
// suspended): connector timestamps are monotonic, start ticks boottime.
func bootOffset() int64 {
	var b, m unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &b) != nil || unix.ClockGettime(unix.CLOCK_MONOTONIC, &m) != nil {
		return 0
	}
	return b.Nano() - m.Nano()
}
