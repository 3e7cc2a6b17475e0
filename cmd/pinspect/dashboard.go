package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/collector/userfile"
	"github.com/pinspect/pinspect/views/dashboard"
	"github.com/pinspect/pinspect/views/metrics"
)

// dashboardMemLimit is the Go heap's soft limit while the dashboard runs.
const dashboardMemLimit = 40 << 20

// runDashboard opens the live dashboard: a monitor samples the /proc root
// (processes only; threads, details and the address space for the
// focused process, in its frames) and the dashboard shows its frames
// until q.
func runDashboard(a *app) error {
	if _, err := a.filter(); err != nil { // validates --state
		return err
	}
	interval := a.interval
	if err := checkInterval(interval); err != nil {
		return err
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
	m := monitor.New(r, monitor.Options{Interval: interval, Connector: true, Explain: a.explainOn})
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	monDone := make(chan error, 1)
	go func() { monDone <- m.Run(ctx) }()

	opts := dashboard.Options{Filter: a.name, States: a.states, Interval: interval}
	if !a.readonly {
		opts.Signal = func(id collector.ID, sig syscall.Signal) error { return signalProcess(r, id, sig) }
	}
	err = dashboard.New(m, opts).Run(ctx)
	cancel()
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
func signalProcess(r *collector.Reader, id collector.ID, sig syscall.Signal) error {
	if root := r.Root(); filepath.Clean(root) != "/proc" {
		return fmt.Errorf("signals are sent only with the live /proc (this is %s)", root)
	}
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err != nil {
		return fmt.Errorf("process %d: %w", id.PID, err)
	}
	defer unix.Close(fd)
	p, err := r.Identity(id.PID, false)
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

// runRemoteDashboard opens the dashboard on a `pinspect serve` agent's
// frames (views/metrics.RemoteSource): read-only, with no signal action
// and no local /proc reads; the agent decides its own sampling interval.
// remoteCredentials returns the basic-auth credentials for --remote:
// the password from --remote.password-file (a regular file of at most
// 4 KiB; one trailing newline is dropped) or else PINSPECT_REMOTE_PASSWORD,
// the user from PINSPECT_REMOTE_USER (or the URL). Never from the command
// line: any local user can read it.
func (a *app) remoteCredentials() (user, pass string, err error) {
	user = os.Getenv("PINSPECT_REMOTE_USER")
	pass = os.Getenv("PINSPECT_REMOTE_PASSWORD")
	if a.remotePassFile != "" {
		b, err := userfile.Read(a.remotePassFile, 4<<10)
		if err != nil {
			return "", "", fmt.Errorf("--remote.password-file: %w", err)
		}
		pass = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	return user, pass, nil
}

func runRemoteDashboard(a *app, interval time.Duration) error {
	if a.at.at != "" {
		return runRemoteReplay(a)
	}
	user, pass, err := a.remoteCredentials()
	if err != nil {
		return err
	}
	src, err := metrics.NewRemoteSource(a.remote, metrics.RemoteOptions{User: user, Password: pass})
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

// runRemoteReplay opens the dashboard on an agent's record (--remote URL
// --at TIME): the agent serves it with serve --record-dir.
func runRemoteReplay(a *app) error {
	at, err := parseWhen(a.at.at, time.Now())
	if err != nil {
		return usageError{fmt.Errorf("--at: %w", err)}
	}
	user, pass, err := a.remoteCredentials()
	if err != nil {
		return err
	}
	p, err := metrics.NewRemotePlayerWith(a.remote, at, metrics.RemoteOptions{User: user, Password: pass})
	if err != nil {
		return usageError{err}
	}
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	opts := dashboard.Options{Filter: a.name, States: a.states, Timeline: p,
		ParseTime: func(s string) (time.Time, error) { return parseWhen(s, time.Now()) }}
	err = dashboard.New(p, opts).Run(ctx)
	cancel()
	if rerr := <-done; err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
		return rerr
	}
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}
