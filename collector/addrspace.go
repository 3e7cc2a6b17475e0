package collector

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Segment is the class of a mapping in the classic picture of a process's
// address space.
type Segment string

// The segment classes, in the order a textbook draws them from low
// addresses up (code first, the kernel's pages last).
const (
	SegCode        Segment = "code"         // the executable's r-x mapping
	SegRodata      Segment = "rodata"       // the executable's read-only mappings (headers, constants, relro)
	SegData        Segment = "data"         // the executable's rw- file-backed mapping
	SegBSS         Segment = "bss"          // anonymous rw- right after the data, below the heap
	SegHeap        Segment = "heap"         // [heap], the brk area from start_brk
	SegStack       Segment = "stack"        // the main thread's [stack]
	SegThreadStack Segment = "thread_stack" // a mapping holding another thread's stack pointer
	SegGuard       Segment = "guard"        // no access (---p) right below a stack: its guard
	SegReserved    Segment = "reserved"     // other no-access ranges: reservations (arenas, runtime heaps), alignment gaps
	SegLibCode     Segment = "lib_code"     // a shared library's executable mappings
	SegLibData     Segment = "lib_data"     // a shared library's other mappings and its bss
	SegAnon        Segment = "anon"         // other anonymous memory (mmap arenas: Go, JVM, malloc)
	SegShm         Segment = "shm"          // shared memory: /dev/shm, SysV, memfd, shared anonymous
	SegFile        Segment = "file"         // other mapped files
	SegVdso        Segment = "vdso"         // [vdso]
	SegVvar        Segment = "vvar"         // [vvar], [vvar_vclock]
	SegVsyscall    Segment = "vsyscall"     // [vsyscall]
)

// SegmentClasses returns every class in display order.
func SegmentClasses() []Segment { s := segOrder; return s[:] }

// AddrOptions chooses what AddressSpace reads.
type AddrOptions struct {
	// PerMapping reads smaps (costly: the kernel walks every page table)
	// for per-mapping RSS/PSS; otherwise maps and smaps_rollup are read.
	PerMapping bool
	// StartTicks, when not zero, is the start time (stat's starttime) of
	// the process the caller means: a process with another start behind
	// the pid (the pid was reused since the caller read it) is reported
	// vanished, before and after the maps are read, so that one document
	// never mixes two processes. Zero reads whatever process has the pid.
	StartTicks uint64
	// StuckBudget, when not nil, is charged for this call's reads
	// abandoned at their deadline instead of the Reader's address-space
	// budget (a server reading for its clients gives each its own).
	StuckBudget *StuckBudget
	// MapsFallback, with PerMapping: when smaps cannot be read for a
	// reason maps does not share (a malformed entry, an I/O error), the
	// mappings come from maps without RSS (PerMapping false),
	// Unavailable["smaps"] says why, and the totals from smaps_rollup. A
	// timeout (maps takes the same mmap lock), a denial (the same ptrace
	// check) or a vanished process does not fall back.
	MapsFallback bool
}

// errReused is wrapped by the error of an AddressSpace whose pid now
// belongs to another process (AddrOptions.StartTicks); it wraps ESRCH so
// IsVanished reports it.
var errReused = fmt.Errorf("pid reused by another process: %w", unix.ESRCH)

// AddressSpace is a process's address space: every mapping classified,
// totals per class, memory totals and where each thread's stack is.
type AddressSpace struct {
	PID int
	// Exe is the executable's path (from the exe link), "" when unknown.
	Exe string
	// Layout is stat's layout; LayoutTrusted is false when the kernel
	// masked it (Layout.Masked), in which case it was not used.
	Layout        Layout
	LayoutTrusted bool
	// Maps is every mapping in address order; nil when unavailable (see
	// Unavailable["maps"]).
	Maps []Mapping
	// Segments are the totals per class, in SegmentClasses order, for the
	// classes present.
	Segments []SegmentTotal
	// Memory is nil when unavailable (zombies, kernel threads, denied);
	// never a zero stand-in.
	Memory *MemoryTotals
	// MemorySource is "smaps_rollup", or "smaps" when the totals are the
	// sum over per-mapping smaps (AddrOptions.PerMapping).
	MemorySource string
	// RSS splits the resident set by what backs it, from status; nil when
	// unavailable (Unavailable["rss_split"]), never zeros.
	RSS *RSSSplit
	// PerMapping is true when every mapping carries RSS/PSS.
	PerMapping bool
	// Stacks says, per thread, which mapping holds its stack.
	Stacks []ThreadStack
	// Unavailable maps "maps", "memory", "exe", "layout" or "threads" to
	// the reason it could not be read.
	Unavailable map[string]string
	// MapsFile is the file the mappings were read from, or last tried:
	// "smaps" (AddrOptions.PerMapping) or "maps" (also after smaps'
	// fallback); "" when none was read (a zombie, a kernel thread).
	MapsFile string
	// LiveTID is set when the process's main thread has exited while
	// other threads run (Process.LeaderExited): the leader has no address
	// space of its own any more, so the layout, exe, maps and memory were
	// read through this live thread's task/TID/ files. 0 otherwise.
	LiveTID int
}

