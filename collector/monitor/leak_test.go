package monitor

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/fixtures/livehelper"
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

// TestRunLeavesNoGoroutine: once Run has returned and the Reader is
// closed, every goroutine the Monitor started has ended: the loop, the
// kernel source's receiver and converter (with the connector, where this
// test may subscribe), a Sync's marker thread, and the Reader's workers
// that its scans, address spaces and identity lookups started.
func TestRunLeavesNoGoroutine(t *testing.T) {
	p := livehelper.Start(t, "comm", "leakcheck")
	baseline := goleak.IgnoreCurrent()
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}

	m := New(r, Options{Interval: 20 * time.Millisecond, Connector: true, Threads: true})
	ch, unsub := m.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitFrame(t, ch, "a first frame", func(*Frame) bool { return true })
	m.Focus(p.PID())
	waitFrame(t, ch, "the focus with its address space", func(f *Frame) bool { return f.Focus != nil && f.Focus.Space != nil })
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	if _, err := m.Sync(sctx); err != nil {
		t.Error(err)
	}
	scancel()
	cancel()
	unsub()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
	r.Close()
	goleak.VerifyNone(t, baseline, readInKernel)
}
