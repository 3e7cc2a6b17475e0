// Package monitor runs the sampling loop: it reads snapshots on an
// interval (and listens to the kernel's process-events connector where it
// can), computes events, rates and diagnoses with package lifecycle, and
// publishes immutable Frames to subscribers. Views consume Frames and
// never read /proc themselves.
package monitor

import (
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// Frame is one published state of the world. It and everything it points
// to are immutable once published; subscribers may keep it.
type Frame struct {
	// Seq numbers frames from 1.
	Seq uint64
	// Snapshot is the latest scan.
	Snapshot *collector.Snapshot
	// Prev is the scan before it (nil for the first frame).
	Prev *collector.Snapshot
	// Events are the lifecycle events since the previous frame, in order.
	Events []lifecycle.Event
	// Interval is the sampling interval in force.
	Interval time.Duration
	// EventsLive is true when the kernel's process-events connector is
	// subscribed, so short-lived processes are seen; EventsNote says why
	// not otherwise.
	EventsLive bool
	EventsNote string
}
