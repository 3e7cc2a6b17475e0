package record

import (
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// TestMemorySeries: one process's RSS in every sample (keyframes and
// deltas, across segments) and its smaps_rollup where it was read; a
// process that appears later has points from then on.
func TestMemorySeries(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{KeyframeEvery: 4, SegmentAge: time.Minute, Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	id := collector.ID{PID: 1005, StartTicks: 5}
	late := collector.ID{PID: 7777, StartTicks: 1}
	var want []uint64
	for i := range 15 {
		s := synth(t, i, t0.Add(time.Duration(i)*10*time.Second))
		if i >= 9 {
			s.Snapshot.Processes = append(s.Snapshot.Processes, collector.Process{PID: late.PID, Read: collector.SrcStat,
				ProcStat: collector.ProcStat{StartTicks: late.StartTicks}, ProcStatus: collector.ProcStatus{RSSBytes: uint64(i) << 20, HasRSS: true}})
		}
		if i%3 == 0 {
			s.Memory = map[collector.ID]collector.MemoryTotals{id: {AnonBytes: uint64(i) << 10, PrivateDirtyBytes: 7}}
		}
		want = append(want, s.Snapshot.Processes[5].RSSBytes)
		if err := w.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pts, err := st.MemorySeries(id, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != len(want) {
		t.Fatalf("%d points, want %d", len(pts), len(want))
	}
	for i, p := range pts {
		if p.RSSBytes != want[i] || !p.At.Equal(t0.Add(time.Duration(i)*10*time.Second)) || p.RunID != 9 {
			t.Errorf("point %d: %+v, want RSS %d", i, p, want[i])
		}
		if (p.Rollup != nil) != (i%3 == 0) || p.Rollup != nil && p.Rollup.AnonBytes != uint64(i)<<10 {
			t.Errorf("point %d rollup %+v", i, p.Rollup)
		}
	}
	pts, _ = st.MemorySeries(late, t0.Add(100*time.Second), time.Time{})
	if len(pts) != 5 || pts[0].RSSBytes != 10<<20 {
		t.Errorf("the late process since 02:01:40: %+v", pts)
	}
}
