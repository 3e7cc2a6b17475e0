package metrics

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/record"
)

// testRecord writes n small samples, 10 s apart, each with one exit (a
// SIGSEGV in the last) and a process with a secret in its command line.
func testRecord(t *testing.T, n int) (*record.Store, time.Time) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := record.OpenWriter(dir, record.WriterOptions{Sync: record.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	for i := range n {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		snap := &collector.Snapshot{TakenAt: at, Monotonic: time.Duration(i) * 10 * time.Second, Processes: []collector.Process{
			{PID: 1, Read: collector.SrcStat | collector.SrcCmdline, ProcStat: collector.ProcStat{Comm: "init", State: 'S', UTimeTicks: uint64(10 * i)},
				ProcCmdline: collector.ProcCmdline{Cmdline: []string{"init", "--password=hunter2"}}},
		}}
		x := &collector.ExitStatus{Exited: true}
		if i == n-1 {
			x = &collector.ExitStatus{Signal: 11, CoreDumped: true}
		}
		s := &record.Sample{RunID: 1, Interval: 10 * time.Second, Snapshot: snap, Events: []lifecycle.Event{
			{Type: lifecycle.Exit, Time: at, ID: collector.ID{PID: 100 + i, StartTicks: 1}, Comm: "job", Source: lifecycle.SourceConnector, ExitStatus: x},
		}}
		if err := w.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	st, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, t0
}

func TestRecordedEvents(t *testing.T) {
	st, t0 := testRecord(t, 6)
	_, hs := startServer(t, newFrameSource(), ServerOptions{Record: st})
	cfg, _ := writeWebConfig(t, "prom", "pw", false)
	web, err := NewWeb(cfg)
	if err != nil {
		t.Fatal(err)
	}
	authBase, _ := abuseServer(t, newFrameSource(), ServerOptions{Record: st}, ServeOptions{Web: web})
	lines := func(url string) []map[string]any {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if strings.HasPrefix(url, authBase) {
			req.SetBasicAuth("prom", "pw")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", url, resp.Status)
		}
		var out []map[string]any
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	}
	since := PathEvents + "?since=" + t0.Add(30*time.Second).Format(time.RFC3339)
	got := lines(authBase + since)
	if len(got) != 3 || got[2]["exit"] == nil || got[2]["exit"].(map[string]any)["signal"] != 11.0 {
		t.Errorf("events since 02:00:30, authenticated: %v", got)
	}
	// Without authentication, no exit status (the kernel's [PT] rule).
	got = lines(hs.URL + since)
	if len(got) != 3 || got[2]["exit"] != nil || !strings.Contains(fmt.Sprint(got[2]["note"]), ReasonNeedsAuth) {
		t.Errorf("events since 02:00:30, unauthenticated: %v", got)
	}
	got = lines(hs.URL + PathEvents + "?since=0&limit=2")
	if len(got) != 3 || got[2]["type"] != "lost" || !strings.Contains(got[2]["note"].(string), "cut at 2") {
		t.Errorf("events with limit 2: %v", got)
	}
	// An unknown type is refused with since= too (it answered 200 and
	// nothing, or dropped the type from a list); until= and limit=
	// without since= too (the live stream ignored them and never ended).
	client := &http.Client{Timeout: 10 * time.Second}
	for _, bad := range []string{"?since=yesterday", "?since=0&limit=-1", "?since=0&until=x", "?since=0&type=bogus",
		"?since=0&type=exit,bogus", "?limit=abc", "?limit=5", "?until=0"} {
		resp, err := client.Get(hs.URL + PathEvents + bad)
		if err != nil {
			t.Errorf("GET %s: %v, want 400", bad, err)
			continue
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %v, want 400", bad, resp.Status)
		}
		resp.Body.Close()
	}
}

// TestRemoteReplay: the dashboard's remote replay source over an agent's
// record: the frame at a time, stepping, no command line (the agent does
// not serve them without --metrics.cmdline).
func TestRemoteReplay(t *testing.T) {
	st, t0 := testRecord(t, 6)
	_, hs := startServer(t, newFrameSource(), ServerOptions{Record: st})
	p, err := NewRemotePlayer(hs.URL, t0.Add(25*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	ch, stop := p.Subscribe()
	defer stop()
	next := func() string {
		select {
		case f := <-ch:
			if c := f.Snapshot.Processes[0].Cmdline; c != nil {
				t.Errorf("a recorded frame carried a command line: %q", c)
			}
			return f.Snapshot.TakenAt.UTC().Format("15:04:05") + " " + p.Where()
		case <-time.After(30 * time.Second):
			t.Fatal("no frame")
		}
		return ""
	}
	if got := next(); !strings.HasPrefix(got, "02:00:20") || !strings.Contains(got, "sample 3/6") {
		t.Errorf("at 02:00:25: %s", got)
	}
	p.Step(2)
	if got := next(); !strings.HasPrefix(got, "02:00:40") {
		t.Errorf("two samples on: %s", got)
	}
	// An agent without a record says so, and the player stops.
	_, bare := startServer(t, newFrameSource(), ServerOptions{})
	p2, _ := NewRemotePlayer(bare.URL, t0, nil)
	if err := p2.Run(ctx); err == nil || !strings.Contains(err.Error(), "no record") {
		t.Errorf("a player on an agent without a record: %v", err)
	}
}

// damageRecordSample flips a byte in the body of sample i of st, where
// the store says it lies (record.Store.Location).
func damageRecordSample(t *testing.T, st *record.Store, i int) {
	t.Helper()
	loc, err := st.Location(i)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(loc.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, loc.BodyOffset+10); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, loc.BodyOffset+10); err != nil {
		t.Fatal(err)
	}
}

// TestSkippedNamesNoAgentPath: the frame endpoint's X-Pinspect-Skipped
// header and its 404 name a damaged sample's segment by its number,
// never by the file's path on the agent (they gave the record
// directory's path to any client: docs/SECURITY.md).
func TestSkippedNamesNoAgentPath(t *testing.T) {
	st, t0 := testRecord(t, 4)
	damageRecordSample(t, st, 2)
	damageRecordSample(t, st, 3)
	loc, err := st.Location(2)
	if err != nil {
		t.Fatal(err)
	}
	_, hs := startServer(t, newFrameSource(), ServerOptions{Record: st})
	get := func(step int) (*http.Response, string) {
		resp, err := http.Get(fmt.Sprintf("%s/api/v1/frame?at=%s&step=%d", hs.URL, t0.Add(20*time.Second).Format(time.RFC3339), step))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return resp, string(body)
		}
		return resp, ""
	}
	// The time of sample 3 (damaged): back to sample 2.
	resp, _ := get(0)
	sk := resp.Header.Get(HeaderSkipped)
	want := fmt.Sprintf("damaged record: segment %d offset %d (sample 3 at ", loc.Segment, loc.Offset)
	if resp.StatusCode != http.StatusOK || !strings.Contains(sk, want) || strings.Contains(sk, st.Dir()) || strings.Contains(sk, filepath.Base(loc.Path)) {
		t.Errorf("a step onto damaged sample 3: status %d, %s %q; want %q and no path", resp.StatusCode, HeaderSkipped, sk, want)
	}
	// On from sample 3: sample 4 is damaged too, and the last.
	resp, body := get(1)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "damaged record: segment ") || strings.Contains(body, st.Dir()) {
		t.Errorf("a step past the damaged end: status %d, body %q", resp.StatusCode, body)
	}
	// An I/O error (EIO) is collector/record's TestReadFaultForClientNamesNoPath:
	// the store's read fault is not part of its API.
}

// TestRecordedEventsSaySkipped: an events answer that skipped a damaged
// sample says so, counted and named as the frame endpoint names it (no
// agent path): a last lost event and the X-Pinspect-Skipped trailer (it
// dropped their events and said nothing); a type the damaged sample's
// header shows it cannot hold is not told.
func TestRecordedEventsSaySkipped(t *testing.T) {
	st, t0 := testRecord(t, 4)
	damageRecordSample(t, st, 2)
	loc, err := st.Location(2)
	if err != nil {
		t.Fatal(err)
	}
	_, hs := startServer(t, newFrameSource(), ServerOptions{Record: st})
	get := func(query string) ([]map[string]any, string) {
		resp, err := http.Get(hs.URL + PathEvents + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", query, resp.Status)
		}
		var out []map[string]any
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out, resp.Trailer.Get(HeaderSkipped)
	}
	got, trailer := get("?since=" + t0.Format(time.RFC3339))
	want := fmt.Sprintf("1 damaged sample skipped: its events are missing; the first read: damaged record: segment %d offset %d (sample 3 at ", loc.Segment, loc.Offset)
	if len(got) != 4 || got[3]["type"] != "lost" || !strings.HasPrefix(fmt.Sprint(got[3]["note"]), want) || !strings.HasPrefix(trailer, want) ||
		strings.Contains(fmt.Sprint(got), st.Dir()) || strings.Contains(trailer, st.Dir()) {
		t.Errorf("events over a damaged sample: %v, trailer %q; want 3 exits and a last lost event saying %q, no path", got, trailer, want)
	}
	if got, trailer = get("?since=" + t0.Format(time.RFC3339) + "&type=reparent"); len(got) != 0 || trailer != "" {
		t.Errorf("reparents over a damaged sample of exits: %v, trailer %q; want nothing", got, trailer)
	}
	if got, trailer = get("?since=" + t0.Add(10*time.Minute).Format(time.RFC3339)); len(got) != 0 || trailer != "" {
		t.Errorf("events after the damaged sample's time: %v, trailer %q; want nothing", got, trailer)
	}
}

// TestRemoteReplayDamagedSample: a step onto a damaged sample of the
// agent's record goes on to the next readable one, and the player says
// once which was skipped (the agent answered 500 and the replay said
// nothing); with no readable sample that way the frame shown stays and
// the player says why.
func TestRemoteReplayDamagedSample(t *testing.T) {
	st, t0 := testRecord(t, 6)
	damageRecordSample(t, st, 3)
	damageRecordSample(t, st, 5)
	_, hs := startServer(t, newFrameSource(), ServerOptions{Record: st})
	p, err := NewRemotePlayer(hs.URL, t0.Add(25*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	ch, stop := p.Subscribe()
	defer stop()
	next := func() string {
		select {
		case f := <-ch:
			return f.Snapshot.TakenAt.UTC().Format("15:04:05")
		case <-time.After(30 * time.Second):
			t.Fatal("no frame")
		}
		return ""
	}
	if got := next(); got != "02:00:20" || p.TakeNotice() != "" {
		t.Fatalf("at 02:00:25: %s", got)
	}
	p.Step(1)
	if got, n := next(), p.TakeNotice(); got != "02:00:40" || !strings.Contains(n, "agent: damaged sample 4/6 (") || !strings.Contains(n, ") skipped: damaged record: ") {
		t.Errorf("a step onto damaged sample 4: shows %s, notice %q", got, n)
	}
	if n := p.TakeNotice(); n != "" {
		t.Errorf("the notice came twice: %q", n)
	}
	p.Step(1)
	if got, n := next(), p.TakeNotice(); got != "02:00:40" || !strings.Contains(n, "damaged sample 6/6 (") || !strings.Contains(n, "skipped, no readable sample that way") {
		t.Errorf("a step onto the damaged last sample: shows %s, notice %q", got, n)
	}
}

// TestRecordedFrameOfEmptyRecord: an agent whose record holds no sample
// (here its files removed under it) answers the frame
// endpoint with a 404 that says so (it said the record started at year
// one, the zero time: the tester's finding).
func TestRecordedFrameOfEmptyRecord(t *testing.T) {
	st, t0 := testRecord(t, 2)
	_, hs := startServer(t, newFrameSource(), ServerOptions{Record: st})
	files, err := os.ReadDir(st.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.Remove(filepath.Join(st.Dir(), f.Name())); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/frame?at=%s", hs.URL, t0.Format(time.RFC3339)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "the record holds no samples") || strings.Contains(string(body), "0001") {
		t.Errorf("a frame of an empty record: status %d, body %q", resp.StatusCode, body)
	}
}

// pagingRecord writes six samples 10 s apart whose exits (by pid) are:
// 1 at 0 s; 2, 3 and 4 at 10 s (one scan's); 5 at 20 s; 6 at 30 s and 7
// at 15 s, written late with the sample at 30 s; 8 at 40 s; 9 at 50 s.
// With breakHeader, sample 2's header is broken and the index removed:
// an unreadable part between the samples at 10 s and 30 s.
func pagingRecord(t *testing.T, breakHeader bool) (*record.Store, time.Time) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := record.OpenWriter(dir, record.WriterOptions{Sync: record.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	exits := [][][2]int{{{1, 0}}, {{2, 10}, {3, 10}, {4, 10}}, {{5, 20}}, {{6, 30}, {7, 15}}, {{8, 40}}, {{9, 50}}}
	for i, ex := range exits {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		s := &record.Sample{RunID: 1, Interval: 10 * time.Second, Snapshot: &collector.Snapshot{TakenAt: at, Monotonic: at.Sub(t0)}}
		for _, e := range ex {
			s.Events = append(s.Events, lifecycle.Event{Type: lifecycle.Exit, Time: t0.Add(time.Duration(e[1]) * time.Second),
				ID: collector.ID{PID: e[0], StartTicks: 1}, Comm: "job", Source: lifecycle.SourceConnector, ExitStatus: &collector.ExitStatus{Exited: true}})
		}
		if err := w.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	st, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if breakHeader {
		loc, err := st.Location(2)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(loc.Path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, loc.Offset+3); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xff
		if _, err := f.WriteAt(b, loc.Offset+3); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Remove(strings.TrimSuffix(loc.Path, ".pnr") + ".idx"); err != nil {
			t.Fatal(err)
		}
		if st, err = record.Open(dir); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { st.Close() })
	return st, t0
}

// recordedPage is one answer of /api/v1/events: the exits' pids, the
// last lost event's note, and the since it says to ask next ("": none).
type recordedPage struct {
	pids []int
	note string
	next string
}

func getRecordedPage(t *testing.T, url string) recordedPage {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var p recordedPage
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var ev struct {
			Type string `json:"type"`
			PID  int    `json:"pid"`
			Note string `json:"note"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		if p.note != "" {
			t.Fatalf("GET %s: a line after the lost event %q: %s", url, p.note, sc.Bytes())
		}
		switch ev.Type {
		case "exit":
			p.pids = append(p.pids, ev.PID)
		case "lost":
			p.note = ev.Note
		default:
			t.Fatalf("GET %s: an event of type %q", url, ev.Type)
		}
	}
	if _, after, ok := strings.Cut(p.note, "ask again with since="); ok {
		p.next, _, _ = strings.Cut(after, ";")
	}
	return p
}

// TestRecordedEventsPaging: answers cut by limit, each asked from the
// since the last one names, hold every event once: one written late (7,
// older than the sample before its own) and one scan's three exits at
// one instant (never split, so that answer holds three for a limit of
// 2); each answer ends in one lost line at most (a cut and damage made
// two). Damage counts on the answers whose events it may have held, not
// on one after it (every answer within 5 minutes counted it).
func TestRecordedEventsPaging(t *testing.T) {
	for _, broken := range []bool{false, true} {
		st, t0 := pagingRecord(t, broken)
		_, hs := startServer(t, newFrameSource(), ServerOptions{Record: st})
		wantPages := [][]int{{1}, {2, 3, 4}, {5, 7}, {6, 8}, {9}}
		wantDamage := []bool{false, false, false, false, false}
		if broken { // 5 is lost; the part lies between 10 s and 30 s
			wantPages = [][]int{{1}, {2, 3, 4}, {6, 7}, {8, 9}}
			wantDamage = []bool{true, true, true, false}
		}
		since := t0.Format(time.RFC3339Nano)
		var got [][]int
		for len(got) < 10 {
			p := getRecordedPage(t, hs.URL+PathEvents+"?limit=2&since="+since)
			got = append(got, p.pids)
			k := len(got) - 1
			if damage := strings.Contains(p.note, "unreadable part"); k < len(wantDamage) && damage != wantDamage[k] {
				t.Errorf("broken %v, answer %d (since %s): damage noted %v, want %v (note %q)", broken, k, since, damage, wantDamage[k], p.note)
			}
			// The answer of one instant's three exits says so (it said
			// "cut at 2 events, before the first event timed" a time
			// no event had).
			if len(p.pids) == 3 && !strings.Contains(p.note, "answer holds the 3 events of one instant (more than the limit of 2)") {
				t.Errorf("broken %v, answer %d (since %s) of one instant's events: note %q", broken, k, since, p.note)
			}
			if p.next == "" {
				break
			}
			since = p.next
		}
		if fmt.Sprint(got) != fmt.Sprint(wantPages) {
			t.Errorf("broken %v: answers of at most 2 events, each from the last one's cut: %v; want %v", broken, got, wantPages)
		}
	}
}

// TestSkippedTextNumber: the skipped-damage note of a recorded events
// answer says "its events" for one damaged sample or part and "their"
// for more (it said "their" for one).
func TestSkippedTextNumber(t *testing.T) {
	for _, c := range []struct {
		samples, parts int
		want           string
	}{
		{1, 0, "1 damaged sample skipped: its events are missing"},
		{0, 1, "1 unreadable part of the record skipped: its events are missing"},
		{2, 0, "2 damaged samples skipped: their events are missing"},
		{1, 1, "1 damaged sample and 1 unreadable part of the record skipped: their events are missing"},
		{0, 0, ""},
	} {
		if got := skippedText(c.samples, c.parts, nil); got != c.want {
			t.Errorf("skippedText(%d, %d) = %q, want %q", c.samples, c.parts, got, c.want)
		}
	}
}

// TestRecordedEventsPagingWhileWritten: a client pages (limit 1, each
// answer from the last one's cut) at the live end of a record a recorder
// is writing, and again after each new sample, then once more after the
// recorder stopped: it gets every event once, including those a sample
// holds that are older than events of the samples before it (an exit
// held a scan, events carried over a failed write). Before, a page cut
// among the newest sample's events, and the late event, written next,
// was older than the cut: in no answer (review of polish6).
func TestRecordedEventsPagingWhileWritten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := record.OpenWriter(dir, record.WriterOptions{Sync: record.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	t0 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	// Sample i (a minute apart) holds exits 10i+1 and 10i+2, 30 s and
	// 20 s before it, and, from the second on, 10i+3 dated between the
	// previous sample's two (25 s before it): late.
	var want []int
	appendSample := func(i int) {
		at := t0.Add(time.Duration(i) * time.Minute)
		exit := func(pid int, when time.Time) lifecycle.Event {
			want = append(want, pid)
			return lifecycle.Event{Type: lifecycle.Exit, Time: when, ID: collector.ID{PID: pid, StartTicks: 1}, Comm: "job",
				Source: lifecycle.SourceConnector, ExitStatus: &collector.ExitStatus{Exited: true}}
		}
		s := &record.Sample{RunID: 1, Interval: time.Minute, Snapshot: &collector.Snapshot{TakenAt: at, Monotonic: at.Sub(t0)}}
		s.Events = append(s.Events, exit(10*i+1, at.Add(-30*time.Second)), exit(10*i+2, at.Add(-20*time.Second)))
		if i > 0 {
			s.Events = append(s.Events, exit(10*i+3, at.Add(-time.Minute-25*time.Second)))
		}
		if err := w.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	appendSample(0)
	st, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, hs := startServer(t, newFrameSource(), ServerOptions{Record: st})
	since := t0.Add(-time.Hour).Format(time.RFC3339Nano)
	var got []int
	// page asks from since until an answer names no later since; false
	// when the last answer had no cut (the record's end: nothing more).
	page := func() bool {
		for range 1000 {
			p := getRecordedPage(t, hs.URL+PathEvents+"?limit=1&since="+since)
			got = append(got, p.pids...)
			if p.next == "" {
				return false
			}
			if p.next == since {
				return true
			}
			since = p.next
		}
		t.Fatal("more than 1,000 answers")
		return false
	}
	for i := 1; i <= 12; i++ {
		page()
		appendSample(i)
	}
	page()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if page() {
		t.Errorf("the record is no longer written, and its last answer still says to ask again with since=%s", since)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("paged while written, the answers hold exits\n%v\nwant each once:\n%v", got, want)
	}
}
