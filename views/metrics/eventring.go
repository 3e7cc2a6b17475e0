package metrics

import "github.com/pinspect/pinspect/collector/lifecycle"

// seqEvent is one lifecycle event with the number of the frame it came in.
type seqEvent struct {
	seq uint64
	ev  lifecycle.Event
}

// eventRing keeps the most recent events for the frame endpoint, at most
// max of them, oldest first. Once full, each event written takes the
// place of the oldest in the same array: the earlier slice copied every
// kept event into a new array at every frame once it held max of them
// (20,000 events of 224 bytes, 4.5 MB a collection for a long-running
// agent). Its array grows by doubling up to exactly max events (append's
// growth left 24,978 places for 20,000). A max of 0 (or below) is no
// ring: it keeps no event, and every event pushed counts as dropped, so
// a client after any frame with events is told it lost them.
type eventRing struct {
	buf   []seqEvent // grows up to max, then is written round
	start int        // index of the oldest event once buf is full
	max   int
	// dropped is the frame number of the newest event dropped (0: none):
	// a client whose last frame is below it has lost events, even when
	// part of that frame is still kept.
	dropped uint64
}

// ringMinAlloc is the fewest events the ring's first array holds.
const ringMinAlloc = 64

// push adds e as the newest event, dropping the oldest when max are kept.
func (r *eventRing) push(e seqEvent) {
	if r.max <= 0 {
		r.dropped = max(r.dropped, e.seq) // no ring: nothing is kept
		return
	}
	if n := len(r.buf); n < r.max {
		if n == cap(r.buf) {
			grown := make([]seqEvent, n, min(r.max, max(2*n, ringMinAlloc)))
			copy(grown, r.buf)
			r.buf = grown
		}
		r.buf = append(r.buf, e)
		return
	}
	r.dropped = max(r.dropped, r.buf[r.start].seq)
	r.buf[r.start] = e
	if r.start++; r.start == len(r.buf) {
		r.start = 0
	}
}

// lostAfter reports whether an event of a frame after frame after was
// dropped.
func (r *eventRing) lostAfter(after uint64) bool { return r.dropped > after }

// each calls f with every event kept, oldest first.
func (r *eventRing) each(f func(*seqEvent)) {
	for i := r.start; i < len(r.buf); i++ {
		f(&r.buf[i])
	}
	for i := 0; i < r.start; i++ {
		f(&r.buf[i])
	}
}
