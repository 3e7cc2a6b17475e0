package explain

import (
	"fmt"
	"slices"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// This file builds explain's samples from a record (pinspect record)
// instead of live reads: `pinspect explain --at TIME`. A record keeps
// every process's stat and status at each interval, its threads' states,
// CPU times and switches at the recorder's thread cadence, the run-queue
// delay when the recorder's collector measured it (taskstats or the task
// iterator), the smaps_rollup of a few processes at its memory cadence,
// and the machine's load. It does not keep what a live explain reads
// only for the process it looks at: wait channels, system calls,
// /proc/PID/io, descriptors, memory maps, the cgroup CPU files, pressure
// and the runtime's clues. Those are named unavailable, with why.

// Recorded is a stretch of one recorder run, for explain.
type Recorded struct {
	// Snapshots are the recorded scans, oldest first, all of one
	// recorder run (their Monotonic times are on one clock).
	Snapshots []*collector.Snapshot
	// Rollups are the smaps_rollup totals the recorder read with each
	// snapshot (same index; nil or missing entries where none).
	Rollups []map[collector.ID]collector.MemoryTotals
	// History is the process's recorded memory before the stretch, on
	// the snapshots' monotonic clock, oldest first (FromRecord only).
	History []MemoryPoint
	// Machine is what the findings assume of the reader (Arch, Root);
	// CPUs and Kernel are taken from the snapshots.
	Machine Machine
}

// notRecorded is why a source a live explain reads is absent from a
// recorded sample.
const notRecorded = "not recorded (pinspect record does not keep it; a live explain reads it)"

// recordLacks are the sources a record never holds.
var recordLacks = []string{"syscall", "wchan", "io", "fd", "cgroup", "pressure", "runtime"}

// threadTicks are the indices of the snapshots that hold pid's threads
// with identity id.
func (r *Recorded) threadTicks(id collector.ID) []int {
	var out []int
	for i, s := range r.Snapshots {
		if p := findPID(s, id.PID); p != nil && p.StartTicks == id.StartTicks && p.Read&collector.SrcTasks != 0 && len(p.Threads) > 0 {
			out = append(out, i)
		}
	}
	return out
}

// FromRecord builds the Sample of the process pid as it was in the last
// of r.Snapshots. Its window runs from the first snapshot that holds the
// process to the last one; when two or more snapshots hold its threads,
// from the first to the last of those (the thread findings need threads
// at both ends). ok is false when the last snapshot does not hold pid.
func FromRecord(r *Recorded, pid int) (s *Sample, ok bool) {
	if len(r.Snapshots) == 0 {
		return nil, false
	}
	lastSnap := r.Snapshots[len(r.Snapshots)-1]
	p := findPID(lastSnap, pid)
	if p == nil {
		return nil, false
	}
	id := p.ID()
	lo, hi := -1, len(r.Snapshots)-1
	for i, sn := range r.Snapshots {
		if q := findPID(sn, pid); q != nil && q.StartTicks == id.StartTicks {
			lo = i
			break
		}
	}
	tt := r.threadTicks(id)
	if len(tt) >= 2 {
		lo, hi = tt[0], tt[len(tt)-1]
	}
	s = &Sample{
		Version: SampleVersion, TakenAt: r.Snapshots[lo].TakenAt,
		PID: pid, StartTicks: id.StartTicks, Comm: p.Comm, Exe: p.Exe, Cmdline: p.Cmdline, User: p.User,
		Machine:     r.machine(lastSnap),
		Unavailable: map[string]string{},
	}
	for _, k := range recordLacks {
		s.Unavailable[k] = notRecorded
	}
	s.First = r.reading(lo, id)
	s.Last = r.reading(hi, id)
	if s.First.Memory == nil || s.Last.Memory == nil {
		s.Unavailable["smaps"] = "not recorded at both ends of the window (the recorder reads the smaps_rollup of the largest few processes at its memory cadence: pinspect record --memory-top, --memory-every)"
	}
	r.burst(s, tt, lo, hi)
	if lp := s.Last.Process; lp != nil && lp.TracerPID > 0 {
		// The tracer by command and pid, from the snapshot its
		// TracerPid was recorded in.
		if o, ok := collector.TaskOwnerIn(r.Snapshots[hi], lp.TracerPID); ok {
			s.Tracer = &o
		}
	}
	s.Family = r.family(p, lo, hi)
	s.Neighbours = neighbours(r.Snapshots[lo], r.Snapshots[hi], pid, s.Family)
	for _, h := range r.History {
		if h.At < s.First.At {
			s.History = append(s.History, h)
		}
	}
	// The recorded RSS at every snapshot of the window continues the
	// history (the burst has it only at the thread samples).
	for i := lo; i <= hi; i++ {
		if q := findPID(r.Snapshots[i], pid); q != nil && q.StartTicks == id.StartTicks && q.HasRSS {
			s.History = append(s.History, MemoryPoint{At: r.Snapshots[i].Monotonic, RSSBytes: q.RSSBytes})
		}
	}
	return s, true
}

// burst fills the sample's burst with the snapshots tt (those in lo..hi)
// that hold the process's threads, and names what they lack: threads in
// fewer than two, or the run-queue delay.
func (r *Recorded) burst(s *Sample, tt []int, lo, hi int) {
	// The run-queue delay is measured when every tick's collector
	// measures it and it moved at all (a process that ran has waited).
	sched, moved := true, false
	for _, i := range tt {
		if i < lo || i > hi {
			continue
		}
		p := findPID(r.Snapshots[i], s.PID)
		tk, measures := tickOf(r.Snapshots[i], p)
		sched = sched && measures
		moved = moved || p.CPUDelayNs > 0
		s.Burst = append(s.Burst, tk)
	}
	sched = sched && moved
	switch {
	case len(s.Burst) < 2:
		s.Burst = nil
		s.Unavailable["threads"] = fmt.Sprintf("the record holds this process's threads in %d of the %d samples looked at: two are needed (pinspect record --threads-every 1 keeps them in every sample; a longer --window reaches further back)",
			len(tt), len(r.Snapshots)-lo)
	case !sched:
		for i := range s.Burst {
			for k := range s.Burst[i].Tasks {
				s.Burst[i].Tasks[k].HasSched = false
			}
		}
		s.Unavailable["schedstat"] = "not recorded: the recorder's collector did not measure run-queue delay (taskstats or the task iterator do; /proc's files alone do not)"
	default:
		s.SchedSource = "the record: each thread's run-queue delay (taskstats or the task iterator: schedstat's field 2) and CPU time (task/*/stat fields 14-15), at each recorded sample"
	}
}

// machine is the Machine of the findings: the reader's facts with the
// recorded machine's CPUs, kernel and delay accounting.
func (r *Recorded) machine(snap *collector.Snapshot) Machine {
	m := r.Machine
	m.CPUs, m.Kernel = snap.Host.CPUs, snap.Host.Kernel
	m.DelayAcct = ""
	if _, unknown := snap.Host.Unavailable[collector.HostDelayAcctKey]; !unknown {
		m.DelayAcct = map[bool]string{true: "on", false: "off"}[snap.Host.DelayAcct]
	}
	return m
}

// reading is the full reading of the process id at snapshot i.
func (r *Recorded) reading(i int, id collector.ID) Reading {
	sn := r.Snapshots[i]
	rd := Reading{At: sn.Monotonic, Host: hostLoadOf(sn)}
	if p := findPID(sn, id.PID); p != nil && p.StartTicks == id.StartTicks {
		pc := *p
		rd.Process = &pc
	}
	if i < len(r.Rollups) {
		if t, ok := r.Rollups[i][id]; ok {
			rd.Memory = memoryOfRollup(t)
		}
	}
	return rd
}

// hostLoadOf is the machine's load in a snapshot (pressure is not
// recorded).
func hostLoadOf(sn *collector.Snapshot) HostLoad {
	return HostLoad{ProcsRunning: sn.Host.ProcsRunning, ProcsBlocked: sn.Host.ProcsBlocked,
		CPUTicks: sn.Host.CPUTicks, CPUIdleTicks: sn.Host.CPUIdleTicks}
}

// memoryOfRollup is the memory explain uses from smaps_rollup alone: the
// totals, the dirty split of the whole process, no classes.
func memoryOfRollup(t collector.MemoryTotals) *Memory {
	return &Memory{Totals: t, PrivateAnon: collector.MappingDirty{SharedDirtyBytes: t.SharedDirtyBytes,
		PrivateDirtyBytes: t.PrivateDirtyBytes, AnonBytes: t.AnonBytes}}
}

// tickOf is one recorded snapshot of a process's threads as a burst tick.
// Run time is the threads' CPU ticks, wait the run-queue delay the
// recorder's collector measured; measures is false when its collector
// does not measure it (taskstats and the task iterator do, /proc's files
// do not).
func tickOf(sn *collector.Snapshot, p *collector.Process) (Tick, bool) {
	measured := p.CtxSource == collector.CtxTaskstats || p.CtxSource == collector.CtxTaskIter
	tk := Tick{At: sn.Monotonic, Runnable: int(min(sn.Host.ProcsRunning, 1<<20)), TaskSamples: collector.TaskSamples{
		PID: p.PID, StartTicks: p.StartTicks, State: p.State, RSSBytes: p.RSSBytes,
		MinFlt: p.MinFlt, MajFlt: p.MajFlt, UTimeTicks: p.UTimeTicks, STimeTicks: p.STimeTicks,
		Tasks: make([]collector.TaskSample, 0, len(p.Threads)),
	}}
	for _, t := range p.Threads {
		ts := collector.TaskSample{TID: t.TID, StartTicks: t.StartTicks, Comm: t.Comm, State: t.State,
			UTimeTicks: t.UTimeTicks, STimeTicks: t.STimeTicks}
		if measured && t.HasStatus {
			ts.HasSched = true
			ts.Sched = collector.SchedStat{RunNs: t.CPUTicks() * uint64(time.Second/collector.ClockTicks), WaitNs: t.CPUDelayNs}
		}
		tk.Tasks = append(tk.Tasks, ts)
	}
	return tk, measured
}

// family is p's family in snapshot hi (same executable up the tree, all
// descendants), with the memory the recorder read for each member in the
// window (the latest), and the CPU each used between lo and hi.
func (r *Recorded) family(p *collector.Process, lo, hi int) *Family {
	sn := r.Snapshots[hi]
	members := FamilyOf(sn, p, func(a, b *collector.Process) bool { return a.Exe != "" && a.Exe == b.Exe })
	if len(members) < 2 {
		return nil
	}
	f := &Family{RootPID: members[0].PID}
	secs := (sn.Monotonic - r.Snapshots[lo].Monotonic).Seconds()
	for _, q := range members {
		m := Member{PID: q.PID, PPID: q.PPID, Comm: q.Comm, Exe: q.Exe, CPUSeconds: -1}
		if o := findPID(r.Snapshots[lo], q.PID); o != nil && o.StartTicks == q.StartTicks && secs > 0 {
			m.CPUSeconds = float64(sub(q.CPUTicks(), o.CPUTicks())) / collector.ClockTicks
		}
		for i := min(hi, len(r.Rollups)-1); i >= lo && m.Memory == nil; i-- {
			if t, ok := r.Rollups[i][q.ID()]; ok {
				m.Memory = &t
			}
		}
		if m.Memory == nil {
			m.Why = "not read by the recorder in this window"
		}
		f.Members = append(f.Members, m)
	}
	return f
}

// MaxFamily bounds a family's members (each one's memory is read).
const MaxFamily = 256

// FamilyOf is p's family in snap: the oldest ancestor for which same(it,
// p) holds (not init), then all its descendants breadth first (children
// by pid), at most MaxFamily. The root comes first.
func FamilyOf(snap *collector.Snapshot, p *collector.Process, same func(a, b *collector.Process) bool) []*collector.Process {
	byPID := make(map[int]*collector.Process, len(snap.Processes))
	children := make(map[int][]int)
	for i := range snap.Processes {
		q := &snap.Processes[i]
		byPID[q.PID] = q
		children[q.PPID] = append(children[q.PPID], q.PID)
	}
	root := p
	for depth := 0; depth < 64; depth++ {
		par := byPID[root.PPID]
		if par == nil || par.PID <= 1 || !same(par, p) {
			break
		}
		root = par
	}
	var out []*collector.Process
	queue := []int{root.PID}
	for len(queue) > 0 && len(out) < MaxFamily {
		pid := queue[0]
		queue = queue[1:]
		out = append(out, byPID[pid])
		kids := children[pid]
		slices.Sort(kids)
		queue = append(queue, kids...)
	}
	return out
}

// neighbours are the processes other than pid and its family that used
// the most CPU between two snapshots.
func neighbours(a, b *collector.Snapshot, pid int, fam *Family) []Neighbour {
	var out []Neighbour
	for _, u := range TopCPU(a, b, (b.Monotonic - a.Monotonic).Seconds(), 5+familySize(fam)+1) {
		if len(out) < 5 && u.PID != pid && !fam.has(u.PID) {
			out = append(out, u)
		}
	}
	return out
}

func familySize(f *Family) int {
	if f == nil {
		return 0
	}
	return len(f.Members)
}

// has reports whether pid is a member of the family (false for none).
func (f *Family) has(pid int) bool {
	if f == nil {
		return false
	}
	for _, m := range f.Members {
		if m.PID == pid {
			return true
		}
	}
	return false
}

// findPID is the process pid in a snapshot (sorted by pid), nil when
// absent.
func findPID(snap *collector.Snapshot, pid int) *collector.Process {
	i, ok := collector.SearchPID(snap.Processes, pid)
	if !ok {
		return nil
	}
	return &snap.Processes[i]
}

// TopCPU is the n processes that used the most CPU between two
// snapshots (n < 0: all), most first. Both are sorted by pid: one merge
// walk pairs them.
func TopCPU(a, b *collector.Snapshot, secs float64, n int) []Neighbour {
	if a == nil {
		return nil
	}
	return TopCPUSince(CPUTimesOf(a), b, secs, n)
}

// CPUTime is one process's identity and CPU time at one moment: all that
// TopCPU needs of the earlier of its two snapshots (24 bytes, where a
// Process with its threads is kilobytes: a ring of ticks keeps these).
type CPUTime struct {
	PID        int
	StartTicks uint64
	Ticks      uint64
}

// CPUTimesOf returns the CPU times of snap's processes, in pid order.
func CPUTimesOf(snap *collector.Snapshot) []CPUTime {
	out := make([]CPUTime, len(snap.Processes))
	for i := range snap.Processes {
		p := &snap.Processes[i]
		out[i] = CPUTime{PID: p.PID, StartTicks: p.StartTicks, Ticks: p.CPUTicks()}
	}
	return out
}

// TopCPUSince is TopCPU from the earlier moment's CPU times (in pid
// order, as CPUTimesOf gives them).
func TopCPUSince(a []CPUTime, b *collector.Snapshot, secs float64, n int) []Neighbour {
	if secs <= 0 || b == nil {
		return nil
	}
	var out []Neighbour
	j := 0
	for i := range b.Processes {
		p := &b.Processes[i]
		for j < len(a) && a[j].PID < p.PID {
			j++
		}
		if j == len(a) {
			break
		}
		o := &a[j]
		if o.PID != p.PID || o.StartTicks != p.StartTicks || p.CPUTicks() <= o.Ticks {
			continue
		}
		out = append(out, Neighbour{PID: p.PID, Comm: p.Comm, CPUs: float64(p.CPUTicks()-o.Ticks) / collector.ClockTicks / secs})
	}
	slices.SortFunc(out, func(x, y Neighbour) int {
		if x.CPUs != y.CPUs {
			if x.CPUs > y.CPUs {
				return -1
			}
			return 1
		}
		return x.PID - y.PID
	})
	if n >= 0 && n < len(out) {
		out = out[:n]
	}
	return out
}

// MachineFromRecord builds the machine sample of a recorded stretch: the
// load at its ends and at each snapshot, the busiest processes, and the
// samples (FromRecord) of the processes worth a closer look: the
// candidates most CPU first, then those with the most threads runnable
// or in D.
func MachineFromRecord(r *Recorded, candidates int) *MachineSample {
	first, last := r.Snapshots[0], r.Snapshots[len(r.Snapshots)-1]
	m := &MachineSample{
		Version: SampleVersion, TakenAt: first.TakenAt, Machine: r.machine(last),
		FirstAt: first.Monotonic, LastAt: last.Monotonic, First: hostLoadOf(first), Last: hostLoadOf(last),
		Unavailable: map[string]string{"pressure": notRecorded},
	}
	for _, sn := range r.Snapshots {
		m.Runnable = append(m.Runnable, int(min(sn.Host.ProcsRunning, 1<<20)))
	}
	usage := TopCPU(first, last, (last.Monotonic - first.Monotonic).Seconds(), -1)
	m.Top = usage[:min(10, len(usage))]
	withThreads := last
	for i := len(r.Snapshots) - 1; i >= 0; i-- {
		if r.Snapshots[i].ThreadsRead {
			withThreads = r.Snapshots[i]
			break
		}
	}
	for _, pid := range Candidates(usage, withThreads, candidates) {
		if s, ok := FromRecord(r, pid); ok {
			m.Processes = append(m.Processes, s)
		}
	}
	return m
}

// Candidates picks the processes a machine sample examines closely: the
// n that used the most CPU (usage, most first), then up to n more with
// the most threads runnable or in D in snap (a starved pool, a disk-bound
// one).
func Candidates(usage []Neighbour, snap *collector.Snapshot, n int) []int {
	var cand []int
	for _, u := range usage {
		if len(cand) == n || u.CPUs < 0.05 {
			break
		}
		cand = append(cand, u.PID)
	}
	type waiting struct{ pid, n int }
	var ws []waiting
	for i := range snap.Processes {
		p := &snap.Processes[i]
		k := 0
		for _, t := range p.Threads {
			if t.State == 'R' || t.State == 'D' {
				k++
			}
		}
		if p.State == 'D' && len(p.Threads) == 0 {
			k++
		}
		if k >= 2 || p.State == 'D' {
			ws = append(ws, waiting{p.PID, k})
		}
	}
	slices.SortFunc(ws, func(a, b waiting) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return a.pid - b.pid
	})
	for _, w := range ws {
		if len(cand) >= 2*n {
			break
		}
		if !slices.Contains(cand, w.pid) {
			cand = append(cand, w.pid)
		}
	}
	return cand
}
