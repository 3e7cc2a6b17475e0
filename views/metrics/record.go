package metrics

import (
	"compress/gzip"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/views/report"
)

// The past, when the agent has a record (ServerOptions.Record; `pinspect
// serve --record-dir`):
//
//	GET /api/v1/events?since=T[&until=T][&type=exit,...][&limit=N]
//	    the recorded events from since, as NDJSON (pinspect.event/v1),
//	    in recorded order, at most limit (default and most:
//	    MaxRecordedEvents), then one last "lost" event when the answer
//	    lacks some: cut by the limit (every event before the cut's time is
//	    in the answer, and the note says which since to ask next; the
//	    events of one instant are never split, so more than limit share
//	    one answer only when they share one time), or cut 5 minutes
//	    before the newest sample while a recorder writes the record
//	    (record.EventsPage: a later sample may hold events that old), or
//	    damage that may have held such events was skipped, counted and
//	    named as X-Pinspect-Skipped is, which a trailer says too
//	GET /api/v1/frame?at=T[&step=N]
//	    the recorded frame shown at T (the latest sample at or before it),
//	    or N samples after (before, when negative) that one; gob, as the
//	    live frame; headers X-Pinspect-Sample-Time (RFC 3339),
//	    X-Pinspect-Sample-Index and X-Pinspect-Samples. A damaged sample
//	    is stepped over in the direction of the step (for a time, back,
//	    else on) and X-Pinspect-Skipped says which and why; 404 when no
//	    readable sample lies that way
//
// Times are RFC 3339 or Unix seconds. Command lines are redacted or left
// out as in the live API (--metrics.cmdline); environments are never
// recorded. Both take a heavy-request slot.

// HeaderSkipped is the header of a recorded frame that was reached by
// stepping over damaged samples: which ones, and the first one's damage;
// and the trailer of a recorded events answer that skipped damage.
const HeaderSkipped = "X-Pinspect-Skipped"

