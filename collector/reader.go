package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ClockTicks is USER_HZ, the unit of the tick fields in stat. It is 100 on
// every Linux architecture's user ABI.
const ClockTicks = 100

// DefaultCmdlineMax is the default cap on bytes read from a cmdline.
const DefaultCmdlineMax = 64 << 10

// statusMax caps stat and status reads; real files are a few KiB.
const statusMax = 256 << 10

// maxProblems bounds Snapshot.Problems.
const maxProblems = 32

// Options configures a Reader. The zero value reads /proc.
type Options struct {
	// Root is the /proc root (default "/proc"); a fixture tree works too.
	Root string
	// Threads makes every snapshot read each process's threads
	// (task/TID/stat and status) and sum context switches over them.
	Threads bool
	// PasswdPath is the passwd file used to name uids (default
	// "/etc/passwd"); unreadable means numeric names.
	PasswdPath string
	// CmdlineMax caps each cmdline read (default DefaultCmdlineMax).
	CmdlineMax int
	// Now is the wall clock (default time.Now); tests inject one.
	Now func() time.Time
	// ReadTimeout is the deadline of each read that can block on the
	// target (cmdline; AddressSpace's maps, smaps, smaps_rollup and
	// task/TID/syscall); default DefaultReadTimeout, negative disables it
	// (see deadline.go).
	ReadTimeout time.Duration
	// NoTaskstats turns off the kernel's taskstats accounting even when
	// it is available. By default a Reader of this machine's own /proc
	// probes taskstats once (it needs CAP_NET_ADMIN) and, when it works,
	// takes every process's context-switch totals and run-queue delay from
	// it (CtxTaskstats, about 10 µs a process, exited threads included)
	// and each thread's counts from a per-thread query instead of its
	// status file.
	NoTaskstats bool
	// StuckBudget is charged for the reads of the Reader's snapshots and
	// Process calls abandoned at their deadline (default: a budget of
	// MaxStuckReads of its own under the process-wide one).
	StuckBudget *StuckBudget
	// CmdlineTTL is how long a process's cmdline and exe, cached per
	// identity (pid + start ticks) between snapshots of one Reader, are
	// reused before being read again; a change of comm (an exec) always
	// re-reads them. Zero means DefaultCmdlineTTL; negative disables the
	// cache.
	CmdlineTTL time.Duration
}

// DefaultCmdlineTTL is the default Options.CmdlineTTL.
const DefaultCmdlineTTL = 10 * time.Second

// ScanOptions chooses what one snapshot reads (Reader.Scan). The zero
// value reads processes without their threads.
type ScanOptions struct {
	// Threads reads the threads of every process.
	Threads bool
	// ThreadPIDs, when Threads is false, reads the threads of these
	// processes only (the selected or expanded rows of a dashboard). The
	// snapshot's ThreadsRead is then false and ThreadsSelected true; a
	// process whose threads were read has SrcTasks in Read.
	ThreadPIDs []int
}

// Reader reads snapshots of one /proc root. It reuses buffers between
// reads, so one Reader must not be used by two goroutines at once; the
// snapshots it returns are independent values.
type Reader struct {
	opts   Options
	host   staticHost
	ts     *taskstatsConn // nil when taskstats is not used
	tsErr  error          // why taskstats is not used
	cache  map[int]*procCache
	gen    uint32
	intern map[string]string
	slab   []Thread
	pageSz uint64
	tsTids []int
	// tsRecs and tsErrs are a thread batch's replies: the TGID's first,
	// then one per tsTids entry.
	tsRecs []taskstatsRecord
	tsErrs []error
	users  *userNames
	path   pathBuf
	buf    []byte
	rel    []byte // a thread's path in its task/ directory ("TID/stat")
	dirBuf []byte
	link   []byte
	ids    []int
	tids   []int
	start  time.Time
	counts ScanCounts
	probs  []Problem
	slow   *deadlineReads // reads that can block, with a deadline
	// cmdWant lists the processes of the snapshot being built whose
	// cmdline is still to be read, in one batch per cmdlineChunk
	// processes: see readCmdlines.
	cmdWant []cmdWant
	// addrSlow is AddressSpace's: it may run on another goroutine than
	// the snapshots.
	addrSlow *deadlineReads
	// identSlow is Identities': a kernel event source calls it from its
	// own goroutine, and must not wait behind a snapshot's cmdlines.
	identSlow *deadlineReads
	closed    atomic.Bool
}

