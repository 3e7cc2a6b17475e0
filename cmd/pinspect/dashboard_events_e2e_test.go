package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// cpuCgroup is a cpu cgroup made for one test (v2's cpu.max or v1's
// cfs quota), so the test can starve a real process of CPU.
type cpuCgroup struct {
	dir string
	v2  bool
}

// newCPUCgroup makes a cpu cgroup, or says why it cannot.
func newCPUCgroup(name string) (*cpuCgroup, error) {
	if c, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		if !slices.Contains(strings.Fields(string(c)), "cpu") {
			return nil, errors.New("cgroup v2 without the cpu controller")
		}
		_ = os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+cpu"), 0)
		dir := filepath.Join("/sys/fs/cgroup", name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(dir, "cpu.max")); err != nil {
			_ = os.Remove(dir)
			return nil, fmt.Errorf("cgroup v2: cpu.max not available: %w", err)
		}
		return &cpuCgroup{dir: dir, v2: true}, nil
	}
	for _, root := range []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"} {
		if _, err := os.Stat(filepath.Join(root, "cpu.cfs_quota_us")); err != nil {
			continue
		}
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		return &cpuCgroup{dir: dir}, nil
	}
	return nil, errors.New("no cpu cgroup controller mounted")
}

// limit lets the cgroup's tasks run quota of every period; a zero quota
// lifts the limit.
func (c *cpuCgroup) limit(quota, period time.Duration) error {
	q, p := strconv.FormatInt(quota.Microseconds(), 10), strconv.FormatInt(period.Microseconds(), 10)
	if c.v2 {
		if quota == 0 {
			q = "max"
		}
		return os.WriteFile(filepath.Join(c.dir, "cpu.max"), []byte(q+" "+p), 0)
	}
	if quota == 0 {
		q = "-1"
	}
	if err := os.WriteFile(filepath.Join(c.dir, "cpu.cfs_period_us"), []byte(p), 0); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.dir, "cpu.cfs_quota_us"), []byte(q), 0)
}

// remove lifts the limit, waits (up to a minute) for the cgroup's
// processes to be gone, and removes it.
func (c *cpuCgroup) remove() error {
	_ = c.limit(0, 100*time.Millisecond)
	var err error
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if err = os.Remove(c.dir); err == nil {
			return nil
		}
	}
	return err
}

var (
	// headerEvents is the header's events state: live, N behind or polled.
	headerEvents = regexp.MustCompile(`\bevents (live|\S+ behind|polled)`)
	// panelBehind is the events panel's title saying how far behind it is.
	panelBehind = regexp.MustCompile(`events: \d+[^│║]*· (\S+) behind`)
	// eventTime is the time of an event row.
	eventTime = regexp.MustCompile(`^(\d\d):(\d\d):(\d\d) `)
	// scanTook is the header's scan duration.
	scanTook = regexp.MustCompile(`\bscan (\d+)ms\b`)
)

// eventsScreen is what one capture of the dashboard says about events.
type eventsScreen struct {
	header string // live, "N behind" or polled; "" when not on screen
	panel  string // the panel title's lag ("" when it shows none)
	scan   time.Duration
	newest time.Time // the latest time of the rows on screen
	rows   []string  // the event rows, newest first
}

