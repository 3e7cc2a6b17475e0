package collector

// This file is the scan: one pass over a /proc root that builds a
// Snapshot. A scan owns everything that lives only while it runs (the
// counts, the problems, the thread slab, the cmdlines still to read) and
// the buffers it reads into; what lives across scans (the identity memo,
// the taskstats socket, the read workers) belongs to the Reader. The
// per-process files are read by the readers beside their parsers (stat.go,
// status.go, exe.go, cmdline.go, task.go).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// scan is one scan's state. A Reader reuses one for its Scan calls (under
// scanMu, so its buffers carry over); Process makes its own, without the
// memo.
type scan struct {
	r    *Reader
	memo *identityMemo  // nil: every file is read afresh
	slow *deadlineReads // the read workers of its cmdlines
	ttl  time.Duration  // the memo's cmdline/exe TTL (Options.CmdlineTTL)

	path   pathBuf
	buf    []byte
	rel    []byte // a thread's path in its task/ directory ("TID/stat")
	dirBuf []byte
	link   []byte
	ids    []int
	tids   []int
	tsTids []int
	// tsRecs and tsErrs are a thread batch's replies: the TGID's first,
	// then one per tsTids entry.
	tsRecs []taskstatsRecord
	tsErrs []error

	counts ScanCounts
	probs  []Problem
	slab   []Thread
	// lastUser is the user name of lastUID, when lastUserOK: the last
	// one this scan asked for (userName).
	lastUser   string
	lastUID    int
	lastUserOK bool
	// statusTTL is how long this scan may reuse a status an earlier scan
	// read (Reader.scanStatusTTL; 0: never), freshStatus the processes
	// whose status it reads anyway (ScanOptions.FreshStatus, sorted), and
	// statusReads how many process status files it read; scanStart is
	// the scan's start on the Reader's clock (Snapshot.Monotonic): a
	// status read by the scan has it as its Process.StatusAt.
	scanStart   time.Duration
	takenAt     time.Time // the snapshot's TakenAt: processes' ages (youngAge)
	statusTTL   time.Duration
	freshStatus []int
	statusReads int
	// leaderOnly makes readProcStatus refuse a status whose Tgid is not
	// the pid read (Reader.Process of a thread id on a procfs: /proc/TID
	// reads as the thread alone); threadOf is then that Tgid.
	leaderOnly bool
	threadOf   int
	// dispWant is readDispositions' list of processes, kept for its
	// array.
	dispWant []int
	// skipDisp says this task-iterator scan's walk leaves the signal
	// dispositions out (Options.BPFSkipDispositions, unless
	// ScanOptions.Dispositions).
	skipDisp bool
	// pastDue says this scan reuses the memo's cmdline and exe past
	// their due time while they are current (ScanOptions.ReuseIdentities).
	pastDue bool
	// cmdWant lists the processes of the snapshot being built whose
	// cmdline is still to be read, in one batch per cmdlineChunk
	// processes (readCmdlines) into cmdlines. The batch is a separate
	// object: an abandoned worker still blocked on one of its files holds
	// no reference to the scan or the Reader.
	cmdWant  []cmdWant
	cmdlines *batch
	// bpfCmd is the cmdline program's run of this scan (bpfcmdline.go).
	bpfCmd bpfCmdlines
	// ios is the batch of io files (readIOs), ioWant the processes
	// whose io it reads.
	ios    *batch
	ioWant []int
	// iterSide and iterPending are a task-iterator pass's per-process
	// totals and early threads (iterscan.go), kept for the next pass.
	iterSide    []iterProc
	iterPending []pendingThread
	iterPIDs    []int
	// iterLastProcs is how many processes the last pass gave.
	iterLastProcs int
	// iterStates counts the pass's threads by state (the snapshot's
	// ThreadStates) while it runs.
	iterStates *ThreadStates
	// iterHidden are the processes the last pass did not show but /proc
	// did (a sandbox's init), and iterHiddenThreads their threads: when
	// the kernel's task count says nothing else is missing, the next
	// scan reads them without listing /proc (iterscan.go).
	iterHidden        []int
	iterHiddenThreads int
	iterWindow        hiddenWindow // a first scan's counts right after the walk's run
	iterHiddenValid   bool
	iterListedAt      time.Duration // when the hidden ones were last listed (since Reader.start)
	iterListedOnce    bool          // /proc was listed (or the count proven) since iterHiddenValid was last false
	iterListed        bool          // the last scan listed /proc
	// iterStatesOnly says this scan counts the states of the threads of
	// the processes the pass did not show, read without their threads
	// (ScanOptions.ThreadStates), and iterStated are those whose threads
	// were counted so (countHiddenStates).
	iterStatesOnly bool
	iterStated     []int
	// iterExes are the executables the pass named (pid order), and exes
	// the links read this scan by executable (iterexe.go).
	iterExes []iterExe
	exeAt    int // readIterExe's place in iterExes (it is asked in pid order)
	exes     map[exeKey]*sharedExe
	// memoAdds: the memo was empty at the pass's start, which adds the
	// entries of its processes (identityMemo.add) without looking them up.
	memoAdds bool
	// arenaInts and arenaBytes: the first scan's pass's arenas
	// (firstInts, firstComm).
	arenaInts  []int
	arenaBytes []byte
	// iterEntries are the identity memo's entries the pass took for its
	// processes (pid order): the cmdline program's run and
	// readIterIdentities take them from here instead of looking each
	// process up again in a table as large as the machine.
	iterEntries []passEntry
	// iterFront is the array of a pass's processes with the free places
	// before them (iterProcessArray), during a scan that does not
	// recycle its array; nil otherwise.
	iterFront []Process
}

