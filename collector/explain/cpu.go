package explain

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// This file answers the scheduling questions: CPU- or I/O-bound, is the
// pool too big (own threads or neighbours), running or only ready, the
// GIL, the event loop, what switching costs, what it waits on.

// Thresholds of the scheduling findings.
const (
	// cpuBoundDemand: own threads wanting a CPU (running or in the run
	// queue) on average; at least this much is CPU-bound work.
	cpuBoundDemand = 0.5
	// diskBoundD: threads in D on average; at least this much is
	// disk-bound.
	diskBoundD = 0.5
	// storageDiskShare: the share of the D samples whose wait is known
	// that must wait on storage for the D time to be storage's: a vfork
	// parent in kernel_clone whose other thread writes a log is not
	// disk-bound (review3 S1).
	storageDiskShare = 0.5
	// storageBPSPerD: storage bytes per second, per thread in D on
	// average, from which the process's own storage I/O explains its D
	// time when nothing says what the D samples wait in (wchan and
	// syscall hidden). Measured disk pools moved 11-146 MiB/s per thread
	// in D (shared/reference/explain-signals.md: ~90 MB/s with 48 % of
	// 16 workers in D; EXPLAIN.md's diskpool: 1,415 MiB/s with 9.7 in D);
	// a log written at 4 KiB a second is 16 times below this line, and a
	// sync loop of 4 KiB writes must fsync 16 times a second to reach it.
	storageBPSPerD = 64 << 10
	// blkioShareOfD: taskstats block-I/O delay covering at least this
	// share of the threads' time in D makes the D time storage's.
	blkioShareOfD = 0.25
	// poolWaitShare: run-queue wait as a share of runnable time from
	// which the pool question gets a finding.
	poolWaitShare = 0.10
	// poolWaitThreads: thread-seconds of run-queue wait per second from
	// which the pool question gets a finding.
	poolWaitThreads = 0.05
	// oversubscribedMargin: own demand above the CPUs by at least this
	// many threads is the pool's own doing.
	oversubscribedMargin = 0.5
	// gilMaxCPUs: CPython threads using no more than this many CPUs in
	// all, on a machine with two or more, look serialised.
	gilMaxCPUs = 1.25
	// gilActiveShare: a CPython thread that wanted a CPU (ran, or waited
	// in the run queue for one) at least this share of the burst takes
	// part in the lock's turns (eight threads sharing a CPU a loaded
	// machine gives a third of run about 4 % each; on a machine loaded
	// by a hundred tasks they hardly run, but they wait for a CPU).
	gilActiveShare = 0.01
	// loopSaturated: an event loop thread running at least this share of
	// one CPU is saturated.
	loopSaturated = 0.8
	// switchRateMin: switches per second from which the cost question
	// gets a finding.
	switchRateMin = 50.0
	// forkingPerSecond: children seen born per second from which a
	// process is a forking one (a pre-fork server, a shell loop, a build
	// driver): its fork rate is evidence, and advice about threads does
	// not fit it. forkSysShare: a forking process whose CPU is at least
	// this share system time spends it creating processes (fork copies
	// the parent's page tables: tester10's 64 MiB parent forking 10 a
	// second used 60.4 s of system CPU against 0.08 s of user).
	forkingPerSecond = 1.0
	forkSysShare     = 0.5
	// oversizedMinThreads: a pool of at least this many threads can be
	// called oversized; oversizedDemandShare and oversizedAwakeShare: it
	// is when its threads wanted a CPU no more than this share of the
	// pool on average (schedstat), and no more than that share were
	// awake (R or D) in any sample; oversizedFutexShare: and its threads
	// waited in futex (for work on the pool's queue) at least this share
	// of their samples. tester10's 200 threads on a condition variable,
	// 2 items every 100 ms, wanted 0.1 CPUs.
	oversizedMinThreads  = 32
	oversizedDemandShare = 0.1
	oversizedAwakeShare  = 0.25
	oversizedFutexShare  = 0.8
)

// schedSource is where the run and run-queue wait numbers come from:
// task/TID/schedstat, or what the sample names instead (a record).
func (a *analysis) schedSource() string {
	if a.s.SchedSource != "" {
		return a.s.SchedSource
	}
	return src(a.s.PID, "task/*/schedstat") + " (field 1 run ns, field 2 run-queue wait ns, field 3 slices)"
}

// perSlice is " (W per slice)" of the run-queue wait, "" when the slices
// were not counted (a record).
func (a *analysis) perSlice() string {
	if a.slices == 0 {
		return ""
	}
	return " (" + dur(a.waitPerSlice) + " per slice)"
}

func statesSource(pid int) string {
	return src(pid, "task/*/stat") + " field 3, sampled"
}

// cpuUsedEvidence is the CPU the process used, from stat.
func (a *analysis) cpuUsedEvidence() Evidence {
	pid := a.s.PID
	return ev("cpu_used_cpus", a.cpuUsed, "cpus",
		f2(a.cpuUsed)+" CPUs used over "+f1(a.secs)+" s", src(pid, "stat")+" fields 14-15 (utime+stime)")
}

func (a *analysis) cpusEvidence() Evidence {
	if a.effCPUs <= 0 {
		return fact("cpus_available", "the CPU count is not known ("+cpusWhy(a.s.Unavailable)+")", "/proc/cpuinfo (online CPUs)")
	}
	e := ev("cpus_available", a.effCPUs, "cpus", cpusN(a.effCPUs)+" CPUs available", "/proc/cpuinfo (online CPUs)")
	if a.quotaCPUs > 0 && a.quotaCPUs < a.cpus {
		e.Text = f2(a.effCPUs) + " CPUs allowed by the cgroup quota (" + num(a.cpus) + " online)"
		e.Source = "cgroup " + cgroupLimitFile(a.s.Last.Cgroup)
	}
	return e
}

func cgroupLimitFile(c *collector.CgroupCPU) string {
	if c == nil {
		return ""
	}
	if c.Version == 1 {
		return c.LimitPath + "/cpu.cfs_quota_us"
	}
	return c.LimitPath + "/cpu.max"
}

// bound answers "CPU- or I/O-bound, and would more threads help".
func (a *analysis) bound() *Finding {
	if a.ticks == 0 {
		return nil
	}
	demand := a.demand
	if !a.hasSched {
		demand = a.avgR
	}
	f := &Finding{Question: QBound}
	switch {
	case a.stoppedShare() >= 0.5 && !a.ranInWindow():
		a.boundStopped(f)
	case a.stoppedShare() >= 0.5 && a.states['t'] >= a.states['T']:
		a.boundTraced(f)
	case (a.avgD >= diskBoundD || (a.avgD > 0.1 && a.avgD >= demand)) && a.dStorage():
		a.boundDisk(f)
	case a.avgD >= diskBoundD || (a.avgD > 0.1 && a.avgD >= demand):
		a.boundUninterruptible(f)
	case a.cpuBound():
		a.boundCPU(f, demand)
	case a.syncBound() || a.dWaits() && a.dStorage():
		// Its waits are storage's: a one-thread write+fsync loop is in
		// D part of the time and runnable the rest (waking from the
		// sync, waiting for a CPU to return from it on a loaded
		// machine), never asleep in S (tester11 T7: "I/O-bound ... more
		// threads raise throughput").
		a.boundDisk(f)
	default:
		a.boundWaiting(f)
	}
	return f
}

// dWaitShare: the share of a process's asleep thread samples (S, D or I)
// in D from which its waiting is uninterruptible waiting; dWaitMin: the
// threads in D on average it takes (one sample in twenty). syncShare:
// the share of thread samples whose system call was read that are inside
// a sync call, from which syncing is the process's work.
const (
	dWaitShare = 0.5
	dWaitMin   = 0.05
	syncShare  = 0.5
)

// dWaits reports whether the process's waiting is mostly in D: at least
// dWaitShare of its asleep thread samples, and dWaitMin threads in D on
// average.
func (a *analysis) dWaits() bool {
	asleep := a.states['S'] + a.states['D'] + a.states['I']
	return a.avgD >= dWaitMin && asleep > 0 && float64(a.states['D']) >= dWaitShare*float64(asleep)
}

// syncCalls are the system calls that wait for a file's (or a file
// system's) data to reach storage.
var syncCalls = map[string]bool{"fsync": true, "fdatasync": true, "sync_file_range": true, "msync": true, "sync": true, "syncfs": true}

// syncInside is the share of the thread samples whose system call was
// read that were inside a sync call, whatever their state: a thread
// woken from its sync's D waits, runnable, to return from it.
func (a *analysis) syncInside() float64 {
	if a.syscallRead == 0 {
		return 0
	}
	return float64(a.syncSamples) / float64(a.syscallRead)
}

// syncBound reports whether syncing to storage is what the process does:
// at least syncShare of its thread samples inside a sync call, and bytes
// written to storage (a sync on tmpfs writes none).
func (a *analysis) syncBound() bool {
	return a.syncInside() >= syncShare && a.hasIO && a.writeBPS > 0
}

// topSyncName is the sync call most thread samples were inside, "" when
// none was.
func (a *analysis) topSyncName() string {
	if t := top(a.syncNames); len(t) > 0 {
		return t[0].key
	}
	return ""
}

// oneSyncer is the sync call a single thread was seen in, when only one
// was (and no thread in D elsewhere); "" when none or several.
func (a *analysis) oneSyncer() string {
	if len(a.syncThreads) != 1 {
		return ""
	}
	for tid := range a.dThreads {
		if !a.syncThreads[tid] {
			return ""
		}
	}
	return a.topSyncName()
}

// stoppedShare is the share of thread samples stopped: T (by a signal)
// or t (by a tracer).
func (a *analysis) stoppedShare() float64 {
	if a.threadSamples == 0 {
		return 0
	}
	return float64(a.states['T']+a.states['t']) / float64(a.threadSamples)
}

// ranInWindow reports whether the process used a CPU in the window:
// stat's ticks (at least 5 ms a second), or its threads' schedstat run
// and run-queue time. A process that ran is not held, even when its
// threads were stopped in most samples: a tracee under strace stops at
// every system call and runs between them; a process continued
// (SIGCONT) within the window runs after it.
func (a *analysis) ranInWindow() bool {
	return a.hasCPU && a.cpuUsed >= 0.005 || a.hasSched && a.demand >= 0.005
}

// tracer is the task tracing the process at its last reading: the main
// thread's TracerPid (its status), else the first of the other threads
// whose own status names a tracer (Sample.Tracers, those seen in t
// first: strace -p TID, a debugger attached to one worker). from is the file it was read
// from; read is false when neither was read. A main thread's TracerPid
// of 0 while no thread's status named one is read, and 0.
func (a *analysis) tracer() (pid int, read bool, from string) {
	p := a.s.Last.Process
	mainRead := p != nil && p.Read&collector.SrcStatus != 0
	if mainRead && p.TracerPID != 0 {
		return p.TracerPID, true, src(a.s.PID, "status")
	}
	for _, t := range a.s.Tracers {
		if t.TracerPID != 0 {
			return t.TracerPID, true, src(a.s.PID, "task/"+fmt.Sprint(t.TID)+"/status")
		}
	}
	return 0, mainRead, src(a.s.PID, "status")
}

