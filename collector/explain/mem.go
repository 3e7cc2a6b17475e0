package explain

import (
	"fmt"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// This file answers the memory questions: what fork shared and copied,
// what a family of processes really uses, what runtime it is, and whether
// memory is growing.

// Thresholds of the memory findings.
const (
	// cowMinBytes: shared or private dirty anonymous memory below this is
	// not worth a finding.
	cowMinBytes = 1 << 20
	// cowCopyingFaults: minor faults per second from which a process
	// with shared dirty pages counts as copying now.
	cowCopyingFaults = 100.0
	// familyMin: a family of at least this many processes gets a finding.
	familyMin = 3
	// leakMinR2 is the least fit of a straight line for a steady growth.
	leakMinR2 = 0.8
	// leakMinBytes is the least growth over the points worth a finding.
	leakMinBytes = 1 << 20
	// leakMinSpan and leakMinPoints: a growth seen over less time or
	// fewer points (a compiler's first tenth of a second, 3 points) is
	// not called steady.
	leakMinSpan   = 500 * time.Millisecond
	leakMinPoints = 5
	// leakShare: growth of at least this share of the first RSS counts
	// whatever its rate.
	leakShare = 0.02
	// leakMinRate: growth of at least this many bytes a second, rising
	// monotonically (leakMaxDrop) across the points, counts however big
	// the process already is (4 MiB/s in a 400 MiB process is 2 % over
	// the default 2 s window: the share alone missed it).
	leakMinRate = 1 << 20
	// leakMaxDrop: a monotone rise never falls more than this below the
	// highest point before it.
	leakMaxDrop = 64 << 10
	// leakMinRises: a staircase rises in at least this many steps, each
	// at least leakMinStep and half the mean rise (a page touched between
	// two big allocations is not a step: review5 M2; yet twenty equal
	// steps are twenty: review6 M1).
	leakMinRises = 3
	leakMinStep  = 64 << 10
)

// relatives names the parent and children in the sample's family.
func (s *Sample) relatives() (parent *Member, children []Member) {
	if s.Family == nil {
		return nil, nil
	}
	var ppid int
	if p := s.Last.Process; p != nil {
		ppid = p.PPID
	}
	for i := range s.Family.Members {
		m := &s.Family.Members[i]
		switch {
		case m.PID == ppid:
			parent = m
		case m.PPID == s.PID:
			children = append(children, *m)
		}
	}
	return parent, children
}

// forked reports whether the process was forked from its parent without
// an exec (the same executable), or forked children that did not exec.
func (s *Sample) forked(parent *Member, children []Member) bool {
	if parent != nil && parent.PID > 1 && parent.Exe != "" && parent.Exe == s.Exe {
		return true
	}
	for _, c := range children {
		if c.Exe == s.Exe {
			return true
		}
	}
	return false
}

// sharers names who the shared pages are shared with: the parent (when
// it runs the same executable) and the children.
func sharers(s *Sample, parent *Member, children []Member) string {
	var with []string
	if parent != nil && (parent.Exe == s.Exe || parent.Exe == "") {
		with = append(with, fmt.Sprintf("its parent %s (%d)", parent.Comm, parent.PID))
	}
	if len(children) > 0 {
		var ids []string
		for i, c := range children {
			if i == 5 {
				ids = append(ids, "…")
				break
			}
			ids = append(ids, fmt.Sprint(c.PID))
		}
		with = append(with, fmt.Sprintf("%s (%s)", plural(len(children), "child", "children"), strings.Join(ids, ", ")))
	}
	if len(with) == 0 {
		return "the processes it forked from or forked"
	}
	return strings.Join(with, " and ")
}

// cow answers "what did fork share, what was copied, is it copying now".
func (a *analysis) cow() *Finding {
	s := a.s
	pid := s.PID
	m1 := s.Last.Memory
	if m1 == nil {
		return nil
	}
	shared, private := float64(m1.PrivateAnon.SharedDirtyBytes), float64(m1.PrivateAnon.PrivateDirtyBytes)
	var grew float64
	if m0 := s.First.Memory; m0 != nil {
		grew = float64(m1.PrivateAnon.PrivateDirtyBytes) - float64(m0.PrivateAnon.PrivateDirtyBytes)
	}
	parent, children := s.relatives()
	copying := grew >= cowMinBytes && a.minfltPS >= cowCopyingFaults
	if shared < cowMinBytes && !(s.forked(parent, children) && (private >= cowMinBytes || copying)) {
		return nil
	}
	whom := sharers(s, parent, children)
	f := &Finding{Question: QCOW, Severity: Info, Score: shared + private, Lesson: lessonCOW}
	switch {
	case copying:
		f.ID = "cow_copying"
		f.Severity = Notice
		f.Verdict = fmt.Sprintf("Copying on write now: its private copies grew %s in %s (%s minor faults/s); %s is still shared with %s.",
			mib(grew), dur(time.Duration(a.secs*1e9)), num(a.minfltPS), mib(shared), whom)
	case private >= cowMinBytes && shared < cowMinBytes:
		f.ID = "cow_copied"
		f.Verdict = fmt.Sprintf("After fork it no longer shares written memory with %s: it has %s of its own (pages copied on write, or written only here).", whom, mib(private))
	case private >= cowMinBytes:
		f.ID = "cow_copied"
		f.Verdict = fmt.Sprintf("After fork it shares %s of written memory with %s and has %s of its own (pages copied on write, or written only here).", mib(shared), whom, mib(private))
	default:
		f.ID = "cow_shared"
		f.Verdict = fmt.Sprintf("After fork it shares %s of written memory with %s, copy-on-write, and has copied almost nothing (%s).", mib(shared), whom, mib(private))
	}
	f.Evidence = append(f.Evidence,
		ev("anon_shared_dirty_bytes", shared, "bytes", mib(shared)+" written before the fork and still shared (Shared_Dirty, private anonymous mappings)", src(pid, "smaps")+" Shared_Dirty"),
		ev("anon_private_dirty_bytes", private, "bytes", mib(private)+" copied or written only here (Private_Dirty, private anonymous mappings)", src(pid, "smaps")+" Private_Dirty"))
	if s.First.Memory != nil {
		text := mib(grew) + " more private over the window"
		if grew < 0 {
			// Private pages become Shared_Dirty when the process forks
			// (the child shares them until one side writes), or go away.
			text = mib(-grew) + " less private over the window (now shared with children forked since, or freed)"
		}
		f.Evidence = append(f.Evidence, ev("anon_private_dirty_growth_bytes", grew, "bytes", text, src(pid, "smaps")+" Private_Dirty, both readings"))
	}
	if a.hasCPU {
		f.Evidence = append(f.Evidence, ev("minor_faults_per_second", a.minfltPS, "per_second", num(a.minfltPS)+" minor faults/s (a copy-on-write copy is one)", src(pid, "stat")+" field 10 (minflt)"))
	}
	rss := float64(m1.Totals.RSSBytes)
	f.Evidence = append(f.Evidence,
		ev("rss_bytes", rss, "bytes", mib(rss)+" RSS (counts the shared pages in full)", src(pid, "smaps")+" Rss"),
		ev("pss_bytes", float64(m1.Totals.PSSBytes), "bytes", mib(float64(m1.Totals.PSSBytes))+" PSS (shared pages divided among the sharers)", src(pid, "smaps")+" Pss"))
	f.Why = "ps and top add each process's RSS, so memory shared after a fork is counted once per process; and every write to a shared page makes a private copy, so memory grows as the processes write."
	f.Try = append(f.Try, "Count a forked family by PSS (pinspect explain on the parent gives the family total), not summed RSS.",
		"To keep sharing, write less after fork (preload read-only data before forking; avoid touching inherited objects: a garbage collector or reference counts write to them).")
	f.Unmeasured = append(f.Unmeasured, Unmeasured{What: "which process shares which page", Why: "it needs /proc/PID/pagemap and /proc/kpagecount (root only, and costly on a big address space); not read"})
	return f
}

// family answers "what does this family of processes really use".
func (a *analysis) family() *Finding {
	s := a.s
	fam := s.Family
	if fam == nil || len(fam.Members) < familyMin {
		return nil
	}
	var rss, pss, uss float64
	var cpuSecs float64
	known, cpuKnown := 0, 0
	var missing []string
	for _, m := range fam.Members {
		if m.Memory == nil {
			missing = append(missing, fmt.Sprintf("%d: %s", m.PID, m.Why))
			continue
		}
		known++
		rss += float64(m.Memory.RSSBytes)
		pss += float64(m.Memory.PSSBytes)
		uss += float64(m.Memory.USSBytes)
		if m.CPUSeconds >= 0 {
			cpuSecs += m.CPUSeconds
			cpuKnown++
		}
	}
	if known == 0 {
		return nil
	}
	root := fam.Members[0]
	f := &Finding{ID: "family_memory", Question: QFamily, Severity: Info, Score: rss - pss, Lesson: lessonFamily}
	if rss >= 1.5*pss && rss-pss >= 10<<20 {
		f.Severity = Notice
	}
	of := ""
	if len(missing) == 0 {
		f.Verdict = fmt.Sprintf("A family of %d processes under %s (%d): their RSS adds up to %s, but they use %s (PSS; %s private to one process), because shared pages are counted once per process in RSS.",
			len(fam.Members), root.Comm, root.PID, mib(rss), mib(pss), mib(uss))
	} else {
		// A partial sum is not the family's use: the members not read
		// (exited, zombies, unreadable) may hold shares of the same
		// pages, so even the members read are counted at the PSS of a
		// moment when others shared with them.
		of = fmt.Sprintf(" over the %d of %d members read", known, len(fam.Members))
		f.Verdict = fmt.Sprintf("A family of %d processes under %s (%d), of which only %d could be read: their RSS adds up to %s and their PSS to %s (%s private to one process); that covers only the %d read, not the family's use (%d not read: exited, zombies or unreadable).",
			len(fam.Members), root.Comm, root.PID, known, mib(rss), mib(pss), mib(uss), known, len(missing))
		if known*2 < len(fam.Members) {
			f.Severity = Info
		}
	}
	f.Evidence = append(f.Evidence,
		ev("family_processes", float64(len(fam.Members)), "count", fmt.Sprintf("%d processes: the root and its descendants", len(fam.Members)), "/proc/*/stat field 4 (ppid)"))
	if len(missing) > 0 {
		f.Evidence = append(f.Evidence, ev("family_processes_read", float64(known), "count", fmt.Sprintf("%d of them with memory read (the sums cover only these)", known), "/proc/*/smaps_rollup"))
	}
	f.Evidence = append(f.Evidence,
		ev("family_rss_sum_bytes", rss, "bytes", mib(rss)+" summed RSS (what ps adds up)"+of, "/proc/*/smaps_rollup Rss"),
		ev("family_pss_sum_bytes", pss, "bytes", mib(pss)+" summed PSS (each shared page split among its sharers)"+of, "/proc/*/smaps_rollup Pss"),
		ev("family_uss_sum_bytes", uss, "bytes", mib(uss)+" summed USS (freed if every process exited)"+of, "/proc/*/smaps_rollup Private_Clean+Private_Dirty"))
	if cpuKnown > 0 && a.secs > 0 {
		f.Evidence = append(f.Evidence, ev("family_cpu_used_cpus", cpuSecs/a.secs, "cpus", f2(cpuSecs/a.secs)+" CPUs used by the family over the window", "/proc/*/stat fields 14-15, both snapshots"))
	}
	f.Why = "Processes forked from one parent (a zygote, a pre-fork server, a browser's renderers) share code and the parent's memory: summing RSS counts that memory many times over."
	f.Try = append(f.Try, "Budget and alert on the family's PSS (or its cgroup's memory.current), not summed RSS.")
	if len(missing) > 0 {
		f.Unmeasured = append(f.Unmeasured, Unmeasured{What: "memory of " + plural(len(missing), "member", "members"), Why: strings.Join(missing[:min(3, len(missing))], "; ")})
	}
	return f
}

// jvmThreadPrefixes are the names the HotSpot JVM gives its own threads.
var jvmThreadPrefixes = []string{"GC Thread", "G1 ", "C1 CompilerThre", "C2 CompilerThre", "VM Thread", "VM Periodic Tas",
	"Reference Handl", "Finalizer", "Signal Dispatch", "Service Thread", "Common-Cleaner", "Sweeper thread",
	"Notification Th", "Monitor Deflati", "Attach Listener", "VM Operation", "CodeCacheSweepe", "ZWorker", "ZDirector", "Shenandoah"}

// runtimeFinding answers "which runtime, and what /proc cannot see of it".
func (a *analysis) runtimeFinding() *Finding {
	s := a.s
	pid := s.PID
	rt := s.Runtime
	if rt.Kind == collector.RuntimeNone {
		return nil
	}
	f := &Finding{Question: QRuntime, Severity: Info}
	for _, e := range rt.Evidence {
		f.Evidence = append(f.Evidence, fact("runtime_clue", e.Value, src(pid, e.Source)))
	}
	threads := ev("os_threads", float64(a.threadsLast), "threads", plural(a.threadsLast, "OS thread", "OS threads"), src(pid, "stat")+" field 20")
	anon := 0.0
	if m := s.Last.Memory; m != nil {
		anon = float64(m.ResidentByClass[collector.SegAnon])
	}
	switch rt.Kind {
	case collector.RuntimeGo:
		f.ID = "runtime_go"
		f.Verdict = fmt.Sprintf("A Go program (%s): its goroutines are the Go runtime's, multiplexed onto %s; /proc sees the threads only, and the goroutine stacks live in the runtime's anonymous heap arenas (%s resident in anonymous mappings), not in [stack] mappings.",
			rt.Version, plural(a.threadsLast, "OS thread", "OS threads"), mib(anon))
		f.Evidence = append(f.Evidence, threads,
			ev("anon_resident_bytes", anon, "bytes", mib(anon)+" resident in anonymous mappings (Go heap and goroutine stacks)", src(pid, "smaps")+" Rss of anonymous mappings"))
		f.Why = "Thread counts and per-thread states say little about a Go program: thousands of goroutines can wait on a handful of threads."
		f.Try = append(f.Try, "Count and inspect goroutines with the runtime: net/http/pprof's /debug/pprof/goroutine, or GODEBUG=schedtrace=1000 for the scheduler's view.",
			"GOMAXPROCS (the threads running Go code at once) follows the CPUs, or the cgroup quota from Go 1.25.")
		f.Unmeasured = append(f.Unmeasured, Unmeasured{What: "the number of goroutines and their states", Why: "goroutines are user-space objects of the Go runtime; the kernel has no file for them"})
		f.Lesson = lessonGo
	case collector.RuntimeJVM:
		f.ID = "runtime_jvm"
		jvm := 0
		if len(s.Burst) > 0 {
			for _, t := range s.Burst[len(s.Burst)-1].Tasks {
				for _, p := range jvmThreadPrefixes {
					if strings.HasPrefix(t.Comm, p) {
						jvm++
						break
					}
				}
			}
		}
		f.Verdict = fmt.Sprintf("A JVM (%s): %s, of which %d are the JVM's own by name (GC, JIT compilers, VM); Java threads are OS threads one to one (virtual threads are not).",
			cmpOr(rt.Version, "version unknown"), plural(a.threadsLast, "OS thread", "OS threads"), jvm)
		f.Evidence = append(f.Evidence, threads, ev("jvm_internal_threads", float64(jvm), "threads", plural(jvm, "thread", "threads")+" named like the JVM's own", src(pid, "task/*/comm")))
		f.Why = "Thread counts include the JVM's own threads; heap and GC behaviour are visible only through the JVM's tools."
		f.Try = append(f.Try, "jcmd "+fmt.Sprint(pid)+" Thread.print (threads), jcmd "+fmt.Sprint(pid)+" GC.heap_info, or jstat -gcutil "+fmt.Sprint(pid)+".")
		f.Lesson = lessonJVM
	case collector.RuntimeCPython:
		f.ID = "runtime_cpython"
		f.Verdict = fmt.Sprintf("CPython %s with %s: one thread at a time runs Python code (the global interpreter lock); threads help only with waiting.",
			cmpOr(rt.Version, ""), plural(a.threadsLast, "thread", "threads"))
		f.Evidence = append(f.Evidence, threads)
		f.Why = "Whether more Python threads help depends on whether they compute (no) or wait (yes)."
		f.Try = append(f.Try, "py-spy dump --pid "+fmt.Sprint(pid)+" shows what each thread is doing.")
		f.Lesson = lessonGIL
	case collector.RuntimeNode:
		f.ID = "runtime_node"
		f.Verdict = fmt.Sprintf("Node.js with %s: JavaScript runs on one thread (the event loop); the others are V8's and libuv's helpers.", plural(a.threadsLast, "thread", "threads"))
		f.Evidence = append(f.Evidence, threads)
		f.Why = "A busy loop thread, not the thread count, limits a Node.js process."
		f.Try = append(f.Try, "node --cpu-prof, or the inspector (node --inspect), shows where the loop spends its time.")
		f.Lesson = lessonEventLoop
	}
	return f
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// growth is a straight-line fit of memory over time.
type growth struct {
	points       int
	span         time.Duration
	slopeBPS, r2 float64
	first, last  float64
	confidence   string
	// rises counts the steps between points that went up; maxDrop is the
	// most any point fell below the highest before it (0: monotone);
	// riseSum and maxRise are the rises' total and the biggest one;
	// steps counts the rises of at least leakMinStep and half the mean
	// rise (riseSum / rises).
	rises            int
	maxDrop          float64
	riseSum, maxRise float64
	steps            int
}

// monotone reports whether the points rose steadily: never falling more
// than leakMaxDrop, and either up in at least a third of the steps, or a
// staircase: up in at least leakMinRises steps of a real size (steps),
// none more than half of all the rise (not one jump). The staircase does not depend on the
// sampling rate: a leak of 1 MiB every 0.5 s sampled every 95 ms rises
// in 4 of 21 steps (review3 S7).
func (g growth) monotone() bool {
	if g.maxDrop > leakMaxDrop {
		return false
	}
	return g.rises*3 >= g.points-1 || g.steps >= leakMinRises && 2*g.maxRise <= g.riseSum
}

// fitGrowth fits RSS over time through the history and the burst.
func (s *Sample) fitGrowth() (growth, bool) {
	type pt struct {
		t time.Duration
		v float64
	}
	var pts []pt
	for _, h := range s.History {
		pts = append(pts, pt{h.At, float64(h.RSSBytes)})
	}
	for i := range s.Burst {
		b := &s.Burst[i]
		if b.RSSBytes == 0 || (s.StartTicks != 0 && b.StartTicks != s.StartTicks) {
			continue
		}
		if n := len(pts); n > 0 && b.At <= pts[n-1].t {
			continue
		}
		pts = append(pts, pt{b.At, float64(b.RSSBytes)})
	}
	if len(pts) < 3 {
		return growth{points: len(pts)}, false
	}
	var st, sv float64
	t0 := pts[0].t
	for _, p := range pts {
		st += (p.t - t0).Seconds()
		sv += p.v
	}
	n := float64(len(pts))
	mt, mv := st/n, sv/n
	var stt, stv, svv float64
	for _, p := range pts {
		dt, dv := (p.t-t0).Seconds()-mt, p.v-mv
		stt += dt * dt
		stv += dt * dv
		svv += dv * dv
	}
	if stt == 0 {
		return growth{points: len(pts)}, false
	}
	g := growth{points: len(pts), span: pts[len(pts)-1].t - t0, slopeBPS: stv / stt, first: pts[0].v, last: pts[len(pts)-1].v}
	high := pts[0].v
	for i := 1; i < len(pts); i++ {
		if d := pts[i].v - pts[i-1].v; d > 0 {
			g.rises++
			g.riseSum += d
			g.maxRise = max(g.maxRise, d)
		}
		g.maxDrop = max(g.maxDrop, high-pts[i].v)
		high = max(high, pts[i].v)
	}
	for i := 1; i < len(pts); i++ {
		if d := pts[i].v - pts[i-1].v; d >= leakMinStep && 2*d*float64(g.rises) >= g.riseSum {
			g.steps++
		}
	}
	if svv > 0 {
		g.r2 = stv * stv / (stt * svv)
	}
	switch {
	case g.span >= 10*time.Minute && g.points >= 10 && g.r2 >= 0.9:
		g.confidence = "high"
	case g.span >= 2*time.Minute:
		g.confidence = "medium"
	default:
		g.confidence = "low"
	}
	return g, true
}

// leak answers "is it leaking": memory over time, with a slope and a
// confidence.
func (a *analysis) leak() *Finding {
	s := a.s
	pid := s.PID
	g, ok := s.fitGrowth()
	if !ok || g.slopeBPS <= 0 || g.r2 < leakMinR2 {
		return nil
	}
	grown := g.slopeBPS * g.span.Seconds()
	if grown < leakMinBytes || g.span < leakMinSpan || g.points < leakMinPoints {
		return nil
	}
	byRate := g.slopeBPS >= leakMinRate && g.monotone()
	if grown < leakShare*g.first && !byRate {
		return nil
	}
	f := &Finding{ID: "memory_growing", Question: QLeak, Severity: Notice, Score: g.slopeBPS, Lesson: lessonLeak}
	if g.confidence != "low" {
		f.Severity = Warning
	}
	where := ""
	var heapD, anonD float64
	if m0, m1 := s.First.Memory, s.Last.Memory; m0 != nil && m1 != nil {
		heapD = float64(m1.ResidentByClass[collector.SegHeap]) - float64(m0.ResidentByClass[collector.SegHeap])
		anonD = float64(m1.ResidentByClass[collector.SegAnon]) - float64(m0.ResidentByClass[collector.SegAnon])
		// Shares of the growth between the two smaps readings; only when
		// it is large enough for them to mean something.
		if tot := float64(m1.Totals.RSSBytes) - float64(m0.Totals.RSSBytes); tot >= leakMinBytes && anonD+heapD > 0 {
			where = fmt.Sprintf(", %s of it in anonymous mappings and %s in [heap]", pct(min(max(anonD, 0)/tot, 1)), pct(min(max(heapD, 0)/tot, 1)))
		}
	}
	f.Verdict = fmt.Sprintf("Memory is growing steadily: RSS %s → %s, %s/s over %s (fit R² %s)%s; confidence %s.",
		mib(g.first), mib(g.last), mib(g.slopeBPS), dur(g.span), f2(g.r2), where, g.confidence)
	if g.confidence == "low" {
		f.Verdict = strings.TrimSuffix(f.Verdict, ".") + ": too short to tell a leak from a warm-up."
	}
	source := src(pid, "stat") + " field 24 (rss), sampled"
	if len(s.History) > 0 {
		source += "; earlier points from the dashboard's ring or the record"
	}
	f.Evidence = append(f.Evidence,
		ev("rss_growth_bytes_per_second", g.slopeBPS, "bytes_per_second", mib(g.slopeBPS)+"/s (least-squares slope)", source),
		ev("fit_r2", g.r2, "ratio", "R² "+f2(g.r2)+" over "+fmt.Sprint(g.points)+" points", source),
		ev("span_seconds", g.span.Seconds(), "seconds", dur(g.span)+" observed", source),
		ev("rss_rising_steps", float64(g.rises), "count", fmt.Sprintf("RSS rose in %d of %d steps, and fell at most %s below its highest", g.rises, g.points-1, mib(g.maxDrop)), source))
	if where != "" {
		f.Evidence = append(f.Evidence,
			ev("anon_growth_bytes", anonD, "bytes", mib(anonD)+" more resident in anonymous mappings (malloc serves blocks of 128 KiB and more with mmap)", src(pid, "smaps")+" Rss by mapping, both readings"),
			ev("heap_growth_bytes", heapD, "bytes", mib(heapD)+" more resident in [heap] (brk)", src(pid, "smaps")+" Rss of [heap], both readings"))
	}
	a.swapinEvidence(f, true)
	f.Why = "Memory that only grows ends in swapping or the OOM killer; [heap] alone misses most of it, since large allocations come from anonymous mappings."
	f.Try = append(f.Try, "Watch it longer: the dashboard keeps a short history per process; a leak keeps the same slope for minutes, a warm-up flattens.",
		"Find the allocation site with a heap profiler (heaptrack, valgrind --tool=massif, jemalloc's prof, pprof for Go, tracemalloc for Python).")
	if g.confidence == "low" {
		f.Unmeasured = append(f.Unmeasured, Unmeasured{What: "whether the growth lasts", Why: fmt.Sprintf("only %s of history (%d points); a verdict needs at least 2 minutes", dur(g.span), g.points)})
	}
	return f
}
