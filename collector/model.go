package collector

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Snapshot is everything read from one /proc root at one moment. It is a
// plain value: once returned by Reader.Snapshot it is never mutated, so it
// can be shared between goroutines and views.
type Snapshot struct {
	// TakenAt is the wall-clock time the scan started.
	TakenAt time.Time
	// Monotonic is the scan start on the monotonic clock (for rates); it is
	// the zero Duration in fixture snapshots built by hand.
	Monotonic time.Duration
	// ScanDuration is how long the scan took.
	ScanDuration time.Duration
	// Root is the /proc root that was read.
	Root string
	// SelfPID is the pid of the reading process itself in Root (the
	// target of Root/self), 0 when Root is not a proc filesystem this
	// process is in (a fixture tree). Filters leave it out, as pgrep
	// does: "is nginx running?" must not be answered by the question.
	SelfPID int
	// Host holds machine-wide facts.
	Host Host
	// Processes is every process found, sorted by PID.
	Processes []Process
	// ThreadsRead says whether per-thread data was collected for every
	// process (for every process of ScanOptions.Scope, when set). A
	// process whose threads were read has SrcTasks in Read.
	ThreadsRead bool
	// ThreadStates counts every process's threads by state when the scan
	// knows them without keeping every thread: a task-iterator scan
	// counts the threads the kernel summed (and those it kept). Nil from
	// a /proc scan: count the kept Threads there.
	ThreadStates *ThreadStates
	// CtxSwitchSource says where the process context-switch totals come
	// from (see the CtxSource constants); each Process.CtxSource is the
	// authority for that process.
	CtxSwitchSource CtxSource
	// CtxSwitchNote explains totals that are not exact, e.g. why taskstats
	// was not used ("live threads only"); empty when they are exact.
	CtxSwitchNote string
	// Counts is the scan's bookkeeping: vanished, denied, errors.
	Counts ScanCounts
	// Problems lists the first few per-process read problems that were not
	// vanishing or permission (parse errors, timeouts), for display.
	Problems []Problem
	// CmdlinesBPF is how many cmdlines the task iterator's cmdline
	// program read (Options.BPFCmdlines); the others came from /proc.
	CmdlinesBPF int
	// Collector is the backend that read the processes and threads:
	// BackendTaskIter or BackendProc (empty in snapshots built by hand).
	Collector Backend
	// CollectorPinned: the task iterator's programs were opened from
	// their pin (Options.BPFPinned), not loaded by this process.
	CollectorPinned bool
	// CollectorNote says, in one line, why the task iterator was not
	// used on this machine's /proc (or why a pass fell back to /proc),
	// and why cmdlines came from /proc when Options.BPFCmdlines asked
	// for the cmdline program and it was not used (not loaded, its run
	// failed or passed its deadline); empty when all was as asked, or
	// when the root is not this machine's /proc.
	CollectorNote string
}

// ThreadStates counts threads by state.
type ThreadStates struct {
	// ByState counts the threads in each state: ByState[i] those in
	// state StateLetters[i].
	ByState [len(StateLetters)]int
	// Unknown counts the threads whose state was not read (a process
	// read from /proc without its threads).
	Unknown int
}

// Add counts one thread in state letter (Unknown for a letter outside
// StateLetters).
func (c *ThreadStates) Add(letter byte) { c.AddN(letter, 1) }

// AddN counts n threads in state letter.
func (c *ThreadStates) AddN(letter byte, n int) {
	if i := strings.IndexByte(StateLetters, letter); i >= 0 && letter != 0 {
		c.ByState[i] += n
		return
	}
	c.Unknown += n
}

// ScanCounts counts what a scan could not read, so nothing is dropped
// silently.
type ScanCounts struct {
	// Listed is the number of processes found: the numeric directories
	// seen in the root or, on the task iterator, the processes of the pass
	// and those read from /proc beside it (readIterHidden).
	Listed int
	// Vanished counts processes that disappeared between listing and
	// reading (ENOENT or ESRCH); they are not in Processes.
	Vanished int
	// VanishedThreads counts threads that disappeared mid-read.
	VanishedThreads int
	// Denied counts fields left unavailable for permission (EACCES/EPERM).
	Denied int
	// ParseErrors counts files whose content could not be parsed.
	ParseErrors int
	// Timeouts counts reads abandoned at their deadline.
	Timeouts int
	// Unreadable counts processes listed but whose stat could not be read
	// for a reason other than vanishing (denied, garbage, timeout, not
	// present); they are kept in Processes with Unavailable["stat"] set.
	Unreadable int
	// NotPresent counts files absent from a process directory that is
	// still there (ReasonNotPresent: a /proc tree another program wrote);
	// the process is kept with that file's fields unavailable.
	NotPresent int
}

