package taskiter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestCmdlinesAsProc runs the cmdline program over every process of the
// machine and holds each cmdline it read to /proc/PID/cmdline, byte for
// byte, with helpers that rewrote their argv the ways setproctitle does
// (a title running on into the environment, one padded with spaces to
// the end of the area, one padded with NULs, one past a page), kernel
// threads and zombies (empty), and processes whose argument area has a
// page, or every page, registered with a userfaultfd that nobody
// answers (left to /proc: CmdlineUnsafe).
func TestCmdlinesAsProc(t *testing.T) {
	it := openCmdlinesForTest(t)
	c := it.Cmdlines()
	// A process whose argument area is all in one userfaultfd VMA: the
	// VMA holding arg_start covers the area, so only the userfaultfd
	// rule leaves it (without it the copy fails at the dropped page:
	// CmdlineFault).
	uffdAll := livehelper.Start(t, "uffdargs", "all")
	// The long titles run on into the environment: give them one to
	// run into (past a page for the last one).
	t.Setenv("PINSPECT_TITLE_ROOM", strings.Repeat("e", 6000))
	titles := map[string]*livehelper.Proc{
		"long":    livehelper.Start(t, "title", "long", "long-title-", "700"),
		"page":    livehelper.Start(t, "title", "long", "page-title-", "5000"),
		"pad":     livehelper.Start(t, "title", "pad", "padded"),
		"nul":     livehelper.Start(t, "title", "nul", "nul-padded"),
		"zombies": livehelper.Start(t, "zombies", "2"),
	}
	uffd := livehelper.Start(t, "uffdargs")
	// The zombies' children exit after they start: the run must see
	// them dead, as the /proc reads below do.
	for _, pid := range titles["zombies"].PIDs[1:] {
		waitZombie(t, pid)
	}

	var pids []int
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	if err := c.Run(pids); err != nil {
		t.Fatal(err)
	}
	byPID := map[int]CmdlineResult{}
	states := map[CmdlineState]int{}
	for i, pid := range pids {
		r := c.Result(i)
		byPID[pid] = r
		states[r.State]++
		if r.State != CmdlineRead && r.State != CmdlineEmpty {
			continue
		}
		want, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || procStartTicks(t, pid) != r.StartTicks {
			continue // gone, or its pid reused since
		}
		if !bytes.Equal(r.Bytes, want) {
			// A process may rewrite its title between the two reads:
			// only one that /proc shows the same twice counts.
			// One that died between the run and the read (another
			// test's child) shows /proc's empty cmdline of a zombie.
			again, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if bytes.Equal(want, again) && !isZombie(pid) {
				t.Errorf("pid %d: cmdline program %q, /proc %q", pid, r.Bytes, want)
			}
		}
	}
	t.Logf("%d processes: %v", len(pids), states)
	for name, h := range titles {
		r := byPID[h.PID()]
		if r.State != CmdlineRead {
			t.Errorf("title helper %s: state %d, want read", name, r.State)
		}
	}
	if r := byPID[titles["long"].PID()]; !bytes.HasPrefix(r.Bytes, []byte("long-title-long-title-")) || len(r.Bytes) != 701 {
		t.Errorf("long title: %d bytes %q, want 700 and its NUL", len(r.Bytes), r.Bytes)
	}
	if r := byPID[titles["page"].PID()]; len(r.Bytes) != 4096 || bytes.IndexByte(r.Bytes, 0) >= 0 {
		t.Errorf("title past a page: %d bytes, want the page's 4096 without a NUL", len(r.Bytes))
	}
	if r := byPID[titles["pad"].PID()]; !bytes.HasPrefix(r.Bytes, []byte("padded   ")) || r.Bytes[len(r.Bytes)-1] != 0 {
		t.Errorf("padded title: %q", r.Bytes)
	}
	for _, pid := range titles["zombies"].PIDs[1:] {
		if r := byPID[pid]; r.State != CmdlineEmpty {
			t.Errorf("zombie %d: state %d, want empty", pid, r.State)
		}
	}
	if r := byPID[2]; r.State != CmdlineEmpty {
		t.Errorf("kthreadd: state %d, want empty", r.State)
	}
	if r := byPID[uffd.PID()]; r.State != CmdlineUnsafe {
		t.Errorf("argv under a userfaultfd: state %d, want unsafe (%d)", r.State, CmdlineUnsafe)
	}
	if r := byPID[uffdAll.PID()]; r.State != CmdlineUnsafe {
		t.Errorf("argv in a userfaultfd VMA: state %d, want unsafe (%d)", r.State, CmdlineUnsafe)
	}
	if user := len(pids) - states[CmdlineEmpty] - states[CmdlineGone]; states[CmdlineRead] < user/2 {
		t.Errorf("read %d of %d processes with an address space", states[CmdlineRead], user)
	}
}

// waitZombie waits until pid is a zombie, failing after a generous
// deadline.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); !isZombie(pid); livehelper.Sleep() {
		if time.Now().After(end) {
			t.Fatalf("pid %d never became a zombie", pid)
		}
	}
}

