package collector

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStuckBudgets is pinspect serve's hung-process attack at the
// Reader's level: API clients read the address space of processes whose
// maps never answer (FIFOs, like a process whose mmap lock is held by a
// thread stuck on a FUSE file), each request with a fresh Reader as the
// agent makes them.
//
//   - A process known to hang is not read again by anyone while its read
//     is stuck: 70 requests for it hold one stuck read, not 70.
//   - Each client has its own budget, and all clients together one more:
//     a client that spent its own cannot spend anyone else's.
//   - The scanner's budget is its own: with the API budget spent, a
//     snapshot still reads every command line.
func TestStuckBudgets(t *testing.T) {
	root := copyTree(t)
	hung := []int{400, 401, 402, 403, 404, 405}
	var fifos []string
	for _, pid := range hung {
		addProcess(t, root, pid, []byte("hung\x00"))
		fifos = append(fifos, filepath.Join(root, strconv.Itoa(pid), "maps"))
	}
	for pid := 300; pid < 400; pid++ {
		addProcess(t, root, pid, []byte("ok\x00"))
	}
	// The scanner's own stuck target: a cmdline that never answers.
	addProcess(t, root, 600, nil)
	fifos = append(fifos, filepath.Join(root, "600", "cmdline"))
	for _, f := range fifos {
		if err := unix.Mkfifo(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, f := range fifos {
			for range 4 {
				releaseFIFO(f)
			}
		}
	})
	const timeout = 30 * time.Millisecond
	api := NewStuckBudget(4, nil)
	baseline := processBudget.Stuck()
	request := func(client *StuckBudget, pid int) string {
		t.Helper()
		r, err := NewReader(Options{Root: root, ReadTimeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		as, err := r.AddressSpace(pid, AddrOptions{StuckBudget: client})
		if err != nil {
			t.Fatalf("pid %d: %v", pid, err)
		}
		return as.Unavailable["maps"]
	}

	// One hung process, 70 requests from 70 clients.
	for i := range 70 {
		want := "timeout (still stuck)"
		if i == 0 {
			want = "timeout"
		}
		if got := request(NewStuckBudget(2, api), 400); got != want {
			t.Fatalf("request %d for the hung process: maps %q, want %q", i, got, want)
		}
	}
	if got := api.Stuck(); got != 1 {
		t.Errorf("70 requests for one hung process hold %d stuck reads, want 1", got)
	}

	// Per client: a spends its 2, then is refused; b still has its own.
	a, b, c := NewStuckBudget(2, api), NewStuckBudget(2, api), NewStuckBudget(2, api)
	for _, step := range []struct {
		client *StuckBudget
		pid    int
		want   string
	}{
		{a, 401, "timeout"},
		{a, 402, "timeout"},
		{a, 403, "skipped (reads stuck)"}, // a's budget is spent
		{b, 403, "timeout"},               // the API budget (4) is now spent
		{c, 404, "skipped (reads stuck)"},
	} {
		if got := request(step.client, step.pid); got != step.want {
			t.Errorf("pid %d: maps %q, want %q", step.pid, got, step.want)
		}
	}
	if api.Stuck() != 4 || a.Stuck() != 2 || b.Stuck() != 1 || c.Stuck() != 0 {
		t.Errorf("stuck: api %d, a %d, b %d, c %d; want 4, 2, 1, 0", api.Stuck(), a.Stuck(), b.Stuck(), c.Stuck())
	}
	if got := processBudget.Stuck(); got != baseline {
		t.Errorf("API reads charged the process-wide default budget: %d, was %d", got, baseline)
	}

	// The scanner: its budget is untouched by the API's.
	r, err := NewReader(Options{Root: root, ReadTimeout: timeout, CmdlineTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snap, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for pid := 300; pid < 400; pid++ {
		p := findProcess(snap, pid)
		if p == nil || len(p.Cmdline) != 1 || p.Unavailable["cmdline"] != "" {
			t.Fatalf("scanner, pid %d: %+v", pid, p)
		}
	}
	if p := findProcess(snap, 600); p == nil || p.Unavailable["cmdline"] != "timeout" {
		t.Errorf("scanner, pid 600: %+v", p)
	}

	for _, f := range fifos {
		releaseFIFO(f)
	}
	waitFor(t, "stuck reads to drain", func() bool { return api.Stuck() == 0 && r.StuckReads() == 0 })
	for _, pid := range append(hung, 600) {
		if target := filepath.Join(root, strconv.Itoa(pid)); targetStuck(target) {
			t.Errorf("%s still marked stuck after the drain", target)
		}
	}
}