// minus is c with o's counts taken away, field by field.
func (c ScanCounts) minus(o ScanCounts) ScanCounts {
	return ScanCounts{
		Listed: c.Listed - o.Listed, Vanished: c.Vanished - o.Vanished,
		VanishedThreads: c.VanishedThreads - o.VanishedThreads, Denied: c.Denied - o.Denied,
		ParseErrors: c.ParseErrors - o.ParseErrors, Timeouts: c.Timeouts - o.Timeouts,
		Unreadable: c.Unreadable - o.Unreadable, NotPresent: c.NotPresent - o.NotPresent,
	}
}

// Problem is one recorded read problem.
type Problem struct {
	PID    int
	File   string
	Reason string
}

// CtxSource names how process context-switch totals were obtained.
type CtxSource string

// The context-switch sources, best first.
const (
	// CtxTaskstats: the kernel's per-thread-group accounting (taskstats by
	// TGID): exact, includes exited threads on current kernels.
	CtxTaskstats CtxSource = "taskstats"
	// CtxThreadSum: the sum over /proc/PID/task/*/status: live threads only.
	CtxThreadSum CtxSource = "thread_sum"
	// CtxLeaderOnly: /proc/PID/status alone, which covers the leader thread
	// only (used when threads were not read).
	CtxLeaderOnly CtxSource = "leader_only"
)

// Host holds machine-wide facts.
type Host struct {
	Hostname string
	Kernel   string
	// BootTime is when the machine booted (btime in /proc/stat).
	BootTime time.Time
	// UptimeSeconds from /proc/uptime; 0 when unreadable.
	UptimeSeconds float64
	CPUs          int
	MemTotalBytes uint64
	MemAvailBytes uint64
	Load1         float64
	Load5         float64
	Load15        float64
	// ContextSwitches is the system-wide total (ctxt in /proc/stat).
	ContextSwitches uint64
	// ProcessesCreated is the number of forks since boot.
	ProcessesCreated uint64
	ProcsRunning     uint64
	ProcsBlocked     uint64
	// CPUTicks is the sum of all jiffies on all CPUs (for system CPU %).
	CPUTicks uint64
	// CPUIdleTicks is idle+iowait jiffies on all CPUs.
	CPUIdleTicks uint64
	// DelayAcct is kernel.task_delayacct: the kernel counts per-task
	// delays, so a process's block I/O delay (ProcStat.DelayTicks, stat
	// field 42) is measured. When it is off that field is 0 for every
	// process whatever it waited: not a measurement. Unknown when
	// Unavailable[HostDelayAcctKey] is set.
	DelayAcct bool
	// CPUTotal is the machine's time by kind (the cpu line of
	// /proc/stat); PerCPU each online CPU's (the cpuN lines, in order).
	// Both are empty when /proc/stat could not be read
	// (Unavailable["stat"]).
	CPUTotal CPUTimes
	PerCPU   []CPUTimes
	// MemFreeBytes, MemBuffersBytes, MemCachedBytes, MemShmemBytes and
	// MemSReclaimableBytes are meminfo's MemFree, Buffers, Cached, Shmem
	// and SReclaimable; HasMemDetail says MemFree, Buffers and Cached
	// were there, HasMemAvail that MemAvailable was (before Linux 3.14
	// it is not).
	MemFreeBytes         uint64
	MemBuffersBytes      uint64
	MemCachedBytes       uint64
	MemShmemBytes        uint64
	MemSReclaimableBytes uint64
	HasMemDetail         bool
	HasMemAvail          bool
	// SwapTotalBytes and SwapFreeBytes are meminfo's SwapTotal and
	// SwapFree; HasSwap says both were there (SwapTotal 0: no swap).
	SwapTotalBytes uint64
	SwapFreeBytes  uint64
	HasSwap        bool
	// Pressure is the machine's pressure stall information
	// (/proc/pressure); nil in snapshots that did not read it, and a
	// resource it could not read is named in its Unavailable.
	Pressure *HostPressure
	// Unavailable names host facts that could not be read, with reasons.
	Unavailable map[string]string
}

// ID identifies a process or thread across time: pids are reused, the pair
// (pid, start time in clock ticks since boot) is not.
type ID struct {
	PID        int
	StartTicks uint64
}

