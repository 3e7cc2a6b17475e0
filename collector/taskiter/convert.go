package taskiter

import (
	"math"
	"math/bits"
)

// The kernel's formulas that turn a task's raw values into what /proc
// shows (fs/proc/array.c and kernel/sched/cputime.c), so that a snapshot
// made from the iterator holds the same numbers as one read from /proc.

// ClockTicks is USER_HZ, the unit of /proc's tick fields.
const ClockTicks = 100

const nsPerTick = 1_000_000_000 / ClockTicks

// NsToTicks is nsec_to_clock_t: nanoseconds to /proc's clock ticks,
// rounded down.
func NsToTicks(ns uint64) uint64 { return ns / nsPerTick }

// StartTicks is the task's start time as /proc/PID/stat field 22 shows
// it: clock ticks since boot.
func (t *Task) StartTicks() uint64 { return NsToTicks(t.StartBootNs) }

// Task state bits (include/linux/sched.h), stable since Linux 4.14.
const (
	stateReport    = 0x7f   // the bits /proc reports, RUNNING (0) to PARKED
	stateIdle      = 0x402  // TASK_UNINTERRUPTIBLE | TASK_NOLOAD
	stateRTLock    = 0x1000 // TASK_RTLOCK_WAIT
	stateFrozen    = 0x8000 // TASK_FROZEN
	stateUninterr  = 0x2
	stateReportIdl = 0x80
)

// StateLetters is task_state_array: the state letters /proc shows, at
// index fls(state).
const StateLetters = "RSDTtXZPI"

// StateLetter is the state letter /proc shows (stat field 3), made the
// way __task_state_index does: an idle kernel thread is I, a sleeping
// lock or a frozen task is D.
func StateLetter(stateBits, exitState uint32) byte {
	s := (stateBits | exitState) & stateReport
	if stateBits&stateIdle == stateIdle {
		s = stateReportIdl
	}
	if stateBits&(stateRTLock|stateFrozen) != 0 {
		s = stateUninterr
	}
	return StateLetters[bits.Len32(s)]
}

// StateLetter is the task's state letter.
func (t *Task) StateLetter() byte { return StateLetter(t.StateBits, t.ExitState) }

// Priority is stat field 18: prio - MAX_RT_PRIO.
func (t *Task) Priority() int64 { return int64(t.Prio) - 100 }

// Nice is stat field 19: the static priority as a nice value.
func (t *Task) Nice() int64 { return int64(t.StaticPrio) - 120 }

// AdjustCPUTime is cputime_adjust: it splits the precise run time rt
// between user and system in the proportion of the sampled times u and
// s, never below what was reported before (prevU, prevS), so that the
// reported times are monotonic and add up to the run time. It returns
// what the kernel would report now, in nanoseconds, without updating
// prev as the kernel does (a reader of /proc afterwards sees the same).
func AdjustCPUTime(u, s, rt, prevU, prevS uint64) (uNs, sNs uint64) {
	if prevS+prevU >= rt {
		return prevU, prevS
	}
	switch {
	case s == 0:
		u = rt
		s = 0
	case u == 0:
		s = rt
	default:
		s = mulDiv(s, rt, s+u)
		if s > rt {
			s = rt
		}
	}
	if s < prevS {
		s = prevS
	}
	u = rt - s
	if u < prevU {
		u = prevU
		s = rt - u
	}
	return u, s
}

// mulDiv is a*b/c in 128 bits (mul_u64_u64_div_u64), saturated.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if c == 0 || hi >= c {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// CPUTimeTicks is the thread's user and system time as its
// task/TID/stat shows them (fields 14 and 15).
func (t *Task) CPUTimeTicks() (uTicks, sTicks uint64) {
	u, s := AdjustCPUTime(t.UTimeNs, t.STimeNs, t.RuntimeNs, t.PrevUTimeNs, t.PrevSTimeNs)
	return NsToTicks(u), NsToTicks(s)
}

// Totals sums a process's live threads and the threads that exited,
// the way thread_group_cputime and do_task_stat(whole) do. Start from
// Group.Totals and Add every thread of the process, the leader included.
type Totals struct {
	UTimeNs    uint64
	STimeNs    uint64
	RuntimeNs  uint64
	MinFlt     uint64
	MajFlt     uint64
	VolCtx     uint64
	InvolCtx   uint64
	RunDelayNs uint64
	// Threads counts the live threads added.
	Threads int
}

// Totals is the starting point of a process's totals: what its exited
// threads left in the signal struct.
func (g *Group) Totals() Totals {
	return Totals{
		UTimeNs: g.ExitedUTimeNs, STimeNs: g.ExitedSTimeNs, RuntimeNs: g.ExitedRuntimeNs,
		MinFlt: g.ExitedMinFlt, MajFlt: g.ExitedMajFlt,
		VolCtx: g.ExitedVolCtx, InvolCtx: g.ExitedInvolCtx,
		RunDelayNs: g.ExitedRunDelayNs,
	}
}

