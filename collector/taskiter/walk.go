package taskiter

// The walk: one run of pinspect_walk (a BPF_PROG_TYPE_SYSCALL program, run
// with BPF_PROG_TEST_RUN) walks every task of the machine with the
// kernel's open-coded task iterator (Linux 6.7 and later) and writes the
// records into two arrays mapped into this process, so that a pass costs
// a program run and reading memory: no seq_file, no read() calls, no
// per-task program call or pid lookup in the kernel.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// walkObjects is the walk's program, its two outer arrays and its counts.
type walkObjects struct {
	Prog    *ebpf.Program  `ebpf:"pinspect_walk"`
	Tasks   *ebpf.Map      `ebpf:"walk_tasks"`
	Groups  *ebpf.Map      `ebpf:"walk_groups"`
	Scratch *ebpf.Map      `ebpf:"scratch"`
	Want    *ebpf.Map      `ebpf:"walk_want"`
	Sum     *ebpf.Variable `ebpf:"walk_sum_threads"`
	NoIO    *ebpf.Variable `ebpf:"walk_no_io"`
	NoSig   *ebpf.Variable `ebpf:"walk_no_sighand"`
	CgID    *ebpf.Variable `ebpf:"walk_cgroup_id"`
	Count   *ebpf.Variable `ebpf:"walk_count_only"`
	NTasks  *ebpf.Variable `ebpf:"walk_ntasks"`
	NGroups *ebpf.Variable `ebpf:"walk_ngroups"`
	Full    *ebpf.Variable `ebpf:"walk_full"`
}

// slots is one inner array (task or group records) and the windows of
// it mapped into this process. An array is read through a few windows of
// about 256 KiB, not mapped whole: a mapping of a BPF array is resident
// from the start (every page of it counts in pinspect's RSS), and at
// 10,000 processes the group records alone are 7.8 MB. A pass reads the
// arrays nearly in order (the processes were made nearly in pid order),
// so each window is mapped at most twice a pass (indexing the leaders,
// then decoding); the windows stay mapped between passes.
type slots struct {
	id      ebpf.MapID // the array (no descriptor is kept between passes: see withMap)
	cap     int        // records it holds
	spec    *ebpf.MapSpec
	recSize int
	perWin  int // records in a window: a whole number of pages
	wins    [winCount]window
	clock   uint64
	// open is the array, opened by id at the first window a pass maps
	// and closed when the pass ends (done), so that mapping a window is
	// one system call, not four.
	open *ebpf.Map
}

// window is one mapped part of an array: records [first, first+n).
type window struct {
	first, n int
	mem      []byte
	used     uint64 // slots.clock when last used
}

// winCount is the windows mapped per array: two streams of nearly
// ordered reads (the processes before and after the pids wrapped) and
// the threads after a leader.
const winCount = 4

// winBytes is about the size of a window (a variable: tests make it
// small to read through many windows).
var winBytes = 256 << 10

// at is record i of the array, in a window mapped on demand. The pointer
// is valid until the next call to at.
func (s *slots) at(i int) (unsafe.Pointer, error) {
	w := i / s.perWin
	s.clock++
	lru := 0
	for k := range s.wins {
		win := &s.wins[k]
		if win.mem != nil && win.first == w*s.perWin {
			win.used = s.clock
			return unsafe.Pointer(&win.mem[(i-win.first)*s.recSize]), nil
		}
		if win.used < s.wins[lru].used {
			lru = k
		}
	}
	win := &s.wins[lru]
	if win.mem != nil {
		_ = unix.Munmap(win.mem)
		win.mem = nil
	}
	first := w * s.perWin
	n := min(s.perWin, s.cap-first)
	pg := os.Getpagesize()
	size := (n*s.recSize + pg - 1) / pg * pg
	if s.open == nil {
		m, err := ebpf.NewMapFromID(s.id)
		if err != nil {
			return nil, fmt.Errorf("walk: open array: %w", err)
		}
		s.open = m
	}
	mem, err := unix.Mmap(s.open.FD(), int64(first*s.recSize), size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("walk: map records %d-%d: %w", first, first+n, err)
	}
	*win = window{first: first, n: n, mem: mem, used: s.clock}
	return unsafe.Pointer(&mem[(i-first)*s.recSize]), nil
}