// stoppedFinding starts the answer for a process whose threads were
// stopped in most samples: its id, severity and score, the evidence of
// the stopped share and, when status was read, of its TracerPid. It
// returns the share and the tracer's pid.
func (a *analysis) stoppedFinding(f *Finding, id string) (share float64, tracer int) {
	pid := a.s.PID
	share = a.stoppedShare()
	f.ID = id
	f.Severity = Notice
	f.Score = share
	tracer, read, from := a.tracer()
	f.Evidence = append(f.Evidence, ev("stopped_share", share, "ratio", pct(share)+" of thread samples stopped (T or t)", statesSource(pid)))
	// TracerPid 0 beside threads stopped by a tracer would contradict the
	// verdict: the tracer detached, or its thread's status was not read.
	if read && (tracer != 0 || a.states['t'] == 0) {
		f.Evidence = append(f.Evidence, ev("tracer_pid", float64(tracer), "pid", "TracerPid "+fmt.Sprint(tracer)+tracerNote(tracer), from+" TracerPid"))
	}
	a.tracerEvidence(f, tracer)
	return share, tracer
}

// tracerOwner is the process and command of the tracing task tracer,
// when the sample read them (Sample.Tracer).
func (a *analysis) tracerOwner(tracer int) *collector.TaskOwner {
	if o := a.s.Tracer; o != nil && tracer != 0 && o.TID == tracer && o.Comm != "" {
		return o
	}
	return nil
}

// tracerName names the tracing task: "strace (TracerPid 13509)", "gdb
// (TracerPid 13511, a thread of 13509)" when it is a thread of another
// process, "(TracerPid N)" when its command was not read (the
// renderers sanitise the command).
func (a *analysis) tracerName(tracer int) string {
	o := a.tracerOwner(tracer)
	switch {
	case o == nil:
		return fmt.Sprintf("(TracerPid %d)", tracer)
	case o.PID != o.TID:
		return fmt.Sprintf("%s (TracerPid %d, a thread of %d)", o.Comm, tracer, o.PID)
	}
	return fmt.Sprintf("%s (TracerPid %d)", o.Comm, tracer)
}

// tracerProcess is the pid of the tracer's process: its Tgid when read,
// else the tracing task's id.
func (a *analysis) tracerProcess(tracer int) int {
	if o := a.tracerOwner(tracer); o != nil {
		return o.PID
	}
	return tracer
}

// tracerEvidence adds the tracer's command and process, when read.
func (a *analysis) tracerEvidence(f *Finding, tracer int) {
	if o := a.tracerOwner(tracer); o != nil {
		f.Evidence = append(f.Evidence, fact("tracer", "traced by "+o.Comm+", process "+fmt.Sprint(o.PID), src(o.TID, "status")+" Tgid, "+src(o.PID, "stat")+" field 2"))
	}
}

// tracedTry is the advice for a process its tracer slows.
func (a *analysis) tracedTry(tracer int) string {
	if tracer > 0 {
		return fmt.Sprintf("If the tracing is not wanted, end or detach the tracer (pinspect show %d); if it is, trace fewer events (strace -e trace=...) or use a tracer that does not stop the process (perf trace, a BPF tool).", a.tracerProcess(tracer))
	}
	return "If the tracing is not wanted, find the tracer (TracerPid in /proc/" + fmt.Sprint(a.s.PID) + "/task/*/status) and end or detach it; if it is, trace fewer events (strace -e trace=...) or use a tracer that does not stop the process (perf trace, a BPF tool)."
}

// tracedWhy is why a tracer slows the process it traces.
const tracedWhy = "A tracer such as strace stops a thread at every system call or signal it watches, reads it, and resumes it: the process runs, but pays two context switches and the tracer's own work for each event, often running many times slower than untraced."

// boundCoversTracer reports whether the bound finding already answers
// for the tracer: most thread samples stopped, by the tracer more than
// by signals (traced, or stopped by its tracer).
func (a *analysis) boundCoversTracer() bool {
	return a.stoppedShare() >= 0.5 && a.states['t'] >= a.states['T']
}

// tracedSwitchScale: switches a second that weigh as much in a traced
// finding's score as stopping in every sample.
const tracedSwitchScale = 1000.0

// traced answers, for a process with a tracer (TracerPid not 0) that the
// bound finding does not already call traced or held, what the tracer
// costs it: a shell loop under strace -f mostly sleeps, stopped (t) in a
// few samples only, yet every system call it makes stops it for the
// tracer (tester11 T4: 6 % of samples t, 199 switches a second, and no
// word of the tracer). It looks at the traced threads only (a debugger
// attached to one worker of a busy pool does not stop the others), and
// says no more than the evidence does: stops seen in the samples are
// stops; switches are at most stops (each stop is one, and so is each of
// the thread's own waits: tester12 B4, gdb's 8 switches a second against
// 4 untraced); what the tracer stops at is said for the tracer named
// (strace, ltrace, a debugger), not strace's for every one. Its score is
// the traced threads' share of samples in t plus their switch rate over
// tracedSwitchScale (at most 1).
func (a *analysis) traced() *Finding {
	if a.ticks == 0 || a.threadSamples == 0 || a.boundCoversTracer() {
		return nil
	}
	tracer, read, from := a.tracer()
	if !read || tracer == 0 {
		return nil
	}
	pid := a.s.PID
	tt := a.tracedThreads()
	n, nt := a.tracedSamples(tt)
	if n == 0 {
		return nil
	}
	tShare := float64(nt) / float64(n)
	rate, rateOK, rateSrc := a.tracedSwitchRate(tt)
	kind := tracerKindOf(a.tracerOwner(tracer))
	all := a.allTraced(tt)
	who, whose := "it", "thread"
	if !all {
		who, whose = "its "+plural(len(tt), "traced thread", "traced threads"), "their"
		if len(tt) == 1 {
			who = "its traced thread"
		}
	}
	f := &Finding{ID: "traced", Question: QState, Severity: Notice, Lesson: lessonTraced}
	f.Score = tShare
	if rateOK {
		f.Score += min(1, rate/tracedSwitchScale)
	}
	name := a.tracerName(tracer)
	switch {
	case nt > 0:
		sw := ""
		if rateOK {
			sw = fmt.Sprintf(" and switched %s times/s (each stop for the tracer is one switch, so is each of its own waits)", num(rate))
		}
		f.Verdict = fmt.Sprintf("Traced by %s: %s stopped for the tracer (state t) in %s of %s samples%s; %s, so it runs slower than untraced, even while it mostly sleeps.",
			name, wasWere(who, all || len(tt) == 1), pct(tShare), whose, sw, kind.stops())
	case rateOK && rate >= switchRateMin:
		f.Verdict = fmt.Sprintf("Traced by %s: no sample caught %s stopped for the tracer, and %s switched %s times/s: at most that many stops a second, as each stop is one switch and so is each of its own waits; %s.",
			name, objectOf(who), who, num(rate), kind.stops())
	default:
		// Nothing says the tracer stops it (a debugger attached and
		// continued, a tracer watching nothing it does): say what is
		// attached and what it would cost, not that it runs slower.
		sw := ""
		if rateOK {
			sw = fmt.Sprintf(" (%s switched %s times/s, its own waits included)", who, num(rate))
		}
		f.Verdict = fmt.Sprintf("Traced by %s: a tracer is attached, though it stopped %s in none of the samples%s; %s.",
			name, objectOf(who), sw, kind.stops())
	}
	f.Evidence = append(f.Evidence, ev("tracer_pid", float64(tracer), "pid", "TracerPid "+fmt.Sprint(tracer)+tracerNote(tracer), from+" TracerPid"))
	a.tracerEvidence(f, tracer)
	if !all {
		f.Evidence = append(f.Evidence, ev("traced_threads", float64(len(tt)), "threads",
			fmt.Sprintf("%d of its %d threads traced", len(tt), a.lastThreads()), src(pid, "task/*/status")+" TracerPid"))
	}
	of, their := "thread samples", "its"
	if !all {
		of, their = "the traced threads' samples", "their"
	}
	f.Evidence = append(f.Evidence, ev("traced_stop_share", tShare, "ratio", pct(tShare)+" of "+of+" stopped by the tracer (t)", statesSource(pid)))
	if rateOK {
		f.Evidence = append(f.Evidence, ev("switches_per_second", rate, "per_second",
			num(rate)+" context switches/s: at most that many stops for the tracer (each stop is a switch, and so is each of "+their+" own waits)", rateSrc))
	}
	if a.hasCPU {
		f.Evidence = append(f.Evidence, a.cpuUsedEvidence())
	}
	f.Why = kind.why()
	f.Try = append(f.Try, a.tracedTryKind(tracer, kind))
	return f
}

// wasWere is "who was" or "who were".
func wasWere(who string, one bool) string {
	if one {
		return who + " was"
	}
	return who + " were"
}

// objectOf is who as an object: "the process", "its traced thread",
// "them".
func objectOf(who string) string {
	switch who {
	case "it":
		return "the process"
	case "its traced thread":
		return who
	}
	return "them"
}

// tracedThreads are the threads a tracer holds: the main thread when
// its TracerPid is set, the threads whose own status named a tracer at
// the window's end (Sample.Tracers), and any thread seen stopped by a
// tracer (t) in the burst.
func (a *analysis) tracedThreads() map[int]bool {
	tt := map[int]bool{}
	if p := a.s.Last.Process; p != nil && p.Read&collector.SrcStatus != 0 && p.TracerPID != 0 {
		tt[a.s.PID] = true
	}
	for _, t := range a.s.Tracers {
		if t.TracerPID != 0 {
			tt[t.TID] = true
		}
	}
	for i := range a.s.Burst {
		for _, ts := range a.s.Burst[i].Tasks {
			if ts.State == 't' {
				tt[ts.TID] = true
			}
		}
	}
	return tt
}

// tracedSamples counts the traced threads' burst samples, and those in
// t.
func (a *analysis) tracedSamples(tt map[int]bool) (n, t int) {
	for i := range a.s.Burst {
		tick := &a.s.Burst[i]
		if tick.StartTicks != a.s.StartTicks && a.s.StartTicks != 0 {
			continue
		}
		for _, ts := range tick.Tasks {
			if tt[ts.TID] {
				n++
				if ts.State == 't' {
					t++
				}
			}
		}
	}
	return n, t
}

// lastThreads is the number of threads at the last reading (at least
// those seen).
func (a *analysis) lastThreads() int {
	n := a.threadsLast
	if p := a.s.Last.Process; p != nil {
		n = max(n, len(p.Threads))
	}
	return n
}

// allTraced reports whether the traced threads are all the process's
// threads at the last reading.
func (a *analysis) allTraced(tt map[int]bool) bool {
	p := a.s.Last.Process
	if p == nil || len(p.Threads) == 0 {
		return a.threadsLast <= 1 && tt[a.s.PID]
	}
	for i := range p.Threads {
		if !tt[p.Threads[i].TID] {
			return false
		}
	}
	return true
}

