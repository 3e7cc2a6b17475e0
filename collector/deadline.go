package collector

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultReadTimeout is the default per-read deadline for reads that can
// block (see Options.ReadTimeout).
const DefaultReadTimeout = 200 * time.Millisecond

// MaxStuckReads is the default stuck-read budget of a Reader's snapshots,
// and another of its address spaces (see StuckBudget). Each stuck read
// holds one goroutine and one OS thread; past the budget, blocking-prone
// reads fail at once with ErrTimeout instead of risking another stuck
// thread. The default budgets of all Readers of a process together hold
// at most four times as many.
const MaxStuckReads = 8

// maxStuckProcess caps the stuck reads charged to the default budgets of
// all Readers of the process together.
const maxStuckProcess = 4 * MaxStuckReads

// StuckBudget bounds the reads abandoned at their deadline that are still
// blocked in the kernel: each holds an OS thread until the read returns.
// A read is charged to the budget it was started under, and to every
// ancestor of that budget; a read is not started while any of them is
// spent (its field says "skipped (reads stuck)").
//
// A Reader's snapshots and its address spaces each have a budget of
// MaxStuckReads under one process-wide budget (maxStuckProcess), unless
// Options.StuckBudget or AddrOptions.StuckBudget says otherwise. A program
// that reads on behalf of others (pinspect serve's API) gives those reads
// budgets of their own, outside the scanner's: then no number of
// requests can spend the reads the scanner needs. A budget is safe for
// concurrent use.
type StuckBudget struct {
	max    int32
	parent *StuckBudget
	n      atomic.Int32
}

// NewStuckBudget returns a budget of max stuck reads under parent (nil
// for none). With max <= 0 no read may be risked: every blocking-prone
// read under it is skipped.
func NewStuckBudget(max int, parent *StuckBudget) *StuckBudget {
	return &StuckBudget{max: int32(max), parent: parent}
}

// Stuck returns how many reads charged to b are still blocked.
func (b *StuckBudget) Stuck() int {
	if b == nil {
		return 0
	}
	return int(b.n.Load())
}

// spent reports whether b or an ancestor has no room for another stuck
// read.
func (b *StuckBudget) spent() bool {
	for ; b != nil; b = b.parent {
		if b.n.Load() >= b.max {
			return true
		}
	}
	return false
}

// charge counts one more stuck read in b and its ancestors; release
// takes it back when the read returns.
func (b *StuckBudget) charge() {
	for ; b != nil; b = b.parent {
		b.n.Add(1)
	}
}

func (b *StuckBudget) release() {
	for ; b != nil; b = b.parent {
		b.n.Add(-1)
	}
}

// processBudget is the parent of every Reader's default budgets: the OS
// threads held by reads that may never return are a process-wide
// resource. It and stuckTargets are the collector's package-level state,
// on purpose: both describe the process and the machine, not a Reader.
var processBudget = NewStuckBudget(maxStuckProcess, nil)

// stuckTargets counts, per target (a process directory, "ROOT/PID"), the
// reads of its files abandoned and still blocked, by any Reader: a
// process known to hang is not read again, by anyone, until its stuck
// read returns ("timeout (still stuck)"). Its cmdline, maps, smaps and
// smaps_rollup all take the same mmap lock, so one stuck read is enough
// to know the others would block too.
var stuckTargets = struct {
	sync.Mutex
	m map[string]int
}{m: make(map[string]int)}

// targetStuck reports whether a read of target is stuck.
func targetStuck(target string) bool {
	stuckTargets.Lock()
	defer stuckTargets.Unlock()
	return stuckTargets.m[target] > 0
}

func markTarget(target string, delta int) {
	stuckTargets.Lock()
	defer stuckTargets.Unlock()
	if n := stuckTargets.m[target] + delta; n > 0 {
		stuckTargets.m[target] = n
	} else {
		delete(stuckTargets.m, target)
	}
}

