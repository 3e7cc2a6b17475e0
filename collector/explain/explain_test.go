package explain

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// The recorded samples in testdata were taken from real programs on a
// shared 2-CPU machine by the sampler's live tests (go test
// ./collector/sampler -run Live -record). Replaying them pins each
// verdict to the evidence that decided it.

func loadSample(t *testing.T, name string) *Sample {
	t.Helper()
	var s Sample
	load(t, name, &s)
	if s.Version != SampleVersion {
		t.Fatalf("%s: sample version %d, want %d", name, s.Version, SampleVersion)
	}
	return &s
}

func load(t *testing.T, name string, v any) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(zr).Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func get(fs []Finding, id string) *Finding {
	for i := range fs {
		if fs[i].ID == id {
			return &fs[i]
		}
	}
	return nil
}

func value(f *Finding, name string) float64 {
	for _, e := range f.Evidence {
		if e.Name == name && e.Value != nil {
			return *e.Value
		}
	}
	return -1
}

func TestRecordedVerdicts(t *testing.T) {
	for _, c := range []struct {
		name      string
		want, not []string
		first     string // the worst finding
	}{
		{name: "cpupool64", want: []string{"pool_oversubscribed", "state_hides_threads", "cpu_bound", "switch_cost", "waits"}, first: "pool_oversubscribed"},
		{name: "cpupool-right", not: []string{"pool_oversubscribed", "cgroup_throttled"}},
		{name: "cpupool-neighbours", want: []string{"cpu_neighbours"}, not: []string{"pool_oversubscribed"}},
		{name: "cpupool-quota", want: []string{"cgroup_throttled"}, not: []string{"pool_oversubscribed", "cpu_neighbours"}},
		{name: "iopool64", want: []string{"io_bound", "switch_cost", "waits"}, not: []string{"pool_oversubscribed", "cpu_bound", "cpu_bound_room"}},
		{name: "diskpool16", want: []string{"disk_bound", "state_hides_d"}},
		{name: "gil-threads", want: []string{"gil_serialised", "runtime_cpython"}, first: "gil_serialised"},
		{name: "gil-procs-worker", not: []string{"gil_serialised"}},
		{name: "gil-procs-parent", want: []string{"family_memory"}},
		{name: "asyncio", want: []string{"event_loop", "runtime_cpython"}, not: []string{"gil_serialised"}},
		{name: "goroutines", want: []string{"runtime_go"}, not: []string{"lock_wait", "event_loop"}},
		{name: "cow-shared", want: []string{"cow_shared"}},
		{name: "cow-copied", want: []string{"cow_copied"}},
		{name: "cow-copying", want: []string{"cow_copying"}},
		{name: "zygote", want: []string{"family_memory", "cow_shared"}},
		{name: "leak", want: []string{"memory_growing"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := loadSample(t, c.name)
			fs := Explain(s)
			got := ids(fs)
			for _, w := range c.want {
				if !slices.Contains(got, w) {
					t.Errorf("no %s in %v", w, got)
				}
			}
			for _, n := range c.not {
				if slices.Contains(got, n) {
					t.Errorf("%s in %v", n, got)
				}
			}
			if c.first != "" && (len(fs) == 0 || fs[0].ID != c.first) {
				t.Errorf("worst finding %v, want %s", got, c.first)
			}
			for _, f := range fs {
				checkFinding(t, f)
			}
		})
	}
}

// checkFinding holds every finding to the contract: a verdict sentence,
// evidence each with a source, a question, the process named.
func checkFinding(t *testing.T, f Finding) {
	t.Helper()
	if f.ID == "" || f.Question == "" || !strings.HasSuffix(f.Verdict, ".") || len(f.Evidence) == 0 || f.Why == "" {
		t.Errorf("%s: incomplete finding %+v", f.ID, f)
	}
	if f.Question != QMachine && f.PID == 0 {
		t.Errorf("%s: no pid", f.ID)
	}
	for _, e := range f.Evidence {
		if e.Name == "" || e.Text == "" || e.Source == "" {
			t.Errorf("%s: evidence without name, text or source: %+v", f.ID, e)
		}
		if e.Value != nil && e.Unit == "" {
			t.Errorf("%s: %s has a value but no unit", f.ID, e.Name)
		}
	}
	for _, u := range f.Unmeasured {
		if u.What == "" || u.Why == "" {
			t.Errorf("%s: unmeasured without what or why: %+v", f.ID, u)
		}
	}
	if strings.Contains(f.Verdict, "NaN") || strings.Contains(f.Verdict, "Inf") {
		t.Errorf("%s: %s", f.ID, f.Verdict)
	}
}

