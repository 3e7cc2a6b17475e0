package monitor

import (
	"slices"
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
	// execAhead holds the processes that exec'd again after the batch
	// being converted, soon enough after its lookups that those may have
	// read the later program (batch.settledNs): their last exec of the
	// batch, and a spawn named by its lookup, may not be named by it.
	execAhead map[int]bool
	// aheadForked is execsAhead's scratch map.
	aheadForked map[int]bool
	// losses is the connector's count of event losses when the batch
	// being converted was read (connSource.losses).
	losses uint64
	// hurry and exitsIn are those of the batch being converted.
	hurry   bool
	exitsIn map[int]int
	// unnamedBehind counts the execs left unnamed because they were not
	// looked up in a hurry (NoteExecNameBehindExited, NoteExecNameBehind).
	unnamedBehind uint64

	// ended are the last processes whose exit was converted (pids),
	// endedAt the next slot: a thread end of one of them that comes
	// later puts the exit after it (exit), and an exec of one of them
	// takes the exit back (unexit). endedProc holds what the decoder
	// knew of each when it was forgotten, and endedUndo whether its exit
	// may be undone: status 0 (a main thread ended by another thread's
	// exec exits with 0), and the count of losses then (a loss since may
	// have hidden a fork of the pid); a fork of the pid clears its slot
	// (a later process has it).
	ended     [16]int
	endedProc [16]connProc
	endedUndo [16]endedUndo
	endedAt   int
	// emitting, emitAt and emitLater are the batch being converted, the
	// index of the event being converted and the batches received after
	// it; forksAfter is, once an exit needs it (reusedAfter), the last
	// index of a fork of each pid in that batch (len of its events for
	// a fork in a later batch stamped before its exits' lookups ended).
	emitting   *batch
	emitAt     int
	emitLater  []*batch
	forksAfter map[int]int
	// pendingExit, when set, takes a process's exit out of what the
	// source's next take returns (connSource.pendingExit).
	pendingExit func(pid int) (lifecycle.KernelEvent, bool)

	// The lookups being planned and asked in one call.
	qs   []collector.IdentityQuery
	keys []lookupKey
	res  []collector.IdentityResult
	// got is the answers of the batch being converted (its batch.got).
	got lookups
	// spare holds answer maps and exec counts of converted batches, for
	// the next batches to reuse.
	spare []*batch
}

// batch is the events of the receives converted together, with the
// answers to their lookups. The lookups are asked as soon as the batch is
// received (prepare); its events are turned into lifecycle inputs (emit)
// once every exec event that may have changed what they read has been
// received too: the kernel renames a process before it sends the exec
// event, so a lookup made between the two reads the later program.
type batch struct {
	evs    []procEvent
	now    time.Time // when the receives were taken from the queue
	monoNs int64     // the same moment on the monotonic clock
	hurry  bool
	losses uint64 // connSource.losses when the batch was taken
	got    lookups
	// execs counts each process's exec events in the batch.
	execs map[int]int
	// lookedUpNs is when the lookups that name processes (spawns, execs)
	// ended, on the monotonic clock; 0 when the batch made none.
	lookedUpNs int64
	// exitsLookedUpNs is when the lookups of exiting processes ended (0:
	// none made): a fork of such a pid stamped before it may have been
	// read in the exited process's place (reusedAfter).
	exitsLookedUpNs int64
	// receives is how many of the receiver's receives the batch holds.
	receives uint64
	// lossMarks are, in order, the index in evs where each receive's
	// events start and the connector's count of losses when that receive
	// was queued (connSource.queue), when it differs from the receive
	// before: a loss between two receives joined in one batch is between
	// their events (emit). nil: losses for every event.
	lossMarks []lossMark
	// exitsIn holds, for a batch converted in a hurry, each process whose
	// exit is in it (at that index).
	exitsIn map[int]int
}

