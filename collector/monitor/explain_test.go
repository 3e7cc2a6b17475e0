package monitor

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestMonitorExplain: with Options.Explain, frames carry the machine's
// findings, and once a focused 8-thread CPU pool has a few ticks, its
// oversubscription; every process keeps a memory history.
func TestMonitorExplain(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: 100 * time.Millisecond, Explain: true, ExplainTicks: 8})
	p := livehelper.Start(t, "cpupool", "8")
	m.Focus(p.PID())
	f := waitFrame(t, ch, "the pool's oversubscription", func(f *Frame) bool {
		if f.Explain == nil || f.Explain.PID != p.PID() {
			return false
		}
		for _, x := range f.Explain.Focus {
			if x.ID == "pool_oversubscribed" {
				return true
			}
		}
		return false
	})
	if len(f.Explain.Machine) == 0 || f.Explain.Ticks < 2 {
		t.Errorf("machine findings %d, ticks %d", len(f.Explain.Machine), f.Explain.Ticks)
	}
	var id = f.Focus.Process.ID()
	if h := m.MemoryHistory(id); len(h) < 2 || h[len(h)-1].RSSBytes == 0 {
		t.Errorf("memory history %+v", h)
	}
	m.Focus(0)
	waitFrame(t, ch, "no focus findings", func(f *Frame) bool { return f.Explain != nil && f.Explain.PID == 0 && f.Explain.Focus == nil })

	plain, pch := startMonitor(t, Options{Interval: 100 * time.Millisecond})
	if f := waitFrame(t, pch, "a frame", func(*Frame) bool { return true }); f.Explain != nil || plain.MemoryHistory(id) != nil {
		t.Error("explain data without Options.Explain")
	}
}

// TestMemoryHistoryRing: each process keeps at most MemoryHistoryLen
// points of RSS at consecutive ticks with their times; a process missing
// from a tick starts over, one gone is forgotten.
func TestMemoryHistoryRing(t *testing.T) {
	e := &explainer{}
	proc := func(pid int, rss uint64) collector.Process {
		p := collector.Process{PID: pid, Read: collector.SrcStat}
		p.StartTicks, p.RSSBytes = 7, rss
		return p
	}
	for i := 1; i <= MemoryHistoryLen+30; i++ {
		snap := &collector.Snapshot{Processes: []collector.Process{proc(1, uint64(i)<<20)}}
		if i%50 != 0 {
			snap.Processes = append(snap.Processes, proc(2, 4<<20))
		}
		if i < 10 {
			snap.Processes = append(snap.Processes, proc(3, 1<<20))
		}
		e.remember(snap, time.Duration(i)*time.Second)
	}
	h := e.history(collector.ID{PID: 1, StartTicks: 7})
	if len(h) != MemoryHistoryLen || h[0].At != 31*time.Second || h[len(h)-1].RSSBytes != uint64(MemoryHistoryLen+30)<<20 {
		t.Fatalf("pid 1: %d points, first %+v, last %+v", len(h), h[0], h[len(h)-1])
	}
	for k := 1; k < len(h); k++ {
		if h[k].At-h[k-1].At != time.Second || h[k].RSSBytes-h[k-1].RSSBytes != 1<<20 {
			t.Fatalf("pid 1: points %d and %d: %+v %+v", k-1, k, h[k-1], h[k])
		}
	}
	if h := e.history(collector.ID{PID: 2, StartTicks: 7}); len(h) != 0 && h[0].At != 101*time.Second {
		t.Errorf("pid 2 (missing at tick 100): starts at %v", h[0].At)
	}
	if h := e.history(collector.ID{PID: 3, StartTicks: 7}); h != nil {
		t.Errorf("pid 3 (gone): %d points", len(h))
	}
}

