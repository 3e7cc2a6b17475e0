package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestRecordCommand runs the real recorder for a few samples, stops it
// with SIGINT (exit 0), and reads the record back; a second recorder on
// the same directory is refused.
func TestRecordCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	cmd, errb := startRecorder(t, dir, 3, "--interval", "200ms", "--threads-every", "2", "--memory-every", "1", "--fsync", "none")
	second := pinspect(t, "record", "--dir", dir)
	if second.code != exitError || !strings.Contains(second.stderr, "another recorder is writing to this directory") {
		t.Errorf("second recorder: exit %d, %s", second.code, second.stderr)
	}
	stopRecorder(t, cmd, errb)
	st, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s0, err := st.Read(0)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := st.Read(1)
	if err != nil {
		t.Fatal(err)
	}
	// Threads in the first sample and not in all: the monitor may add a
	// sample of its own (a rescan after lost kernel events), so the
	// cadence is counted in frames, not asserted sample by sample.
	with := 0
	for i := range st.Len() {
		if s, err := st.Read(i); err == nil && s.Snapshot.ThreadsRead {
			with++
		}
	}
	if !s0.Snapshot.ThreadsRead || with == st.Len() {
		t.Errorf("threads every 2nd sample: in the first %v, in %d of %d", s0.Snapshot.ThreadsRead, with, st.Len())
	}
	if len(s0.Memory) == 0 {
		t.Error("no smaps_rollup recorded with --memory-every 1")
	}
	if s0.RunID == 0 || s0.RunID != s1.RunID {
		t.Errorf("run ids %x %x", s0.RunID, s1.RunID)
	}

	for _, bad := range [][]string{
		{"record", "--dir", dir, "--interval", "1ms"},
		{"record", "--dir", dir, "--max-size", "lots"},
		{"record", "--dir", dir, "--max-age", "-1h"},
		{"record", "--dir", dir, "--fsync", "always"},
	} {
		if r := pinspect(t, bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", bad, r.code, r.stderr)
		}
	}
}

// TestRecordStopKeepsLastEvents: a recorder stopped by SIGTERM (systemd's
// stop) writes a last sample with the events since its last one: a
// process that started and exited after the first sample, with the next
// an hour away, is in the record with its exit status (it was lost).
func TestRecordStopKeepsLastEvents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	cmd, errb := startRecorder(t, dir, 1, "--interval", "1h", "--fsync", "none")
	// Without the kernel's events (no BPF, no connector: not root) the
	// exit between two samples cannot be seen at all.
	for deadline := time.Now().Add(time.Minute); !strings.Contains(errb.String(), "live=") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(errb.String(), "live=false") {
		t.Skipf("no kernel process events: %s", errb.String())
	}
	short := exec.Command("sh", "-c", "exit 7")
	if err := short.Run(); err == nil {
		t.Fatal("sh -c 'exit 7' exited 0")
	}
	pid := short.Process.Pid
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("recorder after SIGTERM: %v; stderr:\n%s", err, errb.String())
	}
	st, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var exit *lifecycle.Event
	if err := st.Events(record.EventQuery{}, func(e *lifecycle.Event) bool {
		if e.Type == lifecycle.Exit && e.ID.PID == pid {
			c := *e
			exit = &c
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if exit == nil || exit.ExitStatus == nil || !exit.ExitStatus.Exited || exit.ExitStatus.Code != 7 {
		t.Fatalf("the exit of %d (exit 7) in %d samples: %+v; stderr:\n%s", pid, st.Len(), exit, errb.String())
	}
}

// startRecorder starts pinspect record --dir dir with args, killed at
// the test's end, and waits until n samples are in its store (for up to
// 3 minutes: the first scan of a loaded machine with threads can take a
// while). It returns the recorder and its stderr.
func startRecorder(t *testing.T, dir string, n int, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := command(append([]string{"record", "--dir", dir}, args...)...)
	errb := &lockedBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if st, err := record.Open(dir); err == nil {
			k := st.Len()
			st.Close()
			if k >= n {
				return cmd, errb
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d samples recorded in 3 min; stderr:\n%s", n, errb.String())
		}
	}
}

// stopRecorder stops a recorder startRecorder (or a test) started, with
// SIGINT, and fails the test unless it exits 0.
func stopRecorder(t *testing.T, cmd *exec.Cmd, errb *lockedBuffer) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("recorder after SIGINT: %v; stderr:\n%s", err, errb.String())
	}
}

