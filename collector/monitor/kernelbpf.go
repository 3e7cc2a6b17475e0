package monitor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/taskiter"
)

// The notes a frame carries about BPF process events.
const (
	noteTracepoints = noteTracepointsPrefix + ", read at each scan)"
	// noteTracepointsPrefix begins every note of frames whose events come
	// from the tracepoints, this version's and earlier ones' (records
	// keep the note: EventsSourceOf).
	noteTracepointsPrefix = "kernel process events (BPF tracepoints"
	// noteBPFFallback prefixes the connector's note when the tracepoints
	// were asked for and could not be used.
	noteBPFFallback = "%s; BPF tracepoints not used: %v"
)

// EventsSourceOf names the source of a frame's kernel events from its
// EventsLive and EventsNote, which records keep: lifecycle.SourcePoll
// when not live, lifecycle.SourceTracepoint for the BPF tracepoints,
// lifecycle.SourceConnector otherwise.
func EventsSourceOf(live bool, note string) string {
	switch {
	case !live:
		return lifecycle.SourcePoll
	case strings.HasPrefix(note, noteTracepointsPrefix):
		return lifecycle.SourceTracepoint
	}
	return lifecycle.SourceConnector
}

// tpSource is the kernel source of BPF programs on the scheduler's fork,
// exec and exit tracepoints (taskiter.Events): the kernel writes each
// event, already naming its process, into a ring buffer that is read
// before and after each scan (read) and when it passes its fill
// threshold, never once an event. Nothing of /proc is read to name an
// event: the record holds the process's start time, its comm after an
// exec, its parent and the wait status of its end. One goroutine (run)
// reads the ring and converts.
type tpSource struct {
	ev         *taskiter.Events
	threads    bool
	maxPending int
	rescan     func()
	// execs, when set, is told the pids of the exec events of each read
	// (the reader's NoteExecs).
	execs func(pids []int)

	// drainMu makes the drains (take, sync) one at a time, so that each
	// Flush has its own answer from the reading goroutine.
	drainMu sync.Mutex
	// flushed receives one value when run has read everything the ring
	// held at a Flush.
	flushed chan struct{}
	// done is closed when run returns.
	done chan struct{}

	// Owned by run's goroutine.
	comms map[int]tpProc
	// ends are the last processes whose end a record said, and the
	// thread whose record said it: a process ends once (endOf).
	ends   [8]tpEnd
	endsAt int
	// threadEnds is, for this read, the latest time a thread of each
	// process was seen to end: its exit is not dated before it.
	threadEnds map[int]time.Time
	execPIDs   []int
	lostSeen   uint64
	// lostUnread is set once reading the drop count failed (noted once).
	lostUnread bool
	// clockWall and clockMono are one moment on the wall and monotonic
	// clocks, read again for each record written after it (convert).
	clockWall time.Time
	clockMono int64

	mu      sync.Mutex
	pending []lifecycle.KernelEvent
	dropped int
	// lostCount is the records the kernel dropped since the last take,
	// lossAt when the last of them was noticed; lostErr says why the
	// drop count could not be read, once.
	lostCount uint64
	lossAt    time.Time
	lostErr   string
	live      bool
	note      string
}

// tpReadWait bounds how long a read before or after a scan waits for the
// reading goroutine (which converts at most a ring of records): past it
// the frame goes on, and what was not read yet goes to the next one.
const tpReadWait = 2 * time.Second

// tpRingBytes, when not 0, is the ring's size instead of
// taskiter.EventRingBytes: a test that overflows it sets it small.
var tpRingBytes uint32

// tpEnd is a process whose end a record said, and the thread whose
// record it was.
type tpEnd struct {
	id  collector.ID
	tid int
}

// tpProc is what the tracepoint source remembers of a process it saw
// forked or exec'd: its start time and name, so that an exec says the
// name it replaced, and the path and executable of its last exec, so
// that its next exec says the exe it replaced and its exit names the
// program even when no scan saw it.
type tpProc struct {
	start uint64
	comm  string
	exec  *lifecycle.ExecPath
	exe   string
}