// ErrClosed is returned by a Reader used after Close.
var ErrClosed = errors.New("reader closed")

// ErrNotProc is returned by NewReader for a root that is not a /proc.
var ErrNotProc = errors.New("not a proc filesystem")

// NewReader checks the root and reads the host facts that do not change.
func NewReader(opts Options) (*Reader, error) {
	if opts.Root == "" {
		opts.Root = "/proc"
	}
	if opts.PasswdPath == "" {
		opts.PasswdPath = "/etc/passwd"
	}
	if opts.CmdlineMax <= 0 {
		opts.CmdlineMax = DefaultCmdlineMax
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := checkRoot(opts.Root); err != nil {
		return nil, err
	}
	r := &Reader{
		opts:   opts,
		path:   newPathBuf(opts.Root),
		buf:    make([]byte, 0, 4096),
		dirBuf: make([]byte, 32<<10),
		link:   make([]byte, 4096),
		users:  loadUserNames(opts.PasswdPath),
		start:  time.Now(),
	}
	r.host = readStaticHost(opts.Root)
	r.slow = newDeadlineReads(cmp.Or(opts.ReadTimeout, DefaultReadTimeout), opts.Root, opts.StuckBudget)
	runtime.AddCleanup(r, (*deadlineReads).close, r.slow)
	r.addrSlow = newDeadlineReads(cmp.Or(opts.ReadTimeout, DefaultReadTimeout), opts.Root, nil)
	runtime.AddCleanup(r, (*deadlineReads).close, r.addrSlow)
	r.identSlow = newDeadlineReads(cmp.Or(opts.ReadTimeout, DefaultReadTimeout), opts.Root, nil)
	runtime.AddCleanup(r, (*deadlineReads).close, r.identSlow)
	r.pageSz = uint64(os.Getpagesize())
	r.cache = make(map[int]*procCache)
	r.intern = make(map[string]string)
	if opts.NoTaskstats {
		r.tsErr = errors.New("taskstats turned off (Options.NoTaskstats)")
	} else {
		r.ts, r.tsErr = probeTaskstats(opts.Root)
	}
	if r.ts != nil {
		// The socket is closed by Close, or when the Reader is collected.
		runtime.AddCleanup(r, func(c *taskstatsConn) { c.close() }, r.ts)
	}
	return r, nil
}

// Close stops every goroutine the Reader started (its idle read workers,
// waiting for a read in flight to reach its deadline) and releases its
// taskstats socket. A read abandoned at its deadline and still blocked in
// the kernel cannot be stopped: its worker returns when the read does
// (StuckReads counts them). A Reader is unusable after Close; not calling
// it leaks nothing once the Reader is collected.
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	r.slow.close()
	r.addrSlow.close()
	r.identSlow.close()
	if r.ts != nil {
		r.ts.close()
		r.ts = nil
		r.tsErr = ErrClosed
	}
	return nil
}

// Taskstats reports whether this Reader takes context-switch totals from
// the kernel's taskstats interface, and if not, why.
func (r *Reader) Taskstats() (used bool, why error) { return r.ts != nil, r.tsErr }

// procRootIno is the inode number of a procfs root (PROC_ROOT_INO).
const procRootIno = 1

// checkRoot accepts a procfs mount, or a directory that looks like one (a
// fixture tree: it has a stat file or a numeric directory).
func checkRoot(root string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("proc root %s: %w", root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("proc root %s: %w: not a directory", root, ErrNotProc)
	}
	var st unix.Statfs_t
	if unix.Statfs(root, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC {
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok && sys.Ino != procRootIno {
			return fmt.Errorf("proc root %s: %w: a directory inside a proc filesystem, not its root", root, ErrNotProc)
		}
		return nil
	}
	if _, err := os.Stat(root + "/stat"); err == nil {
		return nil
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("proc root %s: %w", root, err)
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			return nil
		}
	}
	return fmt.Errorf("proc root %s: %w: no stat file and no process directories", root, ErrNotProc)
}

