package metrics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
	"github.com/pinspect/pinspect/views/report"
)

// The tests of this file are pinspect serve under attack, on loopback,
// each a break found by an adversarial run (issue 19); they assert what
// the server does, never how fast.

// abuseServer runs a Server over src behind Serve with the given
// options and returns its base URL and the server.
func abuseServer(t *testing.T, src Source, so ServerOptions, o ServeOptions) (string, *Server) {
	t.Helper()
	return abuseServerWith(t, NewServer(src, so), o)
}

// abuseServerWith is abuseServer for a Server already made.
func abuseServerWith(t *testing.T, s *Server, o ServeOptions) (string, *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { s.Run(ctx); close(runDone) }()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.Listeners = append(o.Listeners, l)
	o.Stats = s.Stats()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, s.Handler(), o) }()
	t.Cleanup(func() {
		cancel()
		<-runDone
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + l.Addr().String(), s
}

// bigFrame is a frame of n copies of one real process (distinct pids):
// its snapshot document is megabytes, more than socket buffers hold.
func bigFrame(t *testing.T, n int) *monitor.Frame {
	t.Helper()
	f := newScanner(t, true).frame()
	self := lifecycle.Find(f.Snapshot, os.Getpid())
	if self == nil {
		t.Fatal("the test process is not in its own scan")
	}
	snap := *f.Snapshot
	snap.Processes = make([]collector.Process, n)
	for i := range snap.Processes {
		p := *self
		p.PID = 1_000_000 + i
		snap.Processes[i] = p
	}
	return &monitor.Frame{Seq: 1, Snapshot: &snap, Interval: time.Second}
}

// stalledGET sends a GET and never reads the answer, with a receive
// buffer as small as the kernel allows.
func stalledGET(t *testing.T, base, path string) net.Conn {
	t.Helper()
	return stalledGETFrom(t, nil, base, path)
}

// stalledGETFrom is stalledGET from the local address from (nil: any):
// another loopback address is another client to the server.
func stalledGETFrom(t *testing.T, from net.IP, base, path string) net.Conn {
	t.Helper()
	// The buffer is set before connect, so the window offered matches it
	// (shrinking it later makes the sender back off for seconds).
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1024) })
	}}
	if from != nil {
		d.LocalAddr = &net.TCPAddr{IP: from}
	}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// getUntil GETs url until it answers want, honouring 503 + Retry-After
// (at a faster pace), for at most a generous deadline.
func getUntil(t *testing.T, c *http.Client, url string, want int) *http.Response {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil && resp.StatusCode == want {
			return resp
		}
		if err == nil {
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("GET %s: %s, want %d (or 503 with Retry-After)", url, resp.Status, want)
			}
			resp.Body.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s never answered %d (last: %v)", url, want, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSlowReadersDoNotStarveAPI: four clients that request the whole
// snapshot and never read it used to hold every heavy slot forever; now
// each write waits at most WriteStall for its client, the stalled
// responses are abandoned, and another client's snapshot is served.
func TestSlowReadersDoNotStarveAPI(t *testing.T) {
	src := newFrameSource()
	src.publish(bigFrame(t, 20000))
	base, _ := abuseServer(t, src, ServerOptions{}, ServeOptions{WriteStall: time.Second})
	var stalled []net.Conn
	for range 4 {
		stalled = append(stalled, stalledGET(t, base, PathSnapshot))
	}
	// Another client is served. (Its own response may be cut too if this
	// machine is so loaded that it cannot read for WriteStall: it asks
	// again.)
	c := &http.Client{Timeout: 120 * time.Second}
	deadline := time.Now().Add(120 * time.Second)
	for {
		resp := getUntil(t, c, base+PathSnapshot+"?threads=false", http.StatusOK)
		var doc report.SnapshotDoc
		err := json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err == nil && len(doc.Processes) == 20000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot after the stall: %d processes, %v", len(doc.Processes), err)
		}
	}
	// Every stalled client got an answer: a whole 503 (the client's
	// share of heavy slots was taken), or a snapshot cut short when its
	// writes stalled, the connection then closed.
	for i, sc := range stalled {
		_ = sc.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(sc), nil)
		if err != nil {
			t.Errorf("stalled client %d: %v", i, err)
			continue
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		var ne net.Error
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable && err == nil:
		case resp.StatusCode == http.StatusOK && err != nil && !(errors.As(err, &ne) && ne.Timeout()):
		default:
			t.Errorf("stalled client %d: %s, body read: %v (want a 503, or a 200 cut short)", i, resp.Status, err)

		}
	}
}

