package collector

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkSnapshotDeadline compares a process snapshot of the real /proc
// with cmdline read through the deadline workers (the default) and inline
// (ReadTimeout < 0): the cost of the handoff.
func BenchmarkSnapshotDeadline(b *testing.B) {
	for _, c := range []struct {
		name    string
		timeout time.Duration
	}{{"deadline", 0}, {"inline", -1}} {
		b.Run(c.name, func(b *testing.B) {
			r, err := NewReader(Options{ReadTimeout: c.timeout})
			if err != nil {
				b.Fatal(err)
			}
			procs := 0
			for b.Loop() {
				snap, err := r.SnapshotThreads(context.Background(), false)
				if err != nil {
					b.Fatal(err)
				}
				procs = len(snap.Processes)
			}
			b.ReportMetric(float64(procs), "procs")
		})
	}
}

// BenchmarkCmdlineRead is the per-read cost of one /proc/self/cmdline read
// inline and through a deadline worker.
func BenchmarkCmdlineRead(b *testing.B) {
	p := newPathBuf("/proc")
	path := append([]byte(nil), p.setTop("self/cmdline")...)
	buf := make([]byte, 0, 4096)
	b.Run("inline", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := readAt(path, &buf, DefaultCmdlineMax); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("deadline", func(b *testing.B) {
		d := newDeadlineReads(DefaultReadTimeout, "", nil)
		defer d.close()
		for b.Loop() {
			if _, _, err := d.read(path, &buf, DefaultCmdlineMax); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDeadlineBatch: a batch with blocking files (FIFOs, like /proc reads
// stuck on a D-state target) among regular ones gives each blocked item
// its own timeout and still reads every item after it; the stuck files
// are not retried while stuck, and the bookkeeping drains to zero when
// they are released.
func TestDeadlineBatch(t *testing.T) {
	dir := t.TempDir()
	// Another test of the package may still hold a stuck read of its own
	// (a hung process's, released at its cleanup and returning later):
	// this test's reads must leave the process-wide count where it was.
	baseline := processBudget.Stuck()
	names := []string{"a", "fifo1", "b", "fifo2", "c"}
	b := &batch{}
	b.reset(1024)
	for _, n := range names {
		path := filepath.Join(dir, n)
		if strings.HasPrefix(n, "fifo") {
			if err := unix.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { releaseFIFO(path) })
		} else {
			mustWrite(t, path, []byte(strings.ToUpper(n)))
		}
		b.add(append([]byte(path), 0))
	}
	d := newDeadlineReads(50*time.Millisecond, dir, nil)
	defer d.close()
	check := func(round string, fifoErr error) {
		t.Helper()
		d.readBatch(b)
		for i, n := range names {
			data, _, err := b.result(i)
			if strings.HasPrefix(n, "fifo") {
				if err != fifoErr {
					t.Errorf("%s: %s: err %v, want %v", round, n, err, fifoErr)
				}
				continue
			}
			if err != nil || string(data) != strings.ToUpper(n) {
				t.Errorf("%s: %s: %q, %v", round, n, data, err)
			}
		}
	}
	check("first", ErrTimeout)
	if got := d.stuckReads(); got != 2 {
		t.Fatalf("stuck reads %d, want 2", got)
	}
	check("while stuck", errStillStuck)
	for _, n := range names {
		if strings.HasPrefix(n, "fifo") {
			releaseFIFO(filepath.Join(dir, n))
		}
	}
	waitFor(t, "stuck reads to drain", func() bool { return d.stuckReads() == 0 })
	if n := processBudget.Stuck(); n > baseline {
		t.Errorf("process-wide stuck count %d after the drain, %d before the test", n, baseline)
	}
}

// TestDeadlineBatchPerItem: every item of a batch has its own deadline.
// Two reads that each take 0.6 s (FIFOs written late) pass under a 1 s
// deadline although together they take longer than it, and the fast file
// after them is read too.
func TestDeadlineBatchPerItem(t *testing.T) {
	dir := t.TempDir()
	b := &batch{}
	b.reset(1024)
	for i, n := range []string{"slow1", "slow2"} {
		path := filepath.Join(dir, n)
		if err := unix.Mkfifo(path, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { releaseFIFO(path) })
		b.add(append([]byte(path), 0))
		go func() {
			// Blocks until the worker opens the FIFO to read it.
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			defer f.Close()
			time.Sleep(600 * time.Millisecond)
			f.WriteString("S" + strconv.Itoa(i+1))
		}()
	}
	mustWrite(t, filepath.Join(dir, "fast"), []byte("F"))
	b.add(append([]byte(filepath.Join(dir, "fast")), 0))
	d := newDeadlineReads(time.Second, dir, nil)
	defer d.close()
	d.readBatch(b)
	for i, want := range []string{"S1", "S2", "F"} {
		if data, _, err := b.result(i); err != nil || string(data) != want {
			t.Errorf("item %d: %q, %v; want %q", i, data, err, want)
		}
	}
	if n := d.stuckReads(); n != 0 {
		t.Errorf("%d reads stuck", n)
	}
}

// TestDeadlineCallWatched: a watched call (the cmdline program's run)
// gets another deadline each time its progress has moved since the last
// one, and is abandoned at the first deadline at which it has not: here
// a call whose progress moves three times and then stops. The call's
// target stays stuck until the call returns, and the budget drains then.
// A call that finishes while it moves is not abandoned.
func TestDeadlineCallWatched(t *testing.T) {
	budget := NewStuckBudget(2, nil)
	d := newDeadlineReads(20*time.Millisecond, "", budget)
	defer d.close()
	path := []byte("test:watched\x00")

	release := make(chan struct{})
	returned := make(chan struct{})
	calls := 0
	err := d.callWatched(path, func() error {
		<-release
		close(returned)
		return nil
	}, func() uint64 {
		calls++
		return uint64(min(calls, 3)) // moves at the first three deadlines
	})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("a call that stopped moving: %v, want a timeout", err)
	}
	if calls < 4 {
		// More when the worker's thread looks busy at a deadline (a
		// goroutine blocked in Go keeps its thread waiting for the Go
		// runtime): those deadlines extend it too.
		t.Errorf("progress looked at %d times, want at least 4 (three moves, then a deadline without one)", calls)
	}
	if !targetStuck("test:watched") || budget.Stuck() != 1 {
		t.Errorf("abandoned call: target stuck %v, budget %d, want stuck and 1", targetStuck("test:watched"), budget.Stuck())
	}
	if err := d.callWatched(path, func() error { return nil }, nil); !errors.Is(err, ErrTimeout) {
		t.Errorf("a call to a stuck target: %v, want a timeout (still stuck)", err)
	}
	close(release)
	<-returned
	for deadline := time.Now().Add(30 * time.Second); budget.Stuck() != 0 || targetStuck("test:watched"); {
		if time.Now().After(deadline) {
			t.Fatalf("the call returned and is still counted: budget %d, target stuck %v", budget.Stuck(), targetStuck("test:watched"))
		}
		time.Sleep(5 * time.Millisecond)
	}

	done, moved := make(chan struct{}), 0
	err = d.callWatched(path, func() error {
		<-done
		return nil
	}, func() uint64 {
		moved++
		if moved == 2 {
			close(done) // it finishes while it moves
		}
		return uint64(moved)
	})
	if err != nil {
		t.Errorf("a call that finished while it moved: %v", err)
	}
}
