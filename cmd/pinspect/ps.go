//go:build linux

package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/report"
	"github.com/pinspect/pinspect/views/sanitize"
)

// psMaxSample bounds ps --sample.
const psMaxSample = 10 * time.Minute

// psOptions are `pinspect ps`'s output options.
type psOptions struct {
	output    string // table, wide, json or csv
	columns   []string
	sort      string
	noHeaders bool
	sample    time.Duration // --sample: read twice this far apart, show rates
}

// psFormats are the -o values.
var psFormats = []string{"table", "wide", "json", "csv"}

// psDefaults is ps as `pinspect` without a terminal prints it.
func psDefaults() psOptions { return psOptions{output: "table", sort: "pid"} }

func newPSCmd(a *app) *cobra.Command {
	o := psDefaults()
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "Print a table of processes (PID PPID USER S THR VCSW NVCSW RSS COMMAND)",
		Long: `Print every process as a plain table. VCSW and NVCSW are the whole
process's voluntary and involuntary context switches: from the kernel's
taskstats (exact, exited threads included) where pinspect may use it
(CAP_NET_ADMIN), else summed over the live threads (/proc/PID/status
alone counts only the leader thread). The summary line says which, and
its scan counts (vanished, denied, parse errors) are the whole scan's,
before any filter.

--sample D reads twice, D apart, and shows rates instead of totals: CPU %
(of one CPU), voluntary and involuntary switches per second, RQWAIT (the
run-queue wait, in seconds per second: how many of its threads were
waiting for a CPU on average, from the task iterator's or taskstats'
per-process total, else summed over task/TID/schedstat) and storage reads
and writes per second (/proc/PID/io, which needs ptrace read access: "?"
for other users' processes unless root). -o json gives the same as
numbers.

-o chooses the format: table (cut to the terminal's width), wide (more
columns, never cut), json (the pinspect.ps/v1 document; --json is the
same) or csv (RFC 4180, a heading line of JSON field names, exact numbers,
RFC 3339 times, an empty field for an unknown value). --columns picks the
columns of table, wide and csv; --sort orders the rows of every format
(a leading - sorts descending; unknown values sort last). The columns:
` + report.PSColumnHelp() + `
Exit status: 0 when a process was listed, 1 when none matched the
filters, 2 for a usage error, 3 when /proc could not be read.`,
		Example: `  pinspect ps --sort -rss --columns pid,user,rss,command | head
  pinspect ps -o wide --user postgres
  pinspect ps -o csv --no-headers --state D
  pinspect ps --sample 2s --sort -cpu | head
  pinspect ps -o json | jq '.processes[] | select(.num_threads > 100) | .pid'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if jsonOut {
				if changed(cmd, "output") && o.output != "json" {
					return usageError{fmt.Errorf("--json is -o json; it cannot go with -o %s", o.output)}
				}
				o.output = "json"
			}
			if o.output == "json" && changed(cmd, "no-headers") {
				// Given is given: --no-headers=false was let through.
				return notApplicable("--no-headers", "ps -o json", "JSON has no heading line")
			}
			if a.at.at != "" && changed(cmd, "sample") {
				return notApplicable("--sample", "ps --at", "the record is shown as it was sampled")
			}
			return a.printPS(o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&jsonOut, "json", false, "print the pinspect.ps/v1 JSON document (as -o json)")
	f.StringVarP(&o.output, "output", "o", o.output, "output `FORMAT`: "+strings.Join(psFormats, ", "))
	f.StringSliceVar(&o.columns, "columns", nil, "the `COLUMNS` to show, comma-separated (table, wide and csv; see above)")
	f.StringVar(&o.sort, "sort", o.sort, "order rows by these `KEYS` (columns, comma-separated; -KEY descending)")
	f.BoolVar(&o.noHeaders, "no-headers", false, "leave out the heading line (and the table's summary line)")
	f.DurationVar(&o.sample, "sample", 0, "read twice this far apart and show rates: CPU %, switches/s, run-queue wait, storage I/O/s")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(psFormats, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("columns", completePSColumns)
	_ = cmd.RegisterFlagCompletionFunc("sort", completePSSort)
	a.at.add(cmd)
	return withFilters(reads(cmd, sourceProc), filterFlags...)
}

// psPlan is what ps will print, checked before anything is read.
type psPlan struct {
	o    psOptions
	cols []report.PSColumn
	keys []report.PSSortKey
}

func (o psOptions) plan() (psPlan, error) {
	p := psPlan{o: o}
	if o.sample < 0 || o.sample > psMaxSample {
		return p, usageError{fmt.Errorf("--sample %s: want 0 (none) to %s", o.sample, psMaxSample)}
	}
	if !slices.Contains(psFormats, o.output) {
		return p, usageError{fmt.Errorf("-o %q: want one of %s", o.output, strings.Join(psFormats, ", "))}
	}
	if o.output == "json" {
		if len(o.columns) > 0 {
			return p, notApplicable("--columns", "ps -o json", "a JSON row has every field")
		}
		if o.noHeaders {
			return p, notApplicable("--no-headers", "ps -o json", "JSON has no heading line")
		}
	}
	cols := o.columns
	if len(cols) == 0 {
		defaults := map[string][]string{"table": report.PSColumnsTable, "wide": report.PSColumnsWide, "csv": report.PSColumnsCSV}
		if o.sample > 0 {
			defaults = map[string][]string{"table": report.PSColumnsTableSampled, "wide": report.PSColumnsWideSampled, "csv": report.PSColumnsCSVSampled}
		}
		cols = defaults[o.output]
	}
	var err error
	if p.cols, err = report.LookupPSColumns(cols); err != nil {
		return p, usageError{fmt.Errorf("--columns: %w", err)}
	}
	if p.keys, err = report.ParsePSSort(o.sort); err != nil {
		return p, usageError{fmt.Errorf("--sort: %w", err)}
	}
	if o.sample == 0 {
		if err := needSample(p); err != nil {
			return p, err
		}
	}
	return p, nil
}

// needSample refuses a rate column or sort key without --sample: a rate
// needs two readings, and would be unknown on every row.
func needSample(p psPlan) error {
	for _, c := range p.cols {
		if c.Sampled {
			return usageError{fmt.Errorf("--columns %s: a rate, which needs --sample D", c.Key)}
		}
	}
	for _, k := range p.keys {
		if k.Column.Sampled {
			return usageError{fmt.Errorf("--sort %s: a rate, which needs --sample D", k.Column.Key)}
		}
	}
	return nil
}

func (a *app) printPS(o psOptions) error {
	plan, err := o.plan()
	if err != nil {
		return err
	}
	var v *report.PSView
	if o.sample > 0 {
		v, err = a.sampledPS(o.sample)
	} else {
		var snap *collector.Snapshot
		var doc *report.SnapshotDoc
		doc, err = a.newSnapshotDoc(true, func(s *collector.Snapshot, f report.Filter, threads bool) *report.SnapshotDoc {
			snap = s // for what the document does not carry (the RSS split)
			return report.NewSnapshotDoc(s, f, threads)
		})
		v = &report.PSView{Doc: doc, Snap: snap}
	}
	if err != nil {
		return err
	}
	if note := v.Doc.Host.Unavailable[collector.HostProcessesKey]; note != "" {
		fmt.Fprintf(a.stderr, "pinspect: %s %s\n", sanitize.Terminal(a.procRoot), note)
	}
	report.SortPS(v, plan.keys)
	switch o.output {
	case "json":
		return a.writeJSON(v.PSDoc())
	case "csv":
		return writeOut(report.WritePSCSV(a.stdout, v, plan.cols, o.noHeaders))
	}
	width := 0
	if o.output == "table" && isTerminal(a.stdout) {
		if ws, err := unix.IoctlGetWinsize(int(a.stdout.(*os.File).Fd()), unix.TIOCGWINSZ); err == nil {
			width = int(ws.Col)
		}
	}
	return writeOut(report.WritePSColumns(a.stdout, v, plan.cols, report.PSTableOptions{Width: width, NoHeaders: o.noHeaders}))
}

// psExtra is what ps --sample reads of a process beyond the scan, at each
// end of the window.
type psExtra struct {
	start  uint64
	io     *collector.IOCounters
	waitNs uint64
	hasW   bool
	wSrc   string
}

// psExtras reads the io counters and run-queue wait of the processes of
// snap that f selects.
func psExtras(r *collector.Reader, snap *collector.Snapshot, f report.Filter) map[int]psExtra {
	out := make(map[int]psExtra, len(snap.Processes))
	schedInfo := schedInfoKept(r.Root())
	f = f.For(snap) // as the rows were selected; --name lowered once
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if p.Read&collector.SrcStat == 0 || !f.Match(p) {
			continue
		}
		e := psExtra{start: p.StartTicks}
		if io, err := r.IO(p.PID); err == nil {
			e.io = io
		}
		switch {
		case p.IsZombie():
		case p.CtxSource == collector.CtxTaskIter && schedInfo:
			e.waitNs, e.hasW, e.wSrc = p.CPUDelayNs, true, "task_iter"
		case p.CtxSource == collector.CtxTaskstats && delayAcctOn(r.Root()):
			e.waitNs, e.hasW, e.wSrc = p.CPUDelayNs, true, "taskstats"
		default:
			if s, n, err := r.SchedStatSum(p.PID); err == nil && n > 0 {
				e.waitNs, e.hasW, e.wSrc = s.WaitNs, true, "schedstat"
			}
		}
		out[p.PID] = e
	}
	return out
}

// schedInfoKept reports whether the kernel keeps per-task scheduler
// statistics (CONFIG_SCHED_INFO: the schedstat files exist), without
// which the task iterator's run-queue delay reads 0.
func schedInfoKept(root string) bool {
	_, err := os.Stat(root + "/self/schedstat")
	return err == nil
}

// delayAcctOn reports kernel.task_delayacct=1: taskstats' run-queue delay
// is kept.
func delayAcctOn(root string) bool {
	on, err := collector.DelayAcct(root)
	return err == nil && on
}

// psRates computes each process's rates between two readings.
func psRates(a, b *collector.Snapshot, ea, eb map[int]psExtra) (map[int]report.PSRates, float64) {
	secs := lifecycle.Elapsed(a, b).Seconds()
	rates := lifecycle.ComputeRates(a, b)
	out := make(map[int]report.PSRates, len(eb))
	for i := range b.Processes {
		p := &b.Processes[i]
		x1, ok1 := eb[p.PID]
		x0, ok0 := ea[p.PID]
		if !ok1 {
			continue
		}
		var pr report.PSRates
		if r, ok := rates.Process(p.ID()); ok {
			pr.CPUPercent = ptrF(r.CPUPercent)
			pr.VolPerSec, pr.InvolPerSec = ptrF(r.VolPerSec), ptrF(r.InvolPerSec)
		}
		if ok0 && x0.start == x1.start && secs > 0 {
			if x0.hasW && x1.hasW && x0.wSrc == x1.wSrc {
				pr.RunQueueWait = ptrF(float64(delta(x1.waitNs, x0.waitNs)) / 1e9 / secs)
				pr.RunQueueSource = x1.wSrc
			}
			if x0.io != nil && x1.io != nil {
				pr.ReadBPS = ptrF(float64(delta(x1.io.ReadBytes, x0.io.ReadBytes)) / secs)
				pr.WriteBPS = ptrF(float64(delta(x1.io.WriteBytes, x0.io.WriteBytes)) / secs)
			}
		}
		out[p.PID] = pr
	}
	return out, secs
}

func ptrF(v float64) *float64 { return &v }

// delta is b-a, or 0 for a counter that went down (a thread's counts
// leaving a sum).
func delta(b, a uint64) uint64 {
	if b < a {
		return 0
	}
	return b - a
}

// sampledPS reads two snapshots window apart: the view of the second,
// with the rates between them.
func (a *app) sampledPS(window time.Duration) (*report.PSView, error) {
	f, r, err := a.filterAndReader(true)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s0, err := a.scan(r, true)
	if err != nil {
		return nil, err
	}
	e0 := psExtras(r, s0, f)
	t := time.NewTimer(window)
	select {
	case <-a.ctx.Done():
		t.Stop()
		return nil, a.ctx.Err()
	case <-t.C:
	}
	s1, err := a.scan(r, true)
	if err != nil {
		return nil, err
	}
	e1 := psExtras(r, s1, f)
	doc := report.NewSnapshotDoc(s1, f, true)
	if len(doc.Processes) == 0 {
		a.exitCode = exitNoMatch
	}
	rates, secs := psRates(s0, s1, e0, e1)
	return &report.PSView{Doc: doc, Snap: s1, Rates: rates, SampleSeconds: &secs}, nil
}

// completePSColumns completes --columns: comma-separated column keys.
func completePSColumns(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return completeList(report.PSColumnPairs(), toComplete)
}

// completePSSort completes --sort: column keys, each maybe after a "-".
func completePSSort(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	done, item := listPrefix(toComplete)
	sign := ""
	if strings.HasPrefix(item, "-") {
		sign = "-"
	}
	var out []cobra.Completion
	for _, p := range report.PSColumnPairs() {
		if strings.HasPrefix(sign+p[0], item) {
			out = append(out, cobra.CompletionWithDesc(done+sign+p[0], p[1]))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveKeepOrder
}
