package collector

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultReadTimeout is the default per-read deadline for reads that can
// block (see Options.ReadTimeout).
const DefaultReadTimeout = 200 * time.Millisecond

// MaxStuckReads caps the reads of one Reader abandoned at their deadline
// and still blocked in the kernel. Each holds one goroutine and one OS
// thread; past the cap, blocking-prone reads fail at once with ErrTimeout
// instead of risking another stuck thread. All Readers of a process
// together hold at most four times as many.
const MaxStuckReads = 8

// maxStuckProcess caps the stuck reads of all Readers of the process
// together (each Reader has its own MaxStuckReads).
const maxStuckProcess = 4 * MaxStuckReads

// stuckProcess counts the stuck reads of all Readers: the OS threads held
// by reads that may never return are a process-wide resource.
var stuckProcess atomic.Int32

// ErrTimeout is the error of a read abandoned at its deadline. The reads
// not attempted because the same file is still stuck from an earlier read,
// or because MaxStuckReads reads are stuck, wrap it. Reason shows
// "timeout", "timeout (still stuck)" and "skipped (reads stuck)".
var ErrTimeout = errors.New("read timed out")

// errStillStuck and errStuckCap are the reads not attempted.
var (
	errStillStuck = fmt.Errorf("%w: previous read still stuck", ErrTimeout)
	errStuckCap   = fmt.Errorf("%w: %d reads stuck, not reading more", ErrTimeout, MaxStuckReads)
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
// at the deadline (a loaded machine, not a stuck read) gets further
// deadlines, up to maxExtensions in all. Abandoned workers are counted and
// capped (MaxStuckReads), and a file whose read is still stuck is not read
// again until that read returns.
//
// One deadlineReads belongs to one Reader and is used by one goroutine at a
// time (like the Reader); its stuck bookkeeping is shared with the
// abandoned workers under mu.
type deadlineReads struct {
	timeout time.Duration // <= 0: read inline, no deadline
	idle    *readWorker   // a worker ready for the next read
	timer   *time.Timer
	// use makes the callers take turns: a Reader's address-space reads
	// may run on another goroutine than its snapshots.
	use sync.Mutex

	mu    sync.Mutex
	stuck map[string]struct{} // paths (NUL-terminated) with an abandoned read in flight
}

// readWorker is one helper goroutine. Its fields are owned by the caller
// while idle and by the goroutine while a read is in flight.
type readWorker struct {
	req  chan readJob
	res  chan readResult
	path []byte
	buf  []byte
	line []byte // stream's line buffer (mapsBufSize), made on first use

	// abandoned is set by the caller at the deadline, under
	// deadlineReads.mu; finished is set by the worker under the same lock.
	abandoned bool
	finished  bool

	// tid is the OS thread doing the current read (set by the worker
	// before its syscalls), so that a read past its deadline can be told
	// apart: asleep in the kernel (stuck) or waiting for a CPU (a loaded
	// machine, not a stuck file).
	tid atomic.Int32
	// progress counts the read(2) calls a streaming job has completed: a
	// long maps file that is still being read is slow, not stuck.
	progress atomic.Uint64
}

// readJob is one request to a worker: a whole-file read capped at max, or
// a streaming parse (stream non-nil) of the file's lines.
type readJob struct {
	max    int
	stream func(*lineReader) error
}

type readResult struct {
	data      []byte // aliases the worker's buf
	truncated bool
	err       error
}

func newDeadlineReads(timeout time.Duration) *deadlineReads {
	return &deadlineReads{timeout: timeout, stuck: make(map[string]struct{})}
}

// read is readAt with a deadline: the same contract (the content lands in
// *buf, grown up to max), or ErrTimeout when the read did not finish in
// time.
func (d *deadlineReads) read(path []byte, buf *[]byte, max int) ([]byte, bool, error) {
	if d == nil || d.timeout <= 0 {
		return readAt(path, buf, max)
	}
	d.use.Lock()
	defer d.use.Unlock()
	r, err := d.do(path, readJob{max: max})
	if err == nil {
		err = r.err
	}
	if err != nil {
		return nil, false, err
	}
	// The worker is idle again and only this caller (holding use) can
	// hand it the next job: its buffer is safe to copy from.
	b := append((*buf)[:0], r.data...)
	*buf = b
	return b, r.truncated, nil
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
	d.use.Lock()
	defer d.use.Unlock()
	r, err := d.do(path, readJob{stream: fn})
	if err != nil {
		return err
	}
	return r.err
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

// do hands job to a worker and waits for it under the deadline. Its error
// is ErrTimeout (or one wrapping it) when the job did not finish or was
// not attempted; the job's own error is in the result. The caller holds
// use.
func (d *deadlineReads) do(path []byte, job readJob) (readResult, error) {
	d.mu.Lock()
	_, still := d.stuck[string(path)]
	n := len(d.stuck)
	d.mu.Unlock()
	if still {
		return readResult{}, errStillStuck
	}
	if n >= MaxStuckReads || stuckProcess.Load() >= maxStuckProcess {
		return readResult{}, errStuckCap
	}
	w := d.idle
	if w == nil {
		w = &readWorker{req: make(chan readJob), res: make(chan readResult, 1)}
		go d.work(w)
		d.idle = w
	}
	w.path = append(w.path[:0], path...)
	w.finished = false
	w.tid.Store(0) // not started yet
	w.progress.Store(0)
	w.req <- job
	if d.timer == nil {
		d.timer = time.NewTimer(d.timeout)
	} else {
		d.timer.Reset(d.timeout)
	}
	var seen uint64 // progress at the previous deadline
	for waited := 1; ; waited++ {
		select {
		case r := <-w.res:
			d.timer.Stop()
			return r, nil
		case <-d.timer.C:
		}
		d.mu.Lock()
		if w.finished {
			// The read completed as the deadline fired: use it.
			d.mu.Unlock()
			return <-w.res, nil
		}
		p := w.progress.Load()
		moving := p != seen && waited < maxStreamExtensions
		seen = p
		if tid := int(w.tid.Load()); moving || waited < maxExtensions && (tid == 0 || threadRunnable(tid)) {
			// Not started, on a CPU or waiting for one, or still
			// reading lines: slow, not stuck.
			d.mu.Unlock()
			d.timer.Reset(d.timeout)
			continue
		}
		w.abandoned = true
		d.stuck[string(w.path)] = struct{}{}
		stuckProcess.Add(1)
		d.idle = nil
		d.mu.Unlock()
		return readResult{}, ErrTimeout
	}
}

// work serves jobs until its worker is abandoned; an abandoned worker
// clears its stuck mark and exits when its job returns.
func (d *deadlineReads) work(w *readWorker) {
	// Pin the goroutine to its OS thread: the tid recorded below is the
	// thread whose scheduler state decides whether a late read is stuck
	// or only starved, so it must be the thread that makes the syscall.
	runtime.LockOSThread()
	for job := range w.req {
		// A blocking open: procfs ignores O_NONBLOCK anyway, and a FIFO
		// planted in a fixture tree then blocks like a stuck /proc read
		// does, under the same deadline.
		w.tid.Store(int32(unix.Gettid()))
		var res readResult
		if job.stream != nil {
			if w.line == nil {
				w.line = make([]byte, mapsBufSize)
			}
			res.err = streamFile(w.path, 0, w.line, &w.progress, job.stream)
		} else {
			fd, err := openPath(w.path, 0)
			if err == nil {
				res.data, res.truncated, err = readFD(fd, &w.buf, job.max)
				unix.Close(fd)
			}
			res.err = err
		}
		d.mu.Lock()
		if w.abandoned {
			delete(d.stuck, string(w.path))
			stuckProcess.Add(-1)
			d.mu.Unlock()
			return
		}
		w.finished = true
		w.res <- res
		d.mu.Unlock()
	}
}

// maxExtensions bounds how many deadlines a read may run for while its
// thread is runnable rather than asleep (a machine so loaded that the read
// waits for a CPU).
const maxExtensions = 10

// maxStreamExtensions bounds the deadlines a streaming parse may run for
// while it keeps reading (smaps of a process with a huge address space
// takes seconds; a read stuck on the target's mmap lock makes no progress).
const maxStreamExtensions = 150

// threadRunnable reports whether the thread tid of this process is running
// or waiting for a CPU (state R in the real /proc, whatever root the Reader
// reads), as opposed to asleep in the kernel.
func threadRunnable(tid int) bool {
	if tid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return false
	}
	st, err := parseStat(b)
	return err == nil && st.state == 'R'
}

// close stops the idle worker. Abandoned workers exit on their own.
func (d *deadlineReads) close() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.idle != nil {
		close(d.idle.req)
		d.idle = nil
	}
}

// stuckReads is the number of abandoned reads still blocked.
func (d *deadlineReads) stuckReads() int {
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.stuck)
}

// StuckReads returns how many reads this Reader abandoned at their
// deadline are still blocked in the kernel (at most MaxStuckReads for its
// snapshots plus as many for its address spaces).
func (r *Reader) StuckReads() int { return r.slow.stuckReads() + r.addrSlow.stuckReads() }

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
