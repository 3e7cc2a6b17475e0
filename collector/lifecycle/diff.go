package lifecycle

import "github.com/pinspect/pinspect/collector"

// Diff compares two snapshots and returns the lifecycle events between
// them, keyed by process identity (pid + start ticks): a pid that was
// reused is an exit of the old process and a spawn of the new one. prev
// may be nil (no events: everything is simply present).
func Diff(prev, cur *collector.Snapshot) []Event {
	return nil
}
