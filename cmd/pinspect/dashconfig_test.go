package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/fixtures/livehelper"
	"github.com/pinspect/pinspect/views/dashboard"
)

// TestDashboardConfigFile: the setup file is read bounded (a missing one
// is the defaults; a FIFO, a directory or an oversized file is refused
// with a note, without hanging; bad lines are named and the rest
// applied) and written atomically, 0600 in a 0700 directory.
func TestDashboardConfigFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	path := dashboardConfigPath()
	if path != filepath.Join(dir, "pinspect", "dashboard.conf") {
		t.Fatalf("path %q", path)
	}
	if c, note := loadDashboardConfig(path); c != nil || note != "" {
		t.Errorf("missing file: %+v %q", c, note)
	}
	c := dashboard.DefaultConfig()
	c.Columns = []string{"pid", "ppid", "command"}
	c.Interval = 2 * time.Second
	where, err := saveDashboardConfig(path, c)
	if err != nil || where != path {
		t.Fatalf("save: %q %v", where, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v %v", fi.Mode(), err)
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v %v", di.Mode(), err)
	}
	back, note := loadDashboardConfig(path)
	if back == nil || note != "" || !slices.Equal(back.Columns, c.Columns) || back.Interval != c.Interval {
		t.Errorf("read back %+v %q", back, note)
	}

	// Bad lines: named, the rest applied.
	if err := os.WriteFile(path, []byte("columns=pid,bogus\nsort=mem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	back, note = loadDashboardConfig(path)
	if back == nil || back.Sort != "mem" || !strings.Contains(note, path) || !strings.Contains(note, "line 1: unknown column \"bogus\"") {
		t.Errorf("bad line: %+v %q", back, note)
	}

	// Too large, a directory, a FIFO: refused, and quickly.
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, dashboard.MaxConfigBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{big, "larger than the 64 KiB"},
		{dir, "not a regular file"},
		{fifo, "not a regular file"},
	} {
		done := make(chan string, 1)
		go func() { _, n := loadDashboardConfig(c.path); done <- n }()
		select {
		case n := <-done:
			if !strings.Contains(n, c.want) || !strings.Contains(n, "defaults used") {
				t.Errorf("%s: note %q, want %q", c.path, n, c.want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("reading %s hangs", c.path)
		}
	}
}

// TestReniceChecksIdentity: renice sets a live process's nice value, and
// refuses a pid whose start time is not the one asked for.
func TestReniceChecksIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to renice a helper both ways")
	}
	hp := livehelper.Start(t, "comm", "pinspect-nice")
	r, err := collector.NewReader(collector.Options{Backend: collector.BackendProc})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, _, err := r.Process(hp.PID())
	if err != nil {
		t.Fatal(err)
	}
	if err := reniceProcess(r, p.ID(), 7); err != nil {
		t.Fatal(err)
	}
	q, _, err := r.Process(hp.PID())
	if err != nil || q.Nice != 7 {
		t.Errorf("nice after renice: %v %v", q.Nice, err)
	}
	wrong := p.ID()
	wrong.StartTicks++
	if err := reniceProcess(r, wrong, 3); err == nil || !strings.Contains(err.Error(), "not reniced") {
		t.Errorf("a reused pid reniced: %v", err)
	}
	if q, _, _ := r.Process(hp.PID()); q.Nice != 7 {
		t.Errorf("nice changed by the refused call: %d", q.Nice)
	}
	if err := reniceProcess(r, collector.ID{PID: 1 << 30}, 3); err == nil {
		t.Error("a missing pid reniced")
	}
}

// TestReniceEveryThread: renice sets the nice value of every thread of a
// process, not only its main thread (setpriority on a pid changes one
// thread on Linux); each thread's nice is read from its own stat.
func TestReniceEveryThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to renice a helper both ways")
	}
	hp := livehelper.Start(t, "threads", "3")
	r, err := collector.NewReader(collector.Options{Backend: collector.BackendProc})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, _, err := r.Process(hp.PID())
	if err != nil {
		t.Fatal(err)
	}
	tids := append([]int{hp.PID()}, hp.TIDs...)
	slices.Sort(tids)
	tids = slices.Compact(tids)
	if len(tids) < 3 {
		t.Fatalf("helper threads %v", tids)
	}
	for _, want := range []int{6, 2} {
		if err := reniceProcess(r, p.ID(), want); err != nil {
			t.Fatal(err)
		}
		for _, tid := range tids {
			if got := threadNice(t, hp.PID(), tid); got != want {
				t.Errorf("thread %d of %d: nice %d after renice to %d", tid, hp.PID(), got, want)
			}
		}
	}
}

// threadNice is the nice value of thread tid of pid, from its stat.
func threadNice(t *testing.T, pid, tid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	n, err := strconv.Atoi(f[16]) // field 19 of stat; f[0] is field 3
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIntervalFlagKeepsFileInterval: with --interval the dashboard runs
// at the flag's interval but is given the file's setup whole, its
// interval included, so that F2 writes the file's interval back (it
// wrote none, and the next run lost the saved one); the dashboard
// package's TestIntervalFlagKeepsSavedInterval holds what it saves.
func TestIntervalFlagKeepsFileInterval(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	c := dashboard.DefaultConfig()
	c.Interval = 5 * time.Second
	if _, err := saveDashboardConfig(dashboardConfigPath(), c); err != nil {
		t.Fatal(err)
	}
	a := &app{interval: 2 * time.Second, intervalSet: true}
	opts := a.dashboardOptions(a.interval)
	if opts.Interval != 2*time.Second || !opts.IntervalSet {
		t.Errorf("interval %v set %v, want the flag's 2s", opts.Interval, opts.IntervalSet)
	}
	if opts.Config == nil || opts.Config.Interval != 5*time.Second {
		t.Errorf("the file's setup given as %+v, want its interval 5s", opts.Config)
	}
	a.intervalSet = false
	if opts := a.dashboardOptions(time.Second); opts.IntervalSet || opts.Config == nil || opts.Config.Interval != 5*time.Second {
		t.Errorf("without the flag: set %v, setup %+v", opts.IntervalSet, opts.Config)
	}
}
