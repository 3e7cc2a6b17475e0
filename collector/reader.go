package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pinspect/pinspect/collector/taskiter"
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
	// PasswdPath is the passwd file used to name uids; unreadable means
	// numeric names. Empty: on a proc filesystem root, the system's user
	// database (NSS, as ps: LDAP, SSSD and systemd's users too); on a
	// tree another program wrote, /etc/passwd.
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
	// StuckBudget is charged for the reads of the Reader's snapshots
	// abandoned at their deadline (default: a budget of MaxStuckReads of
	// its own under the process-wide one). Process and AddressSpace have
	// a budget of their own, or the one their options give.
	StuckBudget *StuckBudget
	// Backend chooses where process and thread fields come from: the BPF
	// task iterator (BackendTaskIter: one pass over every task, about a
	// microsecond a task, needs root or CAP_BPF and CAP_PERFMON and a
	// kernel with BTF), /proc (BackendProc), or the first when it can be
	// loaded on this machine's own /proc and the second otherwise
	// (BackendAuto, the zero value; Snapshot.CollectorNote says why).
	// With BackendTaskIter, NewReader fails when the iterator cannot be
	// loaded.
	Backend Backend
	// BPFCmdlines reads the cmdlines of a scan on the task iterator with
	// its cmdline program where it loads (bpfcmdline.go), one run of it
	// for every process instead of a /proc read each: for a Reader that
	// makes one scan (a one-shot command), on a machine with enough
	// processes to repay loading it (bpfCmdlinesFrom). A Reader that
	// scans again and again reads cmdlines only for new processes and
	// should not ask for it.
	BPFCmdlines bool
	// BPFPinned opens the task iterator's programs from their pin
	// (`pinspect bpf pin`, taskiter.Options.UsePin) when one of this
	// binary's object is there, fits and is free, instead of loading
	// them: for a one-shot command. Snapshot.CollectorPinned says which.
	BPFPinned bool
	// BPFIdentities answers Identities (a kernel event source's lookups
	// of new and exiting processes) on the task iterator with its
	// identity program where it loads (taskiter.Idents): one run for a
	// batch of processes instead of a /proc/PID/stat read each. For a
	// Reader that follows process events for long (the dashboard).
	BPFIdentities bool
	// BPFRawRuns runs the task iterator's walk and identity program in
	// raw system calls that keep the calling goroutine's thread and P
	// (taskiter.Options.RawRuns): for a program on one P that scans on an
	// interval and does little else (the dashboard).
	BPFRawRuns bool
	// BPFSkipDispositions has the task iterator's walk leave out every
	// process's signal dispositions (SigIgn, SigCgt: the kernel loads a
	// process's 64 handlers for them, about a tenth of a walk): a scan
	// then reads them from /proc/PID/status only for the processes of
	// ScanOptions.FreshStatus and the parents of zombies (whose SIGCHLD
	// handling a zombie diagnosis names), and marks every other
	// process's absent (Process.SigDispAbsent), never 0. For a program
	// that shows dispositions for a few processes only (the dashboard);
	// the /proc backend and the seq_file iterator read them anyway.
	BPFSkipDispositions bool
	// RecycleProcesses lets a task-iterator scan write its processes
	// into the array of an earlier snapshot's that the garbage collector
	// has found no one holds any more (recycle.go), instead of a new one.
	// For a program that collects after each refresh and gives the free
	// pages back to the kernel (the dashboard): a new array's pages were
	// each faulted in again, about 1.8 MB at 2,000 processes a refresh.
	RecycleProcesses bool
	// CgroupRoot is where the cgroup hierarchies are mounted (default
	// "/sys/fs/cgroup"), for CgroupCPU: the unified hierarchy at the
	// root (or at "unified" on a hybrid machine), v1 controllers in
	// directories named after them ("cpu,cpuacct", "cpu").
	CgroupRoot string
	// Credentials, when not nil, are the reader's as the kernel's ptrace
	// access check sees them, deciding which [PT] fields (the exit code
	// of a zombie, the stat layout, wchan) are masked: a fixture tree
	// captured by an unprivileged user is read with that user's. Default:
	// this process's own (from /proc/self/status).
	Credentials *Credentials
	// DumpOwners makes every scan record Process.DumpOwnerUID for each
	// process whose real uid is not 0 (a stat of /proc/PID): who, short
	// of root, the kernel would let read the process's [PT] fields. A
	// server that shows a non-root peer its own processes in full sets it
	// (pinspect serve with a unix socket).
	DumpOwners bool
	// CmdlineTTL bounds how long a process's cmdline, exe and cgroup,
	// cached per identity (pid + start ticks) between snapshots of one
	// Reader, are reused before being read again. They are read again
	// sooner whenever something says they may have changed: a new comm
	// or a new address-space layout (an exec, or an argv moved by
	// prctl), an exec noted by a kernel event source (NoteExecs), and at
	// every scan while the process is younger than about 2 s (a title set
	// just after start). So the TTL bounds only what changes with no sign
	// at all: an argv rewritten in place (setproctitle), an executable
	// deleted or replaced on disk (ExeDeleted), a process moved to
	// another cgroup, and, for a reader that may not ptrace the process
	// (its stat hides the layout) and has no connector, an exec that
	// keeps the comm. The task-iterator backend also reuses the cmdline
	// and exe past the TTL for a process that has not run since they
	// were read (only it can rewrite its own title). Zero means DefaultCmdlineTTL; negative disables the
	// cache.
	CmdlineTTL time.Duration
	// StatusTTL, when positive, lets a scan reuse a process's status
	// fields read by an earlier scan of this Reader up to StatusTTL ago
	// (Process.StatusAt says when each was read), instead of reading its
	// status file: about half of a process's cost in a scan without
	// threads. Its resident and shared memory are then read from statm
	// every scan, and its context switches come from taskstats. Status is
	// read afresh, whatever the TTL, for a new process identity, after a
	// change of comm (an exec), for a process that is not running or
	// sleeping (a zombie, stopped, traced, in disk sleep), for the parent
	// of a zombie, for ScanOptions.FreshStatus, when taskstats did not
	// answer for the process, and always when taskstats is not in use or
	// the reader lacks CAP_SYS_PTRACE. So the fields that may be up to
	// StatusTTL old are the uids and gids (and the user name), the
	// capabilities, the signal masks, TracerPid, VmPeak, VmSwap and the
	// leader thread's own switch counts (LeaderVol, LeaderInv, but when
	// its threads are read). Zero (the default) reads every status every
	// scan: what a one-shot command, serve and record use.
	StatusTTL time.Duration
}

