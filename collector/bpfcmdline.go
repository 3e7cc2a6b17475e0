package collector

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/pinspect/pinspect/collector/taskiter"
)

// Cmdlines from BPF (Options.BPFCmdlines, a one-shot command's): one run
// of the task iterator's cmdline program (taskiter.Cmdlines) reads the
// cmdline of every process the pass found, about 2.4 µs a process
// against 7.5-8.9 for a /proc/PID/cmdline read (docs/PERFORMANCE.md). What it reads is what
// that file gives, byte for byte; a process it leaves alone (its argument
// area could block a reader, its memory-map lock is busy, the area is
// longer than 4 KiB, its pid was reused) is read from /proc as before.
//
// The run goes to a deadline worker like a batch of /proc reads, with a
// deadline for each process, not for the whole run: a run that has moved
// on to later processes since the last deadline gets another. When one
// process holds it past its deadline (the program blocked behind a stuck
// process between its lock check and its copy), that process gets the
// cmdline "timeout" the /proc reader would have given it, the others are
// read from /proc, and this Reader never runs the program again.

// bpfCmdlinesFrom is how many processes the machine must have for a
// Reader with Options.BPFCmdlines to load the cmdline program: verifying
// it costs about 2-3 ms, and it saves about 5 µs a process against a
// /proc read (docs/PERFORMANCE.md), so below a few hundred processes the
// /proc reads are cheaper. A variable: tests load it on any machine.
var bpfCmdlinesFrom = 500

// bpfCmdlines is one scan's use of the cmdline program.
type bpfCmdlines struct {
	c     *taskiter.Cmdlines
	pids  []int // the processes of the run, in pid order
	tids  []int // the thread each is read through (the pid, or LiveTID)
	next  int   // the first of pids not yet looked at
	stuck int   // the process a run that timed out is stuck at, or -1
	ok    bool  // the run finished: its results are there
	read  int   // the cmdlines it gave (Snapshot.CmdlinesBPF)
	// why says why the Reader asked for the program and this scan did
	// not use it (nil when it did, or was not asked for): the
	// snapshot's CollectorNote (bpfCmdlineNote).
	why error
	// The last cmdline parsed (its lastRaw aliases the program's pages:
	// cleared with them).
	sharedParse
}

// sharedParse parses the command lines of processes in pid order,
// keeping the last: lastRaw is the last cmdline parsed, and lastArgs and
// lastNoNUL what parseCmdline made of it (parse).
type sharedParse struct {
	lastRaw   []byte
	lastArgs  []string
	lastNoNUL bool
}

// parse is parseCmdline(data), or the last process's result when data
// holds the same bytes: processes forked from one parent without an exec
// (a server's workers, the bench's workload) are neighbours in pid order
// with one command line, and then share its strings, which nothing
// writes to (every snapshot's strings are read only).
func (b *sharedParse) parse(data []byte) ([]string, bool) {
	if b.lastArgs != nil && bytes.Equal(data, b.lastRaw) {
		return b.lastArgs, b.lastNoNUL
	}
	args, noNUL := parseCmdline(data)
	b.lastRaw, b.lastArgs, b.lastNoNUL = data, args, noNUL
	return args, noNUL
}

// errCmdlinesInUse: another scan of the Reader holds the program.
var errCmdlinesInUse = errors.New("the cmdline program is another scan's")

// errCmdlinesAbandoned: an earlier scan's run passed its deadline.
var errCmdlinesAbandoned = errors.New("an earlier run of the cmdline program passed its deadline (not run again by this Reader)")

// bpfCmdlinePath names the program's run for the deadline worker (its
// target if it is abandoned: no process directory).
var bpfCmdlinePath = []byte("bpf:cmdlines\x00")

