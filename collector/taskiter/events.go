package taskiter

// Process events from the scheduler's tracepoints (bpf/events.bpf.c):
// fork, exec and exit written by the kernel into a BPF ring buffer, each
// record already naming its process (pid, start time, comm, parent, wait
// status), and read by user space once a collection rather than on every
// event. The buffer's size is fixed (EventRingBytes); a record that finds
// it full is dropped and counted (Events.Lost), never queued elsewhere.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

// EventRingBytes is the size of the ring buffer the tracepoints write
// into: 512 KiB, 8,192 records of 64 bytes (eventRecordSize after the
// ring's 8-byte header), or about 890 execs (execRecordSize with its
// three paths: 584 bytes each). It is the most memory the events take,
// in the kernel and mapped into pinspect.
const EventRingBytes = 512 << 10

// EventWakeBytes is how full the ring must be before a record wakes the
// reader: below it the records wait for the next collection's read, with
// no wake-up at all. At 64 KiB (1,024 records) a fork storm of thousands
// of processes a second wakes the reader a few times a second, with the
// rest of the ring (7,168 records) as room while it drains.
const EventWakeBytes = 64 << 10

// EventKind says what a process event reports.
type EventKind uint32

// The kinds, as bpf/events.bpf.c writes them.
const (
	// EventFork is a new process (its first thread).
	EventFork EventKind = 1
	// EventExec is a process that exec'd; Comm is the new program's.
	EventExec EventKind = 2
	// EventExit is a process's end: its last thread exited. Two threads
	// ending at once may each write one (both found no thread left);
	// the last of them in the ring follows every EventThreadExit of
	// the process.
	EventExit EventKind = 3
	// EventThreadStart is a new thread in a process.
	EventThreadStart EventKind = 4
	// EventThreadExit is a thread's end that did not end its process.
	EventThreadExit EventKind = 5
)

// eventRecordSize is the size of struct proc_event, the record of every
// kind but EventExec.
const eventRecordSize = 56

// The layout of struct exec_event, EventExec's record: a proc_event, its
// flags, two path buffers of ExecPathBytes, then the executable's of
// ExecExeBytes.
const (
	execFlagsOffset  = 56
	execPathOffset   = 64
	execInterpOffset = execPathOffset + ExecPathBytes
	execExeOffset    = execInterpOffset + ExecPathBytes
	execRecordSize   = execExeOffset + ExecExeBytes

	execPathTruncated   = 1
	execInterpTruncated = 2
	execExeTruncated    = 4
	execExeUnknown      = 8
	execExeDeleted      = 16
)

// ExecExeBytes is the room of the executable's path in an exec record,
// its NUL included: a longer path is not kept (ProcEvent.ExeTruncated).
const ExecExeBytes = 256

// ExecPathBytes is the room of each path an exec record holds, its
// terminating NUL included: a longer path keeps its first
// ExecPathBytes-1 bytes and is said truncated.
const ExecPathBytes = 128

// ProcEvent is one record of the ring.
type ProcEvent struct {
	Kind EventKind
	// MonoNs is when the kernel wrote the record, on CLOCK_MONOTONIC (the
	// clock the proc connector stamps its events with).
	MonoNs uint64
	// StartBootNs is the process's start time, in ns since boot as
	// /proc shows it (this process's time namespace offset added):
	// StartTicks makes /proc/PID/stat's field 22 of it.
	StartBootNs uint64
	// TID is the thread the event is about; TGID its process.
	TID, TGID int
	// PPID is the process's parent (0 when not known).
	PPID int
	// Status is EventExit's wait status (as waitpid reports it).
	Status int32
	// Comm is the process's name when the event happened (for
	// EventExec, the new program's). Not sanitised.
	Comm string
	// ExecPath is EventExec's path as the caller gave it to execve
	// (the kernel's bprm->filename): not /proc/PID/exe, its symlinks not
	// resolved, possibly relative to the caller's directory, /dev/fd/N
	// for an fexecve. "" for every other kind. Not sanitised.
	ExecPath string
	// ExecInterp is, when EventExec's file is a script or a binfmt_misc
	// program, the interpreter the kernel runs instead (bprm->interp:
	// a script's #! path); "" otherwise. Not sanitised.
	ExecInterp string
	// ExecPathTruncated and ExecInterpTruncated say that the path did
	// not fit in ExecPathBytes and holds its beginning only.
	ExecPathTruncated, ExecInterpTruncated bool
	// Exe is EventExec's new executable as /proc/PID/exe names it to a
	// reader at its mount namespace's root, without the " (deleted)"
	// mark (ExeDeleted), as collector.ProcExe has it: the path of the
	// kernel's mm->exe_file, walked by the exec program as d_path walks
	// it (symlinks resolved; a script's interpreter; a memfd's
	// "/memfd:NAME"). "" for every other kind and when not known: the
	// path did not fit ExecExeBytes (ExeTruncated) or could not be
	// walked. Not sanitised.
	Exe string
	// ExeDeleted says the executable had no name left (unlinked, or a
	// memfd): /proc/PID/exe shows Exe + " (deleted)".
	ExeDeleted bool
	// ExeTruncated says that Exe is "" because the path was longer
	// than ExecExeBytes-1 bytes (or deeper than the walk goes).
	ExeTruncated bool
}