// TestScrapesUnderLoad: 50 concurrent scrapers (with API clients fetching
// snapshots meanwhile) used to get 83 % 503s from a 10-request in-flight
// limit. Scrapes have their own budget and wait for it: every scrape
// answers 200.
func TestScrapesUnderLoad(t *testing.T) {
	src := newFrameSource()
	src.publish(bigFrame(t, 2000))
	base, _ := abuseServer(t, src, ServerOptions{}, ServeOptions{})
	c := &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	stop := make(chan struct{})
	var api sync.WaitGroup
	for range 10 {
		api.Add(1)
		go func() {
			defer api.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if resp, err := c.Get(base + PathSnapshot); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	var bad atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				resp, err := c.Get(base + PathMetrics)
				if err != nil {
					bad.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	api.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d of 200 scrapes failed under API load", n)
	}
}

// TestConnectionCap: idle keep-alive connections used to be kept without
// limit (20,000 took 431 MB and every file descriptor). The server keeps
// at most MaxConns open: at the cap an idle connection (or one that never
// sent a request: slowloris) is closed to make room, and a scrape still
// gets through. Headers over the limit get 431.
func TestConnectionCap(t *testing.T) {
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	const maxConns = 16
	base, s := abuseServer(t, src, ServerOptions{}, ServeOptions{MaxConns: maxConns})
	addr := strings.TrimPrefix(base, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			// An idle keep-alive connection after one request.
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", PathHealthy)
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
				// Closed to make room before it was answered.
				continue
			}
		} else {
			// slowloris: half a request line.
			fmt.Fprintf(c, "GET /metr")
		}
		if n := s.stats.conns.Load(); n > maxConns {
			t.Fatalf("%d connections open, cap %d", n, maxConns)
		}
	}
	c := &http.Client{Timeout: 60 * time.Second}
	resp := getUntil(t, c, base+PathMetrics, http.StatusOK)
	resp.Body.Close()
	if s.stats.evicted.Load() == 0 {
		t.Error("no idle connection was evicted")
	}
	// Huge headers.
	req, _ := http.NewRequest(http.MethodGet, base+PathMetrics, nil)
	req.Header.Set("X-Big", strings.Repeat("a", 1<<20))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("1 MB header: %s, want 431", resp.Status)
		}
	}
}