// SegmentTotal is the total of one class.
type SegmentTotal struct {
	Class     Segment
	Mappings  int
	SizeBytes uint64
	// RSSBytes and PSSBytes are set when per-mapping smaps was read.
	RSSBytes, PSSBytes *uint64
}

// RSSSplit is the resident set by kind, status's RssAnon, RssFile and
// RssShmem (kernels 4.5 and later): anonymous pages (heap, stacks,
// private copies), file pages (code, libraries, mapped files) and shared
// memory (tmpfs, /dev/shm, SysV, shared anonymous, memfd). Their sum is
// status's VmRSS, read at one instant; smaps_rollup's Rss, read apart,
// may differ by what changed in between.
type RSSSplit struct {
	AnonBytes, FileBytes, ShmemBytes uint64
}

// ThreadStack locates one thread's stack.
type ThreadStack struct {
	TID int
	// SP is the user stack pointer from task/TID/syscall (valid when
	// Known).
	SP    uint64
	Known bool
	// Mapping is the index in AddressSpace.Maps of the mapping holding SP,
	// or -1.
	Mapping int
	// Reason says why the stack is unknown: "running" (the kernel gives no
	// registers of a running thread), "permission denied", "vanished",
	// "not in any mapping", or a read error.
	Reason string
}

// The reasons recorded in AddressSpace.Unavailable.
const (
	ReasonZombie     = "zombie: its address space is already released"
	ReasonKernel     = "kernel thread: no user address space"
	ReasonNoMM       = "no address space (process exiting)"
	ReasonMasked     = "masked by the kernel for this reader"
	ReasonThreadRuns = "running"
	// ReasonLeaderExited is the stack of a main thread that called
	// pthread_exit while other threads run: it has none any more.
	ReasonLeaderExited = "exited (the main thread called pthread_exit)"
)

// pfKthread is PF_KTHREAD in stat's flags.
const pfKthread = 0x00200000

// AddressSpace reads and classifies the address space of pid. It uses
// buffers of its own and reads nothing of the Reader but its options, so
// it may run while another goroutine uses the Reader. It returns
// an error wrapping ENOENT or ESRCH (IsVanished) when the process is gone;
// everything else that cannot be read is recorded in Unavailable with its
// reason and the rest is still returned.
func (r *Reader) AddressSpace(pid int, opt AddrOptions) (*AddressSpace, error) {
	as, err := r.addressSpace(pid, opt)
	if err != nil || opt.StartTicks == 0 {
		return as, err
	}
	// The pid may have been reused while the maps were read.
	pb, buf := newPathBuf(r.opts.Root), make([]byte, 0, 1024)
	if err := sameStart(pb.set(pid, 0, "stat"), &buf, opt.StartTicks); err != nil {
		return nil, r.FileError(pid, "stat", err)
	}
	return as, nil
}

// addressSpace reads the address space of pid in steps, each a method of
// addrRead: the layout (stat), the exe link, the mappings, the memory
// totals, the thread stacks; then classifies the mappings.
func (r *Reader) addressSpace(pid int, opt AddrOptions) (*AddressSpace, error) {
	a := &addrRead{
		slow: r.addrSlow, pid: pid, opt: opt,
		as: &AddressSpace{PID: pid}, pb: newPathBuf(r.opts.Root), small: make([]byte, 0, 4096),
		foreign: !r.procfs, root: r.opts.Root,
	}
	if opt.StuckBudget != nil && a.slow.timeout > 0 {
		a.slow = newDeadlineReads(a.slow.timeout, r.opts.Root, opt.StuckBudget)
		defer a.slow.close()
	}
	for _, step := range []func() (done bool, err error){a.layout, a.exe, a.rssSplit, a.mappings, a.memory, a.stacks} {
		if done, err := step(); err != nil {
			return nil, err
		} else if done {
			return a.as, nil
		}
	}
	classifyWith(a.as, a.dataEnds(r.pageSz), a.guardInside(r.pageSz))
	a.as.Segments = segmentTotals(a.as.Maps, a.as.PerMapping)
	return a.as, nil
}

// dataEnds finds, for each writable file mapping followed right away by
// anonymous rw memory (which markBSS would take for that object's bss),
// where the object's writable segment ends in memory: its ELF program
// headers say (p_vaddr + p_memsz). The object is read through
// map_files/START-END (the very file mapped, even deleted), else through
// the process's root; at most elfHeadMax bytes, under the read deadline.
// A mapping whose object cannot be read has no entry (the bss is then
// judged by adjacency alone, as before).
func (a *addrRead) dataEnds(pageSz uint64) map[int]uint64 {
	maps := a.as.Maps
	var out map[int]uint64
	var buf []byte
	for i := 0; i+1 < len(maps); i++ {
		m, next := &maps[i], &maps[i+1]
		if !fileBacked(m) || !m.Writable() || next.Start != m.End || !next.Anonymous() || !next.Writable() {
			continue
		}
		loads, err := a.elfLoads(m, &buf)
		if err != nil {
			continue
		}
		if end, ok := dataEnd(loads, m.Start, m.Offset, pageSz); ok {
			if out == nil {
				out = make(map[int]uint64)
			}
			out[i] = end
		}
	}
	return out
}

