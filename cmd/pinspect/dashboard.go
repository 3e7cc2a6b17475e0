//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/collector/userfile"
	"github.com/pinspect/pinspect/views/dashboard"
	"github.com/pinspect/pinspect/views/metrics"
)

// dashboardStatusTTL is how long the dashboard's refreshes reuse a
// process's status fields (collector.Options.StatusTTL: its uids, user,
// capabilities, signal masks and tracer may be that old, its memory and
// context switches never are; the selected process's are read every
// refresh). Status is about half of what a refresh reads per process.
const dashboardStatusTTL = 5 * time.Second

// dashboardCmdlineTTL is how long the dashboard's refreshes reuse a
// process's command line, executable and cgroup (collector.Options.
// CmdlineTTL, the same minute as serve's and record's default). An exec is seen
// at once (the comm changes); what is late is a process that rewrites its
// own argv (a title) after it was first read, or one moved to another
// cgroup: shown within a minute. htop reads every command line every
// refresh, btop once per process. Re-reading three files of 2,000 busy
// processes every 10 s was about a sixth of a refresh's CPU.
const dashboardCmdlineTTL = time.Minute

// dashboardGCPercent is the dashboard's GOGC (unless the GOGC environment
// variable says otherwise), beside a collection after each refresh
// (collectAfterFrame): the heap may grow by all the live data before the
// runtime collects on its own, which a refresh's allocations (about 4 MB
// at 2,000 x 9, against 8-9 MB live) do not reach, so the collection
// after the refresh is the only one. GOGC 50 alone (the setting before,
// docs/PERFORMANCE.md) collected at whatever moment the heap reached its
// goal, often in the middle of a scan, with two snapshots alive: the
// next goal was then half as much again above both, and the peak heap
// 16-19 MB against 12-13 now, for the same number of collections.
//
// There is no soft memory limit (GOMEMLIMIT still sets one): a limit
// below the live heap makes the collector run back to back, a CPU trap
// rather than a saving, and any fixed one is below it on a large enough
// machine. The 40 MiB limit the dashboard had did not bind at 2,000 x 9
// once the scans stopped growing (the same peak RSS without it).
const dashboardGCPercent = 100

// gcRunning is set while collectAfterFrame's collection runs.
var gcRunning atomic.Bool

// collectAfterFrame collects garbage once a refresh, just after the
// dashboard has shown a new snapshot and let go of the one before: the
// live heap is then one snapshot, the screen and the histories, and the
// heap's next goal is set from that, not from a moment in a scan when two
// snapshots were alive. It also gives the kernel back the heap's free
// pages at once (debug.FreeOSMemory): the runtime keeps freed pages up to
// about its next goal (twice the live heap) and returns the rest only
// slowly, so the garbage of every refresh stayed resident. The pages a
// refresh touches again after a return cost it a minor fault each, so
// they are given back at most once every freeOSMemoryEvery; a refresh in
// between only collects, and its garbage reuses the pages the last one
// freed. It runs beside the screen (it blocks its caller until the cycle
// ends), at most one at a time.
func collectAfterFrame() {
	if gcRunning.CompareAndSwap(false, true) {
		go func() {
			defer gcRunning.Store(false)
			now := time.Now().UnixNano()
			if now-lastFreeOSMemory.Load() < int64(freeOSMemoryEvery) {
				runtime.GC()
				return
			}
			debug.FreeOSMemory()
			lastFreeOSMemory.Store(time.Now().UnixNano())
		}()
	}
}

// freeOSMemoryEvery is the shortest time between two returns of the
// heap's free pages by collectAfterFrame: every fifth refresh at the
// default 1 s interval. A return every refresh faulted the next
// refresh's garbage in again, page by page (about 270 minor faults a
// second at 2,000 x 9, 8 % of the dashboard's CPU); every fifth, the
// same peak RSS, since each refresh's collection leaves the heap one
// refresh's garbage above the live data either way (docs/PERFORMANCE.md,
// dash7; a return every 500 ms was dash5's, before the snapshot arrays
// were recycled, when one every 5 s raised the peak to 31 MB).
const freeOSMemoryEvery = 5 * time.Second

// lastFreeOSMemory is when collectAfterFrame last gave pages back (Unix
// nanoseconds; 0 before the first time).
var lastFreeOSMemory atomic.Int64

