package collector

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestCloseStopsGoroutines: a Reader that has used each of its read
// workers (a snapshot's cmdline batch, an address space's maps, an
// identity lookup) leaves no goroutine behind once Close returns.
// Goroutines of other tests are ignored (IgnoreCurrent).
func TestCloseStopsGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
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
