package collector

// This file is the task-iterator backend: a scan that takes every
// process's and thread's stat and status fields from one pass of the BPF
// task iterator (collector/taskiter) instead of opening their /proc files,
// and reads from /proc only what the iterator cannot give: cmdline and exe
// (through the identity memo, as the /proc scan does), and every process
// the iterator did not show (it is cross-checked against the /proc
// listing: a sandbox may hide its own init from BPF). Both backends build
// the same Snapshot (iterscan_test.go holds them equal on live processes).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/pinspect/pinspect/collector/taskiter"
	"golang.org/x/sys/unix"
)

// Backend names where a snapshot's per-process and per-thread fields come
// from.
type Backend string

// The backends. Options.Backend chooses; Snapshot.Collector says which
// one built a snapshot.
const (
	// BackendAuto (the zero value): the task iterator when pinspect may
	// load BPF on this machine's own /proc, /proc otherwise.
	BackendAuto Backend = ""
	// BackendProc reads every process's files under the /proc root.
	BackendProc Backend = "proc"
	// BackendTaskIter reads one pass of the BPF task iterator, and /proc
	// for cmdline, exe and what the iterator does not show.
	BackendTaskIter Backend = "task_iter"
)

// CtxTaskIter: the kernel's own per-process totals (the signal struct's
// counts of exited threads) plus every live thread's, read by the task
// iterator: exact, exited threads included, on every kernel.
const CtxTaskIter CtxSource = "task_iter"

// openTaskIter loads the task iterator for a Reader of root when opts
// allow it. It returns the iterator, or why the /proc backend is used
// (nil reason for a root that is not this machine's /proc in auto mode:
// a fixture tree needs no explanation). err is set only when the
// iterator was required (BackendTaskIter) and cannot be had.
func openTaskIter(opts Options) (it *taskiter.Iterator, why, err error) {
	if opts.Backend == BackendProc {
		return nil, nil, nil
	}
	if opts.Backend != BackendAuto && opts.Backend != BackendTaskIter {
		return nil, nil, fmt.Errorf("unknown collector backend %q (want %q or %q)", opts.Backend, BackendProc, BackendTaskIter)
	}
	if !ownProc(opts.Root) {
		why = errors.New("the BPF task iterator reads this machine's tasks, not " + opts.Root)
		if opts.Backend == BackendTaskIter {
			return nil, why, why
		}
		return nil, nil, nil
	}
	it, why = taskiter.Open(taskiter.Options{UsePin: opts.BPFPinned, Cmdlines: opts.BPFCmdlines, CmdlinesFrom: bpfCmdlinesFrom, Idents: opts.BPFIdentities, RawRuns: opts.BPFRawRuns})
	if why != nil && opts.Backend == BackendTaskIter {
		return nil, why, why
	}
	return it, why, nil
}

// ownProc reports whether root is the procfs of this process's own pid
// namespace (the one the task iterator walks).
func ownProc(root string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		return false
	}
	self, err := os.Readlink(root + "/self")
	return err == nil && self == strconv.Itoa(os.Getpid())
}

// iterProc is what a pass keeps beside a process besides the Process:
// its totals so far (its exited threads', then each live thread added),
// the times /proc last reported for it, and whether to keep its threads.
type iterProc struct {
	tot                taskiter.Totals
	prevUNs, prevSNs   uint64
	threads, schedInfo bool
}

// pendingThread is a thread seen before its leader (a pid that wrapped
// around): it is added once the pass is over.
type pendingThread struct {
	tgid int
	t    taskiter.Task
}

