package lifecycle

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// DedupWindow is how many steps after the step in which one source (the
// poll or a kernel source) reported a spawn, exec, exit or thread event
// the other source's report of the same event is dropped. A kernel event
// may be converted a step late (pinspect was behind) and the poll sees a
// change one or two scans after the kernel did. It is also how long a
// kernel fork's parent is remembered to notice an adoption.
const DedupWindow = 2

// exitMemory is how long a kernel exit's time is kept to date a zombie's
// first sighting.
const exitMemory = time.Minute

// KernelEvent is one event a kernel source (the proc connector, later a
// BPF tracepoint) reported, already in the lifecycle vocabulary: a Spawn,
// Exec, Exit, ThreadStart or ThreadExit whose identity the source looked
// up while the process was still there.
type KernelEvent struct {
	Event
	// StartRead is true for a Spawn whose ID.StartTicks was read from
	// the child; false when it was estimated from the event's time (the
	// child was gone, or the source was in a hurry).
	StartRead bool
	// ForkPPID is, for an Exit whose source could not tell its parent at
	// the end (PPID 0), the parent the source saw fork it (0: none). The
	// Tracker gives such an exit the parent the latest scan showing the
	// process saw, the one that adopted it if its parent exited since,
	// and ForkPPID only when no scan showed it.
	ForkPPID int
}

// Kernel is what kernel sources delivered since the previous step.
type Kernel struct {
	// Events in the order they were received.
	Events []KernelEvent
	// Dropped counts events dropped because more than the bound waited
	// between two steps (for example while paused).
	Dropped int
	// LostNote says why events may be missing (the kernel dropped them,
	// the socket was resubscribed), "" when none were lost.
	LostNote string
	// LostAt is when the loss was detected (zero: unknown; the Lost
	// event then has the scan's time).
	LostAt time.Time
	// Source names the kernel source (an Event's Source) for the Lost
	// event; "" is the connector.
	Source string
	// Live says a kernel source is live, Polled that none is (it
	// stopped, or never started): the poll's exits are held for its
	// exits while one is. Neither (a caller that does not say) has the
	// Tracker infer it: live once a source delivered anything.
	Live, Polled bool
	// Flush asks for every event in this step: no poll exit is held
	// back for a kernel exit to come (a Sync's frame, after which a
	// command may stop), and those held are released.
	Flush bool
}

// Step is what the Tracker made of one scan.
type Step struct {
	// Events are the lifecycle events since the previous step, ordered by
	// time: the poll's (Diff) merged with the kernel's, each reported
	// once, plus the reparents only fork parents reveal and a Lost event
	// when kernel events were lost.
	Events []Event
	// Orphans are cur's orphans and daemons, with the reparents observed.
	Orphans []Orphan
	// ZombieSince is when each zombie of cur was first seen (a kernel
	// exit's time when one was seen for it). It is the step's own copy.
	ZombieSince map[collector.ID]time.Time
	// ZombieExited holds the zombies of ZombieSince whose time is their
	// kernel exit's: when they became zombies, not only when they were
	// first seen (ZombieOptions.Exited). The step's own copy.
	ZombieExited map[collector.ID]bool
	// WatchedSince is the first observed scan's time: a zombie first
	// seen after it was born while watched (ZombieOptions.WatchStart).
	WatchedSince time.Time
	// ZombieGap holds, for each zombie of ZombieSince first seen by a
	// scan after the first (not ZombieExited), the time from the scan
	// before that one to it: it became a zombie within that time before
	// it was first seen (ZombieOptions.SeenGaps). The step's own copy.
	ZombieGap map[collector.ID]time.Duration
}

// Tracker holds what lifecycle knows across scans: when each zombie was
// first seen, the reparents observed, recent kernel exits, the events
// reported by one source (to drop the other's repetition) and the parents
// that kernel forks named. It is pure: no I/O, no clock, no goroutines;
// its state is a function of the inputs given to Observe, so replaying
// recorded snapshots and kernel events rebuilds it. One goroutine owns a
// Tracker (the monitor's loop).
type Tracker struct {
	step       uint64
	first      time.Time // the first scan's time
	maxForks   int
	zombieSeen map[collector.ID]time.Time
	zombieExit map[collector.ID]bool // zombieSeen's times that are kernel exits
	zombieGap  map[collector.ID]time.Duration
	reparents  map[collector.ID]Event
	exitAt     map[int]time.Time
	// exitParent is, for each pid of exitAt, the parent its kernel exit
	// named (0: none; the exit then took one from the scans, and
	// guessedParent says so): a zombie adopted after its exit was not
	// adopted before it (reparentsBeforeExits).
	exitParent    map[int]int
	guessedParent map[int]bool
	recent        map[eventKey]uint64 // kernel reports, by step
	polled        map[eventKey]uint64 // spawns and execs the poll reported first
	// named is, for each process whose kernel exec is in recent, the
	// name the exec gave it, or the name of the poll's last rename after
	// it: a poll rename from that name is a new event (renamedAfterExec).
	named map[int]string
	// polledExits are the exits the poll reported first: the step, and
	// the process's start ticks.
	polledExits map[int]polledExit
	// heldExits are the poll's exits without a status held for one
	// step while a kernel source is live (kernelLive), by pid: a kernel
	// exit of the process in the next step replaces one.
	heldExits map[int]heldExit
	// kernelLive: a kernel source has delivered something (an event or
	// a loss), so every exit also comes from it.
	kernelLive bool
	forkParent map[int]forkInfo
	// lateExecs are the kernel's execs of the last step dated after its
	// scan, by pid: the scan before this step's (prev) read their
	// processes before them, so what it shows is not the program they
	// ran (fillExecExes, fillExitExes).
	lateExecs map[int]lateExec
}