// newScan returns a scan of r with fresh buffers, using memo (nil: none).
func (r *Reader) newScan(memo *identityMemo) *scan {
	ttl := r.opts.CmdlineTTL
	if ttl == 0 {
		ttl = DefaultCmdlineTTL
	}
	return &scan{
		r: r, memo: memo, ttl: ttl, slow: r.slow,
		path:     newPathBuf(r.opts.Root),
		buf:      make([]byte, 0, 4096),
		dirBuf:   make([]byte, 32<<10),
		link:     make([]byte, linkMax),
		cmdlines: new(batch),
		ios:      new(batch),
	}
}

// reset empties the per-scan state, keeping the buffers.
func (s *scan) reset() {
	s.counts = ScanCounts{}
	s.lastUser, s.lastUserOK = "", false
	s.probs = s.probs[:0]
	s.slab = nil
	s.cmdWant = s.cmdWant[:0]
}

// threadChoice says which processes' threads a scan reads: all, or those
// in want (sorted; nil for none), and whether the snapshot may say
// ThreadsRead.
func (o *ScanOptions) threadChoice() (all bool, want []int, threadsRead bool) {
	switch {
	case o.Threads && o.Scope == nil:
		return true, nil, true
	case o.Threads:
		want = slices.Clone(o.Scope)
		threadsRead = true
	case len(o.ThreadPIDs) > 0:
		want = slices.Clone(o.ThreadPIDs)
	default:
		return false, nil, false
	}
	slices.Sort(want)
	if want == nil {
		want = []int{}
	}
	return false, want, threadsRead
}

// begin starts a scan by backend: the per-scan state emptied, a new
// generation of the memo, and the Snapshot with its time, host and
// thread choice; all and want say whose threads to read.
func (s *scan) begin(o ScanOptions, backend Backend) (snap *Snapshot, all bool, want []int) {
	r := s.r
	wall := r.opts.Now()
	mono := time.Since(r.start)
	s.reset()
	if s.memo != nil {
		s.memo.begin(r.takeExecs())
	}
	s.takenAt = wall
	s.statusTTL, s.statusReads = 0, 0
	if s.memo != nil {
		s.statusTTL = r.scanStatusTTL()
	}
	s.pastDue = o.ReuseIdentities && s.memo != nil
	s.freshStatus = append(s.freshStatus[:0], o.FreshStatus...)
	slices.Sort(s.freshStatus)
	all, want, threadsRead := o.threadChoice()
	s.scanStart = mono
	snap = &Snapshot{TakenAt: wall, Monotonic: mono, Root: r.opts.Root, ThreadsRead: threadsRead, Collector: backend}
	snap.Host = r.readHost()
	snap.SelfPID = r.selfPID(s)
	return snap, all, want
}

// finish ends a scan: snap gets procs and the scan's counts, problems
// and duration, and the memo forgets the processes not seen.
func (s *scan) finish(snap *Snapshot, procs []Process) *Snapshot {
	s.slab = nil
	s.arenaInts, s.arenaBytes = nil, nil
	s.memo.sweep()
	snap.Processes = procs
	snap.Counts = s.counts
	snap.Problems = slices.Clone(s.probs)
	snap.ScanDuration = time.Since(s.r.start) - snap.Monotonic
	return snap
}

// run reads every process of the root into a new Snapshot.
func (s *scan) run(ctx context.Context, o ScanOptions) (*Snapshot, error) {
	r := s.r
	snap, all, want := s.begin(o, BackendProc)
	if r.iterWhy != nil {
		snap.CollectorNote = r.iterWhy.Error()
	}
	var err error
	s.ids, err = listNumeric(s.path.setTop(""), s.dirBuf, s.ids[:0])
	if err != nil {
		return nil, &ReadError{File: r.opts.Root, Err: err}
	}
	slices.Sort(s.ids)
	s.counts.Listed = len(s.ids)
	snap.Processes = make([]Process, 0, len(s.ids))
	for i, pid := range s.ids {
		if i&63 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		th := all
		if want != nil {
			_, th = slices.BinarySearch(want, pid)
		}
		if p, ok := s.readProcess(pid, th, len(snap.Processes)); ok {
			snap.Processes = append(snap.Processes, p)
		}
		if len(s.cmdWant) >= cmdlineChunk {
			snap.Processes = s.readCmdlines(snap.Processes)
		}
	}
	procs := s.readCmdlines(snap.Processes)
	if s.statusTTL > 0 {
		s.refreshZombieParents(procs, snap.Monotonic)
	}
	s.readExtras(procs, o)
	snap.CtxSwitchSource, snap.CtxSwitchNote = r.ctxSwitchSource(snap.ThreadsRead)
	return s.finish(snap, procs), nil
}