// Sources is a bit set of the per-process files that were read
// successfully.
type Sources uint16

// The per-process sources.
const (
	SrcStat Sources = 1 << iota
	SrcStatus
	SrcCmdline
	SrcExe
	SrcTasks
	SrcCgroup // ScanOptions.Cgroups
	SrcIO     // ScanOptions.IO
)

// Process is one process (thread group) as read from /proc/PID, grouped
// by the file each part comes from. The groups are embedded, so their
// fields read as the Process's own (p.PPID, p.Cmdline); a group whose
// file could not be read is left zero, Read says which were read and
// Unavailable why the others were not.
type Process struct {
	PID int
	// Read says which files were read; a field whose source is missing is
	// unavailable, and Unavailable says why.
	Read Sources
	// Unavailable maps a file or field name ("status", "exe", "cmdline",
	// "threads", "maps") to the reason it could not be read.
	Unavailable map[string]string
	// LiveTID is set for a process whose main thread exited while other
	// threads run (LeaderExited): the live thread whose task/TID/ files
	// gave its executable, command line and memory, which the leader's
	// own files no longer show. 0 otherwise.
	LiveTID int
	// StatusAt says which scan read the ProcStatus fields, when SrcStatus
	// is in Read: that scan's start on the Reader's monotonic clock (its
	// Snapshot.Monotonic; the fields were read at or after it). A scan
	// reads them itself (StatusAt equals the snapshot's Monotonic)
	// unless its Reader reuses status for up to Options.StatusTTL: then
	// StatusAt is an earlier scan's, and the snapshot's Monotonic minus
	// StatusAt, below the TTL, is their age. RSSBytes and SharedBytes are
	// the scan's own either way. Zero in a snapshot built by hand.
	StatusAt time.Duration

	ProcStat
	ProcStatus
	ProcCmdline
	ProcExe
	ProcAccounting
	ProcCgroup
	ProcIO

	// Threads, when Snapshot.ThreadsRead (or for the processes whose
	// threads a scan selected: SrcTasks in Read). The leader comes first.
	Threads []Thread
}

// ProcStat is what /proc/PID/stat says of a process (SrcStat).
type ProcStat struct {
	StartTicks uint64
	// StartedAt is StartTicks on the wall clock (from the boot time);
	// zero when that is unknown.
	StartedAt  time.Time
	Comm       string // raw bytes, not sanitised, may be invalid UTF-8
	PPID       int
	PGID       int
	SID        int
	TTY        int // tty_nr: the device number of the controlling terminal, 0 if none
	Flags      uint64
	MinFlt     uint64
	MajFlt     uint64
	UTimeTicks uint64
	STimeTicks uint64
	Priority   int64
	Nice       int64
	NumThreads int64
	VSizeBytes uint64
	Processor  int64
	RTPriority uint64
	Policy     uint64
	DelayTicks uint64 // delayacct_blkio_ticks: 0 and meaningless unless Host.DelayAcct
	Layout     Layout
	ExitCode   int64 // stat field 52: wait status of an exited (zombie) process; -1 when absent or masked
	State      byte  // beside PTMasked: a byte and a bool share one word of padding
	// PTMasked is true when the kernel hid stat's [PT] fields (proc(5))
	// from this reader, who may not ptrace the process: ExitCode is then
	// -1 (a zombie says Unavailable["exit_code"] = "masked") and Layout
	// is zero, rather than the zeros the kernel wrote in their place.
	PTMasked bool
	// DumpOwnerUID is the owner of /proc/PID/stat: the kernel gives the
	// process's files to root when it is not dumpable (a setuid or
	// setgid program, prctl(PR_SET_DUMPABLE, 0)), and then refuses the
	// process's [PT] fields to a reader of its own uid. It is read only
	// with Options.DumpOwners and only for a process whose real uid is
	// not 0 (one stat); -1 when not read or unreadable.
	DumpOwnerUID int
}

