package record

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestEventsPageReadsOnce: a page of an events query reads each sample
// once, and no further than eventSlack past its cut, though the wall
// clock stepped back early in the record. Before, the cut was found by
// one pass and the page written by a second (every sample read twice),
// and any clock step in the record made the first pass read to its end
// (review of polish6: a 1,000-event page went from 6.5 to 25.5 ms).
func TestEventsPageReadsOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := OpenWriter(dir, WriterOptions{Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	// 200 samples 10 s apart, one exit each; the clock steps back 25 s
	// before the fourth.
	for i := range 200 {
		at := t0.Add(time.Duration(10*i) * time.Second)
		if i >= 3 {
			at = at.Add(-25 * time.Second)
		}
		if err := w.Append(synth(t, i, at)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if len(st.ClockSteps()) != 1 {
		t.Fatalf("clock steps %+v, want one", st.ClockSteps())
	}
	reads := map[string]int{}
	st.setReadFault(func(path string, off int64) error {
		reads[fmt.Sprint(filepath.Base(path), off)]++
		return nil
	})
	const limit = 5
	q := EventQuery{Since: t0}
	var got []int
	end, err := st.EventsPage(q, limit, func(e *lifecycle.Event) bool { got = append(got, e.ID.PID); return true })
	if err != nil {
		t.Fatal(err)
	}
	// The page: the limit earliest exits from t0 (one a sample, a second
	// before it: samples 3, 1, 4, 2, 5 by time; sample 0's is before t0),
	// in recorded order.
	if want := []int{100001, 100002, 100003, 100004, 100005}; end.Why != CutByLimit || end.Count != limit || !slices.Equal(got, want) {
		t.Fatalf("page: %v, %+v; want %v cut by the limit", got, end, want)
	}
	// Read: each sample once, and those taken up to eventSlack after the
	// cut (and the first one past it, which ends the reading).
	most := 1
	for i := range st.Len() {
		if st.Meta(i).TakenAt.Before(end.Cut.Add(eventSlack)) {
			most++
		}
	}
	for k, n := range reads {
		if n > 1 {
			t.Errorf("record %s read %d times", k, n)
		}
	}
	if len(reads) > most {
		t.Errorf("%d of %d samples read for a page cut at %s; want at most %d (to eventSlack past the cut)", len(reads), st.Len(), end.Cut, most)
	}
}

// TestEventsPageDescending: a sample whose 3,000 events come latest
// first (each earlier than every one before it, 0.1 s apart: within
// eventSlack of the sample) gives a page of the
// limit's earliest, in recorded order, while the page drops what it
// collected past the limit's latest time (pageEvents.drop).
func TestEventsPageDescending(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := OpenWriter(dir, WriterOptions{Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	const n, limit = 3000, 10
	s := synth(t, 0, t0.Add(n*100*time.Millisecond))
	s.Events = nil
	for i := range n {
		e := lifecycle.Event{Type: lifecycle.Exit, Time: t0.Add(time.Duration(n-i) * 100 * time.Millisecond), Comm: "worker",
			Source: lifecycle.SourceConnector}
		e.ID.PID = 1000 + i
		s.Events = append(s.Events, e)
	}
	if err := w.Append(s); err != nil {
		t.Fatal(err)
	}
	w.Close()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []int
	end, err := st.EventsPage(EventQuery{}, limit, func(e *lifecycle.Event) bool { got = append(got, e.ID.PID); return true })
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := n - limit; i < n; i++ {
		want = append(want, 1000+i)
	}
	if cut := t0.Add((limit + 1) * 100 * time.Millisecond); !slices.Equal(got, want) || end.Why != CutByLimit || !end.Cut.Equal(cut) {
		t.Errorf("page %v, %+v; want %v cut at %s", got, end, want, cut)
	}
}

// TestEventsPageOneInstant: five events of one instant (one scan's),
// with a page limit of 2, are one page of all five, and the cut is a
// nanosecond after them; before the fix to EventsPage, the events of
// the instant read after the heap of limit+1 times was full were left
// out.
func TestEventsPageOneInstant(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := OpenWriter(dir, WriterOptions{Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(10 * time.Second)
	for i := range 2 {
		s := synth(t, i, at.Add(time.Duration(i)*10*time.Second))
		s.Events = nil
		for k := range 5 {
			e := lifecycle.Event{Type: lifecycle.Exit, Time: at.Add(time.Duration(i) * 10 * time.Second), Comm: "worker", Source: lifecycle.SourceConnector}
			e.ID.PID = 100*i + k
			s.Events = append(s.Events, e)
		}
		if err := w.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []int
	end, err := st.EventsPage(EventQuery{}, 2, func(e *lifecycle.Event) bool { got = append(got, e.ID.PID); return true })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{0, 1, 2, 3, 4}) || end.Why != CutAtInstant || end.Count != 5 || !end.Cut.Equal(at.Add(time.Nanosecond)) {
		t.Errorf("page %v, %+v; want the instant's 5 events, cut a nanosecond after %s", got, end, at)
	}
}
