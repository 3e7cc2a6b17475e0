// Package taskiter reads every task (thread) of the machine in one pass
// of a BPF task iterator: a small program (bpf/taskiter.bpf.c, compiled by
// bpf2go into the committed taskiter_bpf*.o, and taskiterseq_bpf*.o for
// the seq_file iterator, and embedded) that the kernel
// runs once per task and that writes one fixed binary record per task, plus
// one per thread-group leader with what the kernel keeps per process.
//
// A pass costs about half a microsecond a task, against tens of
// microseconds to open, read and parse a task's /proc files, because
// nothing is formatted as text and nothing is looked up by path.
//
// The package owns loading the program (Open), reading a pass as a stream
// of decoded records (Iterator.Pass, never buffering a whole dump), the
// kernel's own formulas that turn raw values into what /proc shows
// (convert.go), and saying in one line why the iterator cannot be used
// here (UnavailableError). It does not build snapshots: the collector
// does that. It imports cilium/ebpf and x/sys, never the collector.
//
// Loading needs root, or CAP_BPF and CAP_PERFMON, and a kernel with BTF
// and task iterators (Linux 5.8 or later).
package taskiter

//go:generate ./bpf/generate.sh

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// DefaultKernelBTF is where a kernel built with CONFIG_DEBUG_INFO_BTF
// publishes its type information.
const DefaultKernelBTF = "/sys/kernel/btf/vmlinux"

// Options configures Open. The zero value loads against the running
// kernel.
type Options struct {
	// KernelBTF is the kernel's BTF file (default DefaultKernelBTF). The
	// program's field accesses are relocated against it; a missing file
	// means the kernel has no BTF, and so no task iterator.
	KernelBTF string
	// SeqFile loads the seq_file task iterator even where the walk
	// (walk.go) would load: tests compare the two.
	SeqFile bool
	// Cmdlines also loads the cmdline program (Iterator.Cmdlines), with
	// the walk only: a one-shot command reads every cmdline once.
	Cmdlines bool
	// CmdlinesFrom is how many processes the walk must count at load
	// for Cmdlines to load the program (0: whatever the count): loading
	// it costs about as much as reading a few hundred cmdlines from /proc.
	CmdlinesFrom int
	// Idents also loads the identity program (Iterator.Idents), with the
	// walk only: a view that follows the kernel's process events looks up
	// every new process.
	Idents bool
	// RawRuns runs the walk and the identity program in raw system calls
	// (rawRun): the goroutine keeps its thread and its P through a run,
	// and the Go runtime never learns it was in the kernel. For a program
	// on one P that does little else (the dashboard): a system call the
	// runtime is told of wakes its monitor thread (sysmon) from its deep
	// sleep, after which it polls every 20 µs, and one that lasts past a
	// poll (the walk, about 8 ms at 2,000 x 9) has its P handed to another
	// thread and taken back after. The cost: nothing else of the program
	// runs during a run, and a garbage collection that must stop the
	// world waits for it to end.
	RawRuns bool
	// UsePin opens the programs pinned by `pinspect bpf pin` (pin.go)
	// instead of loading them, when a pin of this object is there, fits
	// the machine and is not in use, and the options are a one-shot's
	// (the walk, the cmdline program, no identity program); otherwise
	// Open loads as without it.
	UsePin bool
}

