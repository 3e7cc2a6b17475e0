// Package sampler reads the samples package explain works on: for one
// process, a full reading, a burst of fast per-thread readings (state,
// wait channel, system call, scheduler accounting) and a second full
// reading over a window; for the whole machine, the same for the
// processes worth a closer look.
//
// It does the I/O and keeps the time (both injected for tests);
// package explain does the analysis. It imports collector, explain's
// types and lifecycle (the zombie diagnosis a sample carries); it never
// formats for a screen.
package sampler

import (
	"cmp"
	"context"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
)

// Defaults of Options.
const (
	DefaultWindow   = 2 * time.Second
	DefaultInterval = 100 * time.Millisecond
	// DefaultCandidates is how many processes a machine sample examines
	// closely.
	DefaultCandidates = 5
	// maxNeighbours is how many other processes are named by CPU use.
	maxNeighbours = 5
)

// Options configures a Sampler.
type Options struct {
	// Window is the time between the two full readings (default
	// DefaultWindow); Interval the time between burst readings (default
	// DefaultInterval).
	Window, Interval time.Duration
	// Candidates is how many processes a machine sample examines closely
	// (default DefaultCandidates).
	Candidates int
	// Sleep waits d or until ctx is done (default: a timer).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the monotonic clock the samples' times are on (default: the
	// Reader's, the clock of its snapshots and of a monitor's memory
	// history).
	Now func() time.Duration
	// Unprivileged samples as an unprivileged reader of another user's
	// process would, whatever this process may read: no wait channel,
	// system call, io, descriptors, memory maps, executable path or
	// runtime; each is named unavailable with UnprivilegedReason. A
	// server uses it for clients that may not see more (serve).
	Unprivileged bool
}

// UnprivilegedReason is why a source is missing from an Unprivileged
// sample.
const UnprivilegedReason = "withheld: this client gets what an unprivileged reader sees (ptrace access needed)"

// Sampler takes samples of one /proc root through a Reader (which may be
// shared). A Sampler is for one goroutine at a time; several Samplers may
// share a Reader.
type Sampler struct {
	r    *collector.Reader
	opts Options
	// machine facts read once.
	machine explain.Machine
}