// recordEnd is the time of the last sample in the record in dir.
func recordEnd(t *testing.T, dir string) time.Time {
	t.Helper()
	st, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, last := st.Span()
	return last
}

func TestEventsCommand(t *testing.T) {
	dir, samples := recordLive(t, 2)
	out, stderr, code := runInProcess(t, "events", "--dir", dir, "--signal", "SEGV", "--pid", "31337")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "killed by SIGSEGV (core dumped)") || strings.Contains(out, "\x1b") {
		t.Errorf("events --signal SEGV (%d): %q %s", code, out, stderr)
	}
	// (--pid: the scans of this machine may have seen real deaths by a
	// signal too.)
	out, _, _ = runInProcess(t, "events", "--dir", dir, "--outcome", "signal", "--json", "--pid", "31337", "--since", samples[0].Snapshot.TakenAt.Format(time.RFC3339Nano))
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &ev); err != nil || ev["pid"] != 31337.0 {
		t.Errorf("events --outcome signal --json: %q (%v)", out, err)
	}
	// No restart: nothing matched (exit 1, as pgrep), the end still down
	// said.
	out, _, code = runInProcess(t, "events", "--dir", dir, "--restarts", "--name", "crash")
	if code != exitNoMatch || !strings.Contains(out, "0 restarts") || !strings.Contains(out, "not followed by a start") {
		t.Errorf("restarts: %d %q", code, out)
	}
	for _, bad := range [][]string{
		{"events", "--dir", dir, "--type", "explode"},
		{"events", "--dir", dir, "--outcome", "maybe"},
		{"events", "--dir", dir, "--signal", "SIGNOPE"},
		{"events", "--dir", dir, "--restarts"},
	} {
		if _, stderr, code := runInProcess(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", bad, code, stderr)
		}
	}
}

// TestAt: the one-shot views at a recorded time.
func TestAt(t *testing.T) {
	dir, samples := recordLive(t, 2)
	at := samples[1].Snapshot.TakenAt.Format(time.RFC3339Nano)
	out, stderr, code := runInProcess(t, "ps", "--dir", dir, "--at", at, "--pid", "1")
	if code != 0 || !strings.Contains(out, "COMMAND") || len(strings.Split(strings.TrimSpace(out), "\n")) < 2 {
		t.Errorf("ps --at (%d): %s %s", code, out, stderr)
	}
	out, stderr, code = runInProcess(t, "--json", "--dir", dir, "--at", at, "--pid", "1")
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc["taken_at"] != samples[1].Snapshot.TakenAt.UTC().Format(time.RFC3339Nano) {
		t.Errorf("--json --at (%d): %.300s %s", code, out, stderr)
	}
	for _, args := range [][]string{{"zombies"}, {"orphans"}, {"show", "1"}} {
		// 0, or 1 when the record holds none (no zombie, no orphan then).
		if out, stderr, code := runInProcess(t, append(args, "--dir", dir, "--at", at)...); code != 0 && code != exitNoMatch {
			t.Errorf("%v --at: exit %d: %s %s", args, code, out, stderr)
		}
	}
	// Before the record: a clear error; --maps cannot be recorded.
	if _, stderr, code := runInProcess(t, "ps", "--dir", dir, "--at", "2000-01-01T00:00:00Z"); code != exitError || !strings.Contains(stderr, "the record starts later") {
		t.Errorf("ps --at 2000: %d %s", code, stderr)
	}
	if _, _, code := runInProcess(t, "show", "1", "--maps", "--dir", dir, "--at", at); code != 2 {
		t.Errorf("show --maps --at: exit %d, want 2", code)
	}
}