// Iterator is a loaded and attached task iterator. Each Pass runs the
// program over every task once. Pass may be called from several
// goroutines at once; Close must not race with a Pass.
type Iterator struct {
	// walk is the one-run walk of every task (Linux 6.7 and later); nil
	// when the seq_file iterator (seq, link) is used instead.
	walk    *walker
	seq     seqObjects
	link    *link.Iter
	readers sync.Pool // *bufio.Reader, one per concurrent Pass
	// bootOffset is this process's time namespace boottime offset (two's
	// complement), added to every start time: /proc shows them so.
	bootOffset uint64
	// LoadDuration is how long loading, verifying and attaching took.
	LoadDuration time.Duration
	// cmdlines is the cmdline program (Options.Cmdlines), nil when not
	// asked for or not loaded.
	cmdlines *Cmdlines
	// CmdlinesUnavailable says why the cmdline program was asked for
	// and not loaded (its cmdlines are then read from /proc).
	CmdlinesUnavailable error
	// idents is the identity program (Options.Idents), nil when not
	// asked for or not loaded (identities are then read from /proc).
	idents *Idents
	// IdentsUnavailable says why the identity program was asked for and
	// not loaded (identities are then read from /proc).
	IdentsUnavailable error
	// pin is the pin in use (Options.UsePin), nil when loaded here.
	pin *pinHold
	// PinTooSmall says, in one line, that Options.UsePin found this
	// object's pin but it holds fewer tasks or processes than run now
	// (with a one-shot's room), so the programs were loaded here; nil
	// otherwise (the pin used, none, in use by another run, or not
	// usable for another reason).
	PinTooSmall error
	// WalkUnavailable says, in one line, why the walk could not be
	// loaded and the seq_file iterator (about 0.4 µs a task more) is
	// used; nil when the walk is used or Options.SeqFile asked for the
	// seq_file iterator.
	WalkUnavailable error
}

// seqObjects is the seq_file iterator's program and the map it uses.
type seqObjects struct {
	Prog    *ebpf.Program `ebpf:"pinspect_tasks"`
	Scratch *ebpf.Map     `ebpf:"scratch"`
}

func (o *seqObjects) close() error {
	var errs []error
	if o.Prog != nil {
		errs = append(errs, o.Prog.Close())
	}
	if o.Scratch != nil {
		errs = append(errs, o.Scratch.Close())
	}
	return errors.Join(errs...)
}

// readBufSize is the read buffer of a pass: large enough that a pass is
// a few hundred reads of the seq_file, small enough to stay cheap for a
// one-shot command.
const readBufSize = 64 << 10

// Open loads, verifies and attaches the task iterator. Every failure is
// an *UnavailableError whose Error() is one line saying why (no BTF, no
// task iterators, BPF denied, the verifier's rejection).
func Open(opts Options) (*Iterator, error) {
	start := time.Now()
	path := opts.KernelBTF
	if path == "" {
		path = DefaultKernelBTF
	}
	if err := checkKernel(path); err != nil {
		return nil, err
	}
	it := &Iterator{}
	it.bootOffset = uint64(bootOffsetNs(timensOffsets))
	if opts.UsePin && !opts.SeqFile && opts.KernelBTF == "" && !opts.Idents {
		err := it.openPinned(opts)
		if err == nil {
			it.LoadDuration = time.Since(start)
			return it, nil
		}
		if errors.Is(err, errPinTooSmall) {
			it.PinTooSmall = err
		}
	}
	if !opts.SeqFile && opts.KernelBTF == "" {
		// The cheap load (kbtf.go); anything unexpected loads the usual
		// way below.
		if w, spec, copts, err := openWalkTrimmed(path); err == nil {
			it.walk = w
			w.raw = opts.RawRuns
			if opts.Cmdlines && w.countedGroups >= opts.CmdlinesFrom {
				it.openCmdlines(spec, copts)
			}
			if opts.Idents {
				it.openIdents(spec, copts, opts.RawRuns)
			}
			it.LoadDuration = time.Since(start)
			return it, nil
		}
	}
	spec, err := loadTaskIter()
	if err != nil {
		return nil, &UnavailableError{Kind: Broken, Detail: "the embedded BPF object does not parse", Err: err}
	}
	var copts ebpf.CollectionOptions
	if opts.KernelBTF != "" {
		kspec, err := btf.LoadSpec(opts.KernelBTF)
		if err != nil {
			return nil, &UnavailableError{Kind: NoBTF, Detail: "kernel BTF at " + opts.KernelBTF + " does not load", Err: err}
		}
		copts.Programs.KernelTypes = kspec
	}
	if !opts.SeqFile {
		it.walk, err = openWalk(spec, &copts)
		if err == nil {
			it.walk.raw = opts.RawRuns
			if opts.Cmdlines && it.walk.countedGroups >= opts.CmdlinesFrom {
				it.openCmdlines(spec, &copts)
			}
			if opts.Idents {
				it.openIdents(spec, &copts, opts.RawRuns)
			}
			it.LoadDuration = time.Since(start)
			return it, nil
		}
		it.WalkUnavailable = walkUnavailable(err)
	}
	if err := it.openSeq(&copts); err != nil {
		return nil, err
	}
	it.LoadDuration = time.Since(start)
	return it, nil
}

