package metrics

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/views/report"
)

// hugeShowDoc is the streamed show document of a process with n
// mappings (the shape of `procshape maps N`, plus file mappings).
func hugeShowDoc(n int) *report.ShowDoc {
	as := &collector.AddressSpace{Maps: make([]collector.Mapping, n)}
	for i := range as.Maps {
		start := uint64(0x7f0000000000 + 2*i*4096)
		as.Maps[i] = collector.Mapping{Start: start, End: start + 4096, Perms: "rw-p", Dev: "00:00", Class: collector.SegAnon}
		if i%10 == 0 {
			as.Maps[i].Path, as.Maps[i].Inode, as.Maps[i].Dev, as.Maps[i].Class = "/usr/lib/x86_64-linux-gnu/libc.so.6", 1234, "08:01", collector.SegFile
		}
	}
	return report.NewShowDocStream(&collector.Process{}, as, time.Now(), "/proc")
}

// TestProcessDocIsStreamed: /api/v1/processes/{pid} of a process with
// 200,000 mappings (tens of MB of JSON) is streamed: serving it
// allocates a bounded amount whatever the document's size, plain or
// gzipped. Before, the document was converted and encoded whole in
// memory (several times its size) before its first byte was sent.
func TestProcessDocIsStreamed(t *testing.T) {
	const n = 200_000
	doc := hugeShowDoc(n)
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	so := ServerOptions{ProcessDoc: func(context.Context, *monitor.Frame, ProcessRequest) (any, error) { return doc, nil }}
	base, _ := abuseServer(t, src, so, ServeOptions{})
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for _, gz := range []bool{false, true} {
		req, err := http.NewRequest(http.MethodGet, base+PathProcesses+"1", nil)
		must(t, err)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		resp, err := client.Do(req)
		must(t, err)
		var body io.Reader = resp.Body
		if gz {
			zr, err := gzip.NewReader(resp.Body)
			must(t, err)
			body = zr
		}
		size, err := io.Copy(io.Discard, body)
		resp.Body.Close()
		must(t, err)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		if resp.StatusCode != http.StatusOK || size < 20<<20 {
			t.Fatalf("gzip %v: %s, %d bytes, want 200 and a document of 20 MiB or more", gz, resp.Status, size)
		}
		// Client and server in this process: the gzip state of both
		// ends and the transport's buffers, a few MiB at most.
		if alloc > 8<<20 {
			t.Errorf("gzip %v: serving a %d-byte document allocated %d bytes, want at most 8 MiB (streamed)", gz, size, alloc)
		} else {
			t.Logf("gzip %v: a %d-byte document, %d bytes allocated", gz, size, alloc)
		}
	}
	// And it is the whole document.
	resp, err := http.Get(base + PathProcesses + "1")
	must(t, err)
	var got struct {
		Schema string            `json:"schema"`
		Maps   []json.RawMessage `json:"maps"`
	}
	must(t, json.NewDecoder(resp.Body).Decode(&got))
	resp.Body.Close()
	if got.Schema != report.ShowSchema || len(got.Maps) != n {
		t.Errorf("document %q with %d mappings, want %q with %d", got.Schema, len(got.Maps), report.ShowSchema, n)
	}
}

// TestStreamedDocStalledClientAbandoned: a client that takes the first
// bytes of a huge streamed document and stops reading is abandoned after
// the write stall, which frees its slot: its next request is served.
func TestStreamedDocStalledClientAbandoned(t *testing.T) {
	doc := hugeShowDoc(200_000)
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	so := ServerOptions{ProcessDoc: func(context.Context, *monitor.Frame, ProcessRequest) (any, error) { return doc, nil }}
	base, s := abuseServer(t, src, so, ServeOptions{WriteStall: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", base[len("http://"):])
	must(t, err)
	defer conn.Close()
	// A small receive buffer, so the stall reaches the server soon.
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	_, err = io.WriteString(conn, "GET "+PathProcesses+"1 HTTP/1.1\r\nHost: x\r\n\r\n")
	must(t, err)
	first := make([]byte, 1024)
	_, err = io.ReadFull(conn, first)
	must(t, err)
	// The stalled response holds the client's only process slot until
	// the write stall abandons it; then the same client is served.
	waitUntil(t, "the stalled response abandoned and the client served again", func() bool {
		resp, err := http.Get(base + PathProcesses + "1")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode == http.StatusOK
	})
	_ = s
}

// TestEventStreamKeepsLostRecords: a lost record (events the source
// dropped for a slow stream) reaches a stream whatever its type filter;
// before, ?type=exit dropped it and the client never learned of the gap.
func TestEventStreamKeepsLostRecords(t *testing.T) {
	src := newFrameSource()
	src.publish(stormFrame(1, 0))
	base, _ := abuseServer(t, src, ServerOptions{}, ServeOptions{})
	// A record that never comes fails the read after a minute.
	resp, err := (&http.Client{Timeout: time.Minute}).Get(base + PathEvents + "?type=exit")
	must(t, err)
	defer resp.Body.Close()
	f := stormFrame(2, 3) // spawns: filtered out
	f.Events = append(f.Events, lifecycle.Event{Type: lifecycle.Lost, Source: lifecycle.SourcePoll, Time: time.Now(), Note: "7 events dropped"})
	src.publish(f)
	var e struct {
		Type string `json:"type"`
	}
	must(t, json.NewDecoder(resp.Body).Decode(&e))
	if e.Type != string(lifecycle.Lost) {
		t.Errorf("first record of a ?type=exit stream after a loss: %q, want lost", e.Type)
	}
}

// TestEventStreamFilteredBurst: a burst of which a type filter passes
// part, more than streamQueue events (the stream refers to the frame
// and the positions of those, instead of copying them), reaches the
// client whole and in order, with the exe left out as for any
// unauthenticated client, and nothing that did not pass.
func TestEventStreamFilteredBurst(t *testing.T) {
	src := newFrameSource()
	src.publish(stormFrame(1, 0))
	base, s := abuseServer(t, src, ServerOptions{}, ServeOptions{})
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Get(base + PathEvents + "?type=spawn")
	must(t, err)
	defer resp.Body.Close()
	const n = 3 * streamQueue
	f := stormFrame(2, n)
	for i := 1; i < n; i += 2 {
		f.Events[i].Type = lifecycle.Exec
	}
	src.publish(f)
	dec := json.NewDecoder(resp.Body)
	for i := 0; i < n; i += 2 {
		var e struct {
			Type string  `json:"type"`
			PID  float64 `json:"pid"`
			Exe  *string `json:"exe"`
		}
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("spawn %d of %d: %v", i/2, n/2, err)
		}
		if e.Type != string(lifecycle.Spawn) || int(e.PID) != 100000+i || e.Exe != nil {
			t.Fatalf("spawn %d of %d: %s of pid %v (exe %v), want the spawn of %d without exe", i/2, n/2, e.Type, e.PID, e.Exe, 100000+i)
		}
	}
	if c := s.stats.streamsCut.Load(); c != 0 {
		t.Errorf("%d streams cut, want 0", c)
	}
}
