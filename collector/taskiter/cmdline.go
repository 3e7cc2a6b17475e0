package taskiter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Cmdlines reads processes' command lines in one run of a sleepable BPF
// program (pinspect_cmdlines in bpf/taskiter.bpf.c) instead of one
// /proc/PID/cmdline read each: about a microsecond a process against
// about 7.5 (docs/PERFORMANCE.md). A one-shot command asks for it
// (Options.Cmdlines); the views that keep the walk loaded read cmdlines
// only for new processes and do not load it.
//
// The program copies a process's argument area only when doing so cannot
// block (its mmap lock taken by a trylock, the area in an anonymous VMA
// without userfaultfd, I/O or PFN mappings); every other process is
// left to the caller's /proc reader, with the reason in its State. The
// check and the copy take the lock twice, so a writer can come between
// them and the run can still block behind a stuck fault: the caller runs
// Run under a deadline, and after one that did not finish, never again
// (StuckAt names the process it stopped at). Close may then come while
// that run is still in the kernel: the run's end releases what Close
// could not.
type Cmdlines struct {
	// mu orders Run's start and end with Close: running is set while a
	// run is in the kernel, closed once Close was called. A Close during
	// a run leaves the program, the arrays and their mappings to the
	// run's end, which releases them when (if ever) it returns.
	mu         sync.Mutex
	running    bool
	closed     bool
	prog       *ebpf.Program
	slotsMap   *ebpf.Map
	pagesMap   *ebpf.Map
	slots      []byte // cmd_slots, mapped read-write
	pages      []byte // cmd_pages up to the last one a run used, read-only
	nslots     int
	npages     int
	n          atomic.Int64 // slots of the last run (Done reads it while Run runs)
	bootOffset uint64
}

// cmdSlotSize is sizeof(struct cmd_slot); cmdPageSize is CMD_PAGE.
const (
	cmdSlotSize = 32
	cmdPageSize = 8192
)

// CmdlineState is what the program did with one process (CMD_* in
// bpf/taskiter.bpf.c).
type CmdlineState uint32

// The states of a process after a run.
const (
	// CmdlineNotReached: the run stopped before it.
	CmdlineNotReached CmdlineState = iota
	// CmdlineStuck: the run was reading it and has not finished.
	CmdlineStuck
	// CmdlineRead: Bytes holds what /proc/PID/cmdline gives.
	CmdlineRead
	// CmdlineEmpty: no address space (a kernel thread, a zombie), or not
	// set up yet: /proc/PID/cmdline is empty.
	CmdlineEmpty
	// CmdlineGone: no such process.
	CmdlineGone
	// CmdlineUnsafe: its argument area is not in an anonymous VMA free
	// of userfaultfd, I/O and PFN mappings: a read might block.
	CmdlineUnsafe
	// CmdlineBusy: its mmap lock was held for writing or had waiters.
	CmdlineBusy
	// CmdlineLong: its argument area is over 4 KiB, or the run's pages
	// were full.
	CmdlineLong
	// CmdlineFault: a page of it could not be read.
	CmdlineFault
)

// cmdSetproctitle is CMD_SETPROCTITLE.
const cmdSetproctitle = 1

// cmdlineObjects is the program and its two arrays.
type cmdlineObjects struct {
	Prog  *ebpf.Program `ebpf:"pinspect_cmdlines"`
	Slots *ebpf.Map     `ebpf:"cmd_slots"`
	Pages *ebpf.Map     `ebpf:"cmd_pages"`
}

// cmdPageBudget is the bytes of argument areas the pages hold for each
// slot: a page holds at least half its size (a cmdline starts in its
// first half), and a process past the pages is read from /proc.
const cmdPageBudget = 192

