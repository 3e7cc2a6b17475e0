package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"go.uber.org/goleak"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/monitor"
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

// TestShutdownLeavesNoGoroutine: a dashboard over a real monitor, stopped
// by its context the way `pinspect` stops it (q cancels the context),
// leaves no goroutine of the dashboard, tview, the monitor or (once
// closed) the reader behind.
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}

	m := monitor.New(r, monitor.Options{Interval: 20 * time.Millisecond})
	sim := tcell.NewSimulationScreen("UTF-8")
	d := New(m, Options{Screen: sim})
	sim.SetSize(120, 40)
	ctx, cancel := context.WithCancel(context.Background())
	monDone := make(chan error, 1)
	go func() { monDone <- m.Run(ctx) }()
	uiDone := make(chan error, 1)
	go func() { uiDone <- d.Run(ctx) }()
	deadline := time.Now().Add(patience)
	for {
		if f := m.Latest(); f != nil && f.Seq >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no third frame within %v", patience)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	for _, ch := range []chan error{uiDone, monDone} {
		select {
		case <-ch:
		case <-time.After(patience):
			goleak.VerifyNone(t, baseline, readInKernel) // names what is still running
			t.Fatal("dashboard or monitor did not stop")
		}
	}
	r.Close()
	goleak.VerifyNone(t, baseline, readInKernel)
}
