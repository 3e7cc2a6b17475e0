package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// brokenTree copies fixtures/proc/multithread (process 100, threads
// 100-102) to a temporary directory and lets break change it.
func brokenTree(t *testing.T, brk func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fp")
	if out, err := exec.Command("cp", "-a", "../../fixtures/proc/multithread", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	brk(dir)
	return dir
}

// explainTree runs `explain --json 100` under root and returns its exit
// code, document (nil unless it exited 0) and stderr.
func explainTree(t *testing.T, root string) (int, *explainDoc, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run([]string{"explain", "--proc-root", root, "--window", "200ms", "--interval", "50ms", "--json", "100"}, &out, &errb)
	if code != exitOK {
		return code, nil, errb.String()
	}
	var d explainDoc
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return code, &d, errb.String()
}

// unmeasured is the document's unmeasured lines, one a line.
func (d *explainDoc) unmeasured() string {
	var b strings.Builder
	for _, u := range d.Unmeasured {
		b.WriteString(u.What + ": " + u.Why + "\n")
	}
	return b.String()
}

// TestExplainProcRootBroken (tester12 B5): a --proc-root tree with a file
// left out or garbled names the file read under that root, never "no
// such process", never a share of thread samples made of none, and never
// /proc/... for a file read elsewhere.
func TestExplainProcRootBroken(t *testing.T) {
	rm := func(name string) func(string) {
		return func(dir string) {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	garble := func(dir string) {
		for _, tid := range []string{"100", "101", "102"} {
			if err := os.WriteFile(filepath.Join(dir, "100/task", tid, "stat"), []byte("junk\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("no PID/stat", func(t *testing.T) {
		dir := brokenTree(t, rm("100/stat"))
		code, _, stderr := explainTree(t, dir)
		if code != exitError || !strings.Contains(stderr, dir+"/100/stat") || strings.Contains(stderr, "no such process") {
			t.Errorf("exit %d, stderr %q: want exit %d naming %s/100/stat", code, stderr, exitError, dir)
		}
	})
	t.Run("no PID/task", func(t *testing.T) {
		dir := brokenTree(t, rm("100/task"))
		code, d, stderr := explainTree(t, dir)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if um := d.unmeasured(); !strings.Contains(um, dir+"/100/task") {
			t.Errorf("unmeasured does not name %s/100/task:\n%s", dir, um)
		}
	})
	t.Run("garbage task/TID/stat", func(t *testing.T) {
		dir := brokenTree(t, garble)
		code, d, stderr := explainTree(t, dir)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if um := d.unmeasured(); !strings.Contains(um, dir+"/100/task/10") || !strings.Contains(um, "malformed stat") {
			t.Errorf("unmeasured does not name the thread stat that did not parse:\n%s", um)
		}
		for _, f := range d.Findings {
			for _, e := range f.Evidence {
				if strings.Contains(e.Text, "of thread samples") {
					t.Errorf("%s: %q from no thread sample", f.ID, e.Text)
				}
			}
		}
	})
	t.Run("no loadavg", func(t *testing.T) {
		dir := brokenTree(t, rm("loadavg"))
		code, d, stderr := explainTree(t, dir)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if um := d.unmeasured(); !strings.Contains(um, dir+"/loadavg") {
			t.Errorf("unmeasured does not name %s/loadavg:\n%s", dir, um)
		}
	})
	t.Run("sources under the root", func(t *testing.T) {
		dir := brokenTree(t, func(string) {})
		code, d, stderr := explainTree(t, dir)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		n := 0
		for _, f := range d.Findings {
			for _, e := range f.Evidence {
				if strings.Contains(e.Source, "/proc/") {
					t.Errorf("%s: source %q, read under %s", f.ID, e.Source, dir)
				}
				if strings.Contains(e.Source, dir+"/100/") {
					n++
				}
			}
		}
		for _, u := range d.Unmeasured {
			if strings.Contains(u.What, "/proc/") {
				t.Errorf("unmeasured %q, read under %s", u.What, dir)
			}
		}
		if n == 0 {
			t.Errorf("no source names %s/100/: %+v", dir, d.Findings)
		}
	})
}

// TestShowProcRootGarbledStat (tester12 B5): `show` of a process whose
// stat does not parse names what it could not read and where, instead of
// an empty name ("Process 100  ").
func TestShowProcRootGarbledStat(t *testing.T) {
	dir := brokenTree(t, func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "100/stat"), []byte("junk\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	var out, errb bytes.Buffer
	if code := run([]string{"show", "--proc-root", dir, "100"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if want := "Process 100  (name not read: " + dir + "/100/stat: malformed stat"; !strings.HasPrefix(first, want) {
		t.Errorf("first line %q, want it to start %q", first, want)
	}
}

// TestShowUnavailableNamesPath: show's "layout unavailable" line and its
// Unavailable list gave the reason without the file ("stat: malformed
// stat: no (comm)"); they name the path read, under --proc-root too:
// the process's own stat for the layout, and a live thread's
// smaps_rollup for the memory of a process whose main thread exited.
// The JSON keeps the reason relative to the process.
func TestShowUnavailableNamesPath(t *testing.T) {
	show := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append([]string{"show"}, args...), &out, &errb); code != exitOK {
			t.Fatalf("show %v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	dir := brokenTree(t, func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "100/stat"), []byte("junk\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	text := show("--proc-root", dir, "100")
	for _, want := range []string{
		"  layout    unavailable: " + dir + "/100/stat: malformed stat",
		"  layout   " + dir + "/100/stat: malformed stat",
		// The tree has no smaps (show reads it by default): the mappings,
		// the memory and each thread's stack name it (they said "not
		// present" alone).
		"  maps     " + dir + "/100/smaps: not present",
		"  memory   " + dir + "/100/smaps: not present",
		"  unknown: " + dir + "/100/smaps: not present\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	var d struct {
		Unavailable map[string]string `json:"unavailable"`
	}
	if err := json.Unmarshal([]byte(show("--proc-root", dir, "--json", "100")), &d); err != nil {
		t.Fatal(err)
	}
	if r := d.Unavailable["layout"]; !strings.HasPrefix(r, "stat: malformed stat") {
		t.Errorf("JSON unavailable.layout %q, want the reason relative to the process", r)
	}
	if r := d.Unavailable["maps"]; r != "not present" {
		t.Errorf("JSON unavailable.maps %q, want the reason alone", r)
	}
	if text := show("--proc-root", dir, "--smaps=false", "100"); !strings.Contains(text, "  maps     "+dir+"/100/maps: not present") {
		t.Errorf("--smaps=false: no %q in:\n%s", "  maps     "+dir+"/100/maps: not present", text)
	}

	le := filepath.Join(t.TempDir(), "le")
	if err := os.CopyFS(le, os.DirFS(fixtureRoot+"leader-exited")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(le, "14203/task/14205/smaps_rollup")); err != nil {
		t.Fatal(err)
	}
	text = show("--proc-root", le, "--smaps=false", "14203")
	if want := "  memory    unavailable: " + le + "/14203/task/14205/smaps_rollup: not found"; !strings.Contains(text, want) {
		t.Errorf("no %q in:\n%s", want, text)
	}
}

// zeroCPUs matches a CPU count of 0 said as a count.
var zeroCPUs = regexp.MustCompile(`(^|[ ,(])0 CPUs|of 0\b`)

// TestExplainProcRootNoCPUInfo (tester13 B1): a --proc-root tree without
// cpuinfo has no CPU count. The machine-wide --json was not written
// (json: unsupported value: NaN, exit 3) and the text said "0 CPUs" and
// "The CPUs are busy (0.00 of 0)". The count is absent, named under
// unmeasured, and no finding divides by it; a tree without
// /proc/pressure says "not present", not "vanished".
func TestExplainProcRootNoCPUInfo(t *testing.T) {
	dir := brokenTree(t, func(dir string) {
		if err := os.Remove(filepath.Join(dir, "cpuinfo")); err != nil {
			t.Fatal(err)
		}
	})
	for _, args := range [][]string{{}, {"100"}} {
		base := append([]string{"explain", "--proc-root", dir, "--window", "200ms", "--interval", "50ms"}, args...)
		var out, errb bytes.Buffer
		if code := run(append(base, "--json"), &out, &errb); code != exitOK {
			t.Fatalf("%v --json: exit %d: %s", args, code, errb.String())
		}
		var raw map[string]json.RawMessage
		var d explainDoc
		if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
			t.Fatalf("%v: %v: %q", args, err, out.String())
		}
		_ = json.Unmarshal(out.Bytes(), &d)
		var m map[string]any
		_ = json.Unmarshal(raw["machine"], &m)
		if v, ok := m["cpus"]; ok {
			t.Errorf("%v: machine.cpus %v, want absent", args, v)
		}
		um := d.unmeasured()
		if !strings.Contains(um, "not present") || !strings.Contains(um, "cpu") {
			t.Errorf("%v: unmeasured does not name the CPU count:\n%s", args, um)
		}
		if strings.Contains(um, "vanished") {
			t.Errorf("%v: a file never there said as vanished:\n%s", args, um)
		}
		for _, f := range d.Findings {
			if f.ID == "machine_cpu_busy" || f.ID == "machine_cpu_contended" || f.ID == "machine_cpu_room" || f.ID == "pool_oversubscribed" {
				t.Errorf("%v: %s without a CPU count: %s", args, f.ID, f.Verdict)
			}
			if zeroCPUs.MatchString(f.Verdict) {
				t.Errorf("%v: %s: %q", args, f.ID, f.Verdict)
			}
		}
		out.Reset()
		errb.Reset()
		if code := run(base, &out, &errb); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		if s := out.String(); zeroCPUs.MatchString(s) || !strings.Contains(s, "CPU count not known") {
			t.Errorf("%v: text says a count of 0 or not that it is unknown:\n%s", args, s)
		}
	}
}

// rawGap is a "Not measured" line (the sample's or a finding's) that
// names its source by a bare Unavailable key instead of its name.
var rawGap = regexp.MustCompile(`(?m)^(  - |  not measured: )(cpus|pressure(/\w+)?|syscall|wchan|io|fd|smaps|schedstat|cgroup|task|threads|runtime|host/\w+):`)

// TestExplainMachineGapsNamed: the machine's "Not measured" list named
// its sources by their raw keys ("- cpus: not present", "- pressure/io:
// not present") where the rest of explain's text names them ("the CPU
// count (/proc/cpuinfo)"). The text names each, with its path under the
// root; the JSON keeps the stable key in "key" beside the name.
func TestExplainMachineGapsNamed(t *testing.T) {
	dir := brokenTree(t, func(dir string) {
		if err := os.Remove(filepath.Join(dir, "cpuinfo")); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(filepath.Join(dir, "pressure")); err == nil {
		t.Fatal("the fixture tree has pressure files: this test wants none")
	}
	for _, args := range [][]string{{}, {"100"}} {
		base := append([]string{"explain", "--proc-root", dir, "--window", "200ms", "--interval", "50ms"}, args...)
		var out, errb bytes.Buffer
		if code := run(base, &out, &errb); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		text := out.String()
		for _, want := range []string{
			"  - the CPU count (" + dir + "/cpuinfo): not present\n",
			"  - I/O pressure stall information (" + dir + "/pressure/io): not present\n",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%v: no %q in:\n%s", args, want, text)
			}
		}
		if m := rawGap.FindString(text); m != "" {
			t.Errorf("%v: a source named by its key: %q in:\n%s", args, m, text)
		}
		out.Reset()
		errb.Reset()
		if code := run(append(base, "--json"), &out, &errb); code != exitOK {
			t.Fatalf("%v --json: exit %d: %s", args, code, errb.String())
		}
		var d explainDoc
		if err := json.Unmarshal(out.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, u := range d.Unmeasured {
			got[u.Key] = u.What
		}
		if got["cpus"] != "the CPU count ("+dir+"/cpuinfo)" || got["pressure/io"] != "I/O pressure stall information ("+dir+"/pressure/io)" {
			t.Errorf("%v: unmeasured by key %q; want cpus and pressure/io with their names", args, got)
		}
	}
}

// TestExplainProcRootOneThreadUnread (tester13 B2): with thread 102's
// stat garbled, the threads read are 100 (S) and 101 (R): one R of two
// read is no majority, and "most of its threads were R ... of 3
// threads" was claimed from it. The intact tree (S R S) has no such
// finding either.
func TestExplainProcRootOneThreadUnread(t *testing.T) {
	for name, brk := range map[string]func(string){
		"intact": func(string) {},
		"102 garbled": func(dir string) {
			if err := os.WriteFile(filepath.Join(dir, "100/task/102/stat"), []byte("garbage\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	} {
		dir := brokenTree(t, brk)
		code, d, stderr := explainTree(t, dir)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		for _, f := range d.Findings {
			if f.ID == "state_hides_threads" {
				t.Errorf("%s: %s: %q", name, f.ID, f.Verdict)
			}
		}
	}
}
