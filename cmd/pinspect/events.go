//go:build linux

package main

import (
	"bufio"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/views/report"
)

// eventsOptions are `pinspect events`'s flags.
type eventsOptions struct {
	rf       recordFlags
	types    string
	outcome  string
	signal   string
	restarts bool
}

func newEventsCmd(a *app) *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Query the recorded lifecycle events (exits by a signal, restarts, reparents...)",
		Long: `events reads the lifecycle events that ` + "`pinspect record`" + ` wrote: every spawn,
exec, exit (with its status), zombie, reaped and reparent, the kernel
connector's short-lived processes included.

  pinspect events --since 1h --type exit --outcome signal   deaths by a signal
  pinspect events --since 24h --signal SEGV                 crashes with SIGSEGV
  pinspect events --restarts --name nginx                   exits followed by a new start

Times: RFC 3339, local ("2026-12-01 02:00", 02:00) or relative ("2h ago", 90m, 3d).
--json prints one pinspect.event/v1 object per line.

A damaged sample is skipped and named on stderr with where it is; the exit
status is 1 when no event matched, 3 when damage was skipped and no event
was written (the damaged samples may have held them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.restarts {
				for _, f := range []string{"type", "outcome", "signal"} {
					if changed(cmd, f) {
						return notApplicable("--"+f, "events --restarts", "a restart is an end of a process followed by a start")
					}
				}
			}
			return a.runEvents(&o)
		},
	}
	o.rf.add(cmd)
	o.rf.addRange(cmd)
	f := cmd.Flags()
	f.StringVar(&o.types, "type", "", "only these event types, comma-separated (spawn, exec, rename, exit, zombie, reaped, reparent, state, lost, ...)")
	f.StringVar(&o.outcome, "outcome", "", "only ends of processes with this outcome: signal, error (non-zero exit code), ok (exit 0) or core (dumped core)")
	f.StringVar(&o.signal, "signal", "", "only deaths by this signal (SEGV, SIGKILL, 9...)")
	f.BoolVar(&o.restarts, "restarts", false, "list the restarts of the --name program: an exit followed by a new process of the same name")
	cmd.Flags().BoolVar(&a.jsonOut, "json", false, "print the events as NDJSON")
	registerCompletions(cmd, map[string]cobra.CompletionFunc{
		"type":   completeRecordedEventTypes,
		"signal": completeSignals,
		"outcome": fixedChoices([2]string{"signal", "killed by a signal"}, [2]string{"error", "a non-zero exit code"},
			[2]string{"ok", "exit code 0"}, [2]string{"core", "dumped core"}),
	})
	return withFilters(reads(cmd, sourceRecord), "pid", "name") // eventFilter: a pid or a name
}

// ends are the event types that end a process.
var ends = []lifecycle.EventType{lifecycle.Exit, lifecycle.Zombie, lifecycle.Reaped}

// eventMatcher builds the query of the events flags.
func (o *eventsOptions) query(f report.Filter, since, until time.Time) (record.EventQuery, error) {
	q := record.EventQuery{Since: since, Until: until}
	var types []lifecycle.EventType
	for t := range strings.SplitSeq(o.types, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		et := lifecycle.EventType(t)
		if record.EventFlags(&lifecycle.Event{Type: et})&record.FlagOther != 0 {
			return q, usageError{fmt.Errorf("--type %q: unknown event type", t)}
		}
		types = append(types, et)
		q.Flags |= record.EventFlags(&lifecycle.Event{Type: et})
	}
	want, flags, err := o.outcomeFilter()
	if err != nil {
		return q, err
	}
	if want != nil {
		q.Flags = flags
	}
	if want != nil && len(types) == 0 {
		types = ends
	}
	match := eventFilter(f)
	// A process that died is reported once: the connector's exit, or the
	// zombie and reaped events the scans saw, whichever came first.
	seen := map[collector.ID]bool{}
	q.Match = func(e *lifecycle.Event) bool {
		if len(types) > 0 && !slices.Contains(types, e.Type) || match != nil && !match(e) {
			return false
		}
		if want != nil {
			if e.ExitStatus == nil || !want(e.ExitStatus) || !slices.Contains(ends, e.Type) || seen[e.ID] {
				return false
			}
			seen[e.ID] = true
		}
		return true
	}
	return q, nil
}

// outcomeFilter turns --outcome and --signal into a test of an exit
// status and the event flags that can match (nil: no outcome asked).
func (o *eventsOptions) outcomeFilter() (func(*collector.ExitStatus) bool, record.EventFlag, error) {
	var want func(*collector.ExitStatus) bool
	var flags record.EventFlag
	switch o.outcome {
	case "":
	case "signal":
		want, flags = func(x *collector.ExitStatus) bool { return !x.Exited }, record.FlagExitSignal
	case "error":
		want, flags = func(x *collector.ExitStatus) bool { return x.Exited && x.Code != 0 }, record.FlagExitError
	case "ok":
		want = func(x *collector.ExitStatus) bool { return x.Exited && x.Code == 0 }
		flags = record.FlagExit | record.FlagReaped | record.FlagZombie
	case "core":
		want, flags = func(x *collector.ExitStatus) bool { return x.CoreDumped }, record.FlagCoreDump
	default:
		return nil, 0, usageError{fmt.Errorf("--outcome %q: want signal, error, ok or core", o.outcome)}
	}
	if o.signal != "" {
		sig, err := parseSignal(o.signal)
		if err != nil {
			return nil, 0, usageError{fmt.Errorf("--signal: %w", err)}
		}
		prev := want
		want = func(x *collector.ExitStatus) bool {
			return !x.Exited && x.Signal == int(sig) && (prev == nil || prev(x))
		}
		flags = record.FlagExitSignal
	}
	return want, flags, nil
}

// parseSignal reads a signal as a number or a name, with or without SIG.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("%q: not a signal", s)
}

func (a *app) runEvents(o *eventsOptions) error {
	f, err := a.filter()
	if err != nil {
		return err
	}
	since, until, err := o.rf.window(time.Now())
	if err != nil {
		return err
	}
	if o.restarts && f.Name == "" {
		return usageError{fmt.Errorf("--restarts needs --name: the program whose restarts to list")}
	}
	q, err := o.query(f, since, until)
	if err != nil {
		return err
	}
	st, err := a.openStore(o.rf.dir)
	if err != nil {
		return err
	}
	defer st.Close()
	reported := len(st.Problems())
	// Damage opening skipped counts when it may have held the events
	// asked for, by the rule the query reads samples with.
	dq := q
	if o.restarts {
		dq = restartsQuery(since, until)
	}
	var damaged recordDamage
	damaged.samples, damaged.parts = st.SkippedEventsAtOpen(dq)
	bw := bufio.NewWriterSize(a.stdout, 64<<10)
	n := 0
	row := "event"
	if o.restarts {
		row = "restart"
		n, err = a.printRestarts(bw, st, f, since, until)
	} else {
		var werr error
		rerr := st.Events(q, func(e *lifecycle.Event) bool {
			n++
			if a.jsonOut {
				werr = report.WriteEventJSON(bw, e)
			} else {
				_, werr = fmt.Fprintln(bw, e.Time.Local().Format("2006-01-02 ")+report.FormatEvent(e))
			}
			return werr == nil
		})
		err = cmp.Or(werr, readingRecord(st, rerr))
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	// Damage the query stepped over is named once it is done.
	damaged.samples += a.reportSkipped(st, reported)
	if err != nil {
		return outputError(err)
	}
	if n == 0 && damaged.none() && !o.restarts && !a.jsonOut {
		first, last := st.Span()
		fmt.Fprintf(a.stderr, "pinspect: no such events in the record (it spans %s to %s)\n", first.Local().Format(time.RFC3339), last.Local().Format(time.RFC3339))
	}
	return a.recordOutcome(st, "events", row, n, damaged)
}

// restartsQuery selects the events --restarts pairs: starts and ends.
func restartsQuery(since, until time.Time) record.EventQuery {
	return record.EventQuery{Since: since, Until: until, Flags: record.FlagSpawn | record.FlagExec | record.FlagExit | record.FlagReaped | record.FlagZombie}
}

// printRestarts pairs each end of a process matching the name with the
// next start of one (a spawn or an exec into it), and returns how many
// restarts it printed.
func (a *app) printRestarts(bw *bufio.Writer, st *record.Store, f report.Filter, since, until time.Time) (int, error) {
	match := eventFilter(report.Filter{Name: f.Name})
	var rs []report.Restart
	var open *lifecycle.Event
	// damagedSinceEnd: a damaged sample was read after the open end.
	damagedSinceEnd := false
	q := restartsQuery(since, until)
	q.Damaged = func(error) {
		if open != nil {
			damagedSinceEnd = true
		}
	}
	err := st.Events(q, func(e *lifecycle.Event) bool {
		if !match(e) {
			return true
		}
		switch e.Type {
		case lifecycle.Exit, lifecycle.Zombie, lifecycle.Reaped:
			if open == nil || open.ID != e.ID {
				cp := *e
				open, damagedSinceEnd = &cp, false
			}
		case lifecycle.Spawn, lifecycle.Exec:
			if open != nil && e.ID != open.ID {
				rs = append(rs, report.Restart{Ended: *open, Started: *e, AcrossDamage: damagedSinceEnd})
				open = nil
			}
		}
		return true
	})
	if err != nil {
		return 0, readingRecord(st, err)
	}
	// Damage between an end and its start, read since the end or skipped
	// at open where it may hold events of their times, may have held
	// another end or start: the pair is marked.
	for i := range rs {
		r := &rs[i]
		n, parts := st.SkippedEventsAtOpen(record.EventQuery{Since: r.Ended.Time, Until: r.Started.Time, Flags: q.Flags})
		r.AcrossDamage = r.AcrossDamage || n+parts > 0
	}
	if a.jsonOut {
		return len(rs), report.WriteCompactJSON(bw, report.NewRestartsDoc(f.Name, rs, open))
	}
	return len(rs), report.WriteRestartsText(bw, f.Name, rs, open)
}
