package lifecycle

import (
	"github.com/pinspect/pinspect/collector"
)

// Find returns the process with pid in snap, nil when there is none (or
// snap is nil). Processes are sorted by PID (collector.Snapshot), so this
// is a binary search: no per-frame map of pids is built anywhere.
func Find(snap *collector.Snapshot, pid int) *collector.Process {
	if snap == nil {
		return nil
	}
	i, ok := collector.SearchPID(snap.Processes, pid)
	if !ok {
		return nil
	}
	return &snap.Processes[i]
}

// FindID returns the process with identity id in snap: nil when its pid
// is absent or now belongs to another process (pids are reused).
func FindID(snap *collector.Snapshot, id collector.ID) *collector.Process {
	if p := Find(snap, id.PID); p != nil && p.StartTicks == id.StartTicks {
		return p
	}
	return nil
}

// matchPrev walks cur's processes in PID order with, for each, the
// process of prev with the same identity (nil when it is new). Both lists
// are sorted by PID, so the walk is one merge, without a map.
func matchPrev(prev, cur []collector.Process, each func(p, c *collector.Process)) {
	i := 0
	for j := range cur {
		c := &cur[j]
		for i < len(prev) && prev[i].PID < c.PID {
			i++
		}
		var p *collector.Process
		if i < len(prev) && prev[i].PID == c.PID && prev[i].StartTicks == c.StartTicks {
			p = &prev[i]
		}
		each(p, c)
	}
}

// gone walks the processes of prev that are not in cur (by identity), in
// PID order.
func gone(prev, cur []collector.Process, each func(p *collector.Process)) {
	j := 0
	for i := range prev {
		p := &prev[i]
		for j < len(cur) && cur[j].PID < p.PID {
			j++
		}
		if j < len(cur) && cur[j].PID == p.PID && cur[j].StartTicks == p.StartTicks {
			continue
		}
		each(p)
	}
}
