//go:build linux

package main

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/views/report"
	"github.com/pinspect/pinspect/views/sanitize"
)

// defaultRecordDir is where `pinspect record` writes unless told.
const defaultRecordDir = "/var/lib/pinspect"

// recordFlags are the flags of the commands that read a record.
type recordFlags struct {
	dir          string
	since, until string
}

func (f *recordFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "dir", defaultRecordDir, "the record directory, a `DIR` (as pinspect record --dir)")
}

func (f *recordFlags) addRange(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.since, "since", "", "from this time (RFC 3339, \"2026-12-01 02:00\", 02:00, \"2h ago\"; default: the start of the record)")
	cmd.Flags().StringVar(&f.until, "until", "", "up to this time (same forms; default: the end of the record)")
}

// window parses --since and --until (zero times when not given).
func (f *recordFlags) window(now time.Time) (since, until time.Time, err error) {
	if f.since != "" {
		if since, err = parseWhen(f.since, now); err != nil {
			return since, until, usageError{fmt.Errorf("--since: %w", err)}
		}
	}
	if f.until != "" {
		if until, err = parseWhen(f.until, now); err != nil {
			return since, until, usageError{fmt.Errorf("--until: %w", err)}
		}
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return since, until, usageError{fmt.Errorf("--until %s is before --since %s", until.Format(time.RFC3339), since.Format(time.RFC3339))}
	}
	return since, until, nil
}

// openStore opens the record directory and reports the damage it skips.
func (a *app) openStore(dir string) (*record.Store, error) {
	st, err := record.Open(dir)
	if err != nil {
		return nil, err
	}
	a.reportProblems(st, 0, "")
	return st, nil
}

// reportProblems writes the store's problems from the from-th on (the
// damage a query found after those reported) to stderr, each followed
// by suffix, and returns how many there are in all.
func (a *app) reportProblems(st *record.Store, from int, suffix string) int {
	probs := st.Problems()
	for _, p := range probs[min(from, len(probs)):] {
		fmt.Fprintf(a.stderr, "pinspect: record: %s%s\n", sanitize.Terminal(p), suffix)
	}
	return len(probs)
}

// reportSkipped writes the damaged samples a query of st stepped over
// (its problems from the from-th on) as dumpSamples names them, with
// "(skipped)", and returns how many there are.
func (a *app) reportSkipped(st *record.Store, from int) int {
	return a.reportProblems(st, from, " (skipped)") - from
}

// readingError is an error reading the record, not writing the output:
// its message says what was being read.
type readingError struct{ error }

func (e readingError) Unwrap() error { return e.error }

// readingRecord marks err as an error reading the record in st.
func readingRecord(st *record.Store, err error) error {
	if err == nil {
		return nil
	}
	return readingError{fmt.Errorf("reading the record in %s: %w", st.Dir(), err)}
}

// outputError says what failed: reading the record (as it is) or
// writing the output (writeOut).
func outputError(err error) error {
	var re readingError
	if errors.As(err, &re) {
		return err
	}
	return writeOut(err)
}