// DefaultCmdlineTTL is the default Options.CmdlineTTL: a minute, the
// bound of serve's, record's and the dashboard's in-place title
// rewrites. Until issue 18's serve pass it was 10 s, and serve at a 5 s
// interval read every busy process's cmdline and exe every other
// collection (28 % of a collection at 2,000 processes).
const DefaultCmdlineTTL = time.Minute

// ScanOptions chooses what one snapshot reads (Reader.Scan). The zero
// value reads processes without their threads.
type ScanOptions struct {
	// Threads reads the threads of every process (of the Scope ones only,
	// when Scope is set).
	Threads bool
	// ThreadStates has a task-iterator scan that keeps not every thread
	// know every thread's state (Snapshot.ThreadStates): the states of
	// the threads of the processes the pass did not show (a sandbox's
	// init, read from /proc) are counted from each thread's stat where
	// taskstats gives their context switches, and such processes are
	// read with their threads where it does not (their switches are then
	// summed over their threads, as in a scan that reads threads).
	// Without it their threads count as unknown there. Every task-iterator scan counts the states of the threads
	// it walks or sums; a /proc scan counts none.
	ThreadStates bool
	// ThreadPIDs, when Threads is false, reads the threads of these
	// processes only (the selected or expanded rows of a dashboard). The
	// snapshot's ThreadsRead is then false; a process whose threads were
	// read has SrcTasks in Read.
	ThreadPIDs []int
	// Scope, when not nil, are the only processes the caller will show
	// (a --pid selection). With Threads, threads are read for them alone
	// and the snapshot's ThreadsRead and CtxSwitchSource describe them:
	// every process the caller shows had its threads read. The other
	// processes are still read, without threads, for the process tree,
	// the zombie parents and the scan counts.
	Scope []int
	// Cgroups reads every process's cgroup path (/proc/PID/cgroup, into
	// Process.Cgroup): what serve groups its metrics by when asked.
	Cgroups bool
	// IO reads every process's I/O counters (/proc/PID/io, into
	// Process.IO, under the read deadline): another user's are denied
	// without privileges.
	IO bool
	// FreshStatus are processes whose status this scan reads even when
	// the Reader may reuse an earlier one (Options.StatusTTL): the ones
	// a view shows every status field of (a dashboard's detail view).
	FreshStatus []int
	// Dispositions has a task-iterator scan read every process's signal
	// dispositions in its walk even when the Reader's
	// Options.BPFSkipDispositions leaves them out: for the scans whose
	// snapshot a client is shown whole (serve's API clients).
	Dispositions bool
	// ReuseIdentities has the scan reuse the cmdline and exe an earlier
	// scan of the Reader read for a process past Options.CmdlineTTL (and
	// past the re-read of a process younger than about 2 s) while
	// nothing says they changed: the same comm, the same address-space
	// layout, no exec noted (NoteExecs). New processes and every process
	// with a sign of change are read as always; a later scan without it
	// reads again those past their due time. For the scans whose command
	// lines nobody reads (serve's collections that only feed metrics
	// without command lines, between the scans an API client waits for):
	// what may then be older than the TTL is only what changes with no
	// sign, a title rewritten in place and an executable deleted or
	// replaced on disk.
	ReuseIdentities bool
}