// lateExec is a kernel exec that came after its step's scan: the
// process's start, and the name and exe it took ("" unknown).
type lateExec struct {
	start     uint64
	comm, exe string
}

// heldExit is a poll's exit held for a step: the event, and its step.
type heldExit struct {
	e    Event
	step uint64
}

// eventKey names an event reported recently, to drop its repetition
// from the other source (pid is the tid for thread events).
type eventKey struct {
	typ EventType
	pid int
}

// polledExit is an exit the poll reported first.
type polledExit struct {
	step, start uint64
	// status is whether the poll's exit carried an exit status.
	status bool
}

// forkInfo is what a kernel fork said about a new process.
type forkInfo struct {
	ppid   int
	start  uint64 // the child's start ticks when read, else 0
	step   uint64
	source string // the kernel source that reported the fork
}

// NewTracker makes an empty Tracker that remembers at most maxForks kernel
// fork parents at once (<= 0: 100,000).
func NewTracker(maxForks int) *Tracker {
	if maxForks <= 0 {
		maxForks = 100000
	}
	return &Tracker{
		maxForks:      maxForks,
		zombieSeen:    make(map[collector.ID]time.Time),
		zombieExit:    make(map[collector.ID]bool),
		zombieGap:     make(map[collector.ID]time.Duration),
		reparents:     make(map[collector.ID]Event),
		exitAt:        make(map[int]time.Time),
		exitParent:    make(map[int]int),
		guessedParent: make(map[int]bool),
		recent:        make(map[eventKey]uint64),
		polled:        make(map[eventKey]uint64),
		named:         make(map[int]string),
		polledExits:   make(map[int]polledExit),
		heldExits:     make(map[int]heldExit),
		forkParent:    make(map[int]forkInfo),
		lateExecs:     make(map[int]lateExec),
	}
}

// Observe takes one scan (cur; prev is the scan before it, nil for the
// first) and the kernel events received since the previous step, and
// returns the step's events and orphans (the rates between the two scans
// are ComputeRates'). Kernel events come first in a tie: the kernel saw
// them as they happened.
func (t *Tracker) Observe(prev, cur *collector.Snapshot, k Kernel) Step {
	t.step++
	if t.step == 1 {
		t.first = cur.TakenAt
	}
	t.expire()
	switch {
	case k.Polled:
		t.kernelLive = false
	case k.Live || len(k.Events) > 0 || k.LostNote != "" || k.Dropped > 0:
		t.kernelLive = true
	}
	evs := t.kernelEvents(k.Events, prev, cur)
	fillFromSnapshots(evs, prev, cur)
	t.fillExecExes(evs, prev, cur)
	poll := Diff(prev, cur)
	t.fillExitExes(evs, evs, prev, cur)
	t.fillExitExes(poll, evs, prev, cur)
	t.noteLateExecs(evs, cur)
	evs = t.releaseHeld(evs)
	evs = t.pollEvents(evs, poll, k.Flush)
	evs = t.forkReparents(evs, cur)
	evs = t.exitReparents(evs, prev, cur)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	evs = t.reparentsBeforeExits(evs, prev, cur)
	note := k.LostNote
	if k.Dropped > 0 {
		note = CountOf(k.Dropped, "kernel process event", "kernel process events") + " dropped while frames were not taken"
	}
	if note != "" {
		at := cur.TakenAt
		if !k.LostAt.IsZero() && k.Dropped == 0 {
			at = k.LostAt // when the loss was detected, not the scan's time
		}
		src := k.Source
		if src == "" {
			src = SourceConnector
		}
		evs = append(evs, Event{Type: Lost, Time: at, Source: src, Note: note})
	}
	t.track(prev, cur, evs)
	since := make(map[collector.ID]time.Time, len(t.zombieSeen))
	for id, at := range t.zombieSeen {
		since[id] = at
	}
	exited := make(map[collector.ID]bool, len(t.zombieExit))
	for id := range t.zombieExit {
		exited[id] = true
	}
	return Step{
		Events:       evs,
		Orphans:      DetectOrphans(cur, t.reparents),
		ZombieSince:  since,
		ZombieExited: exited,
		WatchedSince: t.first,
		ZombieGap:    maps.Clone(t.zombieGap),
	}
}

// within reports whether step s is inside the dedup window of this step.
func (t *Tracker) within(s uint64) bool { return t.step-s <= DedupWindow }