// headerText makes s a header value: bytes below a space and DEL become
// '?', and it is cut at 1,024 bytes.
func headerText(s string) string {
	b := []byte(s[:min(len(s), 1024)])
	for i, c := range b {
		if c < ' ' || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}

// MaxRecordedEvents bounds one /api/v1/events?since= answer.
const MaxRecordedEvents = 100000

// parseAPITime reads an RFC 3339 time or Unix seconds, from 1970 to a
// year from now (as the command line's times: no record holds another).
func parseAPITime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("want an RFC 3339 time or Unix seconds")
		}
		t = time.Unix(sec, 0)
	}
	if t.Before(time.Unix(0, 0)) || t.After(time.Now().Add(maxFuture)) {
		return time.Time{}, fmt.Errorf("%s is %s: want a time from 1970 to a year from now", strconv.Quote(s), t.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return t, nil
}

// maxFuture is how far after now parseAPITime takes a time.
const maxFuture = 366 * 24 * time.Hour

func (s *Server) recordStore(w http.ResponseWriter) *record.Store {
	st := s.opts.Record
	if st == nil {
		httpError(w, http.StatusNotFound, "this agent has no record (pinspect serve --record-dir DIR, beside pinspect record)")
		return nil
	}
	if err := st.Refresh(); err != nil {
		s.opts.Logger.Warn("reading the record", "err", err)
		httpError(w, http.StatusInternalServerError, record.ForClient(err).Error())
		return nil
	}
	return st
}

func (s *Server) handleRecordedEvents(w http.ResponseWriter, r *http.Request) {
	if s.eventsHidden(w, r) {
		return
	}
	q2, limit, err := recordedEventsQuery(r.URL.Query())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	client := ClientOf(r.Context())
	release, ok := s.heavy.acquire(r.Context(), client.Key, slotWait)
	if !ok {
		s.busy(w, "too many heavy requests at once")
		return
	}
	defer release()
	st := s.recordStore(w)
	if st == nil {
		return
	}
	// An answer that cannot hold every event ends where the next one
	// starts (record.EventsPage): the events before the cut, and the
	// damage that may have held some of them, are this answer's; the
	// rest the next one's.
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	// The damage skipped is known once the events are written: it is a
	// trailer, and a last lost event says it too.
	w.Header().Set("Trailer", HeaderSkipped)
	enc := json.NewEncoder(w)
	var firstDamage error
	damaged := 0
	q2.Damaged = func(err error) {
		if firstDamage == nil {
			firstDamage = record.ForClient(err)
		}
		damaged++
	}
	var werr error
	end, err := st.EventsPage(q2, limit, func(e *lifecycle.Event) bool {
		if !client.Full {
			cp := *e
			restrictEvent(&cp)
			e = &cp
		}
		werr = enc.Encode(report.NewEventDoc(e))
		return werr == nil && r.Context().Err() == nil
	})
	if err != nil {
		s.opts.Logger.Warn("recorded events", "err", err)
		if end.Count == 0 { // nothing written yet: an error answer
			w.Header().Del("Trailer")
			httpError(w, http.StatusInternalServerError, record.ForClient(err).Error())
		}
		return
	}
	if !end.Cut.IsZero() {
		q2.Until = end.Cut.Add(-time.Nanosecond)
	}
	atOpen, parts := st.SkippedEventsAtOpen(q2)
	damaged += atOpen
	// One last lost event says what the answer lacks: the events from the
	// cut on, and the damage skipped (the trailer says that too).
	var notes []string
	last := q2.Since
	if !end.Cut.IsZero() {
		last = end.Cut
		notes = append(notes, cutText(end, limit))
	}
	if text := skippedText(damaged, parts, firstDamage); text != "" {
		w.Header().Set(HeaderSkipped, headerText(text))
		notes = append(notes, text)
	}
	if werr == nil && len(notes) > 0 {
		note := lifecycle.Event{Type: lifecycle.Lost, Time: last, Source: lifecycle.SourcePoll, Note: strings.Join(notes, "; ")}
		_ = enc.Encode(report.NewEventDoc(&note))
	}
}

// cutText says where an answer cut by record.EventsPage ends, why, and
// which since= to ask next.
func cutText(end record.PageEnd, limit int) string {
	at := end.Cut.UTC().Format(time.RFC3339Nano)
	var why string
	switch end.Why {
	case record.CutAtInstant:
		why = fmt.Sprintf("answer holds the %d events of one instant (more than the limit of %d)", end.Count, limit)
	case record.CutByWriting:
		why = fmt.Sprintf("answer ends at %s: a recorder is writing the record, and a sample it writes may hold events up to 5 minutes older than itself, so events from then on may still come; later", at)
	default:
		why = fmt.Sprintf("answer cut at %d events (the limit is %d), before the first event timed %s", end.Count, limit, at)
	}
	sep := ": "
	if end.Why == record.CutByWriting {
		sep = ", "
	}
	return why + sep + "ask again with since=" + at
}

// recordedEventsQuery reads /api/v1/events?since='s parameters: the
// query and the limit, or what is wrong with them.
func recordedEventsQuery(q url.Values) (record.EventQuery, int, error) {
	if err := unknownParam(q, PathEvents+"?since=", "since", "until", "type", "limit"); err != nil {
		return record.EventQuery{}, 0, err
	}
	since, err := parseAPITime(q.Get("since"))
	if err != nil {
		return record.EventQuery{}, 0, fmt.Errorf("since: %w", err)
	}
	var until time.Time
	if v := q.Get("until"); v != "" {
		if until, err = parseAPITime(v); err != nil {
			return record.EventQuery{}, 0, fmt.Errorf("until: %w", err)
		}
		if until.Before(since) {
			// An empty answer with 200 said "no events" of a range
			// that holds no time (tester14); events --until does the same.
			return record.EventQuery{}, 0, fmt.Errorf("until %s is before since %s", until.UTC().Format(time.RFC3339Nano), since.UTC().Format(time.RFC3339Nano))
		}
	}
	limit := MaxRecordedEvents
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return record.EventQuery{}, 0, errors.New("limit: want a positive number")
		}
		limit = min(n, MaxRecordedEvents)
	}
	eq := record.EventQuery{Since: since, Until: until}
	types, err := parseEventTypes(q) // an unknown type is refused, as the live stream's
	if err != nil {
		return record.EventQuery{}, 0, err
	}
	if types != nil {
		for t := range types {
			eq.Flags |= record.EventFlags(&lifecycle.Event{Type: lifecycle.EventType(t)})
		}
		eq.Match = func(e *lifecycle.Event) bool { return types[string(e.Type)] }
	}
	return eq, limit, nil
}

