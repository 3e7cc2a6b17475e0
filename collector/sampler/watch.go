package sampler

import (
	"context"
	"errors"
	"maps"
	"syscall"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
)

// watch samples a few processes together over one window.
type watch struct {
	s        *Sampler
	pids     []int
	samples  []*explain.Sample
	gone     []bool
	first    *collector.Snapshot
	lastSnap *collector.Snapshot
	startAt  time.Duration
	runnable []int
	lastAt   time.Duration
	last     explain.HostLoad
	// kids follows each sample's children: those at the first reading,
	// and those born since that a reading saw.
	kids []childWatch
}

// childWatch is one sample's children over the window.
type childWatch struct {
	first, born map[int]bool
	threads     int
}

func (s *Sampler) watch(pids []int) *watch { return &watch{s: s, pids: pids} }

// start takes the first full reading of every pid and the first tick.
func (w *watch) start(ctx context.Context) error {
	s := w.s
	before := s.opts.Now()
	snap, err := s.r.Scan(ctx, collector.ScanOptions{ThreadPIDs: w.pids})
	if err != nil {
		return err
	}
	w.first = snap
	at := before + (s.opts.Now()-before)/2
	w.startAt = at
	host := s.hostLoad(snap)
	for _, pid := range w.pids {
		p := findProcess(snap, pid)
		if p == nil {
			continue
		}
		sm := &explain.Sample{
			Version: explain.SampleVersion, TakenAt: snap.TakenAt, PID: pid, StartTicks: p.StartTicks, Comm: p.Comm,
			Exe: p.Exe, Cmdline: p.Cmdline, User: p.User, Machine: s.machineOf(snap),
		}
		if s.opts.Unprivileged {
			sm.Exe = ""
			for _, k := range []string{"syscall", "wchan", "io", "fd", "smaps", "exe"} {
				missReason(sm, k, UnprivilegedReason)
			}
		}
		as := w.reading(sm, &sm.First, snap, p, at, host)
		if s.opts.Unprivileged {
			w.samples = append(w.samples, sm)
			continue
		}
		// Descriptors and runtime once, at the start.
		if fds, err := s.r.FDs(pid); err == nil {
			sm.FDs = fds
		} else {
			miss(sm, "fd", err)
		}
		var maps []collector.Mapping
		if as != nil {
			maps = as.Maps
		}
		nsPID := 0
		if len(p.NSPids) > 0 {
			nsPID = p.NSPids[len(p.NSPids)-1]
		}
		clues, unavail := s.r.RuntimeClues(pid, maps, p.User, nsPID)
		for k, v := range unavail {
			missReason(sm, k, v)
		}
		sm.Runtime = collector.DetectRuntime(clues)
		w.samples = append(w.samples, sm)
	}
	w.gone = make([]bool, len(w.samples))
	w.kids = make([]childWatch, len(w.samples))
	for i, sm := range w.samples {
		k := &w.kids[i]
		k.first, k.born = map[int]bool{}, map[int]bool{}
		for j := range snap.Processes {
			if snap.Processes[j].PPID == sm.PID {
				k.first[snap.Processes[j].PID] = true
			}
		}
	}
	return w.tick()
}

// burst takes a tick every interval until window has passed since start.
func (w *watch) burst(ctx context.Context, window time.Duration) error {
	s := w.s
	for {
		left := w.startAt + window - s.opts.Now()
		if left <= 0 {
			return nil
		}
		if err := s.opts.Sleep(ctx, min(left, s.opts.Interval)); err != nil {
			return err
		}
		if err := w.tick(); err != nil {
			return err
		}
	}
}

