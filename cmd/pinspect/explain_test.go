package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// explainDoc is the part of pinspect.explain/v1 the tests read.
type explainDoc struct {
	Schema        string  `json:"schema"`
	WindowSeconds float64 `json:"window_seconds"`
	Samples       int     `json:"samples"`
	Process       *struct {
		PID     int    `json:"pid"`
		Comm    string `json:"comm"`
		Threads int    `json:"threads"`
	} `json:"process"`
	Examined []struct {
		PID int `json:"pid"`
	} `json:"examined"`
	Findings   []explainFinding                  `json:"findings"`
	Unmeasured []struct{ Key, What, Why string } `json:"unmeasured"`
}

// explainFinding is the part of a finding the tests read.
type explainFinding struct {
	ID       string `json:"id"`
	Question string `json:"question"`
	Severity string `json:"severity"`
	Verdict  string `json:"verdict"`
	Evidence []struct {
		Name   string   `json:"name"`
		Value  *float64 `json:"value"`
		Text   string   `json:"text"`
		Source string   `json:"source"`
	} `json:"evidence"`
	Try []string `json:"try"`
}

// TestExplainLive: `pinspect explain PID` on a real 8-thread CPU-bound
// pool finds it oversubscribed (from schedstat), in text with --teach and
// in the JSON document.
func TestExplainLive(t *testing.T) {
	p := livehelper.Start(t, "cpupool", "8")
	pid := strconv.Itoa(p.PID())
	var out, errb bytes.Buffer
	if code := run([]string{"explain", "--window", "1s", "--teach", pid}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	text := out.String()
	for _, want := range []string{"pinspect explain " + pid + " (procshape)", "Oversubscribed", "schedstat", "why:", "try:", "lesson:", "run queue"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	out.Reset()
	if code := run([]string{"explain", "--window", "1s", "--json", pid}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var d explainDoc
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Schema != "pinspect.explain/v1" || d.Process == nil || d.Process.PID != p.PID() || d.Process.Threads != 9 || d.Samples < 2 || d.WindowSeconds < 0.9 {
		t.Fatalf("doc %+v", d)
	}
	if len(d.Findings) == 0 || d.Findings[0].ID != "pool_oversubscribed" || d.Findings[0].Severity != "warning" {
		t.Fatalf("findings %+v", d.Findings)
	}
	for _, f := range d.Findings {
		for _, e := range f.Evidence {
			if e.Source == "" || e.Name == "" {
				t.Errorf("%s: evidence without source: %+v", f.ID, e)
			}
		}
	}
}

// TestExplainZombieChildren: `pinspect explain PARENT` on a real parent
// that never waits for its two exited children says it holds them, since
// when, and the remedy: wait(2) for them, or kill it so that init reaps
// them (it did not mention them). While they are younger than the
// diagnosis's minimum age the finding says they may still be reaped; the
// test waits until they are older.
func TestExplainZombieChildren(t *testing.T) {
	p := livehelper.Start(t, "zombies", "2")
	pid := strconv.Itoa(p.PID())
	var f *explainFinding
	var try []string
	deadline := time.Now().Add(2 * time.Minute)
	for f == nil || f.Severity != "warning" {
		if time.Now().After(deadline) {
			t.Fatalf("no zombie_children warning for parent %s within 2 minutes; last: %+v", pid, f)
		}
		var out, errb bytes.Buffer
		if code := run([]string{"explain", "--window", "300ms", "--interval", "50ms", "--json", pid}, &out, &errb); code != exitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var d struct {
			Findings []struct {
				explainFinding
				Try []string `json:"try"`
			} `json:"findings"`
		}
		if err := json.Unmarshal(out.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		f = nil
		for i := range d.Findings {
			if d.Findings[i].ID == "zombie_children" {
				f, try = &d.Findings[i].explainFinding, d.Findings[i].Try
			}
		}
		if f == nil {
			t.Fatalf("explain %s: no zombie_children finding: %s", pid, out.String())
		}
		if f.Question != "zombies" || !strings.Contains(f.Verdict, "It holds 2 zombie children ("+strconv.Itoa(p.PIDs[1])+", "+strconv.Itoa(p.PIDs[2])+")") {
			t.Fatalf("zombie finding %+v", f)
		}
	}
	if !strings.Contains(f.Verdict, "has not collected their exit status with wait(2); the oldest has been one since ") {
		t.Errorf("verdict %q does not say since when", f.Verdict)
	}
	names := map[string]bool{}
	for _, e := range f.Evidence {
		names[e.Name] = true
		if e.Name == "zombie_children" && (e.Value == nil || *e.Value != 2) {
			t.Errorf("zombie_children evidence %+v, want 2", e)
		}
	}
	for _, n := range []string{"zombie_children", "zombie_exit_status", "oldest_zombie_first_seen", "sigchld", "zombie_diagnosis"} {
		if !names[n] {
			t.Errorf("evidence %s missing: %+v", n, f.Evidence)
		}
	}
	if all := strings.Join(try, " "); !strings.Contains(all, "waitpid") || !strings.Contains(all, "hands them to init") {
		t.Errorf("the remedy does not say to wait for them or that killing the parent lets init reap them: %q", try)
	}
	// The text form says the same.
	var out, errb bytes.Buffer
	if code := run([]string{"explain", "--window", "300ms", "--interval", "50ms", pid}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "WARNING  It holds 2 zombie children") {
		t.Errorf("text form:\n%s", out.String())
	}
}

// explainJSON runs `pinspect explain --json` on pid over a short window
// (window) and returns its findings by id.
func explainJSON(t *testing.T, pid int, window string) map[string]explainFinding {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"explain", "--window", window, "--interval", "50ms", "--json", strconv.Itoa(pid)}, &out, &errb); code != exitOK {
		t.Fatalf("explain %d: exit %d: %s", pid, code, errb.String())
	}
	var d explainDoc
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	byID := map[string]explainFinding{}
	for _, f := range d.Findings {
		byID[f.ID] = f
	}
	return byID
}

// TestExplainZombie: `pinspect explain ZOMBIE` on a real zombie (a child
// of the test's own helper, which never waits) says it is a zombie, its
// exit status, which parent holds it and since when, and the remedy; not
// that it is "mostly idle" (it said only that: tester). The zombie's
// parent's diagnosis says how long pinspect saw the zombie, not that it
// has been one that long (it said "1 zombie child for 1s": tester).
func TestExplainZombie(t *testing.T) {
	p := livehelper.Start(t, "zombies", "1")
	parent, zpid := p.PID(), p.PIDs[1]
	var f explainFinding
	var byID map[string]explainFinding
	for deadline := time.Now().Add(2 * time.Minute); f.Severity != "warning"; {
		if time.Now().After(deadline) {
			t.Fatalf("no zombie warning for %d within 2 minutes; last: %+v", zpid, byID)
		}
		byID = explainJSON(t, zpid, "300ms")
		var ok bool
		if f, ok = byID["zombie"]; !ok {
			t.Fatalf("explain %d (a zombie): no zombie finding: %+v", zpid, byID)
		}
	}
	for _, want := range []string{"It is a zombie", "exit 1", fmt.Sprintf("its parent, pid %d (procshape), has not collected", parent), "since "} {
		if !strings.Contains(f.Verdict, want) {
			t.Errorf("verdict lacks %q: %q", want, f.Verdict)
		}
	}
	if f.Question != "zombies" || len(byID) != 1 {
		t.Errorf("a zombie's findings should be the zombie alone: %+v", byID)
	}
	names := map[string]string{}
	for _, e := range f.Evidence {
		names[e.Name] = e.Text
	}
	for _, n := range []string{"process_state", "exit_status", "parent_pid", "zombie_first_seen", "parent_sigchld", "zombie_diagnosis"} {
		if _, ok := names[n]; !ok {
			t.Errorf("evidence %s missing: %+v", n, f.Evidence)
		}
	}
	// Over a window of more than a second, the parent's diagnosis says
	// for how long the zombie was seen.
	var d string
	for _, e := range explainJSON(t, zpid, "1200ms")["zombie"].Evidence {
		if e.Name == "zombie_diagnosis" {
			d = e.Text
		}
	}
	if !regexp.MustCompile(`1 zombie child \(first seen \d+s ago\)`).MatchString(d) { // 1s, or more on a loaded machine
		t.Errorf("the diagnosis does not say how long the zombie was seen: %q", d)
	}
	if all := strings.Join(f.Try, " "); !strings.Contains(all, "waitpid") || !strings.Contains(all, "to init") || !strings.Contains(all, fmt.Sprintf("pinspect explain %d", parent)) {
		t.Errorf("the remedy does not say the parent must wait for it or that killing the parent lets init reap it: %q", f.Try)
	}
}

// TestExplainLeaderExited: `pinspect explain PID` of a real process whose
// main thread called pthread_exit while its other thread runs says so,
// and leaves the dead main thread out of the sampled thread states (its
// one live thread always sleeps in sigtimedwait: asleep in every sample,
// not half of them: tester).
func TestExplainLeaderExited(t *testing.T) {
	p := livehelper.Start(t, "leaderexit")
	stat := "/proc/" + strconv.Itoa(p.PID()) + "/stat"
	for deadline := time.Now().Add(20 * time.Second); ; livehelper.Sleep() {
		b, err := os.ReadFile(stat)
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 17 && f[0] == "Z" && f[17] == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper's main thread did not exit within 20s: %s", b)
		}
	}
	byID := explainJSON(t, p.PID(), "300ms")
	f, ok := byID["leader_exited"]
	if !ok {
		t.Fatalf("no leader_exited finding: %+v", byID)
	}
	if f.Question != "state" || !strings.Contains(f.Verdict, "main thread has exited while 1 other thread still runs") || !strings.Contains(f.Verdict, "Z") {
		t.Errorf("leader_exited %+v", f)
	}
	if _, ok := byID["zombie"]; ok {
		t.Errorf("a process whose main thread exited is not a zombie: %+v", byID["zombie"])
	}
	w, ok := byID["waits"]
	if !ok {
		t.Fatalf("no waits finding: %+v", byID)
	}
	for _, e := range w.Evidence {
		if e.Name == "asleep_share" && (e.Value == nil || *e.Value != 1) {
			t.Errorf("asleep share %v: the exited main thread was counted (%s)", e.Value, e.Text)
		}
	}
}

// TestExplainHostileComm: a process named with escape sequences is shown
// inertly.
func TestExplainHostileComm(t *testing.T) {
	p := livehelper.Start(t, "comm", "\x1b]0;pwn\x07x")
	var out, errb bytes.Buffer
	if code := run([]string{"explain", "--window", "300ms", "--interval", "50ms", strconv.Itoa(p.PID())}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if strings.ContainsAny(out.String(), "\x1b\x07") {
		t.Errorf("control characters reached the terminal: %q", out.String())
	}
}

// TestExplainFixture: explaining a process of a fixture tree (files that
// do not change, no schedstat, no io) gives what can be said and names
// what could not be measured; nothing is made up as 0.
func TestExplainFixture(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"explain", "--proc-root", "../../fixtures/proc/multithread", "--window", "200ms", "--interval", "50ms", "--json", "100"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var d explainDoc
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Process == nil || d.Process.PID != 100 || len(d.Unmeasured) == 0 {
		t.Fatalf("doc %+v", d)
	}
	for _, f := range d.Findings {
		if f.Question == "pool" || strings.Contains(f.Verdict, "run queue") {
			t.Errorf("run-queue finding without schedstat: %+v", f)
		}
	}
}

// TestExplainMachine: without a PID, the machine's findings, worst first,
// with the machine's own finding among them.
func TestExplainMachine(t *testing.T) {
	livehelper.Start(t, "cpupool", "8")
	var out, errb bytes.Buffer
	if code := run([]string{"explain", "--window", "1s", "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var d explainDoc
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Process != nil || len(d.Examined) == 0 {
		t.Fatalf("doc %+v", d)
	}
	machine := false
	rank := map[string]int{"warning": 2, "notice": 1, "info": 0}
	for i, f := range d.Findings {
		machine = machine || f.Question == "machine"
		if i > 0 && rank[f.Severity] > rank[d.Findings[i-1].Severity] {
			t.Errorf("not worst first at %d: %s after %s", i, f.Severity, d.Findings[i-1].Severity)
		}
	}
	if !machine {
		t.Errorf("no machine finding: %+v", d.Findings)
	}
	out.Reset()
	if code := run([]string{"explain", "--window", "400ms", "--top", "2"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if n := strings.Count(out.String(), "\nWARNING  ") + strings.Count(out.String(), "\nNOTICE  ") + strings.Count(out.String(), "\nINFO  "); n > 2 {
		t.Errorf("--top 2 showed %d findings", n)
	}
}

// TestExplainBadInput: bad arguments are usage errors (exit 2); a pid
// that does not exist is an error (exit 1) with a clear message.
func TestExplainBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"explain", "abc"}, exitUsage, "not a pid"},
		{[]string{"explain", "-5"}, exitUsage, ""},
		{[]string{"explain", "1", "2"}, exitUsage, "at most one PID"},
		{[]string{"explain", "--window", "0s", "1"}, exitUsage, "--window"},
		{[]string{"explain", "--window", "1h", "1"}, exitUsage, "--window"},
		{[]string{"explain", "--interval", "2s", "1"}, exitUsage, "--interval"},
		{[]string{"explain", "--interval", "1ms", "1"}, exitUsage, "--interval"},
		{[]string{"explain", "--min-severity", "loud", "1"}, exitUsage, "--min-severity"},
		{[]string{"explain", "--top", "-1"}, exitUsage, "--top"},
		{[]string{"explain", "--candidates", "0"}, exitUsage, "--candidates"},
		{[]string{"explain", "--pid", "1"}, exitUsage, "--pid does not apply to pinspect explain (it takes no process filter)"},
		{[]string{"explain", "--window", "200ms", "--interval", "50ms", "4194303"}, exitNoMatch, "no such process: 4194303"},
		{[]string{"explain", "--proc-root", "/nonexistent", "1"}, exitError, "nonexistent"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: exit %d (%q), want %d with %q", c.args, code, errb.String(), c.code, c.msg)
		}
	}
}

// TestServeExplain: serve's /api/v1/explain/{pid} gives the findings of a
// real pool, sampled as an unprivileged reader would: no system calls,
// wait channels, io, maps or executable, each said withheld.
func TestServeExplain(t *testing.T) {
	p := livehelper.Start(t, "cpupool", "8")
	base := startServe(t, buildPinspect(t), "--listen", freePort(t))
	resp, err := http.Get(base + "api/v1/explain/" + strconv.Itoa(p.PID()) + "?window=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		explainDoc
		Process *struct {
			Exe string `json:"exe"`
		} `json:"process"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %v", resp.Status, err)
	}
	if d.Schema != "pinspect.explain/v1" || d.Process == nil || d.Process.Exe != "" {
		t.Fatalf("doc %+v", d)
	}
	withheld := 0
	for _, u := range d.Unmeasured {
		if strings.HasPrefix(u.Why, "withheld") {
			withheld++
		}
	}
	if withheld < 5 {
		t.Errorf("withheld sources %+v", d.Unmeasured)
	}
	found := false
	for _, f := range d.Findings {
		found = found || f.ID == "pool_oversubscribed"
		for _, e := range f.Evidence {
			if strings.Contains(e.Source, "syscall") || strings.Contains(e.Source, "wchan") || strings.Contains(e.Source, "/io") {
				t.Errorf("%s: evidence from a withheld source: %+v", f.ID, e)
			}
		}
	}
	if !found {
		t.Errorf("findings %+v", d.Findings)
	}
}
