package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReplayEndToEnd opens `pinspect replay` in a real terminal on a
// record of this machine and moves through it: ] and [ step, @ jumps;
// the header says the events were recorded, up to the sample shown.
func TestReplayEndToEnd(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	rec, samples := recordLive(t, 4)
	dir := t.TempDir()
	bin := filepath.Join(dir, "pinspect")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	first := samples[0].Snapshot.TakenAt.Local()
	script := bin + " replay --dir " + rec + " --at " + first.Format("2006-01-02T15:04:05.999999999") + "; echo REPLAY-EXITED $?; sleep 600"
	s := startTmux(t, tmux, filepath.Join(dir, "tmux.sock"), 160, 45, script)

	at := func(i int) string { return "sample " + strconv.Itoa(i) + "/4" }
	s.waitText(at(1))
	s.keys("]")
	s.waitText(at(2))
	s.keys("}")
	s.waitText(at(4))
	s.keys("[")
	scr := s.waitText(at(3))
	if !strings.Contains(scr, "REPLAY") || !strings.Contains(scr, "COMMAND") {
		t.Errorf("replay screen:\n%s", scr)
	}
	// The events of a replay were recorded: never "live" (it used to say
	// so), and recorded up to the sample shown.
	third := "events recorded to " + samples[2].Snapshot.TakenAt.Local().Format("15:04:05")
	if !strings.Contains(scr, third) || strings.Contains(scr, "events live") || strings.Contains(scr, "behind") {
		t.Errorf("replay header: want %q, never live or behind:\n%s", third, scr)
	}
	s.keys("@")
	s.waitText("jump to:")
	s.literal(first.Format("2006-01-02 15:04:05.999999999"))
	s.keys("Enter")
	s.waitText(at(1))
	s.keys("q")
	s.waitText("REPLAY-EXITED 0")
}

// TestReplayDamagedSample: replay steps over a damaged sample to the next
// readable one and says so in the status line, once (it said nothing and
// showed the sample before); at a damaged end it stays where it is and
// says why.
func TestReplayDamagedSample(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	rec, samples := recordLive(t, 4)
	damageSample(t, rec, 1)
	damageSample(t, rec, 3)
	dir := t.TempDir()
	bin := filepath.Join(dir, "pinspect")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	first := samples[0].Snapshot.TakenAt.Local()
	script := bin + " replay --dir " + rec + " --at " + first.Format("2006-01-02T15:04:05.999999999") + "; echo REPLAY-EXITED $?; sleep 600"
	s := startTmux(t, tmux, filepath.Join(dir, "tmux.sock"), 200, 45, script)

	s.waitText("sample 1/4")
	s.keys("]")
	// The header may say sample 3 before the frame is drawn: wait for
	// the notice, drawn with the frame.
	scr := s.waitText("damaged sample 2/4 (" + samples[1].Snapshot.TakenAt.Local().Format("15:04:05") + ") skipped: damaged record: ")
	if !strings.Contains(scr, "sample 3/4") {
		t.Errorf("stepping over a damaged sample: want sample 3/4 shown:\n%s", scr)
	}
	// At the end: sample 4 is damaged, there is nothing after it.
	s.keys("]")
	scr = s.waitText("damaged sample 4/4 (" + samples[3].Snapshot.TakenAt.Local().Format("15:04:05") + ") skipped, no readable sample after: still at sample 3: damaged record: ")
	if !strings.Contains(scr, "sample 3/4") {
		t.Errorf("stepping onto a damaged last sample:\n%s", scr)
	}
	// Back over the damaged sample 2 to sample 1.
	s.keys("[")
	s.waitText("sample 1/4")
	s.keys("q")
	s.waitText("REPLAY-EXITED 0")
}
