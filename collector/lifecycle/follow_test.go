package lifecycle

import (
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// TestFollowerFollowsTheTree (item 9 of issue 13): a followed process's
// children and grandchildren are followed from their spawn, through exec
// (an exec event names no parent), orphaning and reaping; other
// processes' events are dropped; a lost event says whether the followed
// tree could be affected.
func TestFollowerFollowsTheTree(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	proc := func(pid, ppid int, state byte) collector.Process {
		return collector.Process{PID: pid, Read: collector.SrcStat, ProcStat: collector.ProcStat{StartTicks: uint64(pid), PPID: ppid, State: state, NumThreads: 1}}
	}
	ev := func(typ EventType, pid, ppid int) Event {
		return Event{Type: typ, Time: at, ID: collector.ID{PID: pid, StartTicks: uint64(pid)}, PPID: ppid}
	}
	f := NewFollower([]int{100})
	// Frame 1: 100 with a child 101 already running; 200 unrelated.
	s1 := &collector.Snapshot{TakenAt: at, Processes: []collector.Process{proc(1, 0, 'S'), proc(100, 1, 'S'), proc(101, 100, 'S'), proc(200, 1, 'S')}}
	if got := f.Frame(s1, nil); len(got) != 0 || f.Followed() != 2 {
		t.Fatalf("seed: %v, following %d", got, f.Followed())
	}
	// Frame 2: 101 forks 102, which execs (no ppid in the event); 101
	// exits and is reaped; 102 is reparented to 1; 200 forks 201.
	evs := []Event{ev(Spawn, 102, 101), ev(Exec, 102, 0), ev(Spawn, 201, 200), ev(Exit, 101, 100), ev(Reaped, 101, 100),
		{Type: Reparent, Time: at, ID: collector.ID{PID: 102, StartTicks: 102}, PPID: 1, OldPPID: 101}, ev(Exec, 201, 0)}
	s2 := &collector.Snapshot{TakenAt: at, Processes: []collector.Process{proc(1, 0, 'S'), proc(100, 1, 'S'), proc(102, 1, 'S'), proc(200, 1, 'S'), proc(201, 200, 'S')}}
	got := f.Frame(s2, evs)
	want := []EventType{Spawn, Exec, Exit, Reaped, Reparent}
	if len(got) != len(want) {
		t.Fatalf("kept %v", got)
	}
	for i, w := range want {
		if got[i].Type != w || got[i].ID.PID == 200 || got[i].ID.PID == 201 {
			t.Errorf("event %d: %s %d, want %s of the tree", i, got[i].Type, got[i].ID.PID, w)
		}
	}
	// Frame 3: the orphan 102 starts 103 between scans, unseen (events
	// lost): the scan finds it under 102; a lost event says the tree is
	// affected.
	s3 := &collector.Snapshot{TakenAt: at, Processes: []collector.Process{proc(1, 0, 'S'), proc(100, 1, 'S'), proc(102, 1, 'S'), proc(103, 102, 'S')}}
	got = f.Frame(s3, []Event{{Type: Lost, Time: at, Note: "kernel dropped 3 events"}})
	if len(got) != 1 || got[0].TreeAffected == nil || !*got[0].TreeAffected || f.Followed() != 3 {
		t.Fatalf("lost: %+v, following %d", got, f.Followed())
	}
	// Frame 4: 103 exits and is reaped.
	got = f.Frame(&collector.Snapshot{TakenAt: at, Processes: []collector.Process{proc(100, 1, 'S'), proc(102, 1, 'S')}},
		[]Event{ev(Exit, 103, 102), ev(Reaped, 103, 102)})
	if len(got) != 2 {
		t.Errorf("grandchild's exit: %v", got)
	}
	// Everything gone: a loss no longer affects the tree.
	f.Frame(&collector.Snapshot{TakenAt: at}, []Event{ev(Exit, 100, 1), ev(Reaped, 100, 1), ev(Exit, 102, 1), ev(Reaped, 102, 1)})
	got = f.Frame(&collector.Snapshot{TakenAt: at}, []Event{{Type: Lost, Time: at}})
	if len(got) != 1 || *got[0].TreeAffected {
		t.Errorf("lost with nothing followed: %+v", got)
	}
}

// TestFollowerSpawnOrder: a grandchild's spawn that comes before its
// parent's in a frame (the kernel's event with an earlier time than a
// scan's) is still followed.
func TestFollowerSpawnOrder(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f := NewFollower([]int{100})
	s := &collector.Snapshot{TakenAt: at, Processes: []collector.Process{{PID: 100, Read: collector.SrcStat, ProcStat: collector.ProcStat{StartTicks: 100, PPID: 1}}}}
	f.Frame(s, nil)
	evs := []Event{
		{Type: Spawn, Time: at, ID: collector.ID{PID: 102, StartTicks: 102}, PPID: 101},
		{Type: Spawn, Time: at, ID: collector.ID{PID: 101, StartTicks: 101}, PPID: 100},
		{Type: Exec, Time: at, ID: collector.ID{PID: 102, StartTicks: 102}},
	}
	if got := f.Frame(s, evs); len(got) != 3 {
		t.Errorf("kept %d of 3: %+v", len(got), got)
	}
}
