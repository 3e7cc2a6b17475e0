package monitor

import (
	"cmp"
	"errors"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
)

// This file is the monitor's side of `pinspect explain` for live views
// (Options.Explain): per tick it keeps a short memory history of every
// process, the machine's load and pressure, and for the focused process a
// ring of full readings and per-thread samples; from them each frame gets
// explain's findings (Frame.Explain). The reads it adds per tick are
// three pressure files and loadavg, and for the focused process its
// threads' schedstat, wchan and syscall, its io and its cgroup CPU files.

// Defaults of the explain rings.
const (
	// DefaultExplainTicks is how many ticks of the focused process the
	// findings span (10 s at the default interval).
	DefaultExplainTicks = 10
	// MemoryHistoryLen is how many ticks of memory each process keeps (2
	// minutes at the default interval): the leak finding's history.
	MemoryHistoryLen = 120
)

// ExplainFrame is what explain says at one frame.
type ExplainFrame struct {
	// PID is the focused process the findings are about (0: none).
	PID int
	// Focus are its findings over the last Ticks ticks, worst first; nil
	// until two ticks of it were read. FocusGaps is what could not be
	// measured.
	Focus     []explain.Finding
	FocusGaps []explain.Unmeasured
	Ticks     int
	// Machine are the machine's findings over the last ticks, worst
	// first.
	Machine []explain.Finding
}

// explainer holds the explain rings; it is owned by Run's goroutine.
type explainer struct {
	r     *collector.Reader
	ticks int
	arch  string
	root  bool
	mem   memHists
	tick  uint64                          // ticks seen
	times [MemoryHistoryLen]time.Duration // each tick's time, by tick % MemoryHistoryLen
	host  []hostTick
	focus collector.ID
	ring  []focusTick
	rt    collector.Runtime
	fds   *collector.FDSummary
	unav  map[string]string
	top   []explain.Neighbour // this tick's busiest processes over the host ring
	// memMu guards mem: a server reads a process's history (History)
	// from its own goroutines.
	memMu sync.Mutex
}

// hostTick is the machine's load at one tick.
type hostTick struct {
	at       time.Duration
	load     explain.HostLoad
	runnable int
	// cpu is each process's CPU time at this tick: all that the busiest
	// processes (explain.TopCPUSince) need of an older tick. The ring
	// holds ten ticks; holding their whole snapshots (every thread) kept
	// about 45 MB live at 2,000 x 9, above serve's 40 MiB memory limit,
	// and the garbage collector then ran back to back.
	cpu []explain.CPUTime
}

// focusTick is one tick of the focused process.
type focusTick struct {
	reading explain.Reading
	tick    explain.Tick
}

func newExplainer(r *collector.Reader, o Options) *explainer {
	return &explainer{
		r: r, ticks: cmp.Or(o.ExplainTicks, DefaultExplainTicks), arch: runtime.GOARCH,
		root: unix.Geteuid() == 0,
	}
}

// observe takes one tick's snapshot and focus and returns the frame's
// findings.
func (e *explainer) observe(snap *collector.Snapshot, focus *Focus) *ExplainFrame {
	at := snap.Monotonic
	e.remember(snap, at)
	ht := hostTick{at: at, cpu: explain.CPUTimesOf(snap), runnable: -1, load: explain.HostLoad{
		ProcsRunning: snap.Host.ProcsRunning, ProcsBlocked: snap.Host.ProcsBlocked,
		CPUTicks: snap.Host.CPUTicks, CPUIdleTicks: snap.Host.CPUIdleTicks, Pressure: e.r.Pressure(),
	}}
	if n, _, err := e.r.Runnable(); err == nil {
		ht.runnable = n
	}
	e.host = append(e.host, ht)
	if len(e.host) > e.ticks {
		e.host = slices.Delete(e.host, 0, len(e.host)-e.ticks)
	}
	e.top = nil
	if len(e.host) >= 2 {
		old := e.host[0]
		e.top = explain.TopCPUSince(old.cpu, snap, (at - old.at).Seconds(), 10)
	}
	out := &ExplainFrame{Machine: e.machine(snap)}
	if focus == nil || focus.Process == nil {
		e.ring = e.ring[:0]
		e.focus = collector.ID{}
		return out
	}
	p := focus.Process
	out.PID = p.PID
	if p.ID() != e.focus {
		e.newFocus(p, focus)
	}
	e.readFocus(p, focus, ht)
	out.Ticks = len(e.ring)
	if len(e.ring) >= 2 {
		s := e.sample(p, snap)
		out.Focus = explain.Explain(s)
		out.FocusGaps = explain.GapsAt(explain.Gaps(s), snap.Root, p.PID)
	}
	return out
}