// openTracepoints opens the BPF process events for a reader that scans
// with the task iterator (the same decision: where the iterator loads,
// so do these, with the same capabilities), or says why not.
func openTracepoints(r *collector.Reader, o Options, rescan func()) (kernelSource, error) {
	if b, why := r.Backend(); b != collector.BackendTaskIter {
		if why == nil {
			why = errors.New("the scans read /proc")
		}
		return nil, why
	}
	ring := uint32(taskiter.EventRingBytes)
	if tpRingBytes != 0 {
		ring = tpRingBytes
	}
	ev, err := taskiter.OpenEventsSized(ring)
	if err != nil {
		return nil, err
	}
	return &tpSource{ev: ev, threads: o.Threads || o.ThreadDemand, maxPending: o.MaxPending, rescan: rescan, execs: r.NoteExecs,
		flushed: make(chan struct{}, 1), done: make(chan struct{}), comms: make(map[int]tpProc), threadEnds: make(map[int]time.Time), live: true, note: noteTracepoints}, nil
}

func (s *tpSource) status() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live, s.note
}

// run reads the ring until ctx is done, then unloads the programs. A
// read a drain waits for is answered before anything that may wait on
// the monitor (the rescan a loss asks for).
func (s *tpSource) run(ctx context.Context) {
	defer close(s.done)
	stop := context.AfterFunc(ctx, s.ev.Stop)
	defer stop()
	for {
		s.execPIDs = s.execPIDs[:0]
		clear(s.threadEnds)
		var out []lifecycle.KernelEvent
		flushed, err := s.ev.Receive(func(e *taskiter.ProcEvent) { out = s.convert(out, e) })
		s.queue(out)
		if len(s.execPIDs) > 0 && s.execs != nil {
			s.execs(s.execPIDs)
		}
		lost := s.checkLost()
		if flushed {
			select {
			case s.flushed <- struct{}{}:
			default:
			}
		}
		if lost {
			s.rescan()
		}
		if err != nil {
			if !errors.Is(err, taskiter.ErrEventsClosed) {
				s.mu.Lock()
				s.live, s.note = false, fmt.Sprintf("kernel process events (BPF tracepoints) stopped (%v): polling", err)
				s.mu.Unlock()
			}
			_ = s.ev.Close()
			return
		}
	}
}

// queue adds converted events to what the next take returns, within
// maxPending.
func (s *tpSource) queue(out []lifecycle.KernelEvent) {
	if len(out) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = appendBounded(s.pending, out, s.maxPending, &s.dropped)
}

// checkLost adds the records the tracepoints dropped for want of room in
// the ring since the last check to what the next take reports, and says
// whether a rescan is needed (some were). A drop count that cannot be
// read is reported once, in the next take's loss note.
func (s *tpSource) checkLost() bool {
	n, err := s.ev.Lost()
	if err != nil {
		if !s.lostUnread {
			s.lostUnread = true
			s.mu.Lock()
			s.lostErr = fmt.Sprintf("the count of process events the kernel dropped could not be read (%v): losses from now on may go unreported", err)
			s.mu.Unlock()
		}
		return false
	}
	if n <= s.lostSeen {
		return false
	}
	gone := n - s.lostSeen
	s.lostSeen = n
	s.mu.Lock()
	s.lostCount += gone
	s.lossAt = time.Now()
	s.mu.Unlock()
	return true
}

// lossNote is the loss the next take reports ("" for none); s.mu held.
func (s *tpSource) lossNote() string {
	var parts []string
	if s.lostCount > 0 {
		parts = append(parts, fmt.Sprintf("the kernel dropped %s (the BPF ring buffer was full) before %s: rescanned",
			lifecycle.CountOf(int(min(s.lostCount, math.MaxInt32)), "process event", "process events"), s.lossAt.UTC().Format("15:04:05.000")))
	}
	if s.lostErr != "" {
		parts = append(parts, s.lostErr)
	}
	return strings.Join(parts, "; ")
}