// TestZombiesAtRate: zombies --at gives the rate its zombies accumulated
// at from the first to the sample shown. Three zombies made at once and
// none after were "accumulating" at the rate of the milliseconds between
// their exits (the span of their first sightings: kernel exit times).
func TestZombiesAtRate(t *testing.T) {
	h, at := zombiesAtRecord(t, false)
	// 2 zombies after the first over at least 2 s: at most 3,600 an hour.
	if h.BeforeRecording || h.ZombiesPerHour == nil || *h.ZombiesPerHour <= 0 || *h.ZombiesPerHour > 3600 {
		t.Errorf("3 zombies made at once, the first at %s, shown at %s: before_recording %v, zombies_per_hour %v, want at most 3600",
			h.FirstZombieAt, at.Format(time.RFC3339Nano), h.BeforeRecording, ptrVal(h.ZombiesPerHour))
	}
}

// TestZombiesAtRateBeforeRecording: zombies already there when the
// recorder started share its first sample as their first sighting; the
// two after the first were counted as made since then, "accumulating at
// 2801.2 an hour" two seconds later (review14). None appeared since: 0.
func TestZombiesAtRateBeforeRecording(t *testing.T) {
	h, at := zombiesAtRecord(t, true)
	if !h.BeforeRecording || h.ZombiesPerHour == nil || *h.ZombiesPerHour != 0 {
		t.Errorf("3 zombies older than the record, shown at %s: before_recording %v, zombies_per_hour %v, want true and 0",
			at.Format(time.RFC3339Nano), h.BeforeRecording, ptrVal(h.ZombiesPerHour))
	}
}

// zombieAtDoc is one parent's history in zombies --at --json.
type zombieAtDoc struct {
	ParentPID       int      `json:"parent_pid"`
	Zombies         int      `json:"zombies"`
	FirstZombieAt   string   `json:"first_zombie_at"`
	BeforeRecording bool     `json:"before_recording"`
	ZombiesPerHour  *float64 `json:"zombies_per_hour"`
}

// zombiesAtRecord records three zombies of one parent, made before the
// recorder starts (before) or after its first sample, for two seconds
// more, and returns that parent's history at the record's last sample.
func zombiesAtRecord(t *testing.T, before bool) (zombieAtDoc, time.Time) {
	t.Helper()
	var z *livehelper.Proc
	if before {
		z = livehelper.Start(t, "zombies", "3", "block")
		// The helper says ready before its children have exited: all
		// three are zombies before the recorder's first sample.
		waitedFor(t, "the helper's three children to be zombies", func() bool {
			for _, pid := range z.PIDs[1:] {
				b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
				if i := bytes.LastIndexByte(b, ')'); err != nil || i < 0 || i+2 >= len(b) || b[i+2] != 'Z' {
					return false
				}
			}
			return len(z.PIDs) == 4
		})
	}
	dir := filepath.Join(t.TempDir(), "rec")
	cmd := command("record", "--dir", dir, "--interval", "500ms", "--fsync", "none")
	errb := &lockedBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitedFor(t, "the recorder's first sample", func() bool {
		st, err := record.Open(dir)
		if err != nil {
			return false
		}
		defer st.Close()
		return st.Len() >= 1
	})
	if !before {
		z = livehelper.Start(t, "zombies", "3", "block")
	}
	start := time.Now()
	waitedFor(t, "two seconds of samples after the zombies", func() bool {
		return time.Since(start) > 2*time.Second && recordEnd(t, dir).Sub(start) > 2*time.Second
	})
	stopRecorder(t, cmd, errb)
	at := recordEnd(t, dir)
	out, stderr, code := runInProcess(t, "zombies", "--json", "--dir", dir, "--at", at.Format(time.RFC3339Nano), "--pid", strconv.Itoa(z.PID()))
	var doc struct {
		History []zombieAtDoc `json:"history"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.History) != 1 || doc.History[0].Zombies != 3 {
		t.Fatalf("zombies --at: exit %d: %.500s %s", code, out, stderr)
	}
	return doc.History[0], at
}

// ptrVal is *p, or "absent".
func ptrVal(p *float64) any {
	if p == nil {
		return "absent"
	}
	return *p
}
