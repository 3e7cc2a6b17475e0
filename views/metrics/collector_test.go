package metrics

import (
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// gather collects c through a registry (which checks the metrics against
// their descriptors) and indexes the families by name.
func gather(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// find returns the value of the series of family name whose labels
// include want, and whether it exists.
func find(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		l := labelsOf(m)
		for k, v := range want {
			if l[k] != v {
				continue next
			}
		}
		return value(m), true
	}
	return 0, false
}

// sumOf adds the values of family name's series whose labels include
// want.
func sumOf(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	s := 0.0
	if mf := mfs[name]; mf != nil {
	next:
		for _, m := range mf.GetMetric() {
			l := labelsOf(m)
			for k, v := range want {
				if l[k] != v {
					continue next
				}
			}
			s += value(m)
		}
	}
	return s
}

func sum(mfs map[string]*dto.MetricFamily, name string) float64 { return sumOf(mfs, name, nil) }

// rules returns a Grouping of the YAML rules given (so tests name their
// helpers' groups whatever else runs on the machine: groups named by a
// rule are not subject to groups.max).
func rules(t *testing.T, yamlRules string) Grouping {
	t.Helper()
	g, _, err := ParseConfig([]byte("groups:\n  rules:\n" + yamlRules))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

const procshapeRule = "    - {name: procshape, comm: [procshape]}\n"

// observed returns a collector with o that has observed frames.
func observed(o Options, frames ...*monitor.Frame) *Collector {
	c := NewCollector(o)
	for _, f := range frames {
		c.Observe(f)
	}
	return c
}

func TestCollectorLiveZombiesAndStates(t *testing.T) {
	h := livehelper.Start(t, "zombies", "2")
	sc := newScanner(t, true)
	var f *monitor.Frame
	deadline := time.Now().Add(10 * time.Second)
	for {
		f = sc.frame()
		if n := countZombiesOf(f.Snapshot, h.PID()); n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper's 2 zombies never showed in /proc")
		}
		livehelper.Sleep()
	}
	// Room for every parent: other zombie parents on the machine must not
	// push the helper out.
	mfs := gather(t, observed(Options{ZombieParents: MaxSeriesLimit, Groups: rules(t, procshapeRule)}, f))

	pid := strconv.Itoa(h.PID())
	comm := lifecycle.Find(f.Snapshot, h.PID()).Comm
	if v, ok := find(mfs, "pinspect_zombie_parent_zombies", map[string]string{"pid": pid, "comm": comm}); !ok || v != 2 {
		t.Errorf("pinspect_zombie_parent_zombies{pid=%s,comm=%s} = %v, %v; want 2", pid, comm, v, ok)
	}
	if len(f.Zombies) > 0 {
		v, ok := find(mfs, "pinspect_zombie_parent_oldest_zombie_first_seen_timestamp_seconds", map[string]string{"pid": pid})
		if taken := unixSeconds(f.Snapshot.TakenAt); !ok || v <= 0 || v > taken {
			t.Errorf("oldest zombie of parent %s first seen at %v, %v; want a time at or before the scan (%v)", pid, v, ok, taken)
		}
	} else {
		t.Errorf("the lifecycle diagnosis found no zombie group (the snapshot has 2 zombies of %s)", pid)
	}
	if v, _ := find(mfs, "pinspect_zombies", nil); v < 2 {
		t.Errorf("pinspect_zombies = %v, want >= 2", v)
	}
	if v, _ := find(mfs, "pinspect_processes", map[string]string{"state": "zombie"}); v < 2 {
		t.Errorf("pinspect_processes{state=zombie} = %v, want >= 2", v)
	}
	if v := sumOf(mfs, "pinspect_group_processes", map[string]string{"group": comm, "state": "zombie"}); v < 2 {
		t.Errorf("pinspect_group_processes{group=%s,state=zombie} = %v, want >= 2", comm, v)
	}
	// The helper's group holds them as a parent.
	if v, _ := find(mfs, "pinspect_group_zombie_children", map[string]string{"group": comm}); v < 2 {
		t.Errorf("pinspect_group_zombie_children{group=%s} = %v, want >= 2", comm, v)
	}
	if v, ok := find(mfs, "pinspect_group_oldest_zombie_child_first_seen_timestamp_seconds", map[string]string{"group": comm}); len(f.Zombies) > 0 && (!ok || v > unixSeconds(f.Snapshot.TakenAt)) {
		t.Errorf("group %s's oldest zombie first seen at %v, %v", comm, v, ok)
	}
	if got, want := sum(mfs, "pinspect_processes"), float64(len(f.Snapshot.Processes)); got != want {
		t.Errorf("sum of pinspect_processes = %v, want %v (every process counted once)", got, want)
	}
	if got, want := sum(mfs, "pinspect_group_processes"), float64(len(f.Snapshot.Processes)); got != want {
		t.Errorf("sum of pinspect_group_processes = %v, want %v (every process in one group)", got, want)
	}
	threads := 0
	for i := range f.Snapshot.Processes {
		threads += len(f.Snapshot.Processes[i].Threads)
	}
	if got := sum(mfs, "pinspect_threads"); got < float64(threads) || got == 0 {
		t.Errorf("sum of pinspect_threads = %v, want >= %d", got, threads)
	}
	for _, s := range collector.StateLetters {
		if _, ok := find(mfs, "pinspect_processes", map[string]string{"state": collector.StateName(byte(s))}); !ok {
			t.Errorf("pinspect_processes{state=%q} missing: every state is always exported", collector.StateName(byte(s)))
		}
	}
	// Bounded: with room for one parent, it is one holding the most.
	most := 0
	for i := range f.Snapshot.Processes {
		if p := &f.Snapshot.Processes[i]; p.IsZombie() {
			most = max(most, countZombiesOf(f.Snapshot, p.PPID))
		}
	}
	one := gather(t, observed(Options{ZombieParents: 1}, f))
	if ms := one["pinspect_zombie_parent_zombies"].GetMetric(); len(ms) != 1 || value(ms[0]) != float64(most) {
		t.Errorf("ZombieParents 1: %d series (%v), want 1 with %d zombies", len(ms), ms, most)
	}
	for _, k := range lifecycle.AdopterKinds() {
		if _, ok := find(mfs, "pinspect_orphans", map[string]string{"adopter_kind": k}); !ok {
			t.Errorf("pinspect_orphans{adopter_kind=%q} missing", k)
		}
	}
	if v, ok := find(mfs, "pinspect_scan_duration_seconds", nil); !ok || v <= 0 {
		t.Errorf("pinspect_scan_duration_seconds = %v, %v", v, ok)
	}
	for _, name := range []string{"pinspect_scan_vanished_processes_total", "pinspect_scan_denied_fields_total", "pinspect_frames_total", "pinspect_groups"} {
		if _, ok := find(mfs, name, nil); !ok {
			t.Errorf("%s missing", name)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(observed(Options{ZombieParents: 3}, f))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func countZombiesOf(snap *collector.Snapshot, ppid int) int {
	n := 0
	for i := range snap.Processes {
		if p := &snap.Processes[i]; p.IsZombie() && p.PPID == ppid {
			n++
		}
	}
	return n
}

// By default no series carries a pid, and nothing is a pre-computed
// rate.
func TestCollectorNoPerProcessSeriesByDefault(t *testing.T) {
	livehelper.Start(t, "threads", "4")
	livehelper.Start(t, "zombies", "2") // no per-parent series either
	sc := newScanner(t, true)
	first := sc.frame()
	time.Sleep(100 * time.Millisecond)
	mfs := gather(t, observed(Options{ZombieParents: DefaultZombieParents, Groups: rules(t, procshapeRule)}, first, sc.frame()))
	for name, mf := range mfs {
		if len(name) > len("_per_second") && name[len(name)-len("_per_second"):] == "_per_second" {
			t.Errorf("%s: a pre-computed rate", name)
		}
		for _, m := range mf.GetMetric() {
			if _, has := labelsOf(m)["pid"]; has {
				t.Errorf("%s has a pid label by default: %v", name, labelsOf(m))
				break
			}
		}
	}
	if mfs["pinspect_process_series_cut_total"] != nil {
		t.Error("pinspect_process_series_cut_total exported without per_process groups")
	}
	if v := sumOf(mfs, "pinspect_group_threads", map[string]string{"group": "procshape"}); v < 4 {
		t.Errorf("group procshape threads = %v, want >= 4", v)
	}
}

// Per-process series are for the processes of the allowed groups only,
// the oldest first up to the cap, and the others are counted as cut.
func TestCollectorPerProcessAllowList(t *testing.T) {
	older := livehelper.Start(t, "comm", "pm-allow")
	time.Sleep(20 * time.Millisecond) // start times differ by a tick at least
	newer := livehelper.Start(t, "comm", "pm-allow")
	livehelper.Start(t, "comm", "pm-other")
	g, pp, err := ParseConfig([]byte("groups:\n  rules: [{name: pm-allow, comm: [pm-allow]}, {name: pm-other, comm: [pm-other]}]\n" +
		"per_process:\n  groups: [pm-allow]\n  max: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc := newScanner(t, false)
	f := waitFrame(t, sc, func(f *monitor.Frame) bool {
		a, b := lifecycle.Find(f.Snapshot, older.PID()), lifecycle.Find(f.Snapshot, newer.PID())
		return a != nil && b != nil && a.Comm == "pm-allow" && b.Comm == "pm-allow"
	})
	c := observed(Options{PerProcess: pp, Groups: g}, f)
	mfs := gather(t, c)
	for _, name := range []string{"pinspect_process_cpu_seconds_total", "pinspect_process_threads", "pinspect_process_context_switches_total", "pinspect_process_start_time_seconds", "pinspect_process_resident_memory_bytes"} {
		pids := map[string]bool{}
		for _, m := range mfs[name].GetMetric() {
			l := labelsOf(m)
			pids[l["pid"]] = true
			if l["group"] != "pm-allow" || l["comm"] != "pm-allow" {
				t.Errorf("%s: labels %v, want group and comm pm-allow", name, l)
			}
		}
		if older.PID() > 0 && (len(pids) != 1 || !pids[strconv.Itoa(older.PID())]) {
			t.Errorf("%s: pids %v, want only the older helper %d", name, pids, older.PID())
		}
	}
	if v, ok := find(mfs, "pinspect_process_series_cut_total", nil); !ok || v != 1 {
		t.Errorf("pinspect_process_series_cut_total = %v, %v; want 1 (one process over the cap)", v, ok)
	}
	f2 := sc.frame()
	c.Observe(f2)
	if v, _ := find(gather(t, c), "pinspect_process_series_cut_total", nil); v != 2 {
		t.Errorf("after a second scan: cut %v, want 2 (counted at each scan)", v)
	}
	// The cmdline label only when asked.
	withCmd := gather(t, observed(Options{PerProcess: pp, Groups: g, Cmdline: true}, f))
	for _, m := range withCmd["pinspect_process_threads"].GetMetric() {
		if _, ok := labelsOf(m)["cmdline"]; !ok {
			t.Errorf("Cmdline set, no cmdline label: %v", labelsOf(m))
		}
	}
}

// waitFrame scans until ok accepts a frame (10 s at most).
func waitFrame(t *testing.T, sc *scanner, ok func(*monitor.Frame) bool) *monitor.Frame {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; livehelper.Sleep() {
		if f := sc.frame(); ok(f) {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatal("the helpers never showed as expected in /proc")
		}
	}
}

// Label values from hostile comms are valid UTF-8 without control
// characters, in group and per-process series alike.
func TestCollectorHostileCommLabels(t *testing.T) {
	hostile := "\x1b]0;x\x07\xff\xfe"
	h := livehelper.Start(t, "comm", hostile)
	sc := newScanner(t, false)
	f := waitFrame(t, sc, func(f *monitor.Frame) bool {
		p := lifecycle.Find(f.Snapshot, h.PID())
		return p != nil && p.Comm == hostile
	})
	// A rule names the helper's group by its command line (RE2 on raw
	// bytes), so it has one whatever else runs here.
	g, pp, err := ParseConfig([]byte("groups:\n  rules: [{name: hostile, cmdline: ['procshape comm \\x1b']}]\nper_process:\n  groups: [hostile]\n"))
	if err != nil {
		t.Fatal(err)
	}
	mfs := gather(t, observed(Options{PerProcess: pp, Groups: g, ZombieParents: MaxSeriesLimit}, f))
	seen := false
	for _, fam := range []string{"pinspect_process_threads", "pinspect_group_threads", "pinspect_zombie_parent_zombies"} {
		for _, m := range mfs[fam].GetMetric() {
			for _, lp := range m.GetLabel() {
				v := lp.GetValue()
				if !utf8.ValidString(v) {
					t.Errorf("%s: label %s=%q is not valid UTF-8", fam, lp.GetName(), v)
				}
				for _, r := range v {
					if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
						t.Errorf("%s: label %s=%q holds control character %U", fam, lp.GetName(), v, r)
					}
				}
			}
			if labelsOf(m)["pid"] == strconv.Itoa(h.PID()) {
				seen = true
			}
		}
	}
	if !seen {
		t.Errorf("hostile-comm helper %d has no per-process series (its group is allowed)", h.PID())
	}
}

// Concurrent scrapes of one frame share one conversion; a new frame
// causes exactly one more.
func TestCollectorSharedCollection(t *testing.T) {
	sc := newScanner(t, false)
	c := observed(Options{ZombieParents: 10}, sc.frame())
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if b := c.Builds(); b != 1 {
		t.Errorf("16 concurrent scrapes of one frame built %d times, want 1", b)
	}
	c.Observe(sc.frame())
	for range 3 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	if b := c.Builds(); b != 2 {
		t.Errorf("after a new frame: %d builds, want 2", b)
	}
}

func TestCollectorLifecycleCounters(t *testing.T) {
	c := NewCollector(Options{})
	mfs := gather(t, c)
	for _, typ := range lifecycle.EventTypes() {
		if v, ok := find(mfs, "pinspect_lifecycle_events_total", map[string]string{"type": string(typ)}); !ok || v != 0 {
			t.Errorf("before any frame: %s = %v, %v; want 0", typ, v, ok)
		}
	}
	for _, o := range exitOutcomes {
		if _, ok := find(mfs, "pinspect_exits_total", map[string]string{"outcome": o}); !ok {
			t.Errorf("before any frame: no pinspect_exits_total{outcome=%q}", o)
		}
	}
	ev := func(typ lifecycle.EventType, es *collector.ExitStatus) lifecycle.Event {
		return lifecycle.Event{Type: typ, ExitStatus: es, Comm: "job"}
	}
	frame1 := &monitor.Frame{Seq: 1, Events: []lifecycle.Event{
		ev(lifecycle.Spawn, nil), ev(lifecycle.Spawn, nil), ev(lifecycle.Exec, nil),
		ev(lifecycle.Exit, &collector.ExitStatus{Exited: true}),
		ev(lifecycle.Exit, &collector.ExitStatus{Exited: true, Code: 3}),
		ev(lifecycle.Exit, &collector.ExitStatus{Exited: true, Code: 127}),
		ev(lifecycle.Exit, &collector.ExitStatus{Signal: int(syscall.SIGSEGV), CoreDumped: true}),
		ev(lifecycle.Exit, nil),
	}}
	c.Observe(frame1)
	c.Observe(&monitor.Frame{Seq: 2, Events: []lifecycle.Event{ev(lifecycle.Spawn, nil)}})
	c.Observe(frame1) // seen already: not counted again
	mfs = gather(t, c)
	for typ, n := range map[string]float64{"spawn": 3, "exec": 1, "exit": 5, "zombie": 0} {
		if v, _ := find(mfs, "pinspect_lifecycle_events_total", map[string]string{"type": typ}); v != n {
			t.Errorf("lifecycle_events_total{type=%s} = %v, want %v", typ, v, n)
		}
	}
	for _, w := range []struct {
		outcome, status string
		n               float64
	}{{"success", "0", 1}, {"failure", "3-125", 1}, {"failure", "127", 1}, {"failure", "1", 0}, {"signal", "SIGSEGV", 1}, {"signal", "SIGKILL", 0}, {"unknown", "", 1}} {
		if v, ok := find(mfs, "pinspect_exits_total", map[string]string{"outcome": w.outcome, "status": w.status}); !ok || v != w.n {
			t.Errorf("exits_total{outcome=%s,status=%s} = %v, %v; want %v", w.outcome, w.status, v, ok, w.n)
		}
	}
	// Events of processes no scan saw count in the group their comm names.
	for name, n := range map[string]float64{"pinspect_group_spawns_total": 3, "pinspect_group_execs_total": 1} {
		if v, _ := find(mfs, name, map[string]string{"group": "job"}); v != n {
			t.Errorf("%s{group=job} = %v, want %v", name, v, n)
		}
	}
	if v := sumOf(mfs, "pinspect_group_exits_total", map[string]string{"group": "job"}); v != 5 {
		t.Errorf("group job exits = %v, want 5", v)
	}
}

func TestExitClass(t *testing.T) {
	for _, c := range []struct {
		es              *collector.ExitStatus
		outcome, status string
	}{
		{nil, "unknown", ""},
		{&collector.ExitStatus{Exited: true}, "success", "0"},
		{&collector.ExitStatus{Exited: true, Code: 1}, "failure", "1"},
		{&collector.ExitStatus{Exited: true, Code: 2}, "failure", "2"},
		{&collector.ExitStatus{Exited: true, Code: 42}, "failure", "3-125"},
		{&collector.ExitStatus{Exited: true, Code: 126}, "failure", "126"},
		{&collector.ExitStatus{Exited: true, Code: 137}, "failure", "128-255"},
		{&collector.ExitStatus{Signal: int(syscall.SIGKILL)}, "signal", "SIGKILL"},
		{&collector.ExitStatus{Signal: int(syscall.SIGTERM)}, "signal", "SIGTERM"},
		{&collector.ExitStatus{Signal: 40}, "signal", "SIG40"},
		{&collector.ExitStatus{Signal: 1000}, "signal", signalName(1000 & 0x7f)},
	} {
		o, s := ExitClass(c.es)
		if exitOutcomes[o] != c.outcome || s != c.status || ExitOutcome(c.es) != c.outcome {
			t.Errorf("ExitClass(%+v) = %s, %q; want %s, %q", c.es, exitOutcomes[o], s, c.outcome, c.status)
		}
	}
	seen := map[string]bool{}
	for n := range 1 << 12 {
		seen[signalName(n)] = true
	}
	if len(seen) > 128 {
		t.Errorf("%d signal names: the status label must stay bounded", len(seen))
	}
}

func TestCollectorOrphansByAdopter(t *testing.T) {
	sc := newScanner(t, false)
	f := sc.frame()
	// The orphan list is the lifecycle package's output; the collector
	// only groups it. Daemons are counted apart.
	f.Orphans = []lifecycle.Orphan{
		{ID: collector.ID{PID: 10}, AdopterKind: lifecycle.AdopterInit},
		{ID: collector.ID{PID: 11}, AdopterKind: lifecycle.AdopterInit},
		{ID: collector.ID{PID: 12}, AdopterKind: lifecycle.AdopterSubreaper},
		{ID: collector.ID{PID: 13}, AdopterKind: lifecycle.AdopterInit, Daemon: true},
	}
	mfs := gather(t, observed(Options{}, f))
	for k, n := range map[string]float64{"init": 2, "subreaper": 1, "pidns_init": 0} {
		if v, _ := find(mfs, "pinspect_orphans", map[string]string{"adopter_kind": k}); v != n {
			t.Errorf("orphans{adopter_kind=%s} = %v, want %v", k, v, n)
		}
	}
	if v, _ := find(mfs, "pinspect_detached_daemons", nil); v != 1 {
		t.Errorf("detached_daemons = %v, want 1", v)
	}
}

func TestRedactArgs(t *testing.T) {
	cases := []struct{ in, want []string }{
		{[]string{"mysql", "--password=hunter2", "-u", "root"}, []string{"mysql", "--password=" + Redacted, "-u", "root"}},
		{[]string{"app", "--api-token", "abc", "--verbose"}, []string{"app", "--api-token", Redacted, "--verbose"}},
		{[]string{"env", "AWS_SECRET_ACCESS_KEY=xyz", "ls"}, []string{"env", "AWS_SECRET_ACCESS_KEY=" + Redacted, "ls"}},
		{[]string{"curl", "https://bob:s3cret@example.com/x"}, []string{"curl", "https://bob:" + Redacted + "@example.com/x"}},
		{[]string{"psql", "--dsn=postgres://u:pw@db/x"}, []string{"psql", "--dsn=postgres://u:" + Redacted + "@db/x"}},
		{[]string{"sleep", "10"}, []string{"sleep", "10"}},
		{[]string{"tool", "--key"}, []string{"tool", "--key"}},
	}
	for _, c := range cases {
		got := RedactArgs(c.in)
		if len(got) != len(c.want) {
			t.Errorf("RedactArgs(%q) = %q, want %q", c.in, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("RedactArgs(%q) = %q, want %q", c.in, got, c.want)
				break
			}
		}
	}
	if l := CmdlineLabel([]string{"a\x1b[31m", string(make([]byte, 1000))}); len(l) > maxCmdlineLabel || !utf8.ValidString(l) {
		t.Errorf("CmdlineLabel: %d bytes, valid=%v", len(l), utf8.ValidString(l))
	}
	if l := LabelValue("ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé"); !utf8.ValidString(l) || len(l) > maxLabelBytes {
		t.Errorf("LabelValue cut a character: %q", l)
	}
}

// TestCollectorLeaderExitedIsNotAZombie: a process whose main thread
// exited while a worker runs shows Z in /proc but is alive.
// pinspect_processes{state="zombie"} counts zombies as pinspect_zombies
// does (state Z with no live thread), and the live process is counted
// under leader-exited.
func TestCollectorLeaderExitedIsNotAZombie(t *testing.T) {
	h := livehelper.Start(t, "leaderexit")
	sc := newScanner(t, false)
	var f *monitor.Frame
	for deadline := time.Now().Add(2 * time.Minute); ; livehelper.Sleep() {
		f = sc.frame()
		if p := lifecycle.Find(f.Snapshot, h.PID()); p != nil && lifecycle.LeaderExited(p) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper's main thread never showed as exited with its worker running")
		}
	}
	mfs := gather(t, observed(Options{}, f))
	zombies, _ := find(mfs, "pinspect_zombies", nil)
	inZ, _ := find(mfs, "pinspect_processes", map[string]string{"state": "zombie"})
	if inZ != zombies {
		t.Errorf("pinspect_processes{state=zombie} = %v, pinspect_zombies = %v: a leader-exited process is not a zombie", inZ, zombies)
	}
	if v, ok := find(mfs, "pinspect_processes", map[string]string{"state": "leader-exited"}); !ok || v < 1 {
		t.Errorf("pinspect_processes{state=leader-exited} = %v, %v; want at least the helper", v, ok)
	}
	if got, want := sum(mfs, "pinspect_processes"), float64(len(f.Snapshot.Processes)); got != want {
		t.Errorf("sum of pinspect_processes = %v, want %v (every process counted once)", got, want)
	}
}