// elfLoads reads the PT_LOAD headers of the object mapped by m.
func (a *addrRead) elfLoads(m *Mapping, buf *[]byte) ([]elfLoad, error) {
	name := "map_files/" + strconv.FormatUint(m.Start, 16) + "-" + strconv.FormatUint(m.End, 16)
	data, _, err := a.slow.read(a.pb.set(a.pid, 0, name), buf, elfHeadMax)
	if err != nil && !strings.HasSuffix(m.Path, exeDeleted) && strings.HasPrefix(m.Path, "/") {
		data, _, err = a.slow.read(a.pb.set(a.pid, a.tid, "root"+m.Path), buf, elfHeadMax)
	}
	if err != nil {
		return nil, err
	}
	return parseELFLoads(data)
}

// addrRead is one AddressSpace call's state. Each step returns done when
// the address space is complete without the steps after it (a zombie, no
// maps), or an error when the process is gone.
type addrRead struct {
	slow     *deadlineReads // maps, smaps, smaps_rollup and syscall reads
	pid      int
	tid      int // a live thread's, when the leader exited (AddressSpace.LiveTID)
	opt      AddrOptions
	as       *AddressSpace
	pb       pathBuf
	small    []byte
	mapsErr  error  // why the mappings could not be read
	fellBack bool   // smaps failed and the mappings are maps' (MapsFallback)
	foreign  bool   // the root is a tree another program wrote, not a procfs
	root     string // the proc tree's root (ReadError.Root)
}

// there reports, after a file of the process was not found, whether the
// process is still there (then the file is not present in this tree):
// its stat has the start ticks asked for; or, in a tree that is not a
// procfs, its directory is there without a stat.
func (a *addrRead) there() bool {
	if stillThere(a.pb.set(a.pid, 0, "stat"), &a.small, a.opt.StartTicks) {
		return true
	}
	if !a.foreign {
		return false
	}
	if _, err := readStat(atFDCWD, a.pb.set(a.pid, 0, "stat"), &a.small); !IsVanished(err) {
		return false
	}
	return dirThere(a.pb.set(a.pid, 0, ""))
}

// unavailable records a part that could not be read, with the reason.
func (a *addrRead) unavailable(key, reason string) {
	if a.as.Unavailable == nil {
		a.as.Unavailable = make(map[string]string, 2)
	}
	a.as.Unavailable[key] = reason
}

// gone is the error of a process that vanished while file was read.
func (a *addrRead) gone(file string, err error) error {
	return &ReadError{PID: a.pid, File: file, Err: err, Root: a.root}
}

// layout reads stat's layout (trusted unless the kernel masked it). A
// zombie or a kernel thread has no user address space: done.
func (a *addrRead) layout() (bool, error) {
	as := a.as
	st, err := readStat(atFDCWD, a.pb.set(a.pid, 0, "stat"), &a.small)
	if err == nil && a.opt.StartTicks != 0 && st.starttime != a.opt.StartTicks {
		return false, a.gone("stat", fmt.Errorf("%w (start ticks %d, want %d)", errReused, st.starttime, a.opt.StartTicks))
	}
	switch {
	case IsVanished(err) && a.foreign && a.there():
		a.unavailable("layout", "stat: "+ReasonNotPresent)
		return false, nil
	case IsVanished(err):
		return false, a.gone("stat", err)
	case err != nil:
		a.unavailable("layout", "stat: "+Reason(err))
		return false, nil
	}
	if st.state == 'Z' && st.numThreads > 1 && st.flags&pfKthread == 0 {
		// The main thread exited while others run: their shared
		// address space is read through one of them.
		if tid, tst, ok := a.liveThread(); ok {
			a.tid, as.LiveTID, st = tid, tid, tst
		}
	}
	as.Layout = st.layout
	as.LayoutTrusted = !st.layout.Masked()
	if !as.LayoutTrusted {
		a.unavailable("layout", ReasonMasked)
	}
	if st.state != 'Z' && st.flags&pfKthread == 0 {
		return false, nil
	}
	reason := ReasonZombie
	if st.state != 'Z' {
		reason = ReasonKernel
	}
	as.LayoutTrusted = false
	for _, k := range []string{"maps", "memory", "layout", "rss_split"} {
		a.unavailable(k, reason)
	}
	return true, nil
}

// liveThread finds a thread of the process other than its exited leader
// that is not a zombie itself, and returns its id and stat.
func (a *addrRead) liveThread() (int, statFields, bool) {
	tids, err := listNumeric(a.pb.set(a.pid, 0, "task"), make([]byte, 16<<10), nil)
	if err != nil {
		return 0, statFields{}, false
	}
	slices.Sort(tids)
	buf := make([]byte, 0, 1024)
	for _, tid := range tids {
		if tid == a.pid {
			continue
		}
		st, err := readStat(atFDCWD, a.pb.set(a.pid, tid, "stat"), &buf)
		if err == nil && st.state != 'Z' && st.state != 'X' {
			return tid, st, true
		}
	}
	return 0, statFields{}, false
}