// readEventsScreen parses a pane: the header's events state, the events
// panel's title and its newest row's time (the day taken from now).
func readEventsScreen(scr string, now time.Time) eventsScreen {
	var e eventsScreen
	lines := strings.Split(scr, "\n")
	for _, l := range lines {
		if strings.Contains(l, "events: ") {
			if m := panelBehind.FindStringSubmatch(l); m != nil {
				e.panel = m[1] + " behind"
			}
			continue
		}
		if e.header == "" {
			if m := headerEvents.FindStringSubmatch(l); m != nil {
				e.header = m[1]
			}
		}
		if m := scanTook.FindStringSubmatch(l); m != nil && e.scan == 0 {
			ms, _ := strconv.Atoi(m[1])
			e.scan = time.Duration(ms) * time.Millisecond
		}
	}
	for i, l := range lines {
		col := strings.Index(l, "TIME     EVENT")
		if col < 0 {
			continue
		}
		// The panel's rows start at the header's column (in runes: the
		// boxes before it are drawn with multi-byte characters).
		at := len([]rune(l[:col]))
		for _, r := range lines[i+1:] {
			rs := []rune(r)
			if len(rs) <= at {
				break
			}
			row := string(rs[at:])
			m := eventTime.FindStringSubmatch(row)
			if m == nil {
				break
			}
			e.rows = append(e.rows, row)
			// Rows come in the order the events arrived: a "lost" note
			// can carry an earlier time than the events below it.
			h, _ := strconv.Atoi(m[1])
			mi, _ := strconv.Atoi(m[2])
			s, _ := strconv.Atoi(m[3])
			y, mo, d := now.Date()
			at := time.Date(y, mo, d, h, mi, s, 0, time.Local)
			if at.Sub(now) > 12*time.Hour { // shown before midnight, read after
				at = at.AddDate(0, 0, -1)
			}
			if at.After(e.newest) {
				e.newest = at
			}
		}
		break
	}
	return e
}