// done closes the array's descriptor at the end of a pass: a window
// holds the array by its mapping, and no descriptor is kept between
// passes (see withMap).
func (s *slots) done() {
	if s.open != nil {
		_ = s.open.Close()
		s.open = nil
	}
}

// unmap unmaps every window.
func (s *slots) unmap() {
	for k := range s.wins {
		if s.wins[k].mem != nil {
			_ = unix.Munmap(s.wins[k].mem)
		}
		s.wins[k] = window{}
	}
}

// global is one of the walk's global variables: an *ebpf.Variable of a
// load, or a word of a pinned walk's data section (pin.go).
type global interface {
	Set(in any) error
	Get(out any) error
}

// walkGlobals are the walk's globals that pinspect sets and reads.
type walkGlobals struct {
	Sum, NoIO, NoSig, CgID, Count, NTasks, NGroups, Full global
}

// globalsOf are the globals of a loaded walk.
func globalsOf(o *walkObjects) walkGlobals {
	return walkGlobals{Sum: o.Sum, NoIO: o.NoIO, NoSig: o.NoSig, CgID: o.CgID, Count: o.Count, NTasks: o.NTasks, NGroups: o.NGroups, Full: o.Full}
}

// walker runs the walk and decodes its arrays.
type walker struct {
	objs          walkObjects
	mu            sync.Mutex // one pass at a time: passes share the arrays
	tasks, groups slots
	leaders       []leaderAt
	leaderTmp     []leaderAt // sortLeaders' scratch
	missing       []int      // the last pass's missing parents (AfterRun's)
	// The outer arrays and walk_want, opened by id when needed.
	tasksID, groupsID, wantID ebpf.MapID
	want                      []int // the processes in walk_want, sorted
	summing                   bool  // walk_sum_threads
	noIO                      bool  // walk_no_io
	noSighand                 bool  // walk_no_sighand
	cgroupID                  bool  // walk_cgroup_id
	// counted is the machine's tasks and processes at load, which size
	// the arrays at the first pass.
	countedTasks, countedGroups int
	// processes is the processes of the last run (Iterator.Processes).
	processes atomic.Int64
	// roomy counts the passes in a row that needed under a quarter of
	// the arrays (after a dashboard showed every thread for a while):
	// past shrinkAfter they shrink, giving back their memory.
	roomy int
	// raw runs the walk with rawRun (Options.RawRuns), set after the
	// load's counting run went through cilium/ebpf's Run.
	raw bool
	// vars are objs' globals, or a pinned walk's (pin.go).
	vars walkGlobals
	// pinned: the arrays are a pin's, sized by `bpf pin`; never shrunk.
	pinned bool
}

// shrinkAfter is how many roomy passes in a row shrink the arrays.
const shrinkAfter = 8

// walkWantMax is WALK_WANT_MAX in taskiter.bpf.c.
const walkWantMax = 4096

// leaderAt is where a process's records are: its leader's task record
// (followed by its threads') and its group record.
type leaderAt struct {
	tgid, task, group int
	ppid              int // the real parent's thread group id, 0 when it has none
}

// walkMaxRuns bounds the runs of one pass when the arrays must grow (the
// machine makes tasks faster than the arrays grow).
const walkMaxRuns = 4