// openSeq loads and attaches the seq_file iterator, an object of its own
// (generate.sh): the walk's loads do not parse it.
func (it *Iterator) openSeq(copts *ebpf.CollectionOptions) error {
	spec, err := loadTaskIterSeq()
	if err != nil {
		return &UnavailableError{Kind: Broken, Detail: "the embedded BPF object does not parse", Err: err}
	}
	if err := spec.LoadAndAssign(&it.seq, copts); err != nil {
		return classify(err)
	}
	it.link, err = link.AttachIter(link.IterOptions{Program: it.seq.Prog})
	if err != nil {
		_ = it.seq.close()
		return classify(err)
	}
	it.readers.New = func() any { return bufio.NewReaderSize(nil, readBufSize) }
	return nil
}

// openCmdlines loads the cmdline program beside the walk, sized for the
// processes the walk counted, or says why not.
func (it *Iterator) openCmdlines(spec *ebpf.CollectionSpec, copts *ebpf.CollectionOptions) {
	if cmdlinesPageSize != cmdTitle {
		it.CmdlinesUnavailable = fmt.Errorf("the cmdline program reads a rewritten title's first %d bytes, the kernel its first page (%d bytes here)", cmdTitle, cmdlinesPageSize)
		return
	}
	c, err := openCmdlines(spec, copts, max(it.walk.countedGroups, 64), it.bootOffset)
	if err != nil {
		it.CmdlinesUnavailable = fmt.Errorf("the cmdline program does not load: %w", classify(err))
		return
	}
	it.cmdlines = c
}

// cmdTitle is CMD_TITLE in bpf/taskiter.bpf.c: how much of a rewritten
// argv (setproctitle) the program reads, as the kernel does on a machine
// of 4 KiB pages (get_mm_proctitle reads at most PAGE_SIZE). The same
// little-endian object serves arm64 and ppc64le kernels of 16 or 64 KiB
// pages, where a title without a NUL in its first 4 KiB would come out
// shorter than /proc's: the program is loaded only where the page is
// that size.
const cmdTitle = 4096

// cmdlinesPageSize is the page size the cmdline program is checked
// against (a variable: a test makes it another machine's).
var cmdlinesPageSize = os.Getpagesize()

// Cmdlines is the cmdline program (Options.Cmdlines), or nil.
func (it *Iterator) Cmdlines() *Cmdlines { return it.cmdlines }

// Idents is the identity program (Options.Idents), or nil: without it
// (an older kernel, a load that failed) identities come from /proc, as
// before, so nothing is lost but time.
func (it *Iterator) Idents() *Idents { return it.idents }

// Processes is how many processes the walk last found (at load, or in
// the last pass): a scan sizes its slices with it. 0 when unknown (the
// seq_file iterator).
func (it *Iterator) Processes() int {
	if it.walk == nil {
		return 0
	}
	return int(it.walk.processes.Load())
}

// Walking reports whether passes use the walk (one program run over
// every task) rather than the seq_file iterator.
func (it *Iterator) Walking() bool { return it.walk != nil }