// expire forgets the reports and fork parents older than the window.
func (t *Tracker) expire() {
	for _, r := range []map[eventKey]uint64{t.recent, t.polled} {
		for k, s := range r {
			if !t.within(s) {
				delete(r, k)
			}
		}
	}
	for pid := range t.named {
		if _, ok := t.recent[eventKey{Exec, pid}]; !ok {
			delete(t.named, pid)
		}
	}
	for pid, fi := range t.forkParent {
		if !t.within(fi.step) {
			delete(t.forkParent, pid)
		}
	}
	for pid, x := range t.polledExits {
		if !t.within(x.step) {
			delete(t.polledExits, pid)
		}
	}
}

// kernelEvents keeps the kernel's events that the poll did not report
// first, records what they report (for the poll's dedup, the zombies'
// first sighting and the adoptions), and remembers each fork's parent.
// An exit whose source named no parent at the end takes the parent the
// latest of prev and cur shows it under (lastParent).
func (t *Tracker) kernelEvents(in []KernelEvent, prev, cur *collector.Snapshot) []Event {
	out := make([]Event, 0, len(in))
	for i := range in {
		e := in[i].Event
		key, dedup := dedupKey(&e)
		switch e.Type {
		case Spawn:
			t.rememberFork(&in[i])
		case Exit:
			t.exitAt[e.ID.PID] = e.Time
			t.exitParent[e.ID.PID] = e.PPID // as the source read it (0: none)
			delete(t.guessedParent, e.ID.PID)
			if e.PPID == 0 {
				e.PPID = lastParent(e.ID, prev, cur, in[i].ForkPPID)
				t.guessedParent[e.ID.PID] = true
			}
		}
		// A spawn, exec or exit converted late (pinspect was behind, or
		// held the events a moment to name them): the poll said it
		// already.
		if s, ok := t.polled[key]; ok && t.within(s) && (e.Type == Spawn || e.Type == Exec) {
			continue
		}
		if e.Type == Exit && !t.replacesHeld(&e, in[:i]) && t.polledExit(&e) {
			continue
		}
		if dedup {
			t.recent[key] = t.step
			if e.Type == Exec && e.Comm != "" {
				t.named[e.ID.PID] = e.Comm
			}
		}
		out = append(out, e)
	}
	return out
}

// lastParent is the parent of process id in the latest of cur and prev
// that shows it (a start time estimated from a fork event's time may be
// a tick off; 0 is unknown), else forked (the parent at fork, or 0).
// A scan that saw the process saw it after its fork, so its parent then
// is newer: the one that adopted it, if its parent at fork exited since.
func lastParent(id collector.ID, prev, cur *collector.Snapshot, forked int) int {
	for _, s := range [2]*collector.Snapshot{cur, prev} {
		if p := Find(s, id.PID); p != nil && p.PPID != 0 && known(p, collector.SrcStat) && sameStart(id.StartTicks, p.StartTicks) {
			return p.PPID
		}
	}
	return forked
}

// polledExit reports whether the poll reported kernel exit e first, in
// the window: an exit of its pid, of a process with its start time (one
// estimated from the fork event's time may be a tick off; 0 is
// unknown), so that the exit of a later process given the pid is kept.
// A kernel exit whose status says the process failed (a signal, or a
// non-zero code) while the poll's had none is not a repeat: that end is
// then reported twice, the second time with its signal or code, rather
// than a crash losing its signal (serve counted it unknown, and crash
// queries missed it). A clean exit the poll reported first is dropped.
func (t *Tracker) polledExit(e *Event) bool {
	x, ok := t.polledExits[e.ID.PID]
	if !ok || !t.within(x.step) {
		return false
	}
	if !sameStart(e.ID.StartTicks, x.start) {
		return false
	}
	delete(t.polledExits, e.ID.PID)
	failed := e.ExitStatus != nil && !(e.ExitStatus.Exited && e.ExitStatus.Code == 0)
	return x.status || !failed
}

// sameStart reports whether start times a and b may be one process's: a
// start estimated from a fork event's time may be a tick off; 0 is
// unknown.
func sameStart(a, b uint64) bool {
	return a == 0 || b == 0 || max(a, b)-min(a, b) <= 1
}

