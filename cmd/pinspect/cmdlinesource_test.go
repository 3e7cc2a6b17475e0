package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestCmdlineSourceInJSON: `pinspect --json` says where the command lines
// came from. With the task iterator on a machine of 500 processes or more
// the summary's cmdline_source is task_iter (or, when the cmdline program
// could not be used, collector_note says why and cmdline_source is
// absent), and a live process's cmdline is the bytes of its
// /proc/PID/cmdline; with the /proc backend the field is absent.
func TestCmdlineSourceInJSON(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the task iterator reads every process")
	}
	h := livehelper.Start(t, "comm", "cmdsrc")
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(h.PID()) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")

	type doc struct {
		Summary   map[string]json.RawMessage `json:"summary"`
		Processes []struct {
			PID     int      `json:"pid"`
			Cmdline []string `json:"cmdline"`
		} `json:"processes"`
	}
	scan := func(backend string) (doc, bool) {
		var out, errb bytes.Buffer
		if code := run([]string{"--json", "--no-threads", "--collector", backend}, &out, &errb); code != exitOK {
			if backend == "task_iter" && strings.Contains(errb.String(), "task iterator") {
				return doc{}, false
			}
			t.Fatalf("--json --collector %s: exit %d: %s", backend, code, errb.String())
		}
		var d doc
		if err := json.Unmarshal(out.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Processes {
			if p.PID == h.PID() && !slices.Equal(p.Cmdline, want) {
				t.Errorf("--collector %s: pid %d's cmdline %q, /proc has %q", backend, p.PID, p.Cmdline, want)
			}
		}
		return d, true
	}

	// The cmdline program loads on a machine of 500 processes or more
	// (below, /proc reads are cheaper, and nothing is said): make sure
	// there are, with sleeping processes of this test's own.
	need := 600
	if ents, err := os.ReadDir("/proc"); err == nil {
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err == nil {
				need--
			}
		}
	}
	var sleepers []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range sleepers {
			c.Process.Kill()
			c.Wait()
		}
	})
	for range max(need, 0) {
		c := exec.Command("sleep", "600")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		sleepers = append(sleepers, c)
	}

	if d, ok := scan("task_iter"); !ok {
		t.Log("the task iterator is not available here: only the /proc case is checked")
	} else {
		src, hasSrc := d.Summary["cmdline_source"]
		note := string(d.Summary["collector_note"])
		switch {
		case string(d.Summary["collector"]) != `"task_iter"`:
			t.Errorf("--collector task_iter: summary collector %s", d.Summary["collector"])
		case note == "" && string(src) != `"task_iter"`:
			t.Errorf("--collector task_iter with no collector_note: cmdline_source %s, want \"task_iter\"", src)
		case note != "" && hasSrc:
			t.Errorf("cmdline_source %s beside collector_note %s (the program was not used)", src, note)
		}
	}
	d, _ := scan("proc")
	if src, ok := d.Summary["cmdline_source"]; ok {
		t.Errorf("--collector proc: cmdline_source %s, want the field absent (every cmdline came from /proc)", src)
	}
}
