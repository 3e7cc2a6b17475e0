// Package monitor runs the sampling loop: it reads snapshots on an
// interval, takes the events a kernel source (the process-events
// connector, where it can subscribe) received in between, has the
// lifecycle Tracker make events, rates and diagnoses of them, and
// publishes immutable Frames to subscribers. Views consume Frames and
// never read /proc themselves. It imports collector and lifecycle, never
// a view.
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
	// Events are the lifecycle events since the previous frame, in order.
	Events []lifecycle.Event
	// Interval is the sampling interval in force.
	Interval time.Duration
	// EventsLive is true when the kernel's process-events connector is
	// subscribed, so short-lived processes are seen; EventsNote says why
	// not otherwise.
	EventsLive bool
	EventsNote string
	// EventsBehind is how far behind the kernel's clock the kernel
	// source was in the events it handed this frame: the age of the
	// oldest event when it was converted (0 when it kept up, or without
	// kernel events). A view says "behind" rather than "live" when it
	// grows past an interval.
	EventsBehind time.Duration
	// ExecsUnnamedBehind counts the exec events the kernel source left
	// unnamed, since the monitor started, because it was catching up
	// with a backlog of the kernel's events and did not read them (each
	// one's note says why). It only grows, so a subscriber that skipped
	// frames misses none.
	ExecsUnnamedBehind uint64
	// Rates are the rates between the previous scan and Snapshot (nil
	// for the first frame, and with Options.NoRates).
	Rates *lifecycle.Rates
	// Zombies are the zombie diagnoses of Snapshot, grouped by parent.
	Zombies []lifecycle.ZombieGroup
	// Orphans are the orphans (and self-detached daemons) in Snapshot.
	Orphans []lifecycle.Orphan
	// Paused is true when sampling is paused: the frame repeats the last
	// snapshot.
	Paused bool
	// Focus is the focused process with its threads and details, nil when
	// nothing is focused.
	Focus *Focus
	// Explain is explain's findings (Options.Explain), nil without it.
	Explain *ExplainFrame
}

// Focus is the process the user is looking at, read in full (threads,
// details, address space) on each tick and when the focus changes.
type Focus struct {
	PID int
	// Process is the focused process with its threads; nil when it could
	// not be read (Err says why).
	Process *collector.Process
	// Details are its on-demand extras (wchan, cgroups, namespaces, limits,
	// capabilities).
	Details *collector.Details
	// Err is why the process could not be read ("" when it was).
	Err string
	// Space is its address space (mappings, segments, thread stacks,
	// memory totals), read with Process; nil when it was not read:
	// SpaceErr says why ("" when the source does not read address
	// spaces, as a remote agent's frames).
	Space    *collector.AddressSpace
	SpaceErr string
}