func newDumpCmd(a *app) *cobra.Command {
	var rf recordFlags
	var format string
	cmd := &cobra.Command{
		Use:   "dump [process|thread|event|system]",
		Short: "Export the record as NDJSON or CSV (a row per process, thread, event or sample)",
		Long: `dump reads the record written by ` + "`pinspect record`" + ` and prints one row per
process per sample (process, the default), per thread of the samples that read
threads (thread), per lifecycle event (event), or per sample for the machine
(system), between --since and --until. NDJSON rows carry the field names of the
--json documents; CSV has a header row, also when no row matches.
docs/RECORD.md lists the columns.

A damaged sample is skipped and named on stderr with where it is; the rows of
the others are written, and the exit status is 0 (3 when damage was skipped
and no row was written: the damaged samples may have held the rows).`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{"process", "thread", "event", "system"},
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := "process"
			if len(args) == 1 {
				kind = args[0]
			}
			switch kind {
			case "process", "thread", "event", "system":
			default:
				return usageError{fmt.Errorf("unknown kind %q: want process, thread, event or system", kind)}
			}
			if err := checkDumpFilters(cmd, kind); err != nil {
				return err
			}
			f, err := a.filter()
			if err != nil {
				return err
			}
			since, until, err := rf.window(time.Now())
			if err != nil {
				return err
			}
			bw := bufio.NewWriterSize(a.stdout, 64<<10)
			dw, err := report.NewDumpWriter(bw, format)
			if err != nil {
				return usageError{err}
			}
			st, err := a.openStore(rf.dir)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := dw.Header(kind); err != nil { // CSV: even when no row matches
				return outputError(err)
			}
			reported := len(st.Problems())
			damaged := openDamage(st, since, until)
			withThreads := false // a sample of the range read threads
			if kind == "event" {
				// Damage counts for events by their rule, as in events.
				damaged.samples, damaged.parts = st.SkippedEventsAtOpen(record.EventQuery{Since: since, Until: until})
				var werr error
				rerr := st.Events(record.EventQuery{Since: since, Until: until, Match: eventFilter(f)}, func(e *lifecycle.Event) bool {
					werr = dw.Event(e)
					return werr == nil
				})
				err = cmp.Or(werr, readingRecord(st, rerr))
				damaged.samples += a.reportSkipped(st, reported)
			} else {
				var n int
				n, err = a.dumpSamples(st, since, until, func(s *record.Sample, rates *lifecycle.Rates) error {
					withThreads = withThreads || s.Snapshot.ThreadsRead
					return dumpSample(dw, kind, f, s, rates)
				})
				damaged.samples += n
			}
			if err == nil {
				err = dw.Flush()
			}
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return outputError(err)
			}
			if dw.Rows() == 0 && damaged.none() {
				// Exit 1 (nothing matched) with a reason, as events.
				first, last := st.Span()
				why := fmt.Sprintf("no %s row matched in the record (it spans %s to %s)", kind, first.Local().Format(time.RFC3339), last.Local().Format(time.RFC3339))
				if kind == "thread" && !withThreads {
					why = "no thread row: no sample in the range read threads (pinspect record --threads-every)"
				}
				fmt.Fprintf(a.stderr, "pinspect: dump: %s\n", why)
			}
			return a.recordOutcome(st, "dump", "row", dw.Rows(), damaged)
		},
	}
	rf.add(cmd)
	rf.addRange(cmd)
	cmd.Flags().StringVar(&format, "format", "ndjson", "ndjson or csv")
	registerCompletions(cmd, map[string]cobra.CompletionFunc{
		"format": fixedChoices([2]string{"ndjson", "one JSON object a line"}, [2]string{"csv", "RFC 4180, a header row"}),
	})
	return withFilters(reads(cmd, sourceRecord), filterFlags...)
}

// checkDumpFilters refuses the filters a kind of row does not apply: an
// event is matched by --pid and --name only (eventFilter), a system row is
// the whole machine.
func checkDumpFilters(cmd *cobra.Command, kind string) error {
	allowed := map[string][]string{"event": {"pid", "name"}, "system": nil}
	applies, ok := allowed[kind]
	if !ok {
		return nil // process and thread rows: every filter
	}
	for _, f := range filterFlags {
		if changed(cmd, f) && !slices.Contains(applies, f) {
			return notApplicable("--"+f, "dump "+kind, filtersNote(applies))
		}
	}
	return nil
}

// recordDamage is the damage a query of the record stepped over:
// damaged samples in its range (found by the query, or refused when the
// record was opened), and parts of the record whose samples are not
// known (bytes that are not a readable record, a segment skipped).
type recordDamage struct{ samples, parts int }

// openDamage is the damage opening st skipped that may have held
// samples taken between since and until.
func openDamage(st *record.Store, since, until time.Time) recordDamage {
	samples, parts := st.SkippedAtOpen(since, until)
	return recordDamage{samples, parts}
}

func (d recordDamage) none() bool { return d.samples == 0 && d.parts == 0 }

func (d recordDamage) String() string {
	var s []string
	if d.samples > 0 {
		s = append(s, fmt.Sprint(d.samples, " ", pluralWord(d.samples, "damaged sample", "damaged samples")))
	}
	if d.parts > 0 {
		s = append(s, fmt.Sprint(d.parts, " ", pluralWord(d.parts, "unreadable part", "unreadable parts"), " of the record"))
	}
	return strings.Join(s, " and ")
}