// dashboardConnectorCoalesce is how long the dashboard's connector lets
// process events gather while they come often (monitor.Options.
// ConnectorCoalesce; the default is 10 ms). The dashboard shows them once
// a refresh, so a later read costs nothing it shows but names: a process
// that execs and exits within 50 ms is listed under its parent's comm (at
// 10 ms, one within 10 ms was). Under 200 forks a second it took about a
// third of the dashboard's CPU off (docs/PERFORMANCE.md): each read,
// conversion and lookup batch wakes the program, and the wake-ups cost
// more than the events.
const dashboardConnectorCoalesce = 50 * time.Millisecond

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
	// From here the executable and libc are mapped page by page, and what
	// the start-up mapped so far is dropped: see residency.go.
	releaseStartupPages()
	if a.remote != "" {
		return runRemoteDashboard(a, interval)
	}
	ropts, err := a.readerOptions(false)
	if err != nil {
		return err
	}
	setDashboardReaderOptions(&ropts)
	r, err := collector.NewReader(ropts)
	if err != nil {
		return err
	}
	if err := a.checkUsers(r); err != nil { // a --user no process can have, as ps -u
		r.Close()
		return err
	}
	// One P, as serve and record (agentProcs): the dashboard's work is
	// the same short bursts handed between goroutines (the sampling loop,
	// the connector's receiver and converter, the read workers, the
	// screen), and with a second P each hand-off woke another thread, and
	// the runtime's monitor thread polled every 20 µs while a P sat in a
	// system call (the walk's, the connector's blocking read). At
	// 2,000 x 9, side by side: 29.5 -> 24 ms a refresh static, 36.5 ->
	// 31.5 under 200 forks/s, the same peak RSS (docs/PERFORMANCE.md,
	// dash3). The screen still answers keys while a scan runs: the
	// runtime preempts a goroutine after 10 ms.
	agentProcs()
	// And serve's timer slack (agentTimerSlack, widenTimerSlack): on one
	// P the runtime's monitor thread retakes the P from the walk's and
	// the connector's system calls and then sleeps 20 us at a time, each
	// sleep a timer interrupt and two task switches on the CPU the
	// refresh runs on. With the slack those sleeps end at the next timer
	// tick. Keys come from a blocking read, not a timer; the refresh
	// timer may end a few milliseconds late (docs/PERFORMANCE.md,
	// serve15).
	widenTimerSlack(agentTimerSlack)
	_, gogcSet := os.LookupEnv("GOGC")
	gcAfterFrames := !gogcSet
	if gcAfterFrames {
		debug.SetGCPercent(dashboardGCPercent)
	}
	m := monitor.New(r, dashboardMonitorOptions(interval, a.explainOn))
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	go releaseStartupPagesLater(ctx) // the BPF program is loaded: see residency.go
	monDone := make(chan error, 1)
	go func() { monDone <- m.Run(ctx) }()

	opts := a.dashboardOptions(interval)
	if gcAfterFrames {
		opts.Drawn = collectAfterFrame
	}
	if !a.readonly {
		opts.Signal = func(id collector.ID, sig syscall.Signal) error { return signalProcess(r, id, sig) }
		opts.Renice = func(id collector.ID, nice int) error { return reniceProcess(r, id, nice) }
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

// setDashboardReaderOptions sets what the live dashboard's Reader does
// unlike the others (its scans, one a refresh, and its lookups of new
// processes).
func setDashboardReaderOptions(ropts *collector.Options) {
	ropts.StatusTTL = dashboardStatusTTL
	ropts.CmdlineTTL = dashboardCmdlineTTL
	// The connector's lookups of new and exiting processes from the
	// iterator's identity program, one run a batch, not a stat read
	// each: under 200 forks a second those reads were about a seventh of
	// the dashboard's CPU (docs/PERFORMANCE.md, dash4).
	ropts.BPFIdentities = true
	// The walk and the lookups' program run in raw system calls, which
	// the Go runtime is not told of: each call it is told of woke its
	// monitor thread, and the walk's (8 ms) had its P handed to another
	// thread and back (docs/PERFORMANCE.md, dash5).
	ropts.BPFRawRuns = true
	// A scan writes its processes into the array of an earlier
	// snapshot's that nothing holds any more, found by the collection
	// after each refresh (collector/recycle.go): a new array's pages,
	// given back to the kernel with the free heap after the last
	// refresh, were each faulted in again (docs/PERFORMANCE.md, dash6).
	ropts.RecycleProcesses = true
	// The walk leaves out every process's signal dispositions (its 64
	// handlers, 32 cold cache lines a process, about a tenth of the
	// walk); the scan reads them from status for the two places the
	// dashboard shows them: the focused process's Status tab and the
	// SIGCHLD handling of a zombie's parent (docs/PERFORMANCE.md, dash7).
	ropts.BPFSkipDispositions = true
}

// dashboardMonitorOptions are the live dashboard's monitor's: the
// connector's events gathered for dashboardConnectorCoalesce, cgroups
// read, and explain's findings when asked.
func dashboardMonitorOptions(interval time.Duration, explain bool) monitor.Options {
	return monitor.Options{Interval: interval, Connector: true, ConnectorCoalesce: dashboardConnectorCoalesce, Explain: explain, Cgroups: true}
}

// dashboardOptions are the dashboard's options from the common flags and
// the setup file.
func (a *app) dashboardOptions(interval time.Duration) dashboard.Options {
	// --interval on the command line wins over the file's for this run
	// only: F2 keeps the file's unless d, D or F2 choose another.
	opts := dashboard.Options{Filter: a.name, States: a.states, Interval: interval, IntervalSet: a.intervalSet, PIDs: a.pids, Users: a.users}
	path := dashboardConfigPath()
	opts.Config, opts.ConfigNote = loadDashboardConfig(path)
	opts.SaveConfig = func(c dashboard.Config) (string, error) { return saveDashboardConfig(path, c) }
	return opts
}

// openChecked opens a pidfd on the process id, and only on it: it opens
// the pidfd first, then checks that the pid still has id's start time
// (pids are reused), so a process that exited in between cannot be
// confused with a newcomer: what is done through the pidfd reaches the
// checked process or nothing.
func openChecked(r *collector.Reader, id collector.ID, what string) (int, error) {
	if root := r.Root(); filepath.Clean(root) != "/proc" {
		return -1, fmt.Errorf("%s only with the live /proc (this is %s)", what, root)
	}
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err != nil {
		return -1, fmt.Errorf("process %d: %w", id.PID, err)
	}
	p, err := r.Identity(id.PID, false)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("process %d: %w", id.PID, err)
	}
	if p.StartTicks != id.StartTicks {
		unix.Close(fd)
		return -1, fmt.Errorf("process %d exited; its pid now belongs to another process: not %s", id.PID, what)
	}
	return fd, nil
}

