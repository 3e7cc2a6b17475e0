package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// procState reads the kernel's state letter of pid (stat field 3).
func procState(t *testing.T, pid int) byte {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		t.Fatalf("stat of %d: %q", pid, b)
	}
	return b[i+2]
}

// waitProcState waits (generously) until pid is in state want.
func waitProcState(t *testing.T, pid int, want byte) {
	t.Helper()
	for end := time.Now().Add(time.Minute); procState(t, pid) != want; livehelper.Sleep() {
		if time.Now().After(end) {
			t.Fatalf("pid %d: state %c, want %c", pid, procState(t, pid), want)
		}
	}
}

// TestDashboardTagAndSignalEndToEnd: in the real dashboard, two tagged
// processes receive the signal chosen in the F9 menu (the kernel says
// so: STOP stops both, CONT continues both), the screen shows them
// stopped, and an untagged process next to them is left alone.
func TestDashboardTagAndSignalEndToEnd(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	tag := fmt.Sprintf("sg%d-", os.Getpid()%100000)
	ha := livehelper.Start(t, "comm", tag+"a")
	hb := livehelper.Start(t, "comm", tag+"b")
	hc := livehelper.Start(t, "comm", tag+"c") // shown, not tagged
	dir := t.TempDir()
	bin := buildPinspect(t)
	s := &tmuxSession{t: t, tmux: tmux, socket: filepath.Join(dir, "tmux.sock")}
	s.run("new-session", "-d", "-s", "e2e", "-x", "160", "-y", "45", "sh", "-c",
		"XDG_CONFIG_HOME="+dir+" "+bin+" --interval 1s; echo PINSPECT-EXITED $?; sleep 600")
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", s.socket, "kill-server").Run() })
	s.waitText("COMMAND")
	s.keys("F4")
	s.literal(tag)
	s.keys("Enter")
	s.waitFor("the three helpers alone", func(scr string) bool {
		return paneRow(scr, ha.PID()) != "" && paneRow(scr, hb.PID()) != "" && paneRow(scr, hc.PID()) != "" && strings.Contains(scr, "shown 3/")
	})
	// Tag the first two rows, whichever order the sort gave, and find
	// which helpers they are.
	s.keys("Space", "Space")
	scr := s.waitText("2 tagged")
	var tagged, untagged []int
	for _, h := range []*livehelper.Proc{ha, hb, hc} {
		if strings.Contains(paneRow(scr, h.PID()), " * ") {
			tagged = append(tagged, h.PID())
		} else {
			untagged = append(untagged, h.PID())
		}
	}
	if len(tagged) != 2 || len(untagged) != 1 {
		t.Fatalf("tagged %v, untagged %v:\n%s", tagged, untagged, scr)
	}
	// F9, STOP (the seventh signal).
	s.keys("F9")
	s.waitText("Send a signal to 2 tagged processes")
	s.keys("Down", "Down", "Down", "Down", "Down", "Down", "Enter")
	s.waitText("sent SIGSTOP to 2 processes")
	for _, pid := range tagged {
		waitProcState(t, pid, 'T')
	}
	if st := procState(t, untagged[0]); st == 'T' {
		t.Errorf("the untagged helper %d was stopped too", untagged[0])
	}
	s.waitFor("both rows stopped on screen", func(scr string) bool {
		for _, pid := range tagged {
			if f := strings.Fields(paneRow(scr, pid)); len(f) < 3 || f[2] != "T" {
				return false
			}
		}
		return true
	})
	// CONT (the eighth) to the same two, still tagged.
	s.keys("F9")
	s.waitText("Send a signal to 2 tagged processes")
	s.keys("Down", "Down", "Down", "Down", "Down", "Down", "Down", "Enter")
	s.waitText("sent SIGCONT to 2 processes")
	for _, pid := range tagged {
		waitProcState(t, pid, 'S')
	}
	s.keys("F10")
	s.waitText("PINSPECT-EXITED 0")
}

// meminfo reads /proc/meminfo's fields, in bytes.
func meminfo(t *testing.T) map[string]uint64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if n, err := strconv.ParseUint(f[0], 10, 64); err == nil {
			if len(f) > 1 && f[1] == "kB" {
				n *= 1024
			}
			out[k] = n
		}
	}
	return out
}

// TestDashboardMetersEndToEnd holds the meters of the real dashboard at
// 200x50 to what the kernel says: a bar per CPU, numbered as
// /proc/stat numbers them, each with a busy %; the Mem bar's total is
// MemTotal; the swap bar says "no swap" exactly when SwapTotal is 0,
// else its total; the header's CPU count agrees.
func TestDashboardMetersEndToEnd(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	bin := buildPinspect(t)
	s := &tmuxSession{t: t, tmux: tmux, socket: filepath.Join(dir, "tmux.sock")}
	s.run("new-session", "-d", "-s", "e2e", "-x", "200", "-y", "50", "sh", "-c",
		"XDG_CONFIG_HOME="+dir+" "+bin+" --readonly --interval 1s; echo PINSPECT-EXITED $?; sleep 600")
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", s.socket, "kill-server").Run() })

	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	var cpus []string
	for _, l := range strings.Split(string(stat), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "cpu") && f[0] != "cpu" {
			cpus = append(cpus, strings.TrimPrefix(f[0], "cpu"))
		}
	}
	cpuBar := regexp.MustCompile(`(?:^|\s)(\d+)\[[|\s]*?(\d+\.\d)%\]`)
	// The second frame has rates: the bars show a busy %.
	scr := s.waitFor("the per-CPU bars with their busy %", func(scr string) bool {
		return len(cpuBar.FindAllStringSubmatch(scr, -1)) >= min(len(cpus), 2) && strings.Contains(scr, "Mem[")
	})
	var shown []string
	for _, m := range cpuBar.FindAllStringSubmatch(scr, -1) {
		shown = append(shown, m[1])
		if v, _ := strconv.ParseFloat(m[2], 64); v < 0 || v > 100 {
			t.Errorf("CPU %s busy %s%%", m[1], m[2])
		}
	}
	if len(cpus) <= 32 && strings.Join(shown, ",") != strings.Join(cpus, ",") {
		t.Errorf("CPU bars %v, /proc/stat has %v:\n%s", shown, cpus, scr)
	}
	if !strings.Contains(scr, "CPUs "+strconv.Itoa(len(cpus))+" ") {
		t.Errorf("the header does not say CPUs %d:\n%s", len(cpus), scr)
	}
	mi := meminfo(t)
	if want := "/" + humanSize(mi["MemTotal"]) + "]"; !strings.Contains(scr, want) {
		t.Errorf("the Mem bar lacks the total %q (MemTotal %d):\n%s", want, mi["MemTotal"], scr)
	}
	if mi["SwapTotal"] == 0 {
		if !strings.Contains(scr, "no swap]") {
			t.Errorf("SwapTotal is 0 but the swap bar does not say no swap:\n%s", scr)
		}
	} else if want := "/" + humanSize(mi["SwapTotal"]) + "]"; !strings.Contains(scr, want) {
		t.Errorf("the Swp bar lacks the total %q:\n%s", want, scr)
	}
	s.keys("q")
	s.waitText("PINSPECT-EXITED 0")
}