// TestOversubscriptionRestsOnRunQueueWait: the 64-thread pool's verdict
// comes from schedstat; with schedstat removed from the same sample it
// cannot be given (involuntary switches, still there, do not decide it).
func TestOversubscriptionRestsOnRunQueueWait(t *testing.T) {
	s := loadSample(t, "cpupool64")
	f := get(Explain(s), "pool_oversubscribed")
	if f == nil || f.Evidence[0].Name != "run_queue_wait_per_slice_ms" || value(f, "run_queue_wait_share") < 0.5 {
		t.Fatalf("%+v", f)
	}
	for i := range s.Burst {
		for j := range s.Burst[i].Tasks {
			s.Burst[i].Tasks[j].HasSched = false
		}
	}
	fs := Explain(s)
	if get(fs, "pool_oversubscribed") != nil {
		t.Errorf("oversubscription without schedstat: %v", ids(fs))
	}
	if b := get(fs, "cpu_bound"); b == nil {
		t.Errorf("without schedstat the sampled R states still say CPU-bound: %v", ids(fs))
	}
}

// TestNeighboursNamed: the loaded right-sized pool's verdict names the
// other runnable tasks as the cause.
func TestNeighboursNamed(t *testing.T) {
	s := loadSample(t, "cpupool-neighbours")
	f := get(Explain(s), "cpu_neighbours")
	if f == nil || value(f, "others_runnable_avg") < 1 || value(f, "top_neighbour_cpus") <= 0 {
		t.Fatalf("%+v", f)
	}
}

// TestMachineRecorded: the machine sample taken with a 64-thread pool
// running has the pool's oversubscription and a machine finding.
func TestMachineRecorded(t *testing.T) {
	var m MachineSample
	load(t, "machine", &m)
	fs := ExplainMachine(&m)
	var pool, machine bool
	for _, f := range fs {
		checkFinding(t, f)
		pool = pool || f.ID == "pool_oversubscribed"
		machine = machine || f.Question == QMachine
	}
	if !pool || !machine {
		t.Errorf("findings %v", ids(fs))
	}
	for i := 1; i < len(fs); i++ {
		if fs[i].Severity > fs[i-1].Severity {
			t.Fatalf("not worst first: %v", ids(fs))
		}
	}
}

// TestEmptyAndPartialSamples: a sample with nothing in it, one tick, or
// no readable process gives no findings about what it lacks, names the
// gaps, and never panics.
func TestEmptyAndPartialSamples(t *testing.T) {
	if fs := Explain(&Sample{}); len(fs) != 0 {
		t.Errorf("empty sample: %v", ids(fs))
	}
	s := loadSample(t, "cpupool64")
	one := *s
	one.Burst = one.Burst[:1]
	fs := Explain(&one)
	if get(fs, "pool_oversubscribed") != nil {
		t.Errorf("one tick gave run-queue wait: %v", ids(fs))
	}
	gaps := Gaps(&one)
	if len(gaps) == 0 || !strings.Contains(gaps[0].Why, "one sample only") {
		t.Errorf("gaps %+v", gaps)
	}
	none := *s
	none.First.Process, none.Last.Process = nil, nil
	none.Last.Memory, none.First.Memory = nil, nil
	for _, f := range Explain(&none) {
		checkFinding(t, f)
	}
	gone := *s
	gone.Burst = nil
	gone.Last = Reading{}
	_ = Explain(&gone)
}

