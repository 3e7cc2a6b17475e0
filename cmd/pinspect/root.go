package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/views/report"
)

// Exit codes.
const (
	exitOK       = 0
	exitError    = 1 // a runtime failure (unreadable root, write error)
	exitUsage    = 2 // bad flags or arguments
	exitFound    = 3 // --check found what it checks for (zombies)
	exitPipe     = 141
	schemaDocURL = "docs/SCHEMA.md"
)

// app holds what every command shares: output streams and common flags.
type app struct {
	stdout, stderr io.Writer
	ctx            context.Context

	procRoot  string
	jsonOut   bool
	noThreads bool
	pids      []int
	users     []string
	states    string
	name      string
	readonly  bool
	interval  time.Duration // dashboard refresh interval
	exitCode  int
}

// usageError marks errors that are the caller's: exit code 2.
type usageError struct{ error }

// run executes the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdout: stdout, stderr: stderr, ctx: ctx}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return a.exitCode
	case errors.Is(err, syscall.EPIPE):
		return exitPipe // a closed pipe: quiet, like head(1) expects
	}
	fmt.Fprintf(stderr, "pinspect: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown ") || strings.Contains(err.Error(), "flag") {
		return exitUsage
	}
	return exitError
}

// newRootCmd builds the command tree.
func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "pinspect",
		Short: "Inspect Linux processes: threads, memory maps, context switches, zombies, orphans",
		Long: `pinspect reads /proc and shows processes with their threads, address spaces,
scheduler states and context switches; it explains zombies and orphans and
follows processes as they are born, exec, exit and are re-parented.

With no arguments on a terminal it opens the live dashboard; --json prints
one snapshot of every process (schema: ` + schemaDocURL + `).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.jsonOut {
				return a.printSnapshot()
			}
			if dashboardMain != nil && isTerminal(a.stdout) {
				return dashboardMain(a)
			}
			return a.printPS()
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.procRoot, "proc-root", "/proc", "the /proc to read (a fixture tree works too)")
	pf.IntSliceVar(&a.pids, "pid", nil, "only these pids (repeat or comma-separate)")
	pf.StringSliceVar(&a.users, "user", nil, "only processes of these users (names or uids)")
	pf.StringVar(&a.states, "state", "", "only processes in these states (letters, e.g. ZD)")
	pf.StringVar(&a.name, "name", "", "only processes whose comm, exe or command line contains this")
	root.Flags().BoolVar(&a.jsonOut, "json", false, "print one snapshot of every process as JSON")
	root.Flags().BoolVar(&a.noThreads, "no-threads", false, "with --json: leave out threads (faster)")
	root.Flags().BoolVar(&a.readonly, "readonly", false, "dashboard: disable the signal action")
	root.Flags().DurationVar(&a.interval, "interval", time.Second, "dashboard: refresh interval (+ and - change it while it runs)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, mk := range subcommands {
		root.AddCommand(mk(a))
	}
	return root
}

// subcommands are the constructors of every subcommand; each lives in its
// own file.
var subcommands = []func(*app) *cobra.Command{newPSCmd, newZombiesCmd, newOrphansCmd, newWatchCmd, newShowCmd}

// dashboardMain opens the dashboard (dashboard.go).
var dashboardMain = runDashboard

// filter returns the process filter from the common flags.
func (a *app) filter() (report.Filter, error) {
	for _, s := range a.states {
		if !strings.ContainsRune(collector.StateLetters+"W", s) {
			return report.Filter{}, usageError{fmt.Errorf("--state: unknown state letter %q (want some of %s)", s, collector.StateLetters)}
		}
	}
	return report.Filter{PIDs: a.pids, Users: a.users, States: a.states, Name: a.name}, nil
}

// reader opens the /proc root.
func (a *app) reader(threads bool) (*collector.Reader, error) {
	r, err := collector.NewReader(collector.Options{Root: a.procRoot, Threads: threads})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// snapshotDoc reads one snapshot and builds its document.
func (a *app) snapshotDoc(threads bool) (*report.SnapshotDoc, error) {
	f, err := a.filter()
	if err != nil {
		return nil, err
	}
	r, err := a.reader(threads)
	if err != nil {
		return nil, err
	}
	snap, err := r.Snapshot(a.ctx)
	if err != nil {
		return nil, err
	}
	doc := report.NewSnapshotDoc(snap, f, threads)
	if len(a.pids) > 0 && len(doc.Processes) == 0 {
		return nil, fmt.Errorf("no such process: %s", joinInts(a.pids))
	}
	return doc, nil
}

func (a *app) printSnapshot() error {
	doc, err := a.snapshotDoc(!a.noThreads)
	if err != nil {
		return err
	}
	return writeOut(report.WriteJSON(a.stdout, doc))
}

func (a *app) printPS() error {
	doc, err := a.snapshotDoc(true)
	if err != nil {
		return err
	}
	ps := report.NewPSDoc(doc)
	if a.jsonOut {
		return writeOut(report.WriteJSON(a.stdout, ps))
	}
	width := 0
	if isTerminal(a.stdout) {
		if ws, err := unix.IoctlGetWinsize(int(a.stdout.(*os.File).Fd()), unix.TIOCGWINSZ); err == nil {
			width = int(ws.Col)
		}
	}
	return writeOut(report.WritePSTable(a.stdout, ps, width))
}

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

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
