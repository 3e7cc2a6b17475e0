//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/views/report"
	"github.com/pinspect/pinspect/views/sanitize"
)

// defaultWatchTypes are the event types watch prints unless --types says
// otherwise.
const defaultWatchTypes = "spawn,exec,rename,exit,zombie,reaped,reparent,lost"

func newWatchCmd(a *app) *cobra.Command {
	var (
		jsonOut     bool
		interval    time.Duration
		duration    time.Duration
		count       int
		types       string
		noConnector bool
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Print process lifecycle events as they happen (spawn, exec, exit, zombie, reparent...)",
		Long: `Print lifecycle events: spawn, exec, rename (comm changed, same
executable), exit (with the exit status), zombie, reaped, reparent, and
with --types also state, thread_start, thread_exit.
Where pinspect may load BPF (the task iterator's collector), the
scheduler's fork, exec and exit tracepoints, else the kernel's
process-events connector (root, initial pid and network namespace),
report every fork, exec and exit, even of processes that live shorter
than the interval, with their names and exit codes; otherwise snapshots
are compared every --interval and that is said on stderr. Events are printed once per
interval. --json prints one JSON object per line (schema
pinspect.event/v1). --pid follows those processes and every process
they start, from its birth, as strace -f does: children, grandchildren,
their execs, exits and reaping, also once they are orphaned and adopted
elsewhere. --name keeps events whose comm or exe contains the text. A
lost event (the kernel dropped events) is always printed, with the time
it was detected and, under --pid, whether the followed tree could be
affected.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkInterval(interval); err != nil {
				return err
			}
			if count < 0 || duration < 0 {
				return usageError{fmt.Errorf("--count and --duration must not be negative")}
			}
			want, threads, err := parseTypes(types)
			if err != nil {
				return err
			}
			r, err := a.reader(threads)
			if err != nil {
				return err
			}
			if err := a.checkFollowed(r.Root()); err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(a.ctx)
			defer cancel()
			// On SIGINT or SIGTERM the monitor takes a last frame (the
			// kernel's events up to the signal, and a scan) before Run
			// returns: an exit since the last tick is printed too.
			a.stopGrace.Store(int64(watchStopGrace))
			m := monitor.New(r, monitor.Options{Interval: interval, Threads: threads, Connector: !noConnector, Tracepoints: true,
				FinalFrame: monitor.DefaultFinalFrame, ListFirst: true})
			frames, unsub := m.Subscribe()
			defer unsub()
			// runErr is written before done is closed and read only after.
			var runErr error
			done := make(chan struct{})
			go func() { defer close(done); runErr = m.Run(ctx) }()
			defer func() { cancel(); <-done }()

			var deadline <-chan time.Time
			if duration > 0 {
				t := time.NewTimer(duration)
				defer t.Stop()
				deadline = t.C
			}
			pr := &watchPrinter{a: a, want: want, json: jsonOut, count: count, nameLower: lifecycle.LowerASCII(a.name)}
			if len(a.pids) > 0 {
				pr.tree = lifecycle.NewFollower(a.pids)
			}
			first := true
			show := func(fr *monitor.Frame) (bool, error) {
				if first {
					first = false
					fmt.Fprintf(a.stderr, "pinspect watch: %s; interval %s\n", sanitize.Terminal(fr.EventsNote), fr.Interval)
				}
				return pr.frame(fr)
			}
			stopping, lastSeq := false, uint64(0)
			for {
				var fr *monitor.Frame
				select {
				case <-deadline:
					// Wait for the kernel events received so far to be
					// handled; the next frame then delivers everything that
					// happened before the deadline.
					deadline = nil
					sctx, scancel := context.WithTimeout(a.ctx, 10*time.Second)
					seq, err := m.Sync(sctx)
					scancel()
					if err != nil && a.ctx.Err() != nil {
						continue // interrupted: the last frame comes (done)
					}
					stopping, lastSeq = true, seq
					continue
				case <-done:
					if a.ctx.Err() == nil {
						// The monitor stopped by itself: the root failed.
						return runErr
					}
					// Interrupted: the monitor published its last frame
					// before Run returned (with any frame not taken yet
					// merged into it).
					select {
					case fr := <-frames:
						_, err := show(fr)
						return err
					default:
					}
					return nil
				case fr = <-frames:
				}
				if done, err := show(fr); done || err != nil {
					return err
				}
				if stopping && fr.Seq > lastSeq {
					if pr.printed == 0 {
						a.exitCode = exitNoMatch // --duration ended with nothing printed
					}
					return nil
				}
			}
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object per event per line (NDJSON)")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often to sample /proc and print events")
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this long (0: until interrupted)")
	cmd.Flags().IntVar(&count, "count", 0, "stop after printing this many events (0: no limit)")
	cmd.Flags().StringVar(&types, "types", defaultWatchTypes, "event types to print, comma-separated, or \"all\"")
	cmd.Flags().BoolVar(&noConnector, "no-connector", false, "do not use the kernel's process events: poll only")
	_ = cmd.RegisterFlagCompletionFunc("types", completeEventTypes)
	return withFilters(reads(cmd, sourceProc), "pid", "name")
}

// watchPrinter prints the events watch keeps, up to count (0: no limit).
type watchPrinter struct {
	a       *app
	want    map[lifecycle.EventType]bool
	json    bool
	count   int
	printed int
	// nameLower is --name through lifecycle.LowerASCII, lowered once.
	nameLower string
	// tree follows the --pid processes and their descendants (nil
	// without --pid).
	tree *lifecycle.Follower
	// unnamed is the last count of execs left unnamed while the monitor
	// caught up (Frame.ExecsUnnamedBehind) said on stderr.
	unnamed uint64
}

// frame prints fr's events; done is true once count events are printed.
func (w *watchPrinter) frame(fr *monitor.Frame) (done bool, err error) {
	if fr.ExecsUnnamedBehind > w.unnamed {
		w.unnamed = fr.ExecsUnnamedBehind
		fmt.Fprintf(w.a.stderr, "pinspect watch: %s left unnamed so far while catching up with the kernel's events (each one's note says why)\n",
			lifecycle.CountOf(int(w.unnamed), "exec event", "exec events"))
	}
	evs := fr.Events
	if w.tree != nil {
		evs = w.tree.Frame(fr.Snapshot, evs)
	}
	for i := range evs {
		e := &evs[i]
		if !w.want[e.Type] || !w.match(e) {
			continue
		}
		if w.json {
			err = report.WriteEventJSON(w.a.stdout, e)
		} else {
			_, err = fmt.Fprintln(w.a.stdout, report.FormatEvent(e))
		}
		if err != nil {
			return true, writeOut(err)
		}
		w.printed++
		if w.count > 0 && w.printed >= w.count {
			return true, nil
		}
	}
	return false, nil
}

// parseTypes parses --types; threads is true when thread events are wanted
// (they need per-thread reads).
func parseTypes(s string) (map[lifecycle.EventType]bool, bool, error) {
	want := make(map[lifecycle.EventType]bool)
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "all" {
			for _, x := range lifecycle.EventTypes() {
				want[x] = true
			}
			continue
		}
		ok := false
		for _, x := range lifecycle.EventTypes() {
			if string(x) == t {
				want[x], ok = true, true
			}
		}
		if !ok {
			return nil, false, usageError{fmt.Errorf("--types: unknown event type %q", t)}
		}
	}
	return want, want[lifecycle.ThreadStart] || want[lifecycle.ThreadExit], nil
}

// match applies --name (--pid is the printer's Follower); lost events
// always pass.
func (w *watchPrinter) match(e *lifecycle.Event) bool {
	if e.Type == lifecycle.Lost {
		return true // always said: it concerns every process
	}
	// As the process filters match (lifecycle.MatchesName), and the path
	// an exec was given (a script's, its interpreter's), which names a
	// program that exec'd and ended between two scans, its exe unread.
	name := w.nameLower
	return name == "" || lifecycle.ContainsFold(e.Comm, name) || lifecycle.ContainsFold(e.Exe, name) || lifecycle.ContainsFold(e.OldComm, name) ||
		e.ExecPath.Matches(name)
}

// checkFollowed says which --pid processes are not under root (its
// /proc) as watch starts (a thread's id is not a process's): they can never have events (a later process
// at the pid is another one). None there ends watch with "no such
// process" (exit 1), as show does; some there, watch follows those and
// names the others on stderr. It looks before the kernel's events are
// taken, so a process there now that ends before the first scan is
// followed, its exit included, unless it ended before the kernel's
// events were taken (the BPF programs attach once loaded).
func (a *app) checkFollowed(root string) error {
	if len(a.pids) == 0 {
		return nil
	}
	var missing []string
	for _, pid := range a.pids {
		if !isProcess(root, pid) {
			missing = append(missing, strconv.Itoa(pid))
		}
	}
	switch {
	case len(missing) == 0:
		return nil
	case len(missing) == len(a.pids):
		return noMatchError{fmt.Errorf("no such process: %s", strings.Join(missing, ", "))}
	}
	fmt.Fprintf(a.stderr, "pinspect watch: no such process: %s; following the others\n", strings.Join(missing, ", "))
	return nil
}

// isProcess reports whether pid is a process under root: its directory
// is there and is not a thread's (/proc/TID of a thread exists too, but
// its status says another Tgid). A status that cannot be read or parsed
// counts as there: watch then follows the pid as asked.
func isProcess(root string, pid int) bool {
	dir := filepath.Join(root, strconv.Itoa(pid))
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return false
	}
	tgid, ok := threadOwner(root, pid)
	return !ok || tgid == pid
}

// threadOwner returns the Tgid line of id's status under root: id's own
// for a process, its process's for a thread; ok is false when the status
// cannot be read or has no Tgid.
func threadOwner(root string, id int) (tgid int, ok bool) {
	f, err := os.Open(filepath.Join(root, strconv.Itoa(id), "status"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), "Tgid:"); found {
			tgid, err := strconv.Atoi(strings.TrimSpace(v))
			return tgid, err == nil && tgid > 0
		}
	}
	return 0, false
}