// runIter reads every process and thread from one pass of the task
// iterator into a new Snapshot. A pass that fails part-way makes the
// snapshot from /proc instead, and says why.
func (s *scan) runIter(ctx context.Context, o ScanOptions) (*Snapshot, error) {
	r := s.r
	snap, all, want := s.begin(o, BackendTaskIter)
	if r.iter.WalkUnavailable != nil {
		snap.CollectorNote = r.iter.WalkUnavailable.Error()
	}
	snap.CollectorPinned = r.iter.Pinned()
	// The walk knows how many processes there are: sized once, the
	// slice is not grown by copying (at 10,000 processes it is 8.5 MB).
	// The seq_file iterator does not: the last pass's count stands in.
	// (Not a capacity: sizing from the last slice's capacity added a
	// thirty-second to every scan, and a dashboard's snapshot grew to
	// twenty times its processes within two minutes.)
	nproc := max(s.iterLastProcs, r.iter.Processes())
	arr, procs := s.iterProcessArray(nproc + nproc/32 + 16)
	defer func() { s.iterFront = nil }()
	// An empty memo gets each process's entry added without a lookup
	// (the pass names a process once).
	s.memoAdds = s.memo.empty()
	s.arenaInts, s.arenaBytes = nil, nil // each first scan's own (firstInts)
	s.memo.reserve(nproc + nproc/32 + 16)
	side := s.iterSide[:0]
	pending := s.iterPending[:0]
	pids := s.iterPIDs[:0]
	entries := s.iterEntries[:0]
	if cap(entries) < cap(procs) {
		entries = make([]passEntry, 0, cap(procs))
		prefault(entries)
	}
	if cap(side) < cap(procs) {
		side = make([]iterProc, 0, cap(procs))
		prefault(side)
	}
	if cap(pids) < cap(procs) {
		pids = make([]int, 0, cap(procs))
		prefault(pids)
	}
	boot := r.host.bootTime
	s.resetExes(cap(procs))
	// find is the index of process tgid: most threads come right after
	// their leader (the kernel walks tasks in pid order).
	find := func(tgid int) (int, bool) {
		if n := len(pids); n > 0 && pids[n-1] == tgid {
			return n - 1, true
		}
		return slices.BinarySearch(pids, tgid)
	}
	// Processes whose threads are not kept have them summed in the
	// kernel where the walk can (one record a process instead of one a
	// thread).
	s.skipDisp = r.skipsDispositions(o)
	po := taskiter.PassOptions{SumThreads: !all, ThreadsOf: want, NoIO: !o.IO, NoSighand: s.skipDisp, CgroupID: o.Cgroups}
	// The threads by state: those summed in the kernel from its counts,
	// the others not kept as they pass, the kept ones at the end.
	states := &ThreadStates{}
	s.iterStates = states
	// Until /proc was listed or the count proven (a Reader's first scan,
	// a one-shot's only one), the kernel's counts of tasks and forks
	// right before the pass reads the tasks (after the walk's arrays are
	// made, which on a first pass waits for RCU grace periods): equal
	// after it, they prove that no task was born or reaped meanwhile
	// (readIterHidden). A later scan does not use them.
	var before taskCounts
	win := &s.iterWindow
	win.read = false
	if !s.iterListedOnce {
		po.BeforeRun = func() { before = readTaskCounts(r.opts.Root, &s.buf) }
		// And right after the walk's run, before the decoding: the same
		// proof over a window without it (hiddenWindow).
		po.AfterRun = func(missing []int) { s.readHiddenWindow(win, missing) }
	}
	st, err := r.iter.PassWith(po, func(t *taskiter.Task) error {
		if t.Group != nil {
			th := all
			if want != nil {
				_, th = slices.BinarySearch(want, t.TID)
			}
			procs = append(procs, Process{})
			pids = append(pids, t.TID)
			p := &procs[len(procs)-1]
			side = append(side, iterProc{
				tot: t.Group.Totals(), prevUNs: t.Group.PrevUTimeNs, prevSNs: t.Group.PrevSTimeNs,
				threads: th, schedInfo: t.HasSchedInfo,
			})
			c := s.applyIterProcess(p, t, boot)
			entries = append(entries, passEntry{pid: p.PID, c: c})
			if o.IO && t.Group.HasIO {
				// The walk's sums of /proc/PID/io: readIOs decides
				// whether they stand for the file.
				p.IO, p.Read = walkIO(&t.Group.IO), p.Read|SrcIO
			}
			s.noteExe(t.TID, t.Group)
			c.noteCgroupID(t.Group, s.memo)
			if th {
				p.Threads = s.threadSlots(max(t.Group.NumThreads, 1))
				p.Read |= SrcTasks
			}
			s.addIterThread(p, &side[len(side)-1], t)
			side[len(side)-1].tot.AddTotals(t.Group.ThreadSums)
			for k, n := range t.Group.ThreadSumStates {
				if n > 0 {
					states.AddN(taskiter.StateLetters[k], n)
				}
			}
			return nil
		}
		i, ok := find(t.TGID)
		if !ok {
			pending = append(pending, pendingThread{tgid: t.TGID, t: *t})
			return nil
		}
		s.addIterThread(&procs[i], &side[i], t)
		return nil
	})
	s.iterPIDs, s.iterLastProcs, s.iterEntries = pids[:0], len(pids), entries
	// The entries are not kept past the scan, however it ends (the memo
	// may drop them, and they hold cmdlines).
	defer func() {
		clear(s.iterEntries)
		s.iterEntries = s.iterEntries[:0]
	}()
	if err != nil {
		// A broken pass (ErrLayout, a read error): this snapshot from
		// /proc, saying why.
		s.iterSide, s.iterPending, s.iterHiddenValid, s.iterListedOnce = side[:0], pending[:0], false, false
		snap, perr := s.run(ctx, o)
		if perr == nil {
			snap.CollectorNote = "task iterator pass failed, read from /proc: " + err.Error()
		}
		return snap, perr
	}
	for k := range pending {
		pt := &pending[k]
		pt.t.Group = nil
		i, ok := find(pt.tgid)
		if !ok {
			s.counts.VanishedThreads++ // its process exited during the pass
			continue
		}
		s.addIterThread(&procs[i], &side[i], &pt.t)
	}
	for i := range procs {
		s.finishIterProcess(&procs[i], &side[i])
	}
	s.iterSide, s.iterPending = side[:0], pending[:0]
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var hiddenThreads bool
	s.iterStatesOnly, hiddenThreads = s.hiddenStates(o)
	procs, err = s.readIterHidden(procs, st.Tasks, before, win, all || hiddenThreads, want)
	if err != nil {
		return nil, err
	}
	procs = s.readIterIdentities(procs)
	s.readDispositions(procs)
	snap.CmdlinesBPF = s.bpfCmd.read
	if note := s.programsNote(); note != "" {
		snap.CollectorNote = joinNote(snap.CollectorNote, note)
	}
	s.readExtras(procs, o)
	snap.ThreadStates = countKeptStates(states, procs, s.iterHidden, s.iterStated)
	snap.CtxSwitchSource = CtxTaskIter
	r.recycleWhenFree(arr, procs)
	return s.finish(snap, procs), nil
}

// countKeptStates completes a pass's count of threads by state (those
// summed or passed over, in c) with the threads kept in procs and the
// processes read from /proc (hidden: their pids): one read without its
// threads counts its one thread in its own state, the threads of a larger
// one as unknown.
func countKeptStates(c *ThreadStates, procs []Process, hidden, stated []int) *ThreadStates {
	for i := range procs {
		if p := &procs[i]; p.Read&SrcTasks != 0 {
			for j := range p.Threads {
				c.Add(p.Threads[j].State)
			}
		}
	}
	for _, pid := range hidden {
		i, ok := SearchPID(procs, pid)
		if !ok || procs[i].Read&SrcTasks != 0 || slices.Contains(stated, pid) {
			continue // counted in the pass's count (countHiddenStates)
		}
		if p := &procs[i]; p.NumThreads <= 1 {
			c.Add(p.State)
		} else {
			c.Unknown += int(p.NumThreads)
		}
	}
	return c
}