// tracedSwitchRate is the traced threads' context switches a second over
// the window and where they come from: the process's own rate when every
// thread is traced, else the sum of the traced threads' (task/TID/status
// at both readings). ok is false when one of them was not read at both.
func (a *analysis) tracedSwitchRate(tt map[int]bool) (rate float64, ok bool, from string) {
	if a.allTraced(tt) {
		return a.volPS + a.invPS, a.hasCtx, a.ctxSourceText()
	}
	p0, p1 := a.s.First.Process, a.s.Last.Process
	if p0 == nil || p1 == nil || a.secs <= 0 {
		return 0, false, ""
	}
	old := make(map[int]*collector.Thread, len(p0.Threads))
	for i := range p0.Threads {
		old[p0.Threads[i].TID] = &p0.Threads[i]
	}
	var sum uint64
	seen := 0
	for i := range p1.Threads {
		t1 := &p1.Threads[i]
		if !tt[t1.TID] {
			continue
		}
		t0 := old[t1.TID]
		if t0 == nil || !t0.HasStatus || !t1.HasStatus || t0.StartTicks != t1.StartTicks {
			return 0, false, ""
		}
		sum += sub(t1.VolCtx, t0.VolCtx) + sub(t1.InvolCtx, t0.InvolCtx)
		seen++
	}
	if seen == 0 {
		return 0, false, ""
	}
	return float64(sum) / a.secs, true, src(a.s.PID, "task/TID/status") + " voluntary_ctxt_switches, nonvoluntary_ctxt_switches (the traced threads)"
}

// tracerKind is what a tracer stops its tracee at, as far as its
// command says.
type tracerKind int

const (
	tracerUnknown  tracerKind = iota // the command was not read, or is not one below
	tracerSyscalls                   // strace: every system call traced, and signals
	tracerLibcalls                   // ltrace: every library call traced
	tracerDebugger                   // gdb, lldb, dlv, rr: what it was asked to catch
)

// tracerKindOf tells the tracer's kind from its command.
func tracerKindOf(o *collector.TaskOwner) tracerKind {
	if o == nil {
		return tracerUnknown
	}
	switch o.Comm {
	case "strace":
		return tracerSyscalls
	case "ltrace":
		return tracerLibcalls
	case "gdb", "gdbserver", "lldb", "lldb-server", "dlv", "rr":
		return tracerDebugger
	}
	return tracerUnknown
}

// stops says what the tracer stops its tracee at.
func (k tracerKind) stops() string {
	switch k {
	case tracerSyscalls:
		return "strace stops a traced thread twice at every system call it traces (entry and exit) and at every signal, until it has read it and lets it go on"
	case tracerLibcalls:
		return "ltrace stops a traced thread at every library call it traces (a breakpoint), and at the system calls and signals it traces"
	case tracerDebugger:
		return "a debugger stops a traced thread only at what it was asked to catch (breakpoints, watchpoints, signals, forks, execs); between those the thread runs as untraced"
	}
	return "a tracer stops a traced thread at each event it watches (strace at every system call and signal, a debugger only at its breakpoints and the signals it catches) until it lets it go on"
}

// why is why such a tracer slows the process it traces.
func (k tracerKind) why() string {
	if k == tracerDebugger {
		return "A debugger attached to a thread costs nothing while it waits; each breakpoint, watchpoint or signal it catches stops the thread, and the thread waits for the debugger (or for a person at its prompt) before it goes on."
	}
	return tracedWhy
}

// tracedTryKind is the advice for a process traced by a tracer of kind
// k.
func (a *analysis) tracedTryKind(tracer int, k tracerKind) string {
	if k != tracerDebugger {
		return a.tracedTry(tracer)
	}
	look := "find the debugger (TracerPid in /proc/" + fmt.Sprint(a.s.PID) + "/task/*/status)"
	if tracer > 0 {
		look = fmt.Sprintf("pinspect show %d", a.tracerProcess(tracer))
	}
	return "If the debugging is over, detach the debugger (" + look + "); if not, disable the breakpoints and signal catches it no longer needs: each hit stops the thread."
}

// boundTraced fills the answer for a traced process that runs between its
// tracer's stops (strace, ltrace, a debugger stepping): it is neither
// held nor free to run, each event the tracer watches costs a round trip
// through the tracer.
func (a *analysis) boundTraced(f *Finding) {
	share, tracer := a.stoppedFinding(f, "traced")
	by := "a tracer"
	if tracer > 0 {
		by = "its tracer " + a.tracerName(tracer)
	}
	f.Verdict = fmt.Sprintf("Traced by %s and running between its stops: its threads were stopped by the tracer (state t) in %s of samples, yet it used %s CPUs, so each event the tracer watches stops it until the tracer lets it go on.", by, pct(share), f2(a.cpuUsed))
	f.Why = tracedWhy
	f.Try = append(f.Try, a.tracedTry(tracer))
	f.Evidence = append(f.Evidence, a.cpuUsedEvidence())
	f.Lesson = lessonTraced
}

// boundStopped fills the answer for a stopped process: it does not run
// until SIGCONT, or until its tracer lets it. Neither idle nor waiting:
// nothing it waits for will wake it.
func (a *analysis) boundStopped(f *Finding) {
	pid := a.s.PID
	share, tracer := a.stoppedFinding(f, "stopped")
	traced := a.states['t'] >= a.states['T']
	what := "inside the system call it was in"
	if _, name, _ := a.topWait(); name != "" {
		what = "inside " + name
	}
	if traced {
		by := "a tracer (a debugger, strace)"
		if tracer > 0 {
			by = "its tracer " + a.tracerName(tracer)
		}
		f.Verdict = fmt.Sprintf("Stopped by %s: its threads were in state t (traced, stopped) in %s of samples, held %s, and it will not run until the tracer resumes it or detaches.", by, pct(share), what)
		f.Why = "A traced thread that stopped (at a breakpoint, a signal, a system call the tracer watches) stays stopped until its tracer continues it: the process is neither idle nor busy, it is held."
		if tracer > 0 {
			look := fmt.Sprintf("pinspect show %d, or the process whose thread it is: grep Tgid /proc/%d/status", tracer, tracer)
			if o := a.tracerOwner(tracer); o != nil {
				look = fmt.Sprintf("pinspect show %d", o.PID)
			}
			f.Try = append(f.Try, "Look at the tracer ("+look+"): a debugger waiting at a prompt, or a tracer that hung; ending or detaching it lets the process run.")
		} else {
			f.Try = append(f.Try, "Find the tracer (TracerPid in /proc/"+fmt.Sprint(pid)+"/task/*/status: it may trace one thread only); ending or detaching it lets the process run.")
		}
	} else {
		f.Verdict = fmt.Sprintf("Stopped by a signal: its threads were in state T (stopped) in %s of samples, %s, and it will not run until it gets SIGCONT.", pct(share), what)
		f.Why = "SIGSTOP, or SIGTSTP/SIGTTIN/SIGTTOU (Ctrl-Z, a background job reading or writing the terminal), stops every thread until SIGCONT: the process is neither idle nor waiting for anything it can get by itself."
		f.Try = append(f.Try, fmt.Sprintf("Resume it with kill -CONT %d (or fg / bg in the shell that stopped it); a background job stopped on terminal input needs its input redirected.", pid))
	}
	if w := a.topWChanName('T'); w != "" && !traced {
		f.Evidence = append(f.Evidence, fact("stopped_wchan", "stopped in "+w, src(pid, "task/*/wchan")))
	} else if w := a.topWChanName('t'); w != "" && traced {
		f.Evidence = append(f.Evidence, fact("stopped_wchan", "stopped in "+w, src(pid, "task/*/wchan")))
	}
	f.Evidence = append(f.Evidence, a.cpuUsedEvidence())
	f.Lesson = lessonState
}

func tracerNote(tracer int) string {
	if tracer == 0 {
		return " (not traced)"
	}
	return " (the thread tracing it: the tracer's pid when the tracer has one thread)"
}

// dStorage reports whether the threads in D wait for storage, enough
// to explain their time in D. When the D samples say what they wait in
// (wait channel, system call), at least storageDiskShare of them must
// wait on storage; storage bytes written by another thread do not
// overrule a known wait (a vfork parent whose logger writes 4 KiB a
// second). When nothing says, the process's storage bytes must come to
// storageBPSPerD per thread in D on average, and machine I/O pressure
// stands in after that. Either way taskstats' block-I/O delay covering
// blkioShareOfD of the D time is storage's. D without any of these is
// another uninterruptible wait (a vfork parent, a kernel lock, FUSE,
// NFS).
func (a *analysis) dStorage() bool {
	if a.hasDelays && a.avgD > 0 && a.blkioDelayPS >= blkioShareOfD*a.avgD {
		return true
	}
	if a.dKnown > 0 {
		return float64(a.dKinds[waitDisk]) >= storageDiskShare*float64(a.dKnown)
	}
	if a.hasIO && a.writeBPS+a.readBPS >= storageBPSPerD*max(a.avgD, 1) {
		return true
	}
	return a.psiIO != nil && *a.psiIO >= 1
}

// boundUninterruptible fills the answer for threads in D that show no
// sign of storage I/O: what they wait in, without storage advice.
func (a *analysis) boundUninterruptible(f *Finding) {
	pid := a.s.PID
	f.ID = "uninterruptible_wait"
	f.Severity = Notice
	f.Score = a.avgD
	w := a.topWChanName('D')
	sc := a.topSyscallIn('D')
	in := ""
	switch {
	case w != "" && sc != "":
		in = " in " + w + " (system call " + sc + ")"
	case w != "":
		in = " in " + w
	case sc != "":
		in = " in the system call " + sc
	}
	f.Verdict = fmt.Sprintf("Uninterruptible wait%s: on average %s of its %s were in D, with no storage I/O of its own", in, f1(a.avgD), plural(a.threadsLast, "thread", "threads"))
	storage := a.hasIO && a.writeBPS+a.readBPS > 0
	switch {
	case storage && a.dKnown > 0:
		// Bytes to storage, but the D samples wait elsewhere (review3
		// S1): say both, never "no storage I/O".
		f.Verdict = fmt.Sprintf("Uninterruptible wait%s: on average %s of its %s were in D, waiting there rather than on storage, though it moved %s/s to and from storage", in, f1(a.avgD), plural(a.threadsLast, "thread", "threads"), mib(a.writeBPS+a.readBPS))
	case storage:
		f.Verdict = fmt.Sprintf("Uninterruptible wait%s: on average %s of its %s were in D, and its %s/s to and from storage is too little to explain that", in, f1(a.avgD), plural(a.threadsLast, "thread", "threads"), mib(a.writeBPS+a.readBPS))
	}
	if !a.hasIO {
		f.Verdict = fmt.Sprintf("Uninterruptible wait%s: on average %s of its %s were in D, and nothing shows storage I/O (its I/O counters were not read)", in, f1(a.avgD), plural(a.threadsLast, "thread", "threads"))
	}
	f.Verdict += "."
	f.Evidence = append(f.Evidence, ev("threads_in_d_avg", a.avgD, "threads", f1(a.avgD)+" threads in D on average (at most "+num(float64(a.maxD))+")", statesSource(pid)))
	if w != "" {
		f.Evidence = append(f.Evidence, ev("d_wchan_"+w, float64(a.wchan[w]), "count", w+" in "+num(float64(a.wchan[w]))+" thread samples", src(pid, "task/*/wchan")))
	}
	a.ioEvidence(f)
	if a.psiIO != nil {
		f.Evidence = append(f.Evidence, ev("psi_io_some_percent", *a.psiIO, "percent", "some task on the machine waited on I/O "+pctv(*a.psiIO)+" of the window", "/proc/pressure/io (some total)"))
	}
	f.Why = "D (uninterruptible sleep) is any kernel wait a signal does not end: storage I/O, but also a vfork or posix_spawn parent waiting for its child to exec or exit (kernel_clone), a kernel lock (mutex, rw-semaphore, mmap_lock), a FUSE or NFS server. The wait channel names which; here storage I/O does not explain the time in D."
	switch {
	case w == "kernel_clone" || w == "wait_for_vfork_done" || sc == "vfork" || sc == "clone" || sc == "clone3":
		f.Try = append(f.Try, fmt.Sprintf("A vfork parent runs again when its child calls exec or exits: look at the child (pinspect show %d lists its children); a child that never execs holds the parent for good.", pid))
	default:
		f.Try = append(f.Try, fmt.Sprintf("As root, cat /proc/%d/task/*/stack shows the whole kernel stack each thread waits in; a wait channel in fuse_* or nfs_* points at that server, mutex or rwsem at another task holding a kernel lock.", pid))
	}
	f.Lesson = lessonDisk
}

