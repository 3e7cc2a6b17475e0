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
	// target (cmdline); default DefaultReadTimeout, negative disables it
	// (see deadline.go).
	ReadTimeout time.Duration
}

// Reader reads snapshots of one /proc root. It reuses buffers between
// reads, so one Reader must not be used by two goroutines at once; the
// snapshots it returns are independent values.
type Reader struct {
	opts   Options
	host   staticHost
	users  *userNames
	path   pathBuf
	buf    []byte
	dirBuf []byte
	link   []byte
	ids    []int
	tids   []int
	start  time.Time
	counts ScanCounts
	probs  []Problem
	slow   *deadlineReads // reads that can block, with a deadline
}

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
	r.slow = newDeadlineReads(cmp.Or(opts.ReadTimeout, DefaultReadTimeout))
	runtime.AddCleanup(r, (*deadlineReads).close, r.slow)
	return r, nil
}

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
	return r.snapshot(ctx, r.opts.Threads)
}

// SnapshotThreads is Snapshot with the thread choice made per call.
func (r *Reader) SnapshotThreads(ctx context.Context, threads bool) (*Snapshot, error) {
	return r.snapshot(ctx, threads)
}

func (r *Reader) snapshot(ctx context.Context, threads bool) (*Snapshot, error) {
	wall := r.opts.Now()
	mono := time.Since(r.start)
	r.counts = ScanCounts{}
	r.probs = r.probs[:0]
	snap := &Snapshot{
		TakenAt:     wall,
		Monotonic:   mono,
		Root:        r.opts.Root,
		ThreadsRead: threads,
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
	for i, pid := range r.ids {
		if i&63 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p, ok := r.readProcess(pid, threads)
		if ok {
			snap.Processes = append(snap.Processes, p)
		}
	}
	snap.CtxSwitchSource = CtxLeaderOnly
	if threads {
		snap.CtxSwitchSource = CtxThreadSum
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
	p, ok := r.readProcess(pid, true)
	if !ok {
		return nil, r.counts, &ReadError{PID: pid, File: "stat", Err: unix.ENOENT}
	}
	return &p, r.counts, nil
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

// readProcess reads one process. ok is false when it vanished.
func (r *Reader) readProcess(pid int, threads bool) (p Process, ok bool) {
	p.PID = pid
	p.ExitCode = -1
	data, trunc, err := readAt(r.path.set(pid, 0, "stat"), &r.buf, statusMax)
	if err == nil && trunc {
		err = ErrTooLarge
	}
	if err == nil {
		var st statFields
		st, err = parseStat(data)
		if err == nil {
			r.applyStat(&p, &st)
			p.Read |= SrcStat
		}
	}
	if err != nil {
		if IsVanished(err) {
			r.counts.Vanished++
			return p, false
		}
		r.counts.Unreadable++
		r.problem(&p, "stat", err)
	}

	data, trunc, err = readAt(r.path.set(pid, 0, "status"), &r.buf, statusMax)
	var sf statusFields
	if err == nil && trunc {
		err = ErrTooLarge
	}
	if err == nil {
		sf, err = parseStatus(data)
	}
	if err == nil {
		err = sf.checkComplete()
	}
	switch {
	case err == nil:
		r.applyStatus(&p, &sf)
		p.Read |= SrcStatus
	case IsVanished(err):
		r.counts.Vanished++
		return p, false
	default:
		r.problem(&p, "status", err)
	}

	data, trunc, err = r.slow.read(r.path.set(pid, 0, "cmdline"), &r.buf, r.opts.CmdlineMax)
	switch {
	case err == nil:
		p.Cmdline, p.CmdlineNoNUL = parseCmdline(data)
		p.CmdlineTruncated = trunc
		p.Read |= SrcCmdline
	case IsVanished(err):
		r.counts.Vanished++
		return p, false
	default:
		r.problem(&p, "cmdline", err)
	}

	exe, err := readlinkAt(r.path.set(pid, 0, "exe"), r.link)
	switch {
	case err == nil:
		const del = " (deleted)"
		if len(exe) > len(del) && exe[len(exe)-len(del):] == del {
			exe, p.ExeDeleted = exe[:len(exe)-len(del)], true
		}
		p.Exe = exe
		p.Read |= SrcExe
	case errors.Is(err, unix.ENOENT):
		// Kernel threads and zombies have no executable: not an error.
	default:
		r.problem(&p, "exe", err)
	}

	p.CtxSource = CtxLeaderOnly
	p.VolCtx, p.InvolCtx = p.LeaderVol, p.LeaderInv
	if threads {
		if !r.readThreads(&p, &sf) {
			r.counts.Vanished++
			return p, false
		}
	}
	return p, true
}

func (r *Reader) applyStat(p *Process, st *statFields) {
	p.Comm = string(st.comm)
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
		p.RSSBytes = uint64(st.rss) * uint64(os.Getpagesize())
	}
	p.Processor = st.processor
	p.RTPriority = st.rtPriority
	p.Policy = st.policy
	p.DelayTicks = st.blkioTicks
	p.Layout = st.layout
	p.ExitCode = st.exitCode
	if !r.host.bootTime.IsZero() {
		p.StartedAt = r.host.bootTime.Add(time.Duration(st.starttime) * (time.Second / ClockTicks))
	}
}

func (r *Reader) applyStatus(p *Process, sf *statusFields) {
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
		p.User = r.users.name(p.UIDs[0])
	}
	if sf.has&hasGid != 0 {
		for i := range p.GIDs {
			p.GIDs[i] = int(sf.gids[i])
		}
	}
	if sf.nnspids > 0 {
		p.NSPids = make([]int, sf.nnspids)
		for i := range p.NSPids {
			p.NSPids[i] = int(sf.nspids[i])
		}
	}
	p.SigPnd, p.ShdPnd, p.SigBlk, p.SigIgn, p.SigCgt = sf.sigPnd, sf.shdPnd, sf.sigBlk, sf.sigIgn, sf.sigCgt
	p.CapEff = sf.capEff
	p.VmPeakB = sf.vmPeakKB * 1024
	p.VmSwapB = sf.vmSwapKB * 1024
	p.LeaderVol, p.LeaderInv = sf.vol, sf.invol
	if p.Read&SrcStat == 0 && sf.has&hasPPid != 0 {
		p.PPID = int(sf.ppid)
	}
}

// readThreads lists task/ and reads each thread. It returns false when the
// whole process vanished (task/ is gone).
func (r *Reader) readThreads(p *Process, leader *statusFields) bool {
	var err error
	r.tids, err = listNumeric(r.path.set(p.PID, 0, "task"), r.dirBuf, r.tids[:0])
	if err != nil {
		if IsVanished(err) {
			return false
		}
		r.problem(p, "task", err)
		return true
	}
	slices.Sort(r.tids)
	p.Threads = make([]Thread, 0, len(r.tids))
	p.Read |= SrcTasks
	allStatus := true
	var vol, invol uint64
	for _, tid := range r.tids {
		t := Thread{TID: tid}
		data, _, err := readAt(r.path.set(p.PID, tid, "stat"), &r.buf, statusMax)
		var st statFields
		if err == nil {
			st, err = parseStat(data)
		}
		if err != nil {
			if IsVanished(err) {
				r.counts.VanishedThreads++
				continue
			}
			r.problem(p, "task/"+strconv.Itoa(tid)+"/stat", err)
			continue
		}
		t.StartTicks = st.starttime
		t.Comm = string(st.comm)
		t.State = st.state
		t.UTimeTicks, t.STimeTicks = st.utime, st.stime
		t.Processor = st.processor
		t.Priority, t.Nice = st.priority, st.nice
		if tid == p.PID && p.Read&SrcStatus != 0 {
			// The leader's task status is /proc/PID/status, read above.
			t.HasStatus = leader.has&hasVol != 0
			t.VolCtx, t.InvolCtx = leader.vol, leader.invol
		} else {
			data, _, err = readAt(r.path.set(p.PID, tid, "status"), &r.buf, statusMax)
			var sf statusFields
			if err == nil {
				sf, err = parseStatus(data)
			}
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
	if allStatus && len(p.Threads) > 0 {
		p.VolCtx, p.InvolCtx = vol, invol
		p.CtxSource = CtxThreadSum
	}
	return true
}