// reniceProcess sets the nice value of every thread of the process id:
// on Linux a nice value belongs to a thread, and setpriority on a pid
// changes its main thread alone, so each thread listed in /proc/PID/task
// is set (a thread that exits meanwhile is skipped; one the call fails on
// is reported with how many were changed). setpriority has no pidfd
// form, so the identity is checked through a pidfd before, and the pidfd
// says after whether the process is still the one checked (a pidfd
// becomes readable when its process exits). A process that exited in
// between is reported; its pid would have to be reused within that
// window of microseconds for another process to be changed.
func reniceProcess(r *collector.Reader, id collector.ID, nice int) error {
	fd, err := openChecked(r, id, "reniced")
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	tids, err := taskIDs(r.Root(), id.PID)
	if err != nil {
		return fmt.Errorf("nice %d for process %d: listing its threads: %w", nice, id.PID, err)
	}
	changed, failedTID := 0, 0
	var failure error
	for _, tid := range tids {
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue // the thread exited since the listing
			}
			if failure == nil {
				failedTID, failure = tid, err
			}
			continue
		}
		changed++
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 0); err == nil && n > 0 {
		return fmt.Errorf("process %d exited while its nice value was set: its pid may belong to another process now", id.PID)
	}
	if failure == nil {
		return nil
	}
	hint := ""
	if errors.Is(failure, unix.EACCES) || errors.Is(failure, unix.EPERM) {
		hint = " (a lower nice value, or another user's process, needs CAP_SYS_NICE)"
	}
	if changed == 0 {
		return fmt.Errorf("nice %d for process %d: %w%s", nice, id.PID, failure, hint)
	}
	return fmt.Errorf("nice %d for process %d: %d of its %d threads changed; thread %d and maybe others: %w%s",
		nice, id.PID, changed, len(tids), failedTID, failure, hint)
}

// taskIDs are the thread ids of process pid, from root/PID/task.
func taskIDs(root string, pid int) ([]int, error) {
	ents, err := os.ReadDir(filepath.Join(root, strconv.Itoa(pid), "task"))
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil && tid > 0 {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// signalProcess sends sig to the process id, and only to it, through a
// pidfd checked by openChecked.
func signalProcess(r *collector.Reader, id collector.ID, sig syscall.Signal) error {
	fd, err := openChecked(r, id, "signalled")
	if err != nil {
		return err
	}
	defer unix.Close(fd)
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
			return "", "", usageError{fmt.Errorf("--remote.password-file: %w", err)}
		}
		pass = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		// RFC 7617: a basic-auth password holds no control character; a
		// file that has one (random bytes, a binary, several lines) is not
		// a password file.
		if i := strings.IndexFunc(pass, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }); i >= 0 {
			return "", "", usageError{fmt.Errorf("--remote.password-file %s: not a password file (one line of text with no control character, RFC 7617)", a.remotePassFile)}
		}
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
	opts := a.dashboardOptions(interval)
	opts.Origin = "remote " + redactedURL(a.remote)
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
	opts := a.dashboardOptions(a.interval)
	opts.Origin = "remote " + redactedURL(a.remote)
	opts.Timeline = p
	opts.ParseTime = func(s string) (time.Time, error) { return parseWhen(s, time.Now()) }
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

// redactedURL is a URL without its password, for a header.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