// topSyscallIn is the most frequent system call of the thread samples
// in state st, "" when none was read.
func (a *analysis) topSyscallIn(st byte) string {
	m := map[int]int{}
	for i := range a.s.Burst {
		for _, t := range a.s.Burst[i].Tasks {
			if t.State == st && t.HasSyscall && t.Syscall.InSyscall() {
				m[t.Syscall.Nr]++
			}
		}
	}
	if len(m) == 0 {
		return ""
	}
	return SyscallName(a.s.Machine.Arch, top(m)[0].key)
}

// boundDisk fills the disk-bound answer: threads in D.
func (a *analysis) boundDisk(f *Finding) {
	pid := a.s.PID
	f.ID = "disk_bound"
	f.Severity = Notice
	f.Score = max(a.avgD, a.syncInside())
	sc := a.topSyncName()
	if sc != "" && a.avgD < diskBoundD && a.syncInside() >= syncShare {
		// Mostly runnable inside the sync (woken, waiting for a CPU to
		// return from it): say where it was, not only how little it was
		// in D.
		n := float64(max(a.syncSamples, 1))
		f.Verdict = fmt.Sprintf("Disk-bound: its %s inside %s in %s of samples (of those, in D, waiting for storage, %s; runnable, waiting for a CPU to return from it, %s",
			plural(a.threadsLast, "thread was", "threads were"), sc, pct(a.syncInside()), pct(float64(a.syncD)/n), pct(float64(a.syncR)/n))
		if other := a.syncSamples - a.syncD - a.syncR; other > 0 {
			f.Verdict += fmt.Sprintf("; in another state (S: an interruptible wait), %s", pct(float64(other)/n))
		}
		f.Verdict += ")"
	} else {
		f.Verdict = fmt.Sprintf("Disk-bound: on average %s of its %s were in uninterruptible sleep (D)%s", f1(a.avgD), plural(a.threadsLast, "thread", "threads"), a.topWChan('D'))
	}
	if a.hasIO && a.writeBPS+a.readBPS > 0 {
		f.Verdict += fmt.Sprintf(", writing %s/s and reading %s/s to storage", mib(a.writeBPS), mib(a.readBPS))
	}
	if asleep := a.states['S'] + a.states['D'] + a.states['I']; a.avgD < diskBoundD && a.syncInside() < syncShare && asleep > 0 {
		f.Verdict += fmt.Sprintf("; that was %s of its waiting, and it wanted a CPU the rest of the time", pct(float64(a.states['D'])/float64(asleep)))
	}
	f.Verdict += "."
	f.Evidence = append(f.Evidence, ev("threads_in_d_avg", a.avgD, "threads", f1(a.avgD)+" threads in D on average (at most "+num(float64(a.maxD))+")", statesSource(pid)))
	if sc != "" {
		f.Evidence = append(f.Evidence, ev("sync_share", a.syncInside(), "ratio", fmt.Sprintf("inside %s in %s of thread samples, %s in all", sc, pct(a.syncInside()), plural(len(a.syncThreads), "thread", "threads")), src(pid, "task/*/syscall")+" field 1, sampled"))
	}
	if w := a.topWChanName('D'); w != "" {
		f.Evidence = append(f.Evidence, ev("d_wchan_"+w, float64(a.wchan[w]), "count", w+" in "+num(float64(a.wchan[w]))+" thread samples", src(pid, "task/*/wchan")))
	}
	a.ioEvidence(f)
	if a.psiIO != nil {
		f.Evidence = append(f.Evidence, ev("psi_io_some_percent", *a.psiIO, "percent", "some task waited on I/O "+pctv(*a.psiIO)+" of the window", "/proc/pressure/io (some total)"))
	}
	if a.psiIOFul != nil {
		f.Evidence = append(f.Evidence, ev("psi_io_full_percent", *a.psiIOFul, "percent", "all non-idle tasks waited on I/O "+pctv(*a.psiIOFul)+" of the window", "/proc/pressure/io (full total)"))
	}
	f.Why = "Threads in D wait for the storage device; they use no CPU, and adding CPUs does not help."
	if sc := a.oneSyncer(); sc != "" {
		// One thread syncing: a second one syncing the same file waits
		// for the first (the inode's lock, the journal's commit).
		f.Try = append(f.Try, "Its one syncing thread waits in "+sc+". If it syncs one file, more threads will not help: syncs of one file serialise (on the file's inode and the file system's journal commit), so threads syncing the same file queue behind each other; write more between syncs (one "+sc+" for many writes: group commit), use fdatasync where file metadata need not be durable, or use faster storage. If it syncs many files, threads syncing different files can overlap while the device has spare capacity (watch /proc/pressure/io full).")
	} else if a.psiIOFul != nil && *a.psiIOFul >= 20 {
		f.Try = append(f.Try, "The device looks saturated (I/O pressure full "+pctv(*a.psiIOFul)+"): more threads will queue, not finish sooner; batch writes (fewer fdatasync calls), or use faster storage.")
	} else {
		f.Try = append(f.Try, "More threads help while the device has spare capacity (watch /proc/pressure/io full); fewer, larger writes and fewer fsync/fdatasync calls cut the waits.")
	}
	f.Lesson = lessonDisk
	a.blkioEvidence(f)
	if u, ok := a.delaysUnmeasured("time each thread spent waiting for block I/O (taskstats blkio delay)"); ok {
		u.Why += "; the D-state samples stand in for it"
		f.Unmeasured = append(f.Unmeasured, u)
	}
}

// forking reports whether the process made children at a rate that
// makes it a forking one.
func (a *analysis) forking() bool { return a.hasBirths && a.birthsPS >= forkingPerSecond }

// sysShare is the share of its CPU time that was system time, 0 when it
// used none.
func (a *analysis) sysShare() float64 {
	if !a.hasCPU || a.cpuUsed <= 0 || a.secs <= 0 {
		return 0
	}
	return min(a.sysSecs/(a.cpuUsed*a.secs), 1)
}

// forkEvidence adds the fork rates: the children seen born (a lower
// bound: a child that lived less than the interval between two readings
// is missed) and the machine's forks over the window.
func (a *analysis) forkEvidence(f *Finding) {
	pid := a.s.PID
	if !a.hasBirths {
		return
	}
	b := a.s.Births
	f.Evidence = append(f.Evidence, ev("children_born_per_second", a.birthsPS, "per_second",
		fmt.Sprintf("at least %s children born per second (%s seen alive at a reading in %s s; one that lived less than the time between two readings is missed)", f1(a.birthsPS), num(float64(b.Seen)), f1(a.secs)),
		src(pid, "task/*/children")+" at each burst tick (up to "+num(float64(b.ThreadsRead))+" threads), and the PPid of every process in both snapshots"))
	if a.hasMachineForks {
		f.Evidence = append(f.Evidence, ev("machine_forks_per_second", a.machineForksPS, "per_second",
			f1(a.machineForksPS)+" processes created per second on the whole machine (an upper bound of its own rate)", "/proc/stat processes"))
	}
}

// forkTry is the advice for a process whose CPU goes to making
// children.
func (a *analysis) forkTry(f *Finding) {
	rss := ""
	if m := a.s.Last.Memory; m != nil && m.Totals.RSSBytes > 0 {
		rss = " (" + mib(float64(m.Totals.RSSBytes)) + " resident here)"
	}
	f.Try = append(f.Try,
		"Fork less: keep worker processes alive and hand them work (a pre-forked pool), or run short jobs in threads; each fork copies the parent's page tables and later the pages either side writes"+rss+".",
		"To start another program, use posix_spawn (or vfork + exec), which does not copy the page tables; or fork from a small helper process started early, not from the big parent.")
}

// boundCPU fills the CPU-bound answer: full (more threads will not help)
// or with room (fewer busy threads than CPUs).
func (a *analysis) boundCPU(f *Finding, demand float64) {
	s := a.s
	busy := a.busyThreads
	if !a.hasSched {
		busy = int(a.avgR + 0.5)
	}
	full := a.effCPUs > 0 && (float64(busy) >= a.effCPUs || a.cpuUsed >= 0.9*a.effCPUs)
	f.Score = demand
	if full {
		f.ID = "cpu_bound"
		f.Severity = Info
		f.Verdict = fmt.Sprintf("CPU-bound: its threads wanted %s CPUs on average and got %s of the %s available; more threads will not make it faster.", f1(demand), f2(a.cpuUsed), cpusN(a.effCPUs))
		f.Why = "Every CPU it can use is busy with it: throughput is capped by the CPUs, and extra threads only wait their turn."
		f.Try = append(f.Try, "Size a CPU-bound pool to the CPUs it may use ("+cpusN(a.effCPUs)+"); make the work cheaper (profile it), or give it more CPUs.")
	} else if a.effCPUs <= 0 {
		f.ID = "cpu_bound"
		f.Severity = Info
		f.Verdict = fmt.Sprintf("CPU-bound: its threads wanted %s CPUs on average and got %s; the CPU count is not known (%s), so whether it had room is not said.", f1(demand), f2(a.cpuUsed), cpusWhy(s.Unavailable))
		f.Why = "A thread runs on one CPU at a time: how far more threads help depends on the CPUs it may use."
	} else {
		f.ID = "cpu_bound_room"
		f.Severity = Info
		idle := a.effCPUs - a.cpuUsed
		f.Verdict = fmt.Sprintf("CPU-bound on %s: it used %s CPUs while %s of the %s it may use went to others or stayed idle.", plural(max(busy, 1), "busy thread", "busy threads"), f2(a.cpuUsed), f1(max(idle, 0)), cpusN(a.effCPUs))
		f.Why = "A thread runs on one CPU at a time: work done by fewer busy threads than CPUs leaves CPUs unused."
		if a.forking() && a.sysShare() >= forkSysShare {
			f.Why = "Its CPU is mostly system time while it makes children: creating processes is its work here, and more threads would only fork in parallel."
		} else if s.Runtime.Kind == collector.RuntimeCPython && a.threadsLast > 1 {
			f.Try = append(f.Try, "Split the work over processes (multiprocessing), not threads: CPython threads share one interpreter lock.")
		} else {
			f.Try = append(f.Try, "If the work can be split, more threads or processes (up to the CPUs) can use the idle CPUs; check the machine is not busy with other work first.")
		}
	}
	if a.forking() && a.sysShare() >= forkSysShare {
		f.Verdict = strings.TrimSuffix(f.Verdict, ".") + fmt.Sprintf("; %s of it was system time, while it made at least %s children a second: the CPU goes to creating processes.", pct(a.sysShare()), f1(a.birthsPS))
		if full {
			f.Try = nil
		}
		a.forkTry(f)
	}
	f.Evidence = append(f.Evidence, a.demandEvidence()...)
	f.Evidence = append(f.Evidence, a.cpuUsedEvidence(), a.cpusEvidence())
	if a.forking() {
		f.Evidence = append(f.Evidence, ev("system_cpu_share", a.sysShare(), "ratio", pct(a.sysShare())+" of its CPU time in the kernel (system time)", src(a.s.PID, "stat")+" fields 14-15"))
		a.forkEvidence(f)
	}
	f.Lesson = lessonCPUBound
}

