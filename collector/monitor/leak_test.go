package monitor

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestRunLeavesNoGoroutine: when Run returns, every goroutine the Monitor
// started has ended: the loop, the kernel source's receiver and
// converter (with the connector, where this test may subscribe), and a
// Sync's marker thread. The Reader's own workers are the Reader's
// business (its Close) and started before the check's baseline.
func TestRunLeavesNoGoroutine(t *testing.T) {
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Scan(context.Background(), collector.ScanOptions{ThreadPIDs: []int{os.Getpid()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddressSpace(os.Getpid(), collector.AddrOptions{}); err != nil {
		t.Fatal(err)
	}
	p := livehelper.Start(t, "comm", "leakcheck")
	baseline := goleak.IgnoreCurrent()

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
	goleak.VerifyNone(t, baseline)
}