// runBPFCmdlines runs the cmdline program over the processes of procs
// whose cmdline the pass must read (not those the identity memo gives,
// as of now on the Reader's clock), when this Reader has it. The caller
// calls endBPFCmdlines afterwards.
func (s *scan) runBPFCmdlines(procs []Process, now time.Duration) {
	b := &s.bpfCmd
	b.ok, b.stuck, b.next, b.pids, b.tids, b.read, b.why = false, -1, 0, b.pids[:0], b.tids[:0], 0, nil
	b.lastRaw, b.lastArgs = nil, nil
	if s.r.iter == nil || s.memo == nil {
		return
	}
	if s.r.cmdBPFStuck.Load() {
		b.why = errCmdlinesAbandoned
		return
	}
	c := s.r.iter.Cmdlines()
	if c == nil {
		b.why = s.r.iter.CmdlinesUnavailable // nil: not asked for, or too few processes
		return
	}
	if !s.r.cmdBPFMu.TryLock() {
		b.why = errCmdlinesInUse
		return
	}
	if n := min(len(procs), c.Cap()); cap(b.pids) < n {
		b.pids, b.tids = make([]int, 0, n), make([]int, 0, n)
	}
	k := 0 // the cursor in s.iterEntries
	for i := range procs {
		p := &procs[i]
		if p.Read&SrcCmdline != 0 || p.CtxSource != CtxTaskIter || len(b.pids) == c.Cap() {
			continue
		}
		if s.identityKept(s.passEntry(&k, p), p, now) {
			continue // a later scan (ps --sample): the memo has it
		}
		b.pids = append(b.pids, p.PID)
		b.tids = append(b.tids, cmp.Or(p.LiveTID, p.PID))
	}
	if len(b.pids) == 0 {
		s.r.cmdBPFMu.Unlock()
		return
	}
	b.c = c
	pids, tids := b.pids, b.tids
	err := s.slow.callWatched(bpfCmdlinePath, func() error { return c.Run(tids) }, func() uint64 { return uint64(c.Done()) })
	switch {
	case err == nil:
		b.ok = true
	case isTimeout(err):
		// The run may go on: never again in this Reader. The mutex stays
		// held so that nothing else touches the program's arrays.
		s.r.cmdBPFStuck.Store(true)
		at := ""
		if k := c.StuckAt(); k >= 0 {
			b.stuck = pids[k]
			at = fmt.Sprintf(" at pid %d", b.stuck)
		}
		b.why = fmt.Errorf("the cmdline program's run passed its deadline%s (not run again by this Reader): %w", at, err)
		b.c = nil
		return
	default:
		b.why = err
	}
	if !b.ok {
		b.c = nil
		s.r.cmdBPFMu.Unlock()
	}
}

// bpfCmdlineNote says why this scan's cmdlines came from /proc though
// the Reader asked for the cmdline program, or "" (a snapshot's
// CollectorNote: the one-shot's summary and JSON show it).
func (s *scan) bpfCmdlineNote() string {
	if s.bpfCmd.why == nil {
		return ""
	}
	return "cmdlines from /proc: " + s.bpfCmd.why.Error()
}

// endBPFCmdlines lets the program's results go.
func (s *scan) endBPFCmdlines() {
	b := &s.bpfCmd
	b.lastRaw, b.lastArgs = nil, nil // the pages go with the program's next run
	if b.c != nil {
		b.c = nil
		s.r.cmdBPFMu.Unlock()
	}
	b.ok = false
}

// applyBPFCmdline gives p (with its memo entry c, or nil) its cmdline
// from the program's run, and reports whether it did: false leaves it to
// the /proc reader.
func (s *scan) applyBPFCmdline(p *Process, c *procCache) bool {
	b := &s.bpfCmd
	if p.PID == b.stuck {
		s.problem(p, "cmdline", ErrTimeout)
		return true
	}
	if !b.ok {
		return false
	}
	for b.next < len(b.pids) && b.pids[b.next] < p.PID {
		b.next++
	}
	if b.next == len(b.pids) || b.pids[b.next] != p.PID {
		return false
	}
	r := b.c.Result(b.next)
	if r.StartTicks != p.StartTicks || (r.State != taskiter.CmdlineRead && r.State != taskiter.CmdlineEmpty) {
		return false // a reused pid, or one left to /proc
	}
	data, trunc := r.Bytes, false
	if max := s.r.opts.CmdlineMax; len(data) > max {
		data, trunc = data[:max], true
	}
	p.Cmdline, p.CmdlineNoNUL = b.parse(data)
	p.CmdlineTruncated = trunc
	p.Read |= SrcCmdline
	if c != nil {
		c.cmdline, c.noNUL, c.trunc, c.cmdOK = p.Cmdline, p.CmdlineNoNUL, trunc, true
	}
	b.read++
	return true
}