// openCmdlines loads the cmdline program with copts for about processes.
func openCmdlines(spec *ebpf.CollectionSpec, copts *ebpf.CollectionOptions, processes int, bootOffset uint64) (*Cmdlines, error) {
	if spec.Programs["pinspect_cmdlines"] == nil || spec.Maps["cmd_slots"] == nil || spec.Maps["cmd_pages"] == nil {
		return nil, errors.New("no cmdline program")
	}
	nslots := processes + processes/4 + 64
	npages := nslots*cmdPageBudget/(cmdPageSize/2) + 4
	spec = resized(spec, "pinspect_cmdlines", map[string]uint32{"cmd_slots": uint32(nslots), "cmd_pages": uint32(npages)})
	var objs cmdlineObjects
	if err := spec.LoadAndAssign(&objs, copts); err != nil {
		return nil, err
	}
	c := &Cmdlines{prog: objs.Prog, slotsMap: objs.Slots, pagesMap: objs.Pages, nslots: nslots, npages: npages, bootOffset: bootOffset}
	size := pageRound(nslots * cmdSlotSize)
	mem, err := unix.Mmap(objs.Slots.FD(), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("cmdlines: map the slots: %w", err)
	}
	c.slots = mem[:nslots*cmdSlotSize]
	return c, nil
}

// resized is spec for one load of the program prog, with the maps named
// in sizes given those sizes (0: the spec's) and no key and value types:
// only those maps are copied. The rest is shared with spec: the loader
// copies each program and map it loads before changing it, and reads the
// types. The spec's other programs are left out: the loader goes through
// every instruction of every program it is given (its kallsyms lookups)
// before it loads the one asked for.
// spec.Copy() copied every program of the object (four, about 5,000
// instructions) and its types for two numbers: 0.4 % of a one-shot
// `pinspect --json` at 10,000 x 1.
//
// The kernel needs no types for an array or hash of plain records (they
// matter only to maps with locks, timers or kernel pointers in their
// values, which pinspect's have not); with them, each map was made with
// a BTF object of its own, marshalled and loaded for it (about 1 % of
// that one-shot for the walk's and the cmdline program's maps).
func resized(spec *ebpf.CollectionSpec, prog string, sizes map[string]uint32) *ebpf.CollectionSpec {
	cs := *spec
	cs.Programs = map[string]*ebpf.ProgramSpec{}
	if p := spec.Programs[prog]; p != nil {
		cs.Programs[prog] = p
	}
	cs.Maps = maps.Clone(spec.Maps)
	for name, n := range sizes {
		m := spec.Maps[name].Copy()
		if n != 0 {
			m.MaxEntries = n
		}
		m.Key, m.Value = nil, nil
		if m.InnerMap != nil {
			m.InnerMap.Key, m.InnerMap.Value = nil, nil
		}
		cs.Maps[name] = m
	}
	return &cs
}

func pageRound(n int) int {
	pg := os.Getpagesize()
	return (n + pg - 1) / pg * pg
}

// Cap is how many processes one run reads.
func (c *Cmdlines) Cap() int { return c.nslots }

// errCmdlinesClosed is Run's error after Close.
var errCmdlinesClosed = errors.New("cmdlines: closed")

// runReturnedHook, when not nil, is called by Run after the program's run
// returns and before Run looks at its results: a test stands in for a run
// that stays in the kernel by blocking in it.
var runReturnedHook func()

// Run reads the cmdlines of pids (at most Cap of them; the first Cap).
// A pid may name any thread of its process (a live one when the leader
// has exited, as /proc/PID/task/TID/cmdline is read then).
// It blocks until the run ends: a caller that must not wait for a stuck
// process runs it under a deadline, and after one that expired calls
// only StuckAt and Close (the run may still be going on). Afterwards
// Result(i) is pids[i]'s outcome until the next Run.
func (c *Cmdlines) Run(pids []int) error {
	c.mu.Lock()
	if closed, running := c.closed, c.running; closed || running {
		c.mu.Unlock()
		if closed {
			return errCmdlinesClosed
		}
		return errors.New("cmdlines: a run is going on (one abandoned at its deadline)")
	}
	c.unmapPages()
	n := min(len(pids), c.nslots)
	for i, pid := range pids[:n] {
		s := c.slots[i*cmdSlotSize:]
		binary.NativeEndian.PutUint32(s, uint32(pid))
		atomic.StoreUint32(c.state(i), uint32(CmdlineNotReached))
	}
	c.n.Store(int64(n))
	var args [8]byte // struct cmd_args: count, npages (in); pages used (out)
	binary.NativeEndian.PutUint32(args[0:], uint32(n))
	binary.NativeEndian.PutUint32(args[4:], uint32(c.npages))
	var out [8]byte
	c.running = true
	c.mu.Unlock()
	ret, err := c.prog.Run(&ebpf.RunOptions{Context: args[:], ContextOut: out[:]})
	if runReturnedHook != nil {
		runReturnedHook()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = false
	if c.closed {
		// Closed while the run was in the kernel: release it all now.
		_ = c.release()
		return errCmdlinesClosed
	}
	if err != nil {
		return fmt.Errorf("cmdlines: %w", err)
	}
	if ret != 0 {
		return fmt.Errorf("cmdlines: the program returned %d", ret)
	}
	used := int(binary.NativeEndian.Uint32(out[4:]))
	if used > c.npages {
		return fmt.Errorf("cmdlines: the program used %d pages of %d", used, c.npages)
	}
	if used > 0 {
		mem, err := unix.Mmap(c.pagesMap.FD(), 0, used*cmdPageSize, unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("cmdlines: map the pages: %w", err)
		}
		c.pages = mem
	}
	return nil
}

// state is slot i's state word.
func (c *Cmdlines) state(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&c.slots[i*cmdSlotSize+4]))
}

