package collector

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestBPFIdentitiesAgree holds the identity program's answers
// (Options.BPFIdentities) to /proc/PID/stat's, field by field, for live
// processes of every shape a kernel event source looks up: a threaded
// helper, its threads (read from /proc either way), a zombie with its
// exit status, a stopped process, a process whose main thread exited,
// init, a kernel thread (its name is read from /proc), a pid that does
// not exist, and this process (on the fields that do not move while it
// runs). Without the option's program loaded the test fails: it must
// answer here, as root on a kernel with the walk. The same with the
// program run in raw system calls (Options.BPFRawRuns, the dashboard's).
func TestBPFIdentitiesAgree(t *testing.T) {
	for _, raw := range []bool{false, true} {
		t.Run(map[bool]string{false: "run", true: "raw"}[raw], func(t *testing.T) { bpfIdentitiesAgree(t, raw) })
	}
}

func bpfIdentitiesAgree(t *testing.T, raw bool) {
	r := newIterReader(t, Options{BPFIdentities: true, NoTaskstats: true, BPFRawRuns: raw})
	if !r.iter.Walking() {
		t.Skip("no BPF walk on this kernel: the identity program is not loaded")
	}
	if r.idents == nil {
		t.Fatalf("BPFIdentities: the identity program did not load: %v", r.iter.IdentsUnavailable)
	}
	p, err := NewReader(Options{Backend: BackendProc, NoTaskstats: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	threads := livehelper.Start(t, "threads", "3")
	zombies := livehelper.Start(t, "zombies", "1")
	leaderExited := livehelper.Start(t, "leaderexit")
	stopped := exec.Command("sleep", "600")
	stopped.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the test binary, should it die
	if err := livehelper.StartSteady(stopped); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopped.Process.Kill(); _ = stopped.Wait() })
	if err := stopped.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, stopped.Process.Pid, 'T')
	waitState(t, zombies.PIDs[1], 'Z')
	const gone = 1 << 22
	qs := []IdentityQuery{
		{PID: threads.PID(), Exe: true},
		{PID: threads.PID(), TID: threads.TIDs[0]},
		{PID: zombies.PID()},
		{PID: zombies.PIDs[1], Exe: true},
		{PID: leaderExited.PID(), Exe: true},
		{PID: stopped.Process.Pid, Exe: true},
		{PID: 1},
		{PID: 2}, // kthreadd
		{PID: gone},
		{PID: os.Getpid()},
	}
	// A kernel thread whose name is longer than a comm's 15 bytes: the
	// program finds it, and its name must still come from /proc.
	if pid := longNamedKernelThread(t, p); pid != 0 {
		qs = append(qs, IdentityQuery{PID: pid})
	} else {
		t.Log("no kernel thread with a name over 15 bytes on this machine")
	}
	before := r.identsFromBPF.Load()
	got := r.Identities(qs, nil)
	// Six answers are the program's: the threaded helper, the zombies'
	// parent, the zombie, the leader-exited process, the stopped one and
	// this process (init may be hidden from BPF; the thread, the kernel
	// threads and the gone pid read /proc).
	if n := r.identsFromBPF.Load() - before; n < 6 || n > 7 {
		t.Errorf("%d answers from the identity program, want 6 (7 with init)", n)
	}
	want := p.Identities(qs, nil)
	if len(got) != len(qs) || len(want) != len(qs) {
		t.Fatalf("%d and %d results for %d queries", len(got), len(want), len(qs))
	}
	for i, q := range qs {
		g, w := got[i], want[i]
		if (g.Err == nil) != (w.Err == nil) || IsVanished(g.Err) != IsVanished(w.Err) {
			t.Errorf("query %+v: error %v, /proc's %v", q, g.Err, w.Err)
			continue
		}
		if q.PID == os.Getpid() {
			// Running: its state and thread count may move between reads.
			g.State, g.NumThreads = w.State, w.NumThreads
		}
		if wakes := func(s byte) bool { return s == 'R' || s == 'S' }; wakes(g.State) && wakes(w.State) {
			// A task that wakes (the helper's threads) can be running at
			// one read and asleep at the other (seen under make test's
			// load: the thread R in one, S in the other).
			g.State = w.State
		}
		g.Err, w.Err = nil, nil
		if g != w {
			t.Errorf("query %+v:\n got %+v\nwant %+v", q, g.Identity, w.Identity)
		}
	}
	if !IsVanished(got[8].Err) {
		t.Errorf("pid %d: %v, want vanished", gone, got[8].Err)
	}
	// The answers above came from the program, not from /proc.
	ids, err := r.idents.Run([]int{threads.PID(), zombies.PIDs[1], stopped.Process.Pid, gone}, nil)
	if err != nil || len(ids) != 4 || !ids[0].Found || !ids[1].Found || !ids[2].Found || ids[3].Found {
		t.Errorf("identity program: %v, %+v", err, ids)
	}
	if got[3].State != 'Z' || got[5].State != 'T' {
		t.Errorf("zombie %c, stopped %c", got[3].State, got[5].State)
	}
}

// longNamedKernelThread returns a kernel thread's pid whose /proc name is
// longer than the 15 bytes of its comm, or 0 when there is none.
func longNamedKernelThread(t *testing.T, p *Reader) int {
	t.Helper()
	snap, err := p.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range snap.Processes {
		pr := &snap.Processes[i]
		if pr.IsKernelThread() && len(pr.Comm) > 15 {
			return pr.PID
		}
	}
	return 0
}