// exe reads the executable's path (used to find its mappings when the
// layout is not trusted).
func (a *addrRead) exe() (bool, error) {
	exe, _, err := readExe(a.pb.set(a.pid, a.tid, "exe"), make([]byte, linkMax))
	switch {
	case err == nil:
		a.as.Exe = exe
	case errors.Is(err, unix.ENOENT):
		// No executable: a process exiting, or a kernel thread.
	default:
		a.unavailable("exe", Reason(err))
	}
	return false, nil
}

// mappings reads maps, or smaps with AddrOptions.PerMapping (then the
// memory totals are their sum). maps, smaps and smaps_rollup take the
// target's mmap lock and can block: they are parsed under the per-read
// deadline (deadline.go).
func (a *addrRead) mappings() (bool, error) {
	as := a.as
	var err error
	if a.opt.PerMapping {
		as.MapsFile = "smaps"
		as.Maps, as.Memory, err = readSmaps(a.slow, a.pb.set(a.pid, a.tid, "smaps"))
		as.MemorySource = "smaps"
		as.PerMapping = err == nil
		if err != nil && a.opt.MapsFallback && mapsMayServe(err) {
			a.unavailable("smaps", Reason(err))
			as.Memory, as.MemorySource = nil, ""
			as.MapsFile = "maps"
			as.Maps, err = readMaps(a.slow, a.pb.set(a.pid, a.tid, "maps"))
			a.fellBack = true
		}
	} else {
		as.MapsFile = "maps"
		as.Maps, err = readMaps(a.slow, a.pb.set(a.pid, a.tid, "maps"))
	}
	a.mapsErr = err
	switch {
	case err == nil:
	case errors.Is(err, unix.ENOENT) && a.there():
		// No maps file, yet the process is there: a fixture tree
		// without one (a live process always has it).
		as.Maps, as.Memory = nil, nil
		a.unavailable("maps", "not present")
		a.unavailable("memory", "not present")
		return true, nil
	case IsVanished(err):
		return false, a.gone("maps", err)
	default:
		as.Maps, as.Memory = nil, nil
		a.unavailable("maps", Reason(err))
	}
	if err == nil && len(as.Maps) == 0 {
		// A live user process always has mappings; none means the mm is
		// gone (exiting) or it is a kernel thread we could not tell.
		as.Maps, as.Memory = nil, nil
		a.unavailable("maps", ReasonNoMM)
		a.unavailable("memory", ReasonNoMM)
		return true, nil
	}
	return false, nil
}

// mapsMayServe reports whether maps may be read where smaps failed with
// err (AddrOptions.MapsFallback): not when the process is gone or the
// file not there, not after a timeout (maps waits for the same mmap
// lock) and not after a denial (the same ptrace check).
func mapsMayServe(err error) bool {
	return !IsVanished(err) && !isTimeout(err) && !IsDenied(err)
}

// rssSplit reads the resident set's split from status (no mmap lock, and
// readable by anyone who can read the process's status: an owner whose
// maps are denied still gets it).
func (a *addrRead) rssSplit() (bool, error) {
	sf, err := readStatus(atFDCWD, a.pb.set(a.pid, a.tid, "status"), &a.small)
	const keys = hasRssAnon | hasRssFile | hasRssShmem
	switch {
	case err == nil && sf.has&keys == keys:
		a.as.RSS = &RSSSplit{AnonBytes: mulSat(sf.rssAnonKB, 1024), FileBytes: mulSat(sf.rssFileKB, 1024), ShmemBytes: mulSat(sf.rssShmKB, 1024)}
	case err == nil && sf.has&hasTgid == 0:
		// Not the kernel's status (a tree another program wrote).
		a.unavailable("rss_split", "status: no Tgid line: not a process's status")
	case err == nil && sf.has&hasVmRSS == 0:
		// No memory lines at all: the mm went away since the layout.
		a.unavailable("rss_split", ReasonNoMM)
	case err == nil:
		a.unavailable("rss_split", "status has no RssAnon, RssFile and RssShmem (kernels before 4.5)")
	case IsVanished(err) && !a.there():
		return false, a.gone("status", err)
	default:
		a.unavailable("rss_split", "status: "+Reason(err))
	}
	return false, nil
}

// memory reads the totals from smaps_rollup (unless smaps gave them).
// Without mappings the address space is done.
func (a *addrRead) memory() (bool, error) {
	as := a.as
	switch {
	case a.opt.PerMapping && !a.fellBack:
		if _, ok := as.Unavailable["maps"]; ok && as.Memory == nil {
			a.unavailable("memory", as.Unavailable["maps"])
		}
	case isTimeout(a.mapsErr):
		// The mmap lock is held: smaps_rollup would block on it too.
		a.unavailable("memory", Reason(a.mapsErr))
	default:
		var err error
		as.Memory, err = readRollup(a.slow, a.pb.set(a.pid, a.tid, "smaps_rollup"))
		as.MemorySource = "smaps_rollup"
		switch {
		case err == nil:
		case errors.Is(err, unix.ESRCH):
			return false, a.gone("smaps_rollup", err)
		case isTimeout(err):
			a.unavailable("memory", Reason(err))
		case errors.Is(err, unix.ENOENT):
			// Kernels before 4.14 have no smaps_rollup (and a vanished
			// process looks the same at open).
			a.unavailable("memory", "smaps_rollup: not found")
		default:
			a.unavailable("memory", "smaps_rollup: "+Reason(err))
		}
	}
	if as.Memory == nil {
		as.MemorySource = ""
	}
	return as.Maps == nil, nil
}