// skippedText says what damage an events answer skipped: damaged
// samples (refused when the record was read, or found so while reading)
// and unreadable parts, which may have held events it would have held,
// with the first damaged sample read, named as a client may read it
// (record.ForClient); "" for none.
func skippedText(samples, parts int, first error) string {
	if samples == 0 && parts == 0 {
		return ""
	}
	var what []string
	if samples > 0 {
		what = append(what, lifecycle.CountOf(samples, "damaged sample", "damaged samples"))
	}
	if parts > 0 {
		what = append(what, lifecycle.CountOf(parts, "unreadable part", "unreadable parts")+" of the record")
	}
	whose := "their"
	if samples+parts == 1 {
		whose = "its"
	}
	text := strings.Join(what, " and ") + " skipped: " + whose + " events are missing"
	if first != nil {
		text += "; the first read: " + first.Error()
	}
	return text
}

func (s *Server) handleRecordedFrame(w http.ResponseWriter, r *http.Request) {
	if refuseParams(w, r, PathFrame+"?at=", "at", "step") {
		return
	}
	q := r.URL.Query()
	at, err := parseAPITime(q.Get("at"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "at: "+err.Error())
		return
	}
	step := 0
	if v := q.Get("step"); v != "" {
		if step, err = strconv.Atoi(v); err != nil || step < -1_000_000 || step > 1_000_000 {
			httpError(w, http.StatusBadRequest, "step: want a number of samples")
			return
		}
	}
	client := ClientOf(r.Context())
	release, ok := s.heavy.acquire(r.Context(), client.Key, slotWait)
	if !ok {
		s.busy(w, "too many heavy requests at once")
		return
	}
	defer release()
	st := s.recordStore(w)
	if st == nil {
		return
	}
	i, ok := st.Find(at)
	if !ok {
		first, _ := st.Span()
		if first.IsZero() {
			// No sample (none written yet, or the files were removed
			// under the agent): say so, not a start at year one.
			httpError(w, http.StatusNotFound, "the record holds no samples")
			return
		}
		httpError(w, http.StatusNotFound, "the record starts at "+first.UTC().Format(time.RFC3339))
		return
	}
	i = max(0, min(i+step, st.Len()-1))
	// A damaged sample is stepped over in the direction of the step (for
	// a time, back: the latest readable sample before it, else the next
	// one), and the response says which were skipped (X-Pinspect-Skipped).
	want, dir := i, 1
	if step <= 0 {
		dir = -1
	}
	i, cur, skipped, firstErr, err := st.ReadReadable(want, dir)
	if err != nil && skipped > 0 && step == 0 {
		i, cur, _, _, err = st.ReadReadable(want+1, 1)
	}
	// What the client reads names a damaged sample's segment by its
	// number, never the agent's paths (record.ForClient).
	if err != nil {
		if skipped > 0 {
			httpError(w, http.StatusNotFound, record.DamageNotice(st, want, dir, skipped, "no readable sample that way", record.ForClient(firstErr)))
			return
		}
		s.opts.Logger.Warn("recorded frame", "err", err)
		httpError(w, http.StatusInternalServerError, record.ForClient(err).Error())
		return
	}
	if skipped > 0 {
		w.Header().Set(HeaderSkipped, headerText(record.DamageNotice(st, want, dir, skipped, "", record.ForClient(firstErr))))
	}
	var prev *record.Sample
	if i > 0 {
		prev, _ = st.Read(i - 1)
	}
	f := record.Frame(prev, cur, 0)
	wf := &WireFrame{Version: FrameVersion, Seq: cur.Seq, Snapshot: s.buildView(f.Snapshot, client), Interval: f.Interval,
		EventsLive: f.EventsLive, EventsNote: f.EventsNote, Zombies: s.zombiesFor(f, client), Orphans: s.orphansFor(f, client), Events: f.Events}
	if !client.Full {
		wf.Events = slices.Clone(wf.Events)
		for i := range wf.Events {
			restrictEvent(&wf.Events[i])
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-gob")
	h.Set("X-Pinspect-Frame-Version", strconv.Itoa(FrameVersion))
	h.Set("X-Pinspect-Sample-Time", cur.TakenAt().UTC().Format(time.RFC3339Nano))
	h.Set("X-Pinspect-Sample-Index", strconv.Itoa(i))
	h.Set("X-Pinspect-Samples", strconv.Itoa(st.Len()))
	var enc *gob.Encoder
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer zw.Close()
		enc = gob.NewEncoder(zw)
	} else {
		enc = gob.NewEncoder(w)
	}
	if err := enc.Encode(wf); err != nil {
		s.opts.Logger.Debug("writing a recorded frame", "err", err)
	}
}
