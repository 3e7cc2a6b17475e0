package record

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestRecordKeepsAbsentDispositions: a snapshot of a task-iterator walk
// that left the signal dispositions out (collector.Options.
// BPFSkipDispositions: serve's and the dashboard's Reader) is recorded
// and read back with them absent, never as 0 (no signal ignored or
// caught), in a full sample and in the delta samples after it, where a
// process's dispositions go from absent to read and back; the exact ones
// read for a process stay exact.
func TestRecordKeepsAbsentDispositions(t *testing.T) {
	skip, err := collector.NewReader(collector.Options{Backend: collector.BackendTaskIter, BPFSkipDispositions: true})
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("not root: %v", err)
		}
		t.Fatalf("as root: %v", err)
	}
	defer skip.Close()
	h := livehelper.Start(t, "sigdisp") // ignores SIGUSR2, catches SIGHUP
	pid := h.PID()
	scan := func(fresh bool) *collector.Snapshot {
		t.Helper()
		so := collector.ScanOptions{}
		if fresh {
			so.FreshStatus = []int{pid}
		}
		s, err := skip.Scan(context.Background(), so)
		if err != nil {
			t.Fatal(err)
		}
		// Enough processes to see kernel threads and programs (a loaded
		// machine has thousands), and the helper.
		keep := s.Processes[:0]
		for i, p := range s.Processes {
			if i < 300 || p.PID == pid {
				keep = append(keep, p)
			}
		}
		s.Processes = keep
		return s
	}
	const sigHUP, sigUSR2 = uint64(1) << 0, uint64(1) << 11
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{MaxBytes: 1 << 30, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// The helper's dispositions absent, read, absent: a full sample, then
	// deltas that set and clear them.
	fresh := []bool{false, true, false}
	want := make([]map[collector.ID]collector.Process, len(fresh))
	for i, f := range fresh {
		s := scan(f)
		want[i] = map[collector.ID]collector.Process{}
		absent := 0
		for _, p := range s.Processes {
			want[i][p.ID()] = p
			if p.SigDispAbsent {
				absent++
			}
		}
		k, ok := collector.SearchPID(s.Processes, pid)
		if !ok {
			t.Fatalf("scan %d: the helper %d is missing", i, pid)
		}
		if p := &s.Processes[k]; p.SigDispAbsent != !f {
			t.Fatalf("scan %d: the helper's dispositions absent %v, want %v", i, s.Processes[k].SigDispAbsent, !f)
		}
		if absent == 0 {
			t.Fatalf("scan %d: no process's dispositions absent among %d", i, len(s.Processes))
		}
		if err := w.Append(&Sample{Seq: uint64(i + 1), Interval: time.Second, Snapshot: s}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Len() != len(fresh) {
		t.Fatalf("%d samples recorded, want %d (problems %v)", st.Len(), len(fresh), st.Problems())
	}
	for i := range fresh {
		got, err := st.Read(i)
		if err != nil {
			t.Fatal(err)
		}
		wrong := 0
		for _, p := range got.Snapshot.Processes {
			w, ok := want[i][p.ID()]
			if !ok {
				t.Fatalf("sample %d: process %d read back was not recorded", i, p.PID)
			}
			if p.SigDispAbsent != w.SigDispAbsent || p.SigIgn != w.SigIgn || p.SigCgt != w.SigCgt {
				if wrong++; wrong <= 3 {
					t.Errorf("sample %d, process %d (%s): read back absent %v ignored %#x caught %#x; recorded absent %v ignored %#x caught %#x",
						i, p.PID, p.Comm, p.SigDispAbsent, p.SigIgn, p.SigCgt, w.SigDispAbsent, w.SigIgn, w.SigCgt)
				}
			}
			if p.PID == pid && !fresh[i] != p.SigDispAbsent {
				t.Errorf("sample %d: the helper's dispositions absent %v, want %v", i, p.SigDispAbsent, !fresh[i])
			}
			if p.PID == pid && fresh[i] && (p.SigIgn&sigUSR2 == 0 || p.SigCgt&sigHUP == 0) {
				t.Errorf("sample %d: the helper's read dispositions: ignored %#x caught %#x, want SIGUSR2 ignored and SIGHUP caught", i, p.SigIgn, p.SigCgt)
			}
		}
		if wrong > 0 {
			t.Errorf("sample %d: %d of %d processes read back with other dispositions", i, wrong, len(got.Snapshot.Processes))
		}
	}
}