// targetOf returns the target of a NUL-terminated path under root: root
// and the first path element after it (the process directory), or the
// whole path when it is not under root.
func targetOf(root string, path []byte) string {
	path = bytes.TrimSuffix(path, []byte{0})
	rest, ok := bytes.CutPrefix(path, []byte(root))
	if !ok || root == "" {
		return string(path)
	}
	rest = bytes.TrimLeft(rest, "/")
	if i := bytes.IndexByte(rest, '/'); i >= 0 {
		return string(path[:len(path)-len(rest)+i])
	}
	return string(path)
}

// ErrTimeout is the error of a read abandoned at its deadline. The reads
// not attempted because the same process has a read still stuck from
// earlier, or because the stuck-read budget is spent, wrap it. Reason
// shows "timeout", "timeout (still stuck)" and "skipped (reads stuck)".
var ErrTimeout = errors.New("read timed out")

// errStillStuck and errStuckCap are the reads not attempted.
var (
	errStillStuck = fmt.Errorf("%w: a read of this process is still stuck", ErrTimeout)
	errStuckCap   = fmt.Errorf("%w: stuck-read budget spent, not reading more", ErrTimeout)
)

// deadlineReads runs reads that can block on helper goroutines and gives
// up on them at a deadline.
//
// Reading /proc/PID/cmdline (and maps, smaps, environ) takes the target's
// mmap lock and reads its memory: a process stuck in D state holding that
// lock, or an argv area backed by a hung FUSE or NFS file, makes read(2)
// sleep uninterruptibly, and no signal or close can get the thread back.
// So such reads are handed to a worker goroutine with its own buffer; the
// caller waits at most the deadline, then abandons the worker, which is
// retired when its read finally returns. A worker whose thread is runnable
// at the deadline (a loaded machine, not a stuck read), or parked by the
// Go runtime, gets further deadlines, up to maxExtensions in all; one that
// is not inside a read (not started yet, or between two items of a batch)
// always does. Abandoned workers are counted and
// charged to a StuckBudget, and a process with a read still stuck is not
// read again until that read returns (stuckTargets).
//
// One deadlineReads belongs to one Reader and is used by one goroutine at a
// time (like the Reader); its stuck bookkeeping is shared with the
// abandoned workers under mu.
type deadlineReads struct {
	timeout time.Duration // <= 0: read inline, no deadline
	idle    *readWorker   // a worker ready for the next read
	one     batch         // the batch of read, reused
	timer   *time.Timer
	base    time.Time // origin of now
	// use makes the callers take turns: a Reader's address-space reads
	// may run on another goroutine than its snapshots.
	use sync.Mutex
	// closed is set by close, under use: later reads fail with ErrClosed
	// and start no worker.
	closed bool

	root   string       // the /proc root: a path's target is root/PID
	budget *StuckBudget // charged for every read abandoned here
	// rootDir is root opened (O_PATH) for the batches of a proc file
	// system, whose items are opened relative to it (batch.dirfd); -1
	// when it could not be opened. rootTried: opened at the first such
	// batch. Closed by close, under use.
	rootDir   int
	rootTried bool

	mu     sync.Mutex
	nstuck int // reads abandoned here and still blocked
}

// readWorker is one helper goroutine. Its fields are owned by the caller
// while idle and by the goroutine while a job is in flight, but for path,
// abandoned and finished, which are guarded by deadlineReads.mu.
type readWorker struct {
	req  chan readJob
	res  chan error    // the job's error (streams) once it is finished
	done chan struct{} // closed when the goroutine returns
	path []byte        // the file being read (the batch item in flight)
	// target is path's target, set when the worker is abandoned: its
	// stuck mark and budget charge are taken back when the read returns.
	target string
	buf    []byte
	line   []byte // stream's line buffer (mapsBufSize), made on first use

	// abandoned is set by the caller at the deadline; finished is set by
	// the worker when the whole job is done.
	abandoned bool
	finished  bool

	// tid is the OS thread doing the reads (the worker is pinned to it),
	// so that a read past its deadline can be told apart: asleep in the
	// kernel (stuck) or waiting for a CPU (a loaded machine, not a stuck
	// file). 0 until the worker has started.
	tid atomic.Int32
	// item is the index of the batch item being read (-1 before the
	// first), and started when its read began (nanoseconds on
	// deadlineReads.now): each item has its own deadline.
	item    atomic.Int64
	started atomic.Int64
	// reading is set while the worker is inside open(2)/read(2) of an
	// item (or a stream's parse): only then can it be stuck in the
	// kernel. Between items it is running Go code, or parked by the Go
	// runtime, and always gets more time.
	reading atomic.Bool
	// progress counts the read(2) calls a streaming job has completed: a
	// long maps file that is still being read is slow, not stuck.
	progress atomic.Uint64
}