// walkIO is the walk's io counters as /proc/PID/io's.
func walkIO(c *taskiter.IOCounters) IOCounters {
	return IOCounters{
		RChar: c.RChar, WChar: c.WChar, SyscR: c.SyscR, SyscW: c.SyscW,
		ReadBytes: c.ReadBytes, WriteBytes: c.WriteBytes, CancelledWriteBytes: c.CancelledWB,
	}
}

// applyIterProcess fills a process's stat and status fields from its
// leader's records, as fs/proc/array.c computes them; the totals over its
// threads are set by finishIterProcess. It returns the process's identity
// memo entry (nil without a memo).
func (s *scan) applyIterProcess(p *Process, t *taskiter.Task, boot time.Time) *procCache {
	g := t.Group
	pageSz := s.r.pageSz
	p.PID = t.TID
	p.StartTicks = t.StartTicks()
	p.StartedAt, _ = StartTime(boot, p.StartTicks)
	var c *procCache
	if s.memoAdds {
		c = s.memo.add(p.PID, p.StartTicks)
	} else {
		c = s.memo.entry(p.PID, p.StartTicks)
	}
	name, ok := t.Name(s.rel[:0])
	s.rel = name
	if c != nil && c.comm == string(name) {
		p.Comm = c.comm
	} else {
		p.Comm = s.firstComm(name)
	}
	if !ok {
		// A kernel thread whose /proc name the iterator could not find
		// (an older kernel): take the name from its stat.
		if st, err := readStat(atFDCWD, s.path.set(p.PID, 0, "stat"), &s.buf); err == nil {
			p.Comm = s.memo.comm(st.comm)
		}
	}
	p.State = t.StateLetter()
	if t.HasParent {
		p.PPID = t.PPID
	}
	p.PGID, p.SID = g.PGID, g.SID
	p.TTY = g.TTYNr()
	p.Flags = uint64(t.Flags)
	p.Priority, p.Nice = t.Priority(), t.Nice()
	p.NumThreads = int64(g.NumThreads)
	p.Processor = int64(t.CPU)
	p.RTPriority, p.Policy = uint64(t.RTPriority), uint64(t.Policy)
	if t.HasDelays {
		p.DelayTicks = taskiter.NsToTicks(t.BlkioDelayNs)
	}
	p.ExitCode = exitStatus(p.State, int64(g.ExitCode(t)))
	p.Layout.HasExtended = true
	if p.LeaderExited() {
		// The leader has no mm any more; its threads share one, read
		// through a live thread's /proc files (as a /proc scan does):
		// cmdline and exe by readIterIdentities, memory here.
		p.Read |= SrcStat
		s.applyIterStatus(p, t, c)
		p.LiveTID = s.liveThread(p)
		s.liveThreadMemory(p)
		s.applyAccess(p)
		return c
	}
	if !g.HasMM {
		// A kernel thread or a zombie: /proc shows an empty cmdline and
		// no exe, so neither file is opened.
		p.Read |= SrcCmdline
		if c != nil {
			c.comm, c.cmdline, c.noNUL, c.trunc, c.cmdOK = p.Comm, nil, false, false, true
			c.exe, c.exeDel, c.exeOK = "", false, true
			c.due, c.args = s.identityDue(p, c.due == 0, time.Since(s.r.start)), argsKeyOf(p)
		}
	} else {
		p.VSizeBytes = mulSat(g.TotalVMPages, pageSz)
		s.iterRSS(p, g)
		p.Layout = Layout{
			StartCode: g.StartCode, EndCode: g.EndCode, StartStack: g.StartStack,
			StartData: g.StartData, EndData: g.EndData, StartBrk: g.StartBrk,
			ArgStart: g.ArgStart, ArgEnd: g.ArgEnd, EnvStart: g.EnvStart, EnvEnd: g.EnvEnd,
			HasExtended: true,
		}
		p.VmPeakB = mulSat(g.PeakVMPages(), pageSz)
		p.VmSwapB = mulSat(g.SwapPages(), pageSz)
		p.HasVM = true
		// SharedBytes comes from statm with the RSS (iterRSS): the
		// record's mm counters lag their per-CPU parts.
	}
	p.Read |= SrcStat
	s.applyIterStatus(p, t, c)
	s.applyAccess(p)
	return c
}

// iterRSS sets the resident set of a process with an address space.
// The record's exact sums (the BPF program adds every CPU's part of each
// counter, as percpu_counter_sum does) are the resident set status and
// statm show. Without them (a kernel before 6.2, or the per-CPU offsets
// not found) the record has only the counters' central values, the
// unsummed figure of stat's field 24, which is not the resident set
// (docs/DESIGN.md, "Every number true"): the exact sum is then read from
// statm, one small file a process. SHR (file and shmem pages) and the
// split by kind (ProcStatus.RSSSplit) come from the same sums; statm's
// shared field gives SHR only.
func (s *scan) iterRSS(p *Process, g *taskiter.Group) {
	if pages, ok := g.ResidentPages(); ok {
		p.RSSBytes, p.HasRSS = mulSat(pages, s.r.pageSz), true
		if sh, ok := g.SharedPages(); ok {
			p.SharedBytes, p.HasShared = mulSat(sh, s.r.pageSz), true
			if shm, ok := g.ShmemPages(); ok {
				p.ShmemBytes, p.HasRSSSplit = mulSat(shm, s.r.pageSz), true
			}
		}
		return
	}
	m, err := readStatm(s.path.set(p.PID, 0, "statm"), &s.buf)
	switch {
	case err == nil:
		p.RSSBytes, p.HasRSS = mulSat(m.resident, s.r.pageSz), true
		if m.hasShared {
			p.SharedBytes, p.HasShared = mulSat(m.shared, s.r.pageSz), true
		}
	case IsVanished(err):
		// Exited since the pass: its other fields are the pass's.
	default:
		s.problem(p, "rss", err)
	}
}