// TestDeniedSources: a sample taken by a user who may not ptrace the
// process has no syscall or io; the gaps say why, with the hint about
// root.
func TestDeniedSources(t *testing.T) {
	s := loadSample(t, "gil-threads")
	s.Machine.Root = false
	s.Unavailable = map[string]string{"syscall": "permission denied", "io": "permission denied"}
	for i := range s.Burst {
		for j := range s.Burst[i].Tasks {
			s.Burst[i].Tasks[j].HasSyscall = false
		}
	}
	s.First.IO, s.Last.IO = nil, nil
	fs := Explain(s)
	g := get(fs, "gil_serialised")
	if g == nil {
		t.Fatalf("the GIL finding falls back to wchan: %v", ids(fs))
	}
	if !strings.Contains(g.Evidence[2].Source, "wchan") {
		t.Errorf("futex evidence source %q", g.Evidence[2].Source)
	}
	var saw bool
	for _, u := range g.Unmeasured {
		saw = saw || u.Key == "syscall" && u.What == GapName("syscall") && u.Why == "permission denied"
	}
	if !saw {
		t.Errorf("unmeasured %+v", g.Unmeasured)
	}
	gaps := Gaps(s)
	if !slices.ContainsFunc(gaps, func(u Unmeasured) bool { return strings.Contains(u.Why, "not root") }) {
		t.Errorf("gaps %+v", gaps)
	}
}

// TestSaturatedLoop: an event-loop thread on a CPU most of the window is
// saturated.
func TestSaturatedLoop(t *testing.T) {
	s := loadSample(t, "asyncio")
	// Make the loop thread run 90% of the burst, waking into epoll_wait
	// between handlers.
	for i := range s.Burst {
		for j := range s.Burst[i].Tasks {
			tk := &s.Burst[i].Tasks[j]
			tk.Sched.RunNs = uint64(float64(s.Burst[i].At-s.Burst[0].At) * 0.9)
		}
	}
	f := get(Explain(s), "event_loop_saturated")
	if f == nil || f.Severity != Warning {
		t.Fatalf("%+v", f)
	}
}

// TestRuntimeJVM: a JVM's own threads are counted by their names.
func TestRuntimeJVM(t *testing.T) {
	s := loadSample(t, "iopool64")
	s.Runtime = collector.DetectRuntime(collector.RuntimeClues{MappedFiles: []string{"/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so"}})
	last := &s.Burst[len(s.Burst)-1]
	for i, name := range []string{"GC Thread#0", "C2 CompilerThre", "VM Thread", "Finalizer"} {
		last.Tasks[i+1].Comm = name
	}
	f := get(Explain(s), "runtime_jvm")
	if f == nil || value(f, "jvm_internal_threads") != 4 || !strings.Contains(f.Verdict, "JVM (17)") {
		t.Fatalf("%+v", f)
	}
}