// memHist is one process's RSS at consecutive ticks, in KiB (4 bytes a
// point: the history of every process must stay small beside the
// snapshots), from tick first on: n points, the oldest at kib[head], a
// ring.
type memHist struct {
	first   uint64
	n, head int32
	kib     [MemoryHistoryLen]uint32
}

// at is the k-th oldest point.
func (h *memHist) at(k int) uint32 { return h.kib[(int(h.head)+k)%MemoryHistoryLen] }

// memHists are the processes' memory histories in one array (slot, by
// process) with no pointer in it or in the index: at 2,000 processes
// a history each was two objects (4,000 for each collection to follow,
// a quarter of the dashboard's small live objects) and a 480-byte
// move of the full ones at every tick.
//
// The index is the last tick's processes in id order (pid, then start),
// as a snapshot lists them: a tick finds each process's slot by one
// merge with it, and frees the slots of the processes gone by a walk of
// it, instead of a map lookup a process and a walk of the whole map
// (explainer.remember was 2 % of serve's collection, serve14); a lookup
// by id (History) is a binary search.
type memHists struct {
	live []memSlot // the last tick's histories, by id
	next []memSlot // the buffer of the next tick's
	hist []memHist
	free []int32
}

// memSlot is one process's history: its id and slot in memHists.hist.
type memSlot struct {
	id   collector.ID
	slot int32
}

// cmpMemSlot orders memSlots by id: pid, then start.
func cmpMemSlot(a memSlot, id collector.ID) int {
	if c := cmp.Compare(a.id.PID, id.PID); c != 0 {
		return c
	}
	return cmp.Compare(a.id.StartTicks, id.StartTicks)
}

// get is id's history, nil when it has none.
func (m *memHists) get(id collector.ID) *memHist {
	if i, ok := slices.BinarySearchFunc(m.live, id, cmpMemSlot); ok {
		return &m.hist[m.live[i].slot]
	}
	return nil
}

// newSlot is an empty history from tick first on, in a free slot.
func (m *memHists) newSlot(first uint64) int32 {
	var i int32
	if n := len(m.free); n > 0 {
		i, m.free = m.free[n-1], m.free[:n-1]
	} else {
		i = int32(len(m.hist))
		m.hist = append(m.hist, memHist{})
	}
	h := &m.hist[i]
	h.first, h.n, h.head = first, 0, 0
	return i
}

// finish makes next (the histories of tick, in the order the tick's
// snapshot listed them) the index, frees the slots of the last tick's
// histories that did not reach tick (their processes gone, or not read
// at it), and drops the array's slack when most of it is free.
func (m *memHists) finish(next []memSlot, tick uint64) {
	if !slices.IsSortedFunc(next, func(a, b memSlot) int { return cmpMemSlot(a, b.id) }) {
		// Only for a snapshot out of pid order, which no scan makes.
		slices.SortFunc(next, func(a, b memSlot) int { return cmpMemSlot(a, b.id) })
	}
	for _, e := range m.live {
		if h := &m.hist[e.slot]; h.first+uint64(h.n) != tick+1 {
			m.free = append(m.free, e.slot)
		}
	}
	m.live, m.next = next, m.live[:0]
	if len(m.hist) > 64 && len(m.live) < len(m.hist)/4 {
		hist := make([]memHist, len(m.live), 2*len(m.live))
		for k := range m.live {
			hist[k] = m.hist[m.live[k].slot]
			m.live[k].slot = int32(k)
		}
		m.hist, m.free = hist, m.free[:0]
	}
}