// TestFloodScrapeGetsThrough: a flood of connections from one client
// used to leave a Prometheus scrape without an answer. The flood fills
// the cap with connections that serve nobody: half requests (slowloris),
// idle keep-alives, frame long-polls, snapshot downloads that are never
// read, and scrapes that are never read. Each of those may be closed to
// make room, and scrapes of one frame share one rendering, so the
// scrape that comes last gets a 200 on its first try (Prometheus does not
// ask again), and the connections never exceed the cap.
func TestFloodScrapeGetsThrough(t *testing.T) {
	src := newFrameSource()
	f := bigFrame(t, 5000)
	src.publish(f)
	const maxConns = 32
	base, s := abuseServer(t, src, ServerOptions{}, ServeOptions{MaxConns: maxConns, WriteStall: time.Minute})
	addr := strings.TrimPrefix(base, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		return c
	}
	checkCap := func() {
		if n := s.stats.conns.Load(); n > maxConns {
			t.Fatalf("%d connections open, cap %d", n, maxConns)
		}
	}
	for range 60 {
		// Long-polls for a frame that does not come.
		fmt.Fprintf(dial(), "GET %s?after=%d&wait=60s HTTP/1.1\r\nHost: x\r\n\r\n", PathFrame, f.Seq)
		checkCap()
	}
	for range 30 {
		// Downloads and scrapes that are never read.
		conns = append(conns, stalledGET(t, base, PathSnapshot), stalledGET(t, base, PathMetrics))
		checkCap()
	}
	for i := range 200 {
		c := dial()
		if i%2 == 1 {
			fmt.Fprintf(c, "GET /metr") // slowloris
			checkCap()
			continue
		}
		// An idle keep-alive connection after one request (closed to
		// make room before it was answered, maybe).
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", PathHealthy)
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			resp.Body.Close()
		}
		checkCap()
	}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Get(base + PathMetrics)
	if err != nil {
		t.Fatalf("scrape after the flood: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || !bytes.Contains(b, []byte("\npinspect_group_processes{")) {
		t.Fatalf("scrape after the flood: %s, %d bytes, %v", resp.Status, len(b), err)
	}
	checkCap()
	if s.stats.evicted.Load() == 0 {
		t.Error("no connection was evicted")
	}
}

// TestScrapesShareRendering: every scrape used to render the whole
// exposition (a few ms of CPU), so thousands of queued scrapes kept a
// real one waiting for seconds. Scrapes of one frame in one format share
// a rendering; a new frame, or another format, is rendered anew.
func TestScrapesShareRendering(t *testing.T) {
	src := newFrameSource()
	sc := newScanner(t, false)
	src.publish(sc.frame())
	base, s := abuseServer(t, src, ServerOptions{}, ServeOptions{})
	s.renderReuse = time.Hour
	// Without DisableCompression the transport would ask for gzip itself.
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 50, DisableCompression: true}}
	scrape := func(gzip bool) []byte {
		req, _ := http.NewRequest(http.MethodGet, base+PathMetrics, nil)
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := c.Transport.RoundTrip(req)
		if err != nil {
			t.Error(err)
			return nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("scrape: %s", resp.Status)
		}
		return b
	}
	var wg sync.WaitGroup
	bodies := make([][]byte, 50)
	for i := range bodies {
		wg.Add(1)
		go func() { defer wg.Done(); bodies[i] = scrape(false) }()
	}
	wg.Wait()
	if n := s.renders.Load(); n != 1 {
		t.Errorf("50 scrapes of one frame: %d renderings, want 1", n)
	}
	for i := range bodies {
		if !bytes.Equal(bodies[i], bodies[0]) || !bytes.Contains(bodies[i], []byte("\npinspect_group_processes{")) {
			t.Fatalf("scrape %d differs from the first or has no series (%d bytes)", i, len(bodies[i]))
		}
	}
	if b := scrape(true); len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("gzip scrape: not gzip (%d bytes)", len(b))
	}
	if n := s.renders.Load(); n != 2 {
		t.Errorf("a gzip scrape: %d renderings, want 2", n)
	}
	src.publish(sc.frame())
	waitUntil(t, "a scrape of the new frame", func() bool {
		scrape(false)
		return s.renders.Load() == 3
	})
}

