package explain

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Severity ranks findings: Warning is a problem worth acting on, Notice
// something to know, Info an answer with nothing wrong.
type Severity int

// The severities, least first.
const (
	Info Severity = iota
	Notice
	Warning
)

// String returns "info", "notice" or "warning".
func (s Severity) String() string {
	switch s {
	case Notice:
		return "notice"
	case Warning:
		return "warning"
	}
	return "info"
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "info":
		*s = Info
	case "notice":
		*s = Notice
	case "warning":
		*s = Warning
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// The questions, each answered by one or more findings.
const (
	QBound      = "bound"       // CPU- or I/O-bound, and would more threads or processes help
	QPool       = "pool"        // is the pool too big: its own threads or the neighbours
	QState      = "state"       // running or only ready; what the process state hides
	QGIL        = "gil"         // why Python threads do not go faster
	QEventLoop  = "event_loop"  // one thread waiting for events
	QCOW        = "cow"         // what fork shared, what was copied, copying now
	QFamily     = "family"      // what a process family really uses
	QRuntime    = "runtime"     // which runtime, and what /proc cannot see of it
	QLeak       = "leak"        // is memory growing
	QSwitchCost = "switch_cost" // what switching costs
	QWaits      = "waits"       // what it waits on, how much I/O
	QZombies    = "zombies"     // does it leave zombies: children it has not waited for
	QMachine    = "machine"     // the machine as a whole
)

// Finding is one answer: a verdict in one sentence, the evidence with
// each number's source, why it matters, a lesson for --teach, what to
// try, and what could not be measured and why.
type Finding struct {
	// ID names the verdict (e.g. "pool_oversubscribed"); stable across
	// versions of the schema.
	ID string `json:"id"`
	// Question is the question it answers (the Q constants).
	Question string `json:"question"`
	// PID and Comm are the process's (0 and "" for a machine finding).
	PID  int    `json:"pid,omitempty"`
	Comm string `json:"comm,omitempty"`
	// Severity and Score rank findings: by severity, then by score
	// (larger is worse).
	Severity Severity `json:"severity"`
	Score    float64  `json:"score"`
	// Verdict is one sentence.
	Verdict string `json:"verdict"`
	// Evidence lists the numbers the verdict rests on, first the deciding
	// ones.
	Evidence []Evidence `json:"evidence"`
	// Why says why it matters.
	Why string `json:"why,omitempty"`
	// Lesson explains the concept in plain words (shown with --teach).
	Lesson string `json:"lesson,omitempty"`
	// Try lists what to try.
	Try []string `json:"try,omitempty"`
	// Unmeasured lists what could not be measured and why.
	Unmeasured []Unmeasured `json:"unmeasured,omitempty"`
}

// Evidence is one number with its unit and source.
type Evidence struct {
	// Name is a snake_case name with the unit in it where it has one
	// ("run_queue_wait_per_slice_ms").
	Name string `json:"name"`
	// Value is the number, absent for evidence that is a fact in words
	// (a state letter, a wait channel); Unit its unit ("cpus", "threads",
	// "ms", "percent", "per_second", "bytes", "bytes_per_second", "count",
	// "seconds", "ratio", "us").
	Value *float64 `json:"value,omitempty"`
	Unit  string   `json:"unit,omitempty"`
	// Text says it in words for a terminal.
	Text string `json:"text"`
	// Source is where the number comes from (a /proc file and field).
	Source string `json:"source"`
}

// Unmeasured is something a finding could not measure, and why.
type Unmeasured struct {
	// Key is the stable name of the source, where it is one of a
	// sample's Unavailable keys ("syscall", "cpus", "pressure/io");
	// empty for what no file could give (cache refills).
	Key string `json:"key,omitempty"`
	// What names it for a person (GapName of Key, where there is one).
	What string `json:"what"`
	Why  string `json:"why"`
}

// sortFindings orders findings worst first: by severity, then score,
// then question and PID for a stable order.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Question, b.Question); c != 0 {
			return c
		}
		return cmp.Compare(a.PID, b.PID)
	})
}

// ev builds an Evidence with a number.
func ev(name string, v float64, unit, text, source string) Evidence {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return Evidence{Name: name, Value: &v, Unit: unit, Text: text, Source: source}
}

// fact builds an Evidence without a number.
func fact(name, text, source string) Evidence {
	return Evidence{Name: name, Text: text, Source: source}
}

// Number formatting for verdicts and evidence text.

// f1 formats with one decimal ("2.0"); f2 with two.
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// cpusN formats a CPU count: "2" when whole, "1.50" otherwise.
func cpusN(v float64) string {
	if v == math.Trunc(v) {
		return strconv.Itoa(int(v))
	}
	return f2(v)
}

// pct formats a share 0..1 as a whole percent ("97%").
func pct(share float64) string { return strconv.Itoa(int(math.Round(share*100))) + "%" }

// pctv formats a percent value ("19%").
func pctv(p float64) string { return strconv.Itoa(int(math.Round(p))) + "%" }

// num formats a count or rate with thousands separators ("3,028").
func num(v float64) string {
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// mib formats bytes in MiB with one decimal below 10 MiB ("3.5 MiB",
// "128 MiB"), in KiB below 1 MiB, in GiB above 10 GiB.
func mib(b float64) string {
	switch {
	case b < 0:
		return "-" + mib(-b)
	case b < 1<<20:
		return strconv.Itoa(int(math.Round(b/1024))) + " KiB"
	case b < 10<<20:
		return f1(b/(1<<20)) + " MiB"
	case b < 10<<30:
		return num(b/(1<<20)) + " MiB"
	}
	return f1(b/(1<<30)) + " GiB"
}

// dur formats a duration in the most readable unit ("119 ms", "4.2 µs").
func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + " s"
	case d >= time.Second:
		return f1(d.Seconds()) + " s"
	case d >= 10*time.Millisecond:
		return strconv.Itoa(int(d.Round(time.Millisecond)/time.Millisecond)) + " ms"
	case d >= time.Millisecond:
		return f1(float64(d)/1e6) + " ms"
	case d >= 10*time.Microsecond:
		return strconv.Itoa(int(d.Round(time.Microsecond)/time.Microsecond)) + " µs"
	}
	return f1(float64(d)/1e3) + " µs"
}

// plural returns "1 thread" or "3 threads".
// plural is a count and its noun, which agree, as lifecycle.CountOf
// (which explain may not import: fixtures/rules), but with the count's
// thousands separated as every number of a finding is (num).
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return num(float64(n)) + " " + many
}

// src builds a per-process source path ("/proc/42/io").
func src(pid int, file string) string { return fmt.Sprintf("/proc/%d/%s", pid, file) }