// Root returns the /proc root this reader reads.
func (r *Reader) Root() string { return r.opts.Root }

// Snapshot reads every process (and, with Options.Threads, every thread).
// It fails only when the root itself cannot be listed; per-process
// problems are counted in the snapshot.
func (r *Reader) Snapshot(ctx context.Context) (*Snapshot, error) {
	return r.Scan(ctx, ScanOptions{Threads: r.opts.Threads})
}

// SnapshotThreads is Snapshot with the thread choice made per call.
func (r *Reader) SnapshotThreads(ctx context.Context, threads bool) (*Snapshot, error) {
	return r.Scan(ctx, ScanOptions{Threads: threads})
}

// Scan is Snapshot with per-call choices: which processes' threads to
// read. Reading threads is most of a snapshot's cost (a process with 9
// threads costs about 5 times one read without them), so a live view reads
// them only for the processes it shows thread rows for; with taskstats the
// whole-process context switches are exact without reading threads.
func (r *Reader) Scan(ctx context.Context, o ScanOptions) (*Snapshot, error) {
	wall := r.opts.Now()
	mono := time.Since(r.start)
	r.counts = ScanCounts{}
	r.probs = r.probs[:0]
	r.gen++
	threads := o.Threads
	var want []int
	if !threads && len(o.ThreadPIDs) > 0 {
		want = slices.Clone(o.ThreadPIDs)
		slices.Sort(want)
	}
	snap := &Snapshot{
		TakenAt:         wall,
		Monotonic:       mono,
		Root:            r.opts.Root,
		ThreadsRead:     threads,
		ThreadsSelected: want != nil,
	}
	snap.Host = r.readHost()
	var err error
	r.ids, err = listNumeric(r.path.setTop(""), r.dirBuf, r.ids[:0])
	if err != nil {
		return nil, &ReadError{File: r.opts.Root, Err: err}
	}
	slices.Sort(r.ids)
	r.counts.Listed = len(r.ids)
	snap.Processes = make([]Process, 0, len(r.ids))
	r.slab = nil
	r.cmdWant = r.cmdWant[:0]
	for i, pid := range r.ids {
		if i&63 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		th := threads
		if want != nil {
			_, th = slices.BinarySearch(want, pid)
		}
		p, ok := r.readProcess(pid, th, len(snap.Processes))
		if ok {
			snap.Processes = append(snap.Processes, p)
		}
		if len(r.cmdWant) >= cmdlineChunk {
			snap.Processes = r.readCmdlines(snap.Processes)
		}
	}
	snap.Processes = r.readCmdlines(snap.Processes)
	r.slab = nil
	r.sweepCache()
	switch {
	case r.ts != nil:
		snap.CtxSwitchSource = CtxTaskstats
	case threads:
		snap.CtxSwitchSource = CtxThreadSum
	default:
		snap.CtxSwitchSource = CtxLeaderOnly
	}
	if r.ts == nil && r.tsErr != nil {
		snap.CtxSwitchNote = "whole-process context switches cover live threads only (thread_sum) or the leader only: " + r.tsErr.Error()
	}
	snap.Counts = r.counts
	snap.Problems = slices.Clone(r.probs)
	snap.ScanDuration = time.Since(r.start) - mono
	return snap, nil
}

// Process reads one process with its threads. It returns an error wrapping
// ENOENT when the pid does not exist (or vanished).
func (r *Reader) Process(pid int) (*Process, ScanCounts, error) {
	r.counts = ScanCounts{}
	r.probs = r.probs[:0]
	r.slab = nil
	r.cmdWant = r.cmdWant[:0]
	p, ok := r.readProcess(pid, true, 0)
	r.slab = nil
	if !ok {
		return nil, r.counts, &ReadError{PID: pid, File: "stat", Err: unix.ENOENT}
	}
	procs := r.readCmdlines([]Process{p})
	if len(procs) == 0 {
		return nil, r.counts, &ReadError{PID: pid, File: "cmdline", Err: unix.ENOENT}
	}
	return &procs[0], r.counts, nil
}

