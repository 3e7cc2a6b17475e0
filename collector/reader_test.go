package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

func fixtureReader(t *testing.T, scenario string, threads bool) *Reader {
	t.Helper()
	r, err := NewReader(Options{
		Root: filepath.Join("..", "fixtures", "proc", scenario), Threads: threads,
		PasswdPath: filepath.Join("..", "fixtures", "passwd"),
		Now:        func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func snap(t *testing.T, r *Reader) *Snapshot {
	t.Helper()
	s, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func find(s *Snapshot, pid int) *Process {
	for i := range s.Processes {
		if s.Processes[i].PID == pid {
			return &s.Processes[i]
		}
	}
	return nil
}

func TestFixtureMultithread(t *testing.T) {
	s := snap(t, fixtureReader(t, "multithread", true))
	if len(s.Processes) != 2 || s.Counts != (ScanCounts{Listed: 2}) {
		t.Fatalf("processes %d counts %+v", len(s.Processes), s.Counts)
	}
	p := find(s, 100)
	if p == nil || len(p.Threads) != 3 || p.NumThreads != 3 {
		t.Fatalf("pid 100: %+v", p)
	}
	// The process total is the sum over threads, not the leader's status.
	if p.VolCtx != 3+1500+900 || p.InvolCtx != 1+40+25 || p.CtxSource != CtxThreadSum {
		t.Errorf("ctx totals %d/%d (%s)", p.VolCtx, p.InvolCtx, p.CtxSource)
	}
	if p.LeaderVol != 3 || p.LeaderInv != 1 {
		t.Errorf("leader %d/%d", p.LeaderVol, p.LeaderInv)
	}
	if p.Threads[1].Comm != "worker-1" || p.Threads[1].State != 'R' || p.Threads[1].UTimeTicks != 300 {
		t.Errorf("thread 101: %+v", p.Threads[1])
	}
	if p.User != "alice" || p.Exe != "/usr/bin/server" || len(p.Cmdline) != 3 || p.Cmdline[2] != "8080" {
		t.Errorf("identity: user %q exe %q cmdline %q", p.User, p.Exe, p.Cmdline)
	}
	want := time.Unix(1700000000, 0).Add(20 * time.Second).UTC()
	if !p.StartedAt.Equal(want) || p.StartTicks != 2000 {
		t.Errorf("started %v (ticks %d), want %v", p.StartedAt, p.StartTicks, want)
	}
	h := s.Host
	if h.Hostname != "fixture-host" || h.Kernel != "6.1.0-fixture" || h.CPUs != 2 || h.ContextSwitches != 123456 ||
		h.ProcsRunning != 2 || h.ProcsBlocked != 1 || h.Load1 != 0.5 || h.MemTotalBytes != 4046012*1024 {
		t.Errorf("host %+v", h)
	}
	// Without threads, the totals are the leader's and say so.
	s = snap(t, fixtureReader(t, "multithread", false))
	p = find(s, 100)
	if p.Threads != nil || p.VolCtx != 3 || p.CtxSource != CtxLeaderOnly || s.CtxSwitchSource != CtxLeaderOnly {
		t.Errorf("no threads: %d threads, vol %d, %s", len(p.Threads), p.VolCtx, p.CtxSource)
	}
}

func TestFixtureZombieAndKthread(t *testing.T) {
	s := snap(t, fixtureReader(t, "zombie", true))
	z := find(s, 201)
	if z == nil || !z.IsZombie() || z.PPID != 200 || DecodeWaitStatus(z.ExitCode).String() != "exit 1" {
		t.Fatalf("zombie 201: %+v", z)
	}
	if z := find(s, 202); DecodeWaitStatus(z.ExitCode).String() != "killed by SIGKILL" {
		t.Errorf("zombie 202 exit %v", z.ExitCode)
	}
	if len(z.Unavailable) != 0 {
		t.Errorf("a zombie's missing exe is not an error: %v", z.Unavailable)
	}
	s = snap(t, fixtureReader(t, "kthread", true))
	for _, pid := range []int{2, 50} {
		if p := find(s, pid); p == nil || !p.IsKernelThread() || len(p.Cmdline) != 0 {
			t.Errorf("pid %d: %+v", pid, p)
		}
	}
	if find(s, 1).IsKernelThread() {
		t.Error("init is not a kernel thread")
	}
}

func TestFixtureHostileComm(t *testing.T) {
	s := snap(t, fixtureReader(t, "hostile-comm", true))
	p := find(s, 400)
	if p == nil || p.Comm != ") (x y\nz" || p.State != 'S' || p.PPID != 1 {
		t.Fatalf("pid 400: %+v", p)
	}
	if p := find(s, 401); p.Comm != "x) Z 1 (" || p.IsZombie() || p.PPID != 1 || p.State != 'S' {
		t.Errorf("pid 401: comm %q state %c", p.Comm, p.State)
	}
}

func TestFixtureVanishedAndBadStat(t *testing.T) {
	s := snap(t, fixtureReader(t, "vanished", true))
	if find(s, 500) != nil || s.Counts.Vanished != 1 || len(s.Processes) != 2 {
		t.Errorf("vanished: %d processes, counts %+v", len(s.Processes), s.Counts)
	}
	s = snap(t, fixtureReader(t, "bad-stat", true))
	if s.Counts.Unreadable != 3 || s.Counts.ParseErrors < 3 {
		t.Errorf("counts %+v", s.Counts)
	}
	for _, pid := range []int{600, 601, 602} {
		p := find(s, pid)
		if p == nil || p.Read&SrcStat != 0 || p.Unavailable["stat"] == "" {
			t.Errorf("pid %d kept with a reason: %+v", pid, p)
		}
	}
	if len(s.Problems) < 3 {
		t.Errorf("problems %v", s.Problems)
	}
}

func TestNewReaderBadRoot(t *testing.T) {
	if _, err := NewReader(Options{Root: "/nonexistent/proc"}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing root: %v", err)
	}
	if _, err := NewReader(Options{Root: t.TempDir()}); !errors.Is(err, ErrNotProc) {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := NewReader(Options{Root: "/etc/passwd"}); !errors.Is(err, ErrNotProc) {
		t.Errorf("file: %v", err)
	}
}

// TestLiveThreads: a real process with 5 threads is found with 5 thread
// rows, and its context-switch totals are the sum over them (the /proc
// path: taskstats, used as root, is checked in taskstats_test.go).
func TestLiveThreads(t *testing.T) {
	h := livehelper.Start(t, "threads", "5")
	r, err := NewReader(Options{Threads: true, NoTaskstats: true, Backend: BackendProc})
	if err != nil {
		t.Fatal(err)
	}
	// The two fast workers switch every 2 ms: wait until they have.
	var p *Process
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); livehelper.Sleep() {
		if p = find(snap(t, r), h.PID()); p != nil && p.VolCtx > p.LeaderVol+20 {
			break
		}
	}
	if p == nil {
		t.Fatalf("helper %d not found", h.PID())
	}
	if len(p.Threads) != 5 || p.NumThreads != 5 || p.Comm != "procshape" {
		t.Fatalf("threads %d num %d comm %q", len(p.Threads), p.NumThreads, p.Comm)
	}
	var vol, inv uint64
	tids := map[int]bool{}
	for _, th := range p.Threads {
		if !th.HasStatus || (th.State != 'S' && th.State != 'R') {
			t.Errorf("thread %+v", th)
		}
		vol, inv = vol+th.VolCtx, inv+th.InvolCtx
		tids[th.TID] = true
	}
	for _, tid := range h.TIDs {
		if !tids[tid] {
			t.Errorf("worker tid %d missing from %v", tid, tids)
		}
	}
	if p.VolCtx != vol || p.InvolCtx != inv || p.CtxSource != CtxThreadSum {
		t.Errorf("totals %d/%d, sum %d/%d, source %s", p.VolCtx, p.InvolCtx, vol, inv, p.CtxSource)
	}
	if p.VolCtx <= p.LeaderVol {
		t.Errorf("process total %d should exceed the leader's %d", p.VolCtx, p.LeaderVol)
	}
	if p.Exe == "" || p.User != "root" && os.Getuid() == 0 {
		t.Errorf("exe %q user %q", p.Exe, p.User)
	}
}

// TestLiveMatchesListing: every pid present in /proc both before and after
// a scan is in the snapshot.
func TestLiveMatchesListing(t *testing.T) {
	r, err := NewReader(Options{Threads: true})
	if err != nil {
		t.Fatal(err)
	}
	before := listPIDs(t)
	s := snap(t, r)
	after := listPIDs(t)
	for pid := range before {
		if after[pid] && find(s, pid) == nil {
			t.Errorf("pid %d alive throughout but not listed", pid)
		}
	}
	if s.Counts.Listed < len(s.Processes) || len(s.Processes) == 0 {
		t.Errorf("listed %d, processes %d", s.Counts.Listed, len(s.Processes))
	}
}

func listPIDs(t *testing.T) map[int]bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]bool{}
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			m[pid] = true
		}
	}
	return m
}

