package monitor

import (
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
)

// The decoder's one-batch helpers, for tests: the converter prepares and
// emits batches itself (convertLoop).

// newBatch makes a batch of events in, taken at now, reusing the maps of
// a converted one.
func (d *decoder) newBatch(in []procEvent, now time.Time, hurry bool, losses uint64) *batch {
	b := d.emptyBatch()
	b.evs = in
	b.setTaken(now, monotonicNow(), hurry, losses)
	return b
}

// convert turns a batch of events, received at now, into lifecycle
// inputs at once, with nothing known of the events after them. In a
// hurry it looks up only some execs (lookUpHurried).
func (d *decoder) convert(in []procEvent, now time.Time, hurry bool) []lifecycle.KernelEvent {
	b := d.newBatch(in, now, hurry, d.losses)
	d.prepare(b, nil)
	out := d.emit(nil, b, nil)
	b.evs = nil // the caller's
	d.recycle(b)
	return out
}