// problem records a non-vanishing read problem on a process.
func (r *Reader) problem(p *Process, file string, err error) {
	reason := Reason(err)
	if p.Unavailable == nil {
		p.Unavailable = make(map[string]string, 2)
	}
	p.Unavailable[file] = reason
	switch {
	case IsDenied(err):
		r.counts.Denied++
	case isTimeout(err):
		r.counts.Timeouts++
	default:
		r.counts.ParseErrors++
	}
	if !IsDenied(err) && len(r.probs) < maxProblems {
		r.probs = append(r.probs, Problem{PID: p.PID, File: file, Reason: reason})
	}
}

// procCache is what a Reader keeps about one process between snapshots:
// the strings that rarely change, so that a snapshot neither re-reads nor
// re-allocates them.
type procCache struct {
	start   uint64 // identity: with the pid, start ticks
	comm    string // the comm the cmdline and exe were read with
	cmdline []string
	noNUL   bool
	trunc   bool
	cmdOK   bool
	exe     string
	exeDel  bool
	exeOK   bool // exe read, or ENOENT (no executable)
	readAt  time.Duration
	nspids  []int
	seen    uint32 // generation of the last snapshot that saw it
	user    string
	userUID int
	userOK  bool
}

// cached returns the cache entry of a process identity, creating or
// replacing it.
func (r *Reader) cached(pid int, start uint64) *procCache {
	c := r.cache[pid]
	if c == nil || c.start != start {
		c = &procCache{start: start}
		r.cache[pid] = c
	}
	c.seen = r.gen
	return c
}

// sweepCache drops the entries of processes not seen in this snapshot,
// and bounds the comm intern table.
func (r *Reader) sweepCache() {
	for pid, c := range r.cache {
		if c.seen != r.gen {
			delete(r.cache, pid)
		}
	}
	if len(r.intern) > 1<<16 {
		clear(r.intern)
	}
}

// internComm returns b as a string, shared with earlier equal comms.
func (r *Reader) internComm(b []byte) string {
	if s, ok := r.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	r.intern[s] = s
	return s
}

// threadSlots returns a slice of n zeroed threads with capacity n, cut
// from a slab shared by the snapshot (one allocation for many processes).
func (r *Reader) threadSlots(n int) []Thread {
	if n > 256 {
		return make([]Thread, 0, n)
	}
	if cap(r.slab)-len(r.slab) < n {
		r.slab = make([]Thread, 0, 2048)
	}
	l := len(r.slab)
	r.slab = r.slab[:l+n]
	return r.slab[l : l : l+n]
}

// readProcess reads one process, which will be at index idx of the
// snapshot's processes; its cmdline, unless cached, is left to
// readCmdlines. ok is false when it vanished.
func (r *Reader) readProcess(pid int, threads bool, idx int) (p Process, ok bool) {
	before := r.counts
	p.PID = pid
	p.ExitCode = -1
	var c *procCache
	st, err := readStat(atFDCWD, r.path.set(pid, 0, "stat"), &r.buf)
	if err == nil {
		c = r.cached(pid, st.starttime)
		r.applyStat(&p, &st, c)
		p.Read |= SrcStat
	}
	if err != nil {
		if IsVanished(err) {
			r.counts.Vanished++
			return p, false
		}
		r.counts.Unreadable++
		r.problem(&p, "stat", err)
	}

	sf, err := readStatus(atFDCWD, r.path.set(pid, 0, "status"), &r.buf)
	if err == nil {
		err = sf.checkComplete()
	}
	switch {
	case err == nil:
		r.applyStatus(&p, &sf, c)
		p.Read |= SrcStatus
	case IsVanished(err):
		r.counts.Vanished++
		return p, false
	default:
		r.problem(&p, "status", err)
	}

	// cmdline and exe change only at exec, which changes comm (or with a
	// rewritten argv title): reuse them within the TTL.
	now := time.Since(r.start)
	ttl := r.opts.CmdlineTTL
	if ttl == 0 {
		ttl = DefaultCmdlineTTL
	}
	fresh := c != nil && ttl > 0 && c.cmdOK && c.exeOK && c.comm == p.Comm && now-c.readAt < ttl
	if fresh {
		p.Cmdline, p.CmdlineNoNUL, p.CmdlineTruncated = c.cmdline, c.noNUL, c.trunc
		p.Read |= SrcCmdline
		if c.exe != "" {
			p.Exe, p.ExeDeleted = c.exe, c.exeDel
			p.Read |= SrcExe
		}
	} else {
		r.readExe(&p, c, now)
	}

	p.CtxSource = CtxLeaderOnly
	p.VolCtx, p.InvolCtx = p.LeaderVol, p.LeaderInv
	if r.ts != nil && !threads {
		r.readTaskstats(&p)
	}
	if threads {
		if !r.readThreads(&p, &sf) {
			r.counts.Vanished++
			return p, false
		}
	}
	if !fresh {
		r.cmdWant = append(r.cmdWant, cmdWant{idx: idx, c: c, counts: r.counts.minus(before)})
	}
	return p, true
}

