// Package explain answers the questions people ask about a process —
// is it CPU- or I/O-bound, is its pool too big, is it running or only
// ready, why its Python threads do not go faster, is it an event loop,
// what did fork share and copy, what does its family really use, what
// runtime is it, is it leaking, what does switching cost, what does it
// wait on — as findings computed from samples.
//
// It is pure: functions over a Sample (or a MachineSample) that the
// collector filled; it does no I/O and reads no clock (times come in the
// samples). It imports collector (types only) and the standard library.
// Every finding gives a one-sentence verdict, the evidence with each
// number's /proc source, why it matters, what to try, and what could not
// be measured and why.
package explain

import (
	"time"

	"github.com/pinspect/pinspect/collector"
)

// SampleVersion is the version of the Sample layout (recorded samples in
// testdata carry it).
const SampleVersion = 1

// Sample is what explain looks at for one process over a window: a full
// reading at each end (First, Last), a burst of fast per-thread readings
// in between (Burst, which includes readings at both ends), and the
// context: the machine, relatives, memory history and runtime.
type Sample struct {
	Version int `json:"version"`
	// TakenAt is the wall-clock time of the first reading (for display;
	// the analysis uses the monotonic times).
	TakenAt time.Time `json:"taken_at"`
	// The process's identity and command, from the Last reading.
	PID        int      `json:"pid"`
	StartTicks uint64   `json:"start_ticks"`
	Comm       string   `json:"comm"`
	Exe        string   `json:"exe,omitempty"`
	Cmdline    []string `json:"cmdline,omitempty"`
	User       string   `json:"user,omitempty"`
	// Machine holds the facts about the machine and the reader.
	Machine Machine `json:"machine"`
	// First and Last are the full readings at the ends of the window.
	First Reading `json:"first"`
	Last  Reading `json:"last"`
	// Burst is the fast per-thread readings, oldest first.
	Burst []Tick `json:"burst"`
	// Relatives are the parent, the children and the rest of the
	// process's family, with their memory (for fork/COW and family
	// totals).
	Family *Family `json:"family,omitempty"`
	// Neighbours are the other processes that used the most CPU over the
	// window (from the two snapshots), most first.
	Neighbours []Neighbour `json:"neighbours,omitempty"`
	// History is the process's memory over a longer time (a dashboard's
	// ring, or the record), oldest first; empty when none is kept.
	History []MemoryPoint `json:"history,omitempty"`
	// Runtime is the language runtime detected, with its clues.
	Runtime collector.Runtime `json:"runtime"`
	// ZombieChildren are the zombies it holds as a parent at the Last
	// reading; nil when none.
	ZombieChildren *ZombieChildren `json:"zombie_children,omitempty"`
	// Zombie is what holds the process when it is itself a zombie at the
	// Last reading (its parent, since when, the parent's diagnosis); nil
	// when it is not one.
	Zombie *Zombie `json:"zombie,omitempty"`
	// Tracers are the threads whose own status names a tracer at the end
	// of the window (task/TID/status TracerPid), those seen stopped by a
	// tracer (state t) in the burst first, at most 64 threads asked: a
	// tracer may attach to one worker thread, and the process's status
	// (the main thread's) then says 0.
	Tracers []collector.ThreadTracer `json:"tracers,omitempty"`
	// Tracer is the task tracing the process at the window's end (the
	// TracerPid explain names) with its process and command; nil when
	// not traced or not read (a record, the dashboard's samples).
	Tracer *collector.TaskOwner `json:"tracer,omitempty"`
	// Births are the children born in the window that a reading saw;
	// nil when the children were not read.
	Births *Births `json:"births,omitempty"`
	// FDs counts the open descriptors by kind (nil when unreadable).
	FDs *collector.FDSummary `json:"fds,omitempty"`
	// SchedSource, when set, names where the burst's run and run-queue
	// wait come from instead of task/TID/schedstat (a record's).
	SchedSource string `json:"sched_source,omitempty"`
	// Unavailable maps a source ("syscall", "wchan", "io", "smaps",
	// "fd", "cgroup", "pressure/cpu", "taskstats", ...) to why it could
	// not be read.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// Machine is what explain needs to know about the machine and the reader.
type Machine struct {
	// Arch is the architecture (GOARCH) whose system call numbers the
	// syscall files use.
	Arch string `json:"arch"`
	// CPUs is the number of online CPUs; 0 (absent) when cpuinfo could
	// not be read, and the sample's Unavailable["cpus"] says why.
	CPUs int `json:"cpus,omitempty"`
	// Root is true when the reader ran as root (euid 0).
	Root bool `json:"root"`
	// DelayAcct is the kernel.task_delayacct setting: "on", "off", or ""
	// when unknown.
	DelayAcct string `json:"delay_acct,omitempty"`
	// Kernel is the kernel release.
	Kernel string `json:"kernel,omitempty"`
}

// Reading is one full reading of the process and the machine.
type Reading struct {
	// At is the time on the sampler's monotonic clock.
	At time.Duration `json:"at_ns"`
	// Process is the process with its threads (stat and status of each);
	// nil when it could not be read.
	Process *collector.Process `json:"process,omitempty"`
	// IO is /proc/PID/io; nil when unreadable.
	IO *collector.IOCounters `json:"io,omitempty"`
	// Delays is the process's block-I/O and swap-in delay totals from
	// taskstats (TGID query); nil when delay accounting is off or
	// taskstats could not be used (Unavailable["taskstats"] says why).
	Delays *collector.DelayTotals `json:"delays,omitempty"`
	// Memory is the process's memory from smaps; nil when unreadable.
	Memory *Memory `json:"memory,omitempty"`
	// Host is the machine's load at this reading.
	Host HostLoad `json:"host"`
	// Cgroup is the CPU limit that applies to the process and its
	// throttling counters; nil when unreadable.
	Cgroup *collector.CgroupCPU `json:"cgroup,omitempty"`
}

// Births counts the children a process made in the window, as far as
// /proc shows them: a child is seen only while it is alive (or a zombie)
// at a reading, so a child that lived less than the burst's interval
// between two readings can be missed. Seen is a lower bound.
type Births struct {
	// Seen is the distinct children alive at a burst tick (each thread's
	// task/TID/children) or in the last snapshot that were not its
	// children at the first reading.
	Seen int `json:"seen"`
	// ThreadsRead is how many of its threads' children files were read
	// at each tick (at most maxChildThreads).
	ThreadsRead int `json:"threads_read"`
}

// HostLoad is the machine's load at one reading.
type HostLoad struct {
	// ProcsRunning and ProcsBlocked are /proc/stat's counts of runnable
	// tasks and tasks in uninterruptible sleep (the reader included).
	ProcsRunning uint64 `json:"procs_running"`
	ProcsBlocked uint64 `json:"procs_blocked"`
	// ProcessesCreated is /proc/stat's processes: forks on the machine
	// since boot (0 when not read: a sample recorded before it was).
	ProcessesCreated uint64 `json:"processes_created,omitempty"`
	// CPUTicks and CPUIdleTicks are all CPUs' jiffies (busy share
	// between two readings).
	CPUTicks     uint64 `json:"cpu_ticks"`
	CPUIdleTicks uint64 `json:"cpu_idle_ticks"`
	// Pressure is /proc/pressure/{cpu,io,memory}.
	Pressure collector.HostPressure `json:"pressure"`
}

// Memory is a process's memory from smaps at one reading.
type Memory struct {
	// Totals are the smaps totals (RSS, PSS, USS, shared, swap, dirty).
	Totals collector.MemoryTotals `json:"totals"`
	// ResidentByClass is resident memory per segment class (heap, anon,
	// stack, ...).
	ResidentByClass map[collector.Segment]uint64 `json:"resident_by_class,omitempty"`
	// PrivateAnon sums the private anonymous mappings (heap, anonymous
	// arenas, bss, stacks): their pages written before a fork and not
	// since are SharedDirty, pages copied (or written only here)
	// PrivateDirty.
	PrivateAnon collector.MappingDirty `json:"private_anon"`
	// Mappings is the number of mappings.
	Mappings int `json:"mappings"`
}

// Tick is one fast reading of every thread.
type Tick struct {
	// At is the time on the sampler's monotonic clock.
	At time.Duration `json:"at_ns"`
	collector.TaskSamples
	// Runnable is the machine's runnable task count at the tick
	// (/proc/loadavg), the reader included; -1 when unread.
	Runnable int `json:"runnable"`
}

// Family is a process tree: the process, the relatives that share its
// executable up to the oldest (the family's root), and all their
// descendants.
type Family struct {
	// RootPID is the family's root (the process itself, or an ancestor
	// running the same executable).
	RootPID int `json:"root_pid"`
	// Members are the processes of the family, root first.
	Members []Member `json:"members"`
}

// Member is one process of a family.
type Member struct {
	PID  int    `json:"pid"`
	PPID int    `json:"ppid"`
	Comm string `json:"comm"`
	Exe  string `json:"exe,omitempty"`
	// Memory is from smaps_rollup; nil when unreadable (Why says why).
	Memory *collector.MemoryTotals `json:"memory,omitempty"`
	Why    string                  `json:"why,omitempty"`
	// CPUSeconds is the CPU it used over the window (both snapshots);
	// -1 when it was not in both.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// Neighbour is another process's CPU use over the window.
type Neighbour struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	// CPUs is CPU time over wall time (1.0 = one CPU all the time).
	CPUs float64 `json:"cpus"`
}

// MemoryPoint is a process's memory at one time.
type MemoryPoint struct {
	// At is on the same monotonic clock as the readings (it may be long
	// before First).
	At       time.Duration `json:"at_ns"`
	RSSBytes uint64        `json:"rss_bytes"`
}

// MemoryOf reduces an address space to the memory numbers explain uses;
// nil when its memory was not read. With per-mapping smaps the dirty
// split covers the private anonymous mappings (heap, anonymous arenas,
// bss, stacks); with smaps_rollup alone (no per-mapping counters) it is
// the whole process's, file-backed private pages included, and
// ResidentByClass is empty.
func MemoryOf(as *collector.AddressSpace) *Memory {
	if as == nil || as.Memory == nil {
		return nil
	}
	m := &Memory{Totals: *as.Memory, ResidentByClass: map[collector.Segment]uint64{}, Mappings: len(as.Maps)}
	perMapping := false
	for i := range as.Maps {
		mp := &as.Maps[i]
		if mp.RSSBytes != nil {
			m.ResidentByClass[mp.Class] += *mp.RSSBytes
		}
		if mp.Dirty == nil {
			continue
		}
		perMapping = true
		if len(mp.Perms) != 4 || mp.Perms[3] != 'p' {
			continue
		}
		switch mp.Class {
		case collector.SegHeap, collector.SegAnon, collector.SegBSS, collector.SegStack, collector.SegThreadStack:
			m.PrivateAnon.SharedDirtyBytes += mp.Dirty.SharedDirtyBytes
			m.PrivateAnon.PrivateDirtyBytes += mp.Dirty.PrivateDirtyBytes
			m.PrivateAnon.AnonBytes += mp.Dirty.AnonBytes
		}
	}
	if !perMapping {
		m.PrivateAnon = collector.MappingDirty{SharedDirtyBytes: as.Memory.SharedDirtyBytes,
			PrivateDirtyBytes: as.Memory.PrivateDirtyBytes, AnonBytes: as.Memory.AnonBytes}
	}
	return m
}