// tick reads every thread of every process still there, and the
// machine's runnable count.
func (w *watch) tick() error {
	s := w.s
	before := s.opts.Now()
	runnable := -1
	n, _, rerr := s.r.Runnable()
	if rerr == nil {
		runnable = n
		w.runnable = append(w.runnable, n)
	}
	for i, sm := range w.samples {
		if w.gone[i] {
			continue
		}
		if rerr != nil {
			missReason(sm, "host/loadavg", rerr.Error())
		}
		fields := collector.ProbeAll
		if s.opts.Unprivileged {
			fields = collector.ProbeSched // schedstat is world-readable
		}
		ts, err := s.r.Tasks(sm.PID, sm.StartTicks, fields)
		if err != nil {
			if collector.IsVanished(err) {
				w.gone[i] = true
				continue
			}
			return err
		}
		for k, v := range ts.Unavailable {
			missReason(sm, k, v)
		}
		// The tick's time is the middle of its reads: on a loaded machine
		// a tick of many threads takes a while.
		at := before + (s.opts.Now()-before)/2
		sm.Burst = append(sm.Burst, explain.Tick{At: at, TaskSamples: *ts, Runnable: runnable})
		w.children(i, ts)
	}
	return nil
}

// maxChildThreads bounds the threads whose children file each tick
// reads: the main thread first, then the others in order.
const maxChildThreads = 32

// children notes the children of sample i alive at this tick that were
// not its children at the first reading: born in the window.
func (w *watch) children(i int, ts *collector.TaskSamples) {
	tids := make([]int, 0, min(len(ts.Tasks), maxChildThreads))
	for _, t := range ts.Tasks {
		if len(tids) == maxChildThreads {
			break
		}
		tids = append(tids, t.TID)
	}
	kids, err := w.s.r.ThreadChildren(ts.PID, tids)
	if err != nil {
		return
	}
	k := &w.kids[i]
	k.threads = max(k.threads, len(tids))
	for _, c := range kids {
		if !k.first[c] {
			k.born[c] = true
		}
	}
}

// finish takes the last tick and the last full reading, and the family
// and neighbours.
func (w *watch) finish(ctx context.Context) error {
	s := w.s
	if err := w.tick(); err != nil {
		return err
	}
	before := s.opts.Now()
	snap, err := s.r.Scan(ctx, collector.ScanOptions{ThreadPIDs: w.pids})
	if err != nil {
		return err
	}
	w.lastSnap = snap
	at := before + (s.opts.Now()-before)/2
	w.lastAt = at
	w.last = s.hostLoad(snap)
	secs := (at - w.startAt).Seconds()
	usage := cpuUsage(w.first, snap, secs)
	for i, sm := range w.samples {
		p := findProcess(snap, sm.PID)
		if w.gone[i] || p == nil || p.StartTicks != sm.StartTicks {
			continue
		}
		w.reading(sm, &sm.Last, snap, p, at, w.last)
		w.tracers(sm)
		w.tracerOwner(sm)
		k := &w.kids[i]
		for j := range snap.Processes {
			if c := &snap.Processes[j]; c.PPID == sm.PID && !k.first[c.PID] {
				k.born[c.PID] = true
			}
		}
		sm.Births = &explain.Births{Seen: len(k.born), ThreadsRead: k.threads}
		sm.Comm, sm.Exe, sm.Cmdline = p.Comm, p.Exe, p.Cmdline
		if s.opts.Unprivileged {
			sm.Exe, sm.Cmdline = "", nil
		}
		sm.Family = w.family(p, snap, secs)
		w.zombieChildren(sm, p, snap)
		w.zombie(sm, p, snap)
		for _, u := range usage {
			if len(sm.Neighbours) == maxNeighbours {
				break
			}
			if u.PID != sm.PID && !inFamily(sm.Family, u.PID) {
				sm.Neighbours = append(sm.Neighbours, u)
			}
		}
	}
	return nil
}

// maxTracedThreads bounds the threads whose status tracers reads.
const maxTracedThreads = 64

// tracers reads the TracerPid of the process's threads at the window's
// end: first those seen stopped by a tracer (t) in the burst, then the
// others of the last tick, at most maxTracedThreads. The main thread's
// status says 0 when the tracer holds only a worker (review3 S2), and a
// worker traced but never stopped in a sample (a debugger attached to
// it and continued) is found only by its own status (fix12b's B-S4).
func (w *watch) tracers(sm *explain.Sample) {
	var tids []int
	seen := map[int]bool{}
	add := func(tid int) {
		if !seen[tid] && len(tids) < maxTracedThreads {
			seen[tid] = true
			tids = append(tids, tid)
		}
	}
	for i := range sm.Burst {
		for _, t := range sm.Burst[i].Tasks {
			if t.State == 't' {
				add(t.TID)
			}
		}
	}
	if n := len(sm.Burst); n > 0 {
		for _, t := range sm.Burst[n-1].Tasks {
			add(t.TID)
		}
	}
	if len(tids) == 0 {
		return
	}
	if tr, err := w.s.r.ThreadTracers(sm.PID, tids); err == nil {
		sm.Tracers = tr
	}
}

