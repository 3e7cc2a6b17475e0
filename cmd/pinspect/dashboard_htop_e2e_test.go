package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestDashboardHtopKeysEndToEnd drives the real binary in tmux as an htop
// user would, at 80x24 and then 200x50: the meters and the header lines
// that must survive 80 columns, F1 help, F4 filter, space tagging and the
// F9 menu for the tagged processes, F3 search keeping the list, F5 tree
// with - and + folding a subtree, F6 sort menu, K, H, u, the replay's
// keys kept free, F2 setup adding a column and saving it, and the saved
// setup read back by the next start, at 200x50 with a bar per CPU.
func TestDashboardHtopKeysEndToEnd(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	tag := fmt.Sprintf("h%d-", os.Getpid()%100000)
	ha := livehelper.Start(t, "comm", tag+"a")
	hb := livehelper.Start(t, "comm", tag+"b")
	z := livehelper.Start(t, "zombies", "2")
	dir := t.TempDir()
	bin := filepath.Join(dir, "pinspect")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "config")
	session := func(name string, w, h int) *tmuxSession {
		script := "XDG_CONFIG_HOME=" + cfg + " " + bin + " --interval 1s; echo PINSPECT-EXITED $?; sleep 600"
		s := startTmux(t, tmux, filepath.Join(dir, name+".sock"), w, h, script)
		return s
	}

	// 80x24: the meters, the header and the footer's first keys fit.
	s := session("small", 80, 24)
	scr := s.waitFor("the dashboard with its meters", func(scr string) bool {
		return strings.Contains(scr, "COMMAND") && strings.Contains(scr, "Mem[") && strings.Contains(scr, "events ")
	})
	lines := strings.Split(strings.TrimRight(scr, "\n"), "\n")
	if len(lines) != 24 {
		t.Fatalf("pane of %d lines, want 24:\n%s", len(lines), scr)
	}
	for _, want := range []string{"Avg[", "Swp[", "CPU ", "load ", "tasks ", "orphans ", "ctx ", "PID", "CPU%", "MEM%", "RES", "SHR", "TIME+"} {
		if !strings.Contains(scr, want) {
			t.Errorf("80x24 lacks %q:\n%s", want, scr)
		}
	}
	if !strings.HasPrefix(lines[23], "? help q quit") {
		t.Errorf("80x24 footer %q does not start with ? help q quit", lines[23])
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "┌") && i < 24-6 {
			t.Errorf("the bottom panels start at line %d of 24:\n%s", i, scr)
		}
	}

	// F1: the help, made from the key map.
	s.keys("F1")
	s.waitFor("the help", func(scr string) bool { return strings.Contains(scr, "every key") && strings.Contains(scr, "F2 S") })
	s.keys("Escape")
	s.waitFor("the help closed", func(scr string) bool { return !strings.Contains(scr, "every key") && strings.Contains(scr, "COMMAND") })

	// F4 filters to the two helpers; space tags both; F9 names them.
	s.keys("F4")
	s.literal(tag)
	s.keys("Enter")
	s.waitFor("the two helpers alone", func(scr string) bool {
		return paneRow(scr, ha.PID()) != "" && paneRow(scr, hb.PID()) != "" && strings.Contains(scr, "shown 2/")
	})
	s.keys("Space", "Space")
	s.waitFor("both tagged", func(scr string) bool {
		return strings.Contains(scr, "2 tagged") && strings.Contains(paneRow(scr, ha.PID()), " * ") && strings.Contains(paneRow(scr, hb.PID()), " * ")
	})
	s.keys("F9")
	// The pane can be captured while the terminal is still drawing the
	// menu (seen under load: its list cut after "12 U"): wait for the
	// title and the four signals, then check them.
	scr = s.waitFor("the signal menu for 2 tagged processes with HUP, INT, USR1 and USR2", func(scr string) bool {
		if !strings.Contains(scr, "Send a signal to 2 tagged processes") {
			return false
		}
		for _, sig := range []string{"HUP", "INT", "USR1", "USR2"} {
			if !strings.Contains(scr, sig) {
				return false
			}
		}
		return true
	})
	for _, sig := range []string{"HUP", "INT", "USR1", "USR2"} {
		if !strings.Contains(scr, sig) {
			t.Errorf("the signal menu lacks %s:\n%s", sig, scr)
		}
	}
	s.keys("Escape")
	s.waitFor("the menu closed", func(scr string) bool { return !strings.Contains(scr, "Send a signal") })
	s.keys("U")
	s.waitFor("untagged", func(scr string) bool {
		return !strings.Contains(scr, "2 tagged") && !strings.Contains(paneRow(scr, ha.PID()), " * ")
	})
	s.keys("Escape") // clears the filter
	s.waitFor("the whole list", func(scr string) bool { return !strings.Contains(scr, "shown 2/") })

	// F3 searches: the match is selected, the list stays whole.
	s.keys("F3")
	s.literal(tag + "b")
	s.keys("Enter")
	s.waitFor("the match on screen, the list whole", func(scr string) bool {
		return paneRow(scr, hb.PID()) != "" && !strings.Contains(scr, "shown 1/") && !strings.Contains(scr, "no match")
	})

	// F5 tree; the zombie parent found by its command line (its binary's
	// path is this test's own); - folds, + unfolds.
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(z.PID()) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	s.keys("F5")
	s.keys("F3")
	s.literal(strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")))
	s.keys("Enter")
	s.waitFor("the parent with its children under it in the tree", func(scr string) bool {
		at := func(pid int) int { return strings.Index(scr, paneRow(scr, pid)) }
		return strings.Contains(scr, "tree") && paneRow(scr, z.PID()) != "" && paneRow(scr, z.PIDs[1]) != "" &&
			paneRow(scr, z.PIDs[2]) != "" && at(z.PID()) < at(z.PIDs[1]) && at(z.PID()) < at(z.PIDs[2])
	})
	s.keys("-")
	s.waitFor("the subtree folded", func(scr string) bool {
		// At 80 columns the row keeps its fold mark (+) and the start of
		// "(2 folded: +)"; the indentation of a deep tree is cut ("…").
		l := paneRow(scr, z.PID())
		return paneRow(scr, z.PIDs[1]) == "" && paneRow(scr, z.PIDs[2]) == "" && strings.Contains(l, "+ (2 f")
	})
	s.keys("+")
	s.waitFor("unfolded", func(scr string) bool { return paneRow(scr, z.PIDs[1]) != "" && paneRow(scr, z.PIDs[2]) != "" })
	s.keys("F5")

	// F6: the sort menu; K, H, u.
	s.keys("F6")
	s.waitFor("the sort menu", func(scr string) bool { return strings.Contains(scr, "Sort by") && strings.Contains(scr, "PPID") })
	s.keys("Escape") // then a pause: Esc and a key at once read as Alt+key
	s.waitFor("the menu closed", func(scr string) bool { return !strings.Contains(scr, "Sort by") })
	s.keys("K")
	s.waitText("kernel threads hidden")
	s.keys("K")
	s.waitText("kernel threads shown")
	s.keys("H")
	s.waitFor("threads on", func(scr string) bool { return strings.Contains(scr, "threads") && !strings.Contains(scr, "Sort by") })
	s.keys("H")
	s.keys("u")
	s.waitFor("the user menu", func(scr string) bool { return strings.Contains(scr, "all users") && strings.Contains(scr, "root") })
	s.keys("Escape")
	s.waitFor("the menu closed", func(scr string) bool { return !strings.Contains(scr, "all users") })

	// The replay's keys are kept free: [ says so instead of renicing.
	s.keys("[")
	s.waitText("a replay's keys")

	// F2: add PPID (the first column available), close: saved.
	s.keys("F2")
	s.waitText("Columns shown")
	s.keys("Tab")
	s.keys("Enter")
	s.keys("Escape")
	scr = s.waitText("setup saved to")
	if !strings.Contains(scr, "PPID") {
		t.Errorf("PPID not shown after F2 added it:\n%s", scr)
	}
	s.keys("F10")
	s.waitText("PINSPECT-EXITED 0")
	conf, err := os.ReadFile(filepath.Join(cfg, "pinspect", "dashboard.conf"))
	if err != nil || !strings.Contains(string(conf), "ppid") {
		t.Fatalf("config file %q, %v: want ppid in its columns", conf, err)
	}

	// 200x50: the saved setup read back; a bar per CPU; the long header.
	s = session("large", 200, 50)
	scr = s.waitFor("the dashboard at 200x50", func(scr string) bool {
		return strings.Contains(scr, "COMMAND") && strings.Contains(scr, "PPID") && strings.Contains(scr, "events ")
	})
	cpus := 0
	for _, l := range strings.Split(scr, "\n") {
		if strings.HasPrefix(l, "0[") || strings.HasPrefix(l, "1[") {
			cpus++
		}
	}
	if cpus == 0 {
		t.Errorf("no per-CPU bar at 200x50:\n%s", scr)
	}
	for _, want := range []string{"running", "sleeping", "zombie", "orphans ", "ctx ", "Mem[", "Swp[", "zombies: ", "events: "} {
		if !strings.Contains(scr, want) {
			t.Errorf("200x50 lacks %q:\n%s", want, scr)
		}
	}
	s.keys("q")
	s.waitText("PINSPECT-EXITED 0")
}