// remember appends every process's RSS to its history and forgets the
// processes gone (or not read at this tick: a history has no gaps).
func (e *explainer) remember(snap *collector.Snapshot, at time.Duration) {
	e.memMu.Lock()
	defer e.memMu.Unlock()
	e.tick++
	e.times[e.tick%MemoryHistoryLen] = at
	m := &e.mem
	prev, next := m.live, m.next[:0]
	j := 0
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if p.Read&collector.SrcStat == 0 || p.RSSBytes == 0 {
			continue
		}
		id := p.ID()
		if n := len(next); n > 0 && next[n-1].id == id {
			continue // listed twice in this tick
		}
		for j < len(prev) && cmpMemSlot(prev[j], id) < 0 {
			j++
		}
		slot := int32(-1)
		if j < len(prev) && prev[j].id == id {
			slot = prev[j].slot
			j++
		} else if k, ok := slices.BinarySearchFunc(prev, id, cmpMemSlot); ok {
			slot = prev[k].slot // only for a snapshot out of pid order
		}
		var h *memHist
		if slot >= 0 {
			h = &m.hist[slot]
			if h.first+uint64(h.n) == e.tick+1 {
				continue // listed twice in this tick, apart
			}
		}
		if h == nil || h.first+uint64(h.n) != e.tick {
			if slot < 0 {
				slot = m.newSlot(e.tick)
			}
			h = &m.hist[slot]
			h.first, h.n, h.head = e.tick, 0, 0
		}
		kib := uint32(min(p.RSSBytes>>10, math.MaxUint32))
		if h.n == MemoryHistoryLen {
			h.kib[h.head] = kib // over the oldest
			h.head = (h.head + 1) % MemoryHistoryLen
			h.first++
		} else {
			h.kib[(int(h.head)+int(h.n))%MemoryHistoryLen] = kib
			h.n++
		}
		next = append(next, memSlot{id, slot})
	}
	m.finish(next, e.tick)
}

// newFocus starts the ring over for a newly focused process and reads
// what is read once: its descriptors and runtime.
func (e *explainer) newFocus(p *collector.Process, focus *Focus) {
	e.focus = p.ID()
	e.ring = e.ring[:0]
	e.unav = map[string]string{}
	e.fds = nil
	if fds, err := e.r.FDs(p.PID); err == nil {
		e.fds = fds
	} else {
		e.unav["fd"] = e.focusReason(p.PID, err)
	}
	var maps []collector.Mapping
	if focus.Space != nil {
		maps = focus.Space.Maps
	}
	nsPID := 0
	if len(p.NSPids) > 0 {
		nsPID = p.NSPids[len(p.NSPids)-1]
	}
	clues, unavail := e.r.RuntimeClues(p.PID, maps, p.User, nsPID)
	for k, v := range unavail {
		e.unav[k] = v
	}
	e.rt = collector.DetectRuntime(clues)
}

// focusReason is why a file of the focused process pid could not be
// read (err): a file missing where the process's directory is still
// there is "not present" (a tree without it, --proc-root), as explain's
// sampler says, not "vanished".
func (e *explainer) focusReason(pid int, err error) string {
	if errors.Is(err, unix.ENOENT) {
		var st unix.Stat_t
		if unix.Stat(e.r.Root()+"/"+strconv.Itoa(pid), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return collector.ReasonNotPresent
		}
	}
	return collector.Reason(err)
}

// readFocus reads one tick of the focused process into the ring. The ring
// keeps its own copy of p: p points into the snapshot's processes, and
// keeping that pointer for ten ticks kept ten whole snapshots alive
// (about 4 MB each at 2,000 processes).
func (e *explainer) readFocus(p *collector.Process, focus *Focus, ht hostTick) {
	ft := focusTick{reading: explain.Reading{At: ht.at, Process: detached(p), Host: ht.load, Memory: explain.MemoryOf(focus.Space)}}
	if io, err := e.r.IO(p.PID); err == nil {
		ft.reading.IO = io
	} else {
		e.unav["io"] = e.focusReason(p.PID, err)
	}
	if c, err := e.r.CgroupCPU(p.PID); err == nil {
		ft.reading.Cgroup = c
	} else {
		e.unav["cgroup"] = e.focusReason(p.PID, err)
	}
	ts, err := e.r.Tasks(p.PID, p.StartTicks, collector.ProbeAll)
	if err != nil {
		e.unav["task"] = collector.Reason(err)
		return
	}
	for k, v := range ts.Unavailable {
		e.unav[k] = v
	}
	ft.tick = explain.Tick{At: ht.at, TaskSamples: *ts, Runnable: ht.runnable}
	e.ring = append(e.ring, ft)
	if len(e.ring) > e.ticks {
		e.ring = slices.Delete(e.ring, 0, len(e.ring)-e.ticks)
	}
}