// boundWaiting fills the answer for a process whose threads mostly
// sleep: idle, waiting on its own threads (futex), or I/O-bound.
func (a *analysis) boundWaiting(f *Finding) {
	pid := a.s.PID
	kind, name, share := a.topWait()
	f.Score = a.cpuUsed
	sleepShare := 1.0
	if a.threadSamples > 0 {
		// Asleep in any way: S, I and D (a thread in D sleeps too, in
		// the kernel: an fsync loop is asleep in D most of the time).
		sleepShare = float64(a.states['S']+a.states['D']+a.states['I']) / float64(a.threadSamples)
	}
	switch {
	case a.forking():
		f.ID = "forking"
		waited := ""
		switch {
		case kind == waitChild:
			waited = fmt.Sprintf(" and waited for them (%s of its waiting samples in %s)", pct(share), name)
		case name != "":
			waited = fmt.Sprintf(", waiting between them mostly in %s (%s of its waiting samples)", name, pct(share))
		}
		f.Verdict = fmt.Sprintf("Forking: it made at least %s children a second%s, using %s CPUs itself; its work is done by the children it starts.", f1(a.birthsPS), waited, f2(a.cpuUsed))
		f.Why = "A parent that starts a child per job runs at the pace of its children and of fork itself: more threads in the parent change neither, and every fork copies its page tables."
		a.forkTry(f)
	case a.cpuUsed < 0.01 && a.avgD == 0:
		f.ID = "idle"
		f.Verdict = "Mostly idle: it used " + pct(a.cpuUsed) + " of a CPU over " + f1(a.secs) + " s"
		if name != "" {
			f.Verdict += ", its threads asleep in " + name
		}
		f.Verdict += "."
		f.Why = "An idle process costs nothing but its memory."
	case kind == waitFutex:
		f.ID = "lock_wait"
		f.Verdict = fmt.Sprintf("Waiting on its own threads: %s of its waiting threads' samples were in futex (locks, condition variables, joins), and it used %s CPUs.", pct(share), f2(a.cpuUsed))
		f.Why = "Threads parked in futex wait for another thread: an idle pool waiting for work, or threads queueing on a shared lock. More threads help neither."
		f.Try = append(f.Try, "If work is queued while threads wait, look for a lock every thread takes (a profiler with off-CPU or lock profiles shows which).")
	default:
		f.ID = "io_bound"
		what := "waiting"
		if name != "" {
			what = "waiting in " + name
		}
		f.Why = "A thread that waits (a timer, the network, a pipe) holds no CPU: many such threads overlap their waits, which is why I/O-bound pools can be much larger than the CPU count."
		if kind == waitPoll {
			// Waiting for events: more threads would wait for them too.
			f.Verdict = fmt.Sprintf("I/O-bound: its threads slept (S, D or I) %s of the time, mostly %s for events, and used only %s CPUs; it waits for work, so more threads would only wait as well.", pct(sleepShare), what, f2(a.cpuUsed))
			f.Try = append(f.Try, "Nothing to do while it keeps up: one event loop serves many connections; when its thread nears one CPU, add loops (processes), not threads.")
			break
		}
		more := "more threads raise"
		if a.s.Runtime.Kind == collector.RuntimeGo {
			more = "more goroutines (the runtime adds OS threads itself) raise"
		}
		f.Verdict = fmt.Sprintf("I/O-bound: its threads slept (S, D or I) %s of the time, mostly %s, and used only %s CPUs; %s throughput while their waits are independent.", pct(sleepShare), what, f2(a.cpuUsed), more)
		f.Try = append(f.Try, "Size the pool by the wait: threads ≈ CPUs × (1 + wait time / compute time); stop growing it when latency or the resource it waits on (a database, a service) saturates.")
		if kind == waitNet {
			f.Try = append(f.Try, "For many connections, an event loop (epoll) or async I/O serves them with few threads.")
		}
	}
	if name != "" {
		f.Evidence = append(f.Evidence, ev("top_wait_share", share, "ratio", name+" in "+pct(share)+" of waiting thread samples", a.waitSource()))
	}
	f.Evidence = append(f.Evidence, ev("sleeping_share", sleepShare, "ratio", pct(sleepShare)+" of thread samples asleep (S, D or I)", statesSource(pid)))
	if a.states['D'] > 0 {
		dShare := float64(a.states['D']) / float64(max(a.threadSamples, 1))
		f.Evidence = append(f.Evidence, ev("d_share", dShare, "ratio", pct(dShare)+" of thread samples in D (uninterruptible: in the kernel, most often waiting for storage)", statesSource(pid)))
	}
	f.Evidence = append(f.Evidence, a.cpuUsedEvidence())
	if a.hasCtx {
		f.Evidence = append(f.Evidence, ev("voluntary_switches_per_second", a.volPS, "per_second", num(a.volPS)+" voluntary switches/s (a thread blocked or yielded)", a.ctxSourceText()))
	}
	a.ioEvidence(f)
	if a.forking() {
		a.forkEvidence(f)
	}
	f.Lesson = lessonIOBound
}

// cpuBound reports whether some of its threads compute most of the
// time: a thread that wanted a CPU (ran or waited in the run queue) for
// at least busyShare of the burst. Run-queue wait alone does not make a
// process CPU-bound: an I/O pool on a loaded machine waits after every
// wake-up.
func (a *analysis) cpuBound() bool {
	if a.hasSched {
		return a.busyThreads >= 1
	}
	// Without schedstat the sampled R states decide, unless the CPU
	// counters say the R threads did not run (a fixture tree's frozen
	// files, or a machine so loaded nothing ran).
	return a.avgR >= cpuBoundDemand && (!a.hasCPU || a.cpuUsed >= 0.25)
}

// ownOversubscribed reports whether the process's own threads are more
// than its CPUs can run: more of them want a CPU than there are CPUs, and
// either more of them compute nearly all the time than there are CPUs, or
// they hold nearly all the CPUs they may use. Threads that sleep between
// pieces of work are not counted as busy even when neighbours keep them
// waiting for a CPU after each wake-up: that wait is the neighbours'.
func (a *analysis) ownOversubscribed() bool {
	if a.effCPUs <= 0 || a.demand-a.effCPUs < oversubscribedMargin {
		return false
	}
	run := a.runSecs / a.burstSecs
	return float64(a.hardBusy) > a.effCPUs || run >= 0.8*a.effCPUs
}

// demandEvidence is the schedstat (or sampled) demand.
func (a *analysis) demandEvidence() []Evidence {
	pid := a.s.PID
	if !a.hasSched {
		return []Evidence{ev("runnable_threads_avg", a.avgR, "threads", f1(a.avgR)+" threads runnable (R) on average", statesSource(pid))}
	}
	return []Evidence{
		ev("threads_wanting_cpu_avg", a.demand, "threads", f1(a.demand)+" threads running or waiting for a CPU on average", a.schedSource()),
		ev("runnable_threads_sampled_avg", a.avgR, "threads", f1(a.avgR)+" threads in R in the samples (at most "+num(float64(a.maxR))+")", statesSource(pid)),
	}
}

// ioEvidence adds /proc/PID/io rates.
func (a *analysis) ioEvidence(f *Finding) {
	if !a.hasIO {
		return
	}
	pid := a.s.PID
	f.Evidence = append(f.Evidence,
		ev("storage_write_bytes_per_second", a.writeBPS, "bytes_per_second", mib(a.writeBPS)+"/s written to storage", src(pid, "io")+" write_bytes"),
		ev("storage_read_bytes_per_second", a.readBPS, "bytes_per_second", mib(a.readBPS)+"/s read from storage", src(pid, "io")+" read_bytes"),
		ev("io_syscalls_per_second", a.syscPS, "per_second", num(a.syscPS)+" read/write system calls/s", src(pid, "io")+" syscr+syscw"))
}

// DelaysUntrackedReason says why a process has no delay totals though
// delay accounting is on.
const DelaysUntrackedReason = "taskstats counted no block-I/O wait in its whole life though its threads were seen in D: it most likely predates kernel.task_delayacct being turned on (the kernel keeps delays only for tasks created while it is on; restart it to measure)"

// delaySource names where the delay rates come from.
func delaySource(pid int, field string) string {
	return fmt.Sprintf("taskstats TGID %d %s, both readings", pid, field)
}

// blkioEvidence adds the block-I/O delay rate from taskstats, when
// delay accounting is on and taskstats answered.
func (a *analysis) blkioEvidence(f *Finding) {
	if !a.hasDelays {
		return
	}
	f.Evidence = append(f.Evidence, ev("blkio_delay_ms_per_second", a.blkioDelayPS*1000, "ms_per_second",
		fmt.Sprintf("its threads waited %s ms/s in all for block I/O (summed over threads; %s waits in the window)", num(a.blkioDelayPS*1000), num(float64(a.blkioWaits))),
		delaySource(a.s.PID, "blkio_delay_total")))
}

// swapinEvidence adds the swap-in delay rate from taskstats; always when
// memory is the question (zero says it did not wait on swap), otherwise
// only when it waited.
func (a *analysis) swapinEvidence(f *Finding, always bool) {
	if !a.hasDelays || (!always && a.swapWaits == 0 && a.swapDelayPS == 0) {
		return
	}
	f.Evidence = append(f.Evidence, ev("swapin_delay_ms_per_second", a.swapDelayPS*1000, "ms_per_second",
		fmt.Sprintf("its threads waited %s ms/s in all for swap-in (summed over threads; %s waits in the window)", num(a.swapDelayPS*1000), num(float64(a.swapWaits))),
		delaySource(a.s.PID, "swapin_delay_total")))
}

// delaysUnmeasured says why the taskstats delays are missing, if they
// are: delay accounting off, or on but taskstats unusable.
func (a *analysis) delaysUnmeasured(what string) (Unmeasured, bool) {
	s := a.s
	switch {
	case a.hasDelays:
		return Unmeasured{}, false
	case s.Machine.DelayAcct == "off":
		return Unmeasured{What: what, Why: "kernel.task_delayacct is off (sysctl -w kernel.task_delayacct=1 turns it on)"}, true
	case s.Machine.DelayAcct == "on" && a.delaysUntracked:
		return Unmeasured{What: what, Why: DelaysUntrackedReason}, true
	case s.Machine.DelayAcct == "on":
		if why, ok := s.Unavailable["taskstats"]; ok {
			return Unmeasured{What: what, Why: why}, true
		}
		return Unmeasured{What: what, Why: "taskstats gave no reading at one end of the window"}, true
	}
	return Unmeasured{What: what, Why: "whether delay accounting is on is unknown (kernel.task_delayacct unreadable)"}, true
}