// Reader is a view of one /proc root. It is safe for concurrent use: its
// scans, Process, Identity, AddressSpace and Details calls may run on
// several goroutines at once. What is shared between them has one owner,
// the Reader, and says how it is shared:
//
//   - the identity memo (cmdline, exe, user name and pid namespaces per
//     pid + start ticks, and interned comms) and the scan buffers, used
//     across scans: scanMu, held for a whole Scan, so scans of one Reader
//     run one at a time;
//   - the taskstats socket: taskstatsShare, one query or batch at a time;
//   - the read workers (deadline.go): one pool for the scans' cmdlines
//     and Process, one for address spaces; each pool's callers take
//     turns (identity lookups read stat and exe on the caller's
//     goroutine);
//   - the identity lookups' buffers: a sync.Pool, one set per call.
//
// Everything else a scan needs (its counts, problems, thread slab,
// cmdline batch) is the scan's own (scan.go), and the Snapshot it returns
// is never written again. Close stops every goroutine the Reader started.
type Reader struct {
	opts   Options
	procfs bool // Root is a proc filesystem's root (not a tree another program wrote)
	host   staticHost
	users  *userNames
	creds  Credentials // Options.Credentials, or this process's
	pageSz uint64
	start  time.Time // origin of the Reader's monotonic clock
	ts     *taskstatsShare
	// iter is the loaded task iterator (nil: the /proc backend), and
	// iterWhy why it is not used, when that needs saying.
	iter    *taskiter.Iterator
	iterWhy error
	// idents is the iterator's identity program (Options.BPFIdentities),
	// nil when not loaded; Identities reads /proc then.
	idents *taskiter.Idents
	// identsFromBPF counts the Identities answers the program gave (the
	// rest read /proc): tests tell the two paths apart by it.
	identsFromBPF atomic.Uint64
	// cmdBPFMu is held while a scan uses the iterator's cmdline program
	// (its arrays are one run's); cmdBPFStuck is set, for good, once a
	// run of it did not finish by its deadline (bpfcmdline.go).
	cmdBPFMu    sync.Mutex
	cmdBPFStuck atomic.Bool
	// slow is the scans' pool of read workers (cmdline); addrSlow is the
	// on-demand reads' (AddressSpace, Process).
	slow, addrSlow *deadlineReads
	// identWork pools Identities' buffers (identityWork):
	// concurrent calls each take their own.
	identWork sync.Pool
	closed    atomic.Bool

	// scanMu is held by a Scan from start to end; it guards memo and
	// idle, which live across scans, and keeps Close from unloading iter
	// under a pass.
	scanMu sync.Mutex
	memo   *identityMemo
	idle   *scan // the last scan's buffers, reused by the next

	// execs are the pids a kernel event source saw exec since the last
	// scan began (NoteExecs), under execMu.
	execMu sync.Mutex
	execs  []int

	// recycled is an array of processes ready for the next
	// task-iterator scan (RecycleProcesses; nil: none).
	recycled atomic.Pointer[processArray]
	// pending is the newest scan's array, whose recycling finalizer the
	// next scan sets (recycle.go; nil: none).
	pending atomic.Pointer[processArray]
}

