package explain

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// hideWaits drops what every thread sample says it waits in (wchan and
// syscall), as an unprivileged reader sees them, and the machine's I/O
// pressure.
func hideWaits(s *Sample) {
	for i := range s.Burst {
		for j := range s.Burst[i].Tasks {
			s.Burst[i].Tasks[j].HasWChan, s.Burst[i].Tasks[j].HasSyscall = false, false
		}
	}
	s.First.Host.Pressure.IO, s.Last.Host.Pressure.IO = nil, nil
}

// TestDiskBoundNeedsEnoughStorage (review3 S1): with the D samples' waits
// hidden, storage bytes decide only when there are enough of them to
// explain the threads in D (storageBPSPerD per thread in D): the 16-thread
// fdatasync pool's 1.4 GiB/s is disk-bound, the same D states with 4 KiB/s
// written (a log) are an uninterruptible wait.
func TestDiskBoundNeedsEnoughStorage(t *testing.T) {
	s := loadSample(t, "diskpool16")
	hideWaits(s)
	if a := analyse(s); a.dKnown != 0 || a.avgD < diskBoundD {
		t.Fatalf("the sample does not stage it: %d D samples known, %.1f in D", a.dKnown, a.avgD)
	}
	if get(Explain(s), "disk_bound") == nil {
		t.Errorf("the disk pool's own storage writes no longer decide: %v", ids(Explain(s)))
	}
	little := loadSample(t, "diskpool16")
	hideWaits(little)
	secs := (little.Last.At - little.First.At).Seconds()
	little.First.IO.ReadBytes, little.Last.IO.ReadBytes = 0, 0
	little.Last.IO.WriteBytes = little.First.IO.WriteBytes + uint64(4096*secs)
	fs := Explain(little)
	if get(fs, "disk_bound") != nil || get(fs, "uninterruptible_wait") == nil {
		t.Fatalf("4 KiB/s of storage writes explain %.1f threads in D: %v", analyse(little).avgD, ids(fs))
	}
	if u := get(fs, "uninterruptible_wait"); strings.Contains(u.Verdict, "no storage I/O") || !strings.Contains(u.Verdict, "too little") {
		t.Errorf("the verdict hides the storage bytes it saw: %s", u.Verdict)
	}
}

// TestForkingCPUBound (tester10): a CPU-bound process whose CPU is
// mostly system time while it makes children gets its fork rate as
// evidence and advice about forking, not "more threads" or "size the
// pool"; without the births the verdict is the plain CPU-bound one.
func TestForkingCPUBound(t *testing.T) {
	s := loadSample(t, "cpupool-right")
	plain := Explain(s)
	b := byBound(plain)
	if b == nil || (b.ID != "cpu_bound" && b.ID != "cpu_bound_room") {
		t.Fatalf("the sample is not CPU-bound: %v", ids(plain))
	}
	if value(b, "children_born_per_second") != -1 {
		t.Fatalf("fork evidence without births: %+v", b.Evidence)
	}
	p0, p1 := *s.First.Process, *s.Last.Process
	cpu := (p1.UTimeTicks + p1.STimeTicks) - (p0.UTimeTicks + p0.STimeTicks)
	p1.UTimeTicks, p1.STimeTicks = p0.UTimeTicks+cpu/10, p0.STimeTicks+cpu-cpu/10
	s.Last.Process = &p1
	s.Births = &Births{Seen: 40, ThreadsRead: 3}
	fs := Explain(s)
	f := byBound(fs)
	if f == nil || value(f, "children_born_per_second") < 10 || value(f, "system_cpu_share") < 0.85 {
		t.Fatalf("no fork evidence: %+v", f)
	}
	checkFinding(t, *f)
	if !strings.Contains(f.Verdict, "creating processes") {
		t.Errorf("verdict: %s", f.Verdict)
	}
	for _, tr := range f.Try {
		if strings.Contains(tr, "more threads") || strings.Contains(tr, "Size a CPU-bound pool") {
			t.Errorf("thread advice for a forking process: %s", tr)
		}
	}
	if !slices.ContainsFunc(f.Try, func(tr string) bool { return strings.Contains(tr, "posix_spawn") }) {
		t.Errorf("no fork advice: %q", f.Try)
	}
}