// applyIterStatus fills a process's status fields from its leader's
// records, as proc_pid_status computes them.
func (s *scan) applyIterStatus(p *Process, t *taskiter.Task, c *procCache) {
	g := t.Group
	p.TGID = t.TGID
	p.TracerPID = t.TracerPID
	if g.HasCred {
		p.UIDs, p.GIDs = g.UIDs, g.GIDs
		p.User = s.userName(p.UIDs[0], c)
	}
	if g.NSPidsLen > 0 {
		p.NSPids = s.iterNSPids(g, c)
	}
	p.SigPnd, p.ShdPnd, p.SigBlk = t.SigPending, g.SigShared, t.SigBlocked
	p.SigIgn, p.SigCgt = g.SigIgnored, g.SigCaught
	// Left out by the walk (Options.BPFSkipDispositions): unknown, not
	// 0, unless readDispositions reads them.
	p.SigDispAbsent = !g.HasSighand && s.skipDisp
	p.CapInh, p.CapPrm, p.CapEff, p.CapBnd, p.CapAmb = g.CapInh, g.CapPrm, g.CapEff, g.CapBnd, g.CapAmb
	p.LeaderVol, p.LeaderInv = t.VolCtx, t.InvolCtx
	// Read by this scan's pass (set here, while p is in the cache: a
	// loop over the whole array at the scan's end cost 0.6 % of
	// `pinspect --json` at 10,000 processes).
	p.Read, p.StatusAt = p.Read|SrcStatus, s.scanStart
	// The pass gives every status field: a status kept when an earlier
	// scan read this process from /proc (hidden from that pass, e.g.
	// started after it) is not needed, and would stay for the identity's
	// life.
	c.forgetStatus()
	if g.NSPidsTruncated {
		// Nested deeper than the record holds: the list from status.
		if sf, err := readStatus(atFDCWD, s.path.set(p.PID, 0, "status"), &s.buf); err == nil && sf.nnspids > 0 {
			p.NSPids = nspidsOf(&sf, c)
		}
	}
}

// iterNSPids returns the process's pid in each namespace, shared with the
// memo entry c when it is the same list.
func (s *scan) iterNSPids(g *taskiter.Group, c *procCache) []int {
	ns := g.NSPids[:g.NSPidsLen]
	if c != nil && slices.Equal(c.nspids, ns) {
		return c.nspids
	}
	out := s.firstInts(ns)
	if c != nil {
		c.nspids = out
	}
	return out
}

// firstArenaInts and firstArenaBytes are what a first scan's pass
// (memoAdds) takes its processes' pid lists and names from: one
// allocation for thousands of them, instead of two small ones a process
// (at 10,000 processes, 20,000 of a one-shot's allocations). An arena
// stays while any of what it holds does, so only the first scan uses
// one: its processes are many at once, and what they hold stays at most
// as long as the first processes live; a later scan's few new processes
// would each keep a chunk.
const (
	firstArenaInts  = 4096
	firstArenaBytes = 64 << 10
)

// firstInts is a copy of v, from the first scan's arena when this is
// one (firstArenaInts).
func (s *scan) firstInts(v []int) []int {
	if !s.memoAdds || len(v) > firstArenaInts {
		return slices.Clone(v)
	}
	if cap(s.arenaInts)-len(s.arenaInts) < len(v) {
		s.arenaInts = make([]int, 0, firstArenaInts)
	}
	n := len(s.arenaInts)
	s.arenaInts = append(s.arenaInts, v...)
	return s.arenaInts[n:len(s.arenaInts):len(s.arenaInts)]
}

// firstComm is name as a string: from the first scan's arena when this
// is one (firstArenaBytes; the arena's bytes are never written again),
// else the memo's (identityMemo.comm).
func (s *scan) firstComm(name []byte) string {
	if !s.memoAdds || len(name) == 0 || len(name) > firstArenaBytes {
		return s.memo.comm(name)
	}
	if cap(s.arenaBytes)-len(s.arenaBytes) < len(name) {
		s.arenaBytes = make([]byte, 0, firstArenaBytes)
	}
	n := len(s.arenaBytes)
	s.arenaBytes = append(s.arenaBytes, name...)
	return unsafe.String(&s.arenaBytes[n], len(name))
}

// addIterThread adds a live thread to its process's totals and, when its
// threads are kept, to its Threads.
func (s *scan) addIterThread(p *Process, side *iterProc, t *taskiter.Task) {
	side.tot.Add(t)
	if !side.threads {
		s.iterStates.Add(t.StateLetter())
		return
	}
	th := Thread{
		TID:        t.TID,
		StartTicks: t.StartTicks(),
		State:      t.StateLetter(),
		Processor:  int64(t.CPU),
		Priority:   t.Priority(),
		Nice:       t.Nice(),
		HasStatus:  true,
		VolCtx:     t.VolCtx,
		InvolCtx:   t.InvolCtx,
	}
	th.UTimeTicks, th.STimeTicks = t.CPUTimeTicks()
	if t.HasSchedInfo {
		th.CPUDelayNs = t.RunDelayNs
	}
	switch {
	case t.TID == p.PID:
		th.Comm = p.Comm // a kernel thread's /proc name, as its task/ shows it
	case string(t.Comm()) == p.Comm:
		th.Comm = p.Comm
	default:
		th.Comm = s.firstComm(t.Comm())
	}
	p.Threads = append(p.Threads, th)
}