func (a *analysis) ctxSourceText() string {
	switch a.ctxSource {
	case collector.CtxTaskstats:
		return "taskstats (TGID), all threads including exited ones"
	case collector.CtxThreadSum:
		return src(a.s.PID, "task/*/status") + " voluntary_ctxt_switches, nonvoluntary_ctxt_switches (live threads)"
	case collector.CtxTaskIter:
		return "BPF task iterator: the thread group's counts, exited threads included"
	}
	return src(a.s.PID, "status")
}

// topWait names what sleeping threads mostly wait in: the top system
// call when the syscall files were readable, else the top wchan. share
// is its share of the waiting samples.
//
// Go and JVM runtimes park their idle threads in futex: for them futex
// says nothing of the program's waits, and the top other wait is named.
func (a *analysis) topWait() (waitKind, string, float64) {
	parks := a.s.Runtime.Kind == collector.RuntimeGo || a.s.Runtime.Kind == collector.RuntimeJVM
	if a.syscallSamples > 0 {
		for _, c := range top(a.syscalls) {
			name := SyscallName(a.s.Machine.Arch, c.key)
			if k := syscallKind(name); !parks || k != waitFutex {
				return k, name, float64(c.n) / float64(a.syscallSamples)
			}
		}
	}
	if a.wchanSamples > 0 {
		for _, c := range top(a.wchan) {
			if k := wchanKind(c.key); !parks || k != waitFutex {
				return k, c.key, float64(c.n) / float64(a.wchanSamples)
			}
		}
	}
	return waitUnknown, "", 0
}

func (a *analysis) waitSource() string {
	if a.syscallSamples > 0 {
		return src(a.s.PID, "task/*/syscall") + " field 1, sampled"
	}
	return src(a.s.PID, "task/*/wchan") + ", sampled"
}

// topWChanName is the most frequent wchan of threads in state st.
func (a *analysis) topWChanName(st byte) string {
	m := map[string]int{}
	for i := range a.s.Burst {
		for _, t := range a.s.Burst[i].Tasks {
			if t.State == st && t.HasWChan && t.WChanState == collector.WChanFunc {
				m[t.WChan]++
			}
		}
	}
	if len(m) == 0 {
		return ""
	}
	return top(m)[0].key
}

func (a *analysis) topWChan(st byte) string {
	if w := a.topWChanName(st); w != "" {
		return ", mostly in " + w
	}
	return ""
}

// pool answers "is the pool too big", telling its own threads from the
// neighbours and a cgroup quota, from run-queue wait (schedstat).
func (a *analysis) pool() *Finding {
	s := a.s
	pid := s.PID
	if !a.hasSched {
		return nil
	}
	waitingThreads := (a.waitSecs + a.pendingSecs) / a.burstSecs
	throttled := a.hasThrottle && a.throttledPeriods > 0
	contended := a.waitShare >= poolWaitShare && waitingThreads >= poolWaitThreads
	if !contended && !throttled {
		if a.demand < cpuBoundDemand {
			return nil
		}
		return &Finding{
			ID: "run_queue_ok", Question: QPool, Severity: Info, Score: a.waitShare,
			Verdict: fmt.Sprintf("Not oversubscribed: its %s threads wanting a CPU waited for one only %s of their runnable time%s.",
				f1(a.demand), pct(a.waitShare), a.perSlice()),
			Evidence: a.waitEvidence(),
			Why:      "Run-queue wait is the time a runnable thread spends waiting for a CPU; it stays small while there are CPUs for every thread that wants one.",
			Lesson:   lessonPool,
		}
	}
	f := &Finding{Question: QPool, Score: a.waitShare * a.demand, Lesson: lessonPool}
	switch {
	case a.waitShare >= 0.5:
		f.Severity = Warning
	case a.waitShare >= 0.2:
		f.Severity = Notice
	}
	// A process that hardly wants a CPU loses latency, not throughput,
	// to the run queue: it is worth knowing, not a problem to act on.
	if a.busyThreads == 0 {
		f.Severity = min(f.Severity, Notice)
		if waitingThreads < 0.1 {
			f.Severity = Info
		}
	}
	switch {
	case throttled && a.quotaCPUs > 0:
		f.ID = "cgroup_throttled"
		f.Severity = max(f.Severity, Notice)
		c := s.Last.Cgroup
		f.Verdict = fmt.Sprintf("Held back by its cgroup's CPU quota: %s CPUs allowed (%s), throttled in %s of %s periods over the window, %s held back.",
			f2(a.quotaCPUs), c.LimitPath, num(float64(a.throttledPeriods)), num(float64(a.periods)), dur(time.Duration(a.throttledSecs*1e9)))
		f.Evidence = append(f.Evidence,
			ev("cgroup_quota_cpus", a.quotaCPUs, "cpus", f2(a.quotaCPUs)+" CPUs of quota", "cgroup "+cgroupLimitFile(c)),
			ev("cgroup_throttled_periods", float64(a.throttledPeriods), "count", num(float64(a.throttledPeriods))+" of "+num(float64(a.periods))+" periods throttled", "cgroup "+c.LimitPath+"/cpu.stat nr_throttled, nr_periods"),
			ev("cgroup_throttled_seconds", a.throttledSecs, "seconds", dur(time.Duration(a.throttledSecs*1e9))+" throttled", "cgroup "+c.LimitPath+"/cpu.stat throttled time"))
		f.Evidence = append(f.Evidence, a.waitEvidence()...)
		f.Why = "A throttled cgroup's threads are taken off the CPUs until the next period even when CPUs are idle: latency rises in steps of the period."
		f.Try = append(f.Try, "Raise the quota, or size the pool to the quota ("+cpusN(a.quotaCPUs)+" CPUs), not to the machine's CPU count: runtimes that read /proc/cpuinfo oversize their pools inside a limited container.")
	case a.ownOversubscribed():
		f.ID = "pool_oversubscribed"
		f.Severity = max(f.Severity, Notice)
		waited := fmt.Sprintf("each waited %s in the run queue for every %s it ran", dur(a.waitPerSlice), dur(a.runPerSlice))
		if a.slices == 0 {
			waited = "they waited " + pct(a.waitShare) + " of their runnable time in the run queue"
		}
		f.Verdict = fmt.Sprintf("Oversubscribed: %s of its threads wanted a CPU on average on %s CPUs (%d of them computing all the time), so %s; more threads than CPUs adds waiting, not throughput.",
			f1(a.demand), cpusN(a.effCPUs), a.hardBusy, waited)
		f.Evidence = append(f.Evidence, a.waitEvidence()...)
		f.Evidence = append(f.Evidence, ev("computing_threads", float64(a.hardBusy), "threads", plural(a.hardBusy, "thread", "threads")+" wanted a CPU at least "+pct(hardBusyShare)+" of the time", a.schedSource()))
		f.Evidence = append(f.Evidence, a.cpusEvidence())
		if a.hasRunnable && a.othersRunnable >= 0.5 {
			f.Evidence = append(f.Evidence, ev("others_runnable_avg", a.othersRunnable, "threads", f1(a.othersRunnable)+" other tasks runnable on average as well (the neighbours add to the wait)", "/proc/loadavg field 4 less "+statesSource(pid)))
		}
		if a.hasCtx {
			f.Evidence = append(f.Evidence, ev("involuntary_switches_per_second", a.invPS, "per_second",
				num(a.invPS)+" involuntary switches/s (not used for the verdict: a right-sized pool is preempted about as often)", a.ctxSourceText()))
		}
		f.Why = "Each request now spends most of its time waiting for a CPU: the same throughput with far longer service times, and more memory for stacks."
		f.Try = append(f.Try, fmt.Sprintf("Make the CPU-bound pool %s threads (the CPUs it may use) and queue the rest of the work; for mixed work size it as CPUs × (1 + wait/compute).", cpusN(a.effCPUs)))
	default:
		f.ID = "cpu_neighbours"
		others := a.othersRunnable
		of := " of the " + cpusN(a.effCPUs) + " CPUs"
		if a.effCPUs <= 0 {
			of = " CPUs (the CPU count is not known)"
		}
		f.Verdict = fmt.Sprintf("Slowed by its neighbours: its threads ran only %s%s, yet waited %s of their runnable time%s, while %s other tasks were runnable on average.",
			f2(a.runSecs/a.burstSecs), of, pct(a.waitShare), a.perSlice(), f1(others))
		f.Evidence = append(f.Evidence, a.waitEvidence()...)
		if a.hasRunnable {
			f.Evidence = append(f.Evidence,
				ev("machine_runnable_avg", a.hostRunnable, "threads", f1(a.hostRunnable)+" tasks runnable on the machine on average (this reader excluded)", "/proc/loadavg field 4 (procs_running), sampled"),
				ev("others_runnable_avg", others, "threads", f1(others)+" of them not this process's", "/proc/loadavg field 4 less "+statesSource(pid)))
		}
		f.Evidence = append(f.Evidence, a.cpusEvidence())
		if a.psiCPU != nil {
			f.Evidence = append(f.Evidence, ev("psi_cpu_some_percent", *a.psiCPU, "percent", "some task waited for a CPU "+pctv(*a.psiCPU)+" of the window", "/proc/pressure/cpu (some total)"))
		}
		if len(s.Neighbours) > 0 {
			var names []string
			for _, n := range s.Neighbours[:min(3, len(s.Neighbours))] {
				names = append(names, fmt.Sprintf("%s (%d) %s CPUs", n.Comm, n.PID, f2(n.CPUs)))
			}
			f.Evidence = append(f.Evidence, ev("top_neighbour_cpus", s.Neighbours[0].CPUs, "cpus", "busiest others: "+strings.Join(names, ", "), "/proc/*/stat fields 14-15, both snapshots"))
		}
		if visible := a.neighbourCPUs(); a.hasHostBusy && a.hostBusy-a.cpuUsed-visible >= 0.5 {
			f.Evidence = append(f.Evidence, ev("invisible_neighbour_cpus", a.hostBusy-a.cpuUsed-visible, "cpus",
				f2(a.hostBusy-a.cpuUsed-visible)+" CPUs used by tasks not among the busiest others named: processes that started or exited within the window, or that this reader cannot see (other pid namespaces, hidepid)",
				"/proc/stat cpu line less the visible processes' CPU"))
		}
		f.Why = "Its threads wait behind other processes' threads: shrinking or growing its own pool will not change that."
		f.Try = append(f.Try, "Move or limit the neighbours (nice, a cgroup cpu.weight or quota for them), or give this process a larger share (cpu.weight / nice).")
	}
	return f
}