// byBound is the answer to "CPU- or I/O-bound".
func byBound(fs []Finding) *Finding {
	for i := range fs {
		if fs[i].Question == QBound {
			return &fs[i]
		}
	}
	return nil
}

// TestLeakStaircase (review3 S7): a leak growing in chunks (1 MiB every
// 0.5 s, 2 MiB/s) in a 300 MiB process sampled every 95 ms rises in only
// a few of the steps; it is found all the same, whatever the sampling
// rate. One 4 MiB jump is not a leak.
func TestLeakStaircase(t *testing.T) {
	stairsN := func(points int, rss func(at time.Duration) uint64) *Sample {
		s := loadSample(t, "leak")
		s.History = nil
		for len(s.Burst) < points {
			s.Burst = append(s.Burst, s.Burst[len(s.Burst)-1])
		}
		base := s.Burst[0].At
		for i := range s.Burst {
			at := time.Duration(i) * 95 * time.Millisecond
			s.Burst[i].At = base + at
			s.Burst[i].RSSBytes = rss(at)
			s.Burst[i].StartTicks = s.StartTicks
		}
		s.Last.At = s.Burst[len(s.Burst)-1].At
		return s
	}
	stairs := func(rss func(at time.Duration) uint64) *Sample { return stairsN(0, rss) }
	const mb = 1 << 20
	s := stairs(func(at time.Duration) uint64 { return 300*mb + uint64(at/(500*time.Millisecond))*mb })
	if n := len(s.Burst); n < 15 {
		t.Fatalf("%d ticks in the leak sample: too few to stage 95 ms steps", n)
	}
	g, _ := s.fitGrowth()
	if g.rises*3 >= g.points-1 {
		t.Fatalf("%d rises in %d steps: not a staircase the old rule missed", g.rises, g.points-1)
	}
	f := get(Explain(s), "memory_growing")
	if f == nil {
		t.Fatalf("1 MiB every 0.5 s in 300 MiB (%d rises in %d steps) missed: %v", g.rises, g.points-1, ids(Explain(s)))
	}
	checkFinding(t, *f)
	jump := stairs(func(at time.Duration) uint64 {
		if at >= time.Second {
			return 304 * mb
		}
		return 300 * mb
	})
	if f := get(Explain(jump), "memory_growing"); f != nil {
		t.Errorf("one 4 MiB jump called a leak: %s", f.Verdict)
	}
	// Two 2 MiB allocations and one page touched rise in three steps,
	// but the page is no step of a staircase (review5 M2: "growing
	// steadily ... 2.8 MiB/s").
	two := stairs(func(at time.Duration) uint64 {
		v := uint64(300 * mb)
		if at >= 500*time.Millisecond {
			v += 2 * mb
		}
		if at >= 1000*time.Millisecond {
			v += 2 * mb
		}
		if at >= 1500*time.Millisecond {
			v += 4096
		}
		return v
	})
	if g, _ := two.fitGrowth(); g.rises != 3 {
		t.Fatalf("%d rises staged, want 3 (two allocations and a page)", g.rises)
	}
	if f := get(Explain(two), "memory_growing"); f != nil {
		t.Errorf("two 2 MiB allocations and a page called a leak: %s", f.Verdict)
	}
	// The same leak in a 3000 MiB process over a 10 s window (105 points
	// 95 ms apart) rises in 19 equal steps, none a tenth of the whole:
	// every one of them is a step (review6 M1: a tenth of the rise
	// counted none and missed it).
	long := stairsN(105, func(at time.Duration) uint64 { return 3000*mb + uint64(at/(500*time.Millisecond))*mb })
	if g, _ := long.fitGrowth(); g.rises < 19 || g.rises*3 >= g.points-1 {
		t.Fatalf("%d rises in %d steps staged, want at least 19 and under a third", g.rises, g.points-1)
	}
	if f := get(Explain(long), "memory_growing"); f == nil {
		t.Errorf("1 MiB every 0.5 s in 3000 MiB over 10 s missed: %v", ids(Explain(long)))
	}
}
