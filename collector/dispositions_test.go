package collector

import (
	"context"
	"os/exec"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestSkipDispositions: a task-iterator Reader with BPFSkipDispositions
// marks the dispositions of a process it does not show absent (never 0),
// and gives the exact ones, /proc's, to the parents of zombies (SIGCHLD
// at its default, blocked, ignored or caught) and to the processes of
// ScanOptions.FreshStatus. A Reader without the switch reads every
// process's, and marks none absent.
func TestSkipDispositions(t *testing.T) {
	skip := newIterReader(t, Options{BPFSkipDispositions: true})
	full := newIterReader(t, Options{})
	proc, err := NewReader(Options{Backend: BackendProc})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	parents := map[string]*livehelper.Proc{}
	for _, how := range []string{"default", "block", "ignore", "catch"} {
		parents[how] = livehelper.Start(t, "zombies", "2", how)
	}
	shown := livehelper.Start(t, "sigdisp")  // in FreshStatus
	hidden := livehelper.Start(t, "sigdisp") // neither shown nor a zombie's parent
	for _, h := range parents {
		for _, z := range h.PIDs[1:] {
			waitState(t, z, 'Z')
		}
	}
	ctx := context.Background()
	so := ScanOptions{FreshStatus: []int{shown.PID()}}
	s, err := skip.Scan(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	f, err := full.Scan(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proc.Scan(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	if s.Collector != BackendTaskIter || f.Collector != BackendTaskIter {
		t.Fatalf("collectors %q and %q", s.Collector, f.Collector)
	}
	const sigchld = uint64(1) << 16
	exact := func(name string, pid int) {
		t.Helper()
		a, b, c := find(s, pid), find(f, pid), find(p, pid)
		if a == nil || b == nil || c == nil {
			t.Fatalf("%s %d missing: %v %v %v", name, pid, a != nil, b != nil, c != nil)
		}
		if a.SigDispAbsent || b.SigDispAbsent || c.SigDispAbsent {
			t.Errorf("%s %d: dispositions absent (skipping %v, full %v, /proc %v)", name, pid, a.SigDispAbsent, b.SigDispAbsent, c.SigDispAbsent)
		}
		if a.SigIgn != c.SigIgn || a.SigCgt != c.SigCgt || b.SigIgn != c.SigIgn || b.SigCgt != c.SigCgt {
			t.Errorf("%s %d: ignored %#x caught %#x skipping, %#x %#x full, %#x %#x in /proc", name, pid,
				a.SigIgn, a.SigCgt, b.SigIgn, b.SigCgt, c.SigIgn, c.SigCgt)
		}
	}
	for how, h := range parents {
		exact("parent ("+how+")", h.PID())
		q := find(s, h.PID())
		if q == nil {
			continue
		}
		ign, cgt, blk := q.SigIgn&sigchld != 0, q.SigCgt&sigchld != 0, q.SigBlk&sigchld != 0
		want := map[string][3]bool{"default": {}, "block": {false, false, true}, "ignore": {true, false, false}, "catch": {false, true, false}}[how]
		if [3]bool{ign, cgt, blk} != want {
			t.Errorf("parent (%s) %d: SIGCHLD ignored %v caught %v blocked %v", how, h.PID(), ign, cgt, blk)
		}
	}
	exact("shown", shown.PID())
	if q := find(s, shown.PID()); q != nil && (q.SigIgn&(1<<11) == 0 || q.SigCgt&1 == 0) {
		t.Errorf("shown %d: SigIgn %#x SigCgt %#x; want SIGUSR2 ignored and SIGHUP caught", shown.PID(), q.SigIgn, q.SigCgt)
	}
	q := find(s, hidden.PID())
	if q == nil {
		t.Fatalf("hidden %d missing", hidden.PID())
	}
	if !q.SigDispAbsent || q.SigIgn != 0 || q.SigCgt != 0 {
		t.Errorf("hidden %d: absent %v, ignored %#x, caught %#x; want absent", hidden.PID(), q.SigDispAbsent, q.SigIgn, q.SigCgt)
	}
	if b := find(f, hidden.PID()); b == nil || b.SigDispAbsent || b.SigIgn&(1<<11) == 0 {
		t.Errorf("hidden %d read by the full walk: %+v", hidden.PID(), b)
	}
	absent := 0
	for i := range f.Processes {
		if f.Processes[i].SigDispAbsent {
			t.Errorf("full walk: %d absent", f.Processes[i].PID)
		}
	}
	for i := range s.Processes {
		if s.Processes[i].SigDispAbsent {
			absent++
		}
	}
	// Every process but the few shown (and any the pass did not show,
	// read from /proc) is left out.
	if absent < len(s.Processes)/2 {
		t.Errorf("%d of %d processes absent", absent, len(s.Processes))
	}
}

// TestReadDispositionProvesIdentity: readDisposition gives a process its
// dispositions only while its pid is still the process the walk saw (the
// start time matches). A pid that has passed to another process keeps
// them absent, and so does one that has exited, without a problem: a
// zombie's parent may be gone by the time it is read.
func TestReadDispositionProvesIdentity(t *testing.T) {
	r, err := NewReader(Options{Backend: BackendProc, BPFSkipDispositions: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := r.newScan(nil)
	h := livehelper.Start(t, "sigdisp") // SIGUSR2 ignored, SIGHUP caught
	st, err := readStat(atFDCWD, s.path.set(h.PID(), 0, "stat"), &s.buf)
	if err != nil {
		t.Fatal(err)
	}
	read := func(pid int, start uint64) *Process {
		p := &Process{PID: pid}
		p.StartTicks = start
		p.SigDispAbsent = true
		s.readDisposition(p)
		return p
	}
	if p := read(h.PID(), st.starttime); p.SigDispAbsent || p.SigIgn&(1<<11) == 0 || p.SigCgt&1 == 0 {
		t.Errorf("the walk's process: absent %v, ignored %#x, caught %#x; want SIGUSR2 ignored, SIGHUP caught", p.SigDispAbsent, p.SigIgn, p.SigCgt)
	}
	if p := read(h.PID(), st.starttime+1); !p.SigDispAbsent || p.SigIgn != 0 || p.SigCgt != 0 {
		t.Errorf("another start time (the pid reused): absent %v, ignored %#x, caught %#x; want absent", p.SigDispAbsent, p.SigIgn, p.SigCgt)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if p := read(gone.Process.Pid, 1); !p.SigDispAbsent || p.SigIgn != 0 || p.SigCgt != 0 || len(p.Unavailable) != 0 {
		t.Errorf("an exited pid: absent %v, ignored %#x, caught %#x, unavailable %v; want absent, no problem", p.SigDispAbsent, p.SigIgn, p.SigCgt, p.Unavailable)
	}
	if len(s.probs) != 0 || s.counts != (ScanCounts{}) {
		t.Errorf("problems %v, counts %+v; want none", s.probs, s.counts)
	}
}
