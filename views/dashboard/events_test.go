package dashboard

import (
	"strings"
	"testing"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestEventLogBounded: under churn (batches of 600 events a frame) the
// log keeps the newest events, in order, never more than eventLogCap,
// in a slice never larger than that (doubling grew it to 8,192 events),
// and its filter index follows what it keeps.
func TestEventLogBounded(t *testing.T) {
	l := newEventLog()
	l.setFilter("exit")
	total := 0
	for frame := 0; frame < 60; frame++ {
		evs := make([]lifecycle.Event, 600)
		for i := range evs {
			total++
			evs[i] = lifecycle.Event{Type: lifecycle.Spawn, ID: collector.ID{PID: total}}
			if total%3 == 0 {
				evs[i].Type = lifecycle.Exit
			}
		}
		l.add(evs, 1)
		if len(l.events) > eventLogCap || cap(l.events) > eventLogCap {
			t.Fatalf("frame %d: %d events in a slice of %d (cap %d)", frame, len(l.events), cap(l.events), eventLogCap)
		}
		if got := int(l.base) + len(l.events); got != total {
			t.Fatalf("frame %d: base %d + %d held = %d, want %d added", frame, l.base, len(l.events), got, total)
		}
		if last := l.events[len(l.events)-1].ID.PID; last != total {
			t.Fatalf("frame %d: newest event is pid %d, want %d", frame, last, total)
		}
		for k, i := range l.idx {
			if e := &l.events[i]; e.Type != lifecycle.Exit || k > 0 && l.idx[k-1] >= i {
				t.Fatalf("frame %d: filter index %d -> event %d (%v) is not an exit in order", frame, k, i, e.Type)
			}
		}
		if want := len(l.events) / 3; len(l.idx) < want-1 || len(l.idx) > want+1 {
			t.Fatalf("frame %d: %d exits indexed of %d events", frame, len(l.idx), len(l.events))
		}
	}
	if len(l.events) < maxEvents {
		t.Errorf("only %d events kept after %d, want at least %d", len(l.events), total, maxEvents)
	}
}

// TestEventFilterAsTyped: the events panel's filter matches without
// regard to case and is shown as typed (it was shown lower-cased;
// tester14).
func TestEventFilterAsTyped(t *testing.T) {
	h := start(t, Options{}, 160, 40)
	a, b := frames(t)
	h.src.send(a)
	h.src.send(b)
	h.waitFor("COMMAND")
	var title string
	var kept int
	h.onUI(func() {
		h.d.log.add([]lifecycle.Event{{Type: lifecycle.Spawn, ID: collector.ID{PID: 7}}, {Type: lifecycle.Exit, ID: collector.ID{PID: 7}}}, 1)
		h.d.log.setFilter("EXIT")
		title, kept = h.d.log.title(h.d), len(h.d.log.idx)
	})
	if kept != 1 || !strings.Contains(title, "filter EXIT: 1") {
		t.Errorf("filter EXIT: %d events kept, title %q; want 1 and \"filter EXIT: 1\"", kept, title)
	}
}
