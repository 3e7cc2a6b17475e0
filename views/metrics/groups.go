package metrics

import (
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// This file keeps the per-group accounts behind the pinspect_group_*
// series. A group's counters (CPU, context switches, I/O) must only grow,
// or rate() sees a reset and reports a burst that never happened, while
// the processes that make them up come and go. So, as process-exporter
// does, each group keeps what its departed members had done: when a
// process leaves a group (it exited, or an exec renamed it into another
// group) its last counters go into the group's gone account, and a
// counter is gone + the sum over live members. A member counts from when
// it joined: a process seen first in a group counts its whole life (its
// counters since it started), one that moved in counts from the move.
// Work a process did between the last scan that saw it and its exit is
// not seen (at most one interval of it).

// counters are cumulative per-process (or per-group) counts.
type counters struct {
	userTicks, systemTicks uint64
	volCtx, involCtx       uint64
	readBytes, writeBytes  uint64
}

// atLeast returns c with every field raised to o's where o's is larger: a
// process's counters never go back (a context-switch total summed over
// live threads drops when a thread exits; the account keeps the high
// mark).
func (c counters) atLeast(o counters) counters {
	c.userTicks = max(c.userTicks, o.userTicks)
	c.systemTicks = max(c.systemTicks, o.systemTicks)
	c.volCtx = max(c.volCtx, o.volCtx)
	c.involCtx = max(c.involCtx, o.involCtx)
	c.readBytes = max(c.readBytes, o.readBytes)
	c.writeBytes = max(c.writeBytes, o.writeBytes)
	return c
}

func (c *counters) add(o counters) {
	c.userTicks += o.userTicks
	c.systemTicks += o.systemTicks
	c.volCtx += o.volCtx
	c.involCtx += o.involCtx
	c.readBytes += o.readBytes
	c.writeBytes += o.writeBytes
}

// minus is c - o field by field; the caller guarantees c >= o (a
// member's last is at least its base).
func (c counters) minus(o counters) counters {
	return counters{c.userTicks - o.userTicks, c.systemTicks - o.systemTicks,
		c.volCtx - o.volCtx, c.involCtx - o.involCtx,
		c.readBytes - o.readBytes, c.writeBytes - o.writeBytes}
}

// countersOf reads p's cumulative counters; a field whose source was not
// read is 0 (and atLeast keeps the member's earlier value).
func countersOf(p *collector.Process) counters {
	c := counters{userTicks: p.UTimeTicks, systemTicks: p.STimeTicks, volCtx: p.VolCtx, involCtx: p.InvolCtx}
	if p.Read&collector.SrcIO != 0 {
		c.readBytes, c.writeBytes = p.IO.ReadBytes, p.IO.WriteBytes
	}
	return c
}

// The state classes of pinspect_group_processes, in export order.
var groupStates = [...]string{"running", "sleeping", "disk-sleep", "stopped", "zombie", "other"}

// stateClass is p's index in groupStates: a zombie is one that IsZombie
// says is (a process whose main thread exited while others run shows Z
// but is alive: other).
func stateClass(p *collector.Process) int {
	switch p.State {
	case 'R', 'W':
		return 0
	case 'S', 'I', 'P', 'K':
		return 1
	case 'D':
		return 2
	case 'T', 't':
		return 3
	case 'Z':
		if lifecycle.IsZombie(p) {
			return 4
		}
	}
	return 5
}

// group is one group's account.
type group struct {
	key    groupKey
	capped bool // counted against groups.max (not named by a rule)
	// gone are the counters departed members left; live the sum over
	// live members of what they did since they joined (this frame).
	gone, live counters
	// This frame's gauges.
	states      [len(groupStates)]int
	threads     int64
	rssBytes    uint64
	orphans     int
	oldestStart time.Time
	// zombieChildren are the zombies the group's processes hold as their
	// parent; oldestZombie when the oldest of them was first seen.
	zombieChildren int
	oldestZombie   time.Time
	members        int
	// Lifecycle counters.
	spawns, execs float64
	exits         [len(exitOutcomes)]float64
	// ioSeen says a member's io counters were read at least once: the
	// group's io series exist from then on (a group none of whose io the
	// agent may read has none, rather than a false 0).
	ioSeen bool
	// emptySince is when the group was first seen without members (zero
	// while it has some).
	emptySince time.Time
}

func (g *group) resetFrame() {
	g.live = counters{}
	g.states = [len(groupStates)]int{}
	g.threads, g.rssBytes, g.orphans, g.members, g.zombieChildren = 0, 0, 0, 0, 0
	g.oldestStart, g.oldestZombie = time.Time{}, time.Time{}
}

// total is the group's cumulative counters.
func (g *group) total() counters {
	t := g.gone
	t.add(g.live)
	return t
}

// member is a live process's place in its group.
type member struct {
	id collector.ID
	g  *group
	// base is what the process had done when it joined g, last what it
	// had done at the latest scan.
	base, last counters
	facts      processFacts
	seen       uint64 // the generation of the latest scan that saw it
	// overflow: it is in "other" only because groups.max groups were
	// taken when it joined.
	overflow bool
}

// groupTable is every group and every live process's membership.
type groupTable struct {
	cfg    *Grouping
	groups map[groupKey]*group
	capped int // groups counted against the bound
	other  *group
	procs  map[collector.ID]*member
	// live are the members the latest scan saw, in its order (by pid):
	// the next scan finds each process's member by one merge with it,
	// and the sweep walks it, instead of a map lookup for each process
	// and a walk of the whole map (at 2,000 processes that was most of
	// an Observe). before is the scan before's, kept for the sweep,
	// and then the next scan's buffer.
	live, before []*member
	gen          uint64
	// overflow counts the processes of the latest scan in "other" only
	// because the bound was reached (not by a rule or unmatched: other).
	overflow int
}

func newGroupTable(cfg *Grouping) *groupTable {
	t := &groupTable{cfg: cfg, groups: map[groupKey]*group{}, procs: map[collector.ID]*member{}}
	// "other" is one group whatever the cgroups of its processes: with
	// by_cgroup its cgroup label is empty (absent).
	t.other = &group{key: groupKey{name: OtherGroup}}
	t.groups[t.other.key] = t.other
	return t
}

// groupFor returns the group of key, making it when there is room: the
// group "other" takes the processes of groups beyond the bound. The
// groups a rule names are as many as the rules, and always have room
// (but with by_cgroup, where each cgroup makes a group of its own).
func (t *groupTable) groupFor(k groupKey, byRule bool) *group {
	g, _ := t.place(k, byRule)
	return g
}

// place is groupFor that also says when the group is "other" only
// because the bound was reached.
func (t *groupTable) place(k groupKey, byRule bool) (g *group, overflow bool) {
	if g := t.groups[k]; g != nil {
		return g, false
	}
	if k.name == OtherGroup {
		return t.other, false
	}
	capped := !byRule || t.cfg.byCgroup
	if capped && t.capped >= t.cfg.maxGroups() {
		return t.other, true
	}
	g = &group{key: k, capped: capped}
	if capped {
		t.capped++
	}
	t.groups[k] = g
	return g, false
}

// every knows every fact of a scanned process.
var every = ruleUses{exe: true, cmdline: true, user: true, cgroup: true}

// observe accounts one scan: memberships, the groups' gauges and live
// counters. It returns nothing; sweep must follow (after the frame's
// events are attributed, so an exited process's events find its group).
func (t *groupTable) observe(snap *collector.Snapshot) {
	t.expire(snap.TakenAt)
	t.gen++
	t.overflow = 0
	for _, g := range t.groups {
		g.resetFrame()
	}
	prev := t.live
	t.live, t.before = t.before[:0], prev
	j := 0
	for i := range snap.Processes {
		p := &snap.Processes[i]
		id := p.ID()
		for j < len(prev) && prev[j].id.PID < id.PID {
			j++
		}
		var m *member
		if j < len(prev) && prev[j].id == id {
			m = prev[j]
			j++
		} else {
			m = t.procs[id] // only if the scans were not in pid order
		}
		facts := t.cfg.facts(p)
		cur := countersOf(p)
		switch {
		case m == nil:
			m = &member{id: id, facts: facts, last: cur}
			m.g, m.overflow = t.place(t.cfg.key(&facts, every))
			t.procs[id] = m
		case !m.facts.same(&facts):
			m.facts = facts
			if g, overflow := t.place(t.cfg.key(&facts, every)); g != m.g {
				m.overflow = overflow
				// It moved: what it did so far stays with the old group,
				// the new one counts from here.
				m.g.gone.add(m.last.minus(m.base))
				m.g, m.base = g, m.last
			}
		}
		m.last = m.last.atLeast(cur)
		if m.seen != t.gen {
			t.live = append(t.live, m)
		}
		m.seen = t.gen
		if m.overflow {
			t.overflow++
		}
		g := m.g
		g.members++
		g.live.add(m.last.minus(m.base))
		g.states[stateClass(p)]++
		g.threads += max(p.NumThreads, 0)
		if p.HasRSS {
			g.rssBytes += p.RSSBytes
		}
		if p.Read&collector.SrcIO != 0 {
			g.ioSeen = true
		}
		if !p.StartedAt.IsZero() && (g.oldestStart.IsZero() || p.StartedAt.Before(g.oldestStart)) {
			g.oldestStart = p.StartedAt
		}
	}
}

// groupOfEvent is the group an event counts in: the process's group when
// a scan saw it (for an exec, only when the scan saw the new program),
// else the group its comm and executable name (a process that lived and
// died between two scans: rules that need its command line, user or
// cgroup cannot match it).
func (t *groupTable) groupOfEvent(e *lifecycle.Event) *group {
	if m := t.procs[e.ID]; m != nil && (e.Type != lifecycle.Exec || m.facts.comm == e.Comm) {
		return m.g
	}
	// The path an exec was given is not matched by exe rules: it is the
	// caller's string, not the file the kernel ran (an unprivileged user
	// in a mount namespace of their own can exec their own
	// /usr/sbin/sshd and be counted in that group). Without an exe, only
	// rules on the comm can match.
	f := processFacts{comm: e.Comm, exe: e.Exe}
	return t.groupFor(t.cfg.key(&f, ruleUses{exe: e.Exe != ""}))
}

// event counts e in its group. An event keeps the group as a live one
// does: a group whose processes all live and die between two scans has
// no member at any scan, and the retention counts from its last event
// (else its counters would restart every retention while it is busy).
func (t *groupTable) event(e *lifecycle.Event) {
	var g *group
	switch e.Type {
	case lifecycle.Spawn:
		g = t.groupOfEvent(e)
		g.spawns++
	case lifecycle.Exec:
		g = t.groupOfEvent(e)
		g.execs++
	case lifecycle.Exit:
		g = t.groupOfEvent(e)
		o, _ := ExitClass(e.ExitStatus)
		g.exits[o]++
	default:
		return
	}
	g.emptySince = time.Time{}
}

// sweep ends the memberships of processes the latest scan did not see,
// counts orphans and the zombies each group holds as a parent, and notes
// when each group became empty, or had its last event (expire forgets it
// after the retention; "other" stays).
func (t *groupTable) sweep(now time.Time, orphans []lifecycle.Orphan, zombies []lifecycle.ZombieGroup) {
	for _, m := range t.before {
		if m.seen != t.gen {
			m.g.gone.add(m.last.minus(m.base))
			delete(t.procs, m.id)
		}
	}
	clear(t.before) // the next scan's buffer: it holds no member
	for i := range orphans {
		if o := &orphans[i]; !o.Daemon {
			if m := t.procs[o.ID]; m != nil {
				m.g.orphans++
			}
		}
	}
	for i := range zombies {
		z := &zombies[i]
		if m := t.procs[z.Parent]; m != nil {
			m.g.zombieChildren += len(z.Zombies)
			if !z.Since.IsZero() && (m.g.oldestZombie.IsZero() || z.Since.Before(m.g.oldestZombie)) {
				m.g.oldestZombie = z.Since
			}
		}
	}
	for _, g := range t.groups {
		switch {
		case g.members > 0 || g == t.other:
			g.emptySince = time.Time{}
		case g.emptySince.IsZero():
			g.emptySince = now
		}
	}
}

// expire forgets the groups empty for the retention or longer: their
// series end, and their slots are free for the scan about to be
// observed.
func (t *groupTable) expire(now time.Time) {
	keep := t.cfg.retentionOrDefault()
	for k, g := range t.groups {
		if !g.emptySince.IsZero() && now.Sub(g.emptySince) >= keep {
			delete(t.groups, k)
			if g.capped {
				t.capped--
			}
		}
	}
}
