package record

import (
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// Sample is one recorded interval: the snapshot, the lifecycle events
// since the previous sample, and the tracker state that the frame's
// diagnoses are computed from (zombie first-seen times, observed
// reparents, the zombie parents' wait channels). A Frame is rebuilt from
// it with the same pure lifecycle functions the monitor uses, so the
// record is the frames' history, not a second model.
type Sample struct {
	// Seq numbers samples in the store from 1, in write order; it never
	// goes back, even when the wall clock does.
	Seq uint64
	// RunID identifies one recorder run: rates between two samples are
	// only meaningful within one run.
	RunID uint64
	// Interval is the recorder's sampling interval.
	Interval time.Duration
	// Snapshot is the scan.
	Snapshot *collector.Snapshot
	// Events are the lifecycle events since the previous sample, in order.
	Events []lifecycle.Event
	// EventsLive says the kernel's process-events connector was
	// subscribed; EventsNote what was used.
	EventsLive bool
	EventsNote string
	// ZombieFirstSeen is when each current zombie was first seen.
	ZombieFirstSeen map[collector.ID]time.Time
	// Reparents are the reparent events observed for live processes.
	Reparents map[collector.ID]lifecycle.Event
	// ParentWChan is the wait channel of zombie parents, by pid.
	ParentWChan map[int]string
	// Memory holds the smaps_rollup totals of the processes whose memory
	// the recorder read with this sample (a few, at its memory cadence):
	// anonymous, private dirty, PSS and USS beside the RSS every
	// process has in the snapshot.
	Memory map[collector.ID]collector.MemoryTotals
}

// TakenAt is the sample's snapshot time (the zero time without one).
func (s *Sample) TakenAt() time.Time {
	if s == nil || s.Snapshot == nil {
		return time.Time{}
	}
	return s.Snapshot.TakenAt
}