// StartTicks is the process's start time in clock ticks since boot
// (/proc/PID/stat field 22), made as the task iterator makes it.
func (e *ProcEvent) StartTicks() uint64 { return NsToTicks(e.StartBootNs) }

// Events is the process-event program, loaded and attached to the three
// tracepoints, and the reader of its ring. Receive, Lost and Close are
// for one goroutine; Flush and Stop may be called from any.
type Events struct {
	objs       procEventsObjects
	links      []link.Link
	rd         *ringbuf.Reader
	bootOffset uint64
	rec        ringbuf.Record
	closeOnce  sync.Once
	closeErr   error
}

// EventsUnavailableError says why the process-event program cannot be
// used here, in one line for the user.
type EventsUnavailableError struct {
	Detail string
	Err    error
}

// Error is "BPF process events unavailable: <detail>".
func (e *EventsUnavailableError) Error() string {
	return "BPF process events unavailable: " + e.Detail
}

// Unwrap returns the underlying error.
func (e *EventsUnavailableError) Unwrap() error { return e.Err }

// eventsUnavailable makes an EventsUnavailableError of a load or attach
// error, with the task iterator's classification of it.
func eventsUnavailable(err error) error {
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return &EventsUnavailableError{Detail: ue.Detail, Err: err}
	}
	return &EventsUnavailableError{Detail: firstLine(err.Error()), Err: err}
}

// OpenEvents loads the process-event program against the running
// kernel's BTF and attaches it. Every failure is an
// *EventsUnavailableError saying why in one line (no BTF, BPF denied, a
// tracepoint the kernel lacks, the verifier's rejection).
func OpenEvents() (*Events, error) { return OpenEventsSized(EventRingBytes) }

// OpenEventsSized is OpenEvents with a ring of ringBytes (a power of two
// and a multiple of the page size) instead of EventRingBytes: a test of
// what happens when the ring overflows fills a small one with a few
// processes. The wake threshold stays EventWakeBytes, so a ring no larger
// than it never wakes the reader: only Flush has it read.
func OpenEventsSized(ringBytes uint32) (*Events, error) {
	if err := checkKernel(DefaultKernelBTF); err != nil {
		return nil, eventsUnavailable(err)
	}
	spec, err := loadProcEvents()
	if err != nil {
		return nil, &EventsUnavailableError{Detail: "the embedded BPF object does not parse", Err: err}
	}
	spec.Maps[procEventsMapEvents].MaxEntries = ringBytes
	wake := spec.Variables[procEventsVarWakeBytes]
	if wake == nil {
		return nil, &EventsUnavailableError{Detail: "the embedded BPF object has no wake_bytes",
			Err: errors.New("no variable " + procEventsVarWakeBytes)}
	}
	if err := wake.Set(uint64(EventWakeBytes)); err != nil {
		return nil, &EventsUnavailableError{Detail: "the embedded BPF object's wake_bytes cannot be set", Err: err}
	}
	ev := &Events{bootOffset: uint64(bootOffsetNs(timensOffsets))}
	if err := spec.LoadAndAssign(&ev.objs, nil); err != nil {
		return nil, eventsUnavailable(classify(err))
	}
	for _, p := range []*ebpf.Program{ev.objs.PinspectFork, ev.objs.PinspectExec, ev.objs.PinspectExit} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			_ = ev.Close()
			return nil, eventsUnavailable(classify(err))
		}
		ev.links = append(ev.links, l)
	}
	ev.rd, err = ringbuf.NewReader(ev.objs.Events)
	if err != nil {
		_ = ev.Close()
		return nil, eventsUnavailable(err)
	}
	return ev, nil
}

// Close detaches the programs and unloads them with their maps. A
// Receive in progress returns ErrEventsClosed. Calls after the first return
// its result.
func (ev *Events) Close() error {
	ev.closeOnce.Do(func() { ev.closeErr = ev.close() })
	return ev.closeErr
}