// poolOversized answers "is the pool too big" for a pool that waits for
// work: many threads, nearly all parked in futex (a condition variable,
// the pool's queue), few wanting a CPU on average or awake at once. Its
// size buys nothing in this window, and each idle thread holds a stack.
// A Go program's idle OS threads are the runtime's, not a pool it sized:
// no finding.
func (a *analysis) poolOversized() *Finding {
	s := a.s
	pid := s.PID
	n := len(a.threads)
	if !a.hasSched || a.ticks < 2 || n < oversizedMinThreads || s.Runtime.Kind == collector.RuntimeGo {
		return nil
	}
	var futex, samples, idle int
	for i := range a.threads {
		d := &a.threads[i]
		futex += d.futexSamples
		samples += d.samples
		if d.runNs == 0 && d.waitNs == 0 {
			idle++
		}
	}
	futexShare := float64(futex) / float64(max(samples, 1))
	if futexShare < oversizedFutexShare || a.demand > oversizedDemandShare*float64(n) || float64(a.maxAwake) > oversizedAwakeShare*float64(n) {
		return nil
	}
	f := &Finding{ID: "pool_oversized", Question: QPool, Severity: Notice, Score: 1 - a.demand/float64(n), Lesson: lessonPool}
	awake := fmt.Sprintf("at most %d were awake (R or D) in any of %d samples", a.maxAwake, a.ticks)
	if a.maxAwake == 0 {
		awake = fmt.Sprintf("none was awake (R or D) in any of %d samples", a.ticks)
	}
	f.Verdict = fmt.Sprintf("Oversized pool: %d threads waiting for work, but on average only %s of them wanted a CPU and %s over %s s; %d did not run at all.",
		n, f2(a.demand), awake, f1(a.burstSecs), idle)
	f.Evidence = append(f.Evidence,
		ev("pool_threads", float64(n), "threads", plural(n, "thread", "threads")+" read at both ends of the burst", a.schedSource()),
		ev("demand_threads_avg", a.demand, "threads", f2(a.demand)+" threads wanting a CPU on average (run + run-queue wait)", a.schedSource()),
		ev("awake_threads_max", float64(a.maxAwake), "threads", "at most "+plural(a.maxAwake, "thread", "threads")+" R or D in one sample", statesSource(pid)),
		ev("idle_threads", float64(idle), "threads", plural(idle, "thread", "threads")+" with no run time in the window", a.schedSource()),
		ev("futex_share", futexShare, "ratio", pct(futexShare)+" of the threads' samples waiting in futex", a.futexSource()))
	if m := s.Last.Memory; m != nil {
		if b, ok := m.ResidentByClass[collector.SegThreadStack]; ok {
			f.Evidence = append(f.Evidence, ev("thread_stacks_resident_bytes", float64(b), "bytes", mib(float64(b))+" resident in thread stacks", src(pid, "smaps")))
		}
	}
	f.Why = "A thread waiting for work costs a stack (virtual address space, and resident pages once touched), kernel memory and a place in every tool's thread list; threads beyond the most work that arrives at once never help. A burst of work outside this window may need them."
	f.Try = append(f.Try,
		fmt.Sprintf("Size the pool to the work that arrives at once (here %s, %s wanting a CPU on average) plus headroom; check a longer window first (pinspect explain --window 1m %d, or pinspect record).", awake, f2(a.demand), pid),
		"Or let idle threads exit: a core size with a keep-alive for the threads above it (Java's ThreadPoolExecutor, a dynamic pool).")
	return f
}

// neighbourCPUs sums the CPU of the visible other processes named in
// the sample.
func (a *analysis) neighbourCPUs() float64 {
	t := 0.0
	for _, n := range a.s.Neighbours {
		t += n.CPUs
	}
	return t
}

// waitEvidence is the run-queue wait numbers.
func (a *analysis) waitEvidence() []Evidence {
	pid := a.s.PID
	waiting := (a.waitSecs + a.pendingSecs) / a.burstSecs
	var out []Evidence
	if a.slices > 0 {
		out = append(out, ev("run_queue_wait_per_slice_ms", float64(a.waitPerSlice)/1e6, "ms", dur(a.waitPerSlice)+" waiting in the run queue per slice run ("+dur(a.runPerSlice)+" run per slice)", a.schedSource()))
	}
	out = append(out,
		ev("run_queue_wait_share", a.waitShare, "ratio", pct(a.waitShare)+" of its runnable time spent waiting for a CPU", a.schedSource()),
		ev("threads_waiting_for_cpu_avg", waiting, "threads", f1(waiting)+" thread-seconds of run-queue wait per second", a.schedSource()),
		ev("threads_wanting_cpu_avg", a.demand, "threads", f1(a.demand)+" of its threads running or waiting for a CPU on average", a.schedSource()),
	)
	if p := a.pendingSecs / a.burstSecs; p >= 0.05 {
		out = append(out, ev("pending_wait_threads", p, "threads", f1(p)+" thread-seconds per second of it still pending: threads seen runnable that schedstat has not counted yet (it counts a wait when the thread gets a CPU)",
			statesSource(pid)+" against "+a.schedSource()))
	}
	return out
}

// state answers "running or only ready", and what the process's state
// letter hides.
func (a *analysis) state() *Finding {
	s := a.s
	pid := s.PID
	if a.ticks == 0 || a.threadSamples == 0 {
		return nil
	}
	leader := byte(0)
	if t := top(a.leaderStates); len(t) > 0 {
		leader = t[0].key
	}
	var othersR, othersD int
	last := &s.Burst[len(s.Burst)-1]
	for _, t := range last.Tasks {
		switch t.State {
		case 'R':
			othersR++
		case 'D':
			othersD++
		}
	}
	// "Most" is more than half the thread samples read: a tie (one R and
	// one S thread read of three, the third unreadable) is no majority
	// (tester13 B2).
	ts := top(a.states)
	majority, most := ts[0].key, 2*ts[0].n > a.threadSamples
	// The threads read: fewer than the process has when a thread's stat
	// could not be read, or threads came and went between samples.
	read := int(math.Round(float64(a.threadSamples) / float64(a.ticks)))
	of := plural(a.threadsLast, "thread", "threads")
	if read < a.threadsLast {
		of = fmt.Sprintf("the %d threads read (%d in all)", read, a.threadsLast)
	}
	// The D threads the state letter can hide are the others: the main
	// thread's own D shows in the letter when it is sampled there (a
	// one-thread process in D part of the time hides nothing).
	hiddenD := 0
	for tid := range a.dThreads {
		if tid != pid {
			hiddenD++
		}
	}
	f := &Finding{Question: QState, Lesson: lessonState}
	stateEv := fact("process_state", "process state "+string(leader)+" ("+collector.StateName(leader)+"): the main thread's", src(pid, "stat")+" field 3")
	switch {
	case hiddenD > 0 && leader != 'D':
		f.ID = "state_hides_d"
		f.Severity = Notice
		f.Score = float64(len(a.dThreads))
		f.Verdict = fmt.Sprintf("Its state says %s, but %d of its %d threads were in D (uninterruptible: in the kernel, waiting for storage, a kernel lock or a vfork child) in the samples, %s at once at most.",
			string(leader), len(a.dThreads), a.threadsLast, num(float64(a.maxD)))
		f.Why = "A process's state letter is its main thread's: counting processes in D misses worker threads stuck in I/O."
	case a.threadsLast > 1 && most && leader != majority && (majority == 'R' || majority == 'D'):
		f.ID = "state_hides_threads"
		f.Severity = Notice
		f.Score = a.avgR
		f.Verdict = fmt.Sprintf("Its state says %s (the main thread), but most of its threads were %s: %s runnable on average of %s.",
			string(leader), string(majority), f1(a.avgR), of)
		f.Why = "A process's state letter is its main thread's; the work happens in the other threads."
	case a.avgR >= 1 && a.hasSched && a.waitShare >= 0.2:
		f.ID = "runnable_not_running"
		f.Severity = Info
		f.Score = a.waitShare
		f.Verdict = fmt.Sprintf("R means runnable, not running: its R threads ran %s and waited for a CPU %s of their runnable time.",
			pct(1-a.waitShare), pct(a.waitShare))
		f.Why = "R counts threads waiting in a run queue as well as those on a CPU; only run-queue wait tells them apart."
	default:
		return nil
	}
	f.Evidence = append(f.Evidence, stateEv,
		ev("threads_r_avg", a.avgR, "threads", f1(a.avgR)+" threads in R on average (at most "+num(float64(a.maxR))+")", statesSource(pid)),
		ev("threads_d_avg", a.avgD, "threads", f1(a.avgD)+" threads in D on average (at most "+num(float64(a.maxD))+"), "+num(float64(len(a.dThreads)))+" distinct", statesSource(pid)))
	if a.hasSched {
		f.Evidence = append(f.Evidence, ev("run_queue_wait_share", a.waitShare, "ratio", pct(a.waitShare)+" of runnable time spent waiting for a CPU", a.schedSource()))
	}
	if w := a.topWChanName(leader); w != "" {
		f.Evidence = append(f.Evidence, fact("main_thread_wchan", "the main thread sleeps in "+w, src(pid, "task/"+fmt.Sprint(pid)+"/wchan")))
	}
	f.Try = append(f.Try, "Look at the threads (pinspect show "+fmt.Sprint(pid)+", or the dashboard's thread rows), not the process's letter.")
	return f
}

// gil answers "why don't Python threads go faster".
func (a *analysis) gil() *Finding {
	s := a.s
	pid := s.PID
	if s.Runtime.Kind != collector.RuntimeCPython || a.threadsLast < 2 || !a.hasSched {
		return nil
	}
	var active, futex, reads int
	for _, t := range a.threads {
		if float64(t.runNs+t.waitNs+t.pendingNs)/1e9 < gilActiveShare*a.burstSecs {
			continue
		}
		active++
		futex += t.futexSamples
		reads += t.samples
	}
	cpuRun := a.runSecs / a.burstSecs
	if active < 2 || a.cpus < 2 || cpuRun > gilMaxCPUs || reads == 0 {
		return nil
	}
	futexShare := float64(futex) / float64(reads)
	if futexShare < 0.2 && a.syscallRead+a.wchanSamples > 0 {
		return nil
	}
	f := &Finding{ID: "gil_serialised", Question: QGIL, Severity: Notice, Score: float64(active) / max(cpuRun, 0.01), Lesson: lessonGIL}
	if cpuRun >= 0.7 || futexShare >= 0.3 {
		f.Severity = Warning
	}
	f.Verdict = fmt.Sprintf("Python threads taking turns: %d CPython threads ran, but %s CPUs in all on a %s-CPU machine; between turns they wait in futex (%s of their samples), the interpreter lock's wait.",
		active, f2(cpuRun), num(a.cpus), pct(futexShare))
	f.Evidence = append(f.Evidence,
		ev("active_threads", float64(active), "threads", plural(active, "thread", "threads")+" ran or waited for a CPU at least "+pct(gilActiveShare)+" of the window", a.schedSource()),
		ev("cpu_used_cpus", cpuRun, "cpus", f2(cpuRun)+" CPUs used by all threads together", a.schedSource()),
		ev("futex_share", futexShare, "ratio", pct(futexShare)+" of their samples in futex", a.futexSource()),
		ev("cpus_available", a.cpus, "cpus", num(a.cpus)+" CPUs online", "/proc/cpuinfo"))
	if len(a.futexAddrs) > 0 {
		t := top(a.futexAddrs)
		f.Evidence = append(f.Evidence, ev("futex_top_address_share", float64(t[0].n)/float64(max(a.syscallKinds[waitFutex], 1)), "ratio",
			fmt.Sprintf("%s of futex waits on one address (%#x)", pct(float64(t[0].n)/float64(max(a.syscallKinds[waitFutex], 1))), t[0].key), src(pid, "task/*/syscall")+" field 2 (uaddr)"))
	}
	for _, e := range s.Runtime.Evidence {
		f.Evidence = append(f.Evidence, fact("runtime_clue", "CPython "+s.Runtime.Version+": "+e.Value, src(pid, e.Source)))
	}
	f.Why = "CPython lets one thread at a time run Python code (the global interpreter lock): CPU-bound Python threads add switching, not speed."
	f.Try = append(f.Try,
		"Use processes for CPU-bound Python work (multiprocessing, concurrent.futures.ProcessPoolExecutor): each has its own interpreter lock.",
		"Or move the hot loop into code that releases the lock (NumPy, a C extension), or a free-threaded CPython build (3.13t and later).",
		"Threads remain right for Python work that waits (network, disk): the lock is released while they wait.")
	return f
}