// finishIterProcess sets the process's whole-process fields from its
// totals: times, faults, context switches and run-queue delay.
func (s *scan) finishIterProcess(p *Process, side *iterProc) {
	tot := &side.tot
	u, st := taskiter.AdjustCPUTime(tot.UTimeNs, tot.STimeNs, tot.RuntimeNs, side.prevUNs, side.prevSNs)
	p.UTimeTicks, p.STimeTicks = taskiter.NsToTicks(u), taskiter.NsToTicks(st)
	p.MinFlt, p.MajFlt = tot.MinFlt, tot.MajFlt
	p.VolCtx, p.InvolCtx = tot.VolCtx, tot.InvolCtx
	p.CtxSource = CtxTaskIter
	if side.schedInfo {
		p.CPUDelayNs = tot.RunDelayNs
	}
	if len(p.Threads) > 1 && !slices.IsSortedFunc(p.Threads, cmpTID) {
		slices.SortFunc(p.Threads, cmpTID) // a thread seen before its leader
	}
}

func cmpTID(a, b Thread) int { return a.TID - b.TID }

// readIterHidden reads from /proc every process the pass did not show
// (a sandbox may hide its own init from BPF), and merges them in pid
// order. It finds them by listing /proc, unless the kernel's count of
// tasks (/proc/loadavg) equals the pass's plus the threads of the
// processes the last scan found hidden: then nothing else is missing, and
// those are read again without a listing (a listing of 2,000 processes
// costs about as much as a quarter of the pass). On a machine that forks
// and exits all the time the count rarely matches (a task born or gone
// during the pass is enough), so a listing younger than hiddenRelist is
// trusted anyway: a process newly hidden from BPF (a sandbox's init,
// which is rare) shows within that time. A process that exited
// meanwhile counts as vanished, as in a /proc scan. Listed is the
// processes the pass or the listing found (one born between the two is
// in the pass only), so that every listed process is read or vanished.
// Before a listing, the parents the pass names but did not show are read:
// when with their threads the count matches, nothing else is taken to be
// hidden and no listing is made. The count alone can match wrongly: a
// task the pass saw and that was reaped before the count was read
// cancels out a hidden process with no children in the pass, which then
// misses this scan. So a Reader's first scan (a one-shot command's only
// one) lists /proc unless the count is proven: before (the counts read
// before the pass) and the counts read after the parents show the same
// number of tasks and the same number of forks, so no task was born or
// reaped from before the pass to the end of those reads, and the pass and
// the parents saw one unchanging set of tasks (docs/DESIGN.md). A later
// scan trusts a matching count, and misses such a process for at most
// hiddenRelist.
func (s *scan) readIterHidden(procs []Process, passTasks int, before taskCounts, win *hiddenWindow, all bool, want []int) ([]Process, error) {
	n := len(procs)
	s.counts.Listed = n
	s.iterStated = s.iterStated[:0]
	total, ok := readTaskTotal(s.r.opts.Root)
	now := time.Since(s.r.start)
	stale := now-s.iterListedAt >= hiddenRelist
	listing := !s.iterHiddenValid || !ok || total != passTasks+s.iterHiddenThreads && stale
	s.iterHiddenValid = ok
	switch {
	case listing && ok:
		// Before listing /proc: a hidden process that has children in
		// the pass is named as their parent. Read those; when the
		// kernel's count then says nothing else is missing, no listing
		// is needed (a listing of every process costs ~4 ms at 2,000).
		parents := missingParents(procs[:n], s.ids[:0])
		s.ids = parents
		procs, s.iterHidden, s.iterHiddenThreads = s.readHiddenPIDs(procs, n,
			parents, s.iterHidden[:0], all, want)
		// On a Reader's first scan (a one-shot's only one) only a
		// proven count: one that matched wrongly would drop a hidden
		// process from it for good (proven over the window right after
		// the walk's run, or over the whole scan so far). Later, a
		// listing comes within hiddenRelist.
		proven := !s.iterListedOnce && win.proves(before, passTasks, parents)
		if proven || total == passTasks+s.iterHiddenThreads &&
			(s.iterListedOnce || before.unchanged(readTaskCountsAfter(s.r.opts.Root, &s.buf))) ||
			!s.iterListedOnce && s.readCountWindow(parents).proves() {
			s.iterListedAt, s.iterListedOnce, s.iterListed = now, true, false
			return s.placeHidden(procs, n), nil
		}
	case listing:
		s.iterHidden, s.iterHiddenThreads = s.iterHidden[:0], 0
	default:
		procs, s.iterHidden, s.iterHiddenThreads = s.readHiddenPIDs(procs, n,
			s.iterHidden, s.iterHidden[:0], all, want)
	}
	s.iterListed = listing
	if listing {
		s.iterListedAt, s.iterListedOnce = now, true
		var err error
		s.ids, err = listNumeric(s.path.setTop(""), s.dirBuf, s.ids[:0])
		if err != nil {
			return nil, &ReadError{File: s.r.opts.Root, Err: err}
		}
		slices.Sort(s.ids)
		hidden := s.ids[:0]
		j := 0
		for _, pid := range s.ids {
			for j < n && procs[j].PID < pid {
				j++
			}
			if (j == n || procs[j].PID != pid) && !slices.Contains(s.iterHidden, pid) {
				hidden = append(hidden, pid) // not read above
			}
		}
		var threads int
		procs, s.iterHidden, threads = s.readHiddenPIDs(procs, n, hidden, s.iterHidden, all, want)
		s.iterHiddenThreads += threads
		slices.Sort(s.iterHidden)
	}
	return s.placeHidden(procs, n), nil
}