// maxNotedExecs bounds the execs noted between two scans; beyond it they
// are dropped (an exec changes the address-space layout the memo checks
// anyway; the notes catch the rare exec that keeps it).
const maxNotedExecs = 1 << 16

// NoteExecs tells the Reader that the processes pids called exec (a
// kernel event source saw it): the next scan reads their cmdline, exe
// and cgroup afresh whatever the memo holds. An exec nearly always
// changes the comm or the address-space layout, which a scan sees
// itself; the note catches one that keeps both (the same program run
// again with no address-space randomisation and an argv of the same
// length). It is safe for concurrent use.
func (r *Reader) NoteExecs(pids []int) {
	r.execMu.Lock()
	defer r.execMu.Unlock()
	r.execs = append(r.execs, pids[:min(len(pids), max(maxNotedExecs-len(r.execs), 0))]...)
}

// takeExecs returns the execs noted since the last call (a scan's begin).
func (r *Reader) takeExecs() []int {
	r.execMu.Lock()
	defer r.execMu.Unlock()
	e := r.execs
	r.execs = nil
	return e
}

// Monotonic is the time on the Reader's monotonic clock: the clock of
// its snapshots' Snapshot.Monotonic, so that other readings taken beside
// them (explain's samples) can be placed among them.
func (r *Reader) Monotonic() time.Duration { return time.Since(r.start) }

// ErrClosed is returned by a Reader used after Close.
var ErrClosed = errors.New("reader closed")

// ErrNotProc is returned by NewReader for a root that is not a /proc.
var ErrNotProc = errors.New("not a proc filesystem")

// NewReader checks the root and reads the host facts that do not change.
func NewReader(opts Options) (*Reader, error) {
	if opts.Root == "" {
		opts.Root = "/proc"
	}
	if opts.CmdlineMax <= 0 {
		opts.CmdlineMax = DefaultCmdlineMax
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CgroupRoot == "" {
		opts.CgroupRoot = "/sys/fs/cgroup"
	}
	if err := checkRoot(opts.Root); err != nil {
		return nil, err
	}
	r := &Reader{
		opts:   opts,
		procfs: isProcfs(opts.Root),
		users:  newUserNames(opts.PasswdPath, isProcfs(opts.Root)),
		start:  time.Now(),
		pageSz: uint64(os.Getpagesize()),
		memo:   newIdentityMemo(),
		ts:     &taskstatsShare{},
	}
	var err error
	if r.iter, r.iterWhy, err = openTaskIter(opts); err != nil {
		return nil, err
	}
	if r.iter != nil {
		r.idents = r.iter.Idents()
	}
	if opts.Credentials != nil {
		r.creds = *opts.Credentials
	} else {
		r.creds = selfCredentials()
	}
	r.host = readStaticHost(opts.Root)
	r.identWork.New = func() any { return &identityWork{pb: newPathBuf(opts.Root), link: make([]byte, linkMax)} }
	timeout := cmp.Or(opts.ReadTimeout, DefaultReadTimeout)
	r.slow = newDeadlineReads(timeout, opts.Root, opts.StuckBudget)
	r.addrSlow = newDeadlineReads(timeout, opts.Root, nil)
	if opts.NoTaskstats {
		r.ts.err = errors.New("taskstats turned off (Options.NoTaskstats)")
	} else {
		r.ts.conn, r.ts.err = probeTaskstats(opts.Root)
	}
	// Close stops the workers and closes the socket; for a Reader never
	// closed, its collection does. None of them refers back to r.
	runtime.AddCleanup(r, (*deadlineReads).close, r.slow)
	runtime.AddCleanup(r, (*deadlineReads).close, r.addrSlow)
	runtime.AddCleanup(r, func(t *taskstatsShare) { t.disable(ErrClosed) }, r.ts)
	if r.iter != nil {
		runtime.AddCleanup(r, func(it *taskiter.Iterator) { _ = it.Close() }, r.iter)
	}
	return r, nil
}

// Close stops every goroutine the Reader started (its idle read workers,
// waiting for a read in flight to reach its deadline) and releases its
// taskstats socket and task iterator; a scan in flight ends first (its
// remaining reads fail at once). A read abandoned at its deadline and
// still blocked in the kernel cannot be stopped: its worker returns when
// the read does (StuckReads counts them). A Reader is unusable after
// Close; not calling it leaks nothing once the Reader is collected.
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	r.pending.Store(nil) // the arrays kept for recycling (recycle.go)
	r.recycled.Store(nil)
	r.slow.close()
	r.addrSlow.close()
	r.ts.disable(ErrClosed)
	if r.iter != nil {
		// The iterator is the scans': unload it once no scan uses it.
		r.scanMu.Lock()
		_ = r.iter.Close()
		r.scanMu.Unlock()
	}
	return nil
}

