package monitor

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// Options configures a Monitor.
type Options struct {
	// Interval is the sampling interval (default 1 s).
	Interval time.Duration
	// Threads makes every snapshot read threads (per-thread rates and
	// thread_start/thread_exit events).
	Threads bool
	// Connector subscribes to the kernel's process-events connector where
	// available, so processes shorter than the interval are seen with their
	// exit codes.
	Connector bool
	// MaxPending bounds the connector events held between two frames (for
	// example while paused); beyond it events are dropped and counted.
	// Default 100000.
	MaxPending int
}

// Monitor samples a Reader on an interval and publishes Frames. Its
// methods are safe for concurrent use; the Reader is read only by Run's
// goroutine.
type Monitor struct {
	r    *collector.Reader
	opts Options

	mu       sync.Mutex
	out      *Fanout // the latest frame and the subscribers
	interval time.Duration
	paused   bool
	focus    int
	wake     chan struct{}
	// resume asks for a sample at once (set when unpausing);
	// focusChanged for the focus to be re-read without a scan.
	resume       bool
	focusChanged bool

	// Connector state, guarded by mu.
	conn     *connector // the current subscription (for tests to break)
	live     bool
	note     string
	pending  []lifecycle.Event
	dropped  int
	rescan   bool
	lossNote string
	// barrier is the pending Sync mark, nil when none (guarded by mu);
	// syncMu makes Syncs take turns.
	barrier *barrier
	syncMu  sync.Mutex
	// received and converted count connector datagrams (for Sync).
	received, converted atomic.Uint64
	// seq numbers frames (written by Run under mu; the converter reads it
	// to date forkParent entries); forkParent maps a pid the connector saw
	// forked to its parent then.
	seq        uint64
	forkParent map[int]forkInfo
	// leaderGone holds the processes whose main thread exited while
	// other threads ran on (seen by the connector, or in a snapshot as a
	// leader in Z with threads): no exit is reported for them until their
	// last thread's.
	leaderGone map[int]bool

	// Loop state, owned by Run's goroutine.
	prev       *collector.Snapshot
	curTakenAt time.Time
	zombieSeen map[collector.ID]time.Time
	reparents  map[collector.ID]lifecycle.Event
	exitAt     map[int]time.Time
	recent     map[recentKey]uint64
	polled     map[recentKey]uint64 // spawns and execs the poll reported
}

// forkInfo is what a connector fork event said about a new process.
type forkInfo struct {
	ppid  int
	start uint64 // the child's start ticks when read, else 0
	seq   uint64
}

// recentKey names an event reported recently, to drop its repetition
// from the other source (pid is the tid for thread events).
type recentKey struct {
	typ lifecycle.EventType
	pid int
}

// New makes a monitor over r. Nothing is read until Run.
func New(r *collector.Reader, o Options) *Monitor {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	return &Monitor{
		r:          r,
		opts:       o,
		out:        NewFanout(o.MaxPending),
		interval:   o.Interval,
		wake:       make(chan struct{}, 1),
		zombieSeen: make(map[collector.ID]time.Time),
		reparents:  make(map[collector.ID]lifecycle.Event),
		forkParent: make(map[int]forkInfo),
		leaderGone: make(map[int]bool),
		exitAt:     make(map[int]time.Time),
		recent:     make(map[recentKey]uint64),
		polled:     make(map[recentKey]uint64),
	}
}

// MaxSampleFailures is the number of samples in a row that may fail (the
// root cannot be read) before Run gives up and returns the error.
const MaxSampleFailures = 3

