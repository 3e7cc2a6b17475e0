package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// runInProcess runs the command in-process and returns stdout, stderr and the
// exit code.
func runInProcess(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

const fixtureRoot = "../../fixtures/proc/"

func TestJSONOnFixture(t *testing.T) {
	out, errs, code := runInProcess(t, "--json", "--proc-root", fixtureRoot+"multithread")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var doc struct {
		Schema  string `json:"schema"`
		Summary struct {
			Processes int `json:"processes"`
			Threads   int `json:"threads"`
		} `json:"summary"`
		Processes []struct {
			PID     int              `json:"pid"`
			Threads []map[string]any `json:"threads"`
			Vol     uint64           `json:"voluntary_ctxt_switches"`
		} `json:"processes"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "pinspect.snapshot/v1" || doc.Summary.Processes != 2 || doc.Summary.Threads != 4 {
		t.Fatalf("doc %+v", doc)
	}
	if p := doc.Processes[1]; p.PID != 100 || len(p.Threads) != 3 || p.Vol != 2403 {
		t.Errorf("pid 100: %+v", p)
	}
	out, _, _ = runInProcess(t, "--json", "--no-threads", "--proc-root", fixtureRoot+"multithread")
	if strings.Contains(out, `"threads": [`) {
		t.Error("--no-threads still lists threads")
	}
}

func TestPSOnFixture(t *testing.T) {
	out, errs, code := runInProcess(t, "ps", "--proc-root", fixtureRoot+"zombie", "--state", "Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(strings.TrimSpace(lines[0]), "PID PPID USER") ||
		!strings.Contains(lines[1], "child <defunct>") || !strings.Contains(lines[3], "2 processes") {
		t.Fatalf("ps output:\n%s", out)
	}
	out, _, code = runInProcess(t, "ps", "--json", "--proc-root", fixtureRoot+"multithread", "--user", "1000")
	var doc struct {
		Schema    string           `json:"schema"`
		Processes []map[string]any `json:"processes"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc.Schema != "pinspect.ps/v1" || len(doc.Processes) != 1 {
		t.Fatalf("ps --json (%d): %s", code, out)
	}
	// Not a terminal: one compact line, as every --json writes to a pipe.
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("ps --json on a pipe: %d lines, want 1", n)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--state", "Q", "ps"},
		{"--bogus"},
		{"ps", "extra"},
		{"--pid", "-3", "ps"},
		{"--pid", "0", "--json"},
		{"--interval", "-1s"}, // checked whatever the output is, not only on a terminal
		{"--interval", "0s", "--json"},
		{"--user", "no-such-user-xyz", "ps"}, // as ps -u: a name no process can have
	} {
		if _, errs, code := runInProcess(t, args...); code != exitUsage || !strings.HasPrefix(errs, "pinspect: ") {
			t.Errorf("%v: exit %d stderr %q, want %d", args, code, errs, exitUsage)
		}
	}
	out, errs, code := runInProcess(t, "--json", "--proc-root", fixtureRoot+"zombie", "--pid", "4242")
	if code != exitNoMatch || errs != "" || !strings.Contains(out, `"processes":[]`) {
		t.Errorf("unknown pid: exit %d %q %q", code, errs, out)
	}
	_, errs, code = runInProcess(t, "ps", "--proc-root", "/nonexistent")
	if code != exitError || !strings.Contains(errs, "/nonexistent") {
		t.Errorf("bad root: exit %d %q", code, errs)
	}
}

// TestJSONPidThreads: with --pid, only the chosen process's threads are
// read (the scan's Scope), and the document says what a full thread read
// says: threads_read, thread_sum totals, the same process entry.
func TestJSONPidThreads(t *testing.T) {
	type doc struct {
		Summary struct {
			ThreadsRead bool   `json:"threads_read"`
			Source      string `json:"ctxt_switches_source"`
		} `json:"summary"`
		Processes []map[string]json.RawMessage `json:"processes"`
	}
	read := func(args ...string) doc {
		t.Helper()
		out, errs, code := runInProcess(t, append([]string{"--json", "--proc-root", fixtureRoot + "multithread"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		var d doc
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	full := read()
	var pid string
	var want json.RawMessage
	for _, p := range full.Processes {
		if _, ok := p["threads"]; ok {
			pid, want = string(p["pid"]), p["threads"]
			break
		}
	}
	if pid == "" {
		t.Fatal("no process with threads in the fixture")
	}
	one := read("--pid", pid)
	if !one.Summary.ThreadsRead || one.Summary.Source != full.Summary.Source || one.Summary.Source == "leader_only" {
		t.Errorf("--pid %s: threads_read %v, source %q; full read: %v, %q", pid, one.Summary.ThreadsRead, one.Summary.Source,
			full.Summary.ThreadsRead, full.Summary.Source)
	}
	if len(one.Processes) != 1 || string(one.Processes[0]["threads"]) != string(want) {
		t.Errorf("--pid %s: processes %d, threads %s; want %s", pid, len(one.Processes), one.Processes[0]["threads"], want)
	}
}