// recordOutcome sets the exit code of a command that read the record
// (dump, events) and wrote written rows (events, restarts), skipping
// damage, and says so: one rule for every reader of the record
// (docs/RECORD.md). Damage is skipped, not fatal: every readable row is
// written and the exit is 0, as it would be again on the same record
// (the damage stays); stderr names the damage where it is and counts
// it. Nothing written: 1 when the query read everything it needed and
// nothing matched (as pgrep), 3 when damage it stepped over may have
// held what it asked for.
// row names what the command writes (row, event, restart).
func (a *app) recordOutcome(st *record.Store, cmd, row string, written int, d recordDamage) error {
	switch {
	case !d.none() && written == 0:
		return readingRecord(st, fmt.Errorf("no %s written: %s skipped (above), and no other matched", row, d))
	case !d.none():
		fmt.Fprintf(a.stderr, "pinspect: %s: %s skipped (above); the other samples' %ss were written\n", cmd, d, row)
	case written == 0:
		a.exitCode = exitNoMatch // as pgrep: nothing matched
	}
	return nil
}

// dumpSamples calls fn with each sample taken between since and until
// (zero: unbounded), in recorded order, with the rates since the previous
// readable sample of the same recorder run. A damaged sample is skipped
// and named on stderr with where it is; damaged counts them. Any other
// error reading the record is a readingError.
func (a *app) dumpSamples(st *record.Store, since, until time.Time, fn func(*record.Sample, *lifecycle.Rates) error) (damaged int, err error) {
	var prev *record.Sample
	for i := range st.Len() {
		m := st.Meta(i)
		if !until.IsZero() && m.TakenAt.After(until) || !since.IsZero() && m.TakenAt.Before(since.Add(-time.Hour)) {
			prev = nil
			continue
		}
		s, err := st.Read(i)
		if errors.Is(err, record.ErrDamaged) {
			if since.IsZero() || !m.TakenAt.Before(since) {
				damaged++
				fmt.Fprintf(a.stderr, "pinspect: record: %s (skipped)\n", sanitize.Terminal(err.Error()))
			}
			continue
		}
		if err != nil {
			return damaged, readingRecord(st, err)
		}
		if !since.IsZero() && s.TakenAt().Before(since) {
			prev = s // for the first row's rates
			continue
		}
		if err := fn(s, record.RatesBetween(prev, s)); err != nil {
			return damaged, err
		}
		prev = s
	}
	return damaged, nil
}

func dumpSample(dw *report.DumpWriter, kind string, f report.Filter, s *record.Sample, rates *lifecycle.Rates) error {
	snap := s.Snapshot
	if kind == "system" {
		return dw.System(s.Seq, s.Interval, snap, len(s.Events), rates)
	}
	for _, p := range f.Apply(snap) {
		if kind == "process" {
			if err := dw.Process(snap.TakenAt, s.Seq, p, rates); err != nil {
				return err
			}
			continue
		}
		for j := range p.Threads {
			if err := dw.Thread(snap.TakenAt, s.Seq, p.PID, &p.Threads[j], rates); err != nil {
				return err
			}
		}
	}
	return nil
}

// eventFilter turns the common filters into an event match (pid and
// name; users and states are properties of processes, not events).
func eventFilter(f report.Filter) func(*lifecycle.Event) bool {
	if len(f.PIDs) == 0 && f.Name == "" {
		return nil
	}
	name := lifecycle.LowerASCII(f.Name) // as the process filters match (lifecycle.MatchesName)
	return func(e *lifecycle.Event) bool {
		if len(f.PIDs) > 0 && !slices.Contains(f.PIDs, e.ID.PID) {
			return false
		}
		return name == "" || lifecycle.ContainsFold(e.Comm, name) || lifecycle.ContainsFold(e.Exe, name) || lifecycle.ContainsFold(e.OldComm, name) ||
			e.ExecPath.Matches(name) // as watch: the path an exec was given
	}
}