// tracerOwner names the task tracing the process at the window's end
// (the main thread's TracerPid, else a traced thread's): its process
// and command, so that explain says "strace (TracerPid N)", not a bare
// number (tester11 T4). Left nil when nothing traces it or the tracer is
// gone.
func (w *watch) tracerOwner(sm *explain.Sample) {
	tracer, tid := 0, sm.PID
	if p := sm.Last.Process; p != nil && p.Read&collector.SrcStatus != 0 {
		tracer = p.TracerPID
	}
	for _, t := range sm.Tracers {
		if tracer == 0 {
			tracer, tid = t.TracerPID, t.TID
		}
	}
	if tracer <= 0 {
		return
	}
	o, err := w.s.r.TaskOwner(tracer)
	if err != nil {
		return
	}
	// The tracer may have exited, and its pid been reused, between the
	// TracerPid and its owner's reading: the traced thread still names
	// it afterwards only if it is the same task (a tracer's exit
	// detaches its tracees).
	if tr, err := w.s.r.ThreadTracers(sm.PID, []int{tid}); err == nil && len(tr) == 1 && tr[0].TracerPID == tracer {
		sm.Tracer = &o
	}
}

// reading fills one full reading of p and returns its address space (nil
// when unreadable).
func (w *watch) reading(sm *explain.Sample, rd *explain.Reading, snap *collector.Snapshot, p *collector.Process, at time.Duration, host explain.HostLoad) *collector.AddressSpace {
	s := w.s
	pc := *p
	rd.At = at
	rd.Process = &pc
	rd.Host = host
	if host.Pressure.Unavailable != nil {
		for k, v := range host.Pressure.Unavailable {
			missReason(sm, "pressure/"+k, v)
		}
	}
	w.hostGaps(sm, snap)
	if c, err := s.r.CgroupCPU(p.PID); err == nil {
		rd.Cgroup = c
	} else {
		miss(sm, "cgroup", err)
	}
	if s.opts.Unprivileged {
		// What an unprivileged reader cannot read of another user's
		// process: the process copy keeps no executable or layout, and
		// a zombie no exit status (stat field 52 reads 0 for it).
		pc.Exe, pc.ExeDeleted, pc.Cmdline = "", false, nil
		pc.Layout = collector.Layout{}
		if pc.IsZombie() {
			pc.ExitCode = -1
			pc.Unavailable = maps.Clone(pc.Unavailable)
			if pc.Unavailable == nil {
				pc.Unavailable = map[string]string{}
			}
			pc.Unavailable["exit_code"] = UnprivilegedReason
		}
		return nil
	}
	if io, err := s.r.IO(p.PID); err == nil {
		rd.IO = io
	} else {
		miss(sm, "io", err)
	}
	if s.machine.DelayAcct == "on" {
		readDelays(s.r, sm, rd, p.PID)
	}
	as, err := s.r.AddressSpace(p.PID, collector.AddrOptions{PerMapping: true, StartTicks: p.StartTicks})
	if err != nil {
		miss(sm, "smaps", err)
		return nil
	}
	if as.Memory == nil {
		if why, ok := as.Unavailable["memory"]; ok {
			missReason(sm, "smaps", why)
		}
		return as
	}
	rd.Memory = explain.MemoryOf(as)
	return as
}

// hostFiles are the machine's files whose absence explain names
// (Unavailable["host/NAME"]): without them the run-queue, neighbours
// and fork findings have nothing to say, and absent is not 0 (tester12
// B5: a --proc-root tree without loadavg was not mentioned).
var hostFiles = []string{"stat", "loadavg", "uptime"}