// New returns a Sampler over a Reader.
func New(r *collector.Reader, opts Options) *Sampler {
	opts.Window = cmp.Or(opts.Window, DefaultWindow)
	opts.Interval = cmp.Or(opts.Interval, DefaultInterval)
	opts.Candidates = cmp.Or(opts.Candidates, DefaultCandidates)
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Now == nil {
		opts.Now = r.Monotonic
	}
	s := &Sampler{r: r, opts: opts}
	s.machine = explain.Machine{Arch: runtime.GOARCH, Root: os.Geteuid() == 0}
	// A bounded read of a regular file: the root may be a tree the user
	// named, and this runs on every explain request.
	switch on, err := collector.DelayAcct(r.Root()); {
	case err != nil:
	case on:
		s.machine.DelayAcct = "on"
	default:
		s.machine.DelayAcct = "off"
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Process samples one process over the window. Its error wraps ESRCH
// (collector.IsVanished) when the pid does not exist or the process
// exited during the window. history, when not empty,
// is its memory over a longer time (a dashboard's ring), on the same
// clock as Options.Now.
func (s *Sampler) Process(ctx context.Context, pid int, history []explain.MemoryPoint) (*explain.Sample, error) {
	w := s.watch([]int{pid})
	if err := w.start(ctx); err != nil {
		return nil, err
	}
	if len(w.samples) == 0 {
		return nil, s.r.FileError(pid, "stat", syscall.ESRCH)
	}
	if err := w.burst(ctx, s.opts.Window); err != nil {
		return nil, err
	}
	if err := w.finish(ctx); err != nil {
		return nil, err
	}
	sm := w.samples[0]
	if sm.Last.Process == nil {
		return nil, s.r.FileError(pid, "stat", syscall.ESRCH)
	}
	sm.History = history
	return sm, nil
}

// Machine samples the whole machine: the first half of the window finds
// the processes that used the most CPU (and any with a thread in D), the
// second half samples the closest look at them.
func (s *Sampler) Machine(ctx context.Context) (*explain.MachineSample, error) {
	m := &explain.MachineSample{Version: explain.SampleVersion}
	snap0, err := s.r.Scan(ctx, collector.ScanOptions{})
	if err != nil {
		return nil, err
	}
	m.FirstAt = s.opts.Now()
	m.TakenAt = snap0.TakenAt
	m.First = s.hostLoad(snap0)
	m.Machine = s.machineOf(snap0)
	half := s.opts.Window / 2
	runnable := func() {
		if n, _, err := s.r.Runnable(); err == nil {
			m.Runnable = append(m.Runnable, n)
		}
	}
	for end := s.opts.Now() + half; s.opts.Now() < end; {
		runnable()
		if err := s.opts.Sleep(ctx, s.opts.Interval); err != nil {
			return nil, err
		}
	}
	// The middle scan reads every thread: a process whose threads are
	// runnable but starved uses little CPU, and only its thread states
	// show it.
	snapMid, err := s.r.Scan(ctx, collector.ScanOptions{Threads: true})
	if err != nil {
		return nil, err
	}
	secs := (s.opts.Now() - m.FirstAt).Seconds()
	// The reader itself is busy because it reads: it is left out of the
	// processes examined and of the busiest (the machine finding says so).
	m.SelfPID = os.Getpid()
	cand := explain.Candidates(withoutPID(cpuUsage(snap0, snapMid, secs), m.SelfPID), snapMid, s.opts.Candidates)
	cand = slices.DeleteFunc(cand, func(pid int) bool { return pid == m.SelfPID })
	w := s.watch(cand)
	if err := w.start(ctx); err != nil {
		return nil, err
	}
	if err := w.burst(ctx, s.opts.Window-half); err != nil {
		return nil, err
	}
	if err := w.finish(ctx); err != nil {
		return nil, err
	}
	for _, sm := range w.samples {
		if sm.Last.Process != nil {
			m.Processes = append(m.Processes, sm)
		}
	}
	m.Runnable = append(m.Runnable, w.runnable...)
	m.LastAt = w.lastAt
	m.Last = w.last
	m.Top = withoutPID(cpuUsage(snap0, w.lastSnap, (m.LastAt-m.FirstAt).Seconds()), m.SelfPID)
	if len(m.Top) > 10 {
		m.Top = m.Top[:10]
	}
	if m.Last.Pressure.Unavailable != nil {
		m.Unavailable = map[string]string{}
		for k, v := range m.Last.Pressure.Unavailable {
			m.Unavailable["pressure/"+k] = v
		}
	}
	if why, ok := snap0.Host.Unavailable["cpus"]; ok && m.Machine.CPUs <= 0 {
		if m.Unavailable == nil {
			m.Unavailable = map[string]string{}
		}
		m.Unavailable["cpus"] = why
	}
	return m, nil
}

// cpuUsage is each process's CPU over the window between two snapshots,
// busiest first, for processes in both.
func cpuUsage(a, b *collector.Snapshot, secs float64) []explain.Neighbour {
	return explain.TopCPU(a, b, secs, -1)
}

// withoutPID is ns without pid's entry.
func withoutPID(ns []explain.Neighbour, pid int) []explain.Neighbour {
	return slices.DeleteFunc(ns, func(n explain.Neighbour) bool { return n.PID == pid })
}

// hostPath is the machine-wide file name under the reader's root.
func (s *Sampler) hostPath(name string) string {
	root := strings.TrimRight(s.r.Root(), "/")
	if root == "" {
		root = "/proc"
	}
	return root + "/" + name
}

func (s *Sampler) machineOf(snap *collector.Snapshot) explain.Machine {
	m := s.machine
	m.CPUs = snap.Host.CPUs
	m.Kernel = snap.Host.Kernel
	return m
}

func (s *Sampler) hostLoad(snap *collector.Snapshot) explain.HostLoad {
	return explain.HostLoad{
		ProcsRunning: snap.Host.ProcsRunning, ProcsBlocked: snap.Host.ProcsBlocked, ProcessesCreated: snap.Host.ProcessesCreated,
		CPUTicks: snap.Host.CPUTicks, CPUIdleTicks: snap.Host.CPUIdleTicks,
		Pressure: s.r.Pressure(),
	}
}
