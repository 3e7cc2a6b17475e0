package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
	startSleepers(t, max(need, 0))

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

// startSleepers starts n sleeping processes of this test's own, killed
// at its end, and with the test binary should it die first (SIGKILL as
// their parent-death signal: the cleanup of a binary that dies does not
// run, and they slept on for 10 minutes).
func startSleepers(t *testing.T, n int) []*exec.Cmd {
	t.Helper()
	var sleepers []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range sleepers {
			c.Process.Kill()
			c.Wait()
		}
	})
	for range n {
		c := exec.Command("sleep", "600")
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := livehelper.StartSteady(c); err != nil {
			t.Fatal(err)
		}
		sleepers = append(sleepers, c)
	}
	return sleepers
}

// sleepersChildEnv makes the test binary a parent of sleepers for
// TestSleepersDieWithTheTest.
const sleepersChildEnv = "PINSPECT_SLEEPERS_CHILD"

// TestSleepersDieWithTheTest: the sleepers startSleepers starts die
// when the test binary is killed (TestCmdlineSourceInJSON's hundreds of
// sleepers stayed for 10 minutes when it died). A child test binary
// starts three, prints their pids and start times, and is killed.
func TestSleepersDieWithTheTest(t *testing.T) {
	if os.Getenv(sleepersChildEnv) != "" {
		for _, c := range startSleepers(t, 3) {
			fmt.Println("sleeper", c.Process.Pid, startTicks(c.Process.Pid))
		}
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSleepersDieWithTheTest$", "-test.count=1")
	cmd.Env = append(os.Environ(), sleepersChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type sleeper struct {
		pid   int
		start string
	}
	var sleepers []sleeper
	// Whatever happens, no sleeper of this test stays (a pid is killed
	// only while it is still the same process).
	t.Cleanup(func() {
		for _, s := range sleepers {
			if startTicks(s.pid) == s.start {
				syscall.Kill(s.pid, syscall.SIGKILL)
			}
		}
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "ready" {
		var s sleeper
		if _, err := fmt.Sscanf(sc.Text(), "sleeper %d %s", &s.pid, &s.start); err != nil {
			t.Fatalf("child: %q", sc.Text())
		}
		sleepers = append(sleepers, s)
	}
	if len(sleepers) != 3 {
		t.Fatalf("the child started %d sleepers, want 3", len(sleepers))
	}
	cmd.Process.Kill()
	cmd.Wait()
	for _, s := range sleepers {
		for end := time.Now().Add(time.Minute); startTicks(s.pid) == s.start; livehelper.Sleep() {
			if time.Now().After(end) {
				t.Errorf("sleeper %d still runs a minute after the test binary that started it was killed", s.pid)
				break
			}
		}
	}
}

// startTicks is field 22 of pid's stat while it is not a zombie, "" when
// it is one or is gone.
func startTicks(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" {
		return ""
	}
	return f[19]
}
