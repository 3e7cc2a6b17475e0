//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/report"
	"github.com/pinspect/pinspect/views/sanitize"
)

// Exit codes, as pgrep(1) has them (the README's table and the man page
// say the same): 0 something was listed, 1 nothing matched, 2 the command
// line is wrong, 3 pinspect could not do its work. `zombies --check` keeps
// the same numbers with the Nagios plugin meanings (zombies.go).
const (
	exitOK      = 0
	exitNoMatch = 1 // the selection was empty: no process, zombie or orphan matched
	exitUsage   = 2 // bad flags or arguments
	exitError   = 3 // a run-time failure (unreadable root, write error)
	exitPipe    = 141
	// A command stopped by SIGINT or SIGTERM exits 128 + the signal number
	// (130, 143), as shells report a process the signal killed.
	exitSignalBase = 128
	schemaDocURL   = "docs/SCHEMA.md"
)

// app holds what every command shares: output streams and common flags.
type app struct {
	stdout, stderr io.Writer
	ctx            context.Context

	procRoot string
	backend  string // --collector: auto, proc or task_iter
	// rootfs and passwdFile: the host's root file system and user database
	// when they are mounted elsewhere (rootfs.go).
	rootfs, passwdFile string
	rootsResolved      bool
	rootsErr           error
	rootCmd            *cobra.Command
	jsonOut            bool
	noThreads          bool
	pids               []int
	users              []string
	states             string
	name               string
	readonly           bool
	interval           time.Duration // dashboard refresh interval
	explainOn          bool          // dashboard: explain's findings each tick
	// intervalSet says --interval was given (it wins over the setup file).
	intervalSet bool
	exitCode    int
	remote      string // --remote: the dashboard follows a serve agent
	// at is --at and --dir: a one-shot command shows the record at a time.
	at atFlags
	// remotePassFile is --remote.password-file: the agent's basic-auth
	// password, never on the command line.
	remotePassFile string
	// signalStops marks a command for which SIGINT/SIGTERM is the normal
	// way to stop (serve): it then exits 0, not 128+signal.
	signalStops bool
	// onHangup, when set, is what SIGHUP does (serve reloads its web
	// config); otherwise SIGHUP stops the command like SIGTERM. The
	// command's RunE sets it while the signal handler's goroutine may
	// read it, so it is atomic.
	onHangup atomic.Pointer[func()]
	// stopGrace is how long a command may take to end after a stop
	// signal before the process exits anyway (a write blocked on a
	// stalled pipe, a read of a hung file system); 0: defaultStopGrace.
	// It is set by the command's RunE and read by the signal handler's
	// goroutine, so it is atomic (nanoseconds).
	stopGrace atomic.Int64
}

// defaultStopGrace is how long a command has to end by itself after
// SIGINT, SIGTERM, SIGHUP or SIGQUIT; serve's shutdown takes up to 5 s,
// and the recorder finishes the sample in flight.
const (
	defaultStopGrace = 2 * time.Second
	serveStopGrace   = 8 * time.Second
	// watchStopGrace covers watch's last frame (monitor.DefaultFinalFrame)
	// and its printing.
	watchStopGrace = 5 * time.Second
)

// forceExit ends the process when a stopped command does not return in
// time (a variable so that tests never reach it by accident).
var forceExit = os.Exit

// minInterval is the shortest sampling interval of every command: below
// it a scan would start again before the last one ended, and the process
// would burn CPU for nothing.
const minInterval = 100 * time.Millisecond

// checkInterval refuses an --interval under minInterval.
func checkInterval(d time.Duration) error {
	if d < minInterval {
		return usageError{fmt.Errorf("--interval %s: must be at least %s", d, minInterval)}
	}
	return nil
}

// interrupted is the cause of the command context's cancellation when
// pinspect receives SIGINT or SIGTERM.
type interrupted struct{ s syscall.Signal }

func (i interrupted) Error() string { return "interrupted by " + i.s.String() }

// usageError marks errors that are the caller's: exit code 2.
type usageError struct{ error }

// noMatchError marks a process that is not there (show PID): exit code 1,
// as for an empty selection.
type noMatchError struct{ error }

