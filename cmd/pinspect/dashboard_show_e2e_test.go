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
	s := startTmux(t, tmux, filepath.Join(dir, "tmux.sock"), 160, 45, "XDG_CONFIG_HOME="+dir+" "+bin+" --interval 1s; echo PINSPECT-EXITED $?; sleep 600")
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
	s := startTmux(t, tmux, filepath.Join(dir, "tmux.sock"), 200, 50, "XDG_CONFIG_HOME="+dir+" "+bin+" --readonly --interval 1s; echo PINSPECT-EXITED $?; sleep 600")

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

// TestDashboardSetupRoundTrip drives F2 setup in the real dashboard as a
// user would: remove SHR, move TIME+ left, add PPID, switch the
// pressure meter off, change the sort, invert it, lengthen the interval,
// start in tree view with kernel threads hidden; closing saves the file.
// The next start, from that file alone, shows the same table: the same
// columns in the same order, the same sort, interval, tree and filter,
// no pressure meter.
func TestDashboardSetupRoundTrip(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	bin := buildPinspect(t)
	cfg := filepath.Join(dir, "config")
	session := func(name, args string) *tmuxSession {
		s := startTmux(t, tmux, filepath.Join(dir, name+".sock"), 200, 50, "XDG_CONFIG_HOME="+cfg+" "+bin+" --readonly"+args+"; echo PINSPECT-EXITED $?; sleep 600")
		return s
	}
	// view is what a screen says about the setup: the column headings,
	// the sort, interval, tree and kernel-thread state.
	type view struct{ columns, sort, interval string }
	headings := regexp.MustCompile(`(?m)^ *PID .*COMMAND$`)
	sortSeg := regexp.MustCompile(`sort (\S+)`)
	every := regexp.MustCompile(`every (\S+)`)
	treeSeg := regexp.MustCompile(`(?m)\stree(\s|$)`)
	read := func(scr string) view {
		return view{
			columns:  strings.Join(strings.Fields(headings.FindString(scr)), " "),
			sort:     sortSeg.FindStringSubmatch(scr + "sort ?")[1],
			interval: every.FindStringSubmatch(scr + "every ?")[1],
		}
	}

	s := session("first", " --interval 1s")
	s.waitFor("the dashboard", func(scr string) bool { return headings.MatchString(scr) && strings.Contains(scr, "every 1s") })
	s.keys("F2")
	s.waitText("Columns shown")
	s.keys("Down", "Down", "Down", "Down", "Down", "Down", "Delete")         // SHR
	s.keys("F7")                                                             // TIME+, now where SHR was, left of RES
	s.keys("Tab", "Enter")                                                   // PPID, the first available
	s.keys("Tab", "Down", "Down", "Down", "Down", "Enter")                   // meter Pressure off
	s.keys("Down", "Down", "Down", "Down", "Down", "Down", "Right", "Enter") // the next sort column, inverted
	s.keys("Down", "Right")                                                  // a longer interval
	s.keys("Down", "Enter", "Down", "Enter")                                 // tree view, hide kernel threads
	scr := s.waitFor("the setup changed", func(scr string) bool {
		return strings.Contains(scr, "[ ] meter Pressure") && strings.Contains(scr, "[x] tree view") &&
			strings.Contains(scr, "[x] hide kernel threads") && !strings.Contains(scr, "interval: 1s")
	})
	if strings.Contains(scr, "largest first") {
		t.Errorf("the sort was not inverted:\n%s", scr)
	}
	s.keys("Escape")
	scr = s.waitFor("the setup saved and the table redrawn", func(scr string) bool {
		return strings.Contains(scr, "setup saved to") && headings.MatchString(scr) && !strings.Contains(scr, "every 1s")
	})
	first := read(scr)
	cols := strings.Fields(first.columns)
	pos := func(c string) int {
		for i, f := range cols {
			if strings.TrimRight(f, "▲▼") == c {
				return i
			}
		}
		return -1
	}
	if pos("SHR") >= 0 || pos("PPID") < 0 || pos("TIME+") < 0 || pos("RES") < 0 || pos("TIME+") > pos("RES") || cols[len(cols)-1] != "COMMAND" {
		t.Errorf("columns after setup: %q", first.columns)
	}
	if !strings.HasSuffix(first.sort, "▲") || first.interval == "1s" || strings.Contains(scr, "PSI ") ||
		!treeSeg.MatchString(scr) || !strings.Contains(scr, "no kernel threads") {
		t.Errorf("setup not applied (sort %q, interval %q):\n%s", first.sort, first.interval, scr)
	}
	s.keys("q")
	s.waitText("PINSPECT-EXITED 0")

	// The next start reads it back (without --interval, which would
	// override the file's).
	s = session("second", "")
	scr = s.waitFor("the dashboard from the file", func(scr string) bool {
		return headings.MatchString(scr) && strings.Contains(scr, "every ") && strings.Contains(scr, "tasks ")
	})
	if second := read(scr); second != first {
		t.Errorf("after a restart: %+v, before it: %+v\n%s", second, first, scr)
	}
	if strings.Contains(scr, "PSI ") || !treeSeg.MatchString(scr) || !strings.Contains(scr, "no kernel threads") {
		t.Errorf("the restart lost the meters, the tree or the kernel-thread filter:\n%s", scr)
	}
	s.keys("q")
	s.waitText("PINSPECT-EXITED 0")
}

