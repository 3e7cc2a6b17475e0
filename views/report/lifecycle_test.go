package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// lifecycleFixture reads fixtures/proc/lifecycle at a fixed time.
func lifecycleFixture(t *testing.T) (*collector.Reader, *collector.Snapshot) {
	t.Helper()
	r, err := collector.NewReader(collector.Options{Root: "../../fixtures/proc/lifecycle",
		Now: func() time.Time { return time.Unix(1767225600+1000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

// The -update flag rewrites golden files. Another test file of this
// package may define it too (as a package variable, initialised before
// this init runs); it is defined here only when it is not, and read by
// name, so both files compile together.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

// updatingGolden reports whether -update was given.
func updatingGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updatingGolden() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update refreshes it)\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestZombiesAndOrphansGolden(t *testing.T) {
	r, s := lifecycleFixture(t)
	wchan := map[int]string{}
	for _, pid := range []int{100, 200, 300, 350} {
		w, err := r.WChan(pid)
		if err != nil {
			t.Fatal(err)
		}
		wchan[pid] = w
	}
	groups := lifecycle.DiagnoseZombies(s, nil, wchan)
	// The reader derives start times from the host's boot time (uptime
	// based), which is not fixed for a fixture: leave them out.
	for i := range groups {
		for j := range groups[i].Zombies {
			groups[i].Zombies[j].StartedAt = time.Time{}
		}
	}
	var b bytes.Buffer
	if err := WriteZombiesText(&b, groups, s.TakenAt); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "zombies.txt", b.Bytes())
	b.Reset()
	if err := WriteJSON(&b, NewZombiesDoc(groups, s.TakenAt)); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "zombies.json", b.Bytes())

	orphans := lifecycle.DetectOrphans(s, nil)
	b.Reset()
	if err := WriteOrphansText(&b, orphans, true); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "orphans.txt", b.Bytes())
	b.Reset()
	if err := WriteJSON(&b, NewOrphansDoc(orphans, s.TakenAt)); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "orphans.json", b.Bytes())
	b.Reset()
	if err := WriteOrphansText(&b, orphans, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "9 daemons adopted but detached on purpose") || strings.Contains(b.String(), "olddaemon") {
		t.Errorf("daemons must be counted, not listed, without --daemons:\n%s", b.String())
	}
}