// ProcStatus is what /proc/PID/status says of a process (SrcStatus).
type ProcStatus struct {
	TGID      int
	TracerPID int
	UIDs      [4]int // real, effective, saved, fs
	GIDs      [4]int
	User      string // user name of the real uid, or the number
	NSPids    []int  // pid in each nested pid namespace, outermost first
	SigPnd    uint64
	ShdPnd    uint64
	SigBlk    uint64
	SigIgn    uint64
	SigCgt    uint64
	CapEff    uint64
	CapInh    uint64 // inheritable, permitted, bounding and ambient sets
	CapPrm    uint64
	CapBnd    uint64
	CapAmb    uint64
	// RSSBytes is the resident set: VmRSS of status, the kernel's exact
	// sum (what ps, top, statm and smaps_rollup agree on), never stat's
	// field 24, the kernel's unsummed per-CPU counter ("inaccurate",
	// proc(5)), which lags by up to 64 pages per CPU and reads 0 for a
	// busy multi-threaded process. For a process whose main thread
	// exited (LeaderExited) it is a live thread's VmRSS; when status
	// could not be read, statm's resident pages. HasRSS says it is known:
	// a kernel thread, a zombie or an unreadable process has none.
	RSSBytes uint64
	// VmPeakB and VmSwapB are status's VmPeak and VmSwap; HasVM says
	// status had them (a process with a user address space).
	VmPeakB uint64
	VmSwapB uint64
	// SharedBytes is the resident memory the process shares or could
	// share: file-backed and shmem pages (status's RssFile + RssShmem,
	// statm's "shared"; htop's SHR). HasShared says it was read: a
	// kernel thread or a zombie has no address space.
	SharedBytes uint64
	// ShmemBytes is the part of SharedBytes that is shared memory
	// (status's RssShmem: tmpfs, /dev/shm, SysV, shared anonymous,
	// memfd); the rest is file pages. Meaningful only with HasRSSSplit
	// (see RSSSplit).
	ShmemBytes uint64
	LeaderVol  uint64 // voluntary switches of the leader thread
	LeaderInv  uint64 // involuntary switches of the leader thread

	// The flags last, together: each between two words took a word
	// (24 bytes a process; the process array is a pass's largest
	// allocation).

	// SigDispAbsent says SigIgn and SigCgt were not read (a task
	// iterator scan with Options.BPFSkipDispositions): they are unknown,
	// not "every signal at its default". The pending and blocked sets
	// are read either way.
	SigDispAbsent bool
	HasRSS        bool // RSSBytes is known
	HasVM         bool // VmPeakB and VmSwapB are known
	HasShared     bool // SharedBytes is known
	// HasRSSSplit says RSSBytes, SharedBytes and ShmemBytes come from one
	// reading that splits the resident set by kind: one status's VmRSS,
	// RssAnon, RssFile and RssShmem (which add up), or the task
	// iterator's exact sums of the same counters. statm (shared only) and
	// a status reused from an earlier scan give no split.
	HasRSSSplit bool
}

// RSSSplit returns the resident set by what backs it, in bytes, as
// status's RssAnon, RssFile and RssShmem say it: anon + file + shmem is
// RSSBytes. ok is false when the split was not read (HasRSSSplit).
func (s *ProcStatus) RSSSplit() (anon, file, shmem uint64, ok bool) {
	if !s.HasRSSSplit || !s.HasRSS || !s.HasShared || s.SharedBytes > s.RSSBytes || s.ShmemBytes > s.SharedBytes {
		return 0, 0, 0, false
	}
	return s.RSSBytes - s.SharedBytes, s.SharedBytes - s.ShmemBytes, s.ShmemBytes, true
}

// ProcCmdline is what /proc/PID/cmdline says of a process (SrcCmdline).
type ProcCmdline struct {
	Cmdline          []string
	CmdlineTruncated bool
	// CmdlineNoNUL is true when the process rewrote its argv area into one
	// string without NUL separators (a "title").
	CmdlineNoNUL bool
}

// ProcExe is what the /proc/PID/exe link says of a process (SrcExe).
type ProcExe struct {
	// Exe is the executable's path, without the kernel's " (deleted)"
	// mark: ExeDeleted says it was there.
	Exe        string
	ExeDeleted bool
}

// ProcAccounting is the process's whole context-switch accounting: the
// kernel's taskstats totals, the sum over its threads, or its leader's
// status counts (CtxSource says which).
type ProcAccounting struct {
	VolCtx     uint64 // process total (see Snapshot.CtxSwitchSource)
	InvolCtx   uint64
	CtxSource  CtxSource
	CPUDelayNs uint64 // run-queue delay total from taskstats, 0 otherwise
}

// ProcCgroup is the process's cgroup (SrcCgroup), read only when
// ScanOptions.Cgroups asks.
type ProcCgroup struct {
	// Cgroup is the cgroup path the process is grouped by: in the unified
	// hierarchy, else systemd's named v1 hierarchy, else the first one
	// listed (see parseCgroupPath). "/system.slice/nginx.service" on a
	// systemd machine.
	Cgroup string
	// Workload is what Cgroup names (a systemd unit, a container, a
	// Kubernetes pod), when it names one (WorkloadOf).
	Workload Workload
}