// readJob is one request to a worker: the reads of a batch from item
// from on, or a streaming parse (stream non-nil) of the lines of one file.
type readJob struct {
	batch  *batch
	from   int
	stream func(*lineReader) error
	// call is a system call that may block on the file system behind
	// path (deadlineReads.call).
	call func() error
	// progress, when set, tells how far a call has come (it is called
	// while the call runs): a call that moves on between two deadlines
	// gets another, as a stream does (deadlineReads.callWatched).
	progress func() uint64
	path     []byte // the stream's or the call's file
}

// batch is a list of whole-file reads that one worker job does one after
// the other, each under its own deadline: a snapshot's cmdline files are
// read as one batch, so the handoff to the worker thread (two futex wakes
// and a timer, ~40 µs, measured as 15 % of a cold snapshot when paid per
// process) is paid once per snapshot.
//
// The caller fills paths with add, runs deadlineReads.readBatch, and then
// reads each item's result; out and data are written by the workers under
// deadlineReads.mu and must not be touched while readBatch runs.
type batch struct {
	paths []byte // NUL-terminated paths back to back
	ends  []int  // ends[i] is the end of path i in paths (after its NUL)
	max   int    // read cap of every item
	// shortIsEnd: the items are /proc/PID/cmdline files of a proc file
	// system, whose reads stop early only at their end (readFDUntil).
	shortIsEnd bool
	// dirfd and rel: item i is opened as path(i)[rel:] relative to dirfd
	// (the root's directory: a walk of "PID/cmdline" rather than
	// "/proc/PID/cmdline", about a microsecond less a file), or whole
	// (atFDCWD, rel 0). Set by readBatch.
	dirfd uintptr
	rel   int
	out   []batchRead
	data  []byte // the contents, out[i] says where
}

// batchRead is the result of one batch item: data[off:off+n], or err.
type batchRead struct {
	off, n    int
	truncated bool
	err       error
}

// reset empties the batch for reads capped at max bytes.
func (b *batch) reset(max int) {
	b.paths, b.ends, b.out, b.data = b.paths[:0], b.ends[:0], b.out[:0], b.data[:0]
	b.max = max
	b.shortIsEnd = false
	b.dirfd, b.rel = atFDCWD, 0
}

// add appends a file to read at a NUL-terminated path; its index is len
// before the call.
func (b *batch) add(path []byte) {
	b.paths = append(b.paths, path...)
	b.ends = append(b.ends, len(b.paths))
}

// readItem reads batch item path into *buf, growing it up to max bytes.
// A file is opened without O_NONBLOCK when blocking: procfs ignores the
// flag anyway, and a FIFO planted in a fixture tree then blocks like a
// stuck /proc read does, under the same deadline.
// With shortIsEnd a short read ends the file (readFDUntil). path is
// relative to dirfd (atFDCWD: absolute or relative to the working
// directory).
func readItem(dirfd uintptr, path []byte, blocking, shortIsEnd bool, buf *[]byte, max int) ([]byte, bool, error) {
	flags := 0
	if !blocking {
		flags = unix.O_NONBLOCK
	}
	fd, err := openIn(dirfd, path, flags)
	if err != nil {
		return nil, false, err
	}
	data, trunc, err := readFDUntil(fd, buf, max, shortIsEnd)
	unix.Close(fd)
	return data, trunc, err
}

// len is the number of items.
func (b *batch) len() int { return len(b.ends) }

// path returns item i's NUL-terminated path.
func (b *batch) path(i int) []byte {
	from := 0
	if i > 0 {
		from = b.ends[i-1]
	}
	return b.paths[from:b.ends[i]]
}