// isZombie reports whether /proc shows pid as a zombie (or dead) now.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// TestCmdlinesFrom: below Options.CmdlinesFrom processes the cmdline
// program is not loaded (the /proc reads cost less than its load).
func TestCmdlinesFrom(t *testing.T) {
	openCmdlinesForTest(t) // skips unless it loads here
	it, err := Open(Options{Cmdlines: true, CmdlinesFrom: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.Cmdlines() != nil || it.CmdlinesUnavailable != nil {
		t.Errorf("loaded below CmdlinesFrom: %v, %v", it.Cmdlines() != nil, it.CmdlinesUnavailable)
	}
}

// openCmdlinesForTest loads the iterator with the cmdline program,
// skipping when this test binary may not load BPF and failing when the
// walk loads and the cmdline program does not.
func openCmdlinesForTest(t *testing.T) *Iterator {
	t.Helper()
	it, err := Open(Options{Cmdlines: true})
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("not root: %v", err)
		}
		t.Fatalf("as root: %v", err)
	}
	t.Cleanup(func() { _ = it.Close() })
	if it.Cmdlines() == nil {
		t.Fatalf("the walk loads and the cmdline program does not: %v", it.CmdlinesUnavailable)
	}
	return it
}

// procStartTicks is /proc/PID/stat's start time (field 22), 0 when gone.
func procStartTicks(t *testing.T, pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		t.Fatalf("pid %d: stat %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// TestCmdlinesCloseDuringRun closes the cmdline program while a run is
// still going on (runReturnedHook holds it where a run abandoned at its
// deadline would still be in the kernel): Close returns without waiting,
// and the run's end releases the program and its mappings instead of
// mapping a closed (or reused) descriptor. Under -race the second case,
// Close racing the run's end, checks that the two are ordered.
func TestCmdlinesCloseDuringRun(t *testing.T) {
	pids := []int{os.Getpid(), 1}
	for _, closeFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("closeFirst=%v", closeFirst), func(t *testing.T) {
			it := openCmdlinesForTest(t)
			c := it.Cmdlines()
			entered, release := make(chan struct{}), make(chan struct{})
			runReturnedHook = func() {
				close(entered)
				<-release
			}
			t.Cleanup(func() { runReturnedHook = nil })
			done := make(chan error, 1)
			go func() { done <- c.Run(pids) }()
			<-entered
			if closeFirst {
				if err := it.Close(); err != nil {
					t.Errorf("Close during a run: %v", err)
				}
				close(release)
			} else {
				close(release)
				_ = it.Close()
			}
			err := <-done
			if closeFirst && !errors.Is(err, errCmdlinesClosed) {
				t.Errorf("a run closed under it returned %v, want %v", err, errCmdlinesClosed)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.pages != nil || c.slots != nil || c.prog.FD() >= 0 || c.pagesMap.FD() >= 0 {
				t.Errorf("after the run's end: pages %v, slots %v, program fd %d, pages fd %d",
					c.pages != nil, c.slots != nil, c.prog.FD(), c.pagesMap.FD())
			}
		})
	}
}

// TestCmdlinesPageSize: on a machine whose pages are not 4 KiB (arm64 or
// ppc64le with 16 or 64 KiB) the cmdline program, which reads a
// rewritten title's first 4 KiB where the kernel reads a page, is not
// loaded, and CmdlinesUnavailable says why.
func TestCmdlinesPageSize(t *testing.T) {
	src, err := os.ReadFile("bpf/taskiter.bpf.c")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, fmt.Appendf(nil, "#define CMD_TITLE %d ", cmdTitle)) {
		t.Errorf("bpf/taskiter.bpf.c's CMD_TITLE is not cmdTitle (%d)", cmdTitle)
	}
	openCmdlinesForTest(t) // skips unless it loads here
	saved := cmdlinesPageSize
	cmdlinesPageSize = 16384
	t.Cleanup(func() { cmdlinesPageSize = saved })
	it, err := Open(Options{Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.Cmdlines() != nil {
		t.Error("the cmdline program loaded on 16 KiB pages")
	}
	if why := fmt.Sprint(it.CmdlinesUnavailable); !strings.Contains(why, "16384") {
		t.Errorf("CmdlinesUnavailable %q, want the page size", why)
	}
}

// TestResized: resized gives the named maps their sizes without types,
// keeps only the program named, and leaves the spec it was given as it
// was, which later loads use.
func TestResized(t *testing.T) {
	spec, err := loadTaskIter()
	if err != nil {
		t.Fatal(err)
	}
	before := spec.Maps["cmd_slots"].MaxEntries
	r := resized(spec, "pinspect_cmdlines", map[string]uint32{"cmd_slots": 77, "walk_tasks": 0})
	if m := r.Maps["cmd_slots"]; m.MaxEntries != 77 || m.Key != nil || m.Value != nil || m.ValueSize != cmdSlotSize {
		t.Errorf("cmd_slots: %d entries, key %v, value %v, value size %d", m.MaxEntries, m.Key, m.Value, m.ValueSize)
	}
	if m := r.Maps["walk_tasks"]; m.MaxEntries != spec.Maps["walk_tasks"].MaxEntries || m.InnerMap == nil || m.InnerMap.Value != nil {
		t.Errorf("walk_tasks: %d entries, inner %+v", m.MaxEntries, m.InnerMap)
	}
	if m := spec.Maps["cmd_slots"]; m.MaxEntries != before || m.Value == nil {
		t.Errorf("the spec's cmd_slots changed: %d entries, value %v", m.MaxEntries, m.Value)
	}
	if m := spec.Maps["walk_tasks"]; m.InnerMap.Value == nil {
		t.Error("the spec's walk_tasks lost its inner map's value type")
	}
	if r.Maps["cmd_pages"] != spec.Maps["cmd_pages"] || r.Programs["pinspect_cmdlines"] != spec.Programs["pinspect_cmdlines"] {
		t.Error("a map or program not named was copied")
	}
	if len(r.Programs) != 1 || len(spec.Programs) < 2 {
		t.Errorf("programs: %d in the load's spec (want only pinspect_cmdlines), %d in the spec", len(r.Programs), len(spec.Programs))
	}
}