// TestScrapeNameFilterNotShared: promhttp writes only the series named
// by the name[] query parameter, and a rendering was shared by every
// scrape of the frame in the same format whatever its query, so one
// scrape of /metrics?name[]=x blanked the next second's scrapes (a local
// user could keep the scraper's series empty). A filtered rendering
// serves only scrapes with the same set of names.
func TestScrapeNameFilterNotShared(t *testing.T) {
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	base, s := abuseServer(t, src, ServerOptions{}, ServeOptions{})
	s.renderReuse = time.Hour
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	scrape := func(query string) string {
		t.Helper()
		resp, err := c.Get(base + PathMetrics + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape %q: %s, %v", query, resp.Status, err)
		}
		return string(b)
	}
	const series = "\npinspect_group_processes{"
	if b := scrape("?name[]=nothing"); b != "" {
		t.Errorf("?name[]=nothing: %d bytes, want none", len(b))
	}
	if b := scrape(""); !strings.Contains(b, series) {
		t.Errorf("a plain scrape after a filtered one: %d bytes without %q", len(b), series)
	}
	if b := scrape("?name[]=go_goroutines"); strings.Contains(b, series) || !strings.Contains(b, "\ngo_goroutines ") {
		t.Errorf("?name[]=go_goroutines: want go_goroutines alone, got %d bytes", len(b))
	}
	// The same set, in another order and with a repeat: one rendering.
	n := s.renders.Load()
	a := scrape("?name[]=go_goroutines&name[]=go_threads")
	if b := scrape("?name[]=go_threads&name[]=go_goroutines&name[]=go_threads"); b != a {
		t.Error("one set of names in two orders: the renderings differ")
	}
	if got := s.renders.Load() - n; got != 1 {
		t.Errorf("one set of names in two orders: %d renderings, want 1", got)
	}
	if b := scrape("?other=1"); !strings.Contains(b, series) {
		t.Errorf("a scrape with a query promhttp ignores: %d bytes without %q", len(b), series)
	}
}

// TestScrapeRenderingKeyedOnFormat: scrapes whose Accept and
// Accept-Encoding differ in text but negotiate the same format and
// encoding share one rendering; the key held the headers' text, so a
// client varying them had a rendering made per request, each evicting
// another (review14). A different format or encoding has its own, and
// each answer is in the format and encoding its request asked for.
func TestScrapeRenderingKeyedOnFormat(t *testing.T) {
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	base, s := abuseServer(t, src, ServerOptions{}, ServeOptions{})
	s.renderReuse = time.Hour
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	scrape := func(accept, encoding string) (contentType, contentEncoding string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+PathMetrics, nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape %q %q: %s, %v", accept, encoding, resp.Status, err)
		}
		return resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding")
	}
	for _, c := range []struct {
		name      string
		accept    []string
		encoding  []string
		typ, gzip string
	}{
		{"text, no encoding", []string{"text/plain;version=0.0.4;q=0.1", "text/plain;version=0.0.4;q=0.2", "text/plain;version=0.0.4;q=0.35", "x/unknown, text/plain;version=0.0.4;q=0.9"},
			[]string{"", "identity", "deflate", "br;q=1.0"}, "text/plain", ""},
		{"text, gzip", []string{"text/plain;version=0.0.4;q=0.1", "text/plain;version=0.0.4;q=0.2"},
			[]string{"gzip", "gzip, deflate", "br, gzip;q=0.5"}, "text/plain", "gzip"},
		{"protobuf", []string{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
			"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7"},
			[]string{""}, "application/vnd.google.protobuf", ""},
	} {
		n := s.renders.Load()
		for _, a := range c.accept {
			for _, e := range c.encoding {
				if typ, enc := scrape(a, e); !strings.HasPrefix(typ, c.typ) || enc != c.gzip {
					t.Errorf("%s: Accept %q, Accept-Encoding %q: %q %q, want %s and %q", c.name, a, e, typ, enc, c.typ, c.gzip)
				}
			}
		}
		if got := s.renders.Load() - n; got != 1 {
			t.Errorf("%s: %d scrapes made %d renderings, want 1", c.name, len(c.accept)*len(c.encoding), got)
		}
	}
}