// result returns item i's content (aliasing the batch's data) or error.
func (b *batch) result(i int) ([]byte, bool, error) {
	r := b.out[i]
	if r.err != nil {
		return nil, false, r.err
	}
	return b.data[r.off : r.off+r.n], r.truncated, nil
}

// newDeadlineReads returns reads with a deadline of timeout on files under
// root, charging stuck reads to budget (a new one of MaxStuckReads under
// processBudget when nil).
func newDeadlineReads(timeout time.Duration, root string, budget *StuckBudget) *deadlineReads {
	if budget == nil {
		budget = NewStuckBudget(MaxStuckReads, processBudget)
	}
	return &deadlineReads{timeout: timeout, root: root, budget: budget, base: time.Now()}
}

// read is readAt with a deadline: the same contract (the content lands in
// *buf, grown up to max), or ErrTimeout when the read did not finish in
// time. It is a batch of one.
func (d *deadlineReads) read(path []byte, buf *[]byte, max int) ([]byte, bool, error) {
	if d == nil || d.timeout <= 0 {
		return readAt(path, buf, max)
	}
	d.use.Lock()
	defer d.use.Unlock()
	if d.closed {
		return nil, false, ErrClosed
	}
	b := &d.one
	b.reset(max)
	b.data = (*buf)[:0]
	b.add(path)
	d.runBatch(b)
	*buf = b.data[:0]
	data, trunc, err := b.result(0)
	if err == nil {
		*buf = data
	}
	return data, trunc, err
}

// readBatch reads every item of b, each under the deadline, on one worker
// job (a new worker takes over after a read is abandoned). Without a
// deadline the reads are done inline. Afterwards b.result(i) has each
// item's content or its error: the open or read error, or ErrTimeout.
func (d *deadlineReads) readBatch(b *batch) {
	b.out = slices.Grow(b.out[:0], b.len())[:b.len()]
	if d == nil || d.timeout <= 0 {
		var buf []byte
		for i := range b.len() {
			data, trunc, err := readItem(atFDCWD, b.path(i), false, b.shortIsEnd, &buf, b.max)
			b.out[i] = batchRead{off: len(b.data), n: len(data), truncated: trunc, err: err}
			b.data = append(b.data, data...)
		}
		return
	}
	d.use.Lock()
	defer d.use.Unlock()
	if d.closed {
		for i := range b.out {
			b.out[i] = batchRead{err: ErrClosed}
		}
		return
	}
	if b.shortIsEnd && d.openRoot() {
		b.dirfd, b.rel = uintptr(d.rootDir), len(d.root)+1
	}
	d.runBatch(b)
}

// openRoot opens the root's directory for relative opens once, and
// reports whether it is open; the caller holds use.
func (d *deadlineReads) openRoot() bool {
	if !d.rootTried {
		d.rootTried, d.rootDir = true, -1
		if d.root != "" && !strings.HasSuffix(d.root, "/") {
			if fd, err := unix.Open(d.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
				d.rootDir = fd
			}
		}
	}
	return d.rootDir >= 0
}

// runBatch is readBatch under the deadline; the caller holds use.
func (d *deadlineReads) runBatch(b *batch) {
	b.out = slices.Grow(b.out[:0], b.len())[:b.len()]
	for from := 0; from < b.len(); {
		k, err := d.wait(d.worker(), readJob{batch: b, from: from})
		if err == nil {
			return // a batch job has no error of its own
		}
		// Item k was abandoned (its error is set); go on after it.
		from = k + 1
	}
}

// stream opens path and runs fn over its lines (a lineReader with a
// mapsBufSize buffer) on a worker, under the deadline: a parse of a file
// whose reads take the target's mmap lock (maps, smaps, smaps_rollup). It
// returns fn's error, the open or read error, or ErrTimeout; after
// ErrTimeout fn may still be running on the abandoned worker, so the
// caller must not look at anything fn writes. A read that keeps making
// progress (a huge maps file) gets further deadlines, up to
// maxStreamExtensions in all. Without a deadline (d nil or timeout <= 0)
// fn runs inline over a non-blocking open.
func (d *deadlineReads) stream(path []byte, fn func(*lineReader) error) error {
	if d == nil || d.timeout <= 0 {
		return streamFile(path, unix.O_NONBLOCK, make([]byte, mapsBufSize), nil, fn)
	}
	return d.runOne(readJob{stream: fn, path: path})
}

