package collector

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// readInKernel exempts a read worker that is inside one read of a /proc
// file when the check runs: other packages' tests (fixtures/hungfuse,
// collector's hung-exe tests) run at the same time and stage processes
// whose cmdline blocks a reader for as long as they are hung, and a
// scan of the whole /proc reads their cmdlines too. Such a worker is
// abandoned by design and exits when its read returns
// (collector/deadline.go); an idle worker left behind sits in its job
// loop, not in readItem, and is still reported.
var readInKernel = goleak.IgnoreAnyFunction("github.com/pinspect/pinspect/collector.readItem")

// TestCloseStopsGoroutines: a Reader that has used each of its read
// workers (a snapshot's cmdline batch, an address space's maps, an
// identity lookup) leaves no goroutine behind once Close returns.
// Goroutines of other tests are ignored (IgnoreCurrent).
func TestCloseStopsGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), readInKernel)
	r, err := NewReader(Options{})
	if err != nil {
		t.Skip(err)
	}
	if _, err := r.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddressSpace(os.Getpid(), AddrOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Identity(os.Getpid(), true); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil { // twice is harmless
		t.Fatal(err)
	}
}

// TestReaderConcurrent: one Reader serves scans, one-process reads,
// identity lookups, address spaces and details from several goroutines
// at once (run with -race), as serve does with its monitor and API
// requests; then Close stops everything.
func TestReaderConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), readInKernel)
	r, err := NewReader(Options{Threads: true})
	if err != nil {
		t.Skip(err)
	}
	pid := os.Getpid()
	ctx := context.Background()
	jobs := []func() error{
		func() error { _, err := r.Snapshot(ctx); return err },
		func() error { _, err := r.Scan(ctx, ScanOptions{ThreadPIDs: []int{pid}}); return err },
		func() error { _, _, err := r.Process(pid); return err },
		func() error { _, err := r.Identity(pid, true); return err },
		func() error { _, err := r.AddressSpace(pid, AddrOptions{}); return err },
		func() error {
			_, _, err := r.ProcessWith(pid, ProcessOptions{StuckBudget: NewStuckBudget(2, nil)})
			return err
		},
		func() error {
			_, err := r.AddressSpace(pid, AddrOptions{StuckBudget: NewStuckBudget(2, nil)})
			return err
		},
		func() error { _, err := r.Details(pid); return err },
	}
	errs := make(chan error, len(jobs))
	for _, job := range jobs {
		go func() {
			var err error
			for range 3 {
				if err = job(); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range jobs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Snapshot(ctx); err != ErrClosed {
		t.Errorf("a scan after Close: %v, want ErrClosed", err)
	}
}