// Backend reports which backend this Reader's scans use, and when it is
// not the task iterator on this machine's /proc, why.
func (r *Reader) Backend() (Backend, error) {
	if r.iter != nil {
		return BackendTaskIter, nil
	}
	return BackendProc, r.iterWhy
}

// PinTooSmall says, in one line, why the task iterator's pin
// (Options.BPFPinned) was passed over for being too small for the tasks
// running now (its programs were loaded instead); nil when it was used,
// when there is none, or when it was passed over for another reason.
func (r *Reader) PinTooSmall() error {
	if r.iter == nil {
		return nil
	}
	return r.iter.PinTooSmall
}

// Taskstats reports whether this Reader takes context-switch totals from
// the kernel's taskstats interface, and if not, why.
func (r *Reader) Taskstats() (used bool, why error) { return r.ts.state() }

// procRootIno is the inode number of a procfs root (PROC_ROOT_INO).
const procRootIno = 1

// isProcfs reports whether root is a proc filesystem. Its process
// directories always hold every file the kernel makes: there a missing
// file means the process is gone. A tree another program wrote (a
// capture, a fixture) may leave files out of a directory that is there.
func isProcfs(root string) bool {
	var st unix.Statfs_t
	return unix.Statfs(root, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

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
// whole-process context switches are exact without reading threads. Scans
// of one Reader run one at a time (they share the identity memo).
func (r *Reader) Scan(ctx context.Context, o ScanOptions) (*Snapshot, error) {
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	if r.closed.Load() {
		return nil, ErrClosed
	}
	if r.idle == nil {
		r.idle = r.newScan(r.memo)
	}
	if r.iter != nil {
		return r.idle.runIter(ctx, o)
	}
	return r.idle.run(ctx, o)
}

// Process reads one process with its threads, afresh (not from the
// identity memo), beside any scan. It returns an error wrapping ENOENT
// when the pid does not exist (or vanished).
func (r *Reader) Process(pid int) (*Process, ScanCounts, error) {
	return r.ProcessWith(pid, ProcessOptions{})
}

// ProcessOptions chooses how ProcessWith reads one process.
type ProcessOptions struct {
	// StuckBudget, when not nil, is charged for this call's reads
	// abandoned at their deadline (its cmdline) instead of the Reader's
	// on-demand budget, which it shares with AddressSpace (a server
	// reading for its clients gives each its own).
	StuckBudget *StuckBudget
}

// ProcessWith is Process with per-call options. Its cmdline is read on
// the on-demand read workers (AddressSpace's), never on the scans': a
// process read for a user cannot spend the stuck-read budget the scans
// need.
func (r *Reader) ProcessWith(pid int, o ProcessOptions) (*Process, ScanCounts, error) {
	if r.closed.Load() {
		return nil, ScanCounts{}, ErrClosed
	}
	s := r.newScan(nil)
	s.slow = r.addrSlow
	if o.StuckBudget != nil && r.addrSlow.timeout > 0 {
		s.slow = newDeadlineReads(r.addrSlow.timeout, r.opts.Root, o.StuckBudget)
		defer s.slow.close()
	}
	return s.one(pid)
}