// lossMark is where, in a batch's events, the count of losses changes:
// from evs[at] on it is losses.
type lossMark struct {
	at     int
	losses uint64
}

// execSettle is how long after a batch's lookups an exec event may still
// arrive for a program those lookups read. The kernel renames a process
// and replaces its executable early in execve and sends the exec event
// when the new program is loaded, in the same system call: microseconds
// apart, longer only when the load waits for the disk or the CPU. A batch
// is emitted once everything the kernel sent until then was received;
// an exec timed within it of the lookups unnames the batch's last exec
// of that process (NoteExecNameExecAgain), and one timed after it is
// taken to have renamed the process after the lookups.
const execSettle = 10 * time.Millisecond

// settledNs is the monotonic time up to which every event must have been
// received before b is emitted (0: b need not wait).
func (b *batch) settledNs() int64 {
	if b.lookedUpNs == 0 {
		return b.exitsLookedUpNs
	}
	return max(b.lookedUpNs+int64(execSettle), b.exitsLookedUpNs)
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
	// spawnNameUnknown says the process was forked with its parent's
	// name, which is unknown (NoteSpawnParentNameUnknown), and it was not
	// read since (comm is then ""): a lookup now may read a later
	// program's.
	spawnNameUnknown bool
	// forked is set when the decoder saw the process forked, with no
	// event lost since (losses then): it had one thread then, and every
	// thread it made since is a fork event.
	forked bool
	losses uint64
}

func (c connProc) id(pid int) collector.ID { return collector.ID{PID: pid, StartTicks: c.start} }

// nameUnknown reports whether the process's name is known to be unknown
// (not merely unread): after an exec, or at fork from such a parent.
func (c connProc) nameUnknown() bool {
	return c.comm == "" && (c.execNameUnknown || c.spawnNameUnknown)
}

func newDecoder(ids identities, threads bool) *decoder {
	return &decoder{ids: ids, threads: threads, offset: bootOffset(),
		comms: make(map[int]connProc), leaderGone: make(map[int]bool), threaded: make(map[int]bool)}
}

// emptyBatch is a batch with no events, from the spare ones if any (its
// event array kept, emptied, for the caller to fill).
func (d *decoder) emptyBatch() *batch {
	var b *batch
	if n := len(d.spare); n > 0 {
		b = d.spare[n-1]
		d.spare = d.spare[:n-1]
		clear(b.got)
		clear(b.execs)
	} else {
		b = &batch{got: make(lookups), execs: make(map[int]int)}
	}
	b.evs, b.lookedUpNs, b.exitsLookedUpNs, b.receives, b.exitsIn = b.evs[:0], 0, 0, 0, nil
	b.lossMarks = b.lossMarks[:0]
	return b
}

// setTaken records when b's receives were taken from the queue (now and
// monoNs, one moment on the wall and monotonic clocks), whether in a
// hurry, and the connector's count of losses then.
func (b *batch) setTaken(now time.Time, monoNs int64, hurry bool, losses uint64) {
	b.now, b.monoNs, b.hurry, b.losses = now, monoNs, hurry, losses
}

