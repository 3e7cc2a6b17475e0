package lifecycle

import (
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// zombieSnap is a parent (state, SIGCHLD caught or not) with one zombie
// child that started at start, taken at now.
func zombieSnap(parentState byte, handles bool, start, now time.Time) *collector.Snapshot {
	par := collector.Process{PID: 10, Read: collector.SrcStat | collector.SrcStatus,
		ProcStat: collector.ProcStat{StartTicks: 1, Comm: "parent", State: parentState, PPID: 1, NumThreads: 1}}
	if handles {
		par.SigCgt = sigchldBit
	}
	z := collector.Process{PID: 11, Read: collector.SrcStat | collector.SrcStatus,
		ProcStat: collector.ProcStat{StartTicks: 2, StartedAt: start, Comm: "child", State: 'Z', PPID: 10, NumThreads: 1, ExitCode: 11}}
	return &collector.Snapshot{TakenAt: now, Processes: []collector.Process{par, z}}
}

// TestYoungZombieIsNotBlamed (item 10): a zombie younger than the minimum
// age may still be reaped: its parent is not said to never collect its
// children. Old enough (watched that long), it is.
func TestYoungZombieIsNotBlamed(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	g := DiagnoseZombies(zombieSnap('S', false, now.Add(-time.Second), now), nil, nil)
	if len(g) != 1 || !g[0].Young || !g[0].Zombies[0].Young || !strings.Contains(g[0].Diagnosis, "may still be reaped") ||
		strings.Contains(g[0].Diagnosis, "never collects") {
		t.Fatalf("a 1-second-old zombie: %+v", g)
	}
	// Started an hour ago: its zombie age is unknown, not young.
	old := zombieSnap('S', false, now.Add(-time.Hour), now)
	if g := DiagnoseZombies(old, nil, nil); g[0].Young || !strings.Contains(g[0].Diagnosis, "never collects") {
		t.Errorf("an old process's zombie: %+v", g[0])
	}
	// Born while watched (first seen after the watch began), 2 s ago.
	id := collector.ID{PID: 11, StartTicks: 2}
	seen := map[collector.ID]time.Time{id: now.Add(-2 * time.Second)}
	g = DiagnoseZombiesWith(old, seen, nil, ZombieOptions{WatchStart: now.Add(-time.Minute)})
	if !g[0].Young || g[0].Zombies[0].OldEnough {
		t.Errorf("a zombie born 2 s ago while watched: %+v", g[0].Zombies[0])
	}
	// Watched a zombie for a minute: old enough.
	seen[id] = now.Add(-time.Minute)
	g = DiagnoseZombiesWith(old, seen, nil, ZombieOptions{WatchStart: now.Add(-time.Minute)})
	if g[0].Young || !g[0].Zombies[0].OldEnough {
		t.Errorf("a zombie watched for a minute: %+v", g[0].Zombies[0])
	}
	if s := g[0].Zombies[0].Exit.String(); s != "killed by SIGSEGV" {
		t.Errorf("exit %q, want the signal named", s)
	}
}

// TestStoppedParentBothRemedies (item 10): a stopped parent that
// neither handles nor ignores SIGCHLD gets both remedies (continue it,
// and fix it to reap); one that handles SIGCHLD needs only continuing.
func TestStoppedParentBothRemedies(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	g := DiagnoseZombies(zombieSnap('T', false, now.Add(-time.Hour), now), nil, nil)
	if !strings.Contains(g[0].Remedy, "kill -CONT 10") || !strings.Contains(g[0].Remedy, "fix it to reap") {
		t.Errorf("stopped, SIGCHLD default: remedy %q", g[0].Remedy)
	}
	g = DiagnoseZombies(zombieSnap('T', true, now.Add(-time.Hour), now), nil, nil)
	if !strings.Contains(g[0].Remedy, "kill -CONT 10") || strings.Contains(g[0].Remedy, "fix it to reap") {
		t.Errorf("stopped, SIGCHLD handled: remedy %q", g[0].Remedy)
	}
	// A stopped parent reaps none, young or not.
	g = DiagnoseZombies(zombieSnap('T', false, now.Add(-time.Second), now), nil, nil)
	if !strings.Contains(g[0].Diagnosis, "stopped") {
		t.Errorf("stopped parent of a young zombie: %q", g[0].Diagnosis)
	}
}

// TestLeaderExitedParentIsAlive (item 2): a parent whose main thread
// exited while others run is alive: not "a zombie too".
func TestLeaderExitedParentIsAlive(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := zombieSnap('Z', false, now.Add(-time.Hour), now)
	s.Processes[0].NumThreads = 3
	g := DiagnoseZombies(s, nil, nil)
	if strings.Contains(g[0].Diagnosis, "zombie too") || !strings.Contains(g[0].Diagnosis, "its main thread exited") {
		t.Errorf("diagnosis %q", g[0].Diagnosis)
	}
}
