package lifecycle

import (
	"strconv"

	"github.com/pinspect/pinspect/collector"
)

// Follower keeps the events of some processes and of every process they
// start, from its birth on, as strace -f follows a tree: a child is
// followed from its spawn (its parent is followed), and stays followed
// when it is orphaned and adopted, through its execs, until it is reaped.
// It is pure: its state is a function of the frames given to Frame.
type Follower struct {
	roots []int
	// tree is the followed processes: pid -> start ticks (0: unknown,
	// as for a spawn whose start time the kernel source could not read).
	tree    map[int]uint64
	started bool
}

// NewFollower follows pids and their descendants.
func NewFollower(pids []int) *Follower {
	return &Follower{roots: pids, tree: make(map[int]uint64)}
}

// Followed returns how many processes the follower follows now.
func (f *Follower) Followed() int { return len(f.tree) }

// Frame takes one frame's snapshot and its events (in order) and returns
// the events of the followed tree. A Lost event is always returned, with
// TreeAffected saying whether the tree could be affected: whether any
// followed process was alive (events of the tree may be among the lost
// ones) or none was. The first frame seeds the tree with the roots and
// their descendants in snap; every frame then adds the processes of snap
// whose parent is followed (a spawn whose event was lost).
func (f *Follower) Frame(snap *collector.Snapshot, evs []Event) []Event {
	if !f.started {
		f.started = true
		for _, pid := range f.roots {
			if p := Find(snap, pid); p != nil {
				f.tree[pid] = p.StartTicks
			}
		}
		f.adopt(snap)
	}
	born := f.spawned(evs)
	var out []Event
	var reaped []int
	for i := range evs {
		e := evs[i]
		switch {
		case e.Type == Lost:
			affected := len(f.tree) > 0
			e.TreeAffected = &affected
			if affected {
				e.Note = appendNote(e.Note, "the followed tree ("+CountOf(len(f.tree), "process", "processes")+") may have lost events; its processes born meanwhile are found in the next scan")
			} else {
				e.Note = appendNote(e.Note, "no followed process was alive: the followed tree is not affected")
			}
			out = append(out, e)
		case f.follows(e.ID.PID, e.ID.StartTicks):
			out = append(out, e)
			if e.Type == Reaped {
				reaped = append(reaped, e.ID.PID)
			}
		}
	}
	for _, pid := range reaped {
		delete(f.tree, pid)
	}
	f.adopt(snap)
	f.forget(snap, born)
	return out
}

// spawned adds to the tree the processes born in evs under a followed
// parent, and returns them. It goes over the spawns until none is added:
// a child's spawn may come after its own child's (one reported by a
// scan, the other by the kernel, with earlier times).
func (f *Follower) spawned(evs []Event) map[int]bool {
	born := make(map[int]bool)
	for changed := true; changed; {
		changed = false
		for i := range evs {
			e := &evs[i]
			if e.Type != Spawn || born[e.ID.PID] || !f.follows(e.PPID, 0) {
				continue
			}
			if _, in := f.tree[e.ID.PID]; in {
				continue
			}
			f.tree[e.ID.PID] = e.ID.StartTicks
			born[e.ID.PID] = true
			changed = true
		}
	}
	return born
}

// follows reports whether pid (with start ticks, 0 for unknown) is
// followed.
func (f *Follower) follows(pid int, start uint64) bool {
	s, ok := f.tree[pid]
	return ok && (s == 0 || start == 0 || s == start)
}

// adopt adds the processes of snap whose parent is followed, until no
// more are found (a child and its own child born in one interval).
func (f *Follower) adopt(snap *collector.Snapshot) {
	if snap == nil {
		return
	}
	for changed := true; changed; {
		changed = false
		for i := range snap.Processes {
			p := &snap.Processes[i]
			if _, in := f.tree[p.PID]; in || p.Read&collector.SrcStat == 0 || !f.follows(p.PPID, 0) {
				continue
			}
			f.tree[p.PID] = p.StartTicks
			changed = true
		}
	}
}

// forget drops the followed processes snap no longer has (reaped without
// an event the follower saw), and fills in the start ticks it did not
// know, so a reused pid is not followed. A process born in this frame's
// events (born) is kept though snap lacks it: the kernel's event may be
// newer than the scan.
func (f *Follower) forget(snap *collector.Snapshot, born map[int]bool) {
	if snap == nil {
		return
	}
	for pid, start := range f.tree {
		p := Find(snap, pid)
		if p == nil && born[pid] {
			continue
		}
		switch {
		case p == nil || start != 0 && p.Read&collector.SrcStat != 0 && p.StartTicks != start:
			delete(f.tree, pid)
		case start == 0:
			f.tree[pid] = p.StartTicks
		}
	}
}

// appendNote joins two notes with "; ".
func appendNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// CountOf is a count and its noun, which agree: "1 process", "0
// processes", "2 processes" (the count in plain digits). Every view's
// "N things" text is made by it.
func CountOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// Follows reports whether pid is in the followed tree now.
func (f *Follower) Follows(pid int) bool { return f.follows(pid, 0) }