// ProcIO is the process's I/O accounting from /proc/PID/io (SrcIO), read
// only when ScanOptions.IO asks: the whole thread group, exited threads
// included. Another user's is unavailable without privileges.
type ProcIO struct {
	IO IOCounters
}

// Layout is the address-space layout recorded in stat (fields 26-28 and
// 45-51). Non-root readers of another user's process see masked values
// (start_code=end_code=1, start_stack=0), which Masked reports.
type Layout struct {
	StartCode  uint64
	EndCode    uint64
	StartStack uint64
	StartData  uint64
	EndData    uint64
	StartBrk   uint64
	ArgStart   uint64
	ArgEnd     uint64
	EnvStart   uint64
	EnvEnd     uint64
	// HasExtended is true when fields 45-51 were present.
	HasExtended bool
}

// Masked reports whether the kernel hid the layout from this reader (or the
// process has no user address space: kernel threads and zombies).
func (l Layout) Masked() bool {
	return l.StartStack == 0 || l.EndCode <= 1 || l.StartCode <= 1
}

// ID returns the process identity.
func (p *Process) ID() ID { return ID{PID: p.PID, StartTicks: p.StartTicks} }

// IsKernelThread reports whether the process is a kernel thread
// (PF_KTHREAD in the stat flags, or a child of kthreadd).
func (p *Process) IsKernelThread() bool {
	const pfKthread = 0x00200000
	return p.Flags&pfKthread != 0 || p.PPID == 2 || (p.PID == 2 && p.PPID == 0)
}

// IsZombie reports whether the process is a zombie: its leader is in state
// Z and no other thread is alive. A process whose main thread exited
// (pthread_exit in main) while workers run also shows Z, but it is alive:
// LeaderExited reports that case.
func (p *Process) IsZombie() bool { return p.State == 'Z' && p.NumThreads <= 1 }

// LeaderExited reports whether the leader thread has exited while other
// threads of the process still run.
func (p *Process) LeaderExited() bool { return p.State == 'Z' && p.NumThreads > 1 }

// Capabilities returns the process's capability sets (from status).
func (p *Process) Capabilities() Capabilities {
	return Capabilities{Inh: p.CapInh, Prm: p.CapPrm, Eff: p.CapEff, Bnd: p.CapBnd, Amb: p.CapAmb}
}

// CPUTicks is user plus system time in clock ticks, saturated at the
// largest uint64 (hostile or corrupt values never wrap to a small total).
func (p *Process) CPUTicks() uint64 { return addSat(p.UTimeTicks, p.STimeTicks) }

// Thread is one task of a thread group, from /proc/PID/task/TID.
type Thread struct {
	TID        int
	StartTicks uint64
	Comm       string
	UTimeTicks uint64
	STimeTicks uint64
	Processor  int64
	Priority   int64
	Nice       int64
	State      byte // beside HasStatus: one word for the two
	// HasStatus is false when the thread's context switches could not be
	// read (from its status file, or a per-thread taskstats query); then
	// VolCtx and InvolCtx are unknown (not 0).
	HasStatus bool
	VolCtx    uint64
	InvolCtx  uint64
	// CPUDelayNs is the thread's run-queue delay from taskstats; 0 when
	// taskstats is not used.
	CPUDelayNs uint64
}

// CPUTicks is user plus system time in clock ticks, saturated like
// Process.CPUTicks.
func (t *Thread) CPUTicks() uint64 { return addSat(t.UTimeTicks, t.STimeTicks) }

// addSat is a+b, or the largest uint64 when that overflows.
func addSat(a, b uint64) uint64 {
	if s, carry := bits.Add64(a, b, 0); carry == 0 {
		return s
	}
	return math.MaxUint64
}

// mulSat is a*b, or the largest uint64 when that overflows.
func mulSat(a, b uint64) uint64 {
	if hi, lo := bits.Mul64(a, b); hi == 0 {
		return lo
	}
	return math.MaxUint64
}

// StartTime is the wall-clock time of a start in clock ticks since boot.
// ok is false when boot is unknown or the ticks are beyond what a
// time.Duration holds (about 292 years): a corrupt value, never a time
// before boot.
func StartTime(boot time.Time, ticks uint64) (t time.Time, ok bool) {
	const tick = time.Second / ClockTicks
	if boot.IsZero() || ticks > uint64(math.MaxInt64/int64(tick)) {
		return time.Time{}, false
	}
	return boot.Add(time.Duration(ticks) * tick), true
}