// call runs fn on a worker under the deadline, as stream runs a parse: a
// system call that may block in the file system behind path, such as a
// stat that follows /proc/PID/exe into a FUSE or NFS mount that stopped
// answering. It returns fn's error, or ErrTimeout; after ErrTimeout fn
// may still be running on the abandoned worker, so the caller must not
// look at anything fn writes. Without a deadline fn runs inline.
func (d *deadlineReads) call(path []byte, fn func() error) error {
	if d == nil || d.timeout <= 0 {
		return fn()
	}
	return d.runOne(readJob{call: fn, path: path})
}

// callWatched is call for a long call whose progress can be watched
// from outside (the BPF cmdline program's run, which marks each process
// done in memory pinspect maps): it gets a further deadline each time
// progress has moved since the last one, up to maxStreamExtensions, so
// the deadline is each step's, not the whole call's.
func (d *deadlineReads) callWatched(path []byte, fn func() error, progress func() uint64) error {
	if d == nil || d.timeout <= 0 {
		return fn()
	}
	return d.runOne(readJob{call: fn, progress: progress, path: path})
}

// runOne runs a stream or call job on a worker under the deadline,
// unless the reads are closed, the job's process is still stuck in an
// earlier read, or the stuck budget is spent.
func (d *deadlineReads) runOne(job readJob) error {
	d.use.Lock()
	defer d.use.Unlock()
	if d.closed {
		return ErrClosed
	}
	if targetStuck(targetOf(d.root, job.path)) {
		return errStillStuck
	}
	if d.budget.spent() {
		return errStuckCap
	}
	_, err := d.wait(d.worker(), job)
	return err
}

// streamFile opens path with flags and runs fn over a lineReader on it
// with buf; each completed read(2) increments progress when not nil.
func streamFile(path []byte, flags int, buf []byte, progress *atomic.Uint64, fn func(*lineReader) error) error {
	fd, err := openPath(path, flags)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	read := fdRead(fd)
	if progress != nil {
		raw := read
		read = func(p []byte) (int, error) {
			n, err := raw(p)
			progress.Add(1)
			return n, err
		}
	}
	return fn(&lineReader{read: read, buf: buf})
}

// worker returns the idle worker, starting one if there is none.
func (d *deadlineReads) worker() *readWorker {
	if d.idle == nil {
		w := &readWorker{req: make(chan readJob), res: make(chan error, 1), done: make(chan struct{})}
		go d.work(w)
		d.idle = w
	}
	return d.idle
}

// now is a monotonic clock in nanoseconds for the workers' item start
// times.
func (d *deadlineReads) now() int64 { return int64(time.Since(d.base)) }

