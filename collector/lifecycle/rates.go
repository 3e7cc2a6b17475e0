package lifecycle

import (
	"slices"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// ProcRate is a process's or thread's activity between two snapshots.
type ProcRate struct {
	// CPUPercent is user+system CPU time over wall time, in percent of one
	// CPU (a process using two CPUs fully shows 200).
	CPUPercent float64
	// VolPerSec and InvolPerSec are voluntary and involuntary context
	// switches per second.
	VolPerSec, InvolPerSec float64
}

// SystemRate is the machine's activity between two snapshots.
type SystemRate struct {
	// CtxPerSec is context switches per second (all CPUs).
	CtxPerSec float64
	// ForksPerSec is processes created per second.
	ForksPerSec float64
	// CPUPercent is the busy share of all CPUs, 0..100.
	CPUPercent float64
	// Total is the machine's CPU time by kind, and CPUs each online
	// CPU's (present in both snapshots, in the order of the second); both
	// are empty when either snapshot lacks /proc/stat's cpu lines.
	Total CPURate
	CPUs  []CPURate
}

// CPURate is the share of one CPU's time (or all CPUs' together) spent in
// each kind of work between two snapshots, in percent (0..100 each; they
// add up to 100 with Idle).
type CPURate struct {
	// CPU is the CPU's number, -1 for the machine's total.
	CPU                                    int
	User, Nice, System, IRQ, Steal, IOWait float64
	Idle                                   float64
	// Busy is everything but idle and I/O wait.
	Busy float64
}

// cpuRate is the use of one CPU between two readings of its times; ok is
// false when no time passed on it (or its counters went back: a CPU
// taken offline and back).
func cpuRate(a, b *collector.CPUTimes) (CPURate, bool) {
	ta, tb := a.Total(), b.Total()
	if tb <= ta {
		return CPURate{CPU: b.CPU}, false
	}
	tot := float64(tb - ta)
	pct := func(x, y uint64) float64 {
		if y <= x {
			return 0
		}
		return clamp(100 * float64(y-x) / tot)
	}
	r := CPURate{
		CPU: b.CPU, User: pct(a.User, b.User), Nice: pct(a.Nice, b.Nice), System: pct(a.System, b.System),
		IRQ: pct(a.IRQ, b.IRQ) + pct(a.SoftIRQ, b.SoftIRQ), Steal: pct(a.Steal, b.Steal),
		IOWait: pct(a.IOWait, b.IOWait), Idle: pct(a.Idle, b.Idle),
	}
	r.Busy = clamp(100 - r.Idle - r.IOWait)
	return r, true
}

// Rates holds per-process, per-thread and system rates between two
// snapshots. It is immutable once computed.
type Rates struct {
	// Seconds is the time between the two snapshots.
	Seconds float64
	// System is the machine-wide rate.
	System SystemRate
	// procs holds each process's rates, sorted by pid (the current
	// snapshot's order): a lookup is a binary search over 40-byte
	// entries, where a map of 2,000 processes cost a refresh of the
	// dashboard about a millisecond to fill and twice the memory.
	procs []procRate
	// threads holds each thread's rates, sorted by pid, then tid
	// (processes are walked in pid order): a lookup is a binary search,
	// and 18,000 threads cost no map.
	threads []threadRate
}

// procRate is one process's rates.
type procRate struct {
	id   collector.ID
	rate ProcRate
}

// threadRate is one thread's rates.
type threadRate struct {
	pid, tid int
	rate     ProcRate
}

func cmpThreadRate(a threadRate, k [2]int) int {
	if a.pid != k[0] {
		return a.pid - k[0]
	}
	return a.tid - k[1]
}

// ComputeRates computes rates between prev and cur. It returns nil when
// either is nil or no time passed between them.
func ComputeRates(prev, cur *collector.Snapshot) *Rates {
	if prev == nil || cur == nil {
		return nil
	}
	secs := Elapsed(prev, cur).Seconds()
	if secs <= 0 {
		return nil
	}
	r := &Rates{Seconds: secs, System: systemRate(&prev.Host, &cur.Host, secs), procs: make([]procRate, 0, len(cur.Processes))}
	allThreads := prev.ThreadsRead && cur.ThreadsRead
	if allThreads {
		n := 0
		for i := range cur.Processes {
			n += len(cur.Processes[i].Threads)
		}
		r.threads = make([]threadRate, 0, n)
	}
	born := bornSince(prev, cur)
	matchPrev(prev.Processes, cur.Processes, func(p, c *collector.Process) {
		if p == nil || !known(p, collector.SrcStat) || !known(c, collector.SrcStat) {
			return
		}
		r.procs = append(r.procs, procRate{c.ID(), processRate(p, c, secs, allThreads, born)}) // in pid order
		// Threads read in both scans (every process's, or the focused
		// one's): each thread's own rates.
		if known(p, collector.SrcTasks) && known(c, collector.SrcTasks) {
			r.addThreads(p, c, secs)
		}
	})
	return r
}

// systemRate is the machine's activity between two readings of its
// counters.
func systemRate(h0, h1 *collector.Host, secs float64) SystemRate {
	s := SystemRate{
		CtxPerSec:   perSec(h0.ContextSwitches, h1.ContextSwitches, secs),
		ForksPerSec: perSec(h0.ProcessesCreated, h1.ProcessesCreated, secs),
	}
	if h1.CPUTicks > h0.CPUTicks {
		total := float64(h1.CPUTicks - h0.CPUTicks)
		idle := 0.0
		if h1.CPUIdleTicks > h0.CPUIdleTicks {
			idle = float64(h1.CPUIdleTicks - h0.CPUIdleTicks)
		}
		s.CPUPercent = clamp(100 * (total - idle) / total)
	}
	if t, ok := cpuRate(&h0.CPUTotal, &h1.CPUTotal); ok {
		s.Total = t
		s.CPUs = make([]CPURate, 0, len(h1.PerCPU))
		j := 0
		for i := range h1.PerCPU {
			c := &h1.PerCPU[i]
			for j < len(h0.PerCPU) && h0.PerCPU[j].CPU < c.CPU {
				j++
			}
			if j < len(h0.PerCPU) && h0.PerCPU[j].CPU == c.CPU {
				if r, ok := cpuRate(&h0.PerCPU[j], c); ok {
					s.CPUs = append(s.CPUs, r)
				}
			}
		}
	}
	return s
}

// processRate is one process's rates between two readings. The context
// switches come from totals of one source in both (taskstats' and the
// task iterator's totals keep exited threads' counts: their delta is
// exact), or, when every thread was read in both scans and the totals are
// live-thread sums, from each thread's own increase (a sum over live
// threads drops when one exits).
func processRate(p, c *collector.Process, secs float64, allThreads bool, born func(*collector.Thread) bool) ProcRate {
	pr := ProcRate{CPUPercent: cpuPercent(p.CPUTicks(), c.CPUTicks(), secs)}
	totals := known(p, collector.SrcStatus) && known(c, collector.SrcStatus) && p.CtxSource == c.CtxSource
	exact := c.CtxSource == collector.CtxTaskstats || c.CtxSource == collector.CtxTaskIter
	switch {
	case totals && exact:
		pr.VolPerSec = perSec(p.VolCtx, c.VolCtx, secs)
		pr.InvolPerSec = perSec(p.InvolCtx, c.InvolCtx, secs)
	case allThreads && known(p, collector.SrcTasks) && known(c, collector.SrcTasks):
		vol, invol := threadCtxDelta(p, c, born)
		pr.VolPerSec, pr.InvolPerSec = float64(vol)/secs, float64(invol)/secs
	case totals:
		pr.VolPerSec = perSec(p.VolCtx, c.VolCtx, secs)
		pr.InvolPerSec = perSec(p.InvolCtx, c.InvolCtx, secs)
	}
	return pr
}

// addThreads records the rates of each thread of c that p also had (same
// tid and start ticks), after those of the processes before c.
func (r *Rates) addThreads(p, c *collector.Process, secs float64) {
	start := len(r.threads)
	eachSameThread(p.Threads, c.Threads, func(pt, ct *collector.Thread) {
		tr := ProcRate{CPUPercent: cpuPercent(pt.CPUTicks(), ct.CPUTicks(), secs)}
		if pt.HasStatus && ct.HasStatus {
			tr.VolPerSec = perSec(pt.VolCtx, ct.VolCtx, secs)
			tr.InvolPerSec = perSec(pt.InvolCtx, ct.InvolCtx, secs)
		}
		r.threads = append(r.threads, threadRate{c.PID, ct.TID, tr})
	})
	if seg := r.threads[start:]; !slices.IsSortedFunc(seg, func(a, b threadRate) int { return a.tid - b.tid }) {
		slices.SortFunc(seg, func(a, b threadRate) int { return a.tid - b.tid })
	}
}

// eachSameThread calls each for every thread of cur with a thread of prev
// of the same identity (tid and start ticks), in cur's order. Threads
// sorted by tid (as both backends give them but after a tid wrap) are
// joined by one merge; others through a map.
func eachSameThread(prev, cur []collector.Thread, each func(pt, ct *collector.Thread)) {
	if threadsSorted(prev) && threadsSorted(cur) {
		i := 0
		for j := range cur {
			ct := &cur[j]
			for i < len(prev) && prev[i].TID < ct.TID {
				i++
			}
			if i < len(prev) && prev[i].TID == ct.TID && prev[i].StartTicks == ct.StartTicks {
				each(&prev[i], ct)
			}
		}
		return
	}
	old := make(map[int]*collector.Thread, len(prev))
	for j := range prev {
		old[prev[j].TID] = &prev[j]
	}
	for j := range cur {
		ct := &cur[j]
		if pt := old[ct.TID]; pt != nil && pt.StartTicks == ct.StartTicks {
			each(pt, ct)
		}
	}
}

// threadsSorted reports whether ts is in ascending tid order, without
// repeats.
func threadsSorted(ts []collector.Thread) bool {
	for i := 1; i < len(ts); i++ {
		if ts[i].TID <= ts[i-1].TID {
			return false
		}
	}
	return true
}

// bornSince returns a test for a thread started after prev was taken: by
// prev's uptime where read (start ticks count from boot on the same clock),
// else by the boot time and prev's wall-clock time; nil when neither is
// known.
func bornSince(prev, cur *collector.Snapshot) func(*collector.Thread) bool {
	if up := prev.Host.UptimeSeconds; up > 0 {
		ticks := up * collector.ClockTicks
		return func(t *collector.Thread) bool { return float64(t.StartTicks) > ticks }
	}
	if boot := cur.Host.BootTime; !boot.IsZero() && !prev.TakenAt.IsZero() {
		return func(t *collector.Thread) bool {
			at, ok := collector.StartTime(boot, t.StartTicks)
			return !ok || at.After(prev.TakenAt)
		}
	}
	return nil
}

// threadCtxDelta is the context switches of a process between two readings
// with thread rows: the increase of each thread in both (same tid and start
// ticks) plus the whole count of each thread born since the first reading
// (born may be nil: then none is counted). Threads that exited in between
// lose their last switches; the result never goes below 0.
func threadCtxDelta(p, c *collector.Process, born func(*collector.Thread) bool) (vol, invol uint64) {
	old := make(map[threadID]*collector.Thread, len(p.Threads))
	for j := range p.Threads {
		t := &p.Threads[j]
		old[threadID{t.TID, t.StartTicks}] = t
	}
	for j := range c.Threads {
		ct := &c.Threads[j]
		if !ct.HasStatus {
			continue
		}
		pt := old[threadID{ct.TID, ct.StartTicks}]
		switch {
		case pt != nil && pt.HasStatus:
			if ct.VolCtx > pt.VolCtx {
				vol += ct.VolCtx - pt.VolCtx
			}
			if ct.InvolCtx > pt.InvolCtx {
				invol += ct.InvolCtx - pt.InvolCtx
			}
		case pt == nil && born != nil && born(ct):
			vol += ct.VolCtx
			invol += ct.InvolCtx
		}
	}
	return vol, invol
}

// Elapsed is the time between two snapshots: on the monotonic clock when
// both carry it, else by wall clock.
func Elapsed(prev, cur *collector.Snapshot) time.Duration {
	if prev.Monotonic != 0 && cur.Monotonic != 0 {
		return cur.Monotonic - prev.Monotonic
	}
	return cur.TakenAt.Sub(prev.TakenAt)
}

// perSec is a counter's increase per second; a counter that went down (a
// thread sum losing an exited thread) counts as no increase.
func perSec(a, b uint64, secs float64) float64 {
	if b <= a {
		return 0
	}
	return float64(b-a) / secs
}

// cpuPercent is CPU ticks used over wall time, in percent of one CPU.
func cpuPercent(a, b uint64, secs float64) float64 {
	return perSec(a, b, secs) / collector.ClockTicks * 100
}

func clamp(v float64) float64 { return max(0, min(100, v)) }

// Process returns the rate of a process present in both snapshots.
func (r *Rates) Process(id collector.ID) (ProcRate, bool) {
	if r == nil {
		return ProcRate{}, false
	}
	lo, hi := 0, len(r.procs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.procs[m].id.PID < id.PID {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(r.procs) && r.procs[lo].id == id {
		return r.procs[lo].rate, true
	}
	return ProcRate{}, false
}

// Thread returns the rate of thread tid of process pid, when threads were
// read in both snapshots.
func (r *Rates) Thread(pid, tid int) (ProcRate, bool) {
	if r == nil {
		return ProcRate{}, false
	}
	i, ok := slices.BinarySearchFunc(r.threads, [2]int{pid, tid}, cmpThreadRate)
	if !ok {
		return ProcRate{}, false
	}
	return r.threads[i].rate, true
}
