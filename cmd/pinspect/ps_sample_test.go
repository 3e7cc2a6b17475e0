package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestPSSample: ps --sample gives rates over its window, for both
// collectors: CPU % and switches of a real 4-thread CPU pool, its
// run-queue wait, and a disk pool's storage writes per second.
func TestPSSample(t *testing.T) {
	pool := livehelper.Start(t, "cpupool", "4")
	disk := livehelper.Start(t, "diskpool", "2", filepath.Join(t.TempDir(), "data"))
	for _, backend := range []string{"auto", "proc"} {
		var out, errb bytes.Buffer
		args := []string{"ps", "--collector", backend, "--sample", "500ms", "--json", "--pid", strconv.Itoa(pool.PID()) + "," + strconv.Itoa(disk.PID())}
		if code := run(args, &out, &errb); code != exitOK {
			t.Fatalf("%s: exit %d: %s", backend, code, errb.String())
		}
		var d struct {
			Schema        string   `json:"schema"`
			SampleSeconds *float64 `json:"sample_seconds"`
			Processes     []struct {
				PID          int      `json:"pid"`
				CPUPercent   *float64 `json:"cpu_percent"`
				Invol        *float64 `json:"involuntary_ctxt_switches_per_second"`
				RunQueueWait *float64 `json:"run_queue_wait_seconds_per_second"`
				RQSource     string   `json:"run_queue_wait_source"`
				WriteBPS     *float64 `json:"write_bytes_per_second"`
			} `json:"processes"`
		}
		if err := json.Unmarshal(out.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if d.Schema != "pinspect.ps/v1" || d.SampleSeconds == nil || *d.SampleSeconds < 0.4 || len(d.Processes) != 2 {
			t.Fatalf("%s: %s", backend, out.String())
		}
		for _, p := range d.Processes {
			if p.CPUPercent == nil || p.Invol == nil || p.RunQueueWait == nil || p.RQSource == "" || p.WriteBPS == nil {
				t.Errorf("%s: pid %d lacks a rate: %s", backend, p.PID, out.String())
				continue
			}
			if p.PID == pool.PID() && (*p.CPUPercent <= 0 || *p.RunQueueWait <= 0) {
				t.Errorf("%s: the CPU pool: %.1f%% CPU, run-queue wait %.2f", backend, *p.CPUPercent, *p.RunQueueWait)
			}
			if p.PID == disk.PID() && *p.WriteBPS <= 0 {
				t.Errorf("%s: the disk pool wrote %.0f bytes/s", backend, *p.WriteBPS)
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"ps", "--sample", "300ms", "--pid", strconv.Itoa(pool.PID())}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "CPU%") || !strings.Contains(out.String(), "RQWAIT") || !strings.Contains(out.String(), "rates over") {
		t.Errorf("table:\n%s", out.String())
	}
	for _, bad := range []string{"-1s", "11m", "x"} {
		if code := run([]string{"ps", "--sample", bad}, &out, &errb); code != exitUsage {
			t.Errorf("--sample %s: exit %d", bad, code)
		}
	}
}