// replacesHeld reports whether kernel exit e is that of an exit the poll
// reported in the step before, held (pollEvents): the held one is
// dropped and e, with its status, is the process's one exit. What e
// lacks and the held exit knew from the scans (the name, the start
// time, the parent, the state it left) is taken from the held exit: a
// kernel exit a step late is in neither of its step's snapshots, so
// nothing else can fill it, and the connector's exit of a process it
// never named has none of them. The name is not taken for an exit whose
// note says its name after an exec is unknown, nor the exe when an exec
// of the process is among the kernel's events before it (before, which
// the held exit's scan may have preceded: fillExitExes then names it).
func (t *Tracker) replacesHeld(e *Event, before []KernelEvent) bool {
	h, ok := t.heldExits[e.ID.PID]
	if !ok || !sameStart(e.ID.StartTicks, h.e.ID.StartTicks) {
		return false
	}
	delete(t.heldExits, e.ID.PID)
	delete(t.polledExits, e.ID.PID)
	// Not for a process that exec'd and went before its new name was
	// read: the held exit's name is from a scan that may be before the
	// exec (fillFromSnapshots refuses it too).
	if e.Comm == "" && h.e.Comm != "" && e.Note != NoteExitNameUnknown {
		e.Comm = h.e.Comm
	}
	if e.ID.StartTicks == 0 {
		e.ID.StartTicks = h.e.ID.StartTicks
	}
	if e.PPID == 0 {
		e.PPID = h.e.PPID
	}
	if e.OldState == 0 {
		e.OldState = h.e.OldState
	}
	exec := slices.ContainsFunc(before, func(k KernelEvent) bool { return k.Type == Exec && k.ID.PID == e.ID.PID })
	if e.Exe == "" && !exec && e.Note != NoteExitNameUnknown {
		e.Exe = h.e.Exe
	}
	return true
}