// CountTasks runs the walk's counting run, which writes no record: the
// tasks of the processes the walk sees now (each process's count of
// threads, as /proc/PID/stat's num_threads) and the processes. About a
// millisecond at 10,000 processes, against a pass's 20 ms. An error
// without the walk (the seq_file iterator).
func (it *Iterator) CountTasks() (tasks, processes int, err error) {
	if it.walk == nil {
		return 0, 0, errors.New("task iterator: no walk to count with")
	}
	return it.walk.count()
}

// Close detaches and unloads the program.
func (it *Iterator) Close() error {
	var errs []error
	if it.walk != nil {
		errs = append(errs, it.walk.close())
		it.walk = nil
	}
	if it.link != nil {
		errs = append(errs, it.link.Close())
		it.link = nil
	}
	if it.cmdlines != nil {
		errs = append(errs, it.cmdlines.Close())
		it.cmdlines = nil
	}
	if it.idents != nil {
		errs = append(errs, it.idents.Close())
		it.idents = nil
	}
	errs = append(errs, it.seq.close(), it.pin.release())
	it.pin = nil
	return errors.Join(errs...)
}

// PassStats describes one pass.
type PassStats struct {
	// Tasks is the number of tasks seen (every thread, those summed in
	// the kernel included).
	Tasks int
	// Groups is the number of thread-group records (one per process).
	Groups int
	// Bytes is what the kernel wrote.
	Bytes int64
}

// ErrLayout means a record did not have the kind or size this package
// decodes: the object and the Go code are out of step, or the stream was
// cut mid-record.
var ErrLayout = errors.New("task iterator record layout mismatch")

// Pass runs the iterator once and calls visit for every task. The walk
// gives the processes in ascending pid order, each leader followed by its
// threads (in the order they were made); the seq_file iterator gives
// ascending thread ids, the threads of a process interleaved with other
// processes. Passes of the walk run one at a time (they share its
// arrays): visit must not start another Pass. The Task given
// to visit, and its Group, are reused for the next task: copy what must
// outlive the call. An error from visit stops the pass and is returned.
//
// The kernel walks its task list as the pass proceeds: a task that starts
// or exits during the pass may or may not be seen, as with a /proc scan.
func (it *Iterator) Pass(visit func(*Task) error) (PassStats, error) {
	return it.PassWith(PassOptions{}, visit)
}

// PassOptions chooses what a pass visits.
type PassOptions struct {
	// SumThreads has the walk visit only the leaders of processes not in
	// ThreadsOf, their other live threads summed by the kernel into
	// Group.ThreadSums: a view that shows the threads of a few processes
	// saves a record per thread. The seq_file iterator visits every
	// thread whatever this says (ThreadSums is then zero), and so does
	// the walk when ThreadsOf has more than 4,096 processes.
	SumThreads bool
	// ThreadsOf are the processes (sorted) whose threads are visited
	// with SumThreads.
	ThreadsOf []int
	// NoIO has the walk leave the io counters out (Group.HasIO is then
	// false): a caller that does not show io saves the kernel reading
	// every thread's. The seq_file iterator reads them whatever this says.
	NoIO bool
	// NoSighand has the walk leave the signal dispositions out
	// (Group.HasSighand is then false, SigIgnored and SigCaught 0 and
	// meaningless): a caller that shows them for a few processes only
	// saves the kernel loading every process's 64 handlers. The seq_file
	// iterator reads them whatever this says.
	NoSighand bool
	// CgroupID has the walk give each process's cgroup id in the unified
	// hierarchy (Group.CgroupID, HasCgroupID): a caller that shows
	// cgroups reads /proc/PID/cgroup again only when it moved. The
	// seq_file iterator never gives it.
	CgroupID bool
	// BeforeRun, when set, is called once the pass is ready to read
	// the kernel's tasks (the walk's arrays made), right before it
	// does: what it reads then is as close to the pass as can be.
	BeforeRun func()
	// AfterRun, when set, is called once the walk has read the kernel's
	// tasks, before the first is visited, with the parents that the
	// pass's processes name and the pass did not show (sorted, once
	// each; empty when there are none): what it reads then is as close to
	// the pass as BeforeRun's, without the decoding between (about 20 ms
	// at 10,000 processes). The slice is the walk's until the pass ends.
	// The seq_file iterator, which reads the tasks as it visits them,
	// does not call it.
	AfterRun func(missingParents []int)
}

