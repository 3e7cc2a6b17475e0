package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// tmuxSession drives one program in a private tmux server: a real
// terminal, as an operator's.
type tmuxSession struct {
	t      *testing.T
	tmux   string
	socket string
}

// startTmux starts script (a shell command line) in a new private tmux
// server listening on socket, in a cols x rows window named e2e, and
// kills the server when the test ends.
func startTmux(t *testing.T, tmux, socket string, cols, rows int, script string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, tmux: tmux, socket: socket}
	s.run("new-session", "-d", "-s", "e2e", "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows), "sh", "-c", script)
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.tmux, append([]string{"-S", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) capture() string { return s.run("capture-pane", "-p", "-t", "e2e") }

func (s *tmuxSession) keys(keys ...string) {
	s.run(append([]string{"send-keys", "-t", "e2e"}, keys...)...)
}

func (s *tmuxSession) literal(text string) { s.run("send-keys", "-t", "e2e", "-l", text) }

// waitFor polls the pane until cond holds (generous deadline: the machine
// may be loaded).
func (s *tmuxSession) waitFor(what string, cond func(screen string) bool) string {
	s.t.Helper()
	var scr string
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		scr = s.capture()
		if cond(scr) {
			return scr
		}
	}
	s.t.Fatalf("timed out waiting for %s; pane:\n%s", what, scr)
	return ""
}

func (s *tmuxSession) waitText(want string) string {
	s.t.Helper()
	return s.waitFor(strconv.Quote(want), func(scr string) bool { return strings.Contains(scr, want) })
}

// paneRow returns the pane line whose first field is pid.
func paneRow(scr string, pid int) string {
	for _, l := range strings.Split(scr, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == strconv.Itoa(pid) {
			return l
		}
	}
	return ""
}

// TestDashboardEndToEnd runs the real binary in tmux: it starts, shows a
// known process, filters, opens its detail view, quits, and leaves the
// terminal as it found it.
func TestDashboardEndToEnd(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	helper := livehelper.Start(t, "comm", "pinspect-e2e")
	dir := t.TempDir()
	bin := filepath.Join(dir, "pinspect")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The shell records the terminal modes before and after, then says
	// whether pinspect restored them.
	script := "stty -g > " + dir + "/before; XDG_CONFIG_HOME=" + dir + " " + bin + " --readonly --interval 2s; echo PINSPECT-EXITED $?; " +
		"stty -g > " + dir + "/after; cmp -s " + dir + "/before " + dir + "/after && echo TTY-RESTORED; sleep 600"
	s := startTmux(t, tmux, filepath.Join(dir, "tmux.sock"), 160, 45, script)

	// Start: the header and the table.
	scr := s.waitFor("the dashboard", func(scr string) bool {
		return strings.Contains(scr, "COMMAND") && strings.Contains(scr, "tasks ") && strings.Contains(scr, "every 2s")
	})
	if got := strings.TrimSpace(s.run("display-message", "-p", "-t", "e2e", "#{alternate_on}")); got != "1" {
		t.Errorf("the dashboard is not on the alternate screen (alternate_on=%s)", got)
	}
	// Every thread of the dashboard has serve's timer slack.
	if os.Geteuid() == 0 {
		shell := strings.TrimSpace(s.run("display-message", "-p", "-t", "e2e", "#{pane_pid}"))
		children, err := os.ReadFile("/proc/" + shell + "/task/" + shell + "/children")
		if err != nil || len(strings.Fields(string(children))) != 1 {
			t.Fatalf("the dashboard's pid under the shell %s: %q, %v", shell, children, err)
		}
		dash := strings.Fields(string(children))[0]
		tasks, err := os.ReadDir("/proc/" + dash + "/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tasks {
			b, err := os.ReadFile("/proc/" + e.Name() + "/timerslack_ns")
			if got := strings.TrimSpace(string(b)); err != nil || got != strconv.FormatInt(agentTimerSlack.Nanoseconds(), 10) {
				t.Errorf("dashboard thread %s: slack %q ns (%v), want %d", e.Name(), got, err, agentTimerSlack.Nanoseconds())
			}
		}
	}
	for _, want := range []string{"PID", "USER", "CPU%", "VCSW/s", "NVCSW/s", "zombies", "events", "q quit"} {
		if !strings.Contains(scr, want) {
			t.Errorf("main screen lacks %q:\n%s", want, scr)
		}
	}
	if strings.Contains(scr, "k signal") {
		t.Errorf("--readonly dashboard offers the signal action:\n%s", scr)
	}

	// Filter to the helper (F4, as htop; \ too).
	s.keys("F4")
	s.literal("pinspect-e2e")
	s.keys("Enter")
	s.waitFor("the helper's row, alone", func(scr string) bool {
		return strings.Contains(paneRow(scr, helper.PID()), "(pinspect-e2e)") &&
			strings.Contains(scr, "filter pinspect-e2e") && strings.Contains(scr, "shown 1/")
	})

	// Detail view: threads (from the monitor's focus), then status.
	s.keys("Enter")
	s.waitFor("the detail view with its thread", func(scr string) bool {
		return strings.Contains(scr, "1 Threads") && strings.Contains(scr, strconv.Itoa(helper.PID())+" pinspect-e2e") &&
			strings.Contains(scr, "TID") && paneRow(scr, helper.PID()) != ""
	})
	s.keys("2")
	s.waitFor("the memory tab with the address space", func(scr string) bool {
		return strings.Contains(scr, "Address space") && strings.Contains(scr, "PERMS") && strings.Contains(scr, "[heap]") && strings.Contains(scr, "r-xp")
	})
	s.keys("4")
	s.waitFor("the status tab with details", func(scr string) bool {
		return strings.Contains(scr, "Signals caught") && strings.Contains(scr, "Waiting in")
	})
	s.keys("Escape")
	s.waitText("COMMAND")

	// Quit: the shell gets the terminal back as it was.
	s.keys("q")
	scr = s.waitText("PINSPECT-EXITED")
	if !strings.Contains(scr, "PINSPECT-EXITED 0") {
		t.Errorf("pinspect exit status not 0:\n%s", scr)
	}
	s.waitText("TTY-RESTORED")
	if got := strings.TrimSpace(s.run("display-message", "-p", "-t", "e2e", "#{alternate_on} #{mouse_any_flag} #{cursor_flag}")); got != "0 0 1" {
		t.Errorf("terminal not restored: alternate_on mouse_any cursor = %s, want 0 0 1", got)
	}
	if strings.Contains(scr, "COMMAND") || strings.Contains(scr, "tasks ") {
		t.Errorf("dashboard output left on the normal screen:\n%s", scr)
	}
}

// TestDashboardSignalsRestoreTerminal: SIGHUP (the terminal went away)
// and SIGQUIT used to kill the dashboard on the spot, leaving the
// terminal on the alternate screen with mouse tracking on. Every stop
// signal now ends it cleanly: the terminal is restored and the status is
// 128 + the signal.
func TestDashboardSignalsRestoreTerminal(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pinspect")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if other := os.Getenv("PINSPECT_TEST_BIN"); other != "" {
		bin = other
	}
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			script := "stty -g > " + dir + "/before; " + bin + " --readonly --interval 2s; echo PINSPECT-EXITED $?; " +
				"stty -g > " + dir + "/after; cmp -s " + dir + "/before " + dir + "/after && echo TTY-RESTORED; sleep 600"
			s := startTmux(t, tmux, filepath.Join(dir, "tmux-"+strconv.Itoa(int(sig))+".sock"), 120, 30, script)
			s.waitFor("the dashboard", func(scr string) bool { return strings.Contains(scr, "COMMAND") })
			s.keys("m") // whatever the key does, mouse tracking is on
			out, err := exec.Command("pgrep", "-f", "^"+bin+" ").Output()
			pid, perr := strconv.Atoi(strings.TrimSpace(string(out)))
			if err != nil || perr != nil {
				t.Fatalf("pgrep %s: %q %v", bin, out, err)
			}
			if err := syscall.Kill(pid, sig); err != nil {
				t.Fatal(err)
			}
			want := "PINSPECT-EXITED " + strconv.Itoa(128+int(sig))
			scr := s.waitText("PINSPECT-EXITED")
			if !strings.Contains(scr, want) {
				t.Errorf("after %v: %q not on screen:\n%s", sig, want, scr)
			}
			s.waitText("TTY-RESTORED")
			if got := strings.TrimSpace(s.run("display-message", "-p", "-t", "e2e", "#{alternate_on} #{mouse_any_flag} #{cursor_flag}")); got != "0 0 1" {
				t.Errorf("after %v: alternate_on mouse_any cursor = %s, want 0 0 1", sig, got)
			}
		})
	}
}
