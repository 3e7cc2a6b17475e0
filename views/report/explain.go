package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// ExplainSchema is the schema version of the `pinspect explain --json`
// document (docs/SCHEMA.md).
const ExplainSchema = "pinspect.explain/v1"

// ExplainDoc is the `pinspect explain` document: the findings of one
// process, or the machine's worst findings first.
type ExplainDoc struct {
	Schema  string `json:"schema"`
	TakenAt string `json:"taken_at"`
	// WindowSeconds is the time between the two full readings; Samples
	// the number of burst readings of each process.
	WindowSeconds float64 `json:"window_seconds"`
	Samples       int     `json:"samples"`
	ProcRoot      string  `json:"proc_root"`
	// Machine is what the findings assumed of the machine and the reader.
	Machine ExplainMachineDoc `json:"machine"`
	// Process is the process explained (absent for the machine).
	Process *ExplainProcessDoc `json:"process,omitempty"`
	// Examined are the processes the machine's findings looked at
	// closely, busiest first (machine only).
	Examined []ExplainProcessDoc `json:"examined,omitempty"`
	// Findings are worst first.
	Findings []explain.Finding `json:"findings"`
	// Unmeasured is what the whole sample could not measure, and why.
	Unmeasured []explain.Unmeasured `json:"unmeasured,omitempty"`
	// Record is the stretch of the record explained (explain --at);
	// absent for a live sample.
	Record *ExplainRecordDoc `json:"record,omitempty"`
}

// ExplainRecordDoc is the stretch of a record (pinspect record) that
// `explain --at` explained.
type ExplainRecordDoc struct {
	// Dir is the record's directory; At the time asked, as given.
	Dir string `json:"dir"`
	At  string `json:"at"`
	// From and To are the times of the first and last samples read
	// (RFC 3339, UTC); Samples how many, ThreadSamples how many of them
	// hold the threads (the process's, or every process's for the
	// machine); IntervalSeconds the recorder's interval.
	From            string  `json:"from"`
	To              string  `json:"to"`
	Samples         int     `json:"samples"`
	ThreadSamples   int     `json:"thread_samples"`
	IntervalSeconds float64 `json:"interval_seconds"`
}

// ExplainMachineDoc is the machine as the findings saw it.
type ExplainMachineDoc struct {
	// CPUs is the online CPU count; absent when it could not be read
	// (the document's unmeasured names why), never 0.
	CPUs   int    `json:"cpus,omitempty"`
	Arch   string `json:"arch"`
	Kernel string `json:"kernel,omitempty"`
	// Root is true when the reader ran as root: other users' wchan,
	// syscall, io and fd are readable.
	Root bool `json:"root"`
	// DelayAcct is kernel.task_delayacct: "on", "off", or absent.
	DelayAcct string `json:"delay_acct,omitempty"`
}

// ExplainProcessDoc identifies a process explained.
type ExplainProcessDoc struct {
	PID           int    `json:"pid"`
	StartTicks    uint64 `json:"start_ticks"`
	Comm          string `json:"comm"`
	CommRawBase64 string `json:"comm_raw_base64,omitempty"`
	Exe           string `json:"exe,omitempty"`
	ExeRawBase64  string `json:"exe_raw_base64,omitempty"`
	User          string `json:"user,omitempty"`
	Threads       int    `json:"threads"`
	// Runtime is the language runtime recognised, absent when none.
	Runtime *collector.Runtime `json:"runtime,omitempty"`
}

// NewExplainDoc builds the document of one process's sample.
func NewExplainDoc(s *explain.Sample, fs []explain.Finding, root string) *ExplainDoc {
	d := &ExplainDoc{
		Schema: ExplainSchema, TakenAt: s.TakenAt.UTC().Format(time.RFC3339Nano),
		WindowSeconds: (s.Last.At - s.First.At).Seconds(), Samples: len(s.Burst), ProcRoot: root,
		Machine:    machineDoc(s.Machine),
		Findings:   nonNil(fs),
		Unmeasured: explain.Gaps(s),
	}
	d.underRoot(root)
	pd := processDoc(s)
	d.Process = &pd
	return d
}