// openWalk loads the walk and sizes its arrays from a first run.
func openWalk(spec *ebpf.CollectionSpec, copts *ebpf.CollectionOptions) (*walker, error) {
	w := &walker{}
	spec = resized(spec, "pinspect_walk", map[string]uint32{"walk_tasks": 0, "walk_groups": 0, "walk_want": 0, "scratch": 0})
	if err := spec.LoadAndAssign(&w.objs, copts); err != nil {
		return nil, err
	}
	w.vars = globalsOf(&w.objs)
	w.tasks.spec = spec.Maps["walk_tasks"].InnerMap
	w.groups.spec = spec.Maps["walk_groups"].InnerMap
	var err error
	if w.tasks.spec == nil || w.groups.spec == nil {
		err = errors.New("the walk's arrays have no inner map")
	}
	if err == nil {
		w.tasksID, err = mapID(w.objs.Tasks)
	}
	if err == nil {
		w.groupsID, err = mapID(w.objs.Groups)
	}
	if err == nil {
		w.wantID, err = mapID(w.objs.Want)
	}
	// The program holds its maps: their descriptors are not kept.
	for _, m := range []*ebpf.Map{w.objs.Tasks, w.objs.Groups, w.objs.Want, w.objs.Scratch} {
		_ = m.Close()
	}
	if err != nil {
		_ = w.close()
		return nil, err
	}
	// A run that only counts (it needs no arrays) proves the walk runs
	// here and sizes the arrays at the first pass.
	err = w.vars.Count.Set(uint32(1))
	if err == nil {
		w.countedTasks, w.countedGroups, _, err = w.once()
	}
	if err == nil {
		err = w.vars.Count.Set(uint32(0))
		w.processes.Store(int64(w.countedGroups))
	}
	if err != nil {
		_ = w.close()
		return nil, err
	}
	return w, nil
}

// count runs the walk in its counting mode (as at load), between
// passes: how many tasks and processes it sees.
func (w *walker) count() (ntasks, ngroups int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.vars.Count.Set(uint32(1)); err != nil {
		return 0, 0, fmt.Errorf("walk: %w", err)
	}
	ntasks, ngroups, _, err = w.once()
	if err2 := w.vars.Count.Set(uint32(0)); err == nil && err2 != nil {
		err = fmt.Errorf("walk: %w", err2)
	}
	return ntasks, ngroups, err
}

// run runs the walk until every record fits, growing the arrays, and
// returns how many task and group records it wrote.
func (w *walker) run() (nt, ng int, err error) {
	for range walkMaxRuns {
		ntasks, ngroups, full, err := w.once()
		if err != nil {
			return 0, 0, err
		}
		if !full {
			return ntasks, ngroups, nil
		}
		if err := w.grow(ntasks, ngroups); err != nil {
			return 0, 0, err
		}
	}
	return 0, 0, errors.New("walk: the task count kept outgrowing the arrays")
}

// once runs the walk: the task and group records it found, and whether
// some did not fit.
func (w *walker) once() (ntasks, ngroups int, full bool, err error) {
	var ret uint32
	if w.raw {
		ret, err = rawRun(w.objs.Prog, nil)
	} else {
		ret, err = w.objs.Prog.Run(&ebpf.RunOptions{})
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("walk: %w", err)
	}
	if ret != 0 {
		return 0, 0, false, errors.New("walk: the program found no arrays")
	}
	var nt, ng, f uint32
	if err := errors.Join(w.vars.NTasks.Get(&nt), w.vars.NGroups.Get(&ng), w.vars.Full.Get(&f)); err != nil {
		return 0, 0, false, fmt.Errorf("walk: %w", err)
	}
	full = f != 0 || int(nt) > w.tasks.cap || int(ng) > w.groups.cap
	return int(nt), int(ng), full, nil
}

// make makes arrays of ntasks and ngroups records.
func (w *walker) make(ntasks, ngroups int) error {
	if err := w.tasks.resize(w.tasksID, ntasks); err != nil {
		return err
	}
	return w.groups.resize(w.groupsID, ngroups)
}

// grow makes the arrays hold ntasks and ngroups records, with a quarter
// to spare so that a growing machine does not resize at every pass.
func (w *walker) grow(ntasks, ngroups int) error {
	if ntasks > w.tasks.cap {
		if err := w.tasks.resize(w.tasksID, ntasks+ntasks/4+64); err != nil {
			return err
		}
	}
	if ngroups > w.groups.cap {
		if err := w.groups.resize(w.groupsID, ngroups+ngroups/4+64); err != nil {
			return err
		}
	}
	return nil
}