// eventSource publishes frames of synthetic events as fast as asked.
func stormFrame(seq uint64, n int) *monitor.Frame {
	snap := &collector.Snapshot{TakenAt: time.Now()}
	evs := make([]lifecycle.Event, n)
	for i := range evs {
		evs[i] = lifecycle.Event{Type: lifecycle.Spawn, Time: snap.TakenAt, ID: collector.ID{PID: 100000 + i, StartTicks: seq},
			Comm: "storm", PPID: 1, Source: lifecycle.SourceConnector, Exe: "/usr/bin/storm"}
	}
	return &monitor.Frame{Seq: seq, Snapshot: snap, Events: evs}
}

// TestEventStreamBounded: an event stream whose client does not keep up
// used to pin every frame's events (16 such streams in a fork storm took
// the agent to 508 MB). Now a frame is admitted only while fewer than
// streamQueue events are unsent; a client that falls further behind gets
// what was admitted, then a final lost record saying why, and the stream
// ends (TestEventStreamHeapBounded bounds the memory).
func TestEventStreamBounded(t *testing.T) {
	src := newFrameSource()
	src.publish(stormFrame(1, 0))
	base, s := abuseServer(t, src, ServerOptions{}, ServeOptions{WriteStall: 60 * time.Second})
	c := stalledGET(t, base, PathEvents+"?type=spawn")
	br := bufio.NewReaderSize(c, 1<<16)
	// Headers come at once, before any event.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stream headers: %v %v", resp, err)
	}
	// A storm of 200,000 events while the client reads nothing.
	for i := range 200 {
		src.publish(stormFrame(uint64(i+2), 1000))
	}
	waitUntil(t, "the stream to be cut", func() bool { return s.stats.streamsCut.Load() == 1 })
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	var last map[string]any
	lines := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines++
		last = nil
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %d: %v: %q (read error %v)", lines, err, sc.Bytes(), sc.Err())
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("reading the stream: %v", err)
	}
	if last == nil || last["type"] != "lost" {
		t.Errorf("the stream ended after %d lines without a final lost record: %v", lines, last)
	} else if note, _ := last["note"].(string); !strings.Contains(note, "reads slower than events come") {
		t.Errorf("the final lost record does not say why the stream ended: %q", note)
	}
	if lines > 150000 {
		t.Errorf("%d lines: the stream was not cut", lines)
	}
	// Unknown types are refused before anything is streamed.
	r2, err := http.Get(base + PathEvents + "?type=spawn,bogus")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusBadRequest {
		t.Errorf("?type=bogus: %s, want 400", r2.Status)
	}
}

