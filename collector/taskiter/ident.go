package taskiter

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Idents answers who processes are, by pid, in one run of a BPF program
// (pinspect_idents in bpf/taskiter.bpf.c) for a whole batch of pids: the
// fields of /proc/PID/stat that a kernel event source looks up for each
// new or exiting process (start time, name, state, parent, group,
// session, thread count, exit code), without opening that file. Under a
// fork storm each /proc/PID/stat read cost about 20 µs, most of it the
// kernel making the new pid's /proc directory and formatting its stat;
// a run costs about a system call and a hash lookup a pid. Views that
// keep the walk loaded ask for it (Options.Idents).
//
// The program never blocks (it takes no lock a target can hold), so Run
// needs no deadline. Run may be called from several goroutines at once.
type Idents struct {
	mu         sync.Mutex
	closed     bool
	prog       *ebpf.Program
	slotsMap   *ebpf.Map
	mem        []byte              // ident_slots, mapped read-write
	slots      []taskIterIdentSlot // the same memory
	bootOffset uint64
	raw        bool    // runs with rawRun (Options.RawRuns)
	args       [8]byte // struct ident_args (count), on the heap for rawRun
}

// identObjects is the program and its array.
type identObjects struct {
	Prog  *ebpf.Program `ebpf:"pinspect_idents"`
	Slots *ebpf.Map     `ebpf:"ident_slots"`
}

// identSlots is how many pids one run answers: a batch of connector
// events under a fork storm is a few dozen processes; a larger batch
// takes several runs.
const identSlots = 256

// openIdents loads the identity program beside the walk, or says in
// IdentsUnavailable why it did not load; raw runs it with rawRun
// (Options.RawRuns).
func (it *Iterator) openIdents(spec *ebpf.CollectionSpec, copts *ebpf.CollectionOptions, raw bool) {
	d, err := openIdents(spec, copts, it.bootOffset)
	if err != nil {
		it.IdentsUnavailable = fmt.Errorf("the identity program does not load: %w", classify(err))
		return
	}
	d.raw = raw
	it.idents = d
}

// openIdents loads the identity program with copts.
func openIdents(spec *ebpf.CollectionSpec, copts *ebpf.CollectionOptions, bootOffset uint64) (*Idents, error) {
	if spec.Programs["pinspect_idents"] == nil || spec.Maps["ident_slots"] == nil {
		return nil, errors.New("no identity program")
	}
	spec = resized(spec, "pinspect_idents", map[string]uint32{"ident_slots": identSlots})
	var objs identObjects
	if err := spec.LoadAndAssign(&objs, copts); err != nil {
		return nil, err
	}
	d := &Idents{prog: objs.Prog, slotsMap: objs.Slots, bootOffset: bootOffset}
	size := int(unsafe.Sizeof(taskIterIdentSlot{})) * identSlots
	mem, err := unix.Mmap(objs.Slots.FD(), 0, pageRound(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("idents: map the slots: %w", err)
	}
	d.mem = mem
	d.slots = unsafe.Slice((*taskIterIdentSlot)(unsafe.Pointer(&mem[0])), identSlots)
	return d, nil
}

// Ident is what Idents found for one pid.
type Ident struct {
	// Found is false when no task has the pid (the process was
	// released: /proc/PID would not open either).
	Found bool
	// Task is the pid's task (the process's leader), its start time in
	// this process's time namespace as /proc shows it. Its Group is nil.
	Task Task
	// Kernel is true for a kernel thread, whose name in /proc may be
	// longer than Task's comm (Task.Name cannot tell it without a group
	// record): read it from /proc.
	Kernel bool
	// NumThreads, PGID and SID are the thread group's, from its signal
	// struct (a task found always has one: the kernel frees it with the
	// task, after the pid was released).
	NumThreads int
	PGID, SID  int
	// ExitCode is stat's field 52 for the process, as Group.ExitCode
	// computes it.
	ExitCode int32
}

// Run answers for each pid, appending one Ident a pid to out (in order).
// An error means no answer: the caller reads /proc instead.
func (d *Idents) Run(pids []int, out []Ident) ([]Ident, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return out, errors.New("idents: closed")
	}
	for len(pids) > 0 {
		n := min(len(pids), identSlots)
		for i, pid := range pids[:n] {
			if pid <= 0 || pid > 1<<31-1 {
				return out, fmt.Errorf("idents: pid %d out of range", pid)
			}
			d.slots[i].Pid = uint32(pid)
			d.slots[i].Found = 0
		}
		*(*uint32)(unsafe.Pointer(&d.args[0])) = uint32(n) // struct ident_args: count
		var ret uint32
		var err error
		if d.raw {
			ret, err = rawRun(d.prog, d.args[:])
		} else {
			ret, err = d.prog.Run(&ebpf.RunOptions{Context: d.args[:]})
		}
		if err != nil {
			return out, fmt.Errorf("idents: %w", err)
		}
		if ret != 0 {
			return out, fmt.Errorf("idents: the program returned %d", ret)
		}
		for i := range n {
			out = append(out, d.ident(&d.slots[i], pids[i]))
		}
		pids = pids[n:]
	}
	return out, nil
}

// ident is one slot's answer for pid.
func (d *Idents) ident(s *taskIterIdentSlot, pid int) Ident {
	if s.Found == 0 || s.T.Kind != recTask || int(s.T.Pid) != pid {
		return Ident{}
	}
	id := Ident{Found: true}
	id.Task.fill(&s.T)
	id.Task.StartBootNs += d.bootOffset
	id.Kernel = id.Task.Flags&pfKthread != 0
	id.NumThreads, id.PGID, id.SID = int(s.NrThreads), int(s.Pgid), int(s.Sid)
	g := Group{SignalFlags: s.SigFlags, GroupExitCode: s.GroupExitCode}
	id.ExitCode = g.ExitCode(&id.Task)
	return id
}

// pfKthread is PF_KTHREAD.
const pfKthread = 0x00200000

// Close unloads the program and unmaps its array.
func (d *Idents) Close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.mem != nil {
		_ = unix.Munmap(d.mem)
		d.mem, d.slots = nil, nil
	}
	var errs []error
	for _, c := range []interface{ Close() error }{d.prog, d.slotsMap} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