// PassWith is Pass with options.
func (it *Iterator) PassWith(o PassOptions, visit func(*Task) error) (PassStats, error) {
	var st PassStats
	if it.walk != nil {
		return it.walk.pass(it.bootOffset, o, visit)
	}
	if it.link == nil {
		return st, errors.New("task iterator closed")
	}
	if o.BeforeRun != nil {
		o.BeforeRun()
	}
	f, err := it.link.Open()
	if err != nil {
		return st, fmt.Errorf("task iterator: %w", err)
	}
	defer f.Close()
	br := it.readers.Get().(*bufio.Reader)
	br.Reset(f)
	defer func() {
		br.Reset(nil)
		it.readers.Put(br)
	}()
	return decodeStream(br, it.bootOffset, visit)
}

// decodeStream decodes records from br until EOF, calling visit for each
// task, with bootOffset added to its start time (wrapping, as the kernel
// adds a time namespace's offset). Any stream that is not a sequence of
// whole records is an error wrapping ErrLayout, never a panic.
func decodeStream(br *bufio.Reader, bootOffset uint64, visit func(*Task) error) (PassStats, error) {
	var (
		st   PassStats
		t    Task
		g    Group
		trec taskIterTaskRec
		grec taskIterGroupRec
	)
	const (
		taskSize  = int(unsafe.Sizeof(trec))
		groupSize = int(unsafe.Sizeof(grec))
	)
	for {
		b, err := br.Peek(taskSize)
		if err == io.EOF && len(b) == 0 {
			return st, nil
		}
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("%w: %d bytes at the end of the stream", ErrLayout, len(b))
			}
			return st, fmt.Errorf("task iterator: read: %w", err)
		}
		kind, size := recordHeader(b)
		if kind != recTask || size != taskSize {
			return st, fmt.Errorf("%w: record kind %d size %d, want kind %d size %d", ErrLayout, kind, size, recTask, taskSize)
		}
		copyRecord(&trec, b)
		_, _ = br.Discard(taskSize)
		st.Tasks++
		st.Bytes += int64(taskSize)
		t.fill(&trec)
		t.StartBootNs += bootOffset
		t.Group = nil
		if trec.Pid == trec.Tgid {
			b, err := br.Peek(groupSize)
			if err != nil {
				if err == io.EOF {
					err = fmt.Errorf("%w: a leader's group record is cut short", ErrLayout)
				}
				return st, fmt.Errorf("task iterator: read: %w", err)
			}
			kind, size := recordHeader(b)
			if kind != recGroup || size != groupSize {
				return st, fmt.Errorf("%w: record kind %d size %d, want kind %d size %d", ErrLayout, kind, size, recGroup, groupSize)
			}
			copyRecord(&grec, b)
			_, _ = br.Discard(groupSize)
			st.Groups++
			st.Bytes += int64(groupSize)
			g.fill(&grec)
			t.Group = &g
		}
		if err := visit(&t); err != nil {
			return st, err
		}
	}
}

// checkKernel says why the iterator cannot load before trying: no BTF,
// or pinspect running in a child pid namespace.
func checkKernel(btfPath string) error {
	if _, err := os.Stat(btfPath); err != nil {
		detail := "no kernel BTF at " + btfPath + " (a kernel built without CONFIG_DEBUG_INFO_BTF)"
		if !errors.Is(err, os.ErrNotExist) {
			detail = "kernel BTF at " + btfPath + " is not readable"
		}
		return &UnavailableError{Kind: NoBTF, Detail: detail, Err: err}
	}
	if err := inInitialPidNS(); err != nil {
		return &UnavailableError{Kind: PidNamespace, Detail: err.Error() + "; the iterator reports the initial namespace's pids", Err: err}
	}
	return nil
}