// Add adds one thread of the process's thread list. A thread that has
// exited but is not yet released (a zombie leader whose workers run)
// still counts for times, faults and switches, as in getrusage and
// /proc: the signal struct takes them over only at release. Its run-queue
// delay went into the exited threads' taskstats at exit already, so it
// is not added again (taskstats' TGID totals skip it the same way).
func (s *Totals) Add(t *Task) {
	s.UTimeNs += t.UTimeNs
	s.STimeNs += t.STimeNs
	s.RuntimeNs += t.RuntimeNs
	s.MinFlt += t.MinFlt
	s.MajFlt += t.MajFlt
	s.VolCtx += t.VolCtx
	s.InvolCtx += t.InvolCtx
	if t.ExitState == 0 {
		s.RunDelayNs += t.RunDelayNs
	}
	s.Threads++
}

// AddTotals adds sums made elsewhere (Group.ThreadSums: threads the
// kernel summed).
func (s *Totals) AddTotals(o Totals) {
	s.UTimeNs += o.UTimeNs
	s.STimeNs += o.STimeNs
	s.RuntimeNs += o.RuntimeNs
	s.MinFlt += o.MinFlt
	s.MajFlt += o.MajFlt
	s.VolCtx += o.VolCtx
	s.InvolCtx += o.InvolCtx
	s.RunDelayNs += o.RunDelayNs
	s.Threads += o.Threads
}

// CPUTimeTicks is the process's user and system time as /proc/PID/stat
// shows them (fields 14 and 15): the totals adjusted against the
// process's previously reported times.
func (s *Totals) CPUTimeTicks(g *Group) (uTicks, sTicks uint64) {
	u, st := AdjustCPUTime(s.UTimeNs, s.STimeNs, s.RuntimeNs, g.PrevUTimeNs, g.PrevSTimeNs)
	return NsToTicks(u), NsToTicks(st)
}

// TTYNr is stat field 7: the controlling terminal's device number in the
// kernel's new_encode_dev form, 0 when there is none.
func (g *Group) TTYNr() int {
	if !g.HasTTY {
		return 0
	}
	major, minor := uint32(g.TTYMajor), uint32(g.TTYMinor)
	return int(minor&0xff | major<<8 | (minor&^0xff)<<12)
}

// positive is percpu_counter_read_positive: a counter's central value,
// 0 when it reads negative.
func positive(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}

// The mm counters, in the kernel's order.
const (
	mmFilePages = iota
	mmAnonPages
	mmSwapEnts
	mmShmemPages
)

// RSSPages is stat field 24: resident file, anonymous and shared-memory
// pages.
func (g *Group) RSSPages() uint64 {
	c := &g.RSSCounters
	return positive(c[mmFilePages]) + positive(c[mmAnonPages]) + positive(c[mmShmemPages])
}

// ResidentPages is the exact resident set in pages, as statm's second
// field and status's VmRSS show it (each counter summed exactly, and
// clamped at zero, as get_mm_counter_sum does); ok is false when the
// record has no exact sums (HasRSSSum).
func (g *Group) ResidentPages() (pages uint64, ok bool) {
	if !g.HasRSSSum {
		return 0, false
	}
	c := &g.RSSSums
	return positive(c[mmFilePages]) + positive(c[mmAnonPages]) + positive(c[mmShmemPages]), true
}

// SharedPages is statm's shared field in pages (RssFile + RssShmem, htop's
// SHR) from the exact sums; ok is false when the record has none.
func (g *Group) SharedPages() (pages uint64, ok bool) {
	if !g.HasRSSSum {
		return 0, false
	}
	return positive(g.RSSSums[mmFilePages]) + positive(g.RSSSums[mmShmemPages]), true
}

// ShmemPages is status's RssShmem in pages from the exact sums (the
// part of SharedPages that is shared memory); ok is false when the
// record has none.
func (g *Group) ShmemPages() (pages uint64, ok bool) {
	if !g.HasRSSSum {
		return 0, false
	}
	return positive(g.RSSSums[mmShmemPages]), true
}

// SwapPages is VmSwap in pages: the exact sum when the record has it,
// else the counter's central value.
func (g *Group) SwapPages() uint64 {
	if g.HasRSSSum {
		return positive(g.RSSSums[mmSwapEnts])
	}
	return positive(g.RSSCounters[mmSwapEnts])
}

// PeakVMPages is VmPeak in pages: the recorded peak or the current size,
// whichever is larger (the peak is recorded only when a mapping shrinks).
func (g *Group) PeakVMPages() uint64 { return max(g.HiwaterVMPages, g.TotalVMPages) }

// signal_struct flags (include/linux/sched/signal.h; unchanged since
// 2.6.x).
const (
	signalStopStopped = 0x00000001 // the group is stopped (job control)
	signalGroupExit   = 0x00000004 // the group is exiting
)

// ExitCode is stat's exit_code field (52) of the process whose leader is
// t, as do_task_stat computes it: the group's group_exit_code while the
// group is stopped or exiting (a stopped process shows its stop signal,
// 19 for SIGSTOP), else the leader's exit_code.
func (g *Group) ExitCode(t *Task) int32 {
	if g.SignalFlags&(signalStopStopped|signalGroupExit) != 0 {
		return g.GroupExitCode
	}
	return t.ExitCode
}