// Run samples until ctx is done and returns ctx's error; or the error of
// the first sample when the root cannot be read at all, or of the last one
// when MaxSampleFailures samples in a row failed.
func (m *Monitor) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var st unix.Statfs_t
	if m.opts.Connector && (unix.Statfs(m.r.Root(), &st) != nil || st.Type != unix.PROC_SUPER_MAGIC) {
		m.mu.Lock()
		m.note = "kernel process events not used: " + m.r.Root() + " is not a live procfs; polling every interval"
		m.mu.Unlock()
	} else if m.opts.Connector {
		k, err := dialConnector()
		m.mu.Lock()
		if err != nil {
			m.note = fmt.Sprintf("kernel process events unavailable (%v): polling every interval, processes shorter than it are missed", err)
		} else {
			m.live = true
			m.conn = k
			m.note = "kernel process events (proc connector) subscribed"
		}
		m.mu.Unlock()
		if err == nil {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); m.listen(ctx, k) }()
			defer wg.Wait()
			defer cancel()
		}
	} else {
		m.mu.Lock()
		m.note = "kernel process events not used: polling every interval, processes shorter than it are missed"
		m.mu.Unlock()
	}
	if err := m.sample(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	timer := time.NewTimer(m.currentInterval())
	defer timer.Stop()
	failures := 0
	for {
		tick := false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			tick = true
		case <-m.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		m.mu.Lock()
		paused, rescan, resume, focus := m.paused, m.rescan, m.resume, m.focusChanged
		m.resume, m.focusChanged = false, false
		m.mu.Unlock()
		switch {
		case rescan || !paused && (tick || resume):
			err := m.sample(ctx)
			if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil {
				failures = 0
				break
			}
			// A failing root (a fixture tree deleted, procfs unmounted):
			// a passing error is retried, a lasting one ends the run.
			if failures++; failures >= MaxSampleFailures {
				return fmt.Errorf("reading %s failed %d times in a row: %w", m.r.Root(), failures, err)
			}
		case paused:
			m.republish(true, focus)
		case focus:
			m.republish(false, true)
		}
		timer.Reset(m.currentInterval())
	}
}

func (m *Monitor) currentInterval() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.interval
}

// listen receives connector events until ctx is done. On a receive error
// (ENOBUFS: the kernel dropped events) it resubscribes and asks for a
// rescan so the next frame's diff catches up. Receiving does nothing else:
// a second goroutine converts the events (which reads /proc), so a slow
// /proc does not make the socket overrun.
func (m *Monitor) listen(ctx context.Context, k *connector) {
	stop := context.AfterFunc(ctx, func() { k.close() })
	defer func() { stop() }()
	batches := make(chan []procEvent, 1<<14)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.convertLoop(batches) }()
	defer wg.Wait()
	defer close(batches)
	var seqs seqTracker
	for {
		buf, err := k.receive(nil)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			k.close()
			m.lost(fmt.Sprintf("kernel process events lost (%v) at %s: resubscribed and rescanned; events in between come from polling only",
				err, time.Now().UTC().Format("15:04:05.000")))
			for {
				if ctx.Err() != nil {
					return
				}
				nk, derr := dialConnector()
				if derr == nil {
					k = nk
					seqs = seqTracker{}
					stop()
					stop = context.AfterFunc(ctx, func() { nk.close() })
					break
				}
				m.mu.Lock()
				m.live = false
				m.note = fmt.Sprintf("kernel process events unavailable after an error (%v): polling", derr)
				m.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
			m.mu.Lock()
			m.live = true
			m.conn = k
			m.note = "kernel process events (proc connector) subscribed"
			m.mu.Unlock()
			continue
		}
		if len(buf) == 0 {
			continue
		}
		m.received.Add(1)
		m.checkBarrier(buf)
		var gap uint32
		for i := range buf {
			gap += seqs.gap(&buf[i])
		}
		if gap > 0 {
			m.lost(fmt.Sprintf("the kernel dropped %d process events before they reached pinspect (a gap in its numbering) at %s",
				gap, time.Now().UTC().Format("15:04:05.000")))
		}
		select {
		case batches <- buf:
		default:
			m.converted.Add(1)
			m.lost(fmt.Sprintf("%d kernel process events dropped at %s: pinspect could not keep up; rescanned",
				len(buf), time.Now().UTC().Format("15:04:05.000")))
		}
	}
}

// lost records that events were lost and asks for a rescan.
func (m *Monitor) lost(note string) {
	m.mu.Lock()
	m.rescan = true
	if m.lossNote == "" {
		m.lossNote = note
	}
	m.mu.Unlock()
	m.poke()
}

