package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestExplainAt: `explain --at` on a real record. The recorder (pinspect
// record, every process's threads and the largest processes' smaps_rollup
// in every sample) runs while an 8-thread CPU-bound pool and a growing
// process run; explained at the last sample, the pool is oversubscribed
// (from the recorded run-queue wait) and the growing process's memory
// grows (from the recorded RSS); the documents say which stretch of the
// record they read and name what the record does not keep.
func TestExplainAt(t *testing.T) {
	pool := livehelper.Start(t, "cpupool", "8")
	grow := livehelper.Start(t, "leak", "8", "160") // 8 MiB/s up to 160 MiB
	dir := filepath.Join(t.TempDir(), "rec")
	cmd := command("record", "--dir", dir, "--interval", "500ms", "--threads-every", "1", "--memory-every", "1", "--fsync", "none")
	errb := &lockedBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Six samples that hold both processes (generous deadline: a loaded
	// machine's scans with every thread can take seconds).
	deadline := time.Now().Add(3 * time.Minute)
	for n := 0; n < 6; {
		if time.Now().After(deadline) {
			t.Fatalf("%d samples with both helpers in 3 min; stderr:\n%s", n, errb.String())
		}
		time.Sleep(250 * time.Millisecond)
		n = samplesWith(t, dir, pool.PID(), grow.PID())
	}
	stopRecorder(t, cmd, errb)
	last := recordEnd(t, dir)
	at := last.Format(time.RFC3339Nano)

	doc := explainAtJSON(t, "--dir", dir, "--at", at, "--window", "1h", strconv.Itoa(pool.PID()))
	if doc.Process == nil || doc.Process.PID != pool.PID() || doc.Process.Threads != 9 || doc.Samples < 2 || doc.Record == nil || doc.Record.ThreadSamples < 2 {
		t.Fatalf("pool doc: %+v record %+v", doc.Process, doc.Record)
	}
	if doc.Record.To != last.UTC().Format(time.RFC3339Nano) {
		t.Errorf("record stretch ends %s, want the sample at %s", doc.Record.To, last.UTC().Format(time.RFC3339Nano))
	}
	if why := unmeasured(doc, "run-queue wait"); why != "" {
		t.Fatalf("the recorder (root, taskstats or the task iterator) measured no run-queue wait: %s", why)
	}
	if f := finding(doc, "pool_oversubscribed"); f == nil {
		t.Errorf("no pool_oversubscribed finding: %+v", doc.Findings)
	} else if !evidenceFrom(f, "run-queue delay") {
		t.Errorf("pool_oversubscribed does not rest on run-queue wait: %+v", f.Evidence)
	}
	for _, lacks := range []string{"system call", "kernel function", "I/O counters", "open descriptors"} {
		if why := unmeasured(doc, lacks); !strings.Contains(why, "not recorded") {
			t.Errorf("unmeasured %q: %q, want it named as not in the record", lacks, why)
		}
	}

	doc = explainAtJSON(t, "--dir", dir, "--at", at, "--window", "1h", strconv.Itoa(grow.PID()))
	if f := finding(doc, "memory_growing"); f == nil {
		t.Errorf("no memory_growing finding for the growing process: %+v", doc.Findings)
	} else {
		t.Logf("growing process: %s", f.Verdict)
	}
	if false {
		t.Errorf("no memory_growing finding for the growing process: %+v", doc.Findings)
	}

	// The machine at that time; the text form says it is the record.
	doc = explainAtJSON(t, "--dir", dir, "--at", at)
	if doc.Process != nil || len(doc.Examined) == 0 || doc.Record == nil {
		t.Errorf("machine doc: %+v", doc)
	}
	out, stderr, code := runInProcess(t, "explain", "--dir", dir, "--at", at, "--window", "1h", strconv.Itoa(pool.PID()))
	t.Logf("explain --at %s %d:\n%s", at, pool.PID(), out)
	if code != 0 || !strings.Contains(out, "from the record in "+dir) || !strings.Contains(out, "Oversubscribed") {
		t.Errorf("text (%d): %s %s", code, out, stderr)
	}

	// Bad input: before the record, a pid it does not hold, a window
	// over the bound, a record that is not there. Exit codes as every
	// command's (README): 1 nothing matched, 2 usage, 3 a failure.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--at", "2000-01-01T00:00:00Z"}, 3, "the record starts later"},
		{[]string{"--at", at, "4194303"}, 1, "the record holds no process 4194303"},
		{[]string{"--at", at, "--window", "2h"}, 2, "at most 1h0m0s"},
		{[]string{"--at", "yesterday-ish"}, 2, "--at"},
	} {
		_, stderr, code := runInProcess(t, append([]string{"explain", "--dir", dir}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("explain %v: exit %d (want %d): %s", c.args, code, c.code, stderr)
		}
	}
	if _, stderr, code := runInProcess(t, "explain", "--dir", filepath.Join(dir, "none"), "--at", at); code != 3 || stderr == "" {
		t.Errorf("explain --at on no record: exit %d: %s", code, stderr)
	}
}

// explainAtDoc is explainDoc with the record's stretch.
type explainAtDoc struct {
	explainDoc
	Record *struct {
		To            string `json:"to"`
		Samples       int    `json:"samples"`
		ThreadSamples int    `json:"thread_samples"`
	} `json:"record"`
}

func explainAtJSON(t *testing.T, args ...string) explainAtDoc {
	t.Helper()
	out, stderr, code := runInProcess(t, append([]string{"explain", "--json"}, args...)...)
	var d explainAtDoc
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil {
		t.Fatalf("explain --json %v: exit %d: %.500s %s", args, code, out, stderr)
	}
	return d
}

// samplesWith counts the recorded samples that hold the threads of every
// pid (0 while the store cannot be opened).
func samplesWith(t *testing.T, dir string, pids ...int) int {
	st, err := record.Open(dir)
	if err != nil {
		return 0
	}
	defer st.Close()
	n := 0
	for i := range st.Len() {
		s, err := st.Read(i)
		if err != nil {
			continue
		}
		found := 0
		for _, p := range s.Snapshot.Processes {
			for _, pid := range pids {
				if p.PID == pid && len(p.Threads) > 0 {
					found++
				}
			}
		}
		if found == len(pids) {
			n++
		}
	}
	return n
}

// finding is the finding id of a document, nil when absent.
func finding(d explainAtDoc, id string) *explainFinding {
	for i := range d.Findings {
		if d.Findings[i].ID == id {
			return &d.Findings[i]
		}
	}
	return nil
}

// unmeasured is why the document says a source (named by part of its
// description) was not measured; "" when it does not.
func unmeasured(d explainAtDoc, what string) string {
	for _, u := range d.Unmeasured {
		if strings.Contains(u.What, what) {
			return u.Why
		}
	}
	return ""
}

// evidenceFrom reports whether a piece of the finding's evidence cites a
// source containing src.
func evidenceFrom(f *explainFinding, src string) bool {
	for _, e := range f.Evidence {
		if strings.Contains(e.Source, src) {
			return true
		}
	}
	return false
}

// TestAtStepsOverDamagedSample: a one-shot --at whose sample is damaged
// shows the readable sample before it and names the damage on stderr
// (it exited 3 with the damage, where serve's /api/v1/frame?at= and
// replay step over it), and explain --at steps over a damaged sample in
// its window (the window ended at the damage: explained at the sample
// after it, it refused, with no sample before; later, its findings came
// from the samples after the damage alone, and nothing said so).
func TestAtStepsOverDamagedSample(t *testing.T) {
	rec, samples := recordLive(t, 6)
	damageSample(t, rec, 4)
	at := func(i int) string { return samples[i].Snapshot.TakenAt.Add(time.Millisecond).Format(time.RFC3339Nano) }
	when := func(i int) string { return samples[i].Snapshot.TakenAt.UTC().Format(time.RFC3339Nano) }

	out, stderr, code := runInProcess(t, "--json", "--no-threads", "--at", at(4), "--dir", rec)
	var snap struct {
		TakenAt string `json:"taken_at"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &snap) != nil {
		t.Fatalf("--json --at the damaged sample: exit %d: %.300s %s", code, out, stderr)
	}
	if got, _ := time.Parse(time.RFC3339Nano, snap.TakenAt); !got.Equal(samples[3].Snapshot.TakenAt) {
		t.Errorf("--at the damaged sample 5 showed the one taken at %s, want sample 4's %s", snap.TakenAt, when(3))
	}
	if !strings.Contains(stderr, "damaged record: ") || !strings.Contains(stderr, "using the sample before it") {
		t.Errorf("stderr does not name the damage and the sample used: %q", stderr)
	}

	pid := strconv.Itoa(os.Getpid())
	doc := explainAtJSON(t, "--dir", rec, "--at", at(5), "--window", "1h", pid)
	if doc.Record == nil || doc.Record.To != when(5) || doc.Record.Samples != 5 {
		t.Errorf("explain --at past a damaged sample: record stretch %+v, want samples 1 to 4 and 6 (to %s)", doc.Record, when(5))
	}
	_, stderr, _ = runInProcess(t, "explain", "--dir", rec, "--at", at(5), "--window", "1h", pid)
	if !strings.Contains(stderr, "1 damaged sample in the window skipped") {
		t.Errorf("explain --at does not say it stepped over the damaged sample: %q", stderr)
	}
	// Nothing readable before a damaged first sample (a keyframe: the
	// deltas after it are unreadable too): exit 3, naming it.
	damageSample(t, rec, 0)
	if _, stderr, code := runInProcess(t, "ps", "--at", at(0), "--dir", rec); code != exitError ||
		!strings.Contains(stderr, "damaged record: ") || !strings.Contains(stderr, "no readable sample before it") {
		t.Errorf("--at a damaged first sample: exit %d, %q; want %d naming the damage", code, stderr, exitError)
	}
}

// recordTimed records one real scan of /proc (with threads) per time in
// at, taken at that time as far as the record says (the scans are ms
// apart; the times stand for a recorder's long gaps), and returns the
// directory.
func recordTimed(t *testing.T, at []time.Time) string {
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
	for _, when := range at {
		snap, err := r.Scan(context.Background(), collector.ScanOptions{Threads: true})
		if err != nil {
			t.Fatal(err)
		}
		snap.TakenAt = when
		if err := w.Append(&record.Sample{RunID: 42, Interval: time.Second, Snapshot: snap}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestExplainAtDamageBounded: explain --at steps over damage no further
// back than its reach (10 minutes, or --window when longer) from the
// sample at --at: with the sample before it damaged and the readable one
// before that 15 minutes older, it refuses, naming the bound and the
// damage. Before, it took that sample as the window's start (rates over
// 15 minutes for a --window of 1m; stderr gave only a count).
func TestExplainAtDamageBounded(t *testing.T) {
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	times := []time.Time{t0, t0.Add(time.Second), t0.Add(15 * time.Minute), t0.Add(15*time.Minute + time.Second)}
	rec := recordTimed(t, times)
	damageSample(t, rec, 2)
	at := times[3].Add(time.Millisecond).Format(time.RFC3339Nano)
	pid := strconv.Itoa(os.Getpid())
	out, stderr, code := runInProcess(t, "explain", "--json", "--dir", rec, "--at", at, "--window", "1m", pid)
	if code != exitError || !strings.Contains(stderr, "no readable sample before the one at") || !strings.Contains(stderr, "within 10m0s of it (1 damaged sample stepped over; the newest: ") {
		t.Errorf("explain --at past damage 15 minutes back: exit %d, stderr %q, out %.300s; want %d naming the 10-minute bound", code, stderr, out, exitError)
	}
	// Within the bound it still steps over the damage (--window 20m: a
	// reach of 20 minutes).
	doc := explainAtJSON(t, "--dir", rec, "--at", at, "--window", "20m", pid)
	if doc.Record == nil || doc.Record.Samples != 3 {
		t.Errorf("explain --at --window 20m past the damage: record stretch %+v, want 3 samples", doc.Record)
	}
}