func (a *analysis) futexSource() string {
	if a.syscallRead > 0 {
		return src(a.s.PID, "task/*/syscall") + " field 1 = futex, sampled"
	}
	return src(a.s.PID, "task/*/wchan") + " futex_*, sampled"
}

// eventLoop answers "is it an event loop".
func (a *analysis) eventLoop() *Finding {
	s := a.s
	pid := s.PID
	if s.FDs == nil || s.FDs.EventPoll == 0 || s.Runtime.Kind == collector.RuntimeGo || len(a.threads) == 0 {
		return nil
	}
	var loop *threadDelta
	for i := range a.threads {
		t := &a.threads[i]
		if t.pollSamples > 0 && (loop == nil || t.pollSamples > loop.pollSamples || t.pollSamples == loop.pollSamples && t.tid == pid) {
			loop = t
		}
	}
	if loop == nil || loop.samples == 0 {
		return nil
	}
	// The share of the loop thread's waits spent in epoll: of its
	// samples off a CPU (not R). On a loaded machine a loop thread is
	// runnable, waiting for a CPU, in many samples; what it waits in when
	// it does wait is what makes it an event loop.
	waiting := loop.samples - loop.states['R']
	if waiting <= 0 {
		waiting = loop.samples // runnable in every sample: its samples in epoll_wait itself
	}
	pollShare := min(float64(loop.pollSamples)/float64(waiting), 1)
	if pollShare < 0.5 {
		return nil
	}
	busy := float64(loop.runNs) / 1e9 / a.burstSecs
	f := &Finding{ID: "event_loop", Question: QEventLoop, Severity: Info, Score: busy, Lesson: lessonEventLoop}
	who := "its main thread"
	if loop.tid != pid {
		who = fmt.Sprintf("thread %d", loop.tid)
	}
	if busy >= loopSaturated {
		f.ID = "event_loop_saturated"
		f.Severity = Warning
		f.Verdict = fmt.Sprintf("A saturated event loop: %s runs %s of one CPU and is seldom in epoll; every handler now waits behind the others.", who, pct(busy))
		f.Why = "One loop thread can use one CPU at most; at that point latency grows with every extra event."
		f.Try = append(f.Try, "Run one loop per CPU (several processes sharing the port with SO_REUSEPORT, or a worker pool), and move CPU-heavy handlers off the loop (run_in_executor, worker threads).")
	} else {
		f.Verdict = fmt.Sprintf("An event loop: %s waits for events in epoll (%s of its waits) on %s and used %s of a CPU.",
			who, pct(pollShare), plural(s.FDs.EventPoll, "epoll instance", "epoll instances"), pct(busy))
		f.Why = "One thread serves every connection by waiting for whichever is ready; it scales with events, not threads, as long as no handler blocks or computes for long."
		f.Try = append(f.Try, "Keep handlers short and non-blocking; when the loop's thread nears one CPU, add loops (processes) rather than threads.")
	}
	f.Evidence = append(f.Evidence,
		ev("eventpoll_fds", float64(s.FDs.EventPoll), "count", plural(s.FDs.EventPoll, "epoll descriptor", "epoll descriptors")+" (anon_inode:[eventpoll])", src(pid, "fd/*")+" link targets"),
		ev("loop_poll_share", pollShare, "ratio", pct(pollShare)+" of the loop thread's samples off a CPU in epoll_wait / ep_poll", a.waitSource()+" and "+statesSource(pid)),
		ev("loop_cpu_share", busy, "ratio", pct(busy)+" of one CPU used by the loop thread", a.schedSource()),
		ev("threads", float64(a.threadsLast), "threads", plural(a.threadsLast, "thread", "threads")+" in the process", src(pid, "stat")+" field 20"))
	if s.Runtime.Kind == collector.RuntimeNode {
		f.Try = append(f.Try, "Node.js: file-system and DNS work runs on libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default), not on the loop.")
	}
	return f
}

// switchCost answers "what does switching cost", with what /proc can
// measure and what it cannot.
func (a *analysis) switchCost() *Finding {
	s := a.s
	pid := s.PID
	if !a.hasCtx || !a.hasCPU {
		return nil
	}
	rate := a.volPS + a.invPS
	if rate < switchRateMin {
		return nil
	}
	switches := rate * a.secs
	perSwitch := time.Duration(a.sysSecs / switches * 1e9)
	f := &Finding{ID: "switch_cost", Question: QSwitchCost, Severity: Info, Score: rate, Lesson: lessonSwitch}
	costText := "its system CPU came to " + dur(perSwitch) + " per switch at most"
	perText := dur(perSwitch) + " of system CPU per switch (all its kernel time divided by its switches: an upper bound)"
	if a.sysSecs == 0 {
		// stime counts in clock ticks: none over the window is less
		// than one tick, not nothing.
		perSwitch = time.Duration(float64(time.Second/collector.ClockTicks) / switches)
		costText = "its system CPU stayed under one clock tick, under " + dur(perSwitch) + " per switch"
		perText = "under " + dur(perSwitch) + " of system CPU per switch (stime did not move a tick: 10 ms over the window at most)"
	}
	f.Verdict = fmt.Sprintf("It switched %s times/s (%s voluntary, %s involuntary); %s, and what the switches cost in cache and TLB refills is not visible in /proc.",
		num(rate), num(a.volPS), num(a.invPS), costText)
	f.Evidence = append(f.Evidence,
		ev("switches_per_second", rate, "per_second", num(rate)+" context switches/s", a.ctxSourceText()),
		ev("system_cpu_per_switch_us", float64(perSwitch)/1e3, "us", perText, src(pid, "stat")+" field 15 (stime)"),
		ev("system_cpu_seconds", a.sysSecs, "seconds", f2(a.sysSecs)+" s of system CPU over "+f1(a.secs)+" s", src(pid, "stat")+" field 15"))
	f.Why = "A switch costs the kernel's bookkeeping (counted in system CPU) and then the refill of caches and TLB entries the next thread finds cold (not counted anywhere in /proc)."
	f.Try = append(f.Try, "Measure the refill cost with hardware counters: perf stat -e context-switches,cache-misses,dTLB-load-misses -p "+fmt.Sprint(pid)+".",
		"Fewer switches: batch work per wake-up, avoid more runnable threads than CPUs, avoid lock hand-offs between threads.")
	f.Unmeasured = append(f.Unmeasured, Unmeasured{What: "cache and TLB refill after a switch", Why: "/proc has no counter for it; it needs CPU performance counters (perf)"})
	return f
}

// waits answers "what does it wait on, and how much I/O does it do".
func (a *analysis) waits() *Finding {
	s := a.s
	pid := s.PID
	if a.wchanSamples+a.syscallSamples == 0 && !a.hasIO {
		return nil
	}
	f := &Finding{ID: "waits", Question: QWaits, Severity: Info}
	var parts []string
	if a.syscallSamples > 0 {
		for i, c := range top(a.syscalls) {
			if i == 3 {
				break
			}
			name := SyscallName(s.Machine.Arch, c.key)
			parts = append(parts, fmt.Sprintf("%s %s", name, pct(float64(c.n)/float64(a.syscallSamples))))
			f.Evidence = append(f.Evidence, ev("syscall_"+strings.ReplaceAll(name, " ", "_")+"_share", float64(c.n)/float64(a.syscallSamples), "ratio",
				fmt.Sprintf("%s in %s of thread samples inside a system call", name, pct(float64(c.n)/float64(a.syscallSamples))), src(pid, "task/*/syscall")+" field 1, sampled"))
		}
	}
	if a.wchanSamples > 0 {
		var ws []string
		for i, c := range top(a.wchan) {
			if i == 3 {
				break
			}
			ws = append(ws, fmt.Sprintf("%s %s", c.key, pct(float64(c.n)/float64(a.wchanSamples))))
			f.Evidence = append(f.Evidence, ev("wchan_"+c.key+"_share", float64(c.n)/float64(a.wchanSamples), "ratio",
				fmt.Sprintf("%s in %s of sleeping thread samples", c.key, pct(float64(c.n)/float64(a.wchanSamples))), src(pid, "task/*/wchan")+", sampled"))
		}
		if len(parts) == 0 {
			parts = ws
		} else {
			parts = append(parts, "in the kernel: "+strings.Join(ws, ", "))
		}
	}
	asleep := float64(a.states['S']+a.states['D']+a.states['I']) / float64(max(a.threadSamples, 1))
	stopped := a.stoppedShare()
	f.Verdict = "Its threads were asleep (S, D or I) in " + pct(asleep) + " of samples"
	if a.threadSamples == 0 {
		// No thread's state was read (Gaps names why): no share of
		// them was asleep or awake (tester12 B5: "0% asleep" beside
		// "100% asleep").
		f.Verdict = "Its threads' states were not read"
	}
	if stopped > 0 {
		f.Verdict += " and stopped (T or t) in " + pct(stopped)
	}
	if len(parts) > 0 {
		if stopped >= asleep {
			// A stopped thread waits for nothing: the call it was in when
			// it stopped resumes after SIGCONT.
			f.Verdict += ", stopped inside " + strings.Join(parts, ", ")
		} else {
			f.Verdict += ", waiting in " + strings.Join(parts, ", ")
		}
	}
	var lead []Evidence
	if a.threadSamples > 0 {
		lead = append(lead, ev("asleep_share", asleep, "ratio", pct(asleep)+" of thread samples in S, D or I", statesSource(pid)))
	}
	if stopped > 0 {
		lead = append(lead, ev("stopped_share", stopped, "ratio", pct(stopped)+" of thread samples stopped (T or t)", statesSource(pid)))
	}
	f.Evidence = append(lead, f.Evidence...)
	if a.hasIO {
		f.Verdict += fmt.Sprintf("; I/O %s/s read and %s/s written through system calls, %s/s and %s/s of it from and to storage.",
			mib(a.rcharPS), mib(a.wcharPS), mib(a.readBPS), mib(a.writeBPS))
		f.Evidence = append(f.Evidence,
			ev("read_chars_per_second", a.rcharPS, "bytes_per_second", mib(a.rcharPS)+"/s read (rchar: files, pipes, sockets, cache)", src(pid, "io")+" rchar"),
			ev("write_chars_per_second", a.wcharPS, "bytes_per_second", mib(a.wcharPS)+"/s written (wchar)", src(pid, "io")+" wchar"))
		a.ioEvidence(f)
	} else {
		f.Verdict += "."
	}
	a.blkioEvidence(f)
	a.swapinEvidence(f, false)
	f.Why = "What a thread sleeps in names the resource it waits for: a timer, a lock (futex), a socket or the disk."
	f.Lesson = lessonWaits
	return f
}