// wait hands job to w and waits for it, giving each read its own
// deadline. When the job finished it returns the job's error (a stream's
// own; nil for a batch). Otherwise it returns ErrTimeout with the index
// of the batch item (0 for a stream) whose read was abandoned: that
// item's error is set, the worker is retired when its read returns, and
// the file is marked stuck until then. The caller holds use.
func (d *deadlineReads) wait(w *readWorker, job readJob) (int, error) {
	d.mu.Lock()
	w.finished = false
	if job.stream != nil || job.call != nil {
		w.path = append(w.path[:0], job.path...)
	}
	d.mu.Unlock()
	w.item.Store(-1)
	w.started.Store(d.now())
	w.progress.Store(0)
	w.req <- job
	if d.timer == nil {
		d.timer = time.NewTimer(d.timeout)
	} else {
		d.timer.Reset(d.timeout)
	}
	item, waited := int64(-2), 0
	var seen uint64 // a stream's progress at the previous deadline
	for {
		select {
		case err := <-w.res:
			d.timer.Stop()
			return 0, err
		case <-d.timer.C:
		}
		d.mu.Lock()
		if w.finished {
			// The job completed as the deadline fired: use it.
			d.mu.Unlock()
			return 0, <-w.res
		}
		if k := w.item.Load(); k != item {
			// The worker moved on to another item: its deadline counts
			// from its own start.
			item, waited = k, 0
			if left := time.Duration(w.started.Load() + int64(d.timeout) - d.now()); left > 0 {
				d.mu.Unlock()
				d.timer.Reset(left)
				continue
			}
		}
		if !w.reading.Load() {
			// Not started, or between two reads: nothing of it can be
			// stuck in the kernel.
			d.mu.Unlock()
			d.timer.Reset(d.timeout)
			continue
		}
		waited++
		p := w.progress.Load()
		if job.progress != nil {
			p = job.progress()
		}
		moving := (job.stream != nil || job.progress != nil) && p != seen && waited < maxStreamExtensions
		seen = p
		if moving || waited < maxExtensions && threadBusy(int(w.tid.Load())) {
			// On a CPU or waiting for one (or for the Go runtime), or
			// still reading lines: slow, not stuck.
			d.mu.Unlock()
			d.timer.Reset(d.timeout)
			continue
		}
		w.abandoned = true
		w.target = targetOf(d.root, w.path)
		d.nstuck++
		d.budget.charge()
		markTarget(w.target, 1)
		d.idle = nil
		k := int(item)
		if job.batch != nil {
			job.batch.out[k] = batchRead{err: ErrTimeout}
		}
		d.mu.Unlock()
		return k, ErrTimeout
	}
}

// work serves jobs until its worker is abandoned; an abandoned worker
// clears its stuck mark and exits when its read returns.
func (d *deadlineReads) work(w *readWorker) {
	// Pin the goroutine to its OS thread: the tid recorded below is the
	// thread whose scheduler state decides whether a late read is stuck
	// or only starved, so it must be the thread that makes the syscalls.
	defer close(w.done)
	runtime.LockOSThread()
	w.tid.Store(int32(unix.Gettid()))
	for job := range w.req {
		var err error
		if job.stream != nil {
			if w.line == nil {
				w.line = make([]byte, mapsBufSize)
			}
			w.started.Store(d.now())
			w.item.Store(0)
			w.reading.Store(true)
			err = streamFile(w.path, 0, w.line, &w.progress, job.stream)
			w.reading.Store(false)
		} else if job.call != nil {
			w.started.Store(d.now())
			w.item.Store(0)
			w.reading.Store(true)
			err = job.call()
			w.reading.Store(false)
		} else if !d.readItems(w, job.batch, job.from) {
			return
		}
		d.mu.Lock()
		if w.abandoned {
			d.retire(w)
			d.mu.Unlock()
			return
		}
		w.finished = true
		w.res <- err
		d.mu.Unlock()
	}
}

// readItems reads the batch items from from on into b. It returns false
// when the worker was abandoned (it has retired itself). The worker
// touches b only under mu and only while not abandoned: once the caller
// has given up on it, b belongs to the caller again.
func (d *deadlineReads) readItems(w *readWorker, b *batch, from int) bool {
	// Items are opened relative to the worker's own copy of the root's
	// directory: the caller holds use until this job has started its
	// first read, so the descriptor is open now, but an abandoned worker
	// that has not yet entered its open(2) could otherwise find the
	// number closed by Reader.Close and reused.
	d.mu.Lock()
	dirfd, rel := b.dirfd, b.rel
	d.mu.Unlock()
	if dirfd != atFDCWD {
		fd, err := unix.FcntlInt(dirfd, unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			dirfd = atFDCWD
		} else {
			dirfd = uintptr(fd)
			defer unix.Close(fd)
		}
	}
	capped := false
	for k := from; ; k++ {
		d.mu.Lock()
		if w.abandoned {
			d.retire(w)
			d.mu.Unlock()
			return false
		}
		if k >= b.len() {
			d.mu.Unlock()
			return true
		}
		path, limit, shortIsEnd := b.path(k), b.max, b.shortIsEnd
		still := targetStuck(targetOf(d.root, path))
		capped = capped || d.budget.spent()
		if still || capped {
			b.out[k] = batchRead{err: errStuckCap}
			if still {
				b.out[k].err = errStillStuck
			}
			d.mu.Unlock()
			continue
		}
		w.path = append(w.path[:0], path...)
		at, skip := uintptr(atFDCWD), 0
		if dirfd != atFDCWD && len(path) > rel && string(path[:rel-1]) == d.root && path[rel-1] == '/' {
			at, skip = dirfd, rel
		}
		w.started.Store(d.now())
		w.item.Store(int64(k))
		d.mu.Unlock()
		w.reading.Store(true)
		data, trunc, err := readItem(at, w.path[skip:], true, shortIsEnd, &w.buf, limit)
		w.reading.Store(false)
		d.mu.Lock()
		if !w.abandoned {
			b.out[k] = batchRead{off: len(b.data), n: len(data), truncated: trunc, err: err}
			b.data = append(b.data, data...)
		}
		d.mu.Unlock()
	}
}

