package report

import (
	"testing"

	"github.com/pinspect/pinspect/collector/explain"
)

// TestMachineDocUnmeasuredInKeyOrder: the machine document lists what it
// could not read in its keys' order on every run; it came from a map's
// iteration, so `explain --json` of one tree changed from run to run.
func TestMachineDocUnmeasuredInKeyOrder(t *testing.T) {
	m := &explain.MachineSample{Unavailable: map[string]string{
		"pressure/io": "not present", "cpus": "not present", "loadavg": "not present",
		"pressure/cpu": "not present", "uptime": "not present", "stat": "not present",
	}}
	want := []string{"cpus", "loadavg", "pressure/cpu", "pressure/io", "stat", "uptime"}
	for run := 0; run < 20; run++ {
		d := NewExplainMachineDoc(m, nil, "/proc")
		if len(d.Unmeasured) != len(want) {
			t.Fatalf("%d unmeasured, want %d: %+v", len(d.Unmeasured), len(want), d.Unmeasured)
		}
		for i, u := range d.Unmeasured {
			if u.Key != want[i] || u.What != explain.GapName(want[i]) {
				t.Fatalf("run %d: unmeasured %d is %q, want %q (order %+v)", run, i, u.What, want[i], d.Unmeasured)
			}
		}
	}
}