// readExe reads exe into p and the cache entry c (which may be nil), and
// starts the entry afresh: its cmdline is read by readCmdlines.
func (r *Reader) readExe(p *Process, c *procCache, now time.Duration) {
	exeOK := false
	exe, deleted, err := readExe(r.path.set(p.PID, 0, "exe"), r.link)
	switch {
	case err == nil:
		p.Exe, p.ExeDeleted = exe, deleted
		p.Read |= SrcExe
		exeOK = true
	case errors.Is(err, unix.ENOENT):
		// Kernel threads and zombies have no executable: not an error.
		exeOK = true
	default:
		r.problem(p, "exe", err)
	}
	if c != nil {
		c.comm = p.Comm
		c.cmdline, c.noNUL, c.trunc, c.cmdOK = nil, false, false, false
		c.exe, c.exeDel, c.exeOK = p.Exe, p.ExeDeleted, exeOK
		c.readAt = now
	}
}

// cmdWant is a process whose cmdline readCmdlines reads: its index in
// the snapshot's processes, its cache entry (nil when its stat could not
// be read), and what reading its other files added to the scan counts.
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

// readCmdlines reads the cmdline of every process in r.cmdWant as one
// batch under the per-read deadline (cmdline takes the target's mmap lock
// and can block: deadline.go), and returns procs without the processes
// that vanished meanwhile.
func (r *Reader) readCmdlines(procs []Process) []Process {
	if len(r.cmdWant) == 0 {
		return procs
	}
	b := &r.slow.cmdlines
	b.reset(r.opts.CmdlineMax)
	for _, w := range r.cmdWant {
		b.add(r.path.set(procs[w.idx].PID, 0, "cmdline"))
	}
	r.slow.readBatch(b)
	gone := false
	for i, w := range r.cmdWant {
		p := &procs[w.idx]
		data, trunc, err := b.result(i)
		switch {
		case err == nil:
			p.Cmdline, p.CmdlineNoNUL = parseCmdline(data)
			p.CmdlineTruncated = trunc
			p.Read |= SrcCmdline
			if w.c != nil {
				w.c.cmdline, w.c.noNUL, w.c.trunc, w.c.cmdOK = p.Cmdline, p.CmdlineNoNUL, trunc, true
			}
		case IsVanished(err):
			// Gone since its other files were read: take back what
			// they added to the counts, and drop its problems with it.
			r.counts = r.counts.minus(w.counts)
			pid := p.PID
			r.probs = slices.DeleteFunc(r.probs, func(q Problem) bool { return q.PID == pid })
			p.PID = -1 // dropped below
			gone = true
			r.counts.Vanished++
		default:
			r.problem(p, "cmdline", err)
		}
	}
	r.cmdWant = r.cmdWant[:0]
	if len(b.data) > 1<<20 {
		b.data = nil // a huge cmdline: do not keep its buffer
	}
	if gone {
		procs = slices.DeleteFunc(procs, func(p Process) bool { return p.PID < 0 })
	}
	return procs
}

// readTaskstats takes the process's context-switch totals and run-queue
// delay from a TGID query (see applyTGID).
func (r *Reader) readTaskstats(p *Process) {
	rec, err := r.ts.query(p.PID, true)
	r.applyTGID(p, rec, err)
}