// retire clears an abandoned worker's stuck mark; the caller holds mu.
func (d *deadlineReads) retire(w *readWorker) {
	d.nstuck--
	d.budget.release()
	markTarget(w.target, -1)
}

// maxExtensions bounds how many deadlines a read may run for while its
// thread is runnable rather than asleep (a machine so loaded that the read
// waits for a CPU).
const maxExtensions = 10

// maxStreamExtensions bounds the deadlines a streaming parse may run for
// while it keeps reading (smaps of a process with a huge address space
// takes seconds; a read stuck on the target's mmap lock makes no progress).
const maxStreamExtensions = 150

// threadBusy reports whether the thread tid of this process is running or
// waiting for a CPU (state R in the real /proc, whatever root the Reader
// reads), or asleep in futex(2): parked by the Go runtime, waiting for a P
// or a lock after its read returned. Either way it is not stuck in the
// read.
func threadBusy(tid int) bool {
	if tid <= 0 {
		return true // not started yet
	}
	dir := "/proc/self/task/" + strconv.Itoa(tid)
	buf := make([]byte, 0, 1024)
	st, err := readStat(atFDCWD, append([]byte(dir+"/stat"), 0), &buf)
	if err != nil && !errors.Is(err, errStatFormat) {
		return false
	}
	if err == nil && st.state == 'R' {
		return true
	}
	// task/TID/syscall: "running", or the number of the system call the
	// thread is blocked in, then its arguments.
	b, err := os.ReadFile(dir + "/syscall")
	if err != nil {
		return false
	}
	nr, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	return nr == "running" || nr == strconv.Itoa(unix.SYS_FUTEX)
}

// close waits for a read in flight (it has its deadline), stops the idle
// worker and waits until its goroutine has returned; later reads fail with
// ErrClosed. An abandoned worker cannot be stopped: it is blocked in the
// kernel, and it returns, retired, when its read does (stuckReads counts
// them until then).
func (d *deadlineReads) close() {
	if d == nil {
		return
	}
	d.use.Lock()
	defer d.use.Unlock()
	d.closed = true
	if d.rootTried && d.rootDir >= 0 {
		// No batch runs (use is held), and an abandoned worker is past
		// its open.
		unix.Close(d.rootDir)
		d.rootDir = -1
	}
	d.mu.Lock()
	w := d.idle
	d.idle = nil
	d.mu.Unlock()
	if w != nil {
		close(w.req)
		<-w.done
	}
}

// stuckReads is the number of abandoned reads still blocked.
func (d *deadlineReads) stuckReads() int {
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nstuck
}

// StuckReads returns how many reads this Reader abandoned at their
// deadline are still blocked in the kernel (at most MaxStuckReads for its
// snapshots plus as many for its address spaces).
func (r *Reader) StuckReads() int {
	return r.slow.stuckReads() + r.addrSlow.stuckReads()
}

// isTimeout reports whether err is a deadline or would-block failure: the
// read did not fail, it did not finish.
func isTimeout(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrNotRegular) || errors.Is(err, unix.EAGAIN)
}

// timeoutReason is Reason for an ErrTimeout.
func timeoutReason(err error) string {
	switch {
	case errors.Is(err, errStillStuck):
		return "timeout (still stuck)"
	case errors.Is(err, errStuckCap):
		return "skipped (reads stuck)"
	}
	return "timeout"
}