// hostGaps notes the machine's files snap could not read, by path.
func (w *watch) hostGaps(sm *explain.Sample, snap *collector.Snapshot) {
	for _, k := range hostFiles {
		if why, ok := snap.Host.Unavailable[k]; ok {
			missReason(sm, "host/"+k, "read "+w.s.hostPath(k)+": "+why)
		}
	}
	// The CPU count (cpuinfo) is named under its own key, "cpus", which
	// the findings quote instead of dividing by a count of 0.
	if why, ok := snap.Host.Unavailable["cpus"]; ok {
		missReason(sm, "cpus", why)
	}
}

// family is p's family in snap: the oldest ancestor running the same
// executable (not init), and all its descendants, with their memory.
func (w *watch) family(p *collector.Process, snap *collector.Snapshot, secs float64) *explain.Family {
	// An unprivileged reader cannot read another user's executable: the
	// family is then the ancestors with the same name.
	same := func(a, b *collector.Process) bool { return a.Exe != "" && a.Exe == b.Exe }
	if w.s.opts.Unprivileged {
		same = func(a, b *collector.Process) bool { return a.Comm == b.Comm }
	}
	members := explain.FamilyOf(snap, p, same)
	if len(members) < 2 {
		return nil
	}
	old := make(map[collector.ID]*collector.Process, len(members))
	for i := range w.first.Processes {
		q := &w.first.Processes[i]
		old[q.ID()] = q
	}
	f := &explain.Family{RootPID: members[0].PID}
	for _, q := range members {
		pid := q.PID
		m := explain.Member{PID: pid, PPID: q.PPID, Comm: q.Comm, Exe: q.Exe, CPUSeconds: -1}
		if o := old[q.ID()]; o != nil && secs > 0 {
			m.CPUSeconds = float64(q.CPUTicks()-min(q.CPUTicks(), o.CPUTicks())) / collector.ClockTicks
		}
		switch {
		case w.s.opts.Unprivileged:
			m.Exe, m.Why = "", UnprivilegedReason
		case q.IsZombie() || q.IsKernelThread():
			m.Why = "no address space"
		default:
			t, err := w.s.r.MemoryTotals(pid)
			if err == nil {
				m.Memory = t
			} else {
				m.Why = collector.Reason(err)
			}
		}
		f.Members = append(f.Members, m)
	}
	return f
}

func inFamily(f *explain.Family, pid int) bool {
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

func findProcess(snap *collector.Snapshot, pid int) *collector.Process {
	i, ok := collector.SearchPID(snap.Processes, pid)
	if !ok {
		return nil
	}
	return &snap.Processes[i]
}

// miss records why a source of a process that is there could not be
// read: a file that does not exist is "not present" (a fixture tree, a
// kernel without it), not "vanished".
func miss(sm *explain.Sample, key string, err error) {
	var re *collector.ReadError
	if errors.As(err, &re) && re.Err != nil {
		err = re.Err
	}
	why := collector.Reason(err)
	if errors.Is(err, syscall.ENOENT) {
		why = "not present"
	}
	missReason(sm, key, why)
}

func missReason(sm *explain.Sample, key, why string) {
	if sm.Unavailable == nil {
		sm.Unavailable = map[string]string{}
	}
	if _, ok := sm.Unavailable[key]; !ok {
		sm.Unavailable[key] = why
	}
}

// readDelays fills rd.Delays from taskstats (a TGID query), or says in
// sm.Unavailable["taskstats"] why it could not: the socket needs
// CAP_NET_ADMIN. Only called with delay accounting on: with it off the
// totals do not move and would read as "no delay".
func readDelays(r *collector.Reader, sm *explain.Sample, rd *explain.Reading, pid int) {
	d, err := r.Delays(pid)
	switch {
	case err == nil:
		rd.Delays = d
	case collector.IsDenied(err):
		missReason(sm, "taskstats", "needs CAP_NET_ADMIN (taskstats over netlink was denied)")
	case errors.Is(err, collector.ErrNoTaskstats):
		missReason(sm, "taskstats", err.Error())
	default:
		miss(sm, "taskstats", err)
	}
}
