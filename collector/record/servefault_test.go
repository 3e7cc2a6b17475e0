package record_test

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/views/metrics"
)

// TestServedReadFaultNamesNoPath: serve's frame endpoint over a sample
// whose read fails with an I/O error (EIO from a bad sector, whose os
// error names the file) steps over it, and X-Pinspect-Skipped gives the
// reason and the segment's number, not the path on the agent (the
// header carried it). It is here, an external test of the record, since
// the store's read fault is no part of its API (export_test.go).
func TestServedReadFaultNamesNoPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := record.OpenWriter(dir, record.WriterOptions{Sync: record.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	for i := range 3 {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		snap := &collector.Snapshot{TakenAt: at, Monotonic: at.Sub(t0), Processes: []collector.Process{
			{PID: 1, Read: collector.SrcStat, ProcStat: collector.ProcStat{Comm: "init", State: 'S', UTimeTicks: uint64(10 * i)}},
		}}
		s := &record.Sample{RunID: 1, Interval: 10 * time.Second, Snapshot: snap, Events: []lifecycle.Event{
			{Type: lifecycle.Exit, Time: at, ID: collector.ID{PID: 100 + i, StartTicks: 1}, Comm: "job", Source: lifecycle.SourceConnector},
		}}
		if err := w.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	st, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loc, err := st.Location(1)
	if err != nil {
		t.Fatal(err)
	}
	record.SetReadFault(st, func(path string, off int64) error {
		if off == loc.Offset {
			return &fs.PathError{Op: "read", Path: path, Err: syscall.EIO}
		}
		return nil
	})
	hs := httptest.NewServer(metrics.NewServer(monitor.NewFanout(0), metrics.ServerOptions{Record: st}).Handler())
	defer hs.Close()
	resp, err := http.Get(fmt.Sprintf("%s%s?at=%s", hs.URL, "/api/v1/frame", t0.Add(10*time.Second).Format(time.RFC3339)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sk := resp.Header.Get(metrics.HeaderSkipped)
	want := fmt.Sprintf("damaged record: segment %d offset %d (sample 2 at ", loc.Segment, loc.Offset)
	if resp.StatusCode != http.StatusOK || !strings.Contains(sk, want) || !strings.Contains(sk, "input/output error") ||
		strings.Contains(sk, dir) || strings.Contains(sk, filepath.Base(loc.Path)) {
		t.Errorf("a step onto sample 2, unreadable (EIO): status %d, %s %q; want %q, the reason and no path", resp.StatusCode, metrics.HeaderSkipped, sk, want)
	}
}