// StateName returns the kernel's name for a state letter.
func StateName(s byte) string {
	switch s {
	case 'R':
		return "running"
	case 'S':
		return "sleeping"
	case 'D':
		return "disk-sleep"
	case 'Z':
		return "zombie"
	case 'T':
		return "stopped"
	case 't':
		return "tracing-stop"
	case 'X', 'x':
		return "dead"
	case 'I':
		return "idle"
	case 'P':
		return "parked"
	case 'K':
		return "wakekill"
	case 'W':
		return "waking"
	case 0:
		return "unknown"
	}
	return "unknown"
}

// StatePhase places a state letter in the classic process lifecycle:
// "running" (on a CPU or ready to run), "waiting", "stopped", "terminated".
func StatePhase(s byte) string {
	switch s {
	case 'R', 'W':
		return "running"
	case 'S', 'D', 'I', 'P', 'K':
		return "waiting"
	case 'T', 't':
		return "stopped"
	case 'Z', 'X', 'x':
		return "terminated"
	}
	return "unknown"
}

// StateLetters is the set of state letters the schema recognises, in
// display order.
const StateLetters = "RSDZTtXIP"

// ExitStatus is a decoded wait status (stat field 52 of a zombie, or the
// proc connector's exit event).
type ExitStatus struct {
	// Exited is true for a normal exit; Code is then the exit code.
	Exited bool
	Code   int
	// Signal is the terminating signal number when killed by a signal.
	Signal int
	// CoreDumped is set when the signal produced a core dump.
	CoreDumped bool
}

// DecodeWaitStatus decodes a wait(2) status word.
func DecodeWaitStatus(ws int64) ExitStatus {
	if ws&0x7f == 0 {
		return ExitStatus{Exited: true, Code: int(ws>>8) & 0xff}
	}
	return ExitStatus{Signal: int(ws & 0x7f), CoreDumped: ws&0x80 != 0}
}

// String renders the status as "exit 3", "killed by SIGSEGV (core
// dumped)", or "killed by signal 70" for a number with no name.
func (e ExitStatus) String() string {
	if e.Exited {
		return "exit " + strconv.Itoa(e.Code)
	}
	s := "killed by " + SignalName(e.Signal)
	if e.CoreDumped {
		s += " (core dumped)"
	}
	return s
}

// SignalName names a signal number: "SIGSEGV", "SIGRTMIN+3", or
// "signal N" for a number that is no signal.
func SignalName(n int) string {
	const sigrtmin, sigrtmax = 34, 64 // the kernel's (glibc reserves 32 and 33)
	switch {
	case n >= sigrtmin && n <= sigrtmax:
		if n == sigrtmin {
			return "SIGRTMIN"
		}
		return "SIGRTMIN+" + strconv.Itoa(n-sigrtmin)
	case n > 0 && n < sigrtmin:
		if name := unix.SignalName(syscall.Signal(n)); name != "" {
			return name
		}
	}
	return "signal " + strconv.Itoa(n)
}

// PolicyName names a scheduling policy number (stat field 41).
func PolicyName(p uint64) string {
	switch p {
	case 0:
		return "normal"
	case 1:
		return "fifo"
	case 2:
		return "rr"
	case 3:
		return "batch"
	case 5:
		return "idle"
	case 6:
		return "deadline"
	case 7:
		return "ext"
	}
	return "unknown"
}

// TTYName names a controlling-terminal device number (stat field 7):
// "pts/3", "tty1", "ttyS0", or "" when there is none or it is unknown.
func TTYName(nr int) string {
	if nr == 0 {
		return ""
	}
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return "pts/" + strconv.Itoa((major-136)*256+minor)
	case major == 4 && minor < 64:
		return "tty" + strconv.Itoa(minor)
	case major == 4:
		return "ttyS" + strconv.Itoa(minor-64)
	}
	return ""
}

// SearchPID is the index of process pid in procs, which is sorted by PID
// (Snapshot.Processes), and whether it is there; when it is not, the
// index where it would go. It is slices.BinarySearchFunc without the
// comparison function, which takes a Process by value: a copy of the
// whole record per step (under a microsecond, but the dashboard looked
// up every process's parent twice a refresh: a tenth of its CPU at
// 2,000 processes).
func SearchPID(procs []Process, pid int) (int, bool) {
	lo, hi := 0, len(procs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if procs[m].PID < pid {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(procs) && procs[lo].PID == pid
}
