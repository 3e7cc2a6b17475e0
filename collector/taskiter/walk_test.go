package taskiter

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestWalkUsedWhereAvailable: on Linux 6.7 and later, as root, passes
// use the walk (one program run), not the seq_file iterator.
func TestWalkUsedWhereAvailable(t *testing.T) {
	it := openForTest(t)
	if !kernelAtLeast(6, 7) {
		t.Skipf("kernel %s has no open-coded task iterator", kernelRelease())
	}
	if !it.Walking() || it.WalkUnavailable != nil {
		t.Fatalf("walking %v: %v", it.Walking(), it.WalkUnavailable)
	}
}

// TestWalkOrder: the walk gives processes in ascending pid order, each
// leader with its group record first and then its own threads.
func TestWalkOrder(t *testing.T) {
	it := openForTest(t)
	if !it.Walking() {
		t.Skip(it.WalkUnavailable)
	}
	last, leader := 0, 0
	st, err := it.Pass(func(tk *Task) error {
		if tk.TID == tk.TGID {
			if tk.Group == nil {
				return fmt.Errorf("leader %d without a group record", tk.TID)
			}
			if tk.TID <= last {
				return fmt.Errorf("process %d after %d", tk.TID, last)
			}
			last, leader = tk.TID, tk.TID
			return nil
		}
		if tk.Group != nil {
			return fmt.Errorf("thread %d with a group record", tk.TID)
		}
		if tk.TGID != leader {
			return fmt.Errorf("thread %d of %d after leader %d", tk.TID, tk.TGID, leader)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Groups == 0 || st.Tasks < st.Groups {
		t.Fatalf("%+v", st)
	}
}

// TestWalkMatchesSeqFile runs a pass of the walk and one of the seq_file
// iterator and compares every task both saw on what does not change
// while it lives.
func TestWalkMatchesSeqFile(t *testing.T) { walkMatchesSeqFile(t) }

// TestWalkWindows is TestWalkMatchesSeqFile read through the smallest
// windows (a whole number of pages and records: 256 task records), with
// a process of 800 threads so that the arrays span several windows.
func TestWalkWindows(t *testing.T) {
	old := winBytes
	winBytes = 1
	t.Cleanup(func() { winBytes = old })
	livehelper.Start(t, "threads", "800")
	walkMatchesSeqFile(t)
}

func walkMatchesSeqFile(t *testing.T) {
	walk := openForTest(t)
	if !walk.Walking() {
		t.Skip(walk.WalkUnavailable)
	}
	seq, err := Open(Options{SeqFile: true})
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	if seq.Walking() {
		t.Fatal("SeqFile: the walk was loaded")
	}
	// The walk between two seq_file passes: a difference counts only
	// where both seq_file passes agree (a process that exits or execs
	// between the passes changes).
	a, b, c := passAll(t, seq), passAll(t, walk), passAll(t, seq)
	both := 0
	for tid, sb := range b {
		sa, sc := a[tid], c[tid]
		if sa == nil || sc == nil || sa.task.StartBootNs != sb.task.StartBootNs || sc.task.StartBootNs != sb.task.StartBootNs {
			continue // born or gone between the passes
		}
		both++
		ta, tb, tc := &sa.task, &sb.task, &sc.task
		if ta.TGID != tb.TGID && ta.TGID == tc.TGID {
			t.Errorf("task %d: walk tgid %d, seq_file %d", tid, tb.TGID, ta.TGID)
		}
		if (ta.Group == nil) != (tb.Group == nil) && (ta.Group == nil) == (tc.Group == nil) {
			t.Errorf("task %d: group record walk %v seq_file %v", tid, tb.Group != nil, ta.Group != nil)
			continue
		}
		if ta.Group == nil || tb.Group == nil || tc.Group == nil {
			continue
		}
		key := func(g *Group) string {
			return fmt.Sprint(g.UIDs, g.GIDs, g.SID, nspids(g), g.CapBnd, g.HasMM, g.StartCode, g.EndCode)
		}
		ka, kb, kc := key(ta.Group), key(tb.Group), key(tc.Group)
		if ka == kc && ka != kb {
			t.Errorf("process %d: walk %s, seq_file %s both times", tid, kb, ka)
		}
	}
	// The seq_file iterator walks this pid namespace's pids; the walk
	// the task list: nearly every task is in all three passes.
	if both < len(a)*9/10 {
		t.Errorf("only %d of %d tasks in every pass (walk saw %d)", both, len(a), len(b))
	}
	t.Logf("%d tasks compared (walk %d, seq_file %d and %d)", both, len(b), len(a), len(c))
}

// TestWalkUnavailableLine: a kernel without the open-coded iterator's
// kfuncs gets one line naming the reason and the fallback.
func TestWalkUnavailableLine(t *testing.T) {
	err := walkUnavailable(fmt.Errorf("load program: %w", ebpf.ErrNotSupported))
	line := err.Error()
	if !strings.Contains(line, "open-coded task iterator (Linux 6.7 or later)") || !strings.Contains(line, "per-task iterator") || strings.Contains(line, "\n") {
		t.Errorf("%q", line)
	}
	if errors.Is(err, os.ErrNotExist) {
		t.Errorf("%v", err)
	}
}

// TestWalkSumsThreads: with SumThreads the walk visits the threads of the
// processes asked for only; every other process's live threads are in
// its Group.ThreadSums, counted in PassStats.Tasks.
func TestWalkSumsThreads(t *testing.T) {
	it := openForTest(t)
	if !it.Walking() {
		t.Skip(it.WalkUnavailable)
	}
	self := os.Getpid()
	ownThreads, others, summed := 0, 0, 0
	st, err := it.PassWith(PassOptions{SumThreads: true, ThreadsOf: []int{self}}, func(tk *Task) error {
		switch {
		case tk.TGID == self:
			ownThreads++
			if tk.Group != nil && tk.Group.ThreadSums.Threads != 0 {
				return fmt.Errorf("own process summed %d threads", tk.Group.ThreadSums.Threads)
			}
		case tk.Group == nil:
			others++
		default:
			summed += tk.Group.ThreadSums.Threads
			if n := tk.Group.ThreadSums.Threads + 1; tk.Group.NumThreads > 0 && n > tk.Group.NumThreads+1 {
				return fmt.Errorf("process %d: %d threads summed, %d live", tk.TID, n-1, tk.Group.NumThreads)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if others != 0 {
		t.Errorf("%d threads of other processes visited", others)
	}
	if ownThreads < 2 {
		t.Errorf("own threads visited: %d (a Go test binary has several)", ownThreads)
	}
	if st.Tasks < st.Groups+summed {
		t.Errorf("stats %+v, %d summed", st, summed)
	}
	// The same pass again, every thread: as many tasks, give or take the
	// machine's churn.
	full, err := it.Pass(func(*Task) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if d := full.Tasks - st.Tasks; d > full.Tasks/10 || -d > full.Tasks/10 {
		t.Errorf("summed pass saw %d tasks, full pass %d", st.Tasks, full.Tasks)
	}
	t.Logf("summed pass: %+v (%d threads summed); full pass: %+v", st, summed, full)
}
