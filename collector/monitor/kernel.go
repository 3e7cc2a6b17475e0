package monitor

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// kernelSource is a source of process events from the kernel, between
// scans: the proc connector (connSource), or BPF programs on the
// sched_process_fork/exec/exit tracepoints (tpSource, kernelbpf.go). A
// source turns what the kernel says into typed inputs
// (lifecycle.KernelEvent), looking a new process up through the reader
// while it still exists; it reads nothing else and decides nothing about
// lifecycles: the Tracker does, at the next scan.
type kernelSource interface {
	// run receives until ctx is done and returns once every goroutine
	// it started has ended.
	run(ctx context.Context)
	// read has a source that reads the kernel only when asked hand over
	// what the kernel queued until now, to the next take (and the
	// reader's NoteExecs), waiting a bounded time at most; it is called
	// without Monitor.mu, before a scan and after it.
	read(ctx context.Context)
	// take returns (and forgets) what was received since the last take,
	// without waiting: it is called under Monitor.mu.
	take() lifecycle.Kernel
	// scanned tells the source what a scan found that it may need to
	// know when it converts later events.
	scanned(snap *collector.Snapshot)
	// sync returns once every event the kernel queued before the call
	// is in what the next take returns (or ctx is done).
	sync(ctx context.Context) error
	// status says whether kernel events are received, and how.
	status() (live bool, note string)
	// behind returns (and forgets) the largest age an event had when it
	// was converted since the last call: how far behind the kernel the
	// source ran.
	behind() time.Duration
	// unnamedBehind counts the exec events left unnamed, since the
	// source started, because it was catching up with a backlog.
	unnamedBehind() uint64
}

// polling is the kernel source when none is used: it says why.
type polling struct{ note string }

func (polling) run(context.Context)                {}
func (polling) read(context.Context)               {}
func (polling) take() lifecycle.Kernel             { return lifecycle.Kernel{} }
func (polling) scanned(*collector.Snapshot)        {}
func (polling) sync(context.Context) error         { return nil }
func (p polling) status() (live bool, note string) { return false, p.note }
func (polling) behind() time.Duration              { return 0 }
func (polling) unnamedBehind() uint64              { return 0 }

// The notes a frame carries about kernel events.
const (
	noteSubscribed   = "kernel process events (proc connector) subscribed"
	noteNotAsked     = "kernel process events not used: polling every interval, processes shorter than it are missed"
	noteUnavailable  = "kernel process events unavailable (%v): polling every interval, processes shorter than it are missed"
	noteNotLiveProcs = "kernel process events not used: %s is not a live procfs; polling every interval"
)

// openKernelSource picks the kernel source for o over reader r: with
// o.Tracepoints, the BPF tracepoints where the reader scans with the task
// iterator and they load; else the proc connector when asked for, on a
// live procfs, where it can subscribe (its note then says why not the
// tracepoints); else polling, with the reason.
func openKernelSource(r *collector.Reader, o Options, rescan func()) kernelSource {
	if !o.Connector {
		return polling{noteNotAsked}
	}
	var st unix.Statfs_t
	if unix.Statfs(r.Root(), &st) != nil || st.Type != unix.PROC_SUPER_MAGIC {
		return polling{fmt.Sprintf(noteNotLiveProcs, r.Root())}
	}
	var whyNotBPF error
	if o.Tracepoints {
		tp, err := openTracepoints(r, o, rescan)
		if err == nil {
			return tp
		}
		whyNotBPF = err
	}
	k, err := dialConnector()
	if err != nil {
		note := fmt.Sprintf(noteUnavailable, err)
		if whyNotBPF != nil {
			note = fmt.Sprintf(noteBPFFallback, note, whyNotBPF)
		}
		return polling{note}
	}
	c := newConnSource(k, newDecoder(r, o.Threads || o.ThreadDemand), o.MaxPending, rescan)
	if whyNotBPF != nil {
		c.note = fmt.Sprintf(noteBPFFallback, c.note, whyNotBPF)
		c.baseNote = c.note
	}
	c.execs = r.NoteExecs
	if o.ConnectorCoalesce > 0 {
		c.coalesce = o.ConnectorCoalesce
	}
	return c
}