// resize replaces the inner array of the outer array outerID by one of n
// records.
func (s *slots) resize(outerID ebpf.MapID, n int) error {
	spec := s.spec.Copy()
	spec.MaxEntries = uint32(n)
	// Without the record types: the kernel compares an inner array with
	// the template by kind, sizes and flags only, and with them each new
	// array loaded a BTF object of its own (about 0.4 % of a one-shot
	// `pinspect --json` at 2,000 x 9).
	spec.Key, spec.Value = nil, nil
	m, err := ebpf.NewMap(spec)
	if err != nil {
		return fmt.Errorf("walk: array of %d records: %w", n, err)
	}
	defer m.Close() // the outer array holds it
	id, err := mapID(m)
	if err == nil {
		err = withMap(outerID, func(outer *ebpf.Map) error { return outer.Update(uint32(0), m, ebpf.UpdateAny) })
	}
	if err != nil {
		return fmt.Errorf("walk: install array of %d records: %w", n, err)
	}
	s.release()
	s.id, s.cap = id, n
	// A window is a whole number of pages and of records.
	s.recSize = int(spec.ValueSize)
	pg := os.Getpagesize()
	unit := pg / gcd(pg, s.recSize) // records in the smallest such window
	s.perWin = unit * max(1, winBytes/(unit*s.recSize))
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (s *slots) release() {
	s.done()
	s.unmap()
	s.id, s.cap = 0, 0
}

// mapID is m's id.
func mapID(m *ebpf.Map) (ebpf.MapID, error) {
	info, err := m.Info()
	if err != nil {
		return 0, err
	}
	id, ok := info.ID()
	if !ok {
		return 0, errors.New("the kernel gives no map ids")
	}
	return id, nil
}

// withMap opens map id for f. The walk keeps no map descriptor open
// between passes (serve under a descriptor flood keeps a reserve of
// them, and the seq_file iterator held four); the program holds its
// maps, and they are opened by id when pinspect must touch them.
func withMap(id ebpf.MapID, f func(*ebpf.Map) error) error {
	m, err := ebpf.NewMapFromID(id)
	if err != nil {
		return err
	}
	defer m.Close()
	return f(m)
}

func (w *walker) close() error {
	w.tasks.release()
	w.groups.release()
	return w.objs.Prog.Close()
}

// pass runs the walk and calls visit for every task: the processes in
// ascending pid order, each leader (with its Group) followed by its
// threads.
func (w *walker) pass(bootOffset uint64, o PassOptions, visit func(*Task) error) (PassStats, error) {
	var st PassStats
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.groups.done()
	defer w.tasks.done()
	if err := w.prepare(o); err != nil {
		return st, fmt.Errorf("task iterator: %w", err)
	}
	if o.BeforeRun != nil {
		o.BeforeRun()
	}
	nt, ng, err := w.run()
	if err != nil {
		return st, fmt.Errorf("task iterator: %w", err)
	}
	w.processes.Store(int64(ng))
	leaders, err := w.indexLeaders(nt, ng)
	if err != nil {
		return st, err
	}
	if o.AfterRun != nil {
		w.missing = missingParents(leaders, w.missing[:0])
		o.AfterRun(w.missing)
	}
	d := walkDecoder{w: w, nt: nt, bootOffset: bootOffset, visit: visit, st: &st}
	// Threads before the first leader: none on Linux (every thread
	// follows its leader), but visit them rather than drop them.
	first := nt
	for _, l := range leaders {
		first = min(first, l.task)
	}
	for i := 0; i < first; i++ {
		if err := d.emit(i, nil); err != nil {
			return st, err
		}
	}
	for _, l := range leaders {
		if err := d.process(l); err != nil {
			return st, err
		}
	}
	w.shrink(nt, ng)
	return st, nil
}

// missingParents appends to pids the parents (thread group ids) that the
// leaders (sorted by pid) name and that are not among them, sorted and
// once each: the processes the pass did not show that have children in
// it (a sandbox's init).
func missingParents(leaders []leaderAt, pids []int) []int {
	last := 0 // siblings come together: their parent is looked up once
	for _, l := range leaders {
		pp := l.ppid
		if pp <= 0 || pp == last || slices.Contains(pids, pp) {
			continue
		}
		last = pp
		if _, found := slices.BinarySearchFunc(leaders, pp, func(l leaderAt, tgid int) int { return l.tgid - tgid }); !found {
			pids = append(pids, pp)
		}
	}
	slices.Sort(pids)
	return pids
}

// prepare sets what the next run writes, and makes the arrays at the
// first pass: for the machine counted at load or, with threads summed,
// for the leaders and a few threads (a run that needs more grows them),
// with a sixteenth to spare for tasks born since.
func (w *walker) prepare(o PassOptions) error {
	if err := w.choose(o); err != nil {
		return err
	}
	if w.tasks.id != 0 {
		return nil
	}
	nt := w.countedTasks
	if w.summing {
		nt = min(nt, w.countedGroups+256)
	}
	return w.make(nt+nt/16+64, w.countedGroups+w.countedGroups/16+64)
}

// indexLeaders finds every process's records (the list is in creation
// order) and returns them in pid order. It reads the task records from
// the last to the first, so that the windows it leaves mapped are the
// first ones, where the decoding starts (the processes were made nearly
// in pid order): at 2,000 x 9 the decoding then maps 12 windows of task
// records again instead of 16.
func (w *walker) indexLeaders(nt, ng int) ([]leaderAt, error) {
	leaders := w.leaders[:0]
	if cap(leaders) < ng {
		// Sized once for the run's processes: grown by appending, the
		// list was copied a dozen times at 10,000 processes.
		leaders = make([]leaderAt, 0, ng+ng/16)
	}
	for i := nt - 1; i >= 0; i-- {
		p, err := w.tasks.at(i)
		if err != nil {
			return nil, fmt.Errorf("task iterator: %w", err)
		}
		r := (*taskIterTaskRec)(p)
		if r.Kind != recTask || int(r.Size) != int(unsafe.Sizeof(*r)) {
			return nil, fmt.Errorf("%w: record kind %d size %d, want kind %d size %d", ErrLayout, r.Kind, r.Size, recTask, unsafe.Sizeof(*r))
		}
		if r.Pid == r.Tgid {
			l := leaderAt{tgid: int(r.Tgid), task: i}
			if r.RecFlags&taskHasParent != 0 {
				l.ppid = int(r.Ppid)
			}
			leaders = append(leaders, l)
		}
	}
	w.leaders = leaders[:0]
	if len(leaders) != ng {
		return nil, fmt.Errorf("%w: %d leaders, %d group records", ErrLayout, len(leaders), ng)
	}
	// Back in creation order: the k-th leader has the k-th group record.
	slices.Reverse(leaders)
	for k := range leaders {
		leaders[k].group = k
	}
	if !slices.IsSortedFunc(leaders, cmpLeader) {
		w.leaderTmp = sortLeaders(leaders, w.leaderTmp)
	}
	return leaders, nil
}

// pidBits is how many bits a pid has at most: the kernel's PID_MAX_LIMIT
// is 1<<22.
const pidBits = 22

// sortLeaders sorts a by tgid, with tmp (returned, grown to len(a)) as
// scratch. The list is in creation order: one ascending run of pids for
// each time the pids wrapped at pid_max while its processes were made.
// Two counting passes of 11 bits each (pids are unique and below 1<<22)
// put it in order in linear time; slices.SortFunc took about 0.8 % of a
// pinned one-shot at 10,000 x 1 on a machine whose pids had wrapped.
func sortLeaders(a, tmp []leaderAt) []leaderAt {
	for _, l := range a {
		if l.tgid < 0 || l.tgid >= 1<<pidBits {
			slices.SortFunc(a, cmpLeader) // never on Linux
			return tmp
		}
	}
	if cap(tmp) < len(a) {
		tmp = make([]leaderAt, len(a), cap(a))
	}
	tmp = tmp[:len(a)]
	const bits = pidBits / 2
	src, dst := a, tmp
	for shift := 0; shift < pidBits; shift += bits {
		var count [1<<bits + 1]int
		for _, l := range src {
			count[(l.tgid>>shift)&(1<<bits-1)+1]++
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, l := range src {
			k := (l.tgid >> shift) & (1<<bits - 1)
			dst[count[k]] = l
			count[k]++
		}
		src, dst = dst, src
	}
	// An even number of passes: the last one wrote a.
	return tmp
}

// walkDecoder turns a run's records into visits.
type walkDecoder struct {
	w          *walker
	nt         int
	bootOffset uint64
	visit      func(*Task) error
	st         *PassStats
	t          Task
	g          Group
}

// emit visits task record i, with grp when it is a leader.
func (d *walkDecoder) emit(i int, grp *Group) error {
	p, err := d.w.tasks.at(i)
	if err != nil {
		return fmt.Errorf("task iterator: %w", err)
	}
	r := (*taskIterTaskRec)(p)
	d.t.fill(r)
	d.t.StartBootNs += d.bootOffset
	d.t.Group = grp
	d.st.Tasks++
	d.st.Bytes += int64(unsafe.Sizeof(*r))
	return d.visit(&d.t)
}

// process visits a leader with its group record, then its threads (the
// records after it up to the next leader).
func (d *walkDecoder) process(l leaderAt) error {
	p, err := d.w.groups.at(l.group)
	if err != nil {
		return fmt.Errorf("task iterator: %w", err)
	}
	gr := (*taskIterGroupRec)(p)
	if gr.Kind != recGroup || int(gr.Size) != int(unsafe.Sizeof(*gr)) {
		return fmt.Errorf("%w: record kind %d size %d, want kind %d size %d", ErrLayout, gr.Kind, gr.Size, recGroup, unsafe.Sizeof(*gr))
	}
	d.g.fill(gr)
	d.st.Tasks += d.g.ThreadSums.Threads
	d.st.Groups++
	d.st.Bytes += int64(unsafe.Sizeof(*gr))
	if err := d.emit(l.task, &d.g); err != nil {
		return err
	}
	for i := l.task + 1; i < d.nt; i++ {
		p, err := d.w.tasks.at(i)
		if err != nil {
			return fmt.Errorf("task iterator: %w", err)
		}
		if r := (*taskIterTaskRec)(p); r.Pid == r.Tgid {
			break
		}
		if err := d.emit(i, nil); err != nil {
			return err
		}
	}
	return nil
}

// shrink gives back the arrays' memory after shrinkAfter passes in a row
// that needed under a quarter of them.
func (w *walker) shrink(nt, ng int) {
	if w.pinned {
		return
	}
	const slack = 1024
	if w.tasks.cap < 4*nt+slack && w.groups.cap < 4*ng+slack {
		w.roomy = 0
		return
	}
	if w.roomy++; w.roomy < shrinkAfter {
		return
	}
	w.roomy = 0
	// Failing to shrink leaves the bigger arrays in place.
	if w.tasks.cap >= 4*nt+slack {
		_ = w.tasks.resize(w.tasksID, nt+nt/4+64)
	}
	if w.groups.cap >= 4*ng+slack {
		_ = w.groups.resize(w.groupsID, ng+ng/4+64)
	}
}

// choose sets which threads the next run writes: every thread, or those
// of o.ThreadsOf with the others summed.
func (w *walker) choose(o PassOptions) error {
	sum := o.SumThreads && len(o.ThreadsOf) <= walkWantMax
	if !sum {
		o.ThreadsOf = nil
	}
	if !slices.Equal(w.want, o.ThreadsOf) {
		if err := withMap(w.wantID, func(m *ebpf.Map) error { return w.setWant(m, o.ThreadsOf) }); err != nil {
			return err
		}
		w.want = append(w.want[:0], o.ThreadsOf...)
	}
	if sum != w.summing {
		if err := w.vars.Sum.Set(flag(sum)); err != nil {
			return err
		}
		w.summing = sum
	}
	if o.NoIO != w.noIO {
		if err := w.vars.NoIO.Set(flag(o.NoIO)); err != nil {
			return err
		}
		w.noIO = o.NoIO
	}
	if o.NoSighand != w.noSighand {
		if err := w.vars.NoSig.Set(flag(o.NoSighand)); err != nil {
			return err
		}
		w.noSighand = o.NoSighand
	}
	if o.CgroupID != w.cgroupID {
		if err := w.vars.CgID.Set(flag(o.CgroupID)); err != nil {
			return err
		}
		w.cgroupID = o.CgroupID
	}
	return nil
}

// flag is a BPF program's boolean global: 1 or 0.
func flag(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// setWant makes walk_want (m) hold the processes of want instead of
// those of w.want.
func (w *walker) setWant(m *ebpf.Map, want []int) error {
	for _, pid := range w.want {
		if _, found := slices.BinarySearch(want, pid); !found {
			if err := m.Delete(uint32(pid)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return err
			}
		}
	}
	for _, pid := range want {
		if _, found := slices.BinarySearch(w.want, pid); !found {
			if err := m.Put(uint32(pid), uint8(1)); err != nil {
				return err
			}
		}
	}
	return nil
}

func cmpLeader(a, b leaderAt) int { return a.tgid - b.tgid }

// walkUnavailable is the one line saying why the walk did not load.
func walkUnavailable(err error) error {
	ue := classify(err)
	switch {
	case errors.Is(err, ebpf.ErrNotSupported) || strings.Contains(err.Error(), "bpf_iter_task_new"):
		ue.Detail = "this kernel has no open-coded task iterator (Linux 6.7 or later)"
	}
	return fmt.Errorf("BPF task walk unavailable (%s), using the per-task iterator", ue.Detail)
}

// progRunAttr is the kernel's attribute block for BPF_PROG_TEST_RUN
// (union bpf_attr's test member, up to batch_size).
type progRunAttr struct {
	progFD, retval          uint32
	dataSizeIn, dataSizeOut uint32
	dataIn, dataOut         uint64
	repeat, duration        uint32
	ctxSizeIn, ctxSizeOut   uint32
	ctxIn, ctxOut           uint64
	flags, cpu, batchSize   uint32
	_                       uint32
}

// rawRun runs a syscall program once with ctx as its context (nil: none)
// in a raw system call (Options.RawRuns): unlike cilium/ebpf's Run, it
// neither tells the Go runtime it entered the kernel nor blocks the
// profiling signal around the call; a syscall program runs once, whatever
// signal is pending, so an interrupted call has nothing to retry (as
// cilium/ebpf, EINTR is taken for a run). The program reads and writes
// ctx in place. ctx must be heap memory: its address goes to the kernel
// as a number, which a goroutine stack that moves would leave behind.
func rawRun(prog *ebpf.Program, ctx []byte) (uint32, error) {
	attr := progRunAttr{progFD: uint32(prog.FD())}
	if len(ctx) > 0 {
		attr.ctxIn, attr.ctxSizeIn = uint64(uintptr(unsafe.Pointer(&ctx[0]))), uint32(len(ctx))
	}
	// A run the kernel says was interrupted has not written retval (nor,
	// for the walk, its counts): run it again, a few times at most, and
	// never take an unwritten answer for one.
	var errno unix.Errno
	for range 4 {
		_, _, errno = unix.RawSyscall(unix.SYS_BPF, unix.BPF_PROG_TEST_RUN, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		if errno != unix.EINTR {
			break
		}
	}
	runtime.KeepAlive(ctx)
	runtime.KeepAlive(prog)
	if errno != 0 {
		return 0, fmt.Errorf("running %s: %w", prog, errno)
	}
	return attr.retval, nil
}