// missingParents appends to pids, sorted and once each, the parents named
// by the pass's processes (sorted by pid) that the pass did not show.
func missingParents(procs []Process, pids []int) []int {
	last := 0 // siblings come together: their parent is looked up once
	for i := range procs {
		pp := procs[i].PPID
		if pp <= 0 || pp == last || slices.Contains(pids, pp) {
			continue
		}
		last = pp
		if _, inPass := SearchPID(procs, pp); !inPass {
			pids = append(pids, pp)
		}
	}
	slices.Sort(pids)
	return pids
}

// readHiddenPIDs reads from /proc the processes pids (sorted) that the
// pass (procs[:n]) did not show and appends them to procs; it returns
// them with the pids read appended to kept, and their threads.
func (s *scan) readHiddenPIDs(procs []Process, n int, pids, kept []int, all bool, want []int) ([]Process, []int, int) {
	threads := 0
	for _, pid := range pids {
		if _, inPass := SearchPID(procs[:n], pid); inPass {
			continue // hidden last time (born after that listing), in this pass
		}
		s.counts.Listed++
		th := all
		if want != nil {
			_, th = slices.BinarySearch(want, pid)
		}
		if p, ok := s.readProcess(pid, th, len(procs)); ok {
			procs = append(procs, p)
			kept = append(kept, pid)
			threads += int(max(p.NumThreads, 1))
			if !th && s.iterStatesOnly && p.NumThreads > 1 && s.countHiddenStates(&p) {
				s.iterStated = append(s.iterStated, pid)
			}
		}
	}
	return procs, kept, threads
}

// hiddenStates says how a scan with o counts the states of the threads
// of the processes the pass did not show (a sandbox's init: a few):
// from each thread's stat alone (statesOnly) where taskstats gives their
// context switches; without taskstats by reading such a process with its
// threads (withThreads), so that its switches are summed over them
// (thread_sum) as in a scan that reads threads: read leader-only in one
// scan and summed in the next, its counters would go back and forth.
func (s *scan) hiddenStates(o ScanOptions) (statesOnly, withThreads bool) {
	if !o.ThreadStates {
		return false, false
	}
	tsUsed, _ := s.r.ts.state()
	return tsUsed, !tsUsed
}

// countHiddenStates counts the state of each thread of p, a process the
// pass did not show, read without its threads, into the pass's count
// (s.iterStates) from its task/TID/stat files: what ScanOptions.
// ThreadStates needs of it, without each thread's switches (a taskstats
// query a thread) or a Thread kept (pid 1 of a sandbox with 41 threads,
// read at every scan of serve). A thread gone since the listing is not
// counted, as one gone during the pass. It returns false, having counted
// nothing, when task/ cannot be listed (the threads are then unknown).
func (s *scan) countHiddenStates(p *Process) bool {
	taskfd, err := openPath(s.path.set(p.PID, 0, "task"), unix.O_DIRECTORY)
	if err != nil {
		return false
	}
	defer unix.Close(taskfd)
	if s.tids, err = listNumericFD(taskfd, s.dirBuf, s.tids[:0]); err != nil {
		return false
	}
	for _, tid := range s.tids {
		dirfd, path := s.threadFile(p.PID, taskfd, tid, "stat")
		st, err := readStat(dirfd, path, &s.buf)
		switch {
		case err == nil:
			s.iterStates.Add(st.state)
		case IsVanished(err):
			s.counts.VanishedThreads++
		default:
			s.iterStates.Unknown++
		}
	}
	return true
}

// hiddenFront is how many processes a pass's array holds before the
// pass's first one (iterProcessArray): the hidden processes whose pids
// come before every process of the pass (a sandbox's init, pid 1) are
// put there, instead of moving the whole pass up (8.8 MB at 10,000
// processes) to make room for them.
const hiddenFront = 4

// iterProcessArray is the array a pass's processes are appended to, with
// room for want of them: the Reader's recycled array when it recycles
// them, else a new one with hiddenFront free places before it
// (s.iterFront, until the scan ends).
func (s *scan) iterProcessArray(want int) (*processArray, []Process) {
	if s.r.opts.RecycleProcesses {
		return s.r.processArray(want)
	}
	s.iterFront = make([]Process, hiddenFront, hiddenFront+want)
	prefault(s.iterFront)
	return nil, s.iterFront[hiddenFront:hiddenFront]
}

// placeHidden reads the cmdlines of the hidden processes (procs[n:]) and
// moves each to its place in pid order.
func (s *scan) placeHidden(procs []Process, n int) []Process {
	return s.placeInOrder(s.readCmdlines(procs), n)
}

// placeInOrder moves the hidden processes (procs[n:]) to their places
// in pid order among the pass's (procs[:n], in pid order): those that
// come before the pass's first into the free places before it
// (frontFor), the others each into its place, moving up the pass's
// processes after it (usually none: a process the listing found that
// the pass did not show was mostly born after it, with the highest pid).
func (s *scan) placeInOrder(procs []Process, n int) []Process {
	procs, n = s.frontFor(procs, n)
	for k := n; k < len(procs); k++ {
		p := procs[k]
		i, _ := SearchPID(procs[:k], p.PID)
		copy(procs[i+1:k+1], procs[i:k])
		procs[i] = p
	}
	return procs
}

// frontFor puts the hidden processes (procs[n:]) that come before the
// pass's first process in pid order into the free places before it, when
// they fit there, and returns the processes from the first of them, with
// n counting them too; the other hidden processes stay after the pass,
// sorted. Else it returns procs and n as they were. Without it the
// pass's whole array was moved up to make room for pid 1 (8.8 MB at
// 10,000 processes), as it still is when the front does not fit.
func (s *scan) frontFor(procs []Process, n int) ([]Process, int) {
	m := len(procs) - n
	full := s.iterFront
	if m <= 0 || n == 0 || cap(full) < hiddenFront+len(procs) ||
		&full[:hiddenFront+1][hiddenFront] != &procs[0] {
		return procs, n
	}
	hidden := procs[n:]
	slices.SortFunc(hidden, func(a, b Process) int { return a.PID - b.PID })
	before := 0 // the hidden processes before the pass's first
	for before < m && hidden[before].PID < procs[0].PID {
		before++
	}
	if before == 0 || before > hiddenFront {
		return procs, n
	}
	copy(full[hiddenFront-before:hiddenFront], hidden[:before])
	rest := copy(hidden, hidden[before:])
	clear(hidden[rest:]) // their copies in front are the ones kept
	return full[hiddenFront-before : hiddenFront+n+rest], n + before
}