// connSource is the proc connector as a kernel source. One goroutine
// receives datagrams and does nothing else, so a slow /proc does not make
// the socket overrun; a second converts them (decoder) and queues the
// results for the next take.
type connSource struct {
	dec        *decoder // owned by the converting goroutine
	maxPending int
	rescan     func() // asks the monitor for a scan at once (events were lost)
	// execs, when set, is told the pids of every batch's exec events (the
	// reader's NoteExecs: the next scan reads their cmdline afresh).
	execs    func(pids []int)
	execPIDs []int // the converting goroutine's
	// coalesce is how long events gather while they come often
	// (Options.ConnectorCoalesce).
	coalesce time.Duration

	mu       sync.Mutex
	conn     *connector // the current subscription (for tests to break)
	live     bool
	note     string
	baseNote string // the note while subscribed
	pending  []lifecycle.KernelEvent
	dropped  int
	lossNote string
	lossAt   time.Time // when lossNote's loss was detected
	leaders  []int     // leader-exited pids from the scans, for the decoder
	// barrier is the pending sync mark, nil when none.
	barrier *barrier

	// received and converted count receives (each up to maxDrain
	// datagrams) queued to the converter and emitted (for sync).
	received, converted atomic.Uint64
	// lagNs is the largest age (kernel clock) of an event when emitted,
	// since the last behind().
	lagNs atomic.Int64
	// waitMu guards waiting: each receive queued to the converter and not
	// taken yet, in order. A converter that gets no CPU converts nothing,
	// so lagNs alone would say 0 while events pile up.
	waitMu  sync.Mutex
	waiting []waitingReceive
	// heldOldestNs is the kernel time of the oldest event of the batches
	// the converter holds (0 when none): they are not emitted yet either.
	heldOldestNs atomic.Int64
	// losses counts the losses of events (lost): the decoder trusts what
	// it saw of a process only if none happened since its fork.
	losses atomic.Uint64
	// unnamed is the decoder's count of execs left unnamed in a hurry
	// (decoder.unnamedBehind), published for the loop.
	unnamed atomic.Uint64
}

// waitingReceive is what the converter is told of a receive queued to
// it: the kernel time of its oldest event (0 when none has one), and
// connector.emptyAtNs of the receive (0: it did not end on an empty
// socket).
type waitingReceive struct {
	oldestNs, emptyAtNs int64
	// losses is connSource.losses when the receive was queued (after
	// its own gaps were counted).
	losses uint64
}

func (s *connSource) unnamedBehind() uint64 { return s.unnamed.Load() }

// behind is the larger of the oldest age an event had when emitted
// since the last call and the age of the oldest event received and not
// emitted yet (waiting for the converter, or held by it): a converter
// starved of CPU converts nothing between two frames, and its events
// must not look live then.
func (s *connSource) behind() time.Duration {
	lag := s.lagNs.Swap(0)
	oldest := s.heldOldestNs.Load()
	s.waitMu.Lock()
	for _, w := range s.waiting {
		if w.oldestNs != 0 {
			if oldest == 0 || w.oldestNs < oldest {
				oldest = w.oldestNs
			}
			break
		}
	}
	s.waitMu.Unlock()
	if oldest != 0 {
		lag = max(lag, monotonicNow()-oldest)
	}
	return time.Duration(max(lag, 0))
}

// queue hands the events of a receive to the converting goroutine,
// noting the time of its oldest event while it waits and emptyAtNs, the
// receive's connector.emptyAtNs; false when the queue is full.
func (s *connSource) queue(batches chan<- []procEvent, buf []procEvent, emptyAtNs int64) bool {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	select {
	case batches <- buf:
	default:
		return false
	}
	s.waiting = append(s.waiting, waitingReceive{oldestNs: oldestEventNs(buf), emptyAtNs: emptyAtNs, losses: s.losses.Load()})
	return true
}