// TestMemoryHistoriesCompact: once most processes are gone, the
// histories' array is cut to the ones left, which keep their points;
// a process seen again starts a history of its own.
func TestMemoryHistoriesCompact(t *testing.T) {
	e := &explainer{}
	snapOf := func(n int, tick uint64) *collector.Snapshot {
		s := &collector.Snapshot{}
		for pid := 1; pid <= n; pid++ {
			p := collector.Process{PID: pid, Read: collector.SrcStat}
			p.StartTicks, p.RSSBytes = 7, uint64(pid)<<20+tick<<10
			s.Processes = append(s.Processes, p)
		}
		return s
	}
	e.remember(snapOf(1000, 1), time.Second)
	if len(e.mem.hist) != 1000 {
		t.Fatalf("%d histories for 1,000 processes", len(e.mem.hist))
	}
	for tick := uint64(2); tick <= 5; tick++ {
		e.remember(snapOf(10, tick), time.Duration(tick)*time.Second)
	}
	if len(e.mem.hist) > 20 || len(e.mem.live) != 10 {
		t.Fatalf("%d histories kept, %d indexed, for 10 processes", len(e.mem.hist), len(e.mem.live))
	}
	for pid := 1; pid <= 10; pid++ {
		h := e.history(collector.ID{PID: pid, StartTicks: 7})
		if len(h) != 5 {
			t.Fatalf("pid %d: %d points, want 5", pid, len(h))
		}
		for k, pt := range h {
			if want := uint64(pid)<<20 + uint64(k+1)<<10; pt.RSSBytes != want || pt.At != time.Duration(k+1)*time.Second {
				t.Fatalf("pid %d point %d: %+v, want %d at %ds", pid, k, pt, want, k+1)
			}
		}
	}
	e.remember(snapOf(11, 6), 6*time.Second)
	if h := e.history(collector.ID{PID: 11, StartTicks: 7}); len(h) != 1 || h[0].RSSBytes != 11<<20+6<<10 {
		t.Fatalf("pid 11, new: %+v", h)
	}
	if h := e.history(collector.ID{PID: 1, StartTicks: 7}); len(h) != 6 {
		t.Fatalf("pid 1: %d points after the new process came, want 6", len(h))
	}
}

// TestExplainKeepsNoOldSnapshot: the explain ring keeps ten ticks of the
// focused process, and must keep them without the snapshots they were
// taken from. The focus points into a snapshot's processes, so a ring that
// kept the pointer kept every process of ten scans alive (about 4 MB a
// scan at 2,000 processes: most of the dashboard's live heap).
func TestExplainKeepsNoOldSnapshot(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: 50 * time.Millisecond, Explain: true, ExplainTicks: 10})
	p := livehelper.Start(t, "comm", "ringpin")
	m.Focus(p.PID())
	first := waitFrame(t, ch, "the focus in the explain ring", func(f *Frame) bool {
		return f.Explain != nil && f.Explain.PID == p.PID() && f.Focus != nil && f.Focus.Process != nil
	})
	if len(first.Snapshot.Processes) == 0 {
		t.Fatal("a snapshot without processes")
	}
	old := weak.Make(&first.Snapshot.Processes[0])
	seq := first.Seq
	first = nil
	// A few ticks later only the newest frames (the fan-out's latest, the
	// tracker's previous scan) may hold a snapshot; the ring still holds
	// the ticks of the old one.
	waitFrame(t, ch, "four more ticks", func(f *Frame) bool { return f.Seq >= seq+4 && f.Explain != nil && f.Explain.Ticks >= 4 })
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	if old.Value() != nil {
		t.Fatal("a snapshot four ticks old is still alive: the explain ring keeps it")
	}
}

// TestMonitorMemoryHistoryOnly: with Options.MemoryHistory alone (serve's),
// every process keeps its memory history, and frames carry no findings.
func TestMonitorMemoryHistoryOnly(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: 100 * time.Millisecond, MemoryHistory: true})
	p := livehelper.Start(t, "cpupool", "2")
	var id collector.ID
	waitFrame(t, ch, "two ticks of the pool's memory history", func(f *Frame) bool {
		if f.Explain != nil {
			t.Fatal("findings without Options.Explain")
		}
		if q := lifecycle.Find(f.Snapshot, p.PID()); q != nil {
			id = q.ID()
		}
		return len(m.MemoryHistory(id)) >= 2
	})
	if h := m.MemoryHistory(id); h[len(h)-1].RSSBytes == 0 || h[0].At >= h[len(h)-1].At {
		t.Errorf("memory history %+v", h)
	}
}