// hiddenWindow is what a Reader's first scan reads right after the walk's
// run, before it decodes the records (PassOptions.AfterRun): the threads
// of the parents the pass did not show (from their stat files), then the
// kernel's count of forks since boot, which closes the window that
// BeforeRun's counts opened (readTaskCounts: forks, then tasks). The
// decoding (about 20 ms of a 40 ms window at 10,000 processes) is then
// outside it: a window that proves nothing means a listing of /proc
// (16 ms at 10,000), and with the decoding inside it the bench's
// workload had it listed in 12 of 16 one-shots (5 of 16 now).
type hiddenWindow struct {
	read    bool  // AfterRun was called this scan
	parents []int // the pass's missing parents (sorted)
	threads int   // their threads then, as readHiddenPIDs counts them
	forks   uint64
	forksOK bool
}

// readHiddenWindow fills w right after the walk's run.
func (s *scan) readHiddenWindow(w *hiddenWindow, missing []int) {
	w.read = true
	w.parents = append(w.parents[:0], missing...)
	w.threads = 0
	for _, pid := range missing {
		// A parent whose stat cannot be read is not counted, as
		// readHiddenPIDs counts none for a process it cannot read.
		if st, err := readStat(atFDCWD, s.path.set(pid, 0, "stat"), &s.buf); err == nil {
			w.threads += int(max(st.numThreads, 1))
		}
	}
	w.forks, w.forksOK = readForkCount(s.r.opts.Root, &s.buf)
}

// proves reports whether the window proves that the pass (passTasks
// tasks) and the parents it did not show (parents, as the scan found them
// in the decoded processes) saw every task that was not born or reaped
// during the window. Every task that lived at some moment of the window
// was there when before's count of tasks was read, or was born after
// before's count of forks was read and before the window's was (the
// kernel counts a fork and the task in one step, under the tasklist
// lock): at most before.tasks plus the forks between. The pass and
// those parents' threads are that many distinct tasks of the window only
// when none is missing. A fork between before's two reads is counted
// twice (the sum then exceeds what was seen, and nothing is proven);
// with no fork, this is the proof of unchanged counts. A fork the pass
// saw (a new process goes at the end of the kernel's list, where the
// walk reaches it) no longer breaks the proof.
func (w *hiddenWindow) proves(before taskCounts, passTasks int, parents []int) bool {
	if !w.read || !w.forksOK || !before.ok || w.forks < before.forks {
		return false
	}
	return uint64(passTasks+w.threads) == uint64(before.tasks)+(w.forks-before.forks) &&
		slices.Equal(w.parents, parents)
}

// countWindow is a Reader's first scan's last proof before it lists
// /proc, when neither the window around the walk's run nor the whole
// scan's proved its count (a task born or reaped during the pass that
// the pass did not see: the bench's workload at 10,000 x 1 forks five
// times a second, and one in six one-shots listed, 16 ms each): a
// second, short window around the walk's counting run (about a
// millisecond at 10,000 processes), read in the same order as the
// others: forks then tasks (before), the tasks of every process the walk
// sees now (each one's count of threads) plus the threads of the parents
// the pass did not show (from their stat files), tasks then forks
// (after). Unchanged counts, and that sum equal to the kernel's count of
// tasks, leave no task at that moment outside the processes the walk
// sees and those parents: a process hidden from the walk that the pass
// could have missed either is one of those parents (read) or was gone by
// then, as a process that exits between a listing and its read is.
type countWindow struct {
	before, after taskCounts
	seen          int  // the walk's count of tasks and the parents' threads
	counted       bool // the counting run ran
}

// readCountWindow reads the counting window with the parents the scan
// found hidden (sorted).
func (s *scan) readCountWindow(parents []int) countWindow {
	root := s.r.opts.Root
	w := countWindow{before: readTaskCounts(root, &s.buf)}
	if !w.before.ok {
		return w
	}
	tasks, _, err := s.r.iter.CountTasks()
	if err != nil {
		return w
	}
	w.seen, w.counted = tasks, true
	for _, pid := range parents {
		// As readHiddenWindow: a parent whose stat cannot be read is
		// not counted.
		if st, err := readStat(atFDCWD, s.path.set(pid, 0, "stat"), &s.buf); err == nil {
			w.seen += int(max(st.numThreads, 1))
		}
	}
	w.after = readTaskCountsAfter(root, &s.buf)
	return w
}

// proves reports whether the window leaves no task unseen (countWindow).
func (w countWindow) proves() bool {
	return w.counted && w.before.unchanged(w.after) && w.seen == w.before.tasks
}

// hiddenRelist is how long a listing of the processes the task iterator
// does not show is trusted when the kernel's count of tasks does not
// confirm it.
const hiddenRelist = 10 * time.Second