// recycle keeps b's maps and event array for a later batch (at most a
// few; an array grown past a burst's worth is let go).
func (d *decoder) recycle(b *batch) {
	if len(d.spare) >= 4 {
		return
	}
	if cap(b.evs) > maxDrain {
		b.evs = nil
	} else {
		clear(b.evs) // no comm kept alive
		b.evs = b.evs[:0]
	}
	d.spare = append(d.spare, b)
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

// prepare asks b's lookups, knowing that the batches held were received
// before it and are not emitted yet.
func (d *decoder) prepare(b *batch, held []*batch) {
	d.losses = b.losses
	if b.hurry {
		d.lookUpHurried(b)
		return
	}
	d.lookUp(b, held)
}

// maxHurriedExecLookups is the most exec lookups a batch converted in a
// hurry asks for.
const maxHurriedExecLookups = 32

// lookUpHurried is lookUp for a batch converted while pinspect is behind
// the kernel's events: only the execs worth a read are looked up, each
// process's last exec in the batch when its exit is not in the batch too
// (a process still running when the backlog was read; one that exited
// can no longer be named by a lookup as cheaply), at most
// maxHurriedExecLookups of them; and every clean exit of the main thread
// of a process that made threads, which may be a thread's exec (exit):
// a bound that follows the batch (one lookup for each such exit, a read
// of stat or a slot of the identity program's run, none reading the exe
// link), not a fixed one, which turned each such exit past it into a
// false exit when its exec came after the batch was taken. Every other
// event is named from what the decoder knows, or by the next scan.
func (d *decoder) lookUpHurried(b *batch) {
	d.qs, d.keys = d.qs[:0], d.keys[:0]
	in := b.evs
	exitAt := make(map[int]int)
	b.exitsIn = exitAt
	var made map[int]bool // threads made in the batch, by process
	for i := range in {
		ev := &in[i]
		switch {
		case ev.PID != ev.TGID:
			if ev.What == procEventFork {
				if made == nil {
					made = make(map[int]bool)
				}
				made[ev.TGID] = true
			}
		case ev.What == procEventExec:
			b.execs[ev.TGID]++
		case ev.What == procEventExit:
			exitAt[ev.TGID] = i
		}
	}
	left := make(map[int]int, len(b.execs))
	for i := range in {
		ev := &in[i]
		if ev.What != procEventExec || ev.PID != ev.TGID {
			continue
		}
		left[ev.TGID]++
		if at, exits := exitAt[ev.TGID]; left[ev.TGID] == b.execs[ev.TGID] && (!exits || at < i) && len(d.qs) < maxHurriedExecLookups {
			d.keys = append(d.keys, lookupKey{pid: ev.TGID, exe: true})
			d.qs = append(d.qs, collector.IdentityQuery{PID: ev.TGID, Exe: true})
		}
	}
	// The main thread's clean exit of a process that made threads may be
	// another thread's execve (exit): its lookup tells, for each of them.
	execs, asked := len(d.qs), 0
	for pid, i := range exitAt {
		if ev := &in[i]; ev.PID == ev.TGID && ev.ExitCode == 0 && (d.threaded[pid] || made[pid]) {
			d.keys = append(d.keys, lookupKey{pid: pid})
			d.qs = append(d.qs, collector.IdentityQuery{PID: pid})
			asked++
		}
	}
	if d.runLookups(b) {
		now := monotonicNow()
		if execs > 0 {
			b.lookedUpNs = now
		}
		if asked > 0 {
			b.exitsLookedUpNs = now
		}
	}
}

// emit turns b's events into lifecycle inputs, appended to out. later
// are the batches received after b: an exec in them may have renamed a
// process before b's lookups read it (execAhead).
func (d *decoder) emit(out []lifecycle.KernelEvent, b *batch, later []*batch) []lifecycle.KernelEvent {
	d.got, d.execsLeft, d.losses, d.hurry, d.exitsIn = b.got, b.execs, b.losses, b.hurry, b.exitsIn
	d.execAhead, d.aheadForked = execsAhead(d.execAhead, d.aheadForked, b, later)
	d.emitting, d.emitLater, d.forksAfter = b, later, nil
	in := b.evs
	marks := b.lossMarks
	for i := range in {
		ev := &in[i]
		d.emitAt = i
		// The losses counted when this event's receive was queued: an
		// exit and an exec of two receives with a loss between them
		// differ (unexit), though the batch joins them.
		for len(marks) > 0 && marks[0].at <= i {
			d.losses = marks[0].losses
			marks = marks[1:]
		}
		at := b.now.Add(-time.Duration(b.monoNs - int64(ev.TimestampNs)))
		if int64(ev.TimestampNs) > b.monoNs || ev.TimestampNs == 0 {
			at = b.now
		}
		e := lifecycle.KernelEvent{Event: lifecycle.Event{Time: at, Source: lifecycle.SourceConnector}}
		var ok bool
		switch ev.What {
		case procEventFork:
			ok = d.fork(&e, ev)
		case procEventExec:
			if ev.PID == ev.TGID {
				out = d.unexit(out, ev.TGID)
			}
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
	d.got, d.execsLeft, d.exitsIn = nil, nil, nil
	d.emitting, d.emitLater, d.forksAfter = nil, nil, nil
	d.losses = b.losses
	return out
}

// reusedAfter reports whether pid was given to a new process after the
// exit being converted and before the batch's lookups of exiting
// processes ended: a fork of pid later in the batch, or in a batch
// received after it stamped before those lookups ended (or not stamped).
// Such a lookup may have read the new process. The fork comes after the
// exit on the socket: the kernel sends the exit before it frees the pid.
func (d *decoder) reusedAfter(pid int) bool {
	b := d.emitting
	if b == nil {
		return false
	}
	if d.forksAfter == nil {
		d.forksAfter = make(map[int]int)
		for i := range b.evs {
			if ev := &b.evs[i]; ev.What == procEventFork && ev.PID == ev.TGID {
				d.forksAfter[ev.PID] = i
			}
		}
		upTo := b.exitsLookedUpNs + int64(stampSkew)
	later:
		for _, c := range d.emitLater {
			for i := range c.evs {
				ev := &c.evs[i]
				if ev.TimestampNs != 0 && int64(ev.TimestampNs) > upTo {
					break later
				}
				if ev.What == procEventFork && ev.PID == ev.TGID {
					d.forksAfter[ev.PID] = len(b.evs)
				}
			}
		}
	}
	at, ok := d.forksAfter[pid]
	return ok && at > d.emitAt
}

// execsAhead fills ahead (reused, nil at first) with the processes that
// exec'd in the batches later than b at or before b.settledNs: such an
// exec may have renamed the process before b's lookups read it. A fork
// of a pid in between starts another process, whose execs do not count.
// It stops at the first event stamped later than that by more than
// stampSkew: none after it on the socket is stamped before.
func execsAhead(ahead, forked map[int]bool, b *batch, later []*batch) (map[int]bool, map[int]bool) {
	clear(ahead)
	settled := b.settledNs()
	if settled == 0 || len(later) == 0 {
		return ahead, forked
	}
	clear(forked)
	for _, c := range later {
		for i := range c.evs {
			ev := &c.evs[i]
			if int64(ev.TimestampNs) > settled+int64(stampSkew) {
				return ahead, forked
			}
			if ev.PID != ev.TGID {
				continue
			}
			switch {
			case ev.What == procEventFork:
				if forked == nil {
					forked = make(map[int]bool)
				}
				forked[ev.PID] = true
			case ev.What == procEventExec && !forked[ev.PID] && int64(ev.TimestampNs) <= settled:
				if ahead == nil {
					ahead = make(map[int]bool)
				}
				ahead[ev.PID] = true
			}
		}
	}
	return ahead, forked
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
		c.Comm = d.parentComm(e, ev.ParentTGID)
	} else if d.execsLeft[ev.PID] > 0 || d.execAhead[ev.PID] {
		// It exec'd later in the batch, or soon after it, and the lookup
		// may have read its new program's name (its start time stays);
		// at fork it was its parent's.
		c.Comm = d.parentComm(e, ev.ParentTGID)
	}
	e.ID = collector.ID{PID: ev.PID, StartTicks: c.StartTicks}
	e.Comm = c.Comm
	e.StartRead = ok
	if j := d.endedSlot(ev.PID); j >= 0 {
		d.ended[j] = 0 // the pid is this process's now
	}
	d.comms[ev.PID] = connProc{comm: c.Comm, start: c.StartTicks, ppid: ev.ParentTGID, startRead: ok, forked: true, losses: d.losses,
		spawnNameUnknown: e.Note == lifecycle.NoteSpawnParentNameUnknown}
	delete(d.threaded, ev.PID)
	return true
}

// parentComm is the name of process ppid when it forked the child of
// spawn e: what the decoder knows of it, else its lookup. When that is
// not known (its name after its exec could not be read, its own name at
// fork was unknown, or it exec'd since the fork and its lookup may show
// the later program), it is "" and e's note says so.
func (d *decoder) parentComm(e *lifecycle.KernelEvent, ppid int) string {
	c := d.comms[ppid]
	switch {
	case c.comm != "":
		return c.comm
	case c.nameUnknown(), d.execsLeft[ppid] > 0 || d.execAhead[ppid]:
		e.Note = lifecycle.NoteSpawnParentNameUnknown
		return ""
	}
	return d.lookup(ppid).comm // "" when not read: a scan may name it
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
	later := d.execsLeft[ev.TGID] > 1 || d.execAhead[ev.TGID]
	d.execsLeft[ev.TGID]--
	// An exec leaves one thread, the process's main one (another
	// thread's exec makes that thread the leader).
	d.setLeaderGone(ev.TGID, false)
	r, asked := d.got[lookupKey{pid: ev.TGID, exe: true}]
	c, ok := r.Identity, asked && r.Err == nil
	switch {
	case !ok && asked && collector.IsVanished(r.Err):
		e.Note = lifecycle.NoteExecNameGone
	case !asked && later:
		e.Note = lifecycle.NoteExecNameExecAgain
	case !asked && d.hurry && d.exitsBatch(ev.TGID):
		e.Note = lifecycle.NoteExecNameBehindExited
		d.unnamedBehind++
	case !asked && d.hurry:
		e.Note = lifecycle.NoteExecNameBehind
		d.unnamedBehind++
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
	old.comm, old.execNameUnknown, old.spawnNameUnknown = "", true, false // the exit looks it up
	d.comms[ev.TGID] = old
	return true
}

// exitsBatch reports whether process pid's exit is in the batch being
// converted (known of a batch converted in a hurry).
func (d *decoder) exitsBatch(pid int) bool {
	_, ok := d.exitsIn[pid]
	return ok
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
// thread's exit says when it does: that thread's end is the process's
// exit alone, as for the tracepoints (one end, one event).
func (d *decoder) exit(out []lifecycle.KernelEvent, e *lifecycle.KernelEvent, ev *procEvent) ([]lifecycle.KernelEvent, bool) {
	if ev.PID != ev.TGID {
		if d.leaderGone[ev.TGID] && d.processEnded(ev.TGID, ev.PID) {
			// The last thread of a process whose main thread exited
			// earlier: now the process has exited.
			d.setLeaderGone(ev.TGID, false)
			var ppid int
			if c, ok := d.identity(lookupKey{pid: ev.TGID, ended: true}); ok {
				ppid = c.PPID // the zombie leader's parent: its adopter, if any
			}
			d.exitEvent(e, ev, ppid)
			return out, true
		}
		if !d.threads {
			return out, false
		}
		d.threadEvent(e, lifecycle.ThreadExit, ev)
		if slices.Contains(d.ended[:], ev.TGID) {
			// The kernel told of this thread's end after the
			// process's (its leader was converted as the last):
			// the exit comes after it.
			var x lifecycle.KernelEvent
			var ok bool
			if out, x, ok = takeExit(out, ev.TGID); !ok && d.pendingExit != nil {
				x, ok = d.pendingExit(ev.TGID)
			}
			if ok {
				return exitAfter(out, *e, x), false
			}
		}
		return out, true
	}
	var ppid int
	if c, ok := d.identity(lookupKey{pid: ev.PID}); ok && !d.otherProcess(d.comms[ev.PID], c.StartTicks, ev) && !d.reusedAfter(ev.PID) {
		// The exiting process's name after its last exec (a zombie
		// keeps its comm). A lookup that may have found a later
		// process (one that started after the exit, or with another
		// start than the one read at fork, or forked at the pid after
		// the exit before the lookup) tells nothing of it: neither its
		// name and start nor its threads. Nor its name when it exec'd
		// after the exit (the exit was its main thread's: unexit): the
		// lookup may have read the later program's.
		if k, known := d.comms[ev.PID]; (!known || k.comm == "") && d.execsLeft[ev.PID] == 0 && !d.execAhead[ev.PID] {
			d.comms[ev.PID] = connProc{comm: c.Comm, start: c.StartTicks, ppid: k.ppid, startRead: true}
		}
		if c.NumThreads > 1 {
			d.setLeaderGone(ev.PID, true)
			return out, false
		}
		if ev.ExitCode == 0 && c.State != 'Z' && c.State != 'X' && c.State != 0 {
			// Alive, with the start of the process that exited, after
			// its exit: another thread's execve ended the main thread
			// and took its pid (and its start) in the new program. A
			// process's own end leaves a zombie or nothing. Its exec
			// event is on its way (under load 40-50 ms later, after the
			// exit was taken into a frame: unexit came too late); the
			// process goes on.
			return out, false
		}
		ppid = c.PPID
	}
	d.exitEvent(e, ev, ppid)
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
// code, and forgets the process. read is the parent a lookup of the
// exiting process read (0: none was made, or it found the process gone).
func (d *decoder) exitEvent(e *lifecycle.KernelEvent, ev *procEvent, read int) {
	c := d.comms[ev.TGID]
	e.Type = lifecycle.Exit
	e.ID = c.id(ev.TGID)
	e.Comm = c.comm
	switch {
	case c.comm == "" && c.execNameUnknown:
		e.Note = lifecycle.NoteExitNameUnknown
	case c.comm == "" && c.spawnNameUnknown:
		e.Note = lifecycle.NoteSpawnParentNameUnknown
	}
	e.PPID = ev.ParentTGID
	if e.PPID == 0 {
		// The kernel builds the exit event after the parent is told,
		// and leaves the parent out when the task was already released
		// (a thread's exit always: threads are reaped at once; a child
		// its parent reaped first). The lookup at exit read the
		// process's parent then: the one that adopted it, if its parent
		// at fork exited since. Without one, the fork's parent is only
		// a fallback: a scan that saw the process since shows its
		// adopter (the tracker prefers it: ForkPPID).
		e.PPID = read
		if e.PPID == 0 {
			e.ForkPPID = c.ppid
		}
	}
	es := collector.DecodeWaitStatus(int64(ev.ExitCode))
	e.ExitStatus = &es
	delete(d.comms, ev.TGID)
	delete(d.threaded, ev.TGID)
	d.ended[d.endedAt%len(d.ended)] = ev.TGID
	d.endedProc[d.endedAt%len(d.ended)] = c
	d.endedUndo[d.endedAt%len(d.ended)] = endedUndo{clean: ev.ExitCode == 0, losses: d.losses}
	d.endedAt++
}

// endedUndo is what unexit checks of an exit before it takes it back.
type endedUndo struct {
	clean  bool // wait status 0
	losses uint64
}

// endedSlot is the slot of d.ended holding pid's latest exit, -1 when
// none does.
func (d *decoder) endedSlot(pid int) int {
	for i := range len(d.ended) {
		j := (d.endedAt - 1 - i + 2*len(d.ended)) % len(d.ended)
		if d.ended[j] == pid {
			return j
		}
	}
	return -1
}

// unexit takes back the exit converted for process pid, whose exec event
// follows with no fork of the pid in between: a process cannot exec
// after its end, so that exit was its main thread's alone. When a thread
// other than the main one calls execve, the kernel ends every other
// thread, the main one with them (an exit event with pid == tgid, code
// 0), and gives the exec'ing thread the process's pid: the process goes
// on, with the same start time, in its new program. The exit is removed
// from out, or from what the source's next take returns (once taken it
// stays: the exec then follows it), and the process is known again as
// it was before it. Only an exit with status 0 (as the kernel ends such
// a main thread) and no event lost since (a fork of the pid may be among
// them) is taken back.
func (d *decoder) unexit(out []lifecycle.KernelEvent, pid int) []lifecycle.KernelEvent {
	j := d.endedSlot(pid)
	if j < 0 {
		return out
	}
	if u := d.endedUndo[j]; !u.clean || u.losses != d.losses {
		// Not a main thread's end (killed or failed), or events were
		// lost since, among them maybe a fork of the pid: a real end.
		d.ended[j] = 0
		return out
	}
	var ok bool
	if out, _, ok = takeExit(out, pid); !ok && d.pendingExit != nil {
		_, _ = d.pendingExit(pid)
	}
	if _, known := d.comms[pid]; !known {
		d.comms[pid] = d.endedProc[j]
	}
	d.ended[j], d.endedProc[j] = 0, connProc{}
	return out
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
// else the batch's answer (remembered). A process whose name after its
// exec could not be read keeps no name: a lookup now may read a later
// program's.
func (d *decoder) lookup(pid int) connProc {
	c, ok := d.comms[pid]
	if ok && (c.comm != "" || c.nameUnknown()) {
		return c
	}
	if id, ok := d.identity(lookupKey{pid: pid}); ok {
		c.comm, c.start = id.Comm, id.StartTicks
		d.comms[pid] = c
	}
	return c
}

// lookUp plans the lookups the batch b may need, from what the decoder
// knows at its start (and what the batches held, received before b and
// not emitted yet, will tell it: heldPlan), and asks for them in one
// call: a new process and its parent (if not known), an exec'd process
// with its exe, an exiting leader (unless singleThreaded: under churn,
// half the lookups), and for a thread exit of a process whose main
// thread exited (or exits in this batch) the thread and then the process.
func (d *decoder) lookUp(b *batch, held []*batch) {
	d.qs, d.keys = d.qs[:0], d.keys[:0]
	in := b.evs
	seen := make(map[lookupKey]bool, 2*len(in))
	ask := func(k lookupKey) {
		if !seen[k] {
			seen[k] = true
			d.keys = append(d.keys, k)
			d.qs = append(d.qs, collector.IdentityQuery{PID: k.pid, TID: k.tid, Exe: k.exe})
		}
	}
	plan := d.heldPlan(held)
	unknown := func(pid int) bool {
		if h, ok := plan[pid]; ok {
			return !h.named
		}
		c, ok := d.comms[pid]
		return !ok || c.comm == ""
	}
	leaders := map[int]bool{}
	made := map[int]bool{}
	naming, exiting := false, false
	for i := range in {
		ev := &in[i]
		switch {
		case ev.What == procEventFork && ev.PID == ev.TGID:
			ask(lookupKey{pid: ev.PID})
			if unknown(ev.ParentTGID) {
				ask(lookupKey{pid: ev.ParentTGID})
			}
			naming = true
		case ev.What == procEventExec && ev.PID == ev.TGID:
			ask(lookupKey{pid: ev.TGID, exe: true})
			b.execs[ev.TGID]++
			naming = true
		case ev.What == procEventFork && ev.PID != ev.TGID:
			made[ev.TGID] = true // a thread, made earlier in the batch than an exit
		case ev.What == procEventExit:
			exiting = d.askExit(ev, ask, plan, leaders, made) || exiting
		}
		if d.threads && ev.PID != ev.TGID && (ev.What == procEventFork || ev.What == procEventExit) && unknown(ev.TGID) {
			ask(lookupKey{pid: ev.TGID})
		}
	}
	if !d.runLookups(b) {
		return
	}
	now := monotonicNow()
	if naming {
		b.lookedUpNs = now
	}
	if exiting {
		b.exitsLookedUpNs = now
	}
}

// heldState is what the batches held (received, not emitted yet) will
// tell the decoder of a process when they are emitted, as far as the
// lookups of a later batch depend on it.
type heldState struct {
	// named: forked in a held batch (its spawn names it) or exec'd there
	// and read (its last exec of the batch was looked up), and not
	// exited since.
	named bool
	// single: forked in a held batch, no event lost since (losses), no
	// thread made and no exit since: with named, its exit needs no
	// lookup (an exec leaves one thread).
	single bool
	losses uint64
	// leaderExit: its main thread's exit is in a held batch.
	leaderExit bool
}

// heldPlan is heldState for each process with events in the batches
// held; nil when none is held.
func (d *decoder) heldPlan(held []*batch) map[int]heldState {
	if len(held) == 0 {
		return nil
	}
	plan := make(map[int]heldState)
	for _, h := range held {
		for i := range h.evs {
			ev := &h.evs[i]
			switch {
			case ev.What == procEventFork && ev.PID == ev.TGID:
				plan[ev.PID] = heldState{named: true, single: true, losses: h.losses}
			case ev.What == procEventFork:
				st, ok := plan[ev.TGID]
				if !ok {
					st.named = !d.unnamed(ev.TGID)
				}
				st.single = false
				plan[ev.TGID] = st
			case ev.What == procEventExec && ev.PID == ev.TGID:
				st, ok := plan[ev.TGID]
				if !ok {
					st.single = d.singleThreaded(ev.TGID)
					st.losses = d.losses
				}
				r, asked := h.got[lookupKey{pid: ev.TGID, exe: true}]
				st.named = asked && r.Err == nil
				plan[ev.TGID] = st
			case ev.What == procEventExit && ev.PID == ev.TGID:
				st := plan[ev.PID]
				st.named, st.single, st.leaderExit = false, false, true
				plan[ev.PID] = st
			}
		}
	}
	return plan
}

// unnamed reports whether the decoder has no name for process pid.
func (d *decoder) unnamed(pid int) bool {
	c, ok := d.comms[pid]
	return !ok || c.comm == ""
}

// askExit plans the lookups of an exit: an exiting leader's (unless
// singleThreaded and no thread of it was made earlier in the batch), and
// for a thread exit of a process whose main thread exited (or exits
// earlier in the batch) the thread and then the process. It reports
// whether it asked an exiting leader's lookup.
func (d *decoder) askExit(ev *procEvent, ask func(lookupKey), plan map[int]heldState, leaders, made map[int]bool) (asked bool) {
	h, inHeld := plan[ev.TGID]
	switch {
	case ev.PID == ev.TGID:
		single := d.singleThreaded(ev.PID)
		if inHeld {
			single = h.single && h.named && h.losses == d.losses
		}
		if made[ev.PID] || !single {
			ask(lookupKey{pid: ev.PID})
			asked = true
		}
		leaders[ev.PID] = true
	case d.leaderGone[ev.TGID] || leaders[ev.TGID] || h.leaderExit:
		ask(lookupKey{pid: ev.TGID, tid: ev.PID})
		ask(lookupKey{pid: ev.TGID, ended: true})
	}
	return asked
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

// clockPair is one moment on the wall clock and on CLOCK_MONOTONIC in ns,
// both of one reading of Go's clock: two reads, with a preemption between
// them, would date every event stamped against the pair by the delay.
func clockPair() (time.Time, int64) {
	now := time.Now()
	return now, monoBase.ns + int64(now.Sub(monoBase.at))
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

// runLookups runs the identity lookups queued in d.keys and d.qs and
// files each answer in b.got under its key; false when none was queued.
func (d *decoder) runLookups(b *batch) bool {
	if len(d.qs) == 0 {
		return false
	}
	d.res = d.ids.Identities(d.qs, d.res[:0])
	for i, k := range d.keys {
		if i < len(d.res) {
			b.got[k] = d.res[i]
		}
	}
	return true
}