// run executes the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	a := &app{stdout: stdout, stderr: stderr, ctx: ctx}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	returned := make(chan struct{})
	defer close(returned)
	go a.handleSignals(sigs, cancel, returned)
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var sig interrupted
	switch {
	case errors.As(context.Cause(ctx), &sig) && a.signalStops && err == nil:
		// A service (serve) asked to stop: a clean shutdown is a success.
		return exitOK
	case errors.As(context.Cause(ctx), &sig):
		// Stopped by a signal (Ctrl-C during watch): what was printed
		// stands, and the status says it did not end by itself.
		return exitSignalBase + int(sig.s)
	case err == nil:
		return a.exitCode
	case errors.Is(err, syscall.EPIPE):
		return exitPipe // a closed pipe: quiet, like head(1) expects
	}
	// Errors quote flags and paths, which may hold anything: keep them
	// from acting on the terminal.
	msg := sanitize.Terminal(err.Error())
	fmt.Fprintf(stderr, "pinspect: %s\n", msg)
	if zombiesCheckArgs(args) {
		// A monitoring check that could not be made is UNKNOWN, with a
		// status line where the monitoring system reads it.
		fmt.Fprintf(stdout, "ZOMBIES UNKNOWN - %s\n", strings.ReplaceAll(msg, "|", "?"))
		return nagiosUnknown
	}
	var ue usageError
	var nm noMatchError
	// Flag errors and argument errors are typed (see markUsage); cobra's
	// own "unknown command" for the root is the one text matched.
	switch {
	case errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command "):
		return exitUsage
	case errors.As(err, &nm):
		return exitNoMatch
	}
	return exitError
}

// handleSignals turns signals into the command's end. The first stop
// signal cancels the command's context, which every command watches; if
// the command has not returned after its grace period (it is blocked in
// a write to a pipe nobody reads, say), or when a second stop signal
// comes, the process exits with 128 + the signal at once. The same
// signal again within signalRepeat of the first is the same request:
// timeout(1) and `kill -TERM -PGID` after `kill -TERM PID` send it twice,
// and taking the second for "exit at once" lost the recorder's last
// sample and index, and had serve exit 143 instead of 0 (tester14).
// SIGHUP runs onHangup when the command set one (serve: reload).
func (a *app) handleSignals(sigs <-chan os.Signal, cancel context.CancelCauseFunc, returned <-chan struct{}) {
	var first syscall.Signal
	var firstAt time.Time
	var grace <-chan time.Time
	for {
		select {
		case <-returned:
			return
		case <-grace:
			forceExit(exitSignalBase + int(first))
			return
		case s := <-sigs:
			sig := s.(syscall.Signal)
			if hangup := a.onHangup.Load(); sig == syscall.SIGHUP && hangup != nil {
				(*hangup)()
				continue
			}
			if first != 0 && sig == first && time.Since(firstAt) < signalRepeat {
				continue
			}
			if first != 0 {
				forceExit(exitSignalBase + int(first))
				return
			}
			first, firstAt = sig, time.Now()
			cancel(interrupted{sig})
			d := time.Duration(a.stopGrace.Load())
			if d <= 0 {
				d = defaultStopGrace
			}
			grace = time.After(d)
		}
	}
}

// signalRepeat is how soon after the first stop signal the same signal
// counts as a repeat of it, not as a second request (a person's second
// Ctrl-C comes later than a process group's copy of a kill).
const signalRepeat = 500 * time.Millisecond