// releaseHeld appends the held exits no kernel exit replaced in the step
// after the poll's (the kernel's comes later, or never: lost), dated as
// the poll dated them. Such an exit is dated before events of the frame
// before that were already given out: a reader in time order sees it
// late.
func (t *Tracker) releaseHeld(out []Event) []Event {
	if len(t.heldExits) == 0 {
		return out
	}
	pids := make([]int, 0, len(t.heldExits))
	for pid, h := range t.heldExits {
		if h.step < t.step {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	for _, pid := range pids {
		out = append(out, t.heldExits[pid].e)
		delete(t.heldExits, pid)
	}
	return out
}

// dedupKey is the key under which e and its repetition by the other
// source meet, and whether e's type is deduplicated at all (spawn, exec,
// rename, exit and thread events; a rename meets the exec the kernel
// reported: the poll could not read the exe).
func dedupKey(e *Event) (eventKey, bool) {
	switch e.Type {
	case Spawn, Exec, Exit:
		return eventKey{e.Type, e.ID.PID}, true
	case Rename:
		return eventKey{Exec, e.ID.PID}, true
	case ThreadStart, ThreadExit:
		return eventKey{e.Type, e.TID}, true
	}
	return eventKey{}, false
}

// rememberFork records the parent a kernel fork named, bounded: beyond
// maxForks a fork's parent is not remembered (frames are not taken while
// paused), and an adoption between the fork and the next scan is missed.
func (t *Tracker) rememberFork(k *KernelEvent) {
	pid := k.ID.PID
	fi := forkInfo{ppid: k.PPID, step: t.step, source: k.Source}
	if fi.source == "" {
		fi.source = SourceConnector
	}
	if k.StartRead {
		fi.start = k.ID.StartTicks
	}
	if _, had := t.forkParent[pid]; had || len(t.forkParent) < t.maxForks {
		t.forkParent[pid] = fi
	}
}

// pollEvents appends the poll's events that a kernel source did not
// report in the window, and records the spawns, execs and exits it
// reports first. While a kernel source is live, an exit without a status
// (the process was gone, not a zombie read) is held for one step
// instead: the kernel's exit, with the status, is on its way when the
// scan found the process gone first, and replaces it (replacesHeld);
// else it goes out a step late (releaseHeld). Not in a step that must
// hold every event (flush: Kernel.Flush).
func (t *Tracker) pollEvents(out, poll []Event, flush bool) []Event {
	for i := range poll {
		e := &poll[i]
		if key, dedup := dedupKey(e); dedup {
			if s, ok := t.recent[key]; ok && t.within(s) && !t.renamedAfterExec(e) {
				continue
			}
			switch e.Type {
			case Spawn, Exec:
				t.polled[key] = t.step
			case Exit:
				t.polledExits[e.ID.PID] = polledExit{step: t.step, start: e.ID.StartTicks, status: e.ExitStatus != nil}
				if e.ExitStatus == nil && t.kernelLive && !flush {
					t.heldExits[e.ID.PID] = heldExit{e: *e, step: t.step}
					continue
				}
			}
		}
		out = append(out, *e)
	}
	return out
}

// renamedAfterExec reports whether the poll's rename e starts from the
// name the kernel's recent exec of the process gave it (or from the name
// of a rename after that): the poll read the process after the exec, and
// the comm changed again (prctl(PR_SET_NAME)). It is another event than
// the exec, and its name is remembered for a further rename.
func (t *Tracker) renamedAfterExec(e *Event) bool {
	if e.Type != Rename {
		return false
	}
	if name, ok := t.named[e.ID.PID]; !ok || name != e.OldComm {
		return false
	}
	t.named[e.ID.PID] = e.Comm
	return true
}

// fillFromSnapshots completes kernel events whose process was gone
// before the source could look it up: the comm and start time come from
// the previous or current snapshot when the pid was there (and the start
// time, if known, agrees); an exit's parent too. An exec's name is never
// taken from a snapshot, nor an exit's whose source said the name after
// an exec is unknown (a snapshot may have read the process before it), nor
// a spawn's whose source said its parent's name is unknown (a snapshot
// reads the child after it ran another program).
func fillFromSnapshots(evs []Event, prev, cur *collector.Snapshot) {
	for i := range evs {
		e := &evs[i]
		if e.Comm != "" && e.ID.StartTicks != 0 && (e.PPID != 0 || e.Type != Exit) {
			continue
		}
		keepComm := e.Type == Exec || e.Note == NoteExitNameUnknown || e.Note == NoteSpawnParentNameUnknown
		for _, s := range [2]*collector.Snapshot{prev, cur} {
			p := Find(s, e.ID.PID)
			if p == nil || !known(p, collector.SrcStat) || (e.ID.StartTicks != 0 && e.ID.StartTicks != p.StartTicks) {
				continue
			}
			if e.Comm == "" && !keepComm {
				e.Comm = p.Comm
			}
			if e.PPID == 0 && e.Type == Exit {
				e.PPID = p.PPID
			}
			e.ID.StartTicks = p.StartTicks
			break
		}
	}
}

// fillExecExes gives the kernel's exec events that name no executable
// (the tracepoints cannot make a path; the connector's lookup may come
// too late) the paths the scans read, as the poll's exec would have had
// them: exe from cur, for the last exec of its pid among evs when cur
// shows the process with the exec's identity and name and was read
// after the exec (it ran that program at the scan). The first exec of
// its pid takes what it replaced from prev, which read the process
// before it (the exec is dated after prev): old_comm when the source
// did not know it (the process was there before the source, or
// forgotten), and old_exe when prev shows the process under that old
// name. An exec of the pid after prev's scan, in the step before
// (lateExecs), is what it replaced instead: its name, and its exe when
// known. An exec the scans cannot place keeps its paths unknown.
func (t *Tracker) fillExecExes(evs []Event, prev, cur *collector.Snapshot) {
	seen := map[int]bool{}
	for i := len(evs) - 1; i >= 0; i-- {
		e := &evs[i]
		if e.Type != Exec || seen[e.ID.PID] {
			continue
		}
		seen[e.ID.PID] = true
		// An exec after the scan that keeps its name (a shim exec'ing the
		// real program) is not the scan's program.
		if p := Find(cur, e.ID.PID); e.Exe == "" && p != nil && e.Comm != "" && e.Time.Before(cur.TakenAt) &&
			p.StartTicks == e.ID.StartTicks && known(p, collector.SrcStat) && known(p, collector.SrcExe) && readAfterExec(p, e, prev) {
			e.Exe = p.Exe
		}
	}
	clear(seen)
	for i := range evs {
		e := &evs[i]
		if e.Type != Exec || seen[e.ID.PID] {
			continue
		}
		seen[e.ID.PID] = true
		t.fillReplaced(e, prev)
	}
}

// readAfterExec reports whether cur's reading p of exec e's process was
// taken after the exec, by its name: the exec's name, or (a program that
// renamed itself after the exec: prctl(PR_SET_NAME),
// pthread_setname_np on the main thread; tester13 B3) a name that is
// none of the names it had before the exec, as the source knew it
// (old_comm) and as prev read it. Without either old name the scan's
// reading cannot be placed, and a name other than the exec's keeps exe
// unknown.
func readAfterExec(p *collector.Process, e *Event, prev *collector.Snapshot) bool {
	if p.Comm == e.Comm {
		return true
	}
	before := false
	if e.OldComm != "" {
		if p.Comm == e.OldComm {
			return false
		}
		before = true
	}
	if q := FindID(prev, e.ID); q != nil && known(q, collector.SrcStat) {
		if p.Comm == q.Comm {
			return false
		}
		before = true
	}
	return before
}

// fillReplaced gives the first exec e of its pid in a step the name and
// exe it replaced, where the source did not know them and the scans do
// (fillExecExes).
func (t *Tracker) fillReplaced(e *Event, prev *collector.Snapshot) {
	nameless := e.OldComm == "" && e.Note == ""
	if l, ok := t.lateExecs[e.ID.PID]; ok && l.start == e.ID.StartTicks {
		if nameless {
			e.OldComm = l.comm
		}
		if e.OldExe == "" && e.OldComm == l.comm {
			e.OldExe = l.exe
		}
		return
	}
	p := Find(prev, e.ID.PID)
	if p == nil || prev == nil || !e.Time.After(prev.TakenAt) || p.StartTicks != e.ID.StartTicks || !known(p, collector.SrcStat) {
		return
	}
	if nameless {
		e.OldComm = p.Comm
	}
	if e.OldExe == "" && e.OldComm != "" && p.Comm == e.OldComm && known(p, collector.SrcExe) {
		e.OldExe = p.Exe
	}
}

// fillExitExes gives the exits of evs that name no executable (no source
// can read one at the end) the program the process last ran, where it
// is known exactly: the exe of its last exec among the kernel's events
// of the step (kevs) when that came after the scan that last read the
// process, else that scan's (cur's, else prev's: a zombie's exe is not
// read), unless a kernel exec after prev's scan came in the step before
// (lateExecs: its exe then, also for a process no scan read), or the
// scan shows the process under another name than the exit's. Otherwise the exe stays unknown. A filter on
// the executable, or on a name longer than a comm's 15 bytes, then finds
// the crash of that program.
//
// The kernel's execs are indexed by pid once a call (execsOf), not
// looked for among all of kevs for each exit: a storm of 12,000 short
// programs in one step made that 12,000 x 36,000 comparisons, about
// 0.6 s of the agent's CPU.
func (t *Tracker) fillExitExes(evs, kevs []Event, prev, cur *collector.Snapshot) {
	var execs map[int][]int
	for i := range evs {
		e := &evs[i]
		if e.Type != Exit || e.Exe != "" || e.Note == NoteExitNameUnknown {
			continue
		}
		if execs == nil {
			execs = execsOf(kevs)
		}
		var x *Event
		for _, j := range execs[e.ID.PID] {
			if k := &kevs[j]; sameStart(k.ID.StartTicks, e.ID.StartTicks) {
				x = k
			}
		}
		var s *collector.Snapshot
		var p *collector.Process
		for _, c := range [2]*collector.Snapshot{cur, prev} {
			if q := Find(c, e.ID.PID); q != nil && q.StartTicks == e.ID.StartTicks && known(q, collector.SrcStat) && known(q, collector.SrcExe) {
				s, p = c, q
				break
			}
		}
		e.Exe = t.exitExe(e, x, s, p, prev)
	}
}

// execsOf is the indexes of the exec events of evs, by pid, in order.
func execsOf(evs []Event) map[int][]int {
	m := map[int][]int{}
	for j := range evs {
		if evs[j].Type == Exec {
			m[evs[j].ID.PID] = append(m[evs[j].ID.PID], j)
		}
	}
	return m
}

// exitExe is the exe exit e takes (fillExitExes): that of x, its
// process's last kernel exec in the step, when it came after the scan s
// that last read the process (p); that of the kernel exec after prev's
// scan in the step before, for a process in no scan (forked after
// prev's began) or one prev read before that exec; else p's, unless p
// shows another name. "" when none of them is known.
func (t *Tracker) exitExe(e, x *Event, s *collector.Snapshot, p *collector.Process, prev *collector.Snapshot) string {
	l, late := t.lateExecs[e.ID.PID]
	switch {
	case x != nil && (p == nil || x.Time.After(s.TakenAt)):
		return x.Exe
	case late && l.start == e.ID.StartTicks && (p == nil || s == prev):
		if e.Comm == "" || e.Comm == l.comm {
			return l.exe
		}
	case p != nil && (e.Comm == "" || e.Comm == p.Comm):
		return p.Exe
	}
	return ""
}

// noteLateExecs keeps the kernel's execs of evs dated after cur's scan
// for the next step (lateExecs).
func (t *Tracker) noteLateExecs(evs []Event, cur *collector.Snapshot) {
	clear(t.lateExecs)
	for i := range evs {
		if e := &evs[i]; e.Type == Exec && e.FromKernel() && e.Time.After(cur.TakenAt) {
			t.lateExecs[e.ID.PID] = lateExec{start: e.ID.StartTicks, comm: e.Comm, exe: e.Exe}
		}
	}
}

// forkReparents appends a reparent event for each process a kernel fork
// named with one parent that cur shows under another: its parent exited
// between the fork and the scan, and it was adopted. This does not depend
// on which of the two was seen first. Pids are taken in order, so a
// replay makes the same events.
func (t *Tracker) forkReparents(out []Event, cur *collector.Snapshot) []Event {
	for _, e := range out {
		if e.Type == Reparent {
			t.recent[eventKey{Reparent, e.ID.PID}] = t.step
		}
	}
	pids := make([]int, 0, len(t.forkParent))
	for pid := range t.forkParent {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	for _, pid := range pids {
		fi := t.forkParent[pid]
		p := Find(cur, pid)
		if p == nil || fi.ppid == 0 || p.PPID == fi.ppid || p.PPID == 0 || !known(p, collector.SrcStat) ||
			fi.start != 0 && fi.start != p.StartTicks {
			continue
		}
		if _, done := t.recent[eventKey{Reparent, pid}]; done {
			continue
		}
		e := base(p, cur.TakenAt)
		e.Type, e.Source = Reparent, fi.source
		e.OldPPID = fi.ppid
		e.AdopterKind = adopterKindOf(Find(cur, p.PPID), p, nil)
		t.recent[eventKey{Reparent, pid}] = t.step
		out = append(out, e)
	}
	return out
}

// exitReparents appends a reparent for each kernel exit of evs whose
// parent, as the source read it, is not the one its fork named (or the
// previous scan showed): it was adopted before it ended, and a scan may
// never show it under its adopter (a subreaper that reaps at once:
// tester12 B1). reparentsBeforeExits dates and places it (at the old
// parent's exit when that is known). Not when a reparent of the process
// was reported in the window.
func (t *Tracker) exitReparents(out []Event, prev, cur *collector.Snapshot) []Event {
	n := len(out)
	for i := range n {
		x := &out[i]
		if x.Type != Exit || !x.FromKernel() || x.PPID == 0 || t.guessedParent[x.ID.PID] {
			continue
		}
		old := 0
		var child *collector.Process
		if fi, ok := t.forkParent[x.ID.PID]; ok && (fi.start == 0 || sameStart(fi.start, x.ID.StartTicks)) {
			old = fi.ppid
		}
		if p := FindID(prev, x.ID); p != nil && known(p, collector.SrcStat) {
			child = p
			if old == 0 {
				old = p.PPID
			}
		}
		if old == 0 || old == x.PPID {
			continue
		}
		if s, done := t.recent[eventKey{Reparent, x.ID.PID}]; done && t.within(s) {
			continue
		}
		e := Event{Type: Reparent, Time: x.Time, ID: x.ID, Comm: x.Comm, PPID: x.PPID, OldPPID: old, Source: x.Source}
		par := Find(cur, x.PPID)
		if child == nil && par != nil {
			child = &collector.Process{} // adopted within its namespace
			child.NSPids = par.NSPids
		}
		if child != nil {
			e.AdopterKind = adopterKindOf(par, child, nil)
		}
		t.recent[eventKey{Reparent, x.ID.PID}] = t.step
		out = append(out, e)
	}
	return out
}

// reparentsBeforeExits puts each reparent of evs (sorted by time) that
// is dated at or after the exit of its process, when that exit says the
// process ended under its new parent, back before that exit: it was
// adopted before its end, but a scan finds the adoption only when it
// shows the process (a zombie by then) under its new parent, and a
// reparent dated at that scan came after the exit the kernel had
// reported (tester11 T3: a subreaper's grandchild, born and ended
// between two scans). It takes the time of the old parent's kernel exit
// in evs (its pid's, with its start time when its spawn is in evs: the
// pid may have been another process's earlier in the step) when that
// is not after the process's exit (the kernel
// re-parents the children of an exiting process before it reports the
// exit), else the process's exit's, with NoteAdoptedBeforeExit. A
// process whose exit names its old parent (a zombie adopted after its
// end, when its parent exited later), or no parent the source read,
// keeps its reparent after the exit. A reparent of a process whose
// kernel exit an earlier step gave out under the new parent is not
// given out (that exit named the adopter); it is still tracked
// (Orphans). One pass over evs and one sort, whatever the number of
// reparents.
func (t *Tracker) reparentsBeforeExits(evs []Event, prev, cur *collector.Snapshot) []Event {
	if !slices.ContainsFunc(evs, func(e Event) bool { return e.Type == Reparent }) {
		return evs
	}
	exits := indexExits(evs)
	moved := false
	early := make(map[int]bool) // reparents dated at their exit: sorted before it
	// Not in place: a reparent dropped would shift what exits indexes.
	out := make([]Event, 0, len(evs))
	for k := range evs {
		e := evs[k]
		if e.Type != Reparent {
			out = append(out, e)
			continue
		}
		j, ok := exits.first[e.ID.PID]
		if ok && (!sameStart(evs[j].ID.StartTicks, e.ID.StartTicks) || startedAfter(e.ID, evs[j].Time, cur)) {
			ok = false // another process with the pid
		}
		if !ok {
			if t.exitedBefore(&e, cur) {
				t.reparents[e.ID] = e
				continue
			}
			out = append(out, e)
			continue
		}
		x := &evs[j]
		if j > k || x.PPID != e.PPID || t.guessedParent[x.ID.PID] {
			out = append(out, e) // dated before its exit, or adopted after it (or not known)
			continue
		}
		moved = true
		if at, byPID, ok := exits.oldParent(&e, prev); ok && evs[at].FromKernel() && !evs[at].Time.After(x.Time) {
			e.Time = evs[at].Time
			if byPID && e.Note == "" {
				e.Note = NoteOldParentByPID
			}
		} else {
			e.Time, e.Note = x.Time, NoteAdoptedBeforeExit
			early[len(out)] = true
		}
		out = append(out, e)
	}
	if !moved {
		return out
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ta, tb := out[idx[a]].Time, out[idx[b]].Time
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return early[idx[a]] && !early[idx[b]]
	})
	sorted := make([]Event, len(out))
	for i, k := range idx {
		sorted[i] = out[k]
	}
	return sorted
}

// stepExits are a step's exits and spawns by pid (reparentsBeforeExits).
type stepExits struct {
	evs    []Event
	first  map[int]int   // pid -> the index of its first exit
	later  map[int][]int // pid -> its other exits (its pid reused in the step)
	spawns map[int][]int // pid -> its spawns
}

// indexExits indexes the exits and spawns of evs, in one pass.
func indexExits(evs []Event) stepExits {
	s := stepExits{evs: evs, first: make(map[int]int), spawns: make(map[int][]int)}
	for k := range evs {
		switch x := &evs[k]; x.Type {
		case Exit:
			if _, ok := s.first[x.ID.PID]; !ok {
				s.first[x.ID.PID] = k
			} else {
				if s.later == nil {
					s.later = make(map[int][]int)
				}
				s.later[x.ID.PID] = append(s.later[x.ID.PID], k)
			}
		case Spawn:
			s.spawns[x.ID.PID] = append(s.spawns[x.ID.PID], k)
		}
	}
	return s
}

// oldParent is the index of the exit of reparent e's old parent in the
// step; false when there is none. The old parent was alive when it
// forked e's process (that spawn, when it is in the step) and since its
// own spawn (when in the step, the last of its pid before the child's):
// an exit of its pid dated before either is an earlier process's. Its
// start time comes from that spawn, else from prev (the scan that showed
// the child under it); of the exits left, the one with that start time
// is its. Where no exit can be compared by start time (the exit's or the
// old parent's is unknown: a kernel exit of a process no scan read), the
// first exit left is taken by pid alone, and byPID says so; an exit with
// another known start time is never taken (review7 A-S2).
func (s *stepExits) oldParent(e *Event, prev *collector.Snapshot) (at int, byPID, ok bool) {
	first, ok := s.first[e.OldPPID]
	if !ok {
		return 0, false, false
	}
	var alive time.Time // the old parent was alive then
	until := e.Time
	if ks := s.spawns[e.ID.PID]; len(ks) > 0 {
		sp := &s.evs[ks[len(ks)-1]]
		until = sp.Time
		if sp.PPID == e.OldPPID {
			alive = sp.Time
		}
	}
	var start uint64
	for _, k := range s.spawns[e.OldPPID] {
		if sp := &s.evs[k]; !sp.Time.After(until) {
			start = sp.ID.StartTicks
			if sp.Time.After(alive) {
				alive = sp.Time
			}
		}
	}
	if p := Find(prev, e.OldPPID); start == 0 && p != nil && known(p, collector.SrcStat) {
		start = p.StartTicks
	}
	unknown := -1
	later := s.later[e.OldPPID]
	for i := -1; i < len(later); i++ {
		k := first
		if i >= 0 {
			k = later[i]
		}
		x := &s.evs[k]
		switch {
		case x.Time.Before(alive):
			// Before the old parent forked the child, or was born.
		case start != 0 && x.ID.StartTicks != 0:
			if sameStart(x.ID.StartTicks, start) {
				return k, false, true
			}
		case unknown < 0:
			unknown = k
		}
	}
	if unknown >= 0 {
		return unknown, true, true
	}
	return 0, false, false
}

// startedAfter reports whether process id, as cur shows it, started
// after at (an exit at at is an earlier process's with the pid).
func startedAfter(id collector.ID, at time.Time, cur *collector.Snapshot) bool {
	p := FindID(cur, id)
	return p != nil && !p.StartedAt.IsZero() && p.StartedAt.After(at)
}

// exitedBefore reports whether the process of reparent e, a zombie in
// cur, had its kernel exit given out in an earlier step under e's new
// parent (exitAt and exitParent: not before its start).
func (t *Tracker) exitedBefore(e *Event, cur *collector.Snapshot) bool {
	p := FindID(cur, e.ID)
	if p == nil || !IsZombie(p) {
		return false
	}
	x, ok := t.exitAt[e.ID.PID]
	return ok && x.Before(cur.TakenAt) && !x.Before(p.StartedAt) && t.exitParent[e.ID.PID] == e.PPID && e.PPID != 0
}

// track updates the zombies' first sightings (and, seen by a scan, the
// time since the scan before, prev) and the observed reparents.
func (t *Tracker) track(prev, cur *collector.Snapshot, evs []Event) {
	for _, e := range evs {
		if e.Type == Reparent {
			t.reparents[e.ID] = e
		}
	}
	for i := range cur.Processes {
		p := &cur.Processes[i]
		if _, seen := t.zombieSeen[p.ID()]; seen || !IsZombie(p) {
			continue
		}
		at := cur.TakenAt
		if x, ok := t.exitAt[p.PID]; ok && x.Before(at) && !x.Before(p.StartedAt) {
			at = x
			t.zombieExit[p.ID()] = true
		} else if prev != nil {
			t.zombieGap[p.ID()] = cur.TakenAt.Sub(prev.TakenAt)
		}
		t.zombieSeen[p.ID()] = at
	}
	for id := range t.zombieSeen {
		if p := FindID(cur, id); p == nil || !IsZombie(p) {
			delete(t.zombieSeen, id)
			delete(t.zombieExit, id)
			delete(t.zombieGap, id)
		}
	}
	for id, e := range t.reparents {
		if p := FindID(cur, id); p == nil || p.PPID != e.PPID {
			delete(t.reparents, id)
		}
	}
	cut := cur.TakenAt.Add(-exitMemory)
	for pid, at := range t.exitAt {
		if at.Before(cut) {
			delete(t.exitAt, pid)
			delete(t.exitParent, pid)
			delete(t.guessedParent, pid)
		}
	}
}