func (ev *Events) close() error {
	var errs []error
	for _, l := range ev.links {
		errs = append(errs, l.Close())
	}
	ev.links = nil
	if ev.rd != nil {
		if err := ev.rd.Close(); !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, ev.objs.Close())
	return errors.Join(errs...)
}

// ErrEventsClosed is Receive's error after Stop or Close.
var ErrEventsClosed = errors.New("BPF process events closed")

// Stop ends a Receive in progress (and every later one) with
// ErrEventsClosed, leaving the programs loaded until Close: it may be
// called from any goroutine while another receives.
func (ev *Events) Stop() {
	if ev.rd != nil {
		_ = ev.rd.Close()
	}
}

// Receive waits until the ring passes EventWakeBytes or Flush is called,
// then hands visit every record the ring holds, in the order the kernel
// wrote them, and returns: flushed is true when a Flush ended the wait
// (or came during the reading). visit's event is reused after it
// returns. After Stop or Close it returns ErrEventsClosed.
func (ev *Events) Receive(visit func(*ProcEvent)) (flushed bool, err error) {
	ev.rd.SetDeadline(time.Time{})
	var e ProcEvent
	for {
		err := ev.rd.ReadInto(&ev.rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return flushed, nil
		case errors.Is(err, ringbuf.ErrFlushed):
			flushed = true
			// Read what is left without waiting again.
			ev.rd.SetDeadline(time.Unix(1, 0))
			continue
		case errors.Is(err, ringbuf.ErrClosed), errors.Is(err, os.ErrClosed):
			return flushed, ErrEventsClosed
		case err != nil:
			return flushed, err
		}
		if ev.decode(&e, ev.rec.RawSample) {
			visit(&e)
		}
		// The first record ends the wait: the rest are read without one.
		ev.rd.SetDeadline(time.Unix(1, 0))
	}
}

// decode fills e from a record, each taken by its own length: an exec's
// holds its paths after the fields every record has. false when the
// record is not one (a layout this package does not know).
func (ev *Events) decode(e *ProcEvent, b []byte) bool {
	if len(b) < eventRecordSize {
		return false
	}
	bo := binary.NativeEndian
	e.MonoNs = bo.Uint64(b[0:])
	e.StartBootNs = bo.Uint64(b[8:]) + ev.bootOffset
	e.Kind = EventKind(bo.Uint32(b[16:]))
	e.TID = int(int32(bo.Uint32(b[20:])))
	e.TGID = int(int32(bo.Uint32(b[24:])))
	e.PPID = int(int32(bo.Uint32(b[28:])))
	e.Status = int32(bo.Uint32(b[32:]))
	e.Comm = cString(e.Comm, b[40:56])
	e.ExecPath, e.ExecInterp, e.ExecPathTruncated, e.ExecInterpTruncated = "", "", false, false
	e.Exe, e.ExeDeleted, e.ExeTruncated = "", false, false
	if e.Kind == EventExec {
		if len(b) < execRecordSize {
			return false
		}
		flags := bo.Uint32(b[execFlagsOffset:])
		e.ExecPath = cString("", b[execPathOffset:execInterpOffset])
		e.ExecInterp = cString("", b[execInterpOffset:execRecordSize])
		e.ExecPathTruncated = flags&execPathTruncated != 0
		e.ExecInterpTruncated = flags&execInterpTruncated != 0
		e.ExeTruncated = flags&execExeTruncated != 0
		if flags&(execExeTruncated|execExeUnknown) == 0 {
			e.Exe = cString("", b[execExeOffset:execRecordSize])
			e.ExeDeleted = flags&execExeDeleted != 0
		}
	}
	return true
}

// cString is the NUL-terminated string at the start of c: old itself when
// equal (a comm repeated, not allocated again).
func cString(old string, c []byte) string {
	n := 0
	for n < len(c) && c[n] != 0 {
		n++
	}
	if old != string(c[:n]) {
		return string(c[:n])
	}
	return old
}

// Flush makes a Receive in progress (or the next) read what the ring
// holds now and return with flushed set, without waiting for the ring to
// fill.
func (ev *Events) Flush() error { return ev.rd.Flush() }

// Lost is the number of records the tracepoints dropped since the load
// because the ring was full.
func (ev *Events) Lost() (uint64, error) {
	var n uint64
	if err := ev.objs.Lost.Lookup(uint32(0), &n); err != nil {
		return 0, fmt.Errorf("reading the process events' drop count: %w", err)
	}
	return n, nil
}