// applyTGID takes the process's context-switch totals and run-queue delay
// from the reply to its TGID query. A failure for one process (it exited,
// or is a zombie the kernel no longer accounts) leaves the /proc values.
func (r *Reader) applyTGID(p *Process, rec taskstatsRecord, err error) {
	if err != nil {
		if IsDenied(err) {
			// Permission lost mid-run: stop using taskstats.
			r.ts.close()
			r.ts, r.tsErr = nil, fmt.Errorf("taskstats: %w", err)
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

func (r *Reader) applyStat(p *Process, st *statFields, c *procCache) {
	if c != nil && c.comm == string(st.comm) {
		p.Comm = c.comm
	} else {
		p.Comm = r.internComm(st.comm)
	}
	p.State = st.state
	p.PPID = int(st.ppid)
	p.PGID = int(st.pgid)
	p.SID = int(st.sid)
	p.TTY = int(st.ttyNr)
	p.TPGID = int(st.tpgid)
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
	p.RSSPages = st.rss
	if st.rss > 0 {
		p.RSSBytes = mulSat(uint64(st.rss), r.pageSz)
	}
	p.Processor = st.processor
	p.RTPriority = st.rtPriority
	p.Policy = st.policy
	p.DelayTicks = st.blkioTicks
	p.Layout = st.layout
	p.ExitCode = st.exitCode
	// Zero (omitted) when the start ticks are beyond a time.Duration.
	p.StartedAt, _ = StartTime(r.host.bootTime, st.starttime)
}

func (r *Reader) applyStatus(p *Process, sf *statusFields, c *procCache) {
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
		if c != nil && c.userOK && c.userUID == p.UIDs[0] {
			p.User = c.user
		} else {
			p.User = r.users.name(p.UIDs[0])
			if c != nil {
				c.user, c.userUID, c.userOK = p.User, p.UIDs[0], true
			}
		}
	}
	if sf.has&hasGid != 0 {
		for i := range p.GIDs {
			p.GIDs[i] = int(sf.gids[i])
		}
	}
	if sf.nnspids > 0 {
		if c != nil && sameInts(c.nspids, sf.nspids[:sf.nnspids]) {
			p.NSPids = c.nspids
		} else {
			p.NSPids = make([]int, sf.nnspids)
			for i := range p.NSPids {
				p.NSPids[i] = int(sf.nspids[i])
			}
			if c != nil {
				c.nspids = p.NSPids
			}
		}
	}
	p.SigPnd, p.ShdPnd, p.SigBlk, p.SigIgn, p.SigCgt = sf.sigPnd, sf.shdPnd, sf.sigBlk, sf.sigIgn, sf.sigCgt
	p.CapEff = sf.capEff
	p.CapInh, p.CapPrm, p.CapBnd, p.CapAmb = sf.capInh, sf.capPrm, sf.capBnd, sf.capAmb
	p.VmPeakB = sf.vmPeakKB * 1024
	p.VmSwapB = sf.vmSwapKB * 1024
	p.LeaderVol, p.LeaderInv = sf.vol, sf.invol
	if p.Read&SrcStat == 0 && sf.has&hasPPid != 0 {
		p.PPID = int(sf.ppid)
	}
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

// readThreads lists task/ and reads each thread: its stat, and its
// context switches from a per-thread taskstats query when taskstats is in
// use, else from its status file. It returns false when the whole process
// vanished (task/ is gone).
func (r *Reader) readThreads(p *Process, leader *statusFields) bool {
	var err error
	taskfd := -1 // task/, open while the threads are read
	if p.NumThreads == 1 && p.State != 'Z' && p.Read&SrcStat != 0 {
		// A single-threaded process (most processes of a typical
		// machine) has one task, the leader: no need to list task/. A
		// zombie leader may have one other live thread, so it is listed.
		r.tids = append(r.tids[:0], p.PID)
	} else if taskfd, err = openPath(r.path.set(p.PID, 0, "task"), unix.O_DIRECTORY); err == nil {
		defer unix.Close(taskfd)
		r.tids, err = listNumericFD(taskfd, r.dirBuf, r.tids[:0])
	}
	// threadFile is where task/TID/name is: in the open task/ when there
	// is one.
	threadFile := func(tid int, name string) (uintptr, []byte) {
		if taskfd < 0 {
			return atFDCWD, r.path.set(p.PID, tid, name)
		}
		r.rel = strconv.AppendInt(r.rel[:0], int64(tid), 10)
		r.rel = append(append(append(r.rel, '/'), name...), 0)
		return uintptr(taskfd), r.rel
	}
	if err != nil {
		if IsVanished(err) {
			return false
		}
		r.problem(p, "task", err)
		if r.ts != nil {
			r.readTaskstats(p)
		}
		return true
	}
	slices.Sort(r.tids)
	p.Threads = r.threadSlots(len(r.tids))
	p.Read |= SrcTasks
	// With taskstats, one batch of per-thread queries replaces the
	// status files of every thread but the leader; the process's own
	// TGID query goes in the same batch.
	batched := false
	if r.ts != nil {
		r.tsTids = r.tsTids[:0]
		for _, tid := range r.tids {
			if tid != p.PID || p.Read&SrcStatus == 0 {
				r.tsTids = append(r.tsTids, tid)
			}
		}
		r.tsRecs, r.tsErrs = r.ts.queryBatch(p.PID, r.tsTids, r.tsRecs, r.tsErrs)
		r.applyTGID(p, r.tsRecs[0], r.tsErrs[0])
		batched = true
	}
	next := 0 // index in r.tsTids
	allStatus := true
	var vol, invol uint64
	for _, tid := range r.tids {
		t := Thread{TID: tid}
		dirfd, path := threadFile(tid, "stat")
		st, err := readStat(dirfd, path, &r.buf)
		if err != nil {
			if IsVanished(err) {
				r.counts.VanishedThreads++
				continue
			}
			r.problem(p, "task/"+strconv.Itoa(tid)+"/stat", err)
			continue
		}
		t.StartTicks = st.starttime
		if string(st.comm) == p.Comm {
			t.Comm = p.Comm
		} else {
			t.Comm = r.internComm(st.comm)
		}
		t.State = st.state
		t.UTimeTicks, t.STimeTicks = st.utime, st.stime
		t.Processor = st.processor
		t.Priority, t.Nice = st.priority, st.nice
		switch {
		case tid == p.PID && p.Read&SrcStatus != 0:
			// The leader's task status is /proc/PID/status, read above.
			t.HasStatus = leader.has&hasVol != 0
			t.VolCtx, t.InvolCtx = leader.vol, leader.invol
		case batched && r.threadTaskstats(&t, &next):
		default:
			dirfd, path := threadFile(tid, "status")
			sf, err := readStatus(dirfd, path, &r.buf)
			switch {
			case err == nil:
				t.HasStatus = sf.has&hasVol != 0
				t.VolCtx, t.InvolCtx = sf.vol, sf.invol
			case IsVanished(err):
				r.counts.VanishedThreads++
				continue
			default:
				r.problem(p, "task/"+strconv.Itoa(tid)+"/status", err)
			}
		}
		if t.HasStatus {
			vol += t.VolCtx
			invol += t.InvolCtx
		} else {
			allStatus = false
		}
		p.Threads = append(p.Threads, t)
	}
	if p.CtxSource != CtxTaskstats && allStatus && len(p.Threads) > 0 {
		p.VolCtx, p.InvolCtx = vol, invol
		p.CtxSource = CtxThreadSum
	}
	return true
}

// threadTaskstats fills a thread's context switches and run-queue delay
// from the batch of per-thread taskstats replies (r.tsTids, sorted, read
// from *next on); false means use its status file.
func (r *Reader) threadTaskstats(t *Thread, next *int) bool {
	i := *next
	for i < len(r.tsTids) && r.tsTids[i] < t.TID {
		i++
	}
	*next = i
	// Reply i+1: the TGID reply comes first.
	if i >= len(r.tsTids) || r.tsTids[i] != t.TID || r.tsErrs[i+1] != nil {
		return false
	}
	rec := r.tsRecs[i+1]
	t.HasStatus = true
	t.VolCtx, t.InvolCtx = rec.nvcsw, rec.nivcsw
	t.CPUDelayNs = rec.cpuDelayNs
	return true
}