// lossesOf appends to out the count of losses stamped on each of the n
// oldest receives waiting (queue), in order.
func (s *connSource) lossesOf(n int, out []uint64) []uint64 {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	for _, w := range s.waiting[:min(n, len(s.waiting))] {
		out = append(out, w.losses)
	}
	return out
}

// dequeued notes that the converter took the n oldest receives waiting,
// and returns the latest emptyAtNs among them (0 when none ended on an
// empty socket).
func (s *connSource) dequeued(n int) (emptyAtNs int64) {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	n = min(n, len(s.waiting))
	for _, w := range s.waiting[:n] {
		emptyAtNs = max(emptyAtNs, w.emptyAtNs)
	}
	if n == len(s.waiting) {
		s.waiting = s.waiting[:0]
		return emptyAtNs
	}
	s.waiting = s.waiting[n:]
	return emptyAtNs
}

// oldestEventNs is the earliest kernel time of buf's events (0 when none
// has one).
func oldestEventNs(buf []procEvent) int64 {
	var oldest int64
	for i := range buf {
		if t := int64(buf[i].TimestampNs); t != 0 && (oldest == 0 || t < oldest) {
			oldest = t
		}
	}
	return oldest
}

// noteLag records the age of the oldest event of a batch when emitted.
func (s *connSource) noteLag(evs []procEvent) {
	if len(evs) == 0 || evs[0].TimestampNs == 0 {
		return
	}
	lag := monotonicNow() - int64(evs[0].TimestampNs)
	for {
		old := s.lagNs.Load()
		if lag <= old || s.lagNs.CompareAndSwap(old, lag) {
			return
		}
	}
}

func newConnSource(k *connector, dec *decoder, maxPending int, rescan func()) *connSource {
	s := &connSource{dec: dec, maxPending: maxPending, rescan: rescan, coalesce: DefaultConnectorCoalesce, conn: k, live: true, note: noteSubscribed, baseNote: noteSubscribed}
	if dec != nil {
		dec.pendingExit = s.pendingExit
	}
	return s
}

// pendingExit takes process pid's exit out of what the next take returns
// (takeExit), for the converter to put it after a thread's end.
func (s *connSource) pendingExit(pid int) (lifecycle.KernelEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var x lifecycle.KernelEvent
	var ok bool
	s.pending, x, ok = takeExit(s.pending, pid)
	return x, ok
}

func (s *connSource) status() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live, s.note
}

// read: the connector's events are read as they come.
func (s *connSource) read(context.Context) {}

func (s *connSource) take() lifecycle.Kernel {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := lifecycle.Kernel{Events: s.pending, Dropped: s.dropped, LostNote: s.lossNote, LostAt: s.lossAt}
	s.pending, s.dropped, s.lossNote, s.lossAt = nil, 0, "", time.Time{}
	return k
}

// scanned hands the decoder the processes whose main thread exited before
// the connector saw it (before subscribing, or while it was behind).
func (s *connSource) scanned(snap *collector.Snapshot) {
	var pids []int
	for i := range snap.Processes {
		if p := &snap.Processes[i]; lifecycle.LeaderExited(p) {
			pids = append(pids, p.PID)
		}
	}
	if len(pids) == 0 {
		return
	}
	s.mu.Lock()
	s.leaders = append(s.leaders, pids...)
	if len(s.leaders) > maxLeaderGone {
		s.leaders = s.leaders[len(s.leaders)-maxLeaderGone:]
	}
	s.mu.Unlock()
}

