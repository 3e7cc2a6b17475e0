package metrics

import (
	"context"
	"encoding/gob"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// startDemandMonitor runs a monitor that reads threads on demand over the
// task iterator, with the connector, sampling once an hour (so every
// later frame is one a client asked for), and waits for its first frame.
// It skips where BPF or the connector cannot be had.
func startDemandMonitor(t *testing.T) *monitor.Monitor {
	t.Helper()
	r, err := collector.NewReader(collector.Options{Backend: collector.BackendTaskIter})
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("not root: %v", err)
		}
		t.Fatalf("as root: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	m := monitor.New(r, monitor.Options{Interval: time.Hour, ThreadDemand: true, Connector: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for m.Latest() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no first frame in 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("connector not live here (%s): threads are read in every scan", f.EventsNote)
	}
	return m
}

// syncFrame has m scan at once and returns that frame.
func syncFrame(t *testing.T, m *monitor.Monitor) *monitor.Frame {
	t.Helper()
	seq, err := m.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if f := m.Latest(); f.Seq > seq {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatal("no frame in 30 s after Sync")
		}
	}
}

// TestThreadsOnDemand: serve on the task iterator reads threads only for
// the clients that want them. The metrics count every thread by state
// from a scan without them (none unknown); a snapshot that wants them
// gets a frame scanned at once with every thread, and one that does not
// causes no scan.
func TestThreadsOnDemand(t *testing.T) {
	h := livehelper.Start(t, "threads", "5")
	m := startDemandMonitor(t)
	_, hs := startServer(t, m, ServerOptions{})
	// A frame the server sees (it subscribed after the first).
	first := syncFrame(t, m)
	if first.Snapshot.ThreadsRead || first.Snapshot.ThreadStates == nil {
		t.Fatalf("first frame: threads read %v, states counted %v; want none read, all counted", first.Snapshot.ThreadsRead, first.Snapshot.ThreadStates)
	}
	// The server takes the first frame from its subscription.
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(hs.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err = parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if fams["pinspect_threads"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no pinspect_threads in 30 s")
		}
		// The server's subscription began after that frame: another.
		first = syncFrame(t, m)
	}
	if v, _ := find(fams, "pinspect_threads", map[string]string{"state": "unknown"}); v != 0 {
		t.Errorf("pinspect_threads{state=\"unknown\"} = %v from a scan that counted every thread", v)
	}
	if total := sum(fams, "pinspect_threads"); total < 5 {
		t.Errorf("pinspect_threads sum to %v; the helper alone has 5", total)
	}

	var doc struct {
		Summary struct {
			ThreadsRead bool `json:"threads_read"`
		} `json:"summary"`
		Processes []struct {
			PID     int              `json:"pid"`
			Threads []map[string]any `json:"threads"`
		} `json:"processes"`
	}
	getJSON(t, hs.URL+"/api/v1/snapshot?threads=false", http.StatusOK, &doc)
	if doc.Summary.ThreadsRead || m.Latest().Seq != first.Seq {
		t.Errorf("?threads=false: threads_read %v, frame %d after %d: want no threads and no scan", doc.Summary.ThreadsRead, m.Latest().Seq, first.Seq)
	}
	getJSON(t, hs.URL+"/api/v1/snapshot?pid="+strconv.Itoa(h.PID()), http.StatusOK, &doc)
	if !doc.Summary.ThreadsRead || len(doc.Processes) != 1 || len(doc.Processes[0].Threads) != 5 {
		t.Fatalf("snapshot wanting threads: threads_read %v, processes %+v; want the helper's 5 threads", doc.Summary.ThreadsRead, doc.Processes)
	}
	second := m.Latest()
	if second.Seq != first.Seq+1 || !second.Snapshot.ThreadsRead {
		t.Errorf("after the request: frame %d (threads %v); want frame %d, scanned at once with threads", second.Seq, second.Snapshot.ThreadsRead, first.Seq+1)
	}
	// The next request finds them in the latest frame: no scan.
	getJSON(t, hs.URL+"/api/v1/snapshot", http.StatusOK, &doc)
	if !doc.Summary.ThreadsRead || m.Latest().Seq != second.Seq {
		t.Errorf("second request: threads_read %v, frame %d; want frame %d again", doc.Summary.ThreadsRead, m.Latest().Seq, second.Seq)
	}
}

// TestFrameThreadsOnDemand: the frame endpoint (a remote dashboard) never
// sends a frame without threads from an agent that reads them on demand:
// it asks, and sends the frame scanned at once.
func TestFrameThreadsOnDemand(t *testing.T) {
	m := startDemandMonitor(t)
	_, hs := startServer(t, m, ServerOptions{})
	first := m.Latest()
	resp, err := http.Get(hs.URL + PathFrame + "?wait=20s")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("frame: %s", resp.Status)
	}
	var wf WireFrame
	if err := gob.NewDecoder(resp.Body).Decode(&wf); err != nil {
		t.Fatal(err)
	}
	if !wf.Snapshot.ThreadsRead || wf.Seq <= first.Seq {
		t.Errorf("frame %d (threads %v) after frame %d without: want a later frame with threads", wf.Seq, wf.Snapshot.ThreadsRead, first.Seq)
	}
}

// TestThreadStatesOnlyInFullViews: under hidepid a client that is not
// Full gets a view without the processes it may not see, and so without
// the count of threads by state, which included their threads; a Full
// client's view keeps it.
func TestThreadStatesOnlyInFullViews(t *testing.T) {
	snap := &collector.Snapshot{
		Processes: []collector.Process{
			{PID: 1, Read: collector.SrcStat | collector.SrcStatus, ProcStat: collector.ProcStat{State: 'S', NumThreads: 3}},
		},
		ThreadStates: &collector.ThreadStates{},
	}
	snap.ThreadStates.AddN('S', 3)
	srv := NewServer(newFrameSource(), ServerOptions{HidesOthers: true})
	f := &monitor.Frame{Seq: 1, Snapshot: snap}
	if v := srv.viewFor(f, Client{Local: true, UID: 65534, GID: 65534, Key: "uid:65534"}); len(v.Processes) != 0 || v.ThreadStates != nil {
		t.Errorf("another uid under hidepid: %d processes, thread states %+v; want none of either", len(v.Processes), v.ThreadStates)
	}
	if v := srv.viewFor(f, Client{Full: true, Key: "user:x"}); len(v.Processes) != 1 || v.ThreadStates == nil || v.ThreadStates.ByState != snap.ThreadStates.ByState {
		t.Errorf("Full client: %d processes, thread states %+v; want the snapshot's", len(v.Processes), v.ThreadStates)
	}
}

// TestFrameShortWaitSendsNewer: a frame request whose wait ends before
// the scan with threads it set off is sent the newer frame it has (its
// document says its threads were not read), never "no new frame".
func TestFrameShortWaitSendsNewer(t *testing.T) {
	m := startDemandMonitor(t)
	_, hs := startServer(t, m, ServerOptions{})
	first := m.Latest()
	resp, err := http.Get(hs.URL + PathFrame + "?wait=0s")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("frame with wait=0s after frame %d: %s, want the frame", first.Seq, resp.Status)
	}
	var wf WireFrame
	if err := gob.NewDecoder(resp.Body).Decode(&wf); err != nil {
		t.Fatal(err)
	}
	if wf.Seq < first.Seq {
		t.Errorf("frame %d, want %d or later", wf.Seq, first.Seq)
	}
}
