package metrics

import (
	"strconv"
	"sync"
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

func sum(mfs map[string]*dto.MetricFamily, name string) float64 {
	s := 0.0
	if mf := mfs[name]; mf != nil {
		for _, m := range mf.GetMetric() {
			s += value(m)
		}
	}
	return s
}

func TestCollectorLiveZombiesAndStates(t *testing.T) {
	h := livehelper.Start(t, "zombies", "2")
	sc := newScanner(t, true)
	src := newFrameSource()
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
	src.publish(f)
	// Room for every parent: other zombie parents on the machine must not
	// push the helper out.
	mfs := gather(t, NewCollector(src, Options{TopN: 5, ZombieParents: MaxSeriesLimit}))

	pid := strconv.Itoa(h.PID())
	comm := lifecycle.Find(f.Snapshot, h.PID()).Comm
	if v, ok := find(mfs, "pinspect_zombie_parent_zombies", map[string]string{"pid": pid, "comm": comm}); !ok || v != 2 {
		t.Errorf("pinspect_zombie_parent_zombies{pid=%s,comm=%s} = %v, %v; want 2", pid, comm, v, ok)
	}
	if len(f.Zombies) > 0 {
		if v, ok := find(mfs, "pinspect_zombie_parent_oldest_zombie_age_seconds", map[string]string{"pid": pid}); !ok || v < 0 {
			t.Errorf("oldest zombie age of parent %s = %v, %v; want >= 0", pid, v, ok)
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
	if got, want := sum(mfs, "pinspect_processes"), float64(len(f.Snapshot.Processes)); got != want {
		t.Errorf("sum of pinspect_processes = %v, want %v (every process counted once)", got, want)
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
	one := gather(t, NewCollector(src, Options{ZombieParents: 1}))
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
	for _, name := range []string{"pinspect_scan_vanished_processes", "pinspect_scan_denied_fields", "pinspect_system_context_switches_total", "pinspect_frames_total"} {
		if _, ok := find(mfs, name, nil); !ok {
			t.Errorf("%s missing", name)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src, Options{TopN: 5, ZombieParents: 3}))
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

// The per-process context-switch series are the top N by rate, carry pid
// and comm only (no cmdline unless asked), and a busy helper has a rate.
func TestCollectorTopContextSwitches(t *testing.T) {
	h := livehelper.Start(t, "threads", "4") // two threads wake every 2 ms
	sc := newScanner(t, true)
	src := newFrameSource()
	src.publish(sc.frame())
	time.Sleep(300 * time.Millisecond) // let the helper switch between the two scans
	f := sc.frame()
	src.publish(f)
	mfs := gather(t, NewCollector(src, Options{TopN: 3}))
	mf := mfs["pinspect_process_context_switches_total"]
	if mf == nil {
		t.Fatal("no per-process context-switch series")
	}
	if n := len(mf.GetMetric()); n == 0 || n > 2*3 {
		t.Errorf("%d series, want 1..6 (3 processes x 2 types)", n)
	}
	// The exported three are the fastest: none of the others switches
	// faster than the slowest exported.
	slowest := -1.0
	exported := map[string]bool{}
	perPID := map[string]float64{}
	for _, m := range mfs["pinspect_process_context_switches_per_second"].GetMetric() {
		l := labelsOf(m)
		if _, has := l["cmdline"]; has {
			t.Errorf("cmdline label present without Options.Cmdline: %v", l)
		}
		exported[l["pid"]] = true
		perPID[l["pid"]] += value(m)
	}
	for _, v := range perPID {
		if slowest < 0 || v < slowest {
			slowest = v
		}
	}
	for _, r := range processRates(f) {
		if !exported[strconv.Itoa(r.p.PID)] && r.vol+r.invol > slowest+1e-9 {
			t.Errorf("pid %d switches %.1f/s but is not exported; the slowest exported does %.1f/s", r.p.PID, r.vol+r.invol, slowest)
		}
	}
	// With room for every process, the helper is there with a rate.
	mfs = gather(t, NewCollector(src, Options{TopN: MaxSeriesLimit}))
	pid := strconv.Itoa(h.PID())
	if _, ok := find(mfs, "pinspect_process_context_switches_total", map[string]string{"pid": pid, "type": "voluntary"}); !ok && len(f.Snapshot.Processes) <= MaxSeriesLimit {
		t.Errorf("the helper (pid %s) is not exported", pid)
	}
	for _, r := range processRates(f) {
		if r.p.PID == h.PID() && r.vol <= 0 {
			t.Errorf("helper's voluntary rate = %v, want > 0 (two threads wake every 2 ms)", r.vol)
		}
	}
	// Cmdline opt-in adds the label.
	mfs = gather(t, NewCollector(src, Options{TopN: 3, Cmdline: true}))
	for _, m := range mfs["pinspect_process_context_switches_total"].GetMetric() {
		if _, has := labelsOf(m)["cmdline"]; !has {
			t.Errorf("Options.Cmdline set but no cmdline label: %v", labelsOf(m))
		}
	}
	// TopN 0: none.
	mfs = gather(t, NewCollector(src, Options{}))
	if mf := mfs["pinspect_process_context_switches_total"]; mf != nil {
		t.Errorf("TopN 0 exported %d series", len(mf.GetMetric()))
	}
}

// only returns a copy of f keeping the processes with the given pids in
// its snapshot and prev's, with the rates between the two (real data, a
// smaller machine).
func only(prev, f *monitor.Frame, pids ...int) *monitor.Frame {
	keep := func(s *collector.Snapshot) *collector.Snapshot {
		if s == nil {
			return nil
		}
		cp := *s
		cp.Processes = nil
		for _, pid := range pids {
			if p := lifecycle.Find(s, pid); p != nil {
				cp.Processes = append(cp.Processes, *p)
			}
		}
		return &cp
	}
	cp := *f
	cp.Snapshot = keep(f.Snapshot)
	cp.Rates = lifecycle.ComputeRates(keep(prev.Snapshot), cp.Snapshot)
	return &cp
}

// Label values from hostile comms are valid UTF-8 without control
// characters.
func TestCollectorHostileCommLabels(t *testing.T) {
	hostile := "\x1b]0;x\x07\xff\xfe"
	h := livehelper.Start(t, "comm", hostile)
	sc := newScanner(t, false)
	src := newFrameSource()
	first := sc.frame()
	src.publish(only(first, sc.frame(), h.PID()))
	mfs := gather(t, NewCollector(src, Options{TopN: MaxSeriesLimit, ZombieParents: MaxSeriesLimit}))
	pid := strconv.Itoa(h.PID())
	seen := false
	for _, name := range []string{"pinspect_process_context_switches_total", "pinspect_zombie_parent_zombies"} {
		for _, m := range mfs[name].GetMetric() {
			for _, lp := range m.GetLabel() {
				v := lp.GetValue()
				if !utf8.ValidString(v) {
					t.Errorf("%s: label %s=%q is not valid UTF-8", name, lp.GetName(), v)
				}
				for _, r := range v {
					if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
						t.Errorf("%s: label %s=%q holds control character %U", name, lp.GetName(), v, r)
					}
				}
			}
			if labelsOf(m)["pid"] == pid {
				seen = true
			}
		}
	}
	if !seen {
		t.Errorf("hostile-comm helper %s not exported (TopN covers every process)", pid)
	}
}

// Concurrent scrapes of one frame share one conversion; a new frame or
// new events cause exactly one more.
func TestCollectorSharedCollection(t *testing.T) {
	sc := newScanner(t, false)
	src := newFrameSource()
	src.publish(sc.frame())
	c := NewCollector(src, Options{TopN: 10, ZombieParents: 10})
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
	src.publish(sc.frame())
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
	src := newFrameSource()
	c := NewCollector(src, Options{})
	mfs := gather(t, c)
	for _, typ := range lifecycle.EventTypes() {
		if v, ok := find(mfs, "pinspect_lifecycle_events_total", map[string]string{"type": string(typ)}); !ok || v != 0 {
			t.Errorf("before any frame: %s = %v, %v; want 0", typ, v, ok)
		}
	}
	ev := func(typ lifecycle.EventType, es *collector.ExitStatus) lifecycle.Event {
		return lifecycle.Event{Type: typ, ExitStatus: es}
	}
	c.Observe(&monitor.Frame{Seq: 1, Events: []lifecycle.Event{
		ev(lifecycle.Spawn, nil), ev(lifecycle.Spawn, nil), ev(lifecycle.Exec, nil),
		ev(lifecycle.Exit, &collector.ExitStatus{Exited: true}),
		ev(lifecycle.Exit, &collector.ExitStatus{Exited: true, Code: 3}),
		ev(lifecycle.Exit, &collector.ExitStatus{Signal: 9}),
		ev(lifecycle.Exit, nil),
	}})
	c.Observe(&monitor.Frame{Seq: 2, Events: []lifecycle.Event{ev(lifecycle.Spawn, nil)}})
	mfs = gather(t, c)
	want := map[string]float64{"spawn": 3, "exec": 1, "exit": 4, "zombie": 0}
	for typ, n := range want {
		if v, _ := find(mfs, "pinspect_lifecycle_events_total", map[string]string{"type": typ}); v != n {
			t.Errorf("lifecycle_events_total{type=%s} = %v, want %v", typ, v, n)
		}
	}
	for outcome, n := range map[string]float64{"success": 1, "failure": 1, "signal": 1, "unknown": 1} {
		if v, _ := find(mfs, "pinspect_exits_total", map[string]string{"outcome": outcome}); v != n {
			t.Errorf("exits_total{outcome=%s} = %v, want %v", outcome, v, n)
		}
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
	src := newFrameSource()
	src.publish(f)
	mfs := gather(t, NewCollector(src, Options{}))
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