// run receives connector events until ctx is done. On a receive error
// (ENOBUFS: the kernel dropped events) it resubscribes and asks for a
// rescan so the next frame's diff catches up.
func (s *connSource) run(ctx context.Context) {
	s.mu.Lock()
	k := s.conn
	s.mu.Unlock()
	first := k
	stop := context.AfterFunc(ctx, func() { first.close() })
	defer func() {
		stop()
		if k != nil {
			k.close()
			k.release()
		}
	}()
	batches := make(chan []procEvent, 1<<14)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.convertLoop(batches) }()
	defer wg.Wait()
	defer close(batches)
	var seqs seqTracker
	pause := time.NewTimer(0)
	<-pause.C
	busy := false
	for {
		// Events arriving often (the last receive did not wait long):
		// let them gather for a moment, so that the receive reads them in
		// one wake-up and the conversion looks them up in one batch,
		// instead of waking both goroutines for every fork and exit. Rare
		// events are read at once.
		if busy {
			pause.Reset(s.coalesce)
			select {
			case <-ctx.Done():
				return
			case <-pause.C:
			}
		}
		waitFrom := time.Now()
		buf, err := k.receive(nil)
		busy = time.Since(waitFrom) < s.coalesce
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			k.close()
			k.release()
			s.lost(fmt.Sprintf("kernel process events lost (%v) at %s: resubscribed and rescanned; events in between come from polling only",
				err, time.Now().UTC().Format("15:04:05.000")))
			if k = s.resubscribe(ctx); k == nil {
				return
			}
			seqs = seqTracker{}
			stop()
			nk := k
			stop = context.AfterFunc(ctx, func() { nk.close() })
			continue
		}
		if len(buf) == 0 {
			continue
		}
		s.received.Add(1)
		s.checkBarrier(buf)
		s.checkGaps(&seqs, buf)
		if !s.queue(batches, buf, k.emptyAtNs) {
			s.converted.Add(1)
			s.lost(fmt.Sprintf("%s dropped at %s: pinspect could not keep up; rescanned",
				lifecycle.CountOf(len(buf), "kernel process event", "kernel process events"), time.Now().UTC().Format("15:04:05.000")))
		}
		// Let the converter take the batch on this thread before the
		// receive blocks: on one P (serve, record), blocking first
		// handed the P to another thread woken to convert it.
		runtime.Gosched()
	}
}

