//go:build linux

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/collector/sampler"
	"github.com/pinspect/pinspect/views/report"
)

// explainFlags are the flags of `pinspect explain`.
type explainFlags struct {
	json       bool
	teach      bool
	all        bool
	window     time.Duration
	interval   time.Duration
	top        int
	candidates int
	minSev     string
	recordDir  string
	// at is --at: explain from the record at this time instead of now.
	at string
	// windowSet says --window was given (with --at its default is
	// recordWindow).
	windowSet bool
}

// Bounds of the explain flags: a window long enough for two readings and
// short enough that a typo does not hang a script for hours; a burst
// interval that keeps the per-thread reads a small load.
const (
	explainMinWindow   = 200 * time.Millisecond
	explainMaxWindow   = 10 * time.Minute
	explainMinInterval = 10 * time.Millisecond
)

func newExplainCmd(a *app) *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain [PID]",
		Short: "Answer what a process is doing: CPU- or I/O-bound, pool too big, GIL, event loop, fork/COW, family memory, leak, waits",
		Long: `Explain a process from its own signals. pinspect reads it, samples every
thread fast for a window (state, wait channel, system call, run-queue
wait from schedstat), reads it again, and prints findings: a one-sentence
verdict, the evidence with each number's /proc source, why it matters,
what to try, and what could not be measured and why.

The questions: is it CPU-bound or I/O-bound, and would more threads help;
is its pool too big (its own threads, the neighbours or a cgroup quota);
is it running or only ready; why its Python threads do not go faster; is
it an event loop; what did fork share and copy; what does its family of
processes really use; which runtime is it; is its memory growing; what
does switching cost; what does it wait on, and how much I/O does it do;
which zombie children does it hold without waiting for them, since when,
and what to do.

Without a PID, the machine: the first half of the window finds the
busiest processes, the second half samples them; findings worst first.
With --at TIME, from the record (pinspect record, --dir): the findings of
the samples recorded in the --window (default 1 minute, reaching back
up to 10 minutes for two samples with threads) before TIME, saying what
the record does not keep (wait channels, system calls, io, descriptors,
memory maps, the cgroup files, pressure, the runtime).
--teach adds the lesson behind each finding; --json prints the
pinspect.explain/v1 document (docs/SCHEMA.md). Other users' wait
channels, system calls and I/O need root (ptrace access).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("explain takes at most one PID, got %d arguments", len(args))}
			}
			return nil
		},
		ValidArgsFunction: a.completePID,
		RunE: func(cmd *cobra.Command, args []string) error {
			pid := 0
			if len(args) == 1 {
				var err error
				if pid, err = parsePIDArg("explain", args[0]); err != nil {
					return err
				}
			}
			if err := checkExplainFlags(cmd, pid); err != nil {
				return err
			}
			f.windowSet = cmd.Flags().Changed("window")
			if f.at != "" {
				return a.explainAt(pid, f)
			}
			return a.explain(pid, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the pinspect.explain/v1 JSON document")
	fl.BoolVar(&f.teach, "teach", false, "add the lesson behind each finding, in plain words")
	fl.BoolVar(&f.all, "all", false, "show every finding (without a PID the first --top are shown)")
	fl.DurationVar(&f.window, "window", sampler.DefaultWindow, "time between the two full readings")
	fl.StringVar(&f.recordDir, "dir", defaultRecordDir, "the record (pinspect record): with --at the one explained; without, the one whose memory history of the process the leak finding uses, when there is one")
	fl.StringVar(&f.at, "at", "", "explain from the record at this time instead of now (RFC 3339, \"2026-12-01 02:00\", 02:00, \"2h ago\")")
	fl.DurationVar(&f.interval, "interval", sampler.DefaultInterval, "time between the fast per-thread readings")
	fl.IntVar(&f.top, "top", 10, "without a PID: show the first N findings")
	fl.IntVar(&f.candidates, "candidates", sampler.DefaultCandidates, "without a PID: how many of the busiest processes to examine closely")
	fl.StringVar(&f.minSev, "min-severity", "info", "leave out findings below this severity: info, notice or warning")
	// --at reads the record, not /proc; --dir names a record with or
	// without it (the leak finding's memory history).
	cmd.Annotations = map[string]string{atAnnotation: atDirAlone}
	registerCompletions(cmd, map[string]cobra.CompletionFunc{
		"min-severity": fixedChoices([2]string{"info", "every finding"}, [2]string{"notice", "notices and warnings"}, [2]string{"warning", "warnings only"}),
	})
	return reads(cmd, sourceProc)
}

// checkExplainFlags refuses the machine's options with a PID: --top and
// --candidates choose among the busiest processes.
func checkExplainFlags(cmd *cobra.Command, pid int) error {
	if pid == 0 {
		return nil
	}
	for _, fl := range []string{"top", "candidates"} {
		if changed(cmd, fl) {
			return notApplicable("--"+fl, "explain PID", "it chooses among the busiest processes, for explain without a PID")
		}
	}
	return nil
}

// check validates the explain flags.
func (f *explainFlags) check(a *app) error {
	live := f.at == ""
	switch {
	case !live && (f.window <= 0 || f.window > recordMaxWindow):
		return usageError{fmt.Errorf("--window %s with --at: want more than 0 and at most %s of the record", f.window, recordMaxWindow)}
	case live && (f.window < explainMinWindow || f.window > explainMaxWindow):
		return usageError{fmt.Errorf("--window %s: want %s to %s", f.window, explainMinWindow, explainMaxWindow)}
	case live && (f.interval < explainMinInterval || f.interval > f.window/2):
		return usageError{fmt.Errorf("--interval %s: want %s to half the window (%s)", f.interval, explainMinInterval, f.window/2)}
	case f.top < 0:
		return usageError{fmt.Errorf("--top %d: want 0 (all) or more", f.top)}
	case f.candidates < 1 || f.candidates > 64:
		return usageError{fmt.Errorf("--candidates %d: want 1 to 64", f.candidates)}
	}
	return nil
}

func (a *app) explain(pid int, f explainFlags) error {
	if err := f.check(a); err != nil {
		return err
	}
	minSev, err := report.ExplainSeverity(f.minSev)
	if err != nil {
		return usageError{fmt.Errorf("--min-severity %w", err)}
	}
	oneShot()
	r, err := a.reader(false)
	if err != nil {
		return err
	}
	defer r.Close()
	sm := sampler.New(r, sampler.Options{Window: f.window, Interval: f.interval, Candidates: f.candidates})
	var doc *report.ExplainDoc
	if pid > 0 {
		s, err := sm.Process(a.ctx, pid, recordedHistory(r, f.recordDir, pid))
		if err != nil {
			if collector.IsVanished(err) {
				if tgid, ok := threadOwner(r.Root(), pid); ok && tgid != pid {
					return noMatchError{fmt.Errorf("no such process: %d is a thread of process %d (pinspect explain %d)", pid, tgid, tgid)}
				}
				return noMatchError{fmt.Errorf("no such process: %d (or it exited during the window)", pid)}
			}
			return err
		}
		doc = report.NewExplainDoc(s, explain.Explain(s), r.Root())
	} else {
		m, err := sm.Machine(a.ctx)
		if err != nil {
			return err
		}
		doc = report.NewExplainMachineDoc(m, explain.ExplainMachine(m), r.Root())
	}
	return a.writeExplain(doc, pid, f, minSev)
}

// writeExplain prints an explain document as f asks.
func (a *app) writeExplain(doc *report.ExplainDoc, pid int, f explainFlags, minSev explain.Severity) error {
	if f.json || a.jsonOut {
		return a.writeJSON(doc)
	}
	o := report.ExplainTextOptions{Teach: f.teach, MinSeverity: minSev}
	if pid == 0 && !f.all {
		o.Top = f.top
	}
	if f.all {
		o.MinSeverity = explain.Info
	}
	return writeOut(report.WriteExplainText(a.stdout, doc, o))
}

// historyWindow is how much of the record's memory history explain uses.
const historyWindow = 6 * time.Hour

// recordedHistory is the process's recorded RSS over the last hours, on
// the Reader's monotonic clock (the sampler's), when a record in dir
// holds this process (its identity, not only its pid); none otherwise.
func recordedHistory(r *collector.Reader, dir string, pid int) []explain.MemoryPoint {
	id, err := r.Identity(pid, false)
	if err != nil {
		return nil
	}
	st, err := record.Open(dir)
	if err != nil {
		return nil
	}
	defer st.Close()
	wall, mono := time.Now(), r.Monotonic()
	pts, err := st.MemorySeries(collector.ID{PID: pid, StartTicks: id.StartTicks}, wall.Add(-historyWindow), wall)
	if err != nil {
		return nil
	}
	var out []explain.MemoryPoint
	for _, p := range pts {
		if p.HasRSS {
			out = append(out, explain.MemoryPoint{At: mono - wall.Sub(p.At), RSSBytes: p.RSSBytes})
		}
	}
	return out
}