// TestLeakConfidence: the same steady growth seen over ten minutes of
// history is a warning with high confidence; a flat history is no finding.
func TestLeakConfidence(t *testing.T) {
	s := loadSample(t, "leak")
	// Ten minutes of the same slope before the burst: shift the burst up
	// by what ten minutes of growth adds.
	g, _ := s.fitGrowth()
	const minutes = 10
	offset := uint64(g.slopeBPS * minutes * 60)
	for i := range s.Burst {
		s.Burst[i].RSSBytes += offset
	}
	first := s.Burst[0]
	for i := 0; i < 60; i++ {
		back := time.Duration(60-i) * minutes * time.Second
		s.History = append(s.History, MemoryPoint{At: first.At - back, RSSBytes: first.RSSBytes - uint64(g.slopeBPS*back.Seconds())})
	}
	f := get(Explain(s), "memory_growing")
	if f == nil || f.Severity != Warning || !strings.Contains(f.Verdict, "confidence high") {
		t.Fatalf("%+v", f)
	}
	flat := loadSample(t, "cpupool-right")
	if get(Explain(flat), "memory_growing") != nil {
		t.Error("a flat process is growing")
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{num(3028.4), "3,028"}, {num(-1234567), "-1,234,567"}, {num(12), "12"},
		{mib(512), "1 KiB"}, {mib(3.5 * (1 << 20)), "3.5 MiB"}, {mib(128 << 20), "128 MiB"}, {mib(12 << 30), "12.0 GiB"},
		{dur(119 * time.Millisecond), "119 ms"}, {dur(4200 * time.Nanosecond), "4.2 µs"}, {dur(2500 * time.Millisecond), "2.5 s"},
		{pct(0.974), "97%"}, {plural(1, "thread", "threads"), "1 thread"}, {plural(64, "thread", "threads"), "64 threads"},
		{SyscallName("amd64", 202), "futex"}, {SyscallName("arm64", 98), "futex"}, {SyscallName("riscv64", 1), "syscall 1"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	var s Severity
	for _, want := range []Severity{Info, Notice, Warning} {
		b, _ := want.MarshalText()
		if err := s.UnmarshalText(b); err != nil || s != want {
			t.Errorf("severity round trip %v: %v %v", want, s, err)
		}
	}
	if s.UnmarshalText([]byte("bad")) == nil {
		t.Error("bad severity accepted")
	}
}

// TestStarvedIOPoolStaysIOBound: on a machine so loaded that an I/O
// pool's threads are runnable most of the time after each wake-up, they
// still block by themselves (voluntary switches): they are not counted as
// computing, so the pool is neither CPU-bound nor oversubscribed.
func TestStarvedIOPoolStaysIOBound(t *testing.T) {
	s := loadSample(t, "iopool64")
	for i := range s.Burst {
		for j := range s.Burst[i].Tasks {
			if tk := &s.Burst[i].Tasks[j]; tk.TID != s.PID { // the workers; main sleeps in pthread_join
				tk.State = 'R'
			}
		}
	}
	fs := Explain(s)
	if get(fs, "pool_oversubscribed") != nil || get(fs, "cpu_bound") != nil || get(fs, "cpu_bound_room") != nil {
		t.Fatalf("a starved I/O pool read as computing: %v", ids(fs))
	}
	c := loadSample(t, "cpupool64")
	if get(Explain(c), "pool_oversubscribed") == nil {
		t.Fatal("the CPU pool lost its verdict")
	}
}

// TestDelayAccounting: with delay accounting on, the taskstats block-I/O
// delay totals at the window's ends become a ms/s rate in the disk and
// wait findings, and the swap-in delay one in the memory finding; with
// it off, or without taskstats, the findings say why it is missing.
func TestDelayAccounting(t *testing.T) {
	withDelays := func(name string) *Sample {
		s := loadSample(t, name)
		s.Machine.DelayAcct = "on"
		secs := (s.Last.At - s.First.At).Seconds()
		s.First.Delays = &collector.DelayTotals{BlkioCount: 100, BlkioDelayNs: 5e9, SwapinCount: 1, SwapinDelayNs: 1e6}
		// 750 ms/s of block-I/O delay and 20 ms/s of swap-in delay.
		s.Last.Delays = &collector.DelayTotals{BlkioCount: 400, BlkioDelayNs: 5e9 + uint64(0.75e9*secs), SwapinCount: 9, SwapinDelayNs: 1e6 + uint64(0.02e9*secs)}
		return s
	}
	near := func(got, want float64) bool { return got > want-0.01 && got < want+0.01 }

	fs := Explain(withDelays("diskpool16"))
	for _, id := range []string{"disk_bound", "waits"} {
		f := get(fs, id)
		if f == nil {
			t.Fatalf("no %s finding: %v", id, ids(fs))
		}
		if v := value(f, "blkio_delay_ms_per_second"); !near(v, 750) {
			t.Errorf("%s: blkio delay %v ms/s, want 750 (evidence %+v)", id, v, f.Evidence)
		}
		for _, u := range f.Unmeasured {
			if strings.Contains(u.What, "taskstats") {
				t.Errorf("%s: still unmeasured with delays read: %+v", id, u)
			}
		}
	}
	if w := get(fs, "waits"); !near(value(w, "swapin_delay_ms_per_second"), 20) {
		t.Errorf("waits: swap-in delay evidence missing: %+v", w.Evidence)
	}
	if slices.ContainsFunc(Gaps(withDelays("diskpool16")), func(u Unmeasured) bool { return strings.Contains(u.What, "taskstats") }) {
		t.Error("gaps name taskstats delays though they were read")
	}

	fs = Explain(withDelays("leak"))
	if l := get(fs, "memory_growing"); l == nil || !near(value(l, "swapin_delay_ms_per_second"), 20) {
		t.Errorf("leak finding lacks the swap-in delay: %v %+v", ids(fs), l)
	}

	unmeasured := func(s *Sample, want string) {
		t.Helper()
		f := get(Explain(s), "disk_bound")
		if f == nil {
			t.Fatal("no disk_bound finding")
		}
		if value(f, "blkio_delay_ms_per_second") != -1 {
			t.Errorf("blkio delay evidence without a measurement: %+v", f.Evidence)
		}
		if !slices.ContainsFunc(f.Unmeasured, func(u Unmeasured) bool { return strings.Contains(u.Why, want) }) {
			t.Errorf("disk_bound unmeasured %+v, want a reason with %q", f.Unmeasured, want)
		}
		if !slices.ContainsFunc(Gaps(s), func(u Unmeasured) bool { return strings.Contains(u.Why, want) }) {
			t.Errorf("gaps %+v, want a reason with %q", Gaps(s), want)
		}
	}
	off := withDelays("diskpool16")
	off.Machine.DelayAcct = "off" // totals that do not move are not a measurement
	unmeasured(off, "kernel.task_delayacct is off")
	denied := withDelays("diskpool16")
	denied.First.Delays, denied.Last.Delays = nil, nil
	denied.Unavailable = map[string]string{"taskstats": "needs CAP_NET_ADMIN (taskstats over netlink was denied)"}
	unmeasured(denied, "needs CAP_NET_ADMIN")
	// A process created before the sysctl was turned on has no delay
	// record: taskstats counts no wait though threads were in D.
	predates := withDelays("diskpool16")
	predates.First.Delays, predates.Last.Delays = &collector.DelayTotals{}, &collector.DelayTotals{}
	unmeasured(predates, "predates kernel.task_delayacct")
}

// TestSleepShareCountsD: the I/O-bound verdict's sleep share counts the
// samples in D as asleep, as the waits finding does: the 16-thread
// fdatasync pool, seen in D much of the window, is not "asleep 0 %".
func TestSleepShareCountsD(t *testing.T) {
	s := loadSample(t, "diskpool16")
	a := analyse(s)
	if a.states['D'] == 0 {
		t.Fatal("no D samples in diskpool16")
	}
	f := &Finding{Question: QBound}
	a.boundWaiting(f)
	w := a.waits()
	if w == nil {
		t.Fatal("no waits finding")
	}
	if got, want := value(f, "sleeping_share"), value(w, "asleep_share"); got != want || got <= 0 {
		t.Errorf("sleep share %.3f in the bound verdict, %.3f in waits", got, want)
	}
}

// TestMachineIOPressureSaysWhatProcsBlockedCounts: procs_blocked counts
// tasks in I/O wait, not every task in D; the machine's I/O finding says
// so and counts the examined processes' threads in D from their samples
// (a vfork parent in D with procs_blocked 0 read "0 blocked in D").
func TestMachineIOPressureSaysWhatProcsBlockedCounts(t *testing.T) {
	var m MachineSample
	load(t, "machine", &m)
	if m.First.Pressure.IO == nil || m.Last.Pressure.IO == nil || len(m.Processes) == 0 {
		t.Skip("the machine sample has no I/O pressure or no process")
	}
	last := *m.Last.Pressure.IO
	last.Some.TotalUs = m.First.Pressure.IO.Some.TotalUs + uint64((m.LastAt-m.FirstAt).Microseconds()/2) // 50 %
	m.Last.Pressure.IO = &last
	m.Last.ProcsBlocked = 0
	s := m.Processes[0]
	tk := &s.Burst[len(s.Burst)-1]
	tk.Tasks[0].State = 'D'
	var f *Finding
	fs := ExplainMachine(&m)
	f = get(fs, "machine_io_pressure")
	if f == nil {
		t.Fatalf("no machine_io_pressure: %v", ids(fs))
	}
	checkFinding(t, *f)
	if strings.Contains(f.Verdict, "blocked in D") || !strings.Contains(f.Verdict, "in I/O wait (procs_blocked)") {
		t.Errorf("verdict %q", f.Verdict)
	}
	if v := value(f, "examined_threads_in_d"); v < 1 {
		t.Errorf("examined threads in D %v: %q", v, f.Verdict)
	}
}

// TestFamilyPartialIsNotATotal: a family whose members could not all be
// read (exited children of a fork-heavy parent) gets the sums of those
// read, said to cover only them, not "they use".
func TestFamilyPartialIsNotATotal(t *testing.T) {
	s := loadSample(t, "zygote")
	full := get(Explain(s), "family_memory")
	if full == nil || !strings.Contains(full.Verdict, "they use") {
		t.Fatalf("whole family: %+v", full)
	}
	n := len(s.Family.Members)
	for i := 1; i < n; i++ {
		s.Family.Members[i].Memory, s.Family.Members[i].Why = nil, "no address space"
	}
	f := get(Explain(s), "family_memory")
	if f == nil {
		t.Fatal("no family_memory with one member read")
	}
	checkFinding(t, *f)
	if strings.Contains(f.Verdict, "they use") || !strings.Contains(f.Verdict, "covers only the 1 read") || value(f, "family_processes_read") != 1 {
		t.Errorf("partial family: %s", f.Verdict)
	}
}

// TestCOWPrivateShrinkWording: private memory that went down over the
// window (shared with children forked since) reads "less private", not
// "-29 MiB more private".
func TestCOWPrivateShrinkWording(t *testing.T) {
	s := loadSample(t, "cow-copied")
	m0 := *s.Last.Memory
	m0.PrivateAnon.PrivateDirtyBytes += 29 << 20
	s.First.Memory = &m0
	f := get(Explain(s), "cow_copied")
	if f == nil {
		t.Fatalf("no cow_copied: %v", ids(Explain(s)))
	}
	for _, e := range f.Evidence {
		if e.Name == "anon_private_dirty_growth_bytes" {
			if strings.Contains(e.Text, "-") || !strings.Contains(e.Text, "29 MiB less private") {
				t.Errorf("evidence %q", e.Text)
			}
			return
		}
	}
	t.Errorf("no growth evidence: %+v", f.Evidence)
}

// TestLeakByRate: the recorded leak (8 MiB/s) in a process 2 GiB bigger
// grows under 2 % of its RSS over the window, and is still reported: the
// rate, rising in every few steps, decides. The same leak seen over its
// first 3 points (a compiler's warm-up length) is not "growing steadily".
func TestLeakByRate(t *testing.T) {
	s := loadSample(t, "leak")
	for i := range s.Burst {
		if s.Burst[i].RSSBytes != 0 {
			s.Burst[i].RSSBytes += 2 << 30
		}
	}
	for i := range s.History {
		s.History[i].RSSBytes += 2 << 30
	}
	f := get(Explain(s), "memory_growing")
	if f == nil {
		t.Fatalf("a steady 8 MiB/s in a 2 GiB process is missed: %v", ids(Explain(s)))
	}
	checkFinding(t, *f)
	if v := value(f, "rss_rising_steps"); v < 3 {
		t.Errorf("rising steps %v", v)
	}

	short := loadSample(t, "leak")
	var keep []Tick
	for _, b := range short.Burst {
		if b.RSSBytes != 0 && len(keep) < 3 {
			keep = append(keep, b)
		}
	}
	short.Burst, short.History = keep, nil
	if f := get(Explain(short), "memory_growing"); f != nil {
		t.Errorf("3 points over %v called steady growth: %s", keep[len(keep)-1].At-keep[0].At, f.Verdict)
	}
}