// sample builds the focused process's Sample from the ring.
func (e *explainer) sample(p *collector.Process, snap *collector.Snapshot) *explain.Sample {
	first, last := e.ring[0], e.ring[len(e.ring)-1]
	s := &explain.Sample{
		Version: explain.SampleVersion, TakenAt: snap.TakenAt, PID: p.PID, StartTicks: p.StartTicks,
		Comm: p.Comm, Exe: p.Exe, User: p.User,
		Machine: explain.Machine{Arch: e.arch, CPUs: snap.Host.CPUs, Kernel: snap.Host.Kernel, Root: e.root},
		First:   first.reading, Last: last.reading,
		Runtime: e.rt, FDs: e.fds, Unavailable: e.unav,
	}
	if why, ok := snap.Host.Unavailable["cpus"]; ok && snap.Host.CPUs <= 0 {
		// The CPU count unknown (no cpuinfo): said with its reason, as
		// explain's sampler says it, not as a count of 0.
		s.Unavailable = maps.Clone(e.unav)
		s.Unavailable["cpus"] = why
	}
	for _, ft := range e.ring {
		s.Burst = append(s.Burst, ft.tick)
	}
	if lp := last.reading.Process; lp != nil && lp.TracerPID > 0 {
		// The tracer by command and pid, from the snapshot the
		// TracerPid came with (no file read).
		if o, ok := collector.TaskOwnerIn(snap, lp.TracerPID); ok {
			s.Tracer = &o
		}
	}
	// History before the ring: the burst carries the ring's own points.
	for _, m := range e.history(p.ID()) {
		if m.At < first.reading.At {
			s.History = append(s.History, m)
		}
	}
	for _, u := range e.top {
		if u.PID != p.PID && len(s.Neighbours) < 5 {
			s.Neighbours = append(s.Neighbours, u)
		}
	}
	return s
}

// machine returns the machine's findings over the host ring.
func (e *explainer) machine(snap *collector.Snapshot) []explain.Finding {
	if len(e.host) < 2 {
		return nil
	}
	first, last := e.host[0], e.host[len(e.host)-1]
	m := &explain.MachineSample{
		Version: explain.SampleVersion, TakenAt: snap.TakenAt,
		Machine: explain.Machine{Arch: e.arch, CPUs: snap.Host.CPUs, Kernel: snap.Host.Kernel, Root: e.root},
		FirstAt: first.at, LastAt: last.at, First: first.load, Last: last.load,
		Top: e.top,
	}
	for _, h := range e.host {
		m.Runnable = append(m.Runnable, h.runnable)
	}
	if why, ok := snap.Host.Unavailable["cpus"]; ok && snap.Host.CPUs <= 0 {
		m.Unavailable = map[string]string{"cpus": why}
	}
	return explain.ExplainMachine(m)
}

// history returns the memory history of a process.
func (e *explainer) history(id collector.ID) []explain.MemoryPoint {
	e.memMu.Lock()
	defer e.memMu.Unlock()
	h := e.mem.get(id)
	if h == nil {
		return nil
	}
	out := make([]explain.MemoryPoint, h.n)
	for k := range out {
		out[k] = explain.MemoryPoint{At: e.times[(h.first+uint64(k))%MemoryHistoryLen], RSSBytes: uint64(h.at(k)) << 10}
	}
	return out
}

// MemoryHistory returns the last MemoryHistoryLen ticks of a process's
// RSS, on the snapshots' monotonic clock, oldest first; nil without
// Options.Explain or Options.MemoryHistory, or for a process not seen.
// It is safe for concurrent use.
func (m *Monitor) MemoryHistory(id collector.ID) []explain.MemoryPoint {
	if m.ex == nil {
		return nil
	}
	return m.ex.history(id)
}

// detached is a copy of p that shares nothing with the snapshot p is in
// but what is immutable and its own (strings, maps): its threads, cut
// from a slab the whole scan shares, are copied too.
func detached(p *collector.Process) *collector.Process {
	c := *p
	c.Threads = slices.Clone(p.Threads)
	return &c
}
