package monitor

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestMonitorExplainNamesTracer (fix12b's open items): the dashboard's
// traced finding names the tracer by command and pid, as explain does,
// from the snapshot its TracerPid came with (it said "(TracerPid N)").
func TestMonitorExplainNamesTracer(t *testing.T) {
	pid, tracer := livehelper.StracedSleep(t)
	m, ch := startMonitor(t, Options{Interval: 100 * time.Millisecond, Explain: true, ExplainTicks: 8})
	m.Focus(pid)
	want := "strace (TracerPid " + strconv.Itoa(tracer) + ")"
	var last string
	deadline := time.After(20 * time.Second)
	for {
		select {
		case f := <-ch:
			if f.Explain == nil || f.Explain.PID != pid {
				continue
			}
			for _, x := range f.Explain.Focus {
				if x.ID == "traced" {
					last = x.Verdict
					if strings.Contains(x.Verdict, want) {
						return
					}
				}
			}
		case <-deadline:
			t.Fatalf("no traced finding naming %q in 20 s; last: %q", want, last)
		}
	}
}