// selfPID reads Root/self: this process's pid as the proc filesystem at
// Root sees it (its pid namespace's number), or 0 when Root has no self
// link to a number (a fixture tree, or a /proc of a pid namespace this
// process is not in, where self is dangling).
func (r *Reader) selfPID(s *scan) int {
	n, err := readlinkInto(s.path.setTop("self"), s.link)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(string(s.link[:n]))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// ctxSwitchSource says where a snapshot's process context-switch totals
// come from, and why they are not exact when they are not.
func (r *Reader) ctxSwitchSource(threadsRead bool) (CtxSource, string) {
	used, why := r.ts.state()
	note := ""
	if !used && why != nil {
		note = "whole-process context switches cover live threads only (thread_sum) or the leader only: " + why.Error()
	}
	switch {
	case used:
		return CtxTaskstats, note
	case threadsRead:
		return CtxThreadSum, note
	}
	return CtxLeaderOnly, note
}

// one reads one process with its threads (Reader.Process).
func (s *scan) one(pid int) (*Process, ScanCounts, error) {
	s.reset()
	s.scanStart = time.Since(s.r.start)
	// /proc/TID of a thread that is not its process's leader exists too
	// (unlisted) and reads as that thread alone: it is not a process. The
	// process's own status read checks its Tgid (readProcStatus).
	s.leaderOnly, s.threadOf = s.r.procfs, 0
	p, ok := s.readProcess(pid, true, 0)
	s.leaderOnly = false
	s.slab = nil
	if s.threadOf != 0 {
		s.counts.Vanished-- // readProcess counted it as gone
		return nil, s.counts, &ThreadIDError{TID: pid, TGID: s.threadOf}
	}
	if !ok {
		return nil, s.counts, s.r.FileError(pid, "stat", unix.ENOENT)
	}
	procs := s.readCmdlines([]Process{p})
	if len(procs) == 0 {
		return nil, s.counts, s.r.FileError(pid, "cmdline", unix.ENOENT)
	}
	return &procs[0], s.counts, nil
}

// ThreadIDError is Reader.Process's error for the id of a thread that is
// not its process's main thread: /proc/TID exists for it (unlisted) and
// would read as that thread alone, named and counted as if a process.
type ThreadIDError struct {
	// TID is the id asked for; TGID its process's.
	TID, TGID int
}

// IsThreadID reports whether err is a ThreadIDError.
func IsThreadID(err error) bool {
	var t *ThreadIDError
	return errors.As(err, &t)
}

func (e *ThreadIDError) Error() string {
	return fmt.Sprintf("%d is a thread of process %d, not a process", e.TID, e.TGID)
}

// problem records a non-vanishing read problem on a process.
func (s *scan) problem(p *Process, file string, err error) {
	reason := Reason(err)
	if p.Unavailable == nil {
		p.Unavailable = make(map[string]string, 2)
	}
	p.Unavailable[file] = reason
	switch {
	case IsDenied(err):
		s.counts.Denied++
	case errors.Is(err, errNotPresent):
		s.counts.NotPresent++
	case isTimeout(err):
		s.counts.Timeouts++
	default:
		s.counts.ParseErrors++
	}
	if !IsDenied(err) && len(s.probs) < maxProblems {
		s.probs = append(s.probs, Problem{PID: p.PID, File: file, Reason: reason})
	}
}

// threadSlots returns a slice of n zeroed threads with capacity n, cut
// from a slab shared by the snapshot (one allocation for many processes).
func (s *scan) threadSlots(n int) []Thread {
	if n > 256 {
		return make([]Thread, 0, n)
	}
	if cap(s.slab)-len(s.slab) < n {
		// A scan's first slab faults its pages in as they are written
		// (a small machine's threads fill a few of its 52); the ones
		// after it, on a machine with thousands of threads, are
		// prefaulted.
		more := s.slab != nil
		s.slab = make([]Thread, 0, 2048)
		if more {
			prefault(s.slab)
		}
	}
	l := len(s.slab)
	s.slab = s.slab[:l+n]
	return s.slab[l : l : l+n]
}

// readProcess reads one process, which will be at index idx of the
// snapshot's processes; its cmdline, unless the memo has it, is left to
// readCmdlines. ok is false when it vanished: it is then counted once, in
// Vanished, and whatever reading its other files added to the counts and
// problems is taken back.
func (s *scan) readProcess(pid int, threads bool, idx int) (p Process, ok bool) {
	before, nprobs := s.counts, len(s.probs)
	gone := func() (Process, bool) {
		s.counts = before
		s.counts.Vanished++
		s.probs = s.probs[:nprobs]
		return p, false
	}
	p.PID = pid
	p.ExitCode = -1
	c, ok := s.readProcStat(&p)
	if !ok {
		return gone()
	}
	now := time.Since(s.r.start)
	var sf statusFields // zero when the status was reused
	reused := s.statusReusable(&p, c, now)
	if reused {
		c.reuseStatus(&p)
	} else if sf, ok = s.readProcStatus(&p, c); !ok {
		return gone()
	}
	s.applyAccess(&p)
	if p.LeaderExited() {
		p.LiveTID = s.liveThread(&p)
	}
	// cmdline and exe change only at exec, which changes comm (or with a
	// rewritten argv title): reuse them within the TTL.
	fresh := c.fresh(&p, now) || s.pastDue && c.current(&p)
	if fresh {
		c.reuse(&p)
	} else {
		s.readProcExe(&p, c, now)
	}
	if !s.readAccounting(&p, &sf, threads) {
		return gone()
	}
	if reused && p.CtxSource != CtxTaskstats {
		// taskstats did not answer for it (it is exiting, or taskstats
		// was turned off): its switches are its status's, read now.
		if sf, ok = s.readProcStatus(&p, c); !ok {
			return gone()
		}
		if p.CtxSource == CtxLeaderOnly {
			p.VolCtx, p.InvolCtx = p.LeaderVol, p.LeaderInv
		}
	}
	s.readRSS(&p, &sf)
	if !fresh {
		s.cmdWant = append(s.cmdWant, cmdWant{idx: idx, c: c, counts: s.counts.minus(before)})
	}
	return p, true
}

// readProcStat reads /proc/PID/stat into p and returns the memo entry of
// its identity (nil without a memo or a stat). ok is false when the
// process vanished.
func (s *scan) readProcStat(p *Process) (c *procCache, ok bool) {
	st, err := readStat(atFDCWD, s.path.set(p.PID, 0, "stat"), &s.buf)
	switch {
	case err == nil:
		c = s.memo.entry(p.PID, st.starttime)
		s.applyStat(p, &st, c)
		p.Read |= SrcStat
	case IsVanished(err) && (s.r.procfs || !s.present(p)):
		// No stat, no process: every process directory the kernel
		// makes has one.
		return nil, false
	case IsVanished(err):
		// A tree another program wrote kept the process directory but
		// not its stat: the process is there, its stat fields are not
		// present (what its status gives is kept: owner, RSS, context
		// switches; state, parent, name and threads are stat's fields).
		s.counts.Unreadable++
		s.problem(p, "stat", errNotPresent)
	default:
		s.counts.Unreadable++
		s.problem(p, "stat", err)
	}
	return c, true
}

// present reports whether process p, one of whose files other than stat
// was not found, is still there: its stat, read again, has the same start
// ticks (or, when its stat could not be read for another reason, its
// directory still exists). Then the file is not present (a /proc tree
// another program wrote), and the process did not vanish. The live
// kernel's process directories always have every file: there a missing
// file means the process is gone.
func (s *scan) present(p *Process) bool {
	if p.Read&SrcStat != 0 {
		return sameStart(s.path.set(p.PID, 0, "stat"), &s.buf, p.StartTicks) == nil
	}
	return dirThere(s.path.set(p.PID, 0, ""))
}

// dirThere reports whether the NUL-terminated path names a directory.
func dirThere(path []byte) bool {
	var st unix.Stat_t
	return unix.Stat(string(path[:len(path)-1]), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// readProcStatus reads /proc/PID/status into p and returns its fields
// (the leader's context switches are needed again by readThreads); the
// memo entry c keeps them for reuseStatus. ok is false when the process
// vanished, or when the scan reads leaders only (Reader.Process) and the
// status is a thread's whose Tgid is another (threadOf set).
func (s *scan) readProcStatus(p *Process, c *procCache) (sf statusFields, ok bool) {
	s.statusReads++
	sf, err := readStatus(atFDCWD, s.path.set(p.PID, 0, "status"), &s.buf)
	if err == nil && s.leaderOnly && sf.has&hasTgid != 0 && sf.tgid > 0 && sf.tgid != int64(p.PID) {
		s.threadOf = int(sf.tgid)
		return sf, false
	}
	if err == nil {
		err = sf.checkComplete()
	}
	switch {
	case err == nil:
		s.applyStatus(p, &sf, c)
		p.Read |= SrcStatus
		p.StatusAt = s.scanStart
		c.keepStatus(p, s.scanStart, s.statusTTL)
	case IsVanished(err) && !s.present(p):
		return sf, false
	case IsVanished(err):
		c.forgetStatus()
		s.problem(p, "status", errNotPresent)
	default:
		c.forgetStatus()
		s.problem(p, "status", err)
	}
	return sf, true
}

// statusReusable reports whether p's status fields may be taken from its
// memo entry c at now instead of its status file (Options.StatusTTL):
// the scan reuses status at all (scanStatusTTL), c holds a status read
// with p's present comm (an exec re-reads it) that is not yet due, p is
// not one the scan must read afresh (ScanOptions.FreshStatus), and p is
// running or sleeping with an address space of its own, or a kernel
// thread: a zombie, a stopped or traced process, one in disk sleep or
// one whose main thread exited has its status read every scan (the
// lifecycle diagnoses read its tracer and signal masks).
func (s *scan) statusReusable(p *Process, c *procCache, now time.Duration) bool {
	if s.statusTTL <= 0 || c == nil || c.status == nil || now >= c.status.due || c.status.comm != p.Comm {
		return false
	}
	switch p.State {
	case 'R', 'S', 'I':
	default:
		return false
	}
	if !c.status.status.HasVM && !p.IsKernelThread() {
		return false // no Vm lines: its memory is not statm's to give
	}
	_, want := slices.BinarySearch(s.freshStatus, p.PID)
	return !want
}

// scanStatusTTL is how long a scan of r may reuse a status read by an
// earlier one (0: it reads every status): Options.StatusTTL, when
// taskstats gives every process's context switches (status's are the
// leader's alone, and only status has them without taskstats) and the
// reader has CAP_SYS_PTRACE (without it, whether stat's [PT] fields are
// shown is decided by the uids, which must then be today's).
func (r *Reader) scanStatusTTL() time.Duration {
	if r.opts.StatusTTL <= 0 || !r.creds.CapSysPtrace {
		return 0
	}
	if used, _ := r.ts.state(); !used {
		return 0
	}
	return r.opts.StatusTTL
}

// reuseStatus gives p the status fields of its memo entry c, read at
// c.status.at (Process.StatusAt says when), but for its memory, which
// readRSS takes from statm: the resident and shared sizes change all
// the time.
func (c *procCache) reuseStatus(p *Process) {
	p.ProcStatus = c.status.status
	p.RSSBytes, p.HasRSS, p.SharedBytes, p.HasShared = 0, false, 0, false
	p.ShmemBytes, p.HasRSSSplit = 0, false
	p.Read |= SrcStatus
	p.StatusAt = c.status.at
}

// keepStatus keeps p's status fields, just read at now, in its memo
// entry c (which may be nil) for reuse until now+ttl (ttl 0: not kept).
// The first status of an identity is due earlier, by a part of ttl that
// depends on its pid: a Reader's first scan reads every status, and
// without the spread each later TTL would make one scan read them all
// again.
func (c *procCache) keepStatus(p *Process, now, ttl time.Duration) {
	if c == nil || ttl <= 0 {
		return
	}
	due := now + ttl
	if c.status == nil {
		c.status = new(statusMemo)
		due -= ttl * time.Duration(uint32(p.PID)*2654435761>>24) / 256
	}
	*c.status = statusMemo{status: p.ProcStatus, at: now, due: due, comm: p.Comm}
}

// forgetStatus drops the status kept in c (nil: none): a status that
// could not be read is never replaced by an older one.
func (c *procCache) forgetStatus() {
	if c != nil {
		c.status = nil
	}
}

// refreshZombieParents reads afresh the status of every parent of a
// zombie whose status this scan reused: the zombie diagnosis rests on
// the parent's signal masks (SIGCHLD ignored, blocked or caught) and
// tracer, which must be the present ones. procs is sorted by pid.
func (s *scan) refreshZombieParents(procs []Process, scanStart time.Duration) {
	for i := range procs {
		z := &procs[i]
		if !z.IsZombie() || z.PPID <= 0 {
			continue
		}
		j, found := SearchPID(procs, z.PPID)
		if !found || procs[j].Read&SrcStatus == 0 || procs[j].StatusAt >= scanStart {
			continue
		}
		parent := &procs[j]
		c := s.memo.lookup(parent.PID)
		if c == nil || c.start != parent.StartTicks {
			c = nil
		}
		rss, hasRSS, shared, hasShared := parent.RSSBytes, parent.HasRSS, parent.SharedBytes, parent.HasShared
		shmem, split := parent.ShmemBytes, parent.HasRSSSplit
		vol, inv := parent.VolCtx, parent.InvolCtx
		if _, ok := s.readProcStatus(parent, c); !ok {
			continue // it exited since: what was read of it stays
		}
		// Its memory (statm's) and switches (taskstats') were read this
		// scan already.
		parent.RSSBytes, parent.HasRSS, parent.SharedBytes, parent.HasShared = rss, hasRSS, shared, hasShared
		parent.ShmemBytes, parent.HasRSSSplit = shmem, split
		parent.VolCtx, parent.InvolCtx = vol, inv
	}
}

// readAccounting sets the process's context-switch totals: the leader's
// from status, then taskstats' TGID totals, or with threads the sum over
// them (readThreads). ok is false when the process vanished.
func (s *scan) readAccounting(p *Process, sf *statusFields, threads bool) bool {
	p.CtxSource = CtxLeaderOnly
	p.VolCtx, p.InvolCtx = p.LeaderVol, p.LeaderInv
	if !threads {
		s.readTaskstats(p)
		return true
	}
	return s.readThreads(p, sf)
}

// reuse copies the memo's cmdline and exe into p.
func (c *procCache) reuse(p *Process) {
	p.Cmdline, p.CmdlineNoNUL, p.CmdlineTruncated = c.cmdline, c.noNUL, c.trunc
	p.Read |= SrcCmdline
	if c.exe != "" {
		p.Exe, p.ExeDeleted = c.exe, c.exeDel
		p.Read |= SrcExe
	}
}

// readProcExe reads exe into p and the memo entry c (which may be nil),
// and starts the entry afresh: its cmdline is read by readCmdlines.
func (s *scan) readProcExe(p *Process, c *procCache, now time.Duration) {
	exe, deleted, err := readExe(s.path.set(p.PID, p.LiveTID, "exe"), s.link)
	if err == nil && deleted {
		// The kernel's mark, or the end of the file's own name?
		rootDir := s.path.set(p.PID, p.LiveTID, "root")
		root := string(rootDir[:len(rootDir)-1])
		if exeNamed(s.slow, s.path.set(p.PID, p.LiveTID, "exe"), root, exe+exeDeleted) {
			exe, deleted = exe+exeDeleted, false
		}
	}
	s.setExe(p, c, now, exe, deleted, err)
}

// setExe sets p's exe from a read of its link (exe, deleted, err) and
// starts its memo entry c (nil: none) over with it.
func (s *scan) setExe(p *Process, c *procCache, now time.Duration, exe string, deleted bool, err error) {
	exeOK := false
	switch {
	case err == nil:
		p.Exe, p.ExeDeleted = exe, deleted
		p.Read |= SrcExe
		exeOK = true
	case errors.Is(err, unix.ENOENT):
		// Kernel threads and zombies have no executable: not an error.
		exeOK = true
	default:
		s.problem(p, "exe", err)
	}
	if c != nil {
		c.comm = p.Comm
		c.cmdline, c.noNUL, c.trunc, c.cmdOK = nil, false, false, false
		c.exe, c.exeDel, c.exeOK = p.Exe, p.ExeDeleted, exeOK
		c.due, c.args, c.ran = s.identityDue(p, c.due == 0, now), argsKeyOf(p), 0
	}
}

// identityKept reports whether a task-iterator scan takes p's cmdline
// and exe from its memo entry c: within their TTL, or past it while p
// has not run since they were read (its totals are exact) or, in a scan
// with ScanOptions.ReuseIdentities, while they are current.
func (s *scan) identityKept(c *procCache, p *Process, now time.Duration) bool {
	return c.fresh(p, now) || c.idle(p, s.ttl) || s.pastDue && c.current(p)
}

// identityDue is when what the memo keeps of p's identity (cmdline and
// exe, or its cgroup), read now, is read again at the latest; first: the
// first read of this identity (cmdlineDue).
func (s *scan) identityDue(p *Process, first bool, now time.Duration) time.Duration {
	age := time.Duration(1<<63 - 1)
	if !p.StartedAt.IsZero() {
		age = s.takenAt.Sub(p.StartedAt)
	}
	return cmdlineDue(p, first, now, s.ttl, age)
}

// cmdWant is a process whose cmdline readCmdlines reads: its index in
// the snapshot's processes, its memo entry (nil when its stat could not
// be read, or without a memo), and what reading its other files added to
// the scan counts.
type cmdWant struct {
	idx    int
	c      *procCache
	counts ScanCounts
}

// cmdlineChunk is how many processes' cmdline files are read in one
// batch. Handing each read to the deadline worker separately cost two
// thread wake-ups and a timer per process, 15 % of a cold snapshot; one
// batch per snapshot would let a process exit and its pid be reused
// between its stat and its cmdline for the length of a whole scan. A
// chunk bounds that window to a few milliseconds.
const cmdlineChunk = 64

// readCmdlines reads the cmdline of every process in s.cmdWant as one
// batch under the per-read deadline (cmdline takes the target's mmap lock
// and can block: deadline.go), and returns procs without the processes
// that vanished meanwhile.
func (s *scan) readCmdlines(procs []Process) []Process {
	if len(s.cmdWant) == 0 {
		return procs
	}
	b := s.cmdlines
	b.reset(s.r.opts.CmdlineMax)
	b.shortIsEnd = s.r.procfs
	for _, w := range s.cmdWant {
		b.add(s.path.set(procs[w.idx].PID, procs[w.idx].LiveTID, "cmdline"))
	}
	s.slow.readBatch(b)
	gone := false
	// Neighbours with one command line share its strings, as the cmdline
	// program's do (data aliases b's buffer, kept until the next batch):
	// at 2,000 forked workers, 4,000 objects fewer for the dashboard's
	// collection after each refresh to follow, and their memory.
	var sh sharedParse
	for i, w := range s.cmdWant {
		p := &procs[w.idx]
		data, trunc, err := b.result(i)
		switch {
		case err == nil:
			p.Cmdline, p.CmdlineNoNUL = sh.parse(data)
			p.CmdlineTruncated = trunc
			p.Read |= SrcCmdline
			if w.c != nil {
				w.c.cmdline, w.c.noNUL, w.c.trunc, w.c.cmdOK = p.Cmdline, p.CmdlineNoNUL, trunc, true
			}
		case IsVanished(err) && s.present(p):
			s.problem(p, "cmdline", errNotPresent)
		case IsVanished(err):
			// Gone since its other files were read: take back what
			// they added to the counts, and drop its problems with it.
			s.counts = s.counts.minus(w.counts)
			pid := p.PID
			s.probs = slices.DeleteFunc(s.probs, func(q Problem) bool { return q.PID == pid })
			p.PID = -1 // dropped below
			gone = true
			s.counts.Vanished++
		default:
			s.problem(p, "cmdline", err)
		}
	}
	s.cmdWant = s.cmdWant[:0]
	if len(b.data) > 1<<20 {
		b.data = nil // a huge cmdline: do not keep its buffer
	}
	if gone {
		procs = slices.DeleteFunc(procs, func(p Process) bool { return p.PID < 0 })
	}
	return procs
}

// readTaskstats takes the process's context-switch totals and run-queue
// delay from a TGID query (see applyTGID), when taskstats is in use.
func (s *scan) readTaskstats(p *Process) {
	if rec, err, ok := s.r.ts.queryTGID(p.PID); ok {
		s.applyTGID(p, rec, err)
	}
}

// applyTGID takes the process's context-switch totals and run-queue delay
// from the reply to its TGID query. A failure for one process (it exited,
// or is a zombie the kernel no longer accounts) leaves the /proc values.
func (s *scan) applyTGID(p *Process, rec taskstatsRecord, err error) {
	if err != nil {
		if IsDenied(err) {
			// Permission lost mid-run: stop using taskstats.
			s.r.ts.disable(fmt.Errorf("taskstats: %w", err))
		}
		return
	}
	// A zombie's counters are no longer aggregated: the TGID reply holds
	// zeros while its status still has the leader's counts. Totals below
	// the leader's own counts are never right; keep the /proc values.
	if p.IsZombie() || rec.nvcsw < p.LeaderVol || rec.nivcsw < p.LeaderInv {
		return
	}
	p.VolCtx, p.InvolCtx = rec.nvcsw, rec.nivcsw
	p.CPUDelayNs = rec.cpuDelayNs
	p.CtxSource = CtxTaskstats
}

func (s *scan) applyStat(p *Process, st *statFields, c *procCache) {
	if c != nil && c.comm == string(st.comm) {
		p.Comm = c.comm
	} else {
		p.Comm = s.memo.comm(st.comm)
	}
	p.State = st.state
	p.PPID = int(st.ppid)
	p.PGID = int(st.pgid)
	p.SID = int(st.sid)
	p.TTY = int(st.ttyNr)
	p.Flags = st.flags
	p.MinFlt = st.minflt
	p.MajFlt = st.majflt
	p.UTimeTicks = st.utime
	p.STimeTicks = st.stime
	p.Priority = st.priority
	p.Nice = st.nice
	p.NumThreads = st.numThreads
	p.StartTicks = st.starttime
	p.VSizeBytes = st.vsize
	p.Processor = st.processor
	p.RTPriority = st.rtPriority
	p.Policy = st.policy
	p.DelayTicks = st.blkioTicks
	p.Layout = st.layout
	p.ExitCode = exitStatus(st.state, st.exitCode)
	// Zero (omitted) when the start ticks are beyond a time.Duration.
	p.StartedAt, _ = StartTime(s.r.host.bootTime, st.starttime)
}

func (s *scan) applyStatus(p *Process, sf *statusFields, c *procCache) {
	if sf.has&hasTgid != 0 {
		p.TGID = int(sf.tgid)
	}
	if sf.has&hasTracer != 0 {
		p.TracerPID = int(sf.tracerPID)
	}
	if sf.has&hasUid != 0 {
		for i := range p.UIDs {
			p.UIDs[i] = int(sf.uids[i])
		}
		p.User = s.userName(p.UIDs[0], c)
	}
	if sf.has&hasGid != 0 {
		for i := range p.GIDs {
			p.GIDs[i] = int(sf.gids[i])
		}
	}
	if sf.nnspids > 0 {
		p.NSPids = nspidsOf(sf, c)
	}
	p.SigPnd, p.ShdPnd, p.SigBlk, p.SigIgn, p.SigCgt = sf.sigPnd, sf.shdPnd, sf.sigBlk, sf.sigIgn, sf.sigCgt
	p.CapEff = sf.capEff
	p.CapInh, p.CapPrm, p.CapBnd, p.CapAmb = sf.capInh, sf.capPrm, sf.capBnd, sf.capAmb
	p.VmPeakB = mulSat(sf.vmPeakKB, 1024)
	p.VmSwapB = mulSat(sf.vmSwapKB, 1024)
	p.HasVM = sf.has&hasVmPeak != 0
	if sf.has&(hasRssFile|hasRssShmem) == hasRssFile|hasRssShmem {
		p.SharedBytes, p.HasShared = mulSat(addSat(sf.rssFileKB, sf.rssShmKB), 1024), true
	}
	p.LeaderVol, p.LeaderInv = sf.vol, sf.invol
	if p.Read&SrcStat == 0 && sf.has&hasPPid != 0 {
		p.PPID = int(sf.ppid)
	}
}

// userName names uid, through the memo entry c when it has the name.
func (s *scan) userName(uid int, c *procCache) string {
	if c != nil && c.userOK && c.userUID == uid {
		return c.user
	}
	// Most processes of a machine run as a few users, and a pass gives
	// them in pid order: the last name asked for is often the one. (A
	// Reader's first scan has no names in its memo: a table lookup a
	// process was 0.5 % of `pinspect --json` at 10,000 processes.)
	if !s.lastUserOK || s.lastUID != uid {
		s.lastUser, s.lastUID, s.lastUserOK = s.r.users.name(uid), uid, true
	}
	name := s.lastUser
	if c != nil {
		c.user, c.userUID, c.userOK = name, uid, true
	}
	return name
}

// nspidsOf returns the pid-namespace list of status, shared with the
// memo entry c when it is the same.
func nspidsOf(sf *statusFields, c *procCache) []int {
	if c != nil && sameInts(c.nspids, sf.nspids[:sf.nnspids]) {
		return c.nspids
	}
	ns := make([]int, sf.nnspids)
	for i := range ns {
		ns[i] = int(sf.nspids[i])
	}
	if c != nil {
		c.nspids = ns
	}
	return ns
}

func sameInts(a []int, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if int64(a[i]) != b[i] {
			return false
		}
	}
	return true
}

// readRSS sets p's resident set (see ProcStatus.RSSBytes): status's
// VmRSS; for a process whose main thread exited, a live thread's (the
// leader's status has no Vm lines: it has no mm of its own any more);
// when status had none, statm's resident pages. A kernel thread and a
// zombie have no resident set: it stays unknown, with no reason needed.
// Another process's RSS that cannot be read says why in
// Unavailable["rss"].
func (s *scan) readRSS(p *Process, sf *statusFields) {
	switch {
	case p.Read&SrcStatus != 0 && sf.has&hasVmRSS != 0:
		p.RSSBytes, p.HasRSS = mulSat(sf.vmRSSKB, 1024), true
		statusSplit(p, sf)
		return
	case p.Read&SrcStat == 0 || p.IsKernelThread() || p.IsZombie():
		return
	case p.LeaderExited():
		s.liveThreadMemory(p)
		return
	}
	m, err := readStatm(s.path.set(p.PID, 0, "statm"), &s.buf)
	switch {
	case err == nil:
		p.RSSBytes, p.HasRSS = mulSat(m.resident, s.r.pageSz), true
		if m.hasShared && !p.HasShared {
			p.SharedBytes, p.HasShared = mulSat(m.shared, s.r.pageSz), true
		}
	case IsVanished(err):
		s.problem(p, "rss", errNotPresent)
	default:
		s.problem(p, "rss", err)
	}
}

// liveThread returns a thread of p other than its exited leader that is
// not exiting itself (its stat state is not Z or X), or 0 (with
// Unavailable["live_thread"] saying why), and takes the process's virtual
// size from that thread's stat. A process whose main thread called
// pthread_exit keeps running on its other threads, and their shared
// address space, executable and command line are read through one of
// them: the leader's own files show none (it has no mm).
func (s *scan) liveThread(p *Process) int {
	var err error
	if s.tids, err = listNumeric(s.path.set(p.PID, 0, "task"), s.dirBuf, s.tids[:0]); err != nil {
		markUnavailable(p, "live_thread", Reason(err))
		return 0
	}
	slices.Sort(s.tids)
	for _, tid := range s.tids {
		if tid == p.PID {
			continue
		}
		st, err := readStat(atFDCWD, s.path.set(p.PID, tid, "stat"), &s.buf)
		if err == nil && st.state != 'Z' && st.state != 'X' {
			p.VSizeBytes = st.vsize
			return tid
		}
	}
	markUnavailable(p, "live_thread", "no live thread found (all exiting)")
	return 0
}

// liveThreadMemory takes the memory of a process whose main thread exited
// (LeaderExited) from its live thread's task/TID/status: the threads
// share one address space, and only the exited leader has lost its hold
// on it.
func (s *scan) liveThreadMemory(p *Process) {
	if p.LiveTID == 0 {
		return // Unavailable["live_thread"] says why
	}
	sf, err := readStatus(atFDCWD, s.path.set(p.PID, p.LiveTID, "status"), &s.buf)
	switch {
	case err != nil:
		markUnavailable(p, "rss", "task/"+strconv.Itoa(p.LiveTID)+"/status: "+Reason(err))
	case sf.has&hasVmRSS == 0:
		markUnavailable(p, "rss", "task/"+strconv.Itoa(p.LiveTID)+"/status: no VmRSS (exiting)")
	default:
		p.RSSBytes, p.HasRSS = mulSat(sf.vmRSSKB, 1024), true
		p.VmPeakB, p.VmSwapB = mulSat(sf.vmPeakKB, 1024), mulSat(sf.vmSwapKB, 1024)
		p.HasVM = sf.has&hasVmPeak != 0
		if sf.has&(hasRssFile|hasRssShmem) == hasRssFile|hasRssShmem {
			p.SharedBytes, p.HasShared = mulSat(addSat(sf.rssFileKB, sf.rssShmKB), 1024), true
		}
		statusSplit(p, &sf)
	}
}

// statusSplit sets p's resident set split (ProcStatus.RSSSplit) from the
// status sf its RSSBytes and SharedBytes were just taken from, when sf
// has RssAnon, RssFile and RssShmem and they add up to its VmRSS (they
// do: the kernel prints VmRSS as their sum; a tree another program wrote
// may not).
func statusSplit(p *Process, sf *statusFields) {
	const keys = hasVmRSS | hasRssAnon | hasRssFile | hasRssShmem
	if sf.has&keys != keys || addSat(sf.rssAnonKB, addSat(sf.rssFileKB, sf.rssShmKB)) != sf.vmRSSKB {
		return
	}
	p.ShmemBytes, p.HasRSSSplit = mulSat(sf.rssShmKB, 1024), true
}

// markUnavailable records why a field of p is unavailable, without
// counting it as a read problem (the reason is not a failed read).
func markUnavailable(p *Process, key, reason string) {
	if p.Unavailable == nil {
		p.Unavailable = make(map[string]string, 2)
	}
	p.Unavailable[key] = reason
}
