package explain

import (
	"cmp"
	"slices"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// analysis holds the numbers derived once from a Sample that the findings
// share.
type analysis struct {
	s *Sample
	// secs is the window between First and Last; burstSecs the span of
	// the burst (first tick to last).
	secs, burstSecs float64
	// cpus is the machine's CPU count; quotaCPUs the cgroup limit in CPUs
	// (0 when none); effCPUs the smaller of the two (what the process can
	// get at most).
	cpus, quotaCPUs, effCPUs float64

	// CPU used over the window from stat (ticks), in CPUs; hasCPU false
	// when the process was not read at both ends.
	hasCPU       bool
	cpuUsed      float64
	sysSecs      float64
	threadsFirst int
	threadsLast  int

	// From schedstat over the burst: per thread deltas, and their sums in
	// thread-seconds.
	hasSched bool
	threads  []threadDelta
	runSecs  float64
	waitSecs float64
	// pendingSecs is run-queue wait not yet in schedstat: the threads
	// were seen runnable longer than schedstat has counted (pendingWait).
	pendingSecs   float64
	slices        uint64
	demand        float64 // (run+wait)/burstSecs: own threads wanting a CPU, on average
	waitShare     float64 // wait/(run+wait)
	waitPerSlice  time.Duration
	runPerSlice   time.Duration
	busyThreads   int // threads that wanted a CPU >= busyShare of the burst
	hardBusy      int // threads that wanted a CPU >= hardBusyShare of the burst
	activeThreads int // threads that ran >= activeShare of the burst

	// Thread states over the burst ticks.
	ticks         int
	threadSamples int
	states        map[byte]int // thread-samples by state
	avgR, avgD    float64
	maxR, maxD    int
	maxAwake      int // the most threads R or D in one tick
	leaderStates  map[byte]int
	dThreads      map[int]bool // threads seen in D
	// dKinds counts the thread samples in D by what they wait in (their
	// system call's kind, else their wait channel's); dKnown is the
	// samples in D whose wait is known at all.
	dKinds map[waitKind]int
	dKnown int
	// deadLeaderSamples counts the samples of a main thread that had
	// exited while other threads ran (state Z): left out of the states.
	deadLeaderSamples int

	// What sleeping threads wait in: wchan by function and kind over
	// thread-samples in S or D; syscalls by number over thread-samples
	// in a system call.
	wchan          map[string]int
	wchanKinds     map[waitKind]int
	wchanSamples   int
	syscalls       map[int]int
	syscallKinds   map[waitKind]int
	syscallSamples int
	syscallRead    int // thread-samples whose syscall file was read
	// syncSamples are the thread samples inside a sync call (fsync,
	// fdatasync, ...: syncCalls) in any state, syncD and syncR those of
	// them in D and R, syncThreads the distinct threads seen in one,
	// syncNames the calls.
	syncSamples, syncD, syncR int
	syncThreads               map[int]bool
	syncNames                 map[string]int
	futexAddrs                map[uint64]int

	// The machine's runnable tasks (loadavg) over the ticks, less the
	// reader itself, and the share of it that is not this process.
	hasRunnable     bool
	hostRunnable    float64
	othersRunnable  float64
	hostBusy        float64 // busy CPUs over the window (/proc/stat)
	hasHostBusy     bool
	psiCPU          *float64 // percent of the window, "some" line
	psiIO, psiIOFul *float64
	psiMem          *float64
	// cgroup throttling over the window.
	hasThrottle      bool
	periods          uint64
	throttledPeriods uint64
	throttledSecs    float64

	// Context switches per second (whole process) and their source.
	hasCtx       bool
	volPS, invPS float64
	ctxSource    collector.CtxSource
	minfltPS     float64
	hasIO        bool
	// hasDelays: taskstats delay totals at both ends; blkio and swap-in
	// delay in seconds per second of the window (summed over threads, so
	// it can exceed 1), and the number of waits in the window.
	hasDelays                 bool
	blkioDelayPS, swapDelayPS float64
	blkioWaits, swapWaits     uint64
	// delaysUntracked: taskstats answered, but the kernel keeps no delay
	// record for the process (created before delay accounting was on).
	delaysUntracked   bool
	readBPS, writeBPS float64
	rcharPS, wcharPS  float64
	syscPS            float64

	// Children born in the window that a reading saw (a lower bound) per
	// second, and the machine's forks per second (/proc/stat processes).
	hasBirths       bool
	birthsPS        float64
	hasMachineForks bool
	machineForksPS  float64
}

// threadDelta is one thread's scheduler accounting over the burst.
type threadDelta struct {
	tid          int
	comm         string
	runNs        uint64
	waitNs       uint64
	slices       uint64
	has          bool
	samples      int          // burst ticks the thread was seen in
	states       map[byte]int // its states over the ticks
	syscalls     map[int]int  // its system calls over the ticks
	syscallReads int
	// pollSamples and futexSamples count the ticks it waited in an
	// event-poll or futex call (by syscall, or by wchan when the syscall
	// file was unreadable).
	pollSamples, futexSamples int
	// pendingNs is its wait not yet counted by schedstat.
	pendingNs uint64
	// vol and invol are its voluntary and involuntary switches between
	// First and Last; hasCtx false when either reading lacks them.
	vol, invol uint64
	hasCtx     bool
}

// blocks reports whether the thread gives up the CPU by itself (it waits
// for something: a timer, I/O, a lock) more often than it is preempted.
// A thread that only computes is never switched out voluntarily. This
// tells a computing thread from one that wakes often and then waits for a
// CPU on a loaded machine: both are runnable much of the time.
func (d *threadDelta) blocks() bool {
	return d.hasCtx && d.vol+d.invol >= 2 && d.vol > d.invol
}

// Thresholds shared by the findings.
const (
	// busyShare: a thread that wanted a CPU (ran or waited for one) at
	// least this share of the burst counts as busy.
	busyShare = 0.5
	// activeShare: a thread that ran at least this share counts as
	// active.
	activeShare = 0.05
	// hardBusyShare: a thread that wanted a CPU at least this share of the
	// burst computes nearly all the time: it would want a CPU on an idle
	// machine too. Threads that sleep between bursts of work (a lock, a
	// timer) stay below it however long neighbours make them wait.
	hardBusyShare = 0.8
)

func analyse(s *Sample) *analysis {
	a := &analysis{s: s, cpus: float64(s.Machine.CPUs)}
	a.secs = (s.Last.At - s.First.At).Seconds()
	if len(s.Burst) >= 2 {
		a.burstSecs = (s.Burst[len(s.Burst)-1].At - s.Burst[0].At).Seconds()
	}
	a.effCPUs = a.cpus
	if c := s.Last.Cgroup; c != nil && c.Limited() {
		a.quotaCPUs = c.LimitCPUs()
		if a.effCPUs == 0 || a.quotaCPUs < a.effCPUs {
			a.effCPUs = a.quotaCPUs
		}
	}
	a.cpuAndSwitches()
	a.sched()
	a.countStates()
	a.pendingWait()
	a.host()
	a.births()
	return a
}

// births derives the fork rates: the children seen born in the window,
// and the machine's forks.
func (a *analysis) births() {
	if a.secs <= 0 {
		return
	}
	if b := a.s.Births; b != nil {
		a.hasBirths, a.birthsPS = true, float64(b.Seen)/a.secs
	}
	f0, f1 := a.s.First.Host.ProcessesCreated, a.s.Last.Host.ProcessesCreated
	if f0 > 0 && f1 >= f0 {
		a.hasMachineForks, a.machineForksPS = true, float64(f1-f0)/a.secs
	}
}

// cpuAndSwitches derives CPU, switch, fault and I/O rates from First and
// Last.
func (a *analysis) cpuAndSwitches() {
	p0, p1 := a.s.First.Process, a.s.Last.Process
	if p0 != nil {
		a.threadsFirst = int(p0.NumThreads)
	}
	if p1 != nil {
		a.threadsLast = int(p1.NumThreads)
	}
	if p0 == nil || p1 == nil || a.secs <= 0 || p0.StartTicks != p1.StartTicks {
		return
	}
	if p0.Read&p1.Read&collector.SrcStat != 0 {
		a.hasCPU = true
		a.cpuUsed = float64(sub(p1.CPUTicks(), p0.CPUTicks())) / collector.ClockTicks / a.secs
		a.sysSecs = float64(sub(p1.STimeTicks, p0.STimeTicks)) / collector.ClockTicks
		a.minfltPS = float64(sub(p1.MinFlt, p0.MinFlt)) / a.secs
	}
	if p0.Read&p1.Read&collector.SrcStatus != 0 && p0.CtxSource == p1.CtxSource && p1.CtxSource != collector.CtxLeaderOnly {
		a.hasCtx = true
		a.ctxSource = p1.CtxSource
		a.volPS = float64(sub(p1.VolCtx, p0.VolCtx)) / a.secs
		a.invPS = float64(sub(p1.InvolCtx, p0.InvolCtx)) / a.secs
	}
	d0, d1 := a.s.First.Delays, a.s.Last.Delays
	a.delaysUntracked = delaysUntracked(a.s)
	if d0 != nil && d1 != nil && a.s.Machine.DelayAcct == "on" && !a.delaysUntracked {
		a.hasDelays = true
		a.blkioDelayPS = float64(sub(d1.BlkioDelayNs, d0.BlkioDelayNs)) / 1e9 / a.secs
		a.swapDelayPS = float64(sub(d1.SwapinDelayNs, d0.SwapinDelayNs)) / 1e9 / a.secs
		a.blkioWaits = sub(d1.BlkioCount, d0.BlkioCount)
		a.swapWaits = sub(d1.SwapinCount, d0.SwapinCount)
	}
	if i0, i1 := a.s.First.IO, a.s.Last.IO; i0 != nil && i1 != nil {
		a.hasIO = true
		a.readBPS = float64(sub(i1.ReadBytes, i0.ReadBytes)) / a.secs
		a.writeBPS = float64(sub(i1.WriteBytes, i0.WriteBytes)) / a.secs
		a.rcharPS = float64(sub(i1.RChar, i0.RChar)) / a.secs
		a.wcharPS = float64(sub(i1.WChar, i0.WChar)) / a.secs
		a.syscPS = float64(sub(i1.SyscR, i0.SyscR)+sub(i1.SyscW, i0.SyscW)) / a.secs
	}
}

// sched derives run-queue wait from the schedstat of the first and last
// burst ticks, per thread present in both.
func (a *analysis) sched() {
	if len(a.s.Burst) < 2 || a.burstSecs <= 0 {
		return
	}
	first, last := &a.s.Burst[0], &a.s.Burst[len(a.s.Burst)-1]
	if first.StartTicks != last.StartTicks {
		return
	}
	old := make(map[int]*collector.TaskSample, len(first.Tasks))
	for i := range first.Tasks {
		old[first.Tasks[i].TID] = &first.Tasks[i]
	}
	for i := range last.Tasks {
		t1 := &last.Tasks[i]
		t0 := old[t1.TID]
		if t0 == nil || t0.StartTicks != t1.StartTicks || !t0.HasSched || !t1.HasSched {
			continue
		}
		d := threadDelta{
			tid: t1.TID, comm: t1.Comm, has: true,
			runNs:  sub(t1.Sched.RunNs, t0.Sched.RunNs),
			waitNs: sub(t1.Sched.WaitNs, t0.Sched.WaitNs),
			slices: sub(t1.Sched.Slices, t0.Sched.Slices),
		}
		a.threads = append(a.threads, d)
		a.runSecs += float64(d.runNs) / 1e9
		a.waitSecs += float64(d.waitNs) / 1e9
		a.slices += d.slices
		if float64(d.runNs)/1e9 >= activeShare*a.burstSecs {
			a.activeThreads++
		}
	}
	a.hasSched = len(a.threads) > 0
}

// pendingWait completes the schedstat numbers with what they have not
// counted yet, and counts the busy threads. The kernel adds a wait to a
// thread's run_delay when the wait ends (the thread gets a CPU): a thread
// runnable the whole window on a starved machine shows no wait at all.
// The sampled states do not lag: a thread seen R in a share of the
// samples was runnable about that share of the time. Each thread's
// runnable time is the larger of the two, and the difference is wait
// still pending.
func (a *analysis) pendingWait() {
	if !a.hasSched {
		return
	}
	T := a.burstSecs
	a.threadSwitches()
	for i := range a.threads {
		d := &a.threads[i]
		want := float64(d.runNs+d.waitNs) / 1e9
		if d.samples > 0 {
			if seen := float64(d.states['R']) / float64(d.samples) * T; seen > want {
				d.pendingNs = uint64((seen - want) * 1e9)
				a.pendingSecs += seen - want
				want = seen
			}
		}
		if want >= busyShare*T && !d.blocks() {
			a.busyThreads++
			if want >= hardBusyShare*T {
				a.hardBusy++
			}
		}
	}
	waited := a.waitSecs + a.pendingSecs
	a.demand = (a.runSecs + waited) / T
	if t := a.runSecs + waited; t > 0 {
		a.waitShare = waited / t
	}
	if a.slices > 0 {
		a.waitPerSlice = time.Duration(a.waitSecs * 1e9 / float64(a.slices))
		a.runPerSlice = time.Duration(a.runSecs * 1e9 / float64(a.slices))
	}
}

// threadSwitches fills each thread's context switches between First and
// Last (status or taskstats per thread, or the task iterator).
func (a *analysis) threadSwitches() {
	p0, p1 := a.s.First.Process, a.s.Last.Process
	if p0 == nil || p1 == nil {
		return
	}
	old := make(map[int]*collector.Thread, len(p0.Threads))
	for i := range p0.Threads {
		old[p0.Threads[i].TID] = &p0.Threads[i]
	}
	now := make(map[int]*collector.Thread, len(p1.Threads))
	for i := range p1.Threads {
		now[p1.Threads[i].TID] = &p1.Threads[i]
	}
	for i := range a.threads {
		d := &a.threads[i]
		t0, t1 := old[d.tid], now[d.tid]
		if t0 == nil || t1 == nil || !t0.HasStatus || !t1.HasStatus || t0.StartTicks != t1.StartTicks {
			continue
		}
		d.vol, d.invol, d.hasCtx = sub(t1.VolCtx, t0.VolCtx), sub(t1.InvolCtx, t0.InvolCtx), true
	}
}

// countStates counts thread states, wait channels and system calls over the
// burst ticks.
func (a *analysis) countStates() {
	a.states = map[byte]int{}
	a.leaderStates = map[byte]int{}
	a.dThreads = map[int]bool{}
	a.dKinds = map[waitKind]int{}
	a.wchan = map[string]int{}
	a.wchanKinds = map[waitKind]int{}
	a.syscalls = map[int]int{}
	a.syncThreads, a.syncNames = map[int]bool{}, map[string]int{}
	a.syscallKinds = map[waitKind]int{}
	a.futexAddrs = map[uint64]int{}
	idx := make(map[int]int, len(a.threads))
	for i := range a.threads {
		idx[a.threads[i].tid] = i
	}
	var sumR, sumD int
	for ti := range a.s.Burst {
		t := &a.s.Burst[ti]
		if t.StartTicks != a.s.StartTicks && a.s.StartTicks != 0 || len(t.Tasks) == 0 {
			// A tick without threads read (every task/TID/stat
			// unreadable: Unavailable["task"]) is no sample of them.
			continue
		}
		a.ticks++
		a.leaderStates[t.State]++
		r, d := 0, 0
		for i := range t.Tasks {
			ts := &t.Tasks[i]
			if ts.State == 'Z' && ts.TID == a.s.PID && len(t.Tasks) > 1 {
				a.deadLeaderSamples++ // an exited main thread: neither asleep nor awake
				continue
			}
			a.threadSamples++
			a.states[ts.State]++
			var td *threadDelta
			if j, ok := idx[ts.TID]; ok {
				td = &a.threads[j]
				td.samples++
				if td.states == nil {
					td.states, td.syscalls = map[byte]int{}, map[int]int{}
				}
				td.states[ts.State]++
			}
			switch ts.State {
			case 'R':
				r++
			case 'D':
				d++
				a.dThreads[ts.TID] = true
			}
			a.countWaits(ts, td)
		}
		sumR += r
		sumD += d
		a.maxR, a.maxD = max(a.maxR, r), max(a.maxD, d)
		a.maxAwake = max(a.maxAwake, r+d)
	}
	if a.ticks > 0 {
		a.avgR = float64(sumR) / float64(a.ticks)
		a.avgD = float64(sumD) / float64(a.ticks)
	}
}

// countWaits counts what one thread sample waits in: its wait channel
// (asleep), its system call, and for its thread the poll and futex
// countSync counts a thread sample inside the system call name when it
// is a sync call (syncCalls), by its state.
func (a *analysis) countSync(ts *collector.TaskSample, name string) {
	if !syncCalls[name] {
		return
	}
	a.syncSamples++
	a.syncThreads[ts.TID] = true
	a.syncNames[name]++
	switch ts.State {
	case 'D':
		a.syncD++
	case 'R':
		a.syncR++
	}
}

// samples.
func (a *analysis) countWaits(ts *collector.TaskSample, td *threadDelta) {
	kind := waitUnknown
	if (ts.State == 'S' || ts.State == 'D') && ts.HasWChan && ts.WChanState == collector.WChanFunc {
		a.wchan[ts.WChan]++
		kind = wchanKind(ts.WChan)
		a.wchanKinds[kind]++
		a.wchanSamples++
	}
	wkind := kind
	if ts.HasSyscall && ts.Syscall.InSyscall() {
		kind = syscallKind(SyscallName(a.s.Machine.Arch, ts.Syscall.Nr))
	}
	if ts.State == 'D' {
		// What a thread in D waits for: a storage wait channel decides
		// (a read(2) of a file waiting for the device is disk), else the
		// system call, else any wait channel.
		dk := kind
		if wkind == waitDisk || (wkind != waitUnknown && (dk == waitOther || dk == waitUnknown || dk == waitRead)) {
			dk = wkind
		}
		if dk != waitUnknown {
			a.dKinds[dk]++
			a.dKnown++
		}
	}
	if td != nil {
		switch kind {
		case waitPoll:
			td.pollSamples++
		case waitFutex:
			td.futexSamples++
		}
	}
	if ts.HasSyscall {
		a.syscallRead++
		if td != nil {
			td.syscallReads++
		}
		if ts.Syscall.InSyscall() {
			a.syscalls[ts.Syscall.Nr]++
			name := SyscallName(a.s.Machine.Arch, ts.Syscall.Nr)
			a.syscallKinds[syscallKind(name)]++
			a.syscallSamples++
			a.countSync(ts, name)
			if td != nil {
				td.syscalls[ts.Syscall.Nr]++
			}
			if syscallKind(name) == waitFutex && ts.Syscall.Args[0] != 0 {
				a.futexAddrs[ts.Syscall.Args[0]]++
			}
		}
	}
}

// host derives the machine's load over the window: runnable tasks, busy
// CPUs, pressure and cgroup throttling.
func (a *analysis) host() {
	rs := make([]int, 0, len(a.s.Burst))
	for i := range a.s.Burst {
		if r := a.s.Burst[i].Runnable; r >= 0 {
			rs = append(rs, r)
		}
	}
	if len(rs) > 0 {
		a.hasRunnable = true
		a.hostRunnable = avgRunnable(rs) // the reader is runnable while it reads: taken out
		a.othersRunnable = max(a.hostRunnable-a.avgR, 0)
	}
	h0, h1 := &a.s.First.Host, &a.s.Last.Host
	if h1.CPUTicks > h0.CPUTicks && a.cpus > 0 {
		total := float64(h1.CPUTicks - h0.CPUTicks)
		idle := float64(sub(h1.CPUIdleTicks, h0.CPUIdleTicks))
		a.hasHostBusy = true
		a.hostBusy = a.cpus * max(0, total-idle) / total
	}
	a.psiCPU = stall(h0.Pressure.CPU, h1.Pressure.CPU, a.secs, false)
	a.psiIO = stall(h0.Pressure.IO, h1.Pressure.IO, a.secs, false)
	a.psiIOFul = stall(h0.Pressure.IO, h1.Pressure.IO, a.secs, true)
	a.psiMem = stall(h0.Pressure.Memory, h1.Pressure.Memory, a.secs, false)
	c0, c1 := a.s.First.Cgroup, a.s.Last.Cgroup
	if c0 != nil && c1 != nil && c0.Stat != nil && c1.Stat != nil && c0.LimitPath == c1.LimitPath {
		a.hasThrottle = true
		a.periods = sub(c1.Stat.Periods, c0.Stat.Periods)
		a.throttledPeriods = sub(c1.Stat.Throttled, c0.Stat.Throttled)
		a.throttledSecs = float64(sub(c1.Stat.ThrottledNs, c0.Stat.ThrottledNs)) / 1e9
	}
}

// sub is b-a, or 0 when the counter went down (a thread exited, a reset).
func sub(b, a uint64) uint64 {
	if b < a {
		return 0
	}
	return b - a
}

// count is one key of a histogram with its count.
type count[K cmp.Ordered] struct {
	key K
	n   int
}

// top returns a histogram's entries, most first (ties by key).
func top[K cmp.Ordered](m map[K]int) []count[K] {
	out := make([]count[K], 0, len(m))
	for k, n := range m {
		out = append(out, count[K]{k, n})
	}
	slices.SortFunc(out, func(x, y count[K]) int {
		if c := cmp.Compare(y.n, x.n); c != 0 {
			return c
		}
		return cmp.Compare(x.key, y.key)
	})
	return out
}

// delaysUntracked: taskstats counted no block-I/O or swap-in wait in the
// process's whole life, yet the samples saw its threads in D. The kernel
// keeps delays only for tasks created while kernel.task_delayacct is on
// (seen here: a disk pool started before the sysctl was turned on reports
// 0 waits, one started after reports tens of thousands a second), so its
// threads most likely predate the switch.
func delaysUntracked(s *Sample) bool {
	d := s.Last.Delays
	if d == nil || d.BlkioCount != 0 || d.SwapinCount != 0 {
		return false
	}
	for _, tk := range s.Burst {
		for _, ts := range tk.Tasks {
			if ts.State == 'D' {
				return true
			}
		}
	}
	return false
}