// stacks sorts the mappings and locates every thread's stack pointer.
func (a *addrRead) stacks() (bool, error) {
	as := a.as
	if !slices.IsSortedFunc(as.Maps, func(a, b Mapping) int { return cmpU64(a.Start, b.Start) }) {
		slices.SortFunc(as.Maps, func(a, b Mapping) int { return cmpU64(a.Start, b.Start) })
	}
	var err error
	as.Stacks, err = readStacks(a.slow, &a.pb, a.pid, a.small)
	if a.tid != 0 {
		for i := range as.Stacks {
			if as.Stacks[i].TID == a.pid {
				as.Stacks[i] = ThreadStack{TID: a.pid, Mapping: -1, Reason: ReasonLeaderExited}
			}
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, unix.ENOENT) && a.there():
		// No task/ in this tree (a live process always has it).
		a.unavailable("threads", ReasonNotPresent)
	case IsVanished(err):
		return false, a.gone("task", err)
	default:
		a.unavailable("threads", Reason(err))
	}
	return false, nil
}

// stillThere reports whether the process whose stat is at path still
// exists (with start ticks want, when want is not 0).
func stillThere(path []byte, buf *[]byte, want uint64) bool {
	if want != 0 {
		return sameStart(path, buf, want) == nil
	}
	_, err := readStat(atFDCWD, path, buf)
	return err == nil || errors.Is(err, errStatFormat) || errors.Is(err, ErrTooLarge)
}

