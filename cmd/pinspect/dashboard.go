package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/views/dashboard"
	"github.com/pinspect/pinspect/views/metrics"
)

// dashboardMemLimit is the Go heap's soft limit while the dashboard runs.
const dashboardMemLimit = 40 << 20

// runDashboard opens the live dashboard: a monitor samples the /proc root
// (processes only; threads, details and the address space for the
// selected process) and the dashboard shows its frames until q.
func runDashboard(a *app) error {
	if _, err := a.filter(); err != nil { // validates --state
		return err
	}
	interval := a.interval
	if interval <= 0 {
		return usageError{fmt.Errorf("--interval must be positive")}
	}
	if a.remote != "" {
		return runRemoteDashboard(a, interval)
	}
	r, err := a.reader(false)
	if err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Two snapshots of a few thousand processes are ~30 MB live at
		// most; a soft limit keeps the collector from doubling that before
		// collecting (the target is under 60 MB RSS).
		debug.SetMemoryLimit(dashboardMemLimit)
	}
	m := monitor.New(r, monitor.Options{Interval: interval, Connector: true})
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	monDone := make(chan error, 1)
	go func() { monDone <- m.Run(ctx) }()
	src := &spaceSampler{Monitor: m, r: r, wake: make(chan struct{}, 1)}
	spaceDone := make(chan struct{})
	go func() { defer close(spaceDone); src.run(ctx) }()

	opts := dashboard.Options{Filter: a.name, States: a.states, Interval: interval, AddressSpace: src.spaceOf}
	if !a.readonly {
		root := a.procRoot
		opts.Signal = func(id collector.ID, sig syscall.Signal) error { return signalProcess(root, id, sig) }
	}
	err = dashboard.New(src, opts).Run(ctx)
	cancel()
	<-spaceDone
	monErr := <-monDone
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	if monErr != nil && !errors.Is(monErr, context.Canceled) {
		return monErr
	}
	return nil
}

// signalProcess sends sig to the process id, and only to it: it opens a
// pidfd first, then checks that the pid still has id's start time (pids
// are reused), then signals through the pidfd, so a process that exited
// in between cannot be confused with a newcomer.
func signalProcess(root string, id collector.ID, sig syscall.Signal) error {
	if filepath.Clean(root) != "/proc" {
		return fmt.Errorf("signals are sent only with the live /proc (this is %s)", root)
	}
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err != nil {
		return fmt.Errorf("process %d: %w", id.PID, err)
	}
	defer unix.Close(fd)
	p, err := collector.ReadStatIdentity(root, id.PID)
	if err != nil {
		return fmt.Errorf("process %d: %w", id.PID, err)
	}
	if p.StartTicks != id.StartTicks {
		return fmt.Errorf("process %d exited; its pid now belongs to another process: not signalled", id.PID)
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal %d to process %d: %w", sig, id.PID, err)
	}
	return nil
}

// spaceSampler is the monitor as the dashboard's Source, plus the focused
// process's address space (maps, segments, thread stacks), read beside the
// monitor on its interval and when the focus changes. The Memory tab gets
// it through dashboard.Options.AddressSpace. (When monitor.Focus carries
// the address space itself, AddressSpace becomes
// func(f *monitor.Focus) *collector.AddressSpace { return f.Space } and
// this type goes.)
type spaceSampler struct {
	*monitor.Monitor
	r    *collector.Reader
	wake chan struct{}

	mu    sync.Mutex
	pid   int
	space *collector.AddressSpace
	start uint64 // start ticks of the process space was read from (0: unknown)
}

// Focus records the focused pid, wakes the sampler and passes it on.
func (s *spaceSampler) Focus(pid int) {
	s.mu.Lock()
	if pid != s.pid {
		s.pid, s.space = pid, nil
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	s.Monitor.Focus(pid)
}

// spaceOf returns the last address space read for f's process, or nil. It
// runs on the UI goroutine and does no I/O.
func (s *spaceSampler) spaceOf(f *monitor.Focus) *collector.AddressSpace {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.space == nil || s.space.PID != f.PID ||
		(s.start != 0 && f.Process != nil && f.Process.StartTicks != s.start) {
		return nil // not read yet, or read of an earlier process with this pid
	}
	return s.space
}

// run reads the focused process's address space until ctx ends.
// Reader.AddressSpace uses buffers of its own, so it runs beside the
// monitor's snapshots.
func (s *spaceSampler) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-time.After(s.interval()):
		}
		s.mu.Lock()
		pid := s.pid
		s.mu.Unlock()
		if pid == 0 {
			continue
		}
		// Read the maps of the very process the monitor focused: with its
		// start ticks, a pid reused in between reads as vanished.
		var start uint64
		if f := s.Latest(); f != nil && f.Focus != nil && f.Focus.PID == pid && f.Focus.Process != nil {
			start = f.Focus.Process.StartTicks
		}
		sp, err := s.r.AddressSpace(pid, collector.AddrOptions{StartTicks: start})
		if err != nil {
			continue // gone: the monitor's focus says so
		}
		s.mu.Lock()
		if s.pid == pid {
			s.space, s.start = sp, start
		}
		s.mu.Unlock()
	}
}

// interval is the monitor's current interval (from its latest frame).
func (s *spaceSampler) interval() time.Duration {
	if f := s.Latest(); f != nil && f.Interval > 0 {
		return f.Interval
	}
	return time.Second
}

// runRemoteDashboard opens the dashboard on a `pinspect serve` agent's
// frames (views/metrics.RemoteSource): read-only, with no signal action
// and no local /proc reads; the agent decides its own sampling interval.
func runRemoteDashboard(a *app, interval time.Duration) error {
	src, err := metrics.NewRemoteSource(a.remote, metrics.RemoteOptions{})
	if err != nil {
		return usageError{err}
	}
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	srcDone := make(chan error, 1)
	go func() { srcDone <- src.Run(ctx) }()
	opts := dashboard.Options{Filter: a.name, States: a.states, Interval: interval}
	err = dashboard.New(src, opts).Run(ctx)
	cancel()
	<-srcDone
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}