// TestLiveZombie: a real zombie shows state Z and its decoded exit status.
func TestLiveZombie(t *testing.T) {
	h := livehelper.Start(t, "zombies", "2")
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); ; livehelper.Sleep() {
		s := snap(t, r)
		ok := true
		for i, pid := range h.PIDs[1:] {
			z := find(s, pid)
			if z == nil || !z.IsZombie() {
				ok = false
				continue
			}
			if got := DecodeWaitStatus(z.ExitCode); !got.Exited || got.Code != i+1 || z.PPID != h.PID() {
				t.Fatalf("zombie %d: exit %v ppid %d", pid, got, z.PPID)
			}
		}
		if ok {
			return
		}
		if time.Now().After(end) {
			t.Fatal("zombies not seen")
		}
	}
}

// TestLiveVanished: processes that exit while a scan runs are counted as
// vanished, never reported as errors.
func TestLiveVanished(t *testing.T) {
	r, err := NewReader(Options{Threads: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var started atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if exec.Command("/bin/true").Run() == nil {
					started.Add(1)
				}
			}
		}()
	}
	defer wg.Wait()
	defer cancel()
	var vanished int
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end) && vanished == 0; {
		s := snap(t, r)
		vanished = s.Counts.Vanished + s.Counts.VanishedThreads
		if s.Counts.ParseErrors != 0 {
			t.Fatalf("parse errors during churn: %+v %v", s.Counts, s.Problems)
		}
	}
	if vanished == 0 {
		t.Fatalf("no vanished process counted in 20 s of churn (%d started)", started.Load())
	}
}

// TestListTasksShortRead: listing the threads of a real 150-thread process
// through buffers too small for one read gives every thread the directory
// holds.
func TestListTasksShortRead(t *testing.T) {
	h := livehelper.Start(t, "threads", "150")
	dir := fmt.Sprintf("/proc/%d/task", h.PID())
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, e := range ents {
		id, _ := strconv.Atoi(e.Name())
		want = append(want, id)
	}
	if len(want) != 150 {
		t.Fatalf("helper has %d threads, want 150", len(want))
	}
	slices.Sort(want)
	for _, size := range []int{48, 200, 1000, 4096, 32 << 10} {
		got, err := listNumeric(append([]byte(dir), 0), make([]byte, size), nil)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("buffer %d: %d threads listed, want %d", size, len(got), len(want))
		}
	}
}