// convert turns one ring record into a lifecycle input (appended to out),
// stamped on the wall clock by its age. The clock pair is read again for
// a record written after it (the first of each read that waited, and any
// written while the read went on), so an event's time is never that of
// an earlier moment.
func (s *tpSource) convert(out []lifecycle.KernelEvent, ev *taskiter.ProcEvent) []lifecycle.KernelEvent {
	t := int64(ev.MonoNs)
	if t > s.clockMono || s.clockWall.IsZero() {
		s.clockWall, s.clockMono = clockPair()
	}
	at := s.clockWall
	if t != 0 && t <= s.clockMono {
		at = s.clockWall.Add(-time.Duration(s.clockMono - t))
	}
	id := collector.ID{PID: ev.TGID, StartTicks: ev.StartTicks()}
	e := lifecycle.KernelEvent{Event: lifecycle.Event{Time: at, Source: lifecycle.SourceTracepoint, ID: id, Comm: ev.Comm}}
	switch ev.Kind {
	case taskiter.EventFork:
		e.Type, e.PPID, e.StartRead = lifecycle.Spawn, ev.PPID, true
		s.remember(ev.TGID, tpProc{start: id.StartTicks, comm: ev.Comm})
	case taskiter.EventExec:
		// The record names the new executable (events.bpf.c walks
		// mm->exe_file's path); "" when it could not, and the scans then
		// fill it where they can (lifecycle's fillExecExes).
		e.Type, e.Exe = lifecycle.Exec, ev.Exe
		if old, ok := s.comms[ev.TGID]; ok && old.start == id.StartTicks {
			e.OldComm, e.OldExe = old.comm, old.exe
		}
		if ev.ExecPath != "" || ev.ExecInterp != "" {
			e.ExecPath = &lifecycle.ExecPath{Path: ev.ExecPath, Interp: ev.ExecInterp,
				PathTruncated: ev.ExecPathTruncated, InterpTruncated: ev.ExecInterpTruncated}
		}
		s.remember(ev.TGID, tpProc{start: id.StartTicks, comm: ev.Comm, exec: e.ExecPath, exe: ev.Exe})
		s.execPIDs = append(s.execPIDs, ev.TGID)
	case taskiter.EventExit:
		e.Type, e.PPID = lifecycle.Exit, ev.PPID
		es := collector.DecodeWaitStatus(int64(ev.Status))
		e.ExitStatus = &es
		if old, ok := s.comms[ev.TGID]; ok && old.start == id.StartTicks {
			e.ExecPath, e.Exe = old.exec, old.exe
		}
		delete(s.comms, ev.TGID)
		return s.exit(out, e, ev.TID)
	case taskiter.EventThreadStart, taskiter.EventThreadExit:
		if ev.Kind == taskiter.EventThreadExit {
			s.threadEnded(ev.TGID, at)
		}
		if !s.threads {
			return out
		}
		e.Type, e.TID = lifecycle.ThreadStart, ev.TID
		if ev.Kind == taskiter.EventThreadExit {
			e.Type = lifecycle.ThreadExit
		}
	default:
		return out
	}
	return append(out, e)
}