func TestEventViewsAreInert(t *testing.T) {
	es := collector.DecodeWaitStatus(3 << 8)
	e := lifecycle.Event{
		Type: lifecycle.Exit, Time: time.Unix(1767225600, 0), ID: collector.ID{PID: 42, StartTicks: 7},
		Comm: "evil\x1b[2J\xff", PPID: 1, Source: lifecycle.SourceConnector, ExitStatus: &es,
	}
	line := FormatEvent(&e)
	if strings.ContainsAny(line, "\x1b\n") || !strings.Contains(line, "exit 3") || !strings.Contains(line, "[kernel]") {
		t.Errorf("text line %q", line)
	}
	var b bytes.Buffer
	if err := WriteEventJSON(&b, &e); err != nil {
		t.Fatal(err)
	}
	if bytes.Count(b.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("one event must be one line: %q", b.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["type"] != "exit" || doc["pid"] != float64(42) || doc["comm_raw_base64"] == nil || doc["source"] != "connector" {
		t.Errorf("event doc %v", doc)
	}
	if ex, _ := doc["exit"].(map[string]any); ex["code"] != float64(3) || ex["exited"] != true {
		t.Errorf("exit %v", doc["exit"])
	}
}

// An observed orphan's re-parenting time is formatted here: in the text
// evidence, and in JSON as reparented_at.
func TestObservedOrphanTime(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	o := lifecycle.Orphan{ID: collector.ID{PID: 12, StartTicks: 9}, Comm: "kid", Adopter: 10, AdopterKind: lifecycle.AdopterSubreaper,
		Observed: true, OldPPID: 11, ReparentedAt: at, Evidence: "observed: parent 11 exited, adopted by 10"}
	var b bytes.Buffer
	if err := WriteOrphansText(&b, []lifecycle.Orphan{o}, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "observed: parent 11 exited, adopted by 10, at 03:04:05.678 UTC") {
		t.Errorf("text:\n%s", b.String())
	}
	d := NewOrphansDoc([]lifecycle.Orphan{o}, at)
	if len(d.Orphans) != 1 || d.Orphans[0].ReparentedAt != "2026-01-02T03:04:05.678Z" {
		t.Errorf("doc %+v", d.Orphans)
	}
}

// A zombie nothing was watching has no "seen for" duration (text "-", no
// zombie_seconds); one a monitor saw has both.
func TestZombieSeenForOnlyWhenObserved(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := lifecycle.ZombieGroup{Parent: collector.ID{PID: 10}, ParentMissing: true, Since: now.Add(-time.Minute),
		Zombies: []lifecycle.ZombieInfo{
			{ID: collector.ID{PID: 11}, Comm: "watched", FirstSeen: now.Add(-time.Minute), Observed: true},
			{ID: collector.ID{PID: 12}, Comm: "oneshot", FirstSeen: now},
		}}
	var b bytes.Buffer
	if err := WriteZombiesText(&b, []lifecycle.ZombieGroup{g}, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  1m0s        ?           watched", "  -           ?           oneshot"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	d := NewZombiesDoc([]lifecycle.ZombieGroup{g}, now)
	zs := d.Parents[0].Zombies
	if zs[0].ZombieSeconds == nil || *zs[0].ZombieSeconds != 60 || zs[1].ZombieSeconds != nil {
		t.Errorf("zombie_seconds %v %v, want 60 and absent", zs[0].ZombieSeconds, zs[1].ZombieSeconds)
	}
}

// TestFilterStateZIsZombiesOnly: --state Z selects zombies, not a process
// whose main thread exited while others run (its leader shows Z, the
// process is alive); a filter that selects never matches pinspect itself.
func TestFilterStateZIsZombiesOnly(t *testing.T) {
	mk := func(pid int, state byte, threads int64) collector.Process {
		return collector.Process{PID: pid, Read: collector.SrcStat, ProcStat: collector.ProcStat{State: state, NumThreads: threads}}
	}
	snap := &collector.Snapshot{SelfPID: 4, Processes: []collector.Process{mk(1, 'Z', 1), mk(2, 'Z', 3), mk(3, 'S', 1), mk(4, 'S', 1)}}
	var got []int
	for _, p := range (Filter{States: "Z"}).Apply(snap) {
		got = append(got, p.PID)
	}
	if len(got) != 1 || got[0] != 1 {
		t.Errorf("--state Z selected %v, want only the zombie 1", got)
	}
	got = got[:0]
	for _, p := range (Filter{States: "S"}).Apply(snap) {
		got = append(got, p.PID)
	}
	if len(got) != 1 || got[0] != 3 {
		t.Errorf("--state S selected %v, want 3 (4 is pinspect itself)", got)
	}
	if n := len((Filter{}).Apply(snap)); n != 4 {
		t.Errorf("no filter: %d processes, want all 4 (pinspect included, as ps shows itself)", n)
	}
}

// TestZombieParentLeaderExitedText: a parent whose main thread exited is
// named leader-exited (L) in the text, and leader_exited beside the
// kernel's Z in the JSON, never "state Z zombie" alone (tester9).
func TestZombieParentLeaderExitedText(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := lifecycle.ZombieGroup{Parent: collector.ID{PID: 10, StartTicks: 3}, ParentComm: "pool", ParentState: 'Z',
		ParentLeaderExited: true, Since: now.Add(-time.Minute),
		Zombies: []lifecycle.ZombieInfo{{ID: collector.ID{PID: 11}, Comm: "job", FirstSeen: now}}}
	var b bytes.Buffer
	if err := WriteZombiesText(&b, []lifecycle.ZombieGroup{g}, now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "parent 10 (pool)  state L leader-exited") || strings.Contains(b.String(), "zombie)") ||
		strings.Contains(b.String(), "state Z") {
		t.Errorf("text:\n%s\nwant the parent as state L leader-exited", b.String())
	}
	d := NewZombiesDoc([]lifecycle.ZombieGroup{g}, now)
	if p := d.Parents[0].Parent; !p.LeaderExited || p.State != "Z" || p.StateName != StateLeaderExited {
		t.Errorf("JSON parent %+v, want leader_exited with the kernel's Z named leader-exited", p)
	}
}
