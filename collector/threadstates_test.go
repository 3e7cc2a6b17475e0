package collector

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// recount counts a snapshot's threads by state as ThreadStates should
// from its kept threads: each process's Threads when it has SrcTasks, else
// its one thread in its own state, or its NumThreads as unknown.
func recount(s *Snapshot) ThreadStates {
	var c ThreadStates
	for i := range s.Processes {
		p := &s.Processes[i]
		switch {
		case p.Read&SrcTasks != 0:
			for j := range p.Threads {
				c.Add(p.Threads[j].State)
			}
		case p.NumThreads <= 1:
			c.Add(p.State)
		default:
			c.Unknown += int(p.NumThreads)
		}
	}
	return c
}

// TestIterThreadStates holds a task-iterator scan's count of threads by
// state (Snapshot.ThreadStates) to the threads themselves: exact in a scan
// that keeps every thread, and, in a scan that has the kernel sum them,
// equal to a kept scan's count of the states that do not wobble (stopped
// and zombie threads, and none unknown: the processes the pass does not
// show are read with their threads), the stopped helper's five threads
// among them.
func TestIterThreadStates(t *testing.T) {
	r := newIterReader(t, Options{})
	h := livehelper.Start(t, "threads", "5")
	if err := syscall.Kill(h.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(h.PID(), syscall.SIGCONT) })
	waitState(t, h.PID(), 'T')
	ctx := context.Background()
	stopped, zombie := strings.IndexByte(StateLetters, 'T'), strings.IndexByte(StateLetters, 'Z')
	var kept, summed *Snapshot
	for try := 0; ; try++ {
		var err error
		if kept, err = r.Scan(ctx, ScanOptions{Threads: true}); err != nil {
			t.Fatal(err)
		}
		if summed, err = r.Scan(ctx, ScanOptions{ThreadStates: true}); err != nil {
			t.Fatal(err)
		}
		if kept.ThreadStates == nil || summed.ThreadStates == nil {
			t.Fatalf("no thread states counted: kept %v, summed %v", kept.ThreadStates, summed.ThreadStates)
		}
		if got, want := *kept.ThreadStates, recount(kept); got != want {
			t.Fatalf("a scan with every thread counted %+v; its threads say %+v", got, want)
		}
		k, s := kept.ThreadStates, summed.ThreadStates
		if k.ByState[stopped] == s.ByState[stopped] && k.ByState[zombie] == s.ByState[zombie] && s.Unknown == k.Unknown {
			break
		}
		// Another program stopped, continued or reaped a thread between
		// the two scans: try again.
		if try == 50 {
			t.Fatalf("summed scan counted %d stopped, %d zombie and %d unknown threads, the kept scan %d, %d and %d (50 tries)",
				s.ByState[stopped], s.ByState[zombie], s.Unknown, k.ByState[stopped], k.ByState[zombie], k.Unknown)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if summed.ThreadsRead {
		t.Fatal("a scan without threads says it read them")
	}
	if n := summed.ThreadStates.ByState[stopped]; n < 5 {
		t.Errorf("summed scan counted %d stopped threads; the stopped helper has 5", n)
	}
	// The threads of the processes the pass did not show: counted by
	// state, none unknown. Only a process hidden from the pass with
	// threads of its own shows it (pid 1 of this machine's sandbox).
	hidden := hiddenWithThreads(t, r, summed)
	if summed.ThreadStates.Unknown != 0 {
		t.Errorf("summed scan counted %d threads of unknown state; the processes the pass did not show: %v", summed.ThreadStates.Unknown, hidden)
	}
}

// hiddenWithThreads returns the processes of s, r's last scan, that the
// pass did not show (read from /proc) and that have more than one
// thread, as "pid (comm, N threads)". Without one, what a test holds of
// them cannot be checked: it skips, saying so, rather than pass on
// nothing (the pass may show every process on another machine: this
// one's hides the sandbox's init, pid 1, and its 41 threads).
func hiddenWithThreads(t *testing.T, r *Reader, s *Snapshot) []string {
	t.Helper()
	var out []string
	for _, pid := range r.idle.iterHidden {
		if i, ok := SearchPID(s.Processes, pid); ok && s.Processes[i].NumThreads > 1 {
			p := &s.Processes[i]
			out = append(out, fmt.Sprintf("%d (%s, %d threads)", pid, p.Comm, p.NumThreads))
		}
	}
	if len(out) == 0 {
		t.Skipf("the task iterator's pass showed every process with threads (hidden from it: %v): nothing here to check what the scan does with the ones it does not show", r.idle.iterHidden)
	}
	return out
}

// TestIterThreadStatesKeepsSwitchSource: without taskstats, a scan that
// counts thread states without reading threads (serve's between API
// clients) gives each process's context switches the source a scan with
// threads gives them: a process the pass does not show (a sandbox's
// init) was read leader-only in one and summed over its threads in the
// other, and its counters went back and forth (35,304, 371, 35,304).
func TestIterThreadStatesKeepsSwitchSource(t *testing.T) {
	r := newIterReader(t, Options{NoTaskstats: true})
	h := livehelper.Start(t, "threads", "5")
	ctx := context.Background()
	with, err := r.Scan(ctx, ScanOptions{Threads: true})
	if err != nil {
		t.Fatal(err)
	}
	states, err := r.Scan(ctx, ScanOptions{ThreadStates: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, p := range states.Processes {
		q, ok := SearchPID(with.Processes, p.PID)
		if !ok || p.NumThreads < 2 || with.Processes[q].StartTicks != p.StartTicks {
			continue
		}
		seen = seen || p.PID == h.PID()
		if a, b := with.Processes[q].CtxSource, p.CtxSource; a != b {
			t.Errorf("pid %d (%s, %d threads): switches %s in a scan with threads, %s in one with thread states only",
				p.PID, p.Comm, p.NumThreads, a, b)
		}
	}
	if !seen {
		t.Fatalf("the helper %d (5 threads) is in neither scan", h.PID())
	}
	// The pass's processes agree whatever the scan: the comparison
	// above holds something only for a process the pass did not show.
	t.Logf("compared, hidden from the pass: %v", hiddenWithThreads(t, r, states))
}