// exit appends exit e of a process, whose record thread tid wrote.
// The thread that ends a process is reported by its exit alone. Two
// threads ending at once may both write the end (each found no thread
// left); the kernel places the last such record after every other
// record of the process's threads (events.bpf.c), so the last one is
// the process's end and the earlier ones are thread ends: an exit
// converted earlier, in out or still pending, becomes the thread_exit
// of its thread (nothing for the leader, whose end is never a thread's),
// and e follows it. An earlier exit already taken stays the process's
// end, and e is then a thread_exit after it: never lost.
func (s *tpSource) exit(out []lifecycle.KernelEvent, e lifecycle.KernelEvent, tid int) []lifecycle.KernelEvent {
	if t, ok := s.threadEnds[e.ID.PID]; ok && t.After(e.Time) {
		e.Time = t // the record was stamped a moment late
	}
	i := s.endOf(e.ID)
	if i < 0 {
		s.ends[s.endsAt%len(s.ends)] = tpEnd{id: e.ID, tid: tid}
		s.endsAt++
		return append(out, e)
	}
	earlier := s.ends[i].tid
	if earlier == tid {
		return out
	}
	s.ends[i].tid = tid
	var x lifecycle.KernelEvent
	var ok bool
	if out, x, ok = takeExit(out, e.ID.PID); !ok {
		s.mu.Lock()
		s.pending, x, ok = takeExit(s.pending, e.ID.PID)
		s.mu.Unlock()
	}
	if ok && e.ExecPath == nil {
		e.ExecPath, e.Exe = x.ExecPath, x.Exe // the first record took them from comms
	}
	switch {
	case ok && s.threads && earlier != e.ID.PID:
		x.Type, x.TID, x.PPID, x.ExitStatus, x.ExecPath, x.Exe = lifecycle.ThreadExit, earlier, 0, nil, nil, ""
		return exitAfter(out, x, e)
	case ok:
		if x.Time.After(e.Time) {
			e.Time = x.Time
		}
		return append(out, e)
	case !s.threads || tid == e.ID.PID:
		return out
	}
	e.Type, e.TID, e.PPID, e.ExitStatus, e.ExecPath, e.Exe = lifecycle.ThreadExit, tid, 0, nil, nil, ""
	return append(out, e)
}

// endOf is the index in s.ends of process id's end, -1 when none.
func (s *tpSource) endOf(id collector.ID) int {
	for i := range s.ends {
		if s.ends[i].id == id {
			return i
		}
	}
	return -1
}

// threadEnded notes that a thread of process pid ended at at (this read).
func (s *tpSource) threadEnded(pid int, at time.Time) {
	if t, ok := s.threadEnds[pid]; !ok || t.Before(at) {
		s.threadEnds[pid] = at
	}
}

// remember keeps what is known of process pid, within maxComms.
func (s *tpSource) remember(pid int, p tpProc) {
	if len(s.comms) >= maxComms {
		clear(s.comms)
	}
	s.comms[pid] = p
}

// drain has run read everything the ring holds now (or returns when ctx
// is done or run has ended).
func (s *tpSource) drain(ctx context.Context) error {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	select {
	case <-s.done:
		return nil
	default:
	}
	// A signal left by an earlier drain that stopped waiting answers an
	// earlier Flush, not this one.
	select {
	case <-s.flushed:
	default:
	}
	if err := s.ev.Flush(); err != nil {
		return nil // closed: nothing more comes
	}
	select {
	case <-s.flushed:
		return nil
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// read has the ring read now, waiting at most tpReadWait: before a scan,
// so that the reader knows of the execs since the last one (NoteExecs)
// before it reuses what it read of those processes; after it, so that
// take returns every event until then.
func (s *tpSource) read(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, tpReadWait)
	defer cancel()
	_ = s.drain(ctx)
}

// take returns what was received since the last take, without waiting.
func (s *tpSource) take() lifecycle.Kernel {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := lifecycle.Kernel{Events: s.pending, Dropped: s.dropped, LostNote: s.lossNote(), LostAt: s.lossAt, Source: lifecycle.SourceTracepoint}
	s.pending, s.dropped, s.lostCount, s.lossAt, s.lostErr = nil, 0, 0, time.Time{}, ""
	return k
}

// sync: the tracepoints write each event into the ring before the system
// call that made it returns, so a read of the ring now holds every event
// before the call.
func (s *tpSource) sync(ctx context.Context) error { return s.drain(ctx) }

// scanned: the records name their processes, so the scans tell this
// source nothing.
func (s *tpSource) scanned(*collector.Snapshot) {}

// behind is 0: the read after each scan has everything the kernel wrote
// until then read for the take, so the events a frame gets are never
// behind it; events are up to an interval old when read by design, and a
// ring that overflowed says so as a loss (checkLost), not as a lag.
func (s *tpSource) behind() time.Duration { return 0 }

// unnamedBehind: every exec is named by its record.
func (s *tpSource) unnamedBehind() uint64 { return 0 }