// resubscribe dials the connector again, once a second, until it works
// (nil when ctx ends first).
func (s *connSource) resubscribe(ctx context.Context) *connector {
	for {
		if ctx.Err() != nil {
			return nil
		}
		k, err := dialConnector()
		if err == nil {
			s.mu.Lock()
			s.live, s.conn, s.note = true, k, s.baseNote
			s.mu.Unlock()
			return k
		}
		s.mu.Lock()
		s.live = false
		s.note = fmt.Sprintf("kernel process events unavailable after an error (%v): polling", err)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// checkGaps reports events the kernel dropped before they reached the
// socket (a gap in a CPU's numbering).
func (s *connSource) checkGaps(seqs *seqTracker, buf []procEvent) {
	var gap uint32
	for i := range buf {
		gap += seqs.gap(&buf[i])
	}
	if gap > 0 {
		s.lost(fmt.Sprintf("the kernel dropped %s before they reached pinspect (a gap in its numbering) at %s",
			lifecycle.CountOf(int(gap), "process event", "process events"), time.Now().UTC().Format("15:04:05.000")))
	}
}

// lost records that events were lost and asks for a rescan.
func (s *connSource) lost(note string) {
	s.losses.Add(1)
	s.mu.Lock()
	if s.lossNote == "" {
		s.lossNote, s.lossAt = note, time.Now()
	}
	s.mu.Unlock()
	s.rescan()
}

// convertLoop converts received events and queues them for the next take.
// The receives waiting are converted together (up to maxJoin), so their
// lookups are one call to the reader. Their lookups are made at once; a
// batch whose lookups named processes is held until every event the
// kernel sent up to execSettle after them was received and taken by the
// converter, so that an exec those lookups may have read after is known
// when its events are emitted (decoder.emit). The socket delivers in
// order, so the converter proves it from what it took: a receive that
// ended on an empty socket after that time, or an event stamped later
// than it by more than stampSkew; or, when nothing more comes, from the
// receiver waiting on an empty socket (receivedUpTo). A batch is held
// at most maxHold, and at most maxHeld are: a converter that stays
// behind the kernel still emits, late by its lag and a little more.
func (s *connSource) convertLoop(batches <-chan []procEvent) {
	var held []*batch
	hold := time.NewTimer(time.Hour)
	hold.Stop()
	defer hold.Stop()
	// provenNs is a time before which every event the kernel sent is in
	// the receives taken so far (held or emitted).
	var provenNs int64
	// starts and stamps are, for the receives joined in a batch, where
	// each one's events begin and its count of losses (lossesOf).
	var starts []int
	var stamps []uint64
	for {
		var buf []procEvent
		var ok bool
		if len(held) == 0 {
			buf, ok = <-batches
		} else {
			select {
			case buf, ok = <-batches:
			case <-hold.C:
				held = s.release(held, max(provenNs, s.receivedUpTo(batches)), false)
				s.rearm(hold, held)
				continue
			}
		}
		if !ok {
			s.release(held, 0, true)
			return
		}
		b := s.dec.emptyBatch()
		b.evs = append(b.evs, buf...)
		starts = append(starts[:0], 0)
		n := uint64(1)
	join:
		for ; n < maxJoin; n++ {
			select {
			case more, ok := <-batches:
				if !ok {
					break join
				}
				starts = append(starts, len(b.evs))
				b.evs = append(b.evs, more...)
			default:
				break join
			}
		}
		evs := b.evs
		s.mu.Lock()
		leaders := s.leaders
		s.leaders = nil
		s.mu.Unlock()
		s.dec.leadersExited(leaders)
		// Behind (a burst, or little CPU): skip the lookups of spawns and
		// exits, and look up only the execs worth it (lookUpHurried), so
		// the backlog drains; snapshots fill names in.
		now, mono := clockPair()
		// Each receive's count of losses, as it was queued (review4 S2:
		// the count when the batch was taken made a loss between two
		// receives joined here invisible between their events).
		stamps = s.lossesOf(int(n), stamps[:0])
		losses := s.losses.Load()
		if len(stamps) == len(starts) {
			losses = stamps[len(stamps)-1]
			if stamps[0] != losses {
				for i, l := range stamps {
					if i == 0 || l != stamps[i-1] {
						b.lossMarks = append(b.lossMarks, lossMark{at: starts[i], losses: l})
					}
				}
			}
		}
		b.setTaken(now, mono, len(batches) > hurryBacklog, losses)
		b.receives = n
		s.dec.prepare(b, held)
		s.noteExecs(evs)
		provenNs = max(provenNs, s.dequeued(int(n)), newestEventNs(evs)-int64(stampSkew))
		held = s.release(append(held, b), provenNs, false)
		s.rearm(hold, held)
	}
}

// newestEventNs is the latest kernel time of evs's events (0 when none
// has one).
func newestEventNs(evs []procEvent) int64 {
	var newest int64
	for i := range evs {
		newest = max(newest, int64(evs[i].TimestampNs))
	}
	return newest
}

// stampSkew is how much earlier than an event received another event
// may be stamped and still come after it on the socket: the kernel
// stamps an event before it queues it, and another CPU may queue one
// in between. An event stamped later than a time by more than this
// proves that every event stamped until that time was received before it.
const stampSkew = 10 * time.Millisecond

// maxHold is the longest a batch is held, and maxHeld the most batches
// held at once: past either the oldest is emitted with what is known
// then (a later exec not received yet may leave a name wrong). The
// proofs come about one backlog after a batch (the converter takes them
// off the queue in order); these bounds are for a backlog longer than
// that, or a proof that does not come, so that the hold neither keeps
// events from the frames nor grows.
const (
	maxHold = time.Second
	maxHeld = 64
)

// release emits, oldest first, the batches held whose settling time
// (batch.settledNs) is at or before upTo, the time before which every
// event the kernel sent has been taken by the converter, and those held
// too long (maxHold, maxHeld); all of them when all is set (the receiver
// has stopped). It returns the batches still held.
func (s *connSource) release(held []*batch, upTo int64, all bool) []*batch {
	n := 0
	now := monotonicNow()
	for n < len(held) && (all || held[n].settledNs() <= upTo || len(held)-n > maxHeld || now-held[n].monoNs >= int64(maxHold)) {
		n++
	}
	if n == 0 {
		s.noteHeld(held)
		return held
	}
	var out []lifecycle.KernelEvent
	var receives uint64
	for i, b := range held[:n] {
		s.noteLag(b.evs)
		out = s.dec.emit(out, b, held[i+1:])
		receives += b.receives
		s.dec.recycle(b)
	}
	if len(out) > 0 {
		s.mu.Lock()
		s.pending = appendBounded(s.pending, out, s.maxPending, &s.dropped)
		s.mu.Unlock()
	}
	s.unnamed.Store(s.dec.unnamedBehind)
	s.converted.Add(receives)
	rest := copy(held, held[n:])
	clear(held[rest:])
	held = held[:rest]
	s.noteHeld(held)
	return held
}

// noteHeld publishes the time of the oldest event held (behind).
func (s *connSource) noteHeld(held []*batch) {
	oldest := int64(0)
	if len(held) > 0 {
		oldest = oldestEventNs(held[0].evs)
	}
	s.heldOldestNs.Store(oldest)
}

// rearm sets the hold timer for the oldest batch held: one listener's
// wait after its settling time, or after now once that has passed, and
// no later than maxHold after it was taken. While events keep coming the
// next batch releases it first (the listener reads once a wait), so
// under churn the timer seldom fires; when they stop, the listener has
// read the socket empty by then and waits on it, which receivedUpTo can
// tell.
func (s *connSource) rearm(hold *time.Timer, held []*batch) {
	if len(held) == 0 {
		hold.Stop()
		return
	}
	now := monotonicNow()
	wait := max(time.Duration(held[0].settledNs()-now), 0) + max(s.coalesce, time.Millisecond)
	hold.Reset(min(wait, max(time.Duration(held[0].monoNs+int64(maxHold)-now), 0)))
}

// receivedUpTo returns a time before which every event the kernel sent
// has been queued to the converter, when the receiver proves it now: it
// waits on an empty socket and did not wake meanwhile, and nothing is
// queued for the converter. 0 when it cannot be told.
func (s *connSource) receivedUpTo(batches <-chan []procEvent) int64 {
	s.mu.Lock()
	k := s.conn
	s.mu.Unlock()
	if k == nil || k.closed.Load() {
		// Closed (an error, or the end): nothing more comes from it, and
		// whatever the next subscription brings follows a lost event.
		return monotonicNow()
	}
	gen := k.waits.Load()
	if gen%2 == 0 {
		return 0 // not waiting: reading, or about to
	}
	at := monotonicNow()
	if !k.queueEmpty() || k.waits.Load() != gen || len(batches) > 0 {
		return 0
	}
	return at
}

// noteExecs tells the reader which processes of evs called exec.
func (s *connSource) noteExecs(evs []procEvent) {
	if s.execs == nil {
		return
	}
	s.execPIDs = s.execPIDs[:0]
	for i := range evs {
		if evs[i].What == procEventExec {
			s.execPIDs = append(s.execPIDs, evs[i].TGID)
		}
	}
	if len(s.execPIDs) > 0 {
		s.execs(s.execPIDs)
	}
}

// DefaultConnectorCoalesce is how long the listener waits before reading
// again when events come more often than that (Options.ConnectorCoalesce):
// at most this much later, and every event still arrives in order (the
// socket buffer holds tens of thousands). A process gone before its
// lookup is named by what the events said of it: its parent's comm at
// fork, or a comm event's name; after an exec, by no name (the exec event
// carries none).
const DefaultConnectorCoalesce = 10 * time.Millisecond

// maxJoin is the most waiting receives converted together.
const maxJoin = 64

// hurryBacklog is the number of waiting receives (each of up to maxDrain
// datagrams) above which conversion stops looking up each new process.
const hurryBacklog = 256

// syncMarker is the comm a thread of pinspect takes to mark a point in
// the kernel's event stream (15 bytes at most).
const syncMarker = "pinspect-sync"

// barrier is a pending sync mark: the thread that renames itself, and the
// channel closed when the listener reads the rename.
type barrier struct {
	tid  int
	seen chan struct{}
}

// sync makes sure that every event the kernel queued on the socket before
// the call has been read and converted: a short-lived thread of pinspect
// renames itself to a marker, and the kernel queues that comm event
// behind every earlier one; when the listener reads it, everything before
// it has been read too. Then it waits for the conversion of what was read.
func (s *connSource) sync(ctx context.Context) error {
	s.mu.Lock()
	live := s.live
	s.mu.Unlock()
	if live {
		if err := s.barrierSync(ctx); err != nil {
			return err
		}
	}
	target := s.received.Load()
	for s.converted.Load() < target {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// barrierSync renames a fresh, locked OS thread to syncMarker and waits
// for the listener to read the resulting comm event. The thread ends with
// its goroutine (a goroutine that exits locked takes its thread with it),
// so no renamed thread remains.
func (s *connSource) barrierSync(ctx context.Context) error {
	seen := make(chan struct{})
	started := make(chan error, 1)
	go s.markThread(seen, started, nil)
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

// markThread locks its goroutine to an OS thread other than the main
// one, closes placed (when not nil) once there, renames the thread to
// syncMarker as the pending barrier and sends prctl's error on started;
// it exits locked, which ends the thread. The main thread is never
// renamed: its name is the process's (ps, and the children forked from
// it inherit it), and Go parks it rather than end it with a goroutine
// that exits locked, so the whole process stayed named pinspect-sync.
// A goroutine started while this one holds the main thread runs on
// another; this one waits until it is there, then lets the main thread
// go.
func (s *connSource) markThread(seen chan struct{}, started chan<- error, placed chan<- struct{}) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		moved := make(chan struct{})
		go s.markThread(seen, started, moved)
		<-moved
		runtime.UnlockOSThread()
		return
	}
	if placed != nil {
		close(placed)
	}
	s.mu.Lock()
	s.barrier = &barrier{tid: unix.Gettid(), seen: seen}
	s.mu.Unlock()
	name := []byte(syncMarker + "\x00")
	err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	runtime.KeepAlive(name)
	started <- err
}

// checkBarrier closes the pending barrier when buf holds its comm event.
func (s *connSource) checkBarrier(buf []procEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.barrier
	if b == nil {
		return
	}
	for _, ev := range buf {
		if ev.What == procEventComm && ev.PID == b.tid && ev.Comm == syncMarker {
			close(b.seen)
			s.barrier = nil
			return
		}
	}
}

// appendBounded appends out to pending, the events a kernel source holds
// for its next take, within maxPending: what does not fit is counted in
// *dropped (reported with the take) and left out.
func appendBounded(pending, out []lifecycle.KernelEvent, maxPending int, dropped *int) []lifecycle.KernelEvent {
	room := max(maxPending-len(pending), 0)
	if room < len(out) {
		*dropped += len(out) - room
		out = out[:room]
	}
	return append(pending, out...)
}

// takeExit removes the exit of process pid from evs and returns it,
// ok false when evs holds none: searched from the end, and not past a
// spawn or exec of the pid (a later process given it). A source that
// learns of a thread's end after it converted its process's exit puts
// the exit after that end with it: the process ended with its last
// thread, and nothing of a process comes after its exit.
func takeExit(evs []lifecycle.KernelEvent, pid int) ([]lifecycle.KernelEvent, lifecycle.KernelEvent, bool) {
	for j := len(evs) - 1; j >= 0; j-- {
		x := evs[j]
		if x.ID.PID != pid {
			continue
		}
		switch x.Type {
		case lifecycle.Exit:
			return slices.Delete(evs, j, j+1), x, true
		case lifecycle.Spawn, lifecycle.Exec:
			return evs, lifecycle.KernelEvent{}, false
		}
	}
	return evs, lifecycle.KernelEvent{}, false
}

// exitAfter appends thread end e and then x, the exit of its process
// taken from where it was (takeExit), dated no earlier than e.
func exitAfter(out []lifecycle.KernelEvent, e, x lifecycle.KernelEvent) []lifecycle.KernelEvent {
	if e.Time.After(x.Time) {
		x.Time = e.Time
	}
	return append(out, e, x)
}