// procNice reads the kernel's nice value of pid (stat field 19).
func procNice(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatalf("stat of %d: %q", pid, b)
	}
	return n
}

// TestDashboardNiceEndToEnd: F8 in the real dashboard asks, naming the
// new value, and Renice changes the kernel's nice value of the selected
// process by one; Cancel changes nothing.
func TestDashboardNiceEndToEnd(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	name := fmt.Sprintf("ni%d", os.Getpid()%100000)
	hp := livehelper.Start(t, "comm", name)
	before := procNice(t, hp.PID())
	if before >= 19 {
		t.Skipf("the helper starts at nice %d: no room above", before)
	}
	dir := t.TempDir()
	bin := buildPinspect(t)
	s := startTmux(t, tmux, filepath.Join(dir, "tmux.sock"), 160, 45, "XDG_CONFIG_HOME="+dir+" "+bin+" --interval 1s; echo PINSPECT-EXITED $?; sleep 600")
	s.waitText("COMMAND")
	s.keys("F4")
	s.literal(name)
	s.keys("Enter")
	s.waitFor("the helper alone", func(scr string) bool { return paneRow(scr, hp.PID()) != "" && strings.Contains(scr, "shown 1/") })
	asks := "to " + strconv.Itoa(before+1) + "?"
	flat := func(scr string) string {
		return strings.Join(strings.Fields(strings.NewReplacer("║", " ", "│", " ").Replace(scr)), " ")
	}
	s.keys("F8")
	s.waitFor(strconv.Quote(asks), func(scr string) bool { return strings.Contains(flat(scr), asks) })
	s.keys("Right", "Enter") // Cancel
	s.waitFor("the dialog closed", func(scr string) bool { return !strings.Contains(flat(scr), asks) })
	if n := procNice(t, hp.PID()); n != before {
		t.Fatalf("Cancel changed nice from %d to %d", before, n)
	}
	s.keys("F8")
	s.waitFor(strconv.Quote(asks), func(scr string) bool { return strings.Contains(flat(scr), asks) })
	s.keys("Enter") // Renice
	for end := time.Now().Add(time.Minute); procNice(t, hp.PID()) != before+1; livehelper.Sleep() {
		if time.Now().After(end) {
			t.Fatalf("nice of %d: %d, want %d", hp.PID(), procNice(t, hp.PID()), before+1)
		}
	}
	s.keys("F10")
	s.waitText("PINSPECT-EXITED 0")
}

// TestDashboardPIDAndUserFlags: --pid and --user (as htop -p and -u)
// start the real dashboard with only those processes; they used to be
// refused although docs/DASHBOARD.md showed them. A --user that no
// process can have is refused, as ps -u refuses it.
func TestDashboardPIDAndUserFlags(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	ha := livehelper.Start(t, "comm", fmt.Sprintf("pu%d-a", os.Getpid()%100000))
	hb := livehelper.Start(t, "comm", fmt.Sprintf("pu%d-b", os.Getpid()%100000))
	dir := t.TempDir()
	bin := buildPinspect(t)
	session := func(name, args string) *tmuxSession {
		s := startTmux(t, tmux, filepath.Join(dir, name+".sock"), 160, 45, "XDG_CONFIG_HOME="+dir+" "+bin+" --readonly "+args+" 2>&1; echo PINSPECT-EXITED $?; sleep 600")
		return s
	}
	pids := strconv.Itoa(ha.PID()) + "," + strconv.Itoa(hb.PID())
	s := session("pid", "--pid "+pids)
	s.waitFor("the two processes alone", func(scr string) bool {
		return paneRow(scr, ha.PID()) != "" && paneRow(scr, hb.PID()) != "" && strings.Contains(scr, "shown 2/") &&
			strings.Contains(scr, "pid "+pids)
	})
	s.keys("q")
	s.waitText("PINSPECT-EXITED 0")

	s = session("user", "--user root --name "+fmt.Sprintf("pu%d-", os.Getpid()%100000))
	s.waitFor("root's helpers", func(scr string) bool {
		return paneRow(scr, ha.PID()) != "" && paneRow(scr, hb.PID()) != "" && strings.Contains(scr, "user root")
	})
	s.keys("q")
	s.waitText("PINSPECT-EXITED 0")

	s = session("nouser", "--user no-such-user-xyz")
	scr := s.waitText("PINSPECT-EXITED")
	if !strings.Contains(scr, "PINSPECT-EXITED 2") || !strings.Contains(scr, "--user: no such user: no-such-user-xyz") {
		t.Errorf("an unknown --user:\n%s", scr)
	}
}