// convertLoop converts received events and queues them for the next frame.
func (m *Monitor) convertLoop(batches <-chan []procEvent) {
	offset := bootOffset()
	comms := make(map[int]connProc)
	for buf := range batches {
		// Behind (a burst, or little CPU): skip the /proc reads that name
		// new processes, so the backlog drains; snapshots fill names in.
		hurry := len(batches) > hurryBacklog
		evs := m.convert(buf, comms, offset, hurry)
		if len(evs) == 0 {
			m.converted.Add(1)
			continue
		}
		m.mu.Lock()
		room := m.opts.MaxPending - len(m.pending)
		if room < len(evs) {
			m.dropped += len(evs) - max(room, 0)
			evs = evs[:max(room, 0)]
		}
		m.pending = append(m.pending, evs...)
		m.mu.Unlock()
		m.converted.Add(1)
	}
}

// syncMarker is the comm a thread of pinspect takes to mark a point in
// the kernel's event stream (15 bytes at most).
const syncMarker = "pinspect-sync"

// barrier is a pending Sync mark: the thread that renames itself, and the
// channel closed when the listener reads the rename.
type barrier struct {
	tid  int
	seen chan struct{}
}

// barrierSync renames a fresh, locked OS thread to syncMarker and waits
// for the listener to read the resulting comm event. The thread ends with
// its goroutine (a goroutine that exits locked takes its thread with it),
// so no renamed thread remains.
func (m *Monitor) barrierSync(ctx context.Context) error {
	seen := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		m.mu.Lock()
		m.barrier = &barrier{tid: unix.Gettid(), seen: seen}
		m.mu.Unlock()
		name := []byte(syncMarker + "\x00")
		err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
		runtime.KeepAlive(name)
		started <- err
	}()
	if err := <-started; err != nil {
		return nil // cannot mark: fall back to what was received
	}
	select {
	case <-seen:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkBarrier closes the pending barrier when buf holds its comm event.
func (m *Monitor) checkBarrier(buf []procEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.barrier
	if b == nil {
		return
	}
	for _, ev := range buf {
		if ev.What == procEventComm && ev.PID == b.tid && ev.Comm == syncMarker {
			close(b.seen)
			m.barrier = nil
			return
		}
	}
}

// hurryBacklog is the number of waiting datagrams above which conversion
// stops reading /proc for each new process.
const hurryBacklog = 256

// Sync waits until every kernel event received so far is queued for the
// next frame (or ctx is done), then has that frame sampled at once. A
// command that stops at a deadline calls it so that the last frame holds
// everything that happened before. Without the connector it only asks for
// the sample.
//
// It returns the number of the last frame already begun: the first frame
// with a greater Seq holds the events.
//
// Where the connector is subscribed, Sync first makes sure that every
// event the kernel queued on the socket before the call has been read: a
// short-lived thread of pinspect renames itself to a marker, and the
// kernel queues that comm event behind every earlier one; when the
// listener reads it, everything before it has been read too.
func (m *Monitor) Sync(ctx context.Context) (uint64, error) {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	m.mu.Lock()
	live := m.live
	m.mu.Unlock()
	if live {
		if err := m.barrierSync(ctx); err != nil {
			return 0, err
		}
	}
	target := m.received.Load()
	for m.converted.Load() < target {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	m.mu.Lock()
	seq := m.seq
	m.rescan = true
	m.mu.Unlock()
	m.poke()
	return seq, nil
}

// convert turns connector events into lifecycle events, reading the new
// process's stat for its start time and comm while it still exists.
func (m *Monitor) convert(in []procEvent, comms map[int]connProc, offset int64, hurry bool) []lifecycle.Event {
	var out []lifecycle.Event
	now := time.Now()
	var mono unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	monoNow := mono.Nano()
	root := m.r.Root()
	for _, ev := range in {
		at := now.Add(-time.Duration(monoNow - int64(ev.TimestampNs)))
		if int64(ev.TimestampNs) > monoNow || ev.TimestampNs == 0 {
			at = now
		}
		estStart := uint64((int64(ev.TimestampNs) + offset) / int64(time.Second/collector.ClockTicks))
		e := lifecycle.Event{Time: at, Source: lifecycle.SourceConnector}
		switch ev.What {
		case procEventFork:
			if ev.PID != ev.TGID {
				if !m.opts.Threads {
					continue
				}
				e = threadEvent(e, lifecycle.ThreadStart, ev, comms, root, hurry)
				break
			}
			e.Type = lifecycle.Spawn
			e.PPID = ev.ParentTGID
			var start uint64
			var comm string
			ok := false
			if !hurry {
				start, comm, ok = quickStat(root, ev.PID)
			}
			if !ok {
				// Gone already: it was a copy of its parent until it exec'd.
				start = estStart
				pc, known := comms[ev.ParentTGID]
				if !known && !hurry {
					if ps, pcomm, ok := quickStat(root, ev.ParentTGID); ok {
						pc = connProc{comm: pcomm, start: ps}
						comms[ev.ParentTGID] = pc
					}
				}
				comm = pc.comm
			}
			e.ID = collector.ID{PID: ev.PID, StartTicks: start}
			e.Comm = comm
			comms[ev.PID] = connProc{comm: comm, start: start, ppid: ev.ParentTGID}
			m.mu.Lock()
			fi := forkInfo{ppid: ev.ParentTGID, seq: m.seq}
			if ok {
				fi.start = start
			}
			// Bounded like pending (frames are not taken while paused):
			// beyond it a fork's parent is not remembered, and a reparent
			// between the fork and the next scan is missed.
			if _, had := m.forkParent[ev.PID]; had || len(m.forkParent) < m.opts.MaxPending {
				m.forkParent[ev.PID] = fi
			}
			m.mu.Unlock()
		case procEventExec:
			if ev.PID != ev.TGID {
				continue
			}
			e.Type = lifecycle.Exec
			e.OldComm = comms[ev.TGID].comm
			var start uint64
			var comm string
			ok := false
			if !hurry {
				start, comm, ok = quickStat(root, ev.TGID)
			}
			if ok {
				e.ID = collector.ID{PID: ev.TGID, StartTicks: start}
				comms[ev.TGID] = connProc{comm: comm, start: start, ppid: comms[ev.TGID].ppid}
				e.Comm = comm
			} else {
				e.ID = comms[ev.TGID].id(ev.TGID)
				e.Comm = e.OldComm
			}
			if !hurry {
				e.Exe = readExe(root, ev.TGID)
			}
		case procEventComm:
			if ev.PID == ev.TGID {
				c := comms[ev.TGID]
				c.comm = ev.Comm
				comms[ev.TGID] = c
			}
			continue
		case procEventExit:
			if ev.PID != ev.TGID {
				if !hurry && m.isLeaderGone(ev.TGID) && processEnded(root, ev.TGID, ev.PID) {
					// The last thread of a process whose main thread
					// exited earlier: now the process has exited.
					m.setLeaderGone(ev.TGID, false)
					out = append(out, exitEvent(e, ev, comms))
				}
				if !m.opts.Threads {
					continue
				}
				e = threadEvent(e, lifecycle.ThreadExit, ev, comms, root, hurry)
				break
			}
			if !hurry {
				// The kernel reports the main thread's exit with pid ==
				// tgid even when other threads run on (pthread_exit in
				// main): then the process has not exited; its last
				// thread's exit says when it does.
				if p, err := collector.ReadStatIdentity(root, ev.PID); err == nil {
					c, known := comms[ev.PID]
					if !known || c.comm == "" {
						c.comm, c.start = p.Comm, p.StartTicks
						comms[ev.PID] = c
					}
					if p.NumThreads > 1 {
						m.setLeaderGone(ev.PID, true)
						continue
					}
				}
			}
			e = exitEvent(e, ev, comms)
		default:
			continue
		}
		out = append(out, e)
	}
	if len(comms) > 1<<16 {
		clear(comms)
	}
	return out
}

func (m *Monitor) isLeaderGone(pid int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leaderGone[pid]
}

func (m *Monitor) setLeaderGone(pid int, gone bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !gone {
		delete(m.leaderGone, pid)
		return
	}
	if len(m.leaderGone) >= 1<<16 {
		clear(m.leaderGone) // bounded: entries of processes whose end was missed
	}
	m.leaderGone[pid] = true
}

// threadEvent completes e as a thread_start or thread_exit (typ) of
// thread ev.PID in process ev.TGID.
func threadEvent(e lifecycle.Event, typ lifecycle.EventType, ev procEvent, comms map[int]connProc, root string, hurry bool) lifecycle.Event {
	c := lookup(comms, root, ev.TGID, hurry)
	e.Type = typ
	e.ID = c.id(ev.TGID)
	e.TID = ev.PID
	e.Comm = c.comm
	return e
}

// exitEvent completes e as the exit of process ev.TGID with ev's exit
// code, and forgets the process.
func exitEvent(e lifecycle.Event, ev procEvent, comms map[int]connProc) lifecycle.Event {
	c := comms[ev.TGID]
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
	delete(comms, ev.TGID)
	return e
}

// processEnded reports whether process tgid, whose main thread exited
// earlier, has no thread left running once thread tid (now exiting) is
// gone: the process is gone, or its leader is Z with no other thread. The
// exiting thread is still counted until the kernel releases it, so it is
// discounted while its task directory is there (checked before the stat,
// so a release in between only lowers the count).
func processEnded(root string, tgid, tid int) bool {
	_, err := os.Stat(filepath.Join(root, strconv.Itoa(tgid), "task", strconv.Itoa(tid)))
	exiting := err == nil
	p, err := collector.ReadStatIdentity(root, tgid)
	if err != nil {
		return collector.IsVanished(err)
	}
	others := p.NumThreads - 1 // the leader stays counted until reaped
	if exiting {
		others--
	}
	return p.State == 'Z' && others <= 0
}

// connProc is what the connector listener remembers of a process.
type connProc struct {
	comm  string
	start uint64
	ppid  int // the parent at fork, 0 when not seen forked
}

func (c connProc) id(pid int) collector.ID { return collector.ID{PID: pid, StartTicks: c.start} }

// lookup returns what is known of process pid, reading its stat (and
// remembering it) when it was not seen forked, unless in a hurry.
func lookup(comms map[int]connProc, root string, pid int, hurry bool) connProc {
	c, ok := comms[pid]
	if ok && c.comm != "" || hurry {
		return c
	}
	if start, comm, ok := quickStat(root, pid); ok {
		c.comm, c.start = comm, start
		comms[pid] = c
	}
	return c
}

// quickStat reads a process's start ticks and comm from its stat.
func quickStat(root string, pid int) (start uint64, comm string, ok bool) {
	p, err := collector.ReadStatIdentity(root, pid)
	if err != nil {
		return 0, "", false
	}
	return p.StartTicks, p.Comm, true
}

func readExe(root string, pid int) string {
	s, err := os.Readlink(filepath.Join(root, strconv.Itoa(pid), "exe"))
	if err != nil {
		return ""
	}
	return s
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

// sample reads a snapshot, builds a frame and publishes it.
func (m *Monitor) sample(ctx context.Context) error {
	// The focused process comes from the snapshot, read once with its
	// threads (a focus changed during the scan is republished after it).
	m.mu.Lock()
	focusPID := m.focus
	m.mu.Unlock()
	so := collector.ScanOptions{Threads: m.opts.Threads}
	if focusPID > 0 && !so.Threads {
		so.ThreadPIDs = []int{focusPID}
	}
	snap, err := m.r.Scan(ctx, so)
	if err != nil {
		return err
	}
	m.mu.Lock()
	// A leader that exited before the connector was subscribed (or while
	// it was behind) is known from the scan.
	for i := range snap.Processes {
		if p := &snap.Processes[i]; p.LeaderExited() && !m.leaderGone[p.PID] && len(m.leaderGone) < 1<<16 {
			m.leaderGone[p.PID] = true
		}
	}
	m.seq++
	pending := m.pending
	m.pending = nil
	dropped := m.dropped
	m.dropped = 0
	m.rescan = false
	lossNote := m.lossNote
	m.lossNote = ""
	live, note := m.live, m.note
	paused := m.paused
	interval := m.interval
	m.mu.Unlock()

	prev := m.prev
	m.curTakenAt = snap.TakenAt
	evs := m.merge(lifecycle.Diff(prev, snap), pending, snap)
	if dropped > 0 {
		lossNote = fmt.Sprintf("%d kernel process events dropped while frames were not taken", dropped)
	}
	if lossNote != "" {
		evs = append(evs, lifecycle.Event{Type: lifecycle.Lost, Time: snap.TakenAt, Source: lifecycle.SourceConnector, Note: lossNote})
	}

	m.track(snap, evs)
	wchan := make(map[int]string)
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if lifecycle.IsZombieProcess(p) {
			if _, ok := wchan[p.PPID]; !ok && p.PPID > 0 {
				w, _ := m.r.WChan(p.PPID)
				wchan[p.PPID] = w
			}
		}
	}
	f := &Frame{
		Seq:        m.seq,
		Snapshot:   snap,
		Prev:       prev,
		Events:     evs,
		Interval:   interval,
		EventsLive: live,
		EventsNote: note,
		Rates:      lifecycle.ComputeRates(prev, snap),
		Zombies:    lifecycle.DiagnoseZombies(snap, m.zombieSeen, wchan),
		Orphans:    lifecycle.DetectOrphans(snap, m.reparents),
		Paused:     paused,
	}
	if focusPID > 0 {
		f.Focus = m.focusFrom(snap, focusPID)
	}
	m.prev = snap
	m.publish(f)
	return nil
}

// merge combines poll events with connector events. Spawn, exec, exit and
// thread events seen by the connector are not repeated from the poll (nor
// a spawn or exec the poll reported first, when conversion fell behind); a process the
// connector saw forked by a parent that is no longer its parent when
// first polled was re-parented in between (a reparent event).
func (m *Monitor) merge(poll, conn []lifecycle.Event, snap *collector.Snapshot) []lifecycle.Event {
	out := make([]lifecycle.Event, 0, len(poll)+len(conn))
	for _, e := range conn {
		switch e.Type {
		case lifecycle.Spawn, lifecycle.Exec:
			// Converted late (pinspect was behind): the poll said it already.
			if s, ok := m.polled[recentKey{e.Type, e.ID.PID}]; ok && m.seq-s <= 2 {
				continue
			}
			m.recent[recentKey{e.Type, e.ID.PID}] = m.seq
		case lifecycle.Exit:
			m.recent[recentKey{e.Type, e.ID.PID}] = m.seq
			m.exitAt[e.ID.PID] = e.Time
		case lifecycle.ThreadStart, lifecycle.ThreadExit:
			m.recent[recentKey{e.Type, e.TID}] = m.seq
		}
		out = append(out, e)
	}
	byPID := make(map[int]*collector.Process, len(snap.Processes))
	for i := range snap.Processes {
		byPID[snap.Processes[i].PID] = &snap.Processes[i]
	}
	m.fillFromSnapshots(out, snap)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range poll {
		switch e.Type {
		case lifecycle.Spawn, lifecycle.Exec, lifecycle.Exit, lifecycle.Rename:
			typ := e.Type
			if typ == lifecycle.Rename {
				typ = lifecycle.Exec // the poll could not read the exe: the connector said exec
			}
			if s, ok := m.recent[recentKey{typ, e.ID.PID}]; ok && m.seq-s <= 2 {
				continue
			}
			if e.Type == lifecycle.Rename {
				break
			}
			if e.Type != lifecycle.Exit {
				m.polled[recentKey{e.Type, e.ID.PID}] = m.seq
			}
		case lifecycle.ThreadStart, lifecycle.ThreadExit:
			if s, ok := m.recent[recentKey{e.Type, e.TID}]; ok && m.seq-s <= 2 {
				continue
			}
		}
		out = append(out, e)
	}
	out = m.forkReparents(out, byPID)
	for _, r := range []map[recentKey]uint64{m.recent, m.polled} {
		for k, s := range r {
			if m.seq-s > 2 {
				delete(r, k)
			}
		}
	}
	for pid, fi := range m.forkParent {
		if m.seq-fi.seq > 2 {
			delete(m.forkParent, pid)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// fillFromSnapshots completes connector events whose process was gone
// before its stat could be read: the comm and start time come from the
// previous or current snapshot when the pid was there (and the start time,
// if known, agrees).
func (m *Monitor) fillFromSnapshots(evs []lifecycle.Event, snap *collector.Snapshot) {
	find := func(s *collector.Snapshot, pid int) *collector.Process {
		if s == nil {
			return nil
		}
		i := sort.Search(len(s.Processes), func(i int) bool { return s.Processes[i].PID >= pid })
		if i < len(s.Processes) && s.Processes[i].PID == pid {
			return &s.Processes[i]
		}
		return nil
	}
	for i := range evs {
		e := &evs[i]
		if e.Comm != "" && e.ID.StartTicks != 0 && (e.PPID != 0 || e.Type != lifecycle.Exit) {
			continue
		}
		for _, s := range []*collector.Snapshot{m.prev, snap} {
			p := find(s, e.ID.PID)
			if p == nil || p.Read&collector.SrcStat == 0 || (e.ID.StartTicks != 0 && e.ID.StartTicks != p.StartTicks) {
				continue
			}
			if e.Comm == "" {
				e.Comm = p.Comm
			}
			if e.PPID == 0 && e.Type == lifecycle.Exit {
				e.PPID = p.PPID
			}
			e.ID.StartTicks = p.StartTicks
			break
		}
	}
}

// forkReparents appends a reparent event for each process the connector
// saw forked by one parent that the snapshot shows under another: its
// parent exited between the fork and the scan, and it was adopted. This
// does not depend on which of the two was seen first. mu is held.
func (m *Monitor) forkReparents(out []lifecycle.Event, byPID map[int]*collector.Process) []lifecycle.Event {
	for _, e := range out {
		if e.Type == lifecycle.Reparent {
			m.recent[recentKey{lifecycle.Reparent, e.ID.PID}] = m.seq
		}
	}
	for pid, fi := range m.forkParent {
		p := byPID[pid]
		if p == nil || fi.ppid == 0 || p.PPID == fi.ppid || p.PPID == 0 || p.Read&collector.SrcStat == 0 ||
			fi.start != 0 && fi.start != p.StartTicks {
			continue
		}
		if _, done := m.recent[recentKey{lifecycle.Reparent, pid}]; done {
			continue
		}
		e := lifecycle.Event{
			Type: lifecycle.Reparent, Time: m.curTakenAt, ID: p.ID(), Comm: p.Comm, PPID: p.PPID,
			OldPPID: fi.ppid, Source: lifecycle.SourceConnector, AdopterKind: lifecycle.AdopterSubreaper,
		}
		if par := byPID[p.PPID]; par != nil {
			switch {
			case par.PID == 1:
				e.AdopterKind = lifecycle.AdopterInit
			case len(par.NSPids) > 1 && par.NSPids[len(par.NSPids)-1] == 1:
				e.AdopterKind = lifecycle.AdopterPidnsInit
			}
		}
		m.recent[recentKey{lifecycle.Reparent, pid}] = m.seq
		out = append(out, e)
	}
	return out
}

// track updates the zombie first-seen times and observed reparents.
func (m *Monitor) track(snap *collector.Snapshot, evs []lifecycle.Event) {
	for _, e := range evs {
		if e.Type == lifecycle.Reparent {
			m.reparents[e.ID] = e
		}
	}
	present := make(map[collector.ID]*collector.Process, len(snap.Processes))
	for i := range snap.Processes {
		p := &snap.Processes[i]
		present[p.ID()] = p
		if lifecycle.IsZombieProcess(p) {
			if _, ok := m.zombieSeen[p.ID()]; !ok {
				t := snap.TakenAt
				if x, ok := m.exitAt[p.PID]; ok && x.Before(t) && !x.Before(p.StartedAt) {
					t = x
				}
				m.zombieSeen[p.ID()] = t
			}
		}
	}
	for id := range m.zombieSeen {
		if p := present[id]; p == nil || !lifecycle.IsZombieProcess(p) {
			delete(m.zombieSeen, id)
		}
	}
	for id, e := range m.reparents {
		if p := present[id]; p == nil || p.PPID != e.PPID {
			delete(m.reparents, id)
		}
	}
	cut := snap.TakenAt.Add(-time.Minute)
	for pid, t := range m.exitAt {
		if t.Before(cut) {
			delete(m.exitAt, pid)
		}
	}
}

// readFocus reads the focused process in full, without a snapshot (a
// focus changed between ticks).
func (m *Monitor) readFocus(pid int) *Focus {
	p, _, err := m.r.Process(pid)
	return m.focusOf(pid, p, err)
}

// focusFrom takes the focused process, read with its threads, from the
// snapshot: no second read of it.
func (m *Monitor) focusFrom(snap *collector.Snapshot, pid int) *Focus {
	i, ok := slices.BinarySearchFunc(snap.Processes, pid, func(p collector.Process, pid int) int { return cmp.Compare(p.PID, pid) })
	if !ok {
		return m.focusOf(pid, nil, &collector.ReadError{PID: pid, File: "stat", Err: unix.ENOENT})
	}
	return m.focusOf(pid, &snap.Processes[i], nil)
}

// focusOf is the focus on process p (or err) with its details; the
// capabilities come from p's status, read with it.
func (m *Monitor) focusOf(pid int, p *collector.Process, err error) *Focus {
	f := &Focus{PID: pid}
	if err != nil {
		f.Err = collector.Reason(err)
		return f
	}
	f.Process = p
	d, err := m.r.DetailsOf(p)
	if err != nil {
		f.Err = collector.Reason(err)
	}
	f.Details = d
	return f
}

// republish publishes a copy of the latest frame without new events:
// marked paused (once, when pausing), and with the focus re-read when it
// changed. It does not scan.
func (m *Monitor) republish(paused, focusChanged bool) {
	last := m.out.Latest()
	m.mu.Lock()
	focusPID := m.focus
	m.mu.Unlock()
	if last == nil || last.Paused == paused && !focusChanged {
		return
	}
	f := *last
	f.Events = nil
	f.Paused = paused
	if focusChanged {
		f.Focus = nil
		if focusPID > 0 {
			f.Focus = m.readFocus(focusPID)
		}
	}
	m.mu.Lock()
	m.seq++
	f.Seq = m.seq
	m.mu.Unlock()
	m.publish(&f)
}

// publish makes f the latest frame and offers it to every subscriber
// (see Fanout: skipped frames' events are carried, up to
// Options.MaxPending).
func (m *Monitor) publish(f *Frame) { m.out.Publish(f) }

// Subscribe returns a channel of frames (buffered 1: a slow reader gets the
// latest frame, and its Events include the events of frames it skipped, up
// to Options.MaxPending) and a function that cancels the subscription.
func (m *Monitor) Subscribe() (<-chan *Frame, func()) { return m.out.Subscribe() }

// Latest returns the last published frame, nil before the first.
func (m *Monitor) Latest() *Frame { return m.out.Latest() }

// SetInterval changes the sampling interval; the next sample comes one new
// interval from now.
func (m *Monitor) SetInterval(d time.Duration) {
	if d <= 0 {
		return
	}
	m.mu.Lock()
	m.interval = d
	m.mu.Unlock()
	m.poke()
}

// SetPaused pauses or resumes sampling. Pausing publishes one copy of the
// latest frame marked Paused and stops sampling; connector events are kept
// (up to Options.MaxPending) and delivered in the first frame after
// resuming, which is sampled at once.
func (m *Monitor) SetPaused(p bool) {
	m.mu.Lock()
	if m.paused && !p {
		m.resume = true
	}
	m.paused = p
	m.mu.Unlock()
	m.poke()
}

// Focus makes each frame carry pid's full process (with threads) and
// details; 0 clears the focus. A copy of the latest frame with the new
// focus is published at once, without a scan.
func (m *Monitor) Focus(pid int) {
	m.mu.Lock()
	if m.focus != pid {
		m.focus = pid
		m.focusChanged = true
	}
	m.mu.Unlock()
	m.poke()
}

func (m *Monitor) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}