// NewExplainMachineDoc builds the document of a machine sample.
func NewExplainMachineDoc(m *explain.MachineSample, fs []explain.Finding, root string) *ExplainDoc {
	d := &ExplainDoc{
		Schema: ExplainSchema, TakenAt: m.TakenAt.UTC().Format(time.RFC3339Nano),
		WindowSeconds: (m.LastAt - m.FirstAt).Seconds(), ProcRoot: root,
		Machine:  machineDoc(m.Machine),
		Findings: nonNil(fs),
	}
	for _, s := range m.Processes {
		d.Examined = append(d.Examined, processDoc(s))
		d.Samples = max(d.Samples, len(s.Burst))
	}
	// In the keys' order: a map's would change from run to run.
	for _, k := range slices.Sorted(maps.Keys(m.Unavailable)) {
		d.Unmeasured = append(d.Unmeasured, explain.Gap(k, m.Unavailable[k]))
	}
	d.underRoot(root)
	return d
}

// underRoot names the files read under a --proc-root other than /proc:
// the findings' sources and the unmeasured say /proc/..., and under
// another root that is not the file read (tester12 B5). The findings'
// evidence is copied, not changed in place.
func (d *ExplainDoc) underRoot(root string) {
	root = strings.TrimRight(root, "/")
	if root == "" || root == "/proc" {
		return
	}
	for i := range d.Findings {
		f := &d.Findings[i]
		ev := slices.Clone(f.Evidence)
		for j := range ev {
			ev[j].Source = procUnder(ev[j].Source, root)
		}
		f.Evidence = ev
		um := slices.Clone(f.Unmeasured)
		for j := range um {
			um[j].What = procUnder(um[j].What, root)
		}
		f.Unmeasured = um
	}
	for j := range d.Unmeasured {
		d.Unmeasured[j].What = procUnder(d.Unmeasured[j].What, root)
	}
}

// procUnder is s with each path that starts with /proc/ (at the start,
// or after a space, '(', '[' or ',') moved under root.
func procUnder(s, root string) string {
	const proc = "/proc/"
	if !strings.Contains(s, proc) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, proc)
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		if i == 0 || strings.IndexByte(" ([,", s[i-1]) >= 0 {
			b.WriteString(root + "/")
		} else {
			b.WriteString(proc)
		}
		s = s[i+len(proc):]
	}
	b.WriteString(s)
	return b.String()
}

func nonNil(fs []explain.Finding) []explain.Finding {
	if fs == nil {
		return []explain.Finding{}
	}
	return fs
}

func machineDoc(m explain.Machine) ExplainMachineDoc {
	return ExplainMachineDoc{CPUs: m.CPUs, Arch: m.Arch, Kernel: m.Kernel, Root: m.Root, DelayAcct: m.DelayAcct}
}

func processDoc(s *explain.Sample) ExplainProcessDoc {
	pd := ExplainProcessDoc{PID: s.PID, StartTicks: s.StartTicks, User: s.User}
	pd.Comm, pd.CommRawBase64 = textAndRaw(s.Comm)
	pd.Exe, pd.ExeRawBase64 = textAndRaw(s.Exe)
	if p := s.Last.Process; p != nil {
		pd.Threads = int(p.NumThreads)
	}
	if s.Runtime.Kind != collector.RuntimeNone {
		rt := s.Runtime
		pd.Runtime = &rt
	}
	return pd
}

// ExplainTextOptions chooses what the text form shows.
type ExplainTextOptions struct {
	// Teach adds each finding's lesson (each lesson once).
	Teach bool
	// Top, when positive, shows only the first Top findings.
	Top int
	// MinSeverity leaves out findings below it.
	MinSeverity explain.Severity
}