// newRootCmd builds the command tree.
func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "pinspect",
		Short: "Inspect Linux processes: threads, memory maps, context switches, zombies, orphans",
		Long: `pinspect reads /proc and shows processes with their threads, address spaces,
scheduler states and context switches; it explains zombies and orphans and
follows processes as they are born, exec, exit and are re-parented.

With no arguments on a terminal it opens the live dashboard; --json prints
one snapshot of every process (schema: ` + schemaDocURL + `).

Exit status, as pgrep has it:
  0    something was listed
  1    nothing matched: the filters selected no process (or no zombie,
       orphan or event); the output is still printed, empty
  2    a usage error: a wrong flag or argument, or one the command does
       not apply
  3    a run-time failure: /proc unreadable, a write error
  130  stopped by SIGINT (143: SIGTERM; serve exits 0)
  141  the output pipe was closed

zombies --check uses 0-3 as a monitoring plugin: OK, WARNING, CRITICAL,
UNKNOWN.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		// --version: the release, commit and Go toolchain (version.go).
		Version: versionLine(buildFacts()),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkInterval(a.interval); err != nil {
				return err
			}
			a.intervalSet = cmd.Flags().Changed("interval")
			// --at without --remote prints the recorded ps table; --remote
			// with --at replays an agent's record in the dashboard.
			atPS := a.at.at != "" && a.remote == ""
			dashboard := !a.jsonOut && !atPS && dashboardMain != nil && isTerminal(a.stdout)
			if err := a.checkRootFlags(cmd, dashboard); err != nil {
				return err
			}
			if a.jsonOut {
				return a.printSnapshot()
			}
			if dashboard {
				return dashboardMain(a)
			}
			return a.printPS(psDefaults())
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.procRoot, "proc-root", "/proc", "the /proc to read, a `DIR` (a fixture tree works too)")
	pf.StringVar(&a.backend, "collector", "auto", "where process fields come from: task_iter (a BPF task iterator: root or CAP_BPF+CAP_PERFMON, kernel BTF), proc, or auto (task_iter when it loads, else proc)")
	pf.StringVar(&a.rootfs, "rootfs", "", "the host's root file system mounted at `DIR` (in a container): read DIR/proc, name users from DIR/etc/passwd")
	pf.StringVar(&a.passwdFile, "passwd-file", "", "name users from this passwd `FILE` instead of the system's user database (NSS: /etc/passwd, LDAP, SSSD, systemd users); default: the --rootfs one, or /etc/passwd for a --proc-root tree that is not a proc filesystem")
	pf.Var(pidsFlag{&a.pids}, "pid", "only these `PIDs` (comma-separated or repeated)")
	pf.StringSliceVar(&a.users, "user", nil, "only processes of these `USERs` (names or uids)")
	pf.StringVar(&a.states, "state", "", "only processes in these `STATES` (letters, e.g. ZD; Z: zombies; L: live processes whose main thread exited, which the kernel shows as Z)")
	pf.StringVar(&a.name, "name", "", "only processes whose comm, executable path or command line contains `TEXT` (case ignored; as the dashboard's F4 filter)")
	root.Flags().BoolVar(&a.jsonOut, "json", false, "print one snapshot of every process as JSON")
	root.Flags().BoolVar(&a.noThreads, "no-threads", false, "with --json: leave out threads (faster)")
	root.Flags().BoolVar(&a.readonly, "readonly", false, "dashboard: disable the signal and nice actions")
	root.Flags().StringVar(&a.remote, "remote", "", "dashboard: follow a pinspect serve agent at this `URL` (read-only; http[s]://[user@]host:9919 or unix:/path/to.sock)")
	root.Flags().DurationVar(&a.interval, "interval", time.Second, "dashboard: refresh interval (d and D change it while it runs; F2 keeps it)")
	root.Flags().StringVar(&a.remotePassFile, "remote.password-file", "", "dashboard: the agent's basic-auth password, read from this `FILE` (or PINSPECT_REMOTE_PASSWORD; the user from the URL or PINSPECT_REMOTE_USER)")
	a.at.add(root)
	root.Flags().BoolVar(&a.explainOn, "explain", true, "dashboard: explain's findings each tick (the findings panel, the Explain tab and each process's memory history)")
	// Every command refuses the common filters it does not apply.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return checkCommonFlags(cmd) }
	withFilters(reads(root, sourceProc), filterFlags...)
	root.SetVersionTemplate("{{.Version}}")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, mk := range subcommands {
		if c := mk(a); c != nil {
			root.AddCommand(c)
		}
	}
	a.registerFilterCompletions(root)
	refuseUnknownShells(root)
	a.rootCmd = root
	markUsage(root)
	return root
}

// refuseUnknownShells makes cobra's completion command refuse a shell it
// has no script for: as a command with only subcommands it printed its
// help and exited 0 for `completion tcsh` (tester14). Runnable, with no
// arguments of its own, it says `unknown command "tcsh"` and exits 2; with
// none it still prints its help.
func refuseUnknownShells(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = cobra.NoArgs
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
	}
}

// markUsage makes the argument validators of cmd and its subcommands
// return usageError, so a wrong argument count exits 2 whatever the text.
func markUsage(cmd *cobra.Command) {
	if v := cmd.Args; v != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := v(c, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, c := range cmd.Commands() {
		markUsage(c)
	}
}

// subcommands are the constructors of every subcommand; each lives in its
// own file.
var subcommands = []func(*app) *cobra.Command{newPSCmd, newShowCmd, newExplainCmd, newZombiesCmd, newOrphansCmd, newWatchCmd, newServeCmd, newDumpCmd, newRecordCmd, newEventsCmd, newReplayCmd, newManCmd, newBPFCmd}

// dashboardMain opens the dashboard (dashboard.go).
var dashboardMain = runDashboard

// pidRange says which numbers are pids, for the message refusing one
// above collector.MaxPID.
var pidRange = fmt.Sprintf("at most %d, the kernel's limit", collector.MaxPID)

// parsePIDArg reads the PID argument of cmd (show, explain): a usage
// error for anything but a whole number from 1 to collector.MaxPID.
func parsePIDArg(cmd, arg string) (int, error) {
	pid, err := strconv.Atoi(arg)
	switch {
	case err != nil || pid <= 0:
		return 0, usageError{fmt.Errorf("%s: %q is not a pid", cmd, arg)}
	case !collector.ValidPID(pid):
		return 0, usageError{fmt.Errorf("%s: %s is not a pid (%s)", cmd, arg, pidRange)}
	}
	return pid, nil
}

// pidsFlag is the value of --pid: process ids, comma-separated or the
// flag repeated, each a positive whole number. Its message for anything
// else names the text and says what a pid is (a plain int list gave Go's
// strconv error for "abc" and a clean one only for -1).
type pidsFlag struct{ pids *[]int }

// Set appends the pids of one --pid value.
func (f pidsFlag) Set(v string) error {
	for _, field := range strings.Split(v, ",") {
		field = strings.TrimSpace(field)
		pid, err := strconv.Atoi(field)
		if err != nil || pid <= 0 {
			return fmt.Errorf("%q is not a pid (a positive whole number)", field)
		}
		if !collector.ValidPID(pid) {
			return fmt.Errorf("%s is not a pid (%s)", field, pidRange)
		}
		*f.pids = append(*f.pids, pid)
	}
	return nil
}

// String gives the pids as the flag takes them.
func (f pidsFlag) String() string {
	if f.pids == nil {
		return ""
	}
	s := make([]string, len(*f.pids))
	for i, pid := range *f.pids {
		s[i] = strconv.Itoa(pid)
	}
	return strings.Join(s, ",")
}

// Type names the value in help.
func (pidsFlag) Type() string { return "ints" }

// filter returns the process filter from the common flags.
func (a *app) filter() (report.Filter, error) {
	for _, s := range a.states {
		if !strings.ContainsRune(collector.StateLetters+"W"+string(lifecycle.LeaderExitedLetter), s) {
			return report.Filter{}, usageError{fmt.Errorf("--state: unknown state letter %q (want some of %s%c)", s, collector.StateLetters, lifecycle.LeaderExitedLetter)}
		}
	}
	return report.Filter{PIDs: a.pids, Users: a.users, States: a.states, Name: a.name}, nil
}

// filterAndReader validates the common filters and opens the /proc root:
// the preamble of every one-shot command.
func (a *app) filterAndReader(threads bool) (report.Filter, *collector.Reader, error) {
	f, err := a.filter()
	if err != nil {
		return f, nil, err
	}
	oneShot()
	opts, err := a.readerOptions(threads)
	if err != nil {
		return f, nil, err
	}
	// One scan: every cmdline is read, so read them in one run of the
	// task iterator's cmdline program where it loads.
	opts.BPFCmdlines = true
	// And open the programs from their pin (pinspect bpf pin) if any.
	opts.BPFPinned = true
	r, err := collector.NewReader(opts)
	if err == nil {
		err = a.checkUsers(r)
	}
	if err == nil && r.PinTooSmall() != nil {
		// Once, on stderr: the output is the same as a loaded run's, but
		// the user who pinned wants to know the pin no longer serves.
		fmt.Fprintf(a.stderr, "pinspect: %s; this run loaded its own programs (pin again to resize: pinspect bpf pin)\n", r.PinTooSmall())
	}
	return f, r, err
}

// checkUsers refuses a --user name that no process can have (as ps -u
// does), rather than print an empty table; uids are taken as they are.
func (a *app) checkUsers(r *collector.Reader) error {
	for _, u := range a.users {
		if _, err := strconv.Atoi(u); err != nil && !r.KnownUser(u) {
			return usageError{fmt.Errorf("--user: no such user: %s", u)}
		}
	}
	return nil
}

// oneShot runs the rest of a one-shot command on one P. Its work is one
// goroutine reading files, and with a second P the Go scheduler spends CPU
// of its own on it: idle Ps woken to look for work at every handoff and
// an idle-priority GC worker on the other CPU. Measured with `make bench`
// at 2,000 processes x 9 threads: `pinspect --json` took 0.60 CPU s
// instead of 0.71 (median of 9). The reads are not parallel (on 2 CPUs
// parallel reads only moved kernel CPU to the other CPU), so nothing is
// lost. `orphans --observe` also runs the monitor and its event reader on
// that P, which keep up with a machine's events on one CPU; serve and
// record and the local dashboard run on one P too (agentProcs); watch
// keeps every P.
//
// It also collects no garbage until the heap reaches oneShotFirstGCBytes
// (a memory limit with GOGC off), and from the first collection on lets
// the heap grow to three times the live data (GOGC=200); a GOGC or
// GOMEMLIMIT in the environment is obeyed instead. A one-shot command
// builds one snapshot and exits: the collections on its way up only
// re-marked the same growing snapshot. With the task iterator at 2,000 x
// 9, GOGC=200 alone ran two collections: `pinspect --json` took 83.1 ms
// of CPU with them, 78.9 without (medians of 7 in one run), and its peak
// RSS was 31.5 MB instead of 30.6. GOGC=200 (from 100) had taken it from
// 136 ms to 125 before.
//
// And it gives its threads serve's timer slack (widenTimerSlack,
// agentTimerSlack), for the same reason: on one P the runtime's monitor
// thread retakes the P from every system call it sees twice (a pipe
// write of the JSON, a BPF run) and then sleeps 20 us at a time for 50
// rounds, each round a timer interrupt and two task switches on the
// command's CPU; with the slack those sleeps end at the next timer tick.
// The one-shot's own timers are the reads' deadlines (a second and
// more), which may now end a few milliseconds late.
func oneShot() {
	runtime.GOMAXPROCS(1)
	widenTimerSlack(agentTimerSlack)
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		debug.SetGCPercent(oneShotGCPercent)
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(oneShotFirstGCBytes)
	// A machine whose snapshot outgrows the limit is collected at it
	// once; a cleanup, run after the collection that found the sentinel
	// unreachable, then hands the heap to GOGC, so that a live heap above
	// the limit is not collected again and again.
	runtime.AddCleanup(new(gcSentinel), func(struct{}) {
		debug.SetGCPercent(oneShotGCPercent)
		debug.SetMemoryLimit(math.MaxInt64)
	}, struct{}{})
}

// gcSentinel is an object no one refers to, whose cleanup marks a one-shot
// command's first garbage collection (too large for the tiny allocator,
// whose objects may never be cleaned up).
type gcSentinel struct{ _ [64]byte }

// oneShotGCPercent is the GOGC of a one-shot command after its first
// collection.
const oneShotGCPercent = 200

// oneShotFirstGCBytes is the Go memory a one-shot command reaches before
// its first garbage collection: above what `pinspect --json` allocates
// at 2,000 processes x 9 threads or 10,000 processes.
const oneShotFirstGCBytes = 64 << 20

// collectorBackend is --collector as a collector.Backend.
func (a *app) collectorBackend() (collector.Backend, error) {
	switch a.backend {
	case "", "auto":
		return collector.BackendAuto, nil
	case string(collector.BackendProc), string(collector.BackendTaskIter):
		return collector.Backend(a.backend), nil
	}
	return "", usageError{fmt.Errorf("--collector %q: want auto, proc or task_iter", a.backend)}
}

// reader opens the /proc root.
func (a *app) reader(threads bool) (*collector.Reader, error) {
	opts, err := a.readerOptions(threads)
	if err != nil {
		return nil, err
	}
	return collector.NewReader(opts)
}

// snapshotDoc reads one snapshot (or, with --at, takes the recorded one)
// and builds its document.
func (a *app) snapshotDoc(threads bool) (*report.SnapshotDoc, error) {
	return a.newSnapshotDoc(threads, report.NewSnapshotDoc)
}

// newSnapshotDoc is snapshotDoc with the document made by newDoc
// (report.NewSnapshotDocStream for a document that is only written).
func (a *app) newSnapshotDoc(threads bool, newDoc func(*collector.Snapshot, report.Filter, bool) *report.SnapshotDoc) (*report.SnapshotDoc, error) {
	if a.at.at != "" {
		f, err := a.filter()
		if err != nil {
			return nil, err
		}
		rec, err := a.recordedAt(&a.at, 0)
		if err != nil {
			return nil, err
		}
		defer rec.store.Close()
		snap := rec.frame.Snapshot
		doc := newDoc(snap, f, threads && snap.ThreadsRead)
		if doc.ProcessCount() == 0 {
			a.exitCode = exitNoMatch // printed as it is (empty), as ps -p does
		}
		return doc, nil
	}
	f, r, err := a.filterAndReader(threads)
	if err != nil {
		return nil, err
	}
	snap, err := a.scan(r, threads)
	if err != nil {
		return nil, err
	}
	doc := newDoc(snap, f, threads)
	if doc.ProcessCount() == 0 {
		a.exitCode = exitNoMatch // printed as it is (empty), as ps -p does
	}
	return doc, nil
}

// scan reads one snapshot; with threads and --pid it reads the threads of
// the --pid processes only (the document shows no other process, and
// threads are most of a scan's cost: 0.7 s for 2,000 processes of 9
// threads): the scan's Scope, so the snapshot describes them as a full
// thread read would, and the document is the same.
func (a *app) scan(r *collector.Reader, threads bool) (*collector.Snapshot, error) {
	if !threads || len(a.pids) == 0 {
		return r.Snapshot(a.ctx)
	}
	return r.Scan(a.ctx, collector.ScanOptions{Threads: true, Scope: a.pids})
}

func (a *app) printSnapshot() error {
	// Streamed: each process's document is made as it is written.
	doc, err := a.newSnapshotDoc(!a.noThreads, report.NewSnapshotDocStream)
	if err != nil {
		return err
	}
	// Indented for a person on a terminal, one compact line for a pipe
	// (jq re-indents; scripts and collectors do not pay for it).
	return writeOut(report.WriteSnapshotJSON(a.stdout, doc, isTerminal(a.stdout)))
}

// writeJSON writes a document: indented for a person on a terminal, one
// compact line for a pipe, as --json does.
func (a *app) writeJSON(v any) error {
	if isTerminal(a.stdout) {
		return writeOut(report.WriteJSON(a.stdout, v))
	}
	return writeOut(report.WriteCompactJSON(a.stdout, v))
}

// writeNote writes a report's closing note line, when there is one.
func writeNote(w io.Writer, note string) error {
	if note == "" {
		return nil
	}
	_, err := fmt.Fprintln(w, sanitize.Terminal(note))
	return writeOut(err)
}

func ptrTo[T any](v T) *T { return &v }

// writeOut wraps an output error so the user sees what failed.
func writeOut(err error) error {
	if err == nil || errors.Is(err, syscall.EPIPE) {
		return err
	}
	return fmt.Errorf("writing output: %w", err)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