// StuckAt is the index of the process a run that did not return was
// reading, or -1. It may be called while that run goes on.
func (c *Cmdlines) StuckAt() int {
	for i := range int(c.n.Load()) {
		if CmdlineState(atomic.LoadUint32(c.state(i))) == CmdlineStuck {
			return i
		}
	}
	return -1
}

// Done is how many processes of the current run are done (the run marks
// them in order). It may be called while the run goes on: a caller
// watching a run for a deadline sees it move.
func (c *Cmdlines) Done() int {
	n := 0
	for i := range int(c.n.Load()) {
		if CmdlineState(atomic.LoadUint32(c.state(i))) < CmdlineRead {
			break
		}
		n++
	}
	return n
}

// CmdlineResult is one process's outcome of a run.
type CmdlineResult struct {
	State CmdlineState
	// StartTicks is the start time (as /proc/PID/stat shows it) of the
	// process read (its leader's), which tells a pid reused since the
	// caller's pass.
	StartTicks uint64
	// Bytes is what /proc/PID/cmdline gives (CmdlineRead), aliasing the
	// mapped pages until the next Run or Close.
	Bytes []byte
}

// Result is pids[i]'s outcome of the last Run.
func (c *Cmdlines) Result(i int) CmdlineResult {
	if i < 0 || i >= int(c.n.Load()) {
		return CmdlineResult{}
	}
	s := c.slots[i*cmdSlotSize : (i+1)*cmdSlotSize]
	r := CmdlineResult{State: CmdlineState(atomic.LoadUint32(c.state(i)))}
	start := binary.NativeEndian.Uint64(s[8:])
	r.StartTicks = NsToTicks(start + c.bootOffset)
	if r.State != CmdlineRead {
		return r
	}
	page := int(binary.NativeEndian.Uint32(s[16:]))
	off := int(binary.NativeEndian.Uint32(s[20:]))
	n := int(binary.NativeEndian.Uint32(s[24:]))
	flags := binary.NativeEndian.Uint32(s[28:])
	from := page*cmdPageSize + off
	if n <= 0 || off >= cmdPageSize || from+n > len(c.pages) {
		r.State = CmdlineFault // never: the program keeps to its pages
		return r
	}
	b := c.pages[from : from+n : from+n]
	if flags&cmdSetproctitle != 0 {
		// get_mm_proctitle: the string at arg_start, with its NUL if
		// one was found.
		if k := bytes.IndexByte(b, 0); k >= 0 {
			b = b[:k+1]
		}
	}
	r.Bytes = b
	return r
}

func (c *Cmdlines) unmapPages() {
	if c.pages != nil {
		_ = unix.Munmap(c.pages)
		c.pages = nil
	}
}

// Close unloads the program and unmaps its arrays, at once, or when a
// run in the kernel (one abandoned at its deadline) returns: it does not
// wait for that run. Done, StuckAt and Result may not be called after it.
func (c *Cmdlines) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.running {
		return nil // Run's end releases everything
	}
	return c.release()
}

// release unmaps the arrays and closes the program and its maps; c.mu is
// held.
func (c *Cmdlines) release() error {
	c.n.Store(0)
	c.unmapPages()
	if c.slots != nil {
		_ = unix.Munmap(c.slots[:cap(c.slots)])
		c.slots = nil
	}
	var errs []error
	for _, cl := range []interface{ Close() error }{c.prog, c.slotsMap, c.pagesMap} {
		if cl != nil {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}