// WriteExplainText writes the document for a person: a header, then each
// finding (its severity, verdict, evidence with sources, why, what to try,
// what was not measured, and with Teach the lesson), then the sample's
// gaps. Every string from /proc is sanitised.
func WriteExplainText(w io.Writer, d *ExplainDoc, o ExplainTextOptions) error {
	ew := &errWriter{w: w}
	s := sanitize.Terminal
	if d.Process != nil {
		p := d.Process
		ew.printf("pinspect explain %d (%s)", p.PID, s(p.Comm))
		if p.User != "" {
			ew.printf(" user %s", s(p.User))
		}
		ew.printf(", %s\n", lifecycle.CountOf(p.Threads, "thread", "threads"))
		if p.Exe != "" {
			ew.printf("  %s", s(p.Exe))
		}
		if p.Runtime != nil {
			ew.printf("  runtime %s %s", p.Runtime.Kind, s(p.Runtime.Version))
		}
		if p.Exe != "" || p.Runtime != nil {
			ew.printf("\n")
		}
	} else {
		ew.printf("pinspect explain: the machine, worst findings first (%s examined closely)\n", lifecycle.CountOf(len(d.Examined), "process", "processes"))
	}
	ew.printf("  window %.1f s, %s, %s, taken %s\n", d.WindowSeconds, lifecycle.CountOf(d.Samples, "sample", "samples"), cpusText(d.Machine.CPUs), d.TakenAt)
	if r := d.Record; r != nil {
		ew.printf("  from the record in %s at %s: %s every %s from %s to %s, %d with threads\n",
			s(r.Dir), s(r.At), lifecycle.CountOf(r.Samples, "sample", "samples"), time.Duration(r.IntervalSeconds*float64(time.Second)), r.From, r.To, r.ThreadSamples)
	}
	shown, hidden := 0, 0
	taught := map[string]bool{}
	for _, f := range d.Findings {
		if f.Severity < o.MinSeverity || (o.Top > 0 && shown >= o.Top) {
			hidden++
			continue
		}
		shown++
		writeFinding(ew, &f, d.Process == nil, o.Teach && !taught[f.Lesson])
		taught[f.Lesson] = true
	}
	if shown == 0 {
		ew.printf("\nNo findings%s.\n", map[bool]string{true: " at this severity", false: ""}[hidden > 0])
	}
	if hidden > 0 {
		ew.printf("\n(%s not shown: --all shows every finding)\n", lifecycle.CountOf(hidden, "finding", "findings"))
	}
	if len(d.Unmeasured) > 0 {
		ew.printf("\nNot measured in this sample:\n")
		for _, u := range d.Unmeasured {
			ew.printf("  - %s: %s\n", s(u.What), s(u.Why))
		}
	}
	return ew.err
}

// writeFinding writes one finding.
func writeFinding(ew *errWriter, f *explain.Finding, machine, lesson bool) {
	s := sanitize.Terminal
	ew.printf("\n%s  ", strings.ToUpper(f.Severity.String()))
	if machine && f.PID != 0 {
		ew.printf("%d %s: ", f.PID, s(f.Comm))
	}
	ew.printf("%s\n", s(f.Verdict))
	for _, e := range f.Evidence {
		ew.printf("    - %s  [%s]\n", s(e.Text), s(e.Source))
	}
	if f.Why != "" {
		ew.printf("  why: %s\n", s(f.Why))
	}
	for _, t := range f.Try {
		ew.printf("  try: %s\n", s(t))
	}
	for _, u := range f.Unmeasured {
		ew.printf("  not measured: %s: %s\n", s(u.What), s(u.Why))
	}
	if lesson && f.Lesson != "" {
		ew.printf("  lesson:\n")
		for _, l := range strings.Split(f.Lesson, "\n") {
			ew.printf("    %s\n", l)
		}
	}
}

// ExplainSeverity parses a severity name for a flag.
func ExplainSeverity(name string) (explain.Severity, error) {
	var s explain.Severity
	if err := s.UnmarshalText([]byte(name)); err != nil {
		return 0, fmt.Errorf("%q: want info, notice or warning", name)
	}
	return s, nil
}

// cpusText is the CPU count for the header; an unread count (0) is said
// as such, never as "0 CPUs".
func cpusText(n int) string {
	if n <= 0 {
		return "CPU count not known"
	}
	return lifecycle.CountOf(n, "CPU", "CPUs")
}