// TestEventStreamBurstKeepsClient: one frame of 100,000 events (a fork
// storm within one scan; the most a frame carries by default) reaches a
// client that reads as fast as it can, every event and no lost record.
// Before, the stream's queue counted the burst against the client and
// cut it at 4,096 events, though it was not behind (final review).
func TestEventStreamBurstKeepsClient(t *testing.T) {
	src := newFrameSource()
	src.publish(stormFrame(1, 0))
	base, s := abuseServer(t, src, ServerOptions{}, ServeOptions{})
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Get(base + PathEvents + "?type=spawn")
	must(t, err)
	defer resp.Body.Close()
	const n = monitor.DefaultMaxPending
	src.publish(stormFrame(2, n))
	sc := bufio.NewScanner(resp.Body)
	seen := map[float64]bool{}
	for len(seen) < n && sc.Scan() {
		var e struct {
			Type string  `json:"type"`
			PID  float64 `json:"pid"`
			Note string  `json:"note"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v: %q", len(seen)+1, err, sc.Bytes())
		}
		if e.Type != string(lifecycle.Spawn) {
			t.Fatalf("after %d of the burst's %d events: %s %q", len(seen), n, e.Type, e.Note)
		}
		seen[e.PID] = true
	}
	if len(seen) < n {
		t.Fatalf("the stream ended after %d of the burst's %d events (%v)", len(seen), n, sc.Err())
	}
	if c := s.stats.streamsCut.Load(); c != 0 {
		t.Errorf("%d streams cut, want 0", c)
	}
}

// TestEventStreamHeapBounded: 16 streams whose clients read nothing, in
// a storm of 100,000-event frames. Each stream used to copy every frame
// it admitted, its writer held the whole frame it took uncounted (so a
// second frame was admitted behind it), and a cut stream's subscription
// gathered frames until the write stall: about 1 GB of heap (review
// rev-fix9b). Now the writer's events count against streamQueue, a
// large frame is referred to rather than copied, and a cut stream's
// subscription ends at once: the streams hold one frame between them.
func TestEventStreamHeapBounded(t *testing.T) {
	const streams, burst = 16, monitor.DefaultMaxPending
	src := newFrameSource()
	src.publish(stormFrame(1, 0))
	base, s := abuseServer(t, src, ServerOptions{}, ServeOptions{WriteStall: 5 * time.Minute})
	for i := range streams {
		// streamsPerClient streams from each of 4 loopback addresses.
		c := stalledGETFrom(t, net.IPv4(127, 0, 0, byte(2+i/streamsPerClient)), base, PathEvents+"?type=spawn")
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %v %v", i, resp, err)
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	// Each frame goes out once every stream still on took the one before
	// (else the source merges them into a frame of the stream's own).
	want := s.streamFrames.Load()
	for k := 1; s.stats.streamsCut.Load() < streams; k++ {
		if k > 6 {
			t.Fatalf("six frames of %d events: %d of %d streams cut", burst, s.stats.streamsCut.Load(), streams)
		}
		want += streams - s.stats.streamsCut.Load()
		src.publish(stormFrame(uint64(k+1), burst))
		waitUntil(t, "every stream to take the frame", func() bool { return s.streamFrames.Load() >= want })
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	frame := int64(burst) * int64(unsafe.Sizeof(lifecycle.Event{}))
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// The source's latest frame and the one the streams hold (about 41
	// MiB), the frame endpoint's recent events (5 MiB) and the writers'
	// garbage: at most five frames. A copy for each stream would be 16
	// frames or more.
	if grew > 5*frame {
		t.Errorf("%d stalled streams in a storm of %d-event frames: the heap grew by %d MiB, want at most %d MiB (5 frames)", streams, burst, grew>>20, 5*frame>>20)
	} else {
		t.Logf("%d stalled streams in a storm of %d-event frames: the heap grew by %d MiB (a frame is %d MiB)", streams, burst, grew>>20, frame>>20)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAuthFailuresLimited: wrong basic-auth passwords used to cost a
// bcrypt comparison each (1.2 cores for a stream of them). After a few
// failures a client gets 429 without a comparison; verified credentials
// are cached, so the right password still gets through at once.
func TestAuthFailuresLimited(t *testing.T) {
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	cfg, _ := writeWebConfig(t, "prom", "right", false)
	web, err := NewWeb(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, s := abuseServer(t, src, ServerOptions{}, ServeOptions{Web: web})
	c := &http.Client{Timeout: 30 * time.Second}
	if got := status(t, c, base+PathMetrics, "prom", "right"); got != http.StatusOK {
		t.Fatalf("right password: %d", got)
	}
	limited := 0
	for i := range 40 {
		switch got := status(t, c, base+PathMetrics, "prom", "wrong"+strconv.Itoa(i)); got {
		case http.StatusTooManyRequests:
			limited++
		case http.StatusUnauthorized:
		default:
			t.Fatalf("wrong password: %d", got)
		}
	}
	if limited < 30 {
		t.Errorf("only %d of 40 wrong passwords were limited", limited)
	}
	if s.stats.authLimited.Load() == 0 {
		t.Error("auth_limit not counted")
	}
	for range 20 {
		if got := status(t, c, base+PathMetrics, "prom", "right"); got != http.StatusOK {
			t.Fatalf("right password after the failures: %d", got)
		}
	}
}

// TestAccessModel is the heart of issue 19 item 2: serve runs as root,
// and used to give any local user the executable, memory layout and maps
// of root's processes. A client gets no more than it could read itself.
func TestAccessModel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: serve's clients are compared with root's view")
	}
	self := os.Getpid()
	f := newScanner(t, true).frame()
	me := lifecycle.Find(f.Snapshot, self)
	if me == nil || me.Exe == "" {
		t.Fatalf("the test process has no exe in its own scan: %+v", me)
	}
	f.Events = []lifecycle.Event{{Type: lifecycle.Exec, Time: f.Snapshot.TakenAt, ID: me.ID(), Comm: "x", Exe: me.Exe, OldExe: "/bin/old"}}
	cfg, _ := writeWebConfig(t, "prom", "pw", false)
	web, err := NewWeb(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "pinspect.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(sock); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		must(t, os.Chmod(d, 0o755)) // let uid 65534 reach the socket
	}
	must(t, os.Chmod(sock, 0o666))
	src := newFrameSource()
	src.publish(f)
	base, _ := abuseServer(t, src, ServerOptions{}, ServeOptions{Web: web, Listeners: []net.Listener{ul}})
	tcp := &http.Client{Timeout: 30 * time.Second}
	unixc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}

	snapshot := func(c *http.Client, user, pass string) (*report.SnapshotDoc, int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+PathSnapshot+"?threads=false", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc report.SnapshotDoc
		if resp.StatusCode == http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			must(t, json.Unmarshal(b, &doc))
			if len(doc.Processes) == 0 {
				t.Logf("body: %.300s", b)
			}
		}
		return &doc, resp.StatusCode
	}
	exeOf := func(doc *report.SnapshotDoc, pid int) (string, string) {
		t.Helper()
		for _, p := range doc.Processes {
			if p.PID == pid {
				return p.Exe, p.Unavailable["exe"]
			}
		}
		t.Fatalf("pid %d not in the document (%d processes)", pid, len(doc.Processes))
		return "", ""
	}
	// With users configured, TCP without credentials is refused ...
	if _, code := snapshot(tcp, "", ""); code != http.StatusUnauthorized {
		t.Errorf("TCP without credentials: %d, want 401", code)
	}
	// ... with them, everything.
	doc, code := snapshot(tcp, "prom", "pw")
	if code != http.StatusOK {
		t.Fatalf("authenticated: %d", code)
	}
	if exe, _ := exeOf(doc, self); exe != me.Exe {
		t.Errorf("authenticated: exe %q, want %q", exe, me.Exe)
	}
	// A root peer on the unix socket: everything, no password.
	doc, code = snapshot(unixc, "", "")
	if exe, _ := exeOf(doc, self); code != http.StatusOK || exe != me.Exe {
		t.Errorf("root on the unix socket: %d, exe %q", code, exe)
	}

	// Without authentication (no users configured): an unprivileged view.
	base2, _ := abuseServer(t, src, ServerOptions{}, ServeOptions{})
	base = base2
	doc, _ = snapshot(tcp, "", "")
	for _, p := range doc.Processes {
		if p.Exe != "" || p.ExeRawBase64 != "" {
			t.Fatalf("unauthenticated client got pid %d's exe %q", p.PID, p.Exe)
		}
	}
	if _, why := exeOf(doc, self); why != ReasonNeedsAuth {
		t.Errorf("unauthenticated: exe unavailable %q, want %q", why, ReasonNeedsAuth)
	}
	resp, err := tcp.Get(base + PathFrame)
	must(t, err)
	var wf WireFrame
	must(t, gob.NewDecoder(resp.Body).Decode(&wf))
	resp.Body.Close()
	for _, p := range wf.Snapshot.Processes {
		if p.Exe != "" || p.Layout != (collector.Layout{}) {
			t.Fatalf("unauthenticated frame: pid %d has exe %q layout %+v", p.PID, p.Exe, p.Layout)
		}
	}
	for _, e := range wf.Events {
		if e.Exe != "" || e.OldExe != "" {
			t.Fatalf("unauthenticated frame: event with exe %q", e.Exe)
		}
	}

	// An unprivileged peer on the unix socket (uid 65534 through curl):
	// root's processes as an unprivileged reader sees them.
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl to make a request as another user")
	}
	out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		curl, "-sS", "--unix-socket", sock, "http://x"+PathSnapshot+"?threads=false").Output()
	if err != nil {
		t.Fatalf("curl as nobody: %v", err)
	}
	var nd report.SnapshotDoc
	must(t, json.Unmarshal(out, &nd))
	if exe, why := exeOf(&nd, self); exe != "" || why != ReasonNeedsAuth {
		t.Errorf("nobody on the unix socket: root's exe %q (%q)", exe, why)
	}
	if !bytes.Contains(out, []byte(`"schema"`)) {
		t.Errorf("nobody: not a document: %.200s", out)
	}
}

// TestProcessDocPerClient: a client may build one process document at a
// time (a process with 200,000 mappings is tens of MB of JSON): a second
// concurrent request of the same client is refused with 503 and
// Retry-After, while another client is served.
func TestProcessDocPerClient(t *testing.T) {
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	so := ServerOptions{ProcessDoc: func(ctx context.Context, _ *monitor.Frame, req ProcessRequest) (any, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return map[string]int{"pid": req.PID}, nil
	}}
	base, _ := abuseServer(t, src, so, ServeOptions{})
	first := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + PathProcesses + "1")
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-entered
	resp, err := http.Get(base + PathProcesses + "1")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second concurrent process document of one client: %s", resp.Status)
	}
	close(release)
	if got := <-first; got != http.StatusOK {
		t.Errorf("first request: %d", got)
	}
}

// TestHealthAndReady: /-/healthy answers at once, /-/ready only after
// the first scan.
func TestHealthAndReady(t *testing.T) {
	src := newFrameSource()
	base, _ := abuseServer(t, src, ServerOptions{}, ServeOptions{})
	for path, want := range map[string]int{PathHealthy: 200, PathReady: 503} {
		resp, err := http.Get(base + path)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s before a scan: %d, want %d", path, resp.StatusCode, want)
		}
	}
	src.publish(newScanner(t, false).frame())
	resp, err := http.Get(base + PathReady)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("ready after a scan: %d", resp.StatusCode)
	}
	// The snapshot is one compact line, gzipped when asked.
	req, _ := http.NewRequest(http.MethodGet, base+PathSnapshot+"?threads=false", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err = (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		t.Errorf("snapshot with Accept-Encoding gzip: %q, %x", resp.Header.Get("Content-Encoding"), body[:min(len(body), 4)])
	}
	resp, err = http.Get(base + PathSnapshot + "?threads=false")
	must(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := bytes.Count(body, []byte("\n")); n != 1 {
		t.Errorf("snapshot: %d lines, want one compact line", n)
	}
	_ = livehelper.Sleep
}

// TestRemoteOverUnixSocket: `pinspect --remote unix:/path` follows an
// agent's unix socket (no password: the agent knows the peer by its
// credentials).
func TestRemoteOverUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ul, err := net.Listen("unix", sock)
	must(t, err)
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	abuseServer(t, src, ServerOptions{}, ServeOptions{Listeners: []net.Listener{ul}})
	rs, err := NewRemoteSource("unix:"+sock, RemoteOptions{Wait: time.Second})
	must(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- rs.Run(ctx) }()
	waitUntil(t, "a frame over the unix socket", func() bool { return rs.Latest() != nil })
	cancel()
	<-done
	if _, err := NewRemoteSource("unix:relative", RemoteOptions{}); err == nil {
		t.Error("unix:relative accepted")
	}
}
