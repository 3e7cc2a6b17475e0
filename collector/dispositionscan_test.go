package collector

import (
	"context"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestScanDispositionsOverridesSkip: a Reader that leaves the signal
// dispositions out (BPFSkipDispositions) reads them all in a scan with
// ScanOptions.Dispositions (serve's scans for its API clients), as /proc
// shows them, and leaves them out again in the next scan without it.
func TestScanDispositionsOverridesSkip(t *testing.T) {
	skip := newIterReader(t, Options{BPFSkipDispositions: true})
	h := livehelper.Start(t, "sigdisp") // SIGUSR2 ignored, SIGHUP caught
	ctx := context.Background()
	for i, so := range []ScanOptions{{Dispositions: true}, {}, {Dispositions: true}} {
		snap, err := skip.Scan(ctx, so)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Collector != BackendTaskIter {
			t.Fatalf("collector %q", snap.Collector)
		}
		p := find(snap, h.PID())
		if p == nil {
			t.Fatalf("scan %d: helper %d missing", i, h.PID())
		}
		absent := 0
		for k := range snap.Processes {
			if snap.Processes[k].SigDispAbsent {
				absent++
			}
		}
		if so.Dispositions {
			if absent > 0 || p.SigIgn&(1<<11) == 0 || p.SigCgt&1 == 0 {
				t.Errorf("scan %d with Dispositions: %d processes absent; helper ignored %#x caught %#x, want SIGUSR2 ignored and SIGHUP caught",
					i, absent, p.SigIgn, p.SigCgt)
			}
		} else if !p.SigDispAbsent || absent < len(snap.Processes)/2 {
			t.Errorf("scan %d without Dispositions: helper absent %v, %d of %d processes absent; want them left out",
				i, p.SigDispAbsent, absent, len(snap.Processes))
		}
	}
}