// TestDashboardEventsUnderChurn runs the real dashboard in tmux while a
// helper forks 300 children a second, and checks that what the screen
// says about the events is true: when the header says "events live",
// the newest event in the panel is as recent as live means (within the
// two intervals the dashboard allows, plus the second the TIME column
// rounds away and time for the screen to reach the pane); the header
// never says live while the panel's title says the events are behind.
// Then the dashboard is starved of CPU (a cpu cgroup at 1 % of a CPU):
// its events fall behind and the header and the panel say by how much;
// given the CPU back, it catches up and says live again.
func TestDashboardEventsUnderChurn(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	churn := livehelper.Start(t, "churn", "300", "0", filepath.Join(dir, "churn.out"))
	bin := buildPinspect(t)
	cg, cgErr := newCPUCgroup(fmt.Sprintf("pinspect-e2e-events-%d", os.Getpid()))
	s := &tmuxSession{t: t, tmux: tmux, socket: filepath.Join(dir, "tmux.sock")}
	run := "exec env XDG_CONFIG_HOME=" + dir + " " + bin + " --readonly --interval 1s"
	if cg != nil {
		run = "echo $$ > " + filepath.Join(cg.dir, "cgroup.procs") + " && " + run
	}
	s.run("new-session", "-d", "-s", "e2e", "-x", "160", "-y", "45", "sh", "-c", run)
	t.Cleanup(func() {
		if cg != nil {
			_ = cg.limit(0, 100*time.Millisecond) // so the dashboard can stop
		}
		_ = exec.Command(tmux, "-S", s.socket, "kill-server").Run()
		if cg != nil {
			if err := cg.remove(); err != nil {
				t.Errorf("removing cgroup %s: %v", cg.dir, err)
			}
		}
	})

	// behindAfter is the lag past which the dashboard must not say live
	// at a 1 s interval (two intervals, at least 2 s: header.go); the
	// slack covers the whole second the TIME column drops and the time
	// from the dashboard's draw to the capture on a loaded machine.
	const behindAfter, slack = 2 * time.Second, 6 * time.Second
	churnParent := "← parent " + strconv.Itoa(churn.PID())
	var (
		prev      string    // the previous capture
		prevStart time.Time // when it was taken
		sameSince time.Time // when the first capture of prev's content was taken
		// settle is how long a screen must stay the same before it is
		// read as whole. A dashboard starved by the cgroup writes a
		// screen in pieces: blocked on a full pty, it may not run again
		// for most of a period (200 ms), so two captures a moment apart
		// can both show the header of the new draw above the panels of
		// the old one (seen: "events 2s behind" over a title without
		// the lag, and the table's rows from two layouts).
		settle     time.Duration
		drawnAfter time.Time // the current content was drawn after this
		checked    int       // stable, freshly drawn screens checked
		lastCheck  string    // the last screen checked
		sawChurn   bool
	)
	// observe captures the pane and checks what it says; it returns the
	// screen when its content is complete (two captures alike) and fresh.
	observe := func() (eventsScreen, string, bool) {
		t.Helper()
		start := time.Now()
		scr := s.capture()
		defer func() { prev, prevStart = scr, start }()
		if scr != prev {
			drawnAfter = prevStart // a draw came after the previous capture began
			sameSince = start
			return eventsScreen{}, scr, false
		}
		if start.Sub(sameSince) < settle {
			return eventsScreen{}, scr, false
		}
		e := readEventsScreen(scr, start)
		if e.header == "" {
			return e, scr, false
		}
		if e.panel != "" && e.header == "live" {
			t.Errorf("the header says events live while the panel says %s:\n%s", e.panel, scr)
		}
		if strings.HasSuffix(e.header, "behind") && e.panel == "" {
			t.Errorf("the header says events %s but the panel's title shows no lag:\n%s", e.header, scr)
		}
		if drawnAfter.IsZero() {
			return e, scr, false // the first screen: when it was drawn is unknown
		}
		for _, r := range e.rows {
			sawChurn = sawChurn || strings.Contains(r, churnParent)
		}
		if !e.newest.IsZero() && sawChurn && e.header != "polled" {
			// The helper makes an event every few milliseconds, so the
			// newest event is as old as the frame: at most the lag the
			// screen admits (under two intervals when it says live),
			// counted from the end of the scan, whose length the header
			// shows too (a starved scan of a 2,000-process bench
			// workload took 27 s; its events are taken after it).
			allowed := behindAfter + e.scan
			if e.header != "live" {
				lag, err := time.ParseDuration(strings.TrimSuffix(e.header, " behind"))
				if err != nil {
					t.Fatalf("the header's lag %q: %v", e.header, err)
				}
				allowed = lag + time.Second + e.scan
			}
			if age := drawnAfter.Sub(e.newest); age > allowed+slack {
				t.Errorf("the header says events %s, but the newest event (%s) is %v older than the screen (drawn after %s):\n%s",
					e.header, e.newest.Format("15:04:05"), age.Round(time.Second), drawnAfter.Format("15:04:05.000"), scr)
			}
			if scr != lastCheck {
				checked, lastCheck = checked+1, scr
			}
		}
		return e, scr, true
	}
	waitEvents := func(what string, cond func(e eventsScreen) bool) string {
		t.Helper()
		var scr string
		for end := time.Now().Add(3 * time.Minute); time.Now().Before(end); time.Sleep(150 * time.Millisecond) {
			e, sc, ok := observe()
			scr = sc
			if t.Failed() {
				t.FailNow()
			}
			if ok && cond(e) {
				return scr
			}
		}
		t.Fatalf("timed out waiting for %s; pane:\n%s", what, scr)
		return ""
	}

	// Unhindered: the churn's events in the panel, the header live or
	// saying its lag; several fresh screens checked.
	waitEvents("the churn's events on five fresh screens", func(e eventsScreen) bool {
		return sawChurn && checked >= 5
	})
	if cgErr != nil {
		t.Logf("the starved half is not run: %v", cgErr)
		return
	}

	// Starved: the events fall behind, and the screen says so.
	if err := cg.limit(2*time.Millisecond, 200*time.Millisecond); err != nil {
		t.Fatalf("limiting the dashboard's CPU: %v", err)
	}
	checked, settle = 0, 3*200*time.Millisecond
	scr := waitEvents("the header and the panel saying the events are behind, three fresh screens checked", func(e eventsScreen) bool {
		return strings.HasSuffix(e.header, "behind") && e.panel != "" && checked >= 3
	})
	t.Logf("starved:\n%s", scr)

	// Given the CPU back, it catches up.
	if err := cg.limit(0, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	checked, settle = 0, 0
	waitEvents("the events live again, on three fresh screens", func(e eventsScreen) bool {
		return e.header == "live" && checked >= 3
	})
}
