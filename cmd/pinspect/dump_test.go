package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/record"
)

// recordLive writes n samples of this machine's /proc (threads in the
// first) into a new store, with one exit by SIGSEGV in the last sample's
// events, and returns the directory and the samples.
func recordLive(t *testing.T, n int) (string, []*record.Sample) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := record.OpenWriter(dir, record.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []*record.Sample
	var prev *collector.Snapshot
	for i := range n {
		snap, err := r.Scan(context.Background(), collector.ScanOptions{Threads: i == 0})
		if err != nil {
			t.Fatal(err)
		}
		s := &record.Sample{RunID: 42, Interval: 10 * time.Millisecond, Snapshot: snap, Events: lifecycle.Diff(prev, snap)}
		if i == n-1 {
			s.Events = append(s.Events, lifecycle.Event{Type: lifecycle.Exit, Time: snap.TakenAt, ID: collector.ID{PID: 31337, StartTicks: 9},
				Comm: "crash\x1b[2J", Source: lifecycle.SourceConnector, ExitStatus: &collector.ExitStatus{Signal: 11, CoreDumped: true}})
		}
		if err := w.Append(s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
		prev = snap
		time.Sleep(20 * time.Millisecond)
	}
	return dir, out
}

// TestDumpCSVHeaderWithoutRows: a CSV dump that matches no row is its
// header alone (exit 1, nothing matched), for each kind of row: it was
// empty, a table without columns to a CSV reader.
func TestDumpCSVHeaderWithoutRows(t *testing.T) {
	dir, _ := recordLive(t, 2)
	for kind, first := range map[string]string{"process": "time,seq,pid,", "thread": "time,seq,pid,tid,", "event": "time,type,pid,", "system": "time,seq,interval_seconds,"} {
		args := []string{"dump", kind, "--dir", dir, "--format", "csv", "--until", "2000-01-01T00:00:00Z"}
		if kind != "system" {
			args = append(args, "--pid", "999999")
		}
		stdout, stderr, code := runInProcess(t, args...)
		rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if code != exitNoMatch || err != nil || len(rows) != 1 || !strings.HasPrefix(stdout, first) {
			t.Errorf("dump %s matching nothing: exit %d, %d CSV rows (%v), want the header alone (%s...) and exit %d:\n%q\n%s",
				kind, code, len(rows), err, first, exitNoMatch, stdout, stderr)
		}
		// NDJSON has no header: nothing at all.
		args[5] = "ndjson"
		if stdout, _, code := runInProcess(t, args...); code != exitNoMatch || stdout != "" {
			t.Errorf("dump %s --format ndjson matching nothing: exit %d, %q", kind, code, stdout)
		}
	}
}

func TestDump(t *testing.T) {
	dir, samples := recordLive(t, 3)

	// Processes as CSV: a header and a row per process per sample.
	stdout, stderr, code := runInProcess(t, "dump", "--dir", dir, "--format", "csv")
	if code != 0 {
		t.Fatalf("dump exited %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := 1
	for _, s := range samples {
		want += len(s.Snapshot.Processes)
	}
	if len(rows) != want || rows[0][0] != "time" || rows[0][2] != "pid" {
		t.Fatalf("%d CSV rows (want %d), header %v", len(rows), want, rows[0])
	}
	// The second sample's rows have a CPU percent (rates), the first's not.
	first := samples[0].Snapshot.TakenAt.UTC().Format(time.RFC3339Nano)
	withRate := 0
	for _, r := range rows[1:] {
		if r[0] == first && r[11] != "" {
			t.Fatalf("row %v of the first sample has a cpu_percent %q", r[:3], r[11])
		}
		if r[11] != "" {
			withRate++
		}
	}
	if withRate < len(samples[1].Snapshot.Processes)/2 {
		t.Errorf("only %d rows have a cpu_percent", withRate)
	}

	// Events as NDJSON, only exits by a signal: one, with its comm kept
	// exact and inert.
	stdout, stderr, code = runInProcess(t, "dump", "event", "--dir", dir, "--pid", "31337")
	if code != 0 {
		t.Fatalf("dump event exited %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "\x1b") {
		t.Fatal("an escape byte reached the output")
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &ev); err != nil {
		t.Fatalf("event line %q: %v", stdout, err)
	}
	if ev["comm"] != "crash\x1b[2J" || ev["exit"].(map[string]any)["signal"] != 11.0 {
		t.Errorf("event %v", ev)
	}

	// Threads of the first sample; the system rows.
	stdout, _, code = runInProcess(t, "dump", "thread", "--dir", dir, "--pid", "1")
	if code != 0 || !strings.Contains(stdout, `"schema":"pinspect.dump.thread/v1"`) || !strings.Contains(stdout, `"pid":1,`) {
		t.Errorf("thread dump (%d): %.300s", code, stdout)
	}
	stdout, _, code = runInProcess(t, "dump", "system", "--dir", dir, "--since", samples[1].Snapshot.TakenAt.Format(time.RFC3339Nano))
	if code != 0 || strings.Count(stdout, "\n") != 2 || !strings.Contains(stdout, `"cpu_percent"`) {
		t.Errorf("system dump since the second sample (%d): %s", code, stdout)
	}

	// Bad input. A directory holding another file and no segment names
	// the file (it said "no samples recorded yet").
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dump", "procs", "--dir", dir}, 2, "unknown kind"},
		{[]string{"dump", "--dir", dir, "--format", "xml"}, 2, "want ndjson or csv"},
		{[]string{"dump", "--dir", dir, "--since", "tomorrow"}, 2, "--since"},
		{[]string{"dump", "--dir", dir, "--since", "1h ago", "--until", "2h ago"}, 2, "before --since"},
		{[]string{"dump", "--dir", filepath.Join(dir, "nope")}, exitError, "does not exist"},
		{[]string{"dump", "--dir", other}, exitError, "it holds no segment: notes.txt is not a segment file (pinspect record writes segments named like 000000000001-"},
	} {
		_, stderr, code := runInProcess(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

// damageSample flips a byte in the body of sample i of the store in dir,
// where the store says it lies (record.Store.Location), and returns the
// sample's segment file.
func damageSample(t *testing.T, dir string, i int) string {
	t.Helper()
	st, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := st.Location(i)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(loc.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, loc.BodyOffset+10); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, loc.BodyOffset+10); err != nil {
		t.Fatal(err)
	}
	return loc.Path
}

// TestDumpSkipsDamage: dump writes every readable sample's rows, names
// each damaged sample on stderr with where it is, counts them and exits
// 0 (it stopped at the first, exit 3, "writing output"); with nothing
// readable it exits 3 and says it was reading the record.
func TestDumpSkipsDamage(t *testing.T) {
	dir, samples := recordLive(t, 4)
	seg := damageSample(t, dir, 3) // the last: a delta, holding the crash event

	stdout, stderr, code := runInProcess(t, "dump", "--dir", dir, "--format", "csv")
	want := 1
	for _, s := range samples[:3] {
		want += len(s.Snapshot.Processes)
	}
	if rows := strings.Count(stdout, "\n"); code != 0 || rows != want {
		t.Fatalf("dump of a record with a damaged sample: exit %d, %d rows (want 0 and %d); stderr:\n%s", code, rows, want, stderr)
	}
	for _, w := range []string{"pinspect: record: damaged record: " + seg + " offset ", "(sample 4 at ", "checksum mismatch (skipped)\n",
		"pinspect: dump: 1 damaged sample skipped (above)"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, stderr)
		}
	}
	if strings.Contains(stderr, "writing output") {
		t.Errorf("a damaged sample is not an output error:\n%s", stderr)
	}

	// Events: the damaged sample's block is skipped and named the same way.
	stdout, stderr, code = runInProcess(t, "dump", "event", "--dir", dir, "--pid", "31337")
	if code != 3 || stdout != "" || !strings.Contains(stderr, "checksum mismatch") ||
		!strings.Contains(stderr, "pinspect: reading the record in "+dir+": no row written: 1 damaged sample skipped (above), and no other matched") {
		t.Errorf("dump event of the damaged sample's crash: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}

	// pinspect events names the damage its query stepped over (it said
	// nothing).
	if _, stderr, _ = runInProcess(t, "events", "--dir", dir, "--pid", "31337"); !strings.Contains(stderr, "pinspect: record: damaged record: "+seg) {
		t.Errorf("events over a damaged sample does not name it:\n%s", stderr)
	}

	// The keyframe damaged too: nothing is readable.
	damageSample(t, dir, 0)
	_, stderr, code = runInProcess(t, "dump", "--dir", dir)
	if code != exitError || !strings.Contains(stderr, "pinspect: reading the record in "+dir+": no row written: 4 damaged samples skipped") ||
		strings.Contains(stderr, "writing output") {
		t.Errorf("dump of a record without a readable sample: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestRecordReadersAgreeOnDamage: dump and events follow one rule
// (docs/RECORD.md): damage skipped and nothing written is exit 3, with
// what was skipped (events exited 1 and said "no such events" over a
// record whose samples were all damaged, where dump exited 3).
func TestRecordReadersAgreeOnDamage(t *testing.T) {
	dir, _ := recordLive(t, 2)
	damageSample(t, dir, 0)
	damageSample(t, dir, 1)
	// The first sample holds no event: a query of events reads only the
	// second.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dump", "--dir", dir}, "2 damaged samples"},
		{[]string{"dump", "event", "--dir", dir}, "1 damaged sample"},
		{[]string{"events", "--dir", dir}, "1 damaged sample"},
		{[]string{"events", "--dir", dir, "--json", "--type", "exit"}, "1 damaged sample"},
		{[]string{"events", "--dir", dir, "--restarts", "--name", "crash"}, "1 damaged sample"},
	} {
		_, stderr, code := runInProcess(t, c.args...)
		if code != exitError || !strings.Contains(stderr, "pinspect: reading the record in "+dir+": no ") ||
			!strings.Contains(stderr, " written: "+c.want+" skipped (above), and no other matched") || strings.Contains(stderr, "no such events") {
			t.Errorf("%v over a record of damaged samples: exit %d (want %d), stderr:\n%s", c.args, code, exitError, stderr)
		}
	}
}

// TestDumpCountsRefusedSamples: samples refused when the record is
// opened (out of order: here a second recorder's segment copied into the
// directory, its sequence numbers going back) are counted with the
// damage dump skipped, so the summary and the exit status are true (they
// were listed but not counted: exit 0 with no summary, and exit 1, "no
// match", for a range holding only them).
func TestDumpCountsRefusedSamples(t *testing.T) {
	dir, _ := recordLive(t, 2)
	other, later := recordLive(t, 2)
	segs, _ := filepath.Glob(filepath.Join(other, "*.pnr"))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	// The same name with segment number 2: after the first recorder's.
	if err := os.WriteFile(filepath.Join(dir, "000000000002"+strings.TrimPrefix(filepath.Base(segs[0]), "000000000001")), b, 0o600); err != nil {
		t.Fatal(err)
	}

	_, stderr, code := runInProcess(t, "dump", "--dir", dir)
	if code != 0 || strings.Count(stderr, "(refused)") != 2 || !strings.Contains(stderr, "pinspect: dump: 2 damaged samples skipped (above); the other samples' rows were written") {
		t.Errorf("dump of a record with 2 refused samples: exit %d, stderr:\n%s", code, stderr)
	}
	// Only the refused samples' time: nothing readable there.
	since := later[0].Snapshot.TakenAt.Format(time.RFC3339Nano)
	_, stderr, code = runInProcess(t, "dump", "--dir", dir, "--since", since)
	if code != exitError || !strings.Contains(stderr, "no row written: 2 damaged samples skipped (above)") {
		t.Errorf("dump --since the refused samples: exit %d (want %d), stderr:\n%s", code, exitError, stderr)
	}
	// Before them: the readable samples' rows, no damage counted.
	until := later[0].Snapshot.TakenAt.Add(-time.Nanosecond).Format(time.RFC3339Nano)
	_, stderr, code = runInProcess(t, "dump", "--dir", dir, "--until", until)
	if code != 0 || strings.Contains(stderr, "skipped (above)") {
		t.Errorf("dump --until before the refused samples: exit %d, stderr:\n%s", code, stderr)
	}
	// events counts a refused sample only when its header says it may
	// hold the events asked for: it counted both for any type.
	theirs, err := record.Open(other)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	for i := range theirs.Len() {
		if theirs.Meta(i).Flags&record.FlagLost != 0 {
			t.Fatalf("sample %d of a record without the connector holds a lost event", i)
		}
	}
	_, stderr, code = runInProcess(t, "events", "--dir", dir, "--since", since, "--type", "lost")
	if code != exitNoMatch || strings.Contains(stderr, "skipped") {
		t.Errorf("events --type lost --since the refused samples: exit %d (want %d), stderr:\n%s", code, exitNoMatch, stderr)
	}
	// Their exits (the crash in the second) may be what is asked for.
	_, stderr, code = runInProcess(t, "events", "--dir", dir, "--since", since, "--type", "exit")
	if code != exitError || !strings.Contains(stderr, "no event written: 1 damaged sample skipped") && !strings.Contains(stderr, "no event written: 2 damaged samples skipped") {
		t.Errorf("events --type exit --since the refused samples: exit %d (want %d), stderr:\n%s", code, exitError, stderr)
	}
}

// TestEventsDamageBeforeRange: a damaged sample taken before the range
// asked of events, whose next sample was taken before it too, cannot
// hold events in the range: events and dump event exit 1 with nothing
// skipped (it counted within 5 minutes either side, and an empty answer
// exited 3). Over a range it may hold events of, the damage is named as
// dump names it, with "(skipped)" (events left that out).
func TestEventsDamageBeforeRange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := record.OpenWriter(dir, record.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var taken []time.Time
	for i := range 4 {
		snap, err := r.Scan(context.Background(), collector.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ev := lifecycle.Event{Type: lifecycle.Exit, Time: snap.TakenAt, ID: collector.ID{PID: 31337 + i, StartTicks: 9},
			Comm: "gone", Source: lifecycle.SourceConnector, ExitStatus: &collector.ExitStatus{Exited: true}}
		if err := w.Append(&record.Sample{RunID: 42, Interval: 10 * time.Millisecond, Snapshot: snap, Events: []lifecycle.Event{ev}}); err != nil {
			t.Fatal(err)
		}
		taken = append(taken, snap.TakenAt)
		time.Sleep(20 * time.Millisecond)
	}
	w.Close()
	seg := damageSample(t, dir, 1)
	after := taken[2].Add(time.Nanosecond).Format(time.RFC3339Nano)
	for _, args := range [][]string{
		{"events", "--dir", dir, "--name", "nosuchprog", "--since", after},
		{"dump", "event", "--dir", dir, "--name", "nosuchprog", "--since", after},
	} {
		if _, stderr, code := runInProcess(t, args...); code != exitNoMatch || strings.Contains(stderr, "skipped") {
			t.Errorf("%v, after the damaged sample and the one after it: exit %d (want %d), stderr:\n%s", args, code, exitNoMatch, stderr)
		}
	}
	at := taken[2].Format(time.RFC3339Nano)
	for _, args := range [][]string{
		{"events", "--dir", dir, "--name", "nosuchprog", "--since", at},
		{"dump", "event", "--dir", dir, "--name", "nosuchprog", "--since", at},
	} {
		_, stderr, code := runInProcess(t, args...)
		if code != exitError || !strings.Contains(stderr, "pinspect: record: damaged record: "+seg+" offset ") ||
			!strings.Contains(stderr, "checksum mismatch (skipped)\n") || !strings.Contains(stderr, "1 damaged sample skipped (above)") {
			t.Errorf("%v, from the time of the sample after the damaged one: exit %d (want %d), stderr:\n%s", args, code, exitError, stderr)
		}
	}
}

// TestRestartsAcrossDamage: events --restarts marks a pair of an end and
// a start with a damaged sample read between them, which may have held
// another end or start of the program (it paired them across the damage
// without a word); a pair with no damage between is not marked.
func TestRestartsAcrossDamage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := record.OpenWriter(dir, record.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Sample by sample: crash 31337 ends; an unrelated exit (the sample
	// damaged below); crash 31338 starts; it ends; crash 31339 starts.
	kinds := []struct {
		typ  lifecycle.EventType
		pid  int
		comm string
	}{{lifecycle.Exit, 31337, "crash"}, {lifecycle.Exit, 31400, "other"}, {lifecycle.Spawn, 31338, "crash"},
		{lifecycle.Exit, 31338, "crash"}, {lifecycle.Spawn, 31339, "crash"}}
	for _, k := range kinds {
		snap, err := r.Scan(context.Background(), collector.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ev := lifecycle.Event{Type: k.typ, Time: snap.TakenAt, ID: collector.ID{PID: k.pid, StartTicks: 9}, PPID: 1, Comm: k.comm, Source: lifecycle.SourceConnector}
		if k.typ == lifecycle.Exit {
			ev.ExitStatus = &collector.ExitStatus{Signal: 11}
		}
		if err := w.Append(&record.Sample{RunID: 42, Interval: 10 * time.Millisecond, Snapshot: snap, Events: []lifecycle.Event{ev}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.Close()
	damageSample(t, dir, 1)
	stdout, stderr, code := runInProcess(t, "events", "--dir", dir, "--restarts", "--name", "crash")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 5 || !strings.HasSuffix(lines[2], "  (across damage)") || strings.Contains(lines[3], "across damage") ||
		!strings.HasPrefix(lines[4], "(across damage): ") {
		t.Errorf("restarts across a damaged sample: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	stdout, _, _ = runInProcess(t, "events", "--dir", dir, "--restarts", "--name", "crash", "--json")
	var doc struct {
		Restarts []struct {
			EndedPID     int   `json:"ended_pid"`
			AcrossDamage *bool `json:"across_damage"`
		} `json:"restarts"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if len(doc.Restarts) != 2 || doc.Restarts[0].AcrossDamage == nil || !*doc.Restarts[0].AcrossDamage || doc.Restarts[1].AcrossDamage != nil {
		t.Errorf("restarts across a damaged sample, JSON: %s", stdout)
	}
}