// sameStart re-reads stat at path and returns a vanished error when the
// process is gone or has another start time than want. A stat that
// cannot be parsed is not evidence of reuse: nil.
func sameStart(path []byte, buf *[]byte, want uint64) error {
	st, err := readStat(atFDCWD, path, buf)
	if IsVanished(err) {
		return err
	}
	if err == nil && st.starttime != want {
		return fmt.Errorf("%w (start ticks %d, want %d)", errReused, st.starttime, want)
	}
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readStacks reads every thread's stack pointer from task/TID/syscall.
// Each read runs under d's deadline (the syscall file waits for the
// target's exec lock).
func readStacks(d *deadlineReads, pb *pathBuf, pid int, buf []byte) ([]ThreadStack, error) {
	tids, err := listNumeric(pb.set(pid, 0, "task"), make([]byte, 16<<10), nil)
	if err != nil {
		return nil, err
	}
	slices.Sort(tids)
	out := make([]ThreadStack, 0, len(tids))
	for _, tid := range tids {
		ts := ThreadStack{TID: tid, Mapping: -1}
		// A thread caught runnable reads "running"; it is usually asleep
		// again a few microseconds later, so try a few times.
		var err error
		for try := 0; try < syscallTries; try++ {
			var data []byte
			data, _, err = d.read(pb.set(pid, tid, "syscall"), &buf, 4096)
			if err == nil {
				ts.SP, ts.Reason, err = parseSyscallSP(data)
				ts.Known = err == nil && ts.Reason == ""
			}
			if err != nil || ts.Reason != ReasonThreadRuns {
				break
			}
		}
		if err != nil {
			ts.Reason = Reason(err)
		}
		out = append(out, ts)
	}
	return out, nil
}

// syscallTries bounds the re-reads of a "running" thread's syscall file.
const syscallTries = 4

// errSyscallFormat is wrapped by syscall-file parse errors.
var errSyscallFormat = errors.New("malformed syscall file")

// parseSyscallSP extracts the user stack pointer from a task's syscall
// file: "nr a0 a1 a2 a3 a4 a5 sp pc" in a system call (sp is the 8th
// field), "-1 sp pc" when blocked outside one, "running" when the task is
// on a CPU (then reason is "running" and sp unknown).
func parseSyscallSP(b []byte) (sp uint64, reason string, err error) {
	b = bytes.TrimSpace(b)
	if string(b) == "running" {
		return 0, ReasonThreadRuns, nil
	}
	var f [10][]byte
	n := 0
	for rest := b; ; {
		i := 0
		for i < len(rest) && isSpace(rest[i]) {
			i++
		}
		rest = rest[i:]
		if len(rest) == 0 {
			break
		}
		j := 0
		for j < len(rest) && !isSpace(rest[j]) {
			j++
		}
		if n == len(f) {
			return 0, "", fmt.Errorf("%w: too many fields", errSyscallFormat)
		}
		f[n], rest = rest[:j], rest[j:]
		n++
	}
	var tok []byte
	switch n {
	case 9:
		tok = f[7]
	case 3:
		tok = f[1]
	default:
		return 0, "", fmt.Errorf("%w: %d fields", errSyscallFormat, n)
	}
	hex, ok := bytes.CutPrefix(tok, []byte("0x"))
	if !ok {
		return 0, "", fmt.Errorf("%w: sp %q is not hex", errSyscallFormat, clip(tok))
	}
	v, ok := parseHex(hex)
	if !ok {
		return 0, "", fmt.Errorf("%w: sp %q is not hex", errSyscallFormat, clip(tok))
	}
	return v, "", nil
}

// isSpace is the ASCII white space the kernel's files use.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// fileKey identifies a mapped file.
type fileKey struct {
	dev   string
	inode uint64
	path  string
}

func keyOf(m *Mapping) fileKey {
	if m.Inode != 0 {
		return fileKey{dev: m.Dev, inode: m.Inode}
	}
	return fileKey{path: m.Path}
}

// fileBacked reports whether the mapping maps a file (not anonymous memory
// and not a [pseudo] area).
func fileBacked(m *Mapping) bool {
	return m.Path != "" && m.Path[0] != '['
}

// findMapping returns the index of the mapping holding addr, or -1. maps
// must be sorted by Start.
func findMapping(maps []Mapping, addr uint64) int {
	i, _ := slices.BinarySearchFunc(maps, addr, func(m Mapping, a uint64) int {
		if m.End <= a {
			return -1
		}
		if m.Start > a {
			return 1
		}
		return 0
	})
	if i < len(maps) && maps[i].Start <= addr && addr < maps[i].End {
		return i
	}
	return -1
}

// classify sets Class and TID on every mapping of as.Maps, in named
// passes: each mapping by what it is (classifyMapping, knowing the
// executable's file and the libraries'), then by its neighbours (bss
// after data, the brk heap), then by the threads' stack pointers, then
// the guard pages below thread stacks.
func classify(as *AddressSpace) { classifyWith(as, nil, nil) }

// classifyWith is classify knowing where objects' writable segments end
// (dataEnds: by the index of their data mapping), which caps their bss,
// and asking guardInside whether a mapping's lowest page is a guard
// installed inside it (nil: none is).
func classifyWith(as *AddressSpace, dataEnds map[int]uint64, guardInside func(m *Mapping) bool) {
	exe, haveExe := exeFile(as)
	libs := libraryFiles(as.Maps, exe, haveExe)
	for i := range as.Maps {
		classifyMapping(&as.Maps[i], as.PID, exe, haveExe, libs)
	}
	markBSS(as, dataEnds)
	markBrkHeap(as)
	markThreadStacks(as, guardInside)
	markStackGuards(as.Maps, unplacedStacks(as))
}

// unplacedStacks counts the threads other than the main one (whose
// stack the kernel labels [stack]) whose stack pointer is not known or
// in no mapping: a running thread, a denied or vanished read. Only
// their stacks can have a guard that no known stack pointer points to.
func unplacedStacks(as *AddressSpace) int {
	n := 0
	for i := range as.Stacks {
		ts := &as.Stacks[i]
		if ts.TID != as.PID && ts.Reason != ReasonLeaderExited && (!ts.Known || ts.Mapping < 0) {
			n++
		}
	}
	return n
}

// exeFile finds the executable's file: the file holding start_code when
// the layout is trusted (that also works for a deleted or renamed
// binary), else the file whose path is the exe link.
func exeFile(as *AddressSpace) (fileKey, bool) {
	maps := as.Maps
	if as.LayoutTrusted {
		if i := findMapping(maps, as.Layout.StartCode); i >= 0 && fileBacked(&maps[i]) {
			return keyOf(&maps[i]), true
		}
	}
	if as.Exe == "" {
		return fileKey{}, false
	}
	for i := range maps {
		if strings.TrimSuffix(maps[i].Path, exeDeleted) == as.Exe {
			return keyOf(&maps[i]), true
		}
	}
	return fileKey{}, false
}

// libraryFiles are the files other than the executable that have an
// executable mapping.
func libraryFiles(maps []Mapping, exe fileKey, haveExe bool) map[fileKey]bool {
	libs := make(map[fileKey]bool)
	for i := range maps {
		m := &maps[i]
		if fileBacked(m) && m.Executable() && !isShm(m) {
			if k := keyOf(m); !haveExe || k != exe {
				libs[k] = true
			}
		}
	}
	return libs
}

// classifyMapping classifies one mapping by its own line: its pseudo-path,
// its permissions and the file it maps.
func classifyMapping(m *Mapping, pid int, exe fileKey, haveExe bool, libs map[fileKey]bool) {
	m.Class, m.TID = SegAnon, 0
	switch {
	case m.Path == "[heap]":
		m.Class = SegHeap
	case m.Path == "[stack]":
		m.Class, m.TID = SegStack, pid
	case strings.HasPrefix(m.Path, "[stack:"):
		// Kernels before 4.5 named thread stacks [stack:TID].
		m.Class = SegThreadStack
		m.TID, _ = strconv.Atoi(strings.TrimSuffix(m.Path[len("[stack:"):], "]"))
	case m.Path == "[vdso]":
		m.Class = SegVdso
	case strings.HasPrefix(m.Path, "[vvar"):
		m.Class = SegVvar
	case m.Path == "[vsyscall]":
		m.Class = SegVsyscall
	case !m.Readable() && !m.Writable() && !m.Executable():
		m.Class = SegGuard
	case isShm(m):
		m.Class = SegShm
	case fileBacked(m):
		m.Class = fileClass(m, exe, haveExe, libs)
	}
}

// fileClass classifies a file-backed mapping: the executable's code,
// data or read-only part, a library's code or data, or another file.
func fileClass(m *Mapping, exe fileKey, haveExe bool, libs map[fileKey]bool) Segment {
	k := keyOf(m)
	switch {
	case haveExe && k == exe && m.Executable():
		return SegCode
	case haveExe && k == exe && m.Writable():
		return SegData
	case haveExe && k == exe:
		return SegRodata
	case libs[k] && m.Executable():
		return SegLibCode
	case libs[k]:
		return SegLibData
	}
	return SegFile
}

// markBSS: anonymous rw- memory right after a data mapping is that
// object's bss (below start_brk, when the layout is trusted), when it
// ends within the object's writable segment (dataEnds, from its ELF
// program headers, when they could be read): a mapping that runs past
// it is other anonymous memory the kernel placed there.
func markBSS(as *AddressSpace, dataEnds map[int]uint64) {
	maps := as.Maps
	for i := 1; i < len(maps); i++ {
		m, prev := &maps[i], &maps[i-1]
		if m.Class != SegAnon || !m.Anonymous() || !m.Writable() || prev.End != m.Start || !fileBacked(prev) || !prev.Writable() {
			continue
		}
		if end, ok := dataEnds[i-1]; ok && m.End > end {
			continue
		}
		switch prev.Class {
		case SegData:
			if !as.LayoutTrusted || as.Layout.StartBrk == 0 || m.Start < as.Layout.StartBrk {
				m.Class = SegBSS
			}
		case SegLibData:
			m.Class = SegLibData
		}
	}
}

// markBrkHeap: with a trusted layout the brk area starts at start_brk
// even when the kernel did not label it [heap].
func markBrkHeap(as *AddressSpace) {
	if !as.LayoutTrusted || as.Layout.StartBrk == 0 {
		return
	}
	maps := as.Maps
	if i := findMapping(maps, as.Layout.StartBrk); i >= 0 && maps[i].Start == as.Layout.StartBrk && maps[i].Class == SegAnon && maps[i].Anonymous() {
		maps[i].Class = SegHeap
	}
}

// markThreadStacks: the mapping holding each thread's stack pointer is
// its stack. A mapping holding the stack pointers of several threads is
// not a per-thread stack (a Go arena, a shared pool) and stays anon; so
// is anonymous memory with no guard: a thread stack made by pthreads
// (glibc, musl, and so the JVM, Rust, cgo) has one, either a no-access
// mapping right below it (guardBelow) or, with glibc >= 2.42 on kernels
// >= 6.13, a guard region installed in its own lowest page
// (MADV_GUARD_INSTALL, asked of guardInside), while a Go arena holding
// the goroutine a thread runs has none, and with the other threads
// running (their stack pointers not known) it would otherwise read as
// that one thread's stack.
func markThreadStacks(as *AddressSpace, guardInside func(m *Mapping) bool) {
	maps := as.Maps
	owners := make(map[int]int, len(as.Stacks))
	for s := range as.Stacks {
		ts := &as.Stacks[s]
		if !ts.Known {
			continue
		}
		ts.Mapping = findMapping(maps, ts.SP)
		if ts.Mapping < 0 {
			ts.Reason = "not in any mapping"
			continue
		}
		if _, dup := owners[ts.Mapping]; dup {
			owners[ts.Mapping] = -1
		} else {
			owners[ts.Mapping] = ts.TID
		}
	}
	for i, tid := range owners {
		m := &maps[i]
		switch {
		case tid < 0:
		case m.Class == SegStack || m.Class == SegThreadStack:
			m.TID = tid
		case m.Class == SegAnon && m.Anonymous() && m.Writable() &&
			(guardBelow(maps, i) || guardInside != nil && guardInside(m)):
			m.Class, m.TID = SegThreadStack, tid
			if tid == as.PID {
				// The main thread running on a stack of its own making.
				m.Class = SegStack
			}
		}
	}
}

// guardBelow reports whether maps[i] has right below it a no-access
// mapping no bigger than a stack guard (maxGuard).
func guardBelow(maps []Mapping, i int) bool {
	if i == 0 {
		return false
	}
	g := &maps[i-1]
	return g.End == maps[i].Start && g.Class == SegGuard && !fileBacked(g) && g.SizeBytes() <= maxGuard
}

// pmGuardRegion is bit 58 of a pagemap entry: the page is a guard region
// (MADV_GUARD_INSTALL; kernels >= 6.15 report it).
const pmGuardRegion = 1 << 58

// guardInside returns the test markThreadStacks asks of a mapping with
// no guard below it: is its lowest page a guard region? It reads that
// page's 8-byte entry of pagemap (one pread, under the read deadline;
// the same ptrace access as the stack pointers). A pagemap that cannot be
// read (absent in a fixture tree, denied, an older kernel without the
// bit) says no, and the mapping stays anon.
func (a *addrRead) guardInside(pageSz uint64) func(m *Mapping) bool {
	if pageSz == 0 || a.foreign {
		return nil
	}
	return func(m *Mapping) bool {
		path := a.pb.set(a.pid, a.tid, "pagemap")
		var entry [8]byte
		var n int
		err := a.slow.call(path, func() error {
			fd, err := openPath(path, unix.O_NONBLOCK)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			n, err = unix.Pread(fd, entry[:], int64(m.Start/pageSz*8))
			return err
		})
		return err == nil && n == len(entry) && binary.LittleEndian.Uint64(entry[:])&pmGuardRegion != 0
	}
}

// markStackGuards: the no-access mapping right below a thread stack is
// that thread's guard. One below anonymous rw memory and no bigger than
// a guard can be (maxGuard) may be the guard of a stack whose thread is
// not placed (unplaced: running, or its stack pointer unreadable), but
// only while there are no more such ranges than such threads: a
// one-thread process whose stack is known has no unplaced stack, and
// 30,000 no-access pages between its rw pages (tester10's B11) are
// reservations, not 30,000 stack guards. When the candidates outnumber
// the unplaced threads, which of them are guards cannot be told, and
// all are reserved: the class errs towards "not a stack", as
// markThreadStacks does. Every other no-access mapping is a reservation
// (reserved): address space set aside (mmap(PROT_NONE) reserves, malloc
// arenas, Go, JVM and V8 heaps, a library's alignment gap) that guards
// no stack.
func markStackGuards(maps []Mapping, unplaced int) {
	var candidates []int
	for i := range maps {
		m := &maps[i]
		if m.Class != SegGuard {
			continue
		}
		var next *Mapping
		if i+1 < len(maps) && maps[i+1].Start == m.End {
			next = &maps[i+1]
		}
		switch {
		case next != nil && next.Class == SegThreadStack:
			m.TID = next.TID
		case next != nil && next.Anonymous() && next.Writable() && !fileBacked(m) && m.SizeBytes() <= maxGuard &&
			len(candidates) <= unplaced:
			candidates = append(candidates, i)
		default:
			m.Class = SegReserved
		}
	}
	if len(candidates) > unplaced {
		for _, i := range candidates {
			maps[i].Class = SegReserved
		}
	}
}

// maxGuard is the largest no-access mapping taken for a stack guard
// without a known thread: glibc's default guard is one page, musl's two;
// larger no-access ranges below anonymous memory are runtime heaps'
// reserves (Go's arenas leave hundreds of KiB of them).
const maxGuard = 64 << 10

// isShm reports shared memory: POSIX (/dev/shm), SysV (/SYSV...),
// memfd, and shared anonymous memory (shown as /dev/zero).
func isShm(m *Mapping) bool {
	p := m.Path
	switch {
	case strings.HasPrefix(p, "/dev/shm/"), strings.HasPrefix(p, "/SYSV"),
		strings.HasPrefix(p, "/memfd:"), strings.HasPrefix(p, "[anon_shmem:"):
		return true
	case m.Shared() && (p == "" || strings.HasPrefix(p, "/dev/zero")):
		return true
	}
	return false
}

// segmentTotals sums the mappings per class, in SegmentClasses order.
func segmentTotals(maps []Mapping, perMapping bool) []SegmentTotal {
	var idx [len(segOrder)]SegmentTotal
	var rss, pss [len(segOrder)]uint64
	for i := range maps {
		m := &maps[i]
		k := segIndex(m.Class)
		idx[k].Mappings++
		idx[k].SizeBytes += m.SizeBytes()
		if m.RSSBytes != nil {
			rss[k] += *m.RSSBytes
		}
		if m.PSSBytes != nil {
			pss[k] += *m.PSSBytes
		}
	}
	var out []SegmentTotal
	for k, t := range idx {
		if t.Mappings == 0 {
			continue
		}
		t.Class = segOrder[k]
		if perMapping {
			t.RSSBytes, t.PSSBytes = ptrTo(rss[k]), ptrTo(pss[k])
		}
		out = append(out, t)
	}
	return out
}

// segOrder is Segments as an array, for fixed-size tables.
var segOrder = [...]Segment{
	SegCode, SegRodata, SegData, SegBSS, SegHeap, SegStack, SegThreadStack, SegGuard, SegReserved,
	SegLibCode, SegLibData, SegAnon, SegShm, SegFile, SegVdso, SegVvar, SegVsyscall,
}

func segIndex(s Segment) int {
	for i, c := range segOrder {
		if c == s {
			return i
		}
	}
	return segIndex(SegAnon)
}

func ptrTo[T any](v T) *T { return &v }