// TestMonitorExplainCPUsUnknown: over a tree without cpuinfo the
// dashboard's findings said the CPU count was unknown because "cpuinfo
// unreadable" (the monitor passed on no reason), and its focus gaps did
// not name it. They give the reader's reason ("not present") and list
// the CPU count under its name, as explain does, with the file read
// under the tree (they named /proc/cpuinfo, and /proc/PID/io with a
// literal PID).
func TestMonitorExplainCPUsUnknown(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "fixtures", "proc", "multithread"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "cpuinfo")); err != nil {
		t.Fatal(err)
	}
	m, ch := startMonitorOn(t, collector.Options{Root: root}, Options{Interval: 50 * time.Millisecond, Explain: true, ExplainTicks: 4})
	m.Focus(100)
	f := waitFrame(t, ch, "the machine's and process 100's findings", func(f *Frame) bool {
		return f.Explain != nil && f.Explain.PID == 100 && f.Explain.Focus != nil && len(f.Explain.Machine) > 0
	})
	for _, x := range f.Explain.Machine {
		if x.ID == "machine_cpu_unknown" && !strings.Contains(x.Verdict, "cpuinfo: not present") {
			t.Errorf("machine finding: %q, want the reason cpuinfo: not present", x.Verdict)
		}
		if strings.Contains(x.Verdict, "0 CPUs") {
			t.Errorf("machine finding says 0 CPUs: %q", x.Verdict)
		}
	}
	// Each named by the file read, under the tree and with the pid (they
	// named /proc/PID/io, a literal PID and not the tree read).
	named := false
	for _, g := range f.Explain.FocusGaps {
		named = named || g.Key == "cpus" && g.What == "the CPU count ("+root+"/cpuinfo)" && g.Why == "not present"
		if strings.Contains(g.What, "/proc/") || strings.Contains(g.What, "PID") {
			t.Errorf("focus gap %+v names a file outside the tree %s or a literal PID", g, root)
		}
		if g.Key == "io" && (g.What != "I/O counters ("+root+"/100/io)" || g.Why != "not present") {
			t.Errorf("focus gap %+v, want the tree's 100/io, not present (process 100 is there)", g)
		}
		if g.Key == "fd" && g.Why != "not present" {
			t.Errorf("focus gap %+v, want not present (process 100 is there)", g)
		}
	}
	if !named {
		t.Errorf("focus gaps %+v: no CPU count named as %s/cpuinfo", f.Explain.FocusGaps, root)
	}
}

// TestMemoryHistoryPIDReused: a pid taken by a new process between two
// ticks starts a new history (the merge with the last tick's must not
// take the old process's), the old one's slot is freed, and a process
// listed twice in a tick gets one point.
func TestMemoryHistoryPIDReused(t *testing.T) {
	e := &explainer{}
	proc := func(pid int, start, rss uint64) collector.Process {
		p := collector.Process{PID: pid, Read: collector.SrcStat}
		p.StartTicks, p.RSSBytes = start, rss
		return p
	}
	for i := 1; i <= 5; i++ {
		start := uint64(7)
		if i > 3 {
			start = 9
		}
		procs := []collector.Process{proc(4, 7, 1<<20), proc(5, start, uint64(i)<<20), proc(6, 7, 1<<20)}
		if i == 5 {
			procs = append(procs, proc(6, 7, 1<<20)) // listed twice
		}
		e.remember(&collector.Snapshot{Processes: procs}, time.Duration(i)*time.Second)
	}
	if h := e.history(collector.ID{PID: 5, StartTicks: 7}); h != nil {
		t.Errorf("the old pid 5 kept %+v", h)
	}
	if h := e.history(collector.ID{PID: 5, StartTicks: 9}); len(h) != 2 || h[0].At != 4*time.Second || h[1].RSSBytes != 5<<20 {
		t.Errorf("the new pid 5: %+v", h)
	}
	if h := e.history(collector.ID{PID: 6, StartTicks: 7}); len(h) != 5 {
		t.Errorf("pid 6: %+v", h)
	}
	if len(e.mem.live) != 3 || len(e.mem.hist) != 4 || len(e.mem.free) != 1 {
		t.Errorf("%d histories indexed, %d slots, %d free; want 3, 4, 1", len(e.mem.live), len(e.mem.hist), len(e.mem.free))
	}
	// A pid gone and back (not read at one tick) starts over.
	e.remember(&collector.Snapshot{Processes: []collector.Process{proc(4, 7, 1<<20)}}, 6*time.Second)
	e.remember(&collector.Snapshot{Processes: []collector.Process{proc(4, 7, 1<<20), proc(6, 7, 2<<20)}}, 7*time.Second)
	if h := e.history(collector.ID{PID: 6, StartTicks: 7}); len(h) != 1 || h[0].RSSBytes != 2<<20 {
		t.Errorf("pid 6 after a gap: %+v", h)
	}
	if h := e.history(collector.ID{PID: 4, StartTicks: 7}); len(h) != 7 {
		t.Errorf("pid 4: %d points, want 7", len(h))
	}
}