// readTaskTotal is the kernel's count of tasks (threads) on the machine,
// the fourth field of /proc/loadavg ("1.00 0.50 0.20 3/18350 4242").
func readTaskTotal(root string) (int, bool) {
	var b [128]byte
	fd, err := unix.Open(root+"/loadavg", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	n, err := unix.Read(fd, b[:])
	unix.Close(fd)
	if err != nil || n <= 0 {
		return 0, false
	}
	return parseTaskTotal(b[:n])
}

// taskCounts is the kernel's count of tasks (/proc/loadavg) and of forks
// since boot (/proc/stat's processes line) at one moment.
type taskCounts struct {
	tasks int
	forks uint64
	ok    bool // both were read
}

// readTaskCounts reads the kernel's counts of forks, then of tasks, to
// open the window the counts prove unchanged; buf is reused for
// /proc/stat. Forks first: a fork between the two reads raises the task
// count read here, and the fork count read at the window's end.
func readTaskCounts(root string, buf *[]byte) taskCounts {
	forks, ok := readForkCount(root, buf)
	if !ok {
		return taskCounts{}
	}
	tasks, ok := readTaskTotal(root)
	return taskCounts{tasks: tasks, forks: forks, ok: ok}
}

// readTaskCountsAfter reads the same counts in the other order, tasks
// then forks, to close the window: a fork between the two reads must
// show in the fork count, or it would raise the task count unnoticed and
// could make up for a task reaped during the pass (review of the proof).
// Only a fork raises the task count, in the same step that counts the
// fork, and only the final reap lowers it.
func readTaskCountsAfter(root string, buf *[]byte) taskCounts {
	tasks, ok := readTaskTotal(root)
	if !ok {
		return taskCounts{}
	}
	forks, ok := readForkCount(root, buf)
	return taskCounts{tasks: tasks, forks: forks, ok: ok}
}

// unchanged reports whether both counts were read both times and are the
// same: no task was born (the fork count only grows) and, with none born,
// none was reaped (the task count would have dropped) between the start
// of the first read and the end of the second.
func (c taskCounts) unchanged(after taskCounts) bool {
	return c.ok && after.ok && c.tasks == after.tasks && c.forks == after.forks
}

// readForkCount is the number of forks since boot, /proc/stat's
// "processes" line (the kernel's total_forks).
func readForkCount(root string, buf *[]byte) (uint64, bool) {
	fd, err := unix.Open(root+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	if cap(*buf) < 4096 {
		*buf = make([]byte, 0, 4096)
	}
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			if len(b) >= 4<<20 {
				return 0, false // not /proc/stat
			}
			b = slices.Grow(b, len(b))
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err != nil {
			*buf = b[:0]
			return 0, false
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
	}
	*buf = b[:0]
	return parseForkCount(b)
}

// parseForkCount is the number on /proc/stat's "processes" line.
func parseForkCount(b []byte) (uint64, bool) {
	const key = "\nprocesses "
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(fieldEnd(b[i+len(key):])), 10, 64)
	return v, err == nil
}

// fieldEnd is b up to its first newline.
func fieldEnd(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// parseTaskTotal is the number after the '/' of /proc/loadavg.
func parseTaskTotal(b []byte) (int, bool) {
	i := bytes.IndexByte(b, '/')
	if i < 0 {
		return 0, false
	}
	v, n := 0, 0
	for _, c := range b[i+1:] {
		if c < '0' || c > '9' {
			break
		}
		if n++; n > 9 {
			return 0, false // not a task count
		}
		v = v*10 + int(c-'0')
	}
	return v, n > 0
}

// joinNote is two notes of a snapshot in one line.
// programsNote says which of the iterator's other programs were asked
// for and are not used, and why: the cmdline program's (bpfCmdlineNote),
// and the identity program's (Options.BPFIdentities: the kernel events'
// lookups then read /proc).
func (s *scan) programsNote() string {
	note := s.bpfCmdlineNote()
	if why := s.r.iter.IdentsUnavailable; why != nil {
		note = joinNote(note, "kernel events' lookups read /proc: "+why.Error())
	}
	return note
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// readIterIdentities fills cmdline and exe, which only /proc has: from
// the identity memo when it has them (within the TTL, or past it for a
// process that has not run since they were read: its totals are exact),
// else read (cmdline in batches under the deadline, as a /proc scan
// does). A process without an address space has them already
// (applyIterProcess).
func (s *scan) readIterIdentities(procs []Process) []Process {
	now := time.Since(s.r.start)
	s.runBPFCmdlines(procs, now)
	defer s.endBPFCmdlines()
	k := 0 // the cursor in s.iterEntries
	for i := 0; i < len(procs); {
		end := i
		for ; end < len(procs) && len(s.cmdWant) < cmdlineChunk; end++ {
			p := &procs[end]
			if p.Read&SrcCmdline != 0 || p.CtxSource != CtxTaskIter {
				continue // read from /proc already (readIterHidden)
			}
			c := s.passEntry(&k, p)
			if s.identityKept(c, p, now) {
				c.reuse(p)
				continue
			}
			before := s.counts
			s.readIterExe(p, c, now)
			if c != nil {
				c.ran = ranCount(p)
			}
			if s.applyBPFCmdline(p, c) {
				continue
			}
			s.cmdWant = append(s.cmdWant, cmdWant{idx: end, c: c, counts: s.counts.minus(before)})
		}
		before := len(procs)
		procs = s.readCmdlines(procs)
		i = end - (before - len(procs))
	}
	return procs
}

// passEntry is the identity memo entry the pass took for the process pid.
type passEntry struct {
	pid int
	c   *procCache
}

// passEntry returns p's identity memo entry: the one the pass took, found
// from the cursor *k in s.iterEntries (callers ask in pid order), or, for
// a process the pass did not give it for, the memo's.
func (s *scan) passEntry(k *int, p *Process) *procCache {
	e := s.iterEntries
	for *k < len(e) && e[*k].pid < p.PID {
		*k++
	}
	if *k < len(e) && e[*k].pid == p.PID && e[*k].c != nil && e[*k].c.start == p.StartTicks {
		return e[*k].c
	}
	return s.memo.entry(p.PID, p.StartTicks)
}
