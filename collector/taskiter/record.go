package taskiter

import (
	"bytes"
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Record kinds and flags: the same values as in bpf/taskiter.bpf.c.
const (
	recTask  = 1
	recGroup = 2

	taskHasSchedInfo = 1 << 0
	taskHasDelays    = 1 << 1
	taskHasParent    = 1 << 2

	groupHasMM           = 1 << 0
	groupHasTTY          = 1 << 1
	groupHasRSS          = 1 << 2
	groupHasStats        = 1 << 3
	groupNSPidsTruncated = 1 << 4
	groupHasSighand      = 1 << 5
	groupHasCred         = 1 << 6
	groupKName           = 1 << 7
	groupWQDesc          = 1 << 8
	groupWQRunning       = 1 << 9
	groupKNameUnknown    = 1 << 10
	groupRSSSum          = 1 << 11
	groupHasExe          = 1 << 12
	groupHasIO           = 1 << 13
	groupHasCgroupID     = 1 << 14
)

// recordHeader is a record's kind and size (its first two u16s).
func recordHeader(b []byte) (kind, size int) {
	return int(binary.NativeEndian.Uint16(b)), int(binary.NativeEndian.Uint16(b[2:]))
}

// copyRecord copies a record's bytes into its bpf2go-generated struct.
// The kernel wrote it in this machine's byte order and the struct has
// the C layout (structs.HostLayout), so a copy is the whole decoding; the
// destination is an aligned Go value, whatever the alignment of b.
func copyRecord[T taskIterTaskRec | taskIterGroupRec](dst *T, b []byte) {
	copy(unsafe.Slice((*byte)(unsafe.Pointer(dst)), unsafe.Sizeof(*dst)), b)
}

// Task is one task (thread) as the kernel holds it: raw values, in the
// kernel's units, named with them. convert.go turns them into what /proc
// shows.
type Task struct {
	// TID and TGID are the thread's and its process's ids in the initial
	// pid namespace.
	TID  int
	TGID int
	// PPID is the thread group id of the real parent; HasParent is false
	// for a task being released (/proc shows 0 then).
	PPID      int
	HasParent bool
	// TracerPID is the tracer's thread id when the task is ptraced, else 0.
	TracerPID int
	// StateBits is task->__state, ExitState task->exit_state (see
	// StateLetter).
	StateBits uint32
	ExitState uint32
	// Flags is task->flags (PF_*), stat field 9.
	Flags uint32
	// CPU is the processor the task last ran on.
	CPU int
	// Prio and StaticPrio are the kernel's priorities (0-139); see
	// Priority and Nice.
	Prio       int
	StaticPrio int
	RTPriority uint32
	Policy     uint32
	// ExitCode is task->exit_code: a zombie's wait status.
	ExitCode int32
	// UTimeNs and STimeNs are the sampled user and system time;
	// RuntimeNs is the scheduler's precise run time; PrevUTimeNs and
	// PrevSTimeNs are the last values /proc reported (see CPUTimes).
	UTimeNs     uint64
	STimeNs     uint64
	RuntimeNs   uint64
	PrevUTimeNs uint64
	PrevSTimeNs uint64
	// VolCtx and InvolCtx are the thread's voluntary and involuntary
	// context switches.
	VolCtx   uint64
	InvolCtx uint64
	MinFlt   uint64
	MajFlt   uint64
	// StartBootNs is the start time in nanoseconds since boot, suspend
	// included, as /proc shows it to this process (what its starttime is
	// made from): in a time namespace, with the namespace's boottime
	// offset added.
	StartBootNs uint64
	// RunDelayNs is the time spent runnable but waiting for a CPU, and
	// RunCount the number of times it ran (sched_info); valid when
	// HasSchedInfo (CONFIG_SCHED_INFO).
	RunDelayNs   uint64
	RunCount     uint64
	HasSchedInfo bool
	// BlkioDelayNs is the block I/O delay from delay accounting; valid
	// when HasDelays.
	BlkioDelayNs uint64
	HasDelays    bool
	// SigPending and SigBlocked are the thread's pending and blocked
	// signal masks (signal n is bit n-1).
	SigPending uint64
	SigBlocked uint64
	comm       [16]byte
	// Group is the process's record when this task is the thread-group
	// leader (TID == TGID), else nil.
	Group *Group
}

// Comm is the task's name: raw bytes, up to 15, not sanitised. The slice
// points into the Task and is overwritten with it.
func (t *Task) Comm() []byte {
	for i, c := range t.comm {
		if c == 0 {
			return t.comm[:i]
		}
	}
	return t.comm[:]
}

func (t *Task) fill(r *taskIterTaskRec) {
	t.TID = int(r.Pid)
	t.TGID = int(r.Tgid)
	t.PPID = int(r.Ppid)
	t.HasParent = r.RecFlags&taskHasParent != 0
	t.TracerPID = int(r.TracerPid)
	t.StateBits = r.State
	t.ExitState = r.ExitState
	t.Flags = r.Flags
	t.CPU = int(r.Cpu)
	t.Prio = int(r.Prio)
	t.StaticPrio = int(r.StaticPrio)
	t.RTPriority = r.RtPriority
	t.Policy = r.Policy
	t.ExitCode = r.ExitCode
	t.UTimeNs = r.Utime
	t.STimeNs = r.Stime
	t.RuntimeNs = r.SumExecRuntime
	t.PrevUTimeNs = r.PrevUtime
	t.PrevSTimeNs = r.PrevStime
	t.VolCtx = r.Nvcsw
	t.InvolCtx = r.Nivcsw
	t.MinFlt = r.MinFlt
	t.MajFlt = r.MajFlt
	t.StartBootNs = r.StartBoottime
	t.RunDelayNs = r.RunDelay
	t.RunCount = r.Pcount
	t.HasSchedInfo = r.RecFlags&taskHasSchedInfo != 0
	t.BlkioDelayNs = r.BlkioDelay
	t.HasDelays = r.RecFlags&taskHasDelays != 0
	t.SigPending = r.SigPending
	t.SigBlocked = r.SigBlocked
	for i, c := range r.Comm {
		t.comm[i] = byte(c)
	}
}

// Group is what the kernel keeps per process (thread group), read from
// the leader: its signal_struct (the totals of threads that exited, job
// control, the terminal), signal dispositions, credentials and address
// space.
type Group struct {
	// NumThreads is the number of live threads (signal->nr_threads).
	NumThreads int
	PGID       int
	SID        int
	// TTYMajor and TTYMinor are the controlling terminal's device
	// numbers and TPGID its foreground process group; valid when HasTTY.
	TTYMajor int
	TTYMinor int
	TPGID    int
	HasTTY   bool
	// NSPids are the leader's pids from the initial namespace inwards
	// (NSPidsLen of them); NSPidsTruncated when nested deeper than 4.
	NSPids          [4]int
	NSPidsLen       int
	NSPidsTruncated bool
	// The totals of the threads that have exited (signal_struct); a
	// process total is these plus the sum over its live threads.
	ExitedUTimeNs   uint64
	ExitedSTimeNs   uint64
	ExitedRuntimeNs uint64
	ExitedVolCtx    uint64
	ExitedInvolCtx  uint64
	ExitedMinFlt    uint64
	ExitedMajFlt    uint64
	// ExitedRunDelayNs is the run-queue delay of exited threads
	// (taskstats accumulated in signal->stats); valid when HasExitedRunDelay.
	ExitedRunDelayNs  uint64
	HasExitedRunDelay bool
	// PrevUTimeNs and PrevSTimeNs are the process times /proc last
	// reported (signal->prev_cputime).
	PrevUTimeNs uint64
	PrevSTimeNs uint64
	// SignalFlags and GroupExitCode are signal_struct's flags and
	// group_exit_code: a stopped group's stop signal, an exiting group's
	// exit code (see ExitCode).
	SignalFlags   uint32
	GroupExitCode int32
	// SigShared is the process-wide pending set; SigIgnored and SigCaught
	// the dispositions (valid when HasSighand).
	SigShared  uint64
	SigIgnored uint64
	SigCaught  uint64
	HasSighand bool
	// UIDs and GIDs are real, effective, saved and filesystem ids, and
	// the Cap* fields the capability sets; valid when HasCred.
	UIDs    [4]int
	GIDs    [4]int
	CapInh  uint64
	CapPrm  uint64
	CapEff  uint64
	CapBnd  uint64
	CapAmb  uint64
	HasCred bool
	// HasMM is false for kernel threads and zombies (no address space);
	// the fields below are then zero.
	HasMM bool
	// TotalVMPages and HiwaterVMPages are mapped pages now and the peak
	// recorded when the mapping shrank.
	TotalVMPages   uint64
	HiwaterVMPages uint64
	// RSSCounters are the kernel's MM_FILEPAGES, MM_ANONPAGES,
	// MM_SWAPENTS and MM_SHMEMPAGES counters as /proc/PID/stat reads them
	// (a counter's central value, which may lag its per-CPU parts, and
	// may read negative); valid when HasRSS.
	RSSCounters [4]int64
	HasRSS      bool
	// RSSSums are the same counters summed exactly (the central value
	// plus every CPU's part, percpu_counter_sum), as status and statm
	// show them; valid when HasRSSSum (Linux 6.2 and later).
	RSSSums   [4]int64
	HasRSSSum bool
	// The address-space layout (stat fields 26-28 and 45-51).
	StartCode  uint64
	EndCode    uint64
	StartData  uint64
	EndData    uint64
	StartBrk   uint64
	StartStack uint64
	ArgStart   uint64
	ArgEnd     uint64
	EnvStart   uint64
	EnvEnd     uint64
	// kname is a kernel thread's full name, wqDesc a workqueue worker's
	// description (see Group.Name).
	kname       [64]byte
	hasKName    bool
	wqDesc      [32]byte
	hasWQDesc   bool
	wqRunning   bool
	nameUnknown bool
	// Exe identifies the executable (mm->exe_file), valid when HasExe.
	Exe    ExeID
	HasExe bool
	// ThreadSums is what the walk summed in the kernel over the live
	// threads other than the leader whose records it did not write
	// (PassOptions.SumThreads); zero otherwise. Add it to the process's
	// Totals with AddTotals.
	ThreadSums Totals
	// ThreadSumStates counts the threads of ThreadSums by state, at the
	// index of the state's letter in StateLetters. Not in Totals: a
	// scan keeps a Totals for every process while it decodes, and
	// these counts were 72 of its 144 bytes.
	ThreadSumStates [len(StateLetters)]int
	// IO is the process's I/O accounting as /proc/PID/io shows it: the
	// exited threads' counters (signal->ioac) plus every live thread's,
	// summed by the walk; valid when HasIO. The seq_file iterator does not
	// sum threads (HasIO false), nor does the walk for a process one of
	// whose threads was released while it was read (the kernel's own
	// reader retries then): read /proc/PID/io for those. The file's
	// ptrace check is the caller's to apply.
	IO    IOCounters
	HasIO bool
	// CgroupID is the id of the process's cgroup in the unified
	// hierarchy (the cgroup directory's inode number, the cgroup's for
	// its life; what /proc/PID/cgroup's "0::" line names), valid when
	// HasCgroupID: only the walk gives it, when PassOptions.CgroupID
	// asks. The same id means the same cgroup, so the path read for it
	// stands (a cgroup renamed keeps its id).
	CgroupID    uint64
	HasCgroupID bool
}

// IOCounters are /proc/PID/io's seven counters (task_io_accounting).
type IOCounters struct {
	RChar, WChar, SyscR, SyscW         uint64
	ReadBytes, WriteBytes, CancelledWB uint64
}

func (g *Group) fill(r *taskIterGroupRec) {
	f := r.RecFlags
	g.NumThreads = int(r.NrThreads)
	g.PGID = int(r.Pgid)
	g.SID = int(r.Sid)
	g.TTYMajor = int(r.TtyMajor)
	g.TTYMinor = int(r.TtyMinor)
	g.TPGID = int(r.Tpgid)
	g.HasTTY = f&groupHasTTY != 0
	g.NSPidsLen = min(int(r.PidLevel)+1, len(g.NSPids))
	for i := range g.NSPids {
		g.NSPids[i] = int(r.Nspid[i])
	}
	g.NSPidsTruncated = f&groupNSPidsTruncated != 0
	g.ExitedUTimeNs = r.Utime
	g.ExitedSTimeNs = r.Stime
	g.ExitedRuntimeNs = r.SumSchedRuntime
	g.ExitedVolCtx = r.Nvcsw
	g.ExitedInvolCtx = r.Nivcsw
	g.ExitedMinFlt = r.MinFlt
	g.ExitedMajFlt = r.MajFlt
	g.ExitedRunDelayNs = r.CpuDelayTotal
	g.HasExitedRunDelay = f&groupHasStats != 0
	g.PrevUTimeNs = r.PrevUtime
	g.PrevSTimeNs = r.PrevStime
	g.SignalFlags = r.SigFlags
	g.GroupExitCode = r.GroupExitCode
	g.SigShared = r.SharedPending
	g.SigIgnored = r.SigIgnored
	g.SigCaught = r.SigCaught
	g.HasSighand = f&groupHasSighand != 0
	for i := range g.UIDs {
		g.UIDs[i] = int(r.Uid[i])
		g.GIDs[i] = int(r.Gid[i])
	}
	g.CapInh = r.CapInheritable
	g.CapPrm = r.CapPermitted
	g.CapEff = r.CapEffective
	g.CapBnd = r.CapBset
	g.CapAmb = r.CapAmbient
	g.HasCred = f&groupHasCred != 0
	g.HasMM = f&groupHasMM != 0
	g.TotalVMPages = r.TotalVm
	g.HiwaterVMPages = r.HiwaterVm
	g.RSSCounters = r.Rss
	g.HasRSS = f&groupHasRSS != 0
	g.RSSSums = r.RssSum
	g.HasRSSSum = f&groupRSSSum != 0
	g.StartCode = r.StartCode
	g.EndCode = r.EndCode
	g.StartData = r.StartData
	g.EndData = r.EndData
	g.StartBrk = r.StartBrk
	g.StartStack = r.StartStack
	g.ArgStart = r.ArgStart
	g.ArgEnd = r.ArgEnd
	g.EnvStart = r.EnvStart
	g.EnvEnd = r.EnvEnd
	// The names are read only under their flags (Name): a user process
	// (most of a machine) copies neither, byte by byte.
	if f&groupKName != 0 {
		for i, c := range r.Kname {
			g.kname[i] = byte(c)
		}
	} else {
		g.kname = [len(g.kname)]byte{}
	}
	if f&groupWQDesc != 0 {
		for i, c := range r.WqDesc {
			g.wqDesc[i] = byte(c)
		}
	} else {
		g.wqDesc = [len(g.wqDesc)]byte{}
	}
	g.hasKName = f&groupKName != 0
	g.hasWQDesc = f&groupWQDesc != 0
	g.wqRunning = f&groupWQRunning != 0
	g.nameUnknown = f&groupKNameUnknown != 0
	g.Exe = ExeID{Mount: r.ExeMnt, Dentry: r.ExeDentry, Ino: r.ExeIno, Dev: r.ExeDev}
	g.HasExe = f&groupHasExe != 0
	g.ThreadSums = Totals{
		UTimeNs: r.ThrUtime, STimeNs: r.ThrStime, RuntimeNs: r.ThrRuntime,
		MinFlt: r.ThrMinFlt, MajFlt: r.ThrMajFlt,
		VolCtx: r.ThrNvcsw, InvolCtx: r.ThrNivcsw,
		RunDelayNs: r.ThrRunDelay, Threads: int(r.ThrCount),
	}
	for i, n := range r.ThrStates {
		g.ThreadSumStates[i] = int(n)
	}
	g.HasIO = f&groupHasIO != 0
	g.CgroupID, g.HasCgroupID = r.CgroupId, f&groupHasCgroupID != 0
	g.IO = IOCounters{
		RChar: r.Io[0], WChar: r.Io[1], SyscR: r.Io[2], SyscW: r.Io[3],
		ReadBytes: r.Io[4], WriteBytes: r.Io[5], CancelledWB: r.Io[6],
	}
	if !g.HasTTY {
		g.TPGID = -1 // do_task_stat's value without a terminal
	}
}

// ExeID identifies a process's executable as the kernel holds it. Two
// processes with the same Mount and Dentry have the same /proc/PID/exe
// link (the kernel makes it from that path), so one readlink serves
// both. Mount and Dentry are kernel addresses, to compare and never to
// show. Ino and Dev are the file's inode number and device, to check a
// link read later against (Dev in the kernel's encoding: see StatDev).
type ExeID struct {
	Mount, Dentry uint64
	Ino           uint64
	Dev           uint32
}

// StatDev is Dev as stat(2) gives it (st_dev): the kernel keeps a device
// number as major<<20 | minor and shows it as new_encode_dev does.
func (e ExeID) StatDev() uint64 {
	return unix.Mkdev(e.Dev>>20, e.Dev&(1<<20-1))
}

// procNameMax is the size of proc_task_name's buffer: /proc shows at most
// 63 bytes of a name.
const procNameMax = 63

// Name is the process's name as /proc/PID/stat shows it, appended to
// dst: comm for a user process; for a kernel thread its full name when
// longer than comm, and for a workqueue worker that name followed by "+"
// and the work it runs or "-" and the last work it ran. ok is false for a
// kernel thread whose name the iterator could not find (an older
// kernel): read it from /proc then.
func (t *Task) Name(dst []byte) (name []byte, ok bool) {
	g := t.Group
	if g == nil {
		return append(dst, t.Comm()...), true
	}
	start := len(dst)
	if g.hasKName {
		dst = append(dst, cstring(g.kname[:], procNameMax)...)
	} else {
		dst = append(dst, t.Comm()...)
	}
	if g.hasWQDesc {
		if g.wqRunning {
			dst = append(dst, '+')
		} else {
			dst = append(dst, '-')
		}
		dst = append(dst, cstring(g.wqDesc[:], len(g.wqDesc))...)
	}
	if len(dst)-start > procNameMax {
		dst = dst[:start+procNameMax]
	}
	return dst, !g.nameUnknown
}

// cstring is b up to its first NUL, at most n bytes.
func cstring(b []byte, n int) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return b[:min(len(b), n)]
}
