package metrics

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestExplainEndpoint: /api/v1/explain/{pid} checks its pid and window,
// answers 404 for a missing process and when no builder is configured,
// and runs one explain of a client at a time (the others wait their turn).
func TestExplainEndpoint(t *testing.T) {
	var running, most atomic.Int32
	var gotWindow atomic.Int64
	var sawFull atomic.Bool
	fn := func(ctx context.Context, req ExplainRequest) (any, error) {
		if req.Client.Full {
			sawFull.Store(true)
		}
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		gotWindow.Store(int64(req.Window))
		time.Sleep(50 * time.Millisecond)
		if req.PID == 404 {
			return nil, nil
		}
		return map[string]any{"schema": "pinspect.explain/v1", "pid": req.PID}, nil
	}
	_, hs := startServer(t, newFrameSource(), ServerOptions{ExplainDoc: fn})
	var doc map[string]any
	getJSON(t, hs.URL+PathExplain+"42", http.StatusOK, &doc)
	if doc["pid"] != float64(42) || time.Duration(gotWindow.Load()) != ExplainDefaultWindow {
		t.Errorf("doc %v, window %v", doc, time.Duration(gotWindow.Load()))
	}
	getJSON(t, hs.URL+PathExplain+"42?window=1500ms", http.StatusOK, &doc)
	if time.Duration(gotWindow.Load()) != 1500*time.Millisecond {
		t.Errorf("window %v", time.Duration(gotWindow.Load()))
	}
	var e ErrorDoc
	for _, bad := range []string{"abc", "0", "-3", "42?window=1h", "42?window=10ms", "42?window=x"} {
		getJSON(t, hs.URL+PathExplain+bad, http.StatusBadRequest, &e)
	}
	getJSON(t, hs.URL+PathExplain+"404", http.StatusNotFound, &e)

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d map[string]any
			getJSON(t, hs.URL+PathExplain+strconv.Itoa(100+i), http.StatusOK, &d)
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d explains ran at once, want 1", most.Load())
	}

	if sawFull.Load() {
		t.Error("an unauthenticated client was asked for as a full one")
	}

	_, plain := startServer(t, newFrameSource(), ServerOptions{})
	getJSON(t, plain.URL+PathExplain+"42", http.StatusNotFound, &e)
}

// TestExplainPerClient: explains used to run one at a time for everyone,
// so a client asking again and again kept every other client waiting
// until it got 503. Each client takes its turn: while one client's
// explain runs, and more of its requests wait, another client's explain
// is served; a client with too many waiting gets 503 at once.
func TestExplainPerClient(t *testing.T) {
	hold := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release)
	var aliceRunning atomic.Int32
	fn := func(ctx context.Context, req ExplainRequest) (any, error) {
		if req.PID == 1 {
			aliceRunning.Add(1)
			select {
			case <-hold:
			case <-ctx.Done():
			}
		}
		return map[string]any{"schema": "pinspect.explain/v1", "pid": req.PID}, nil
	}
	hashA, err := bcrypt.GenerateFromPassword([]byte("a"), bcrypt.MinCost)
	must(t, err)
	hashB, err := bcrypt.GenerateFromPassword([]byte("b"), bcrypt.MinCost)
	must(t, err)
	cfg := filepath.Join(t.TempDir(), "web.yml")
	must(t, os.WriteFile(cfg, []byte("basic_auth_users:\n  alice: "+string(hashA)+"\n  bob: "+string(hashB)+"\n"), 0o600))
	web, err := NewWeb(cfg)
	must(t, err)
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	base, s := abuseServer(t, src, ServerOptions{ExplainDoc: fn}, ServeOptions{Web: web})
	queued := func(key string) int {
		s.explain.mu.Lock()
		defer s.explain.mu.Unlock()
		if ct := s.explain.clients[key]; ct != nil {
			return ct.refs
		}
		return 0
	}
	c := &http.Client{Timeout: 2 * time.Minute}
	get := func(user, pass, pid string) int {
		req, _ := http.NewRequest(http.MethodGet, base+PathExplain+pid, nil)
		req.SetBasicAuth(user, pass)
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("explain %s as %s: %v", pid, user, err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// alice: one explain running, three waiting their turn.
	codes := make(chan int, 8)
	for range 4 {
		go func() { codes <- get("alice", "a", "1") }()
	}
	waitUntil(t, "alice's four explains", func() bool { return aliceRunning.Load() == 1 && queued("user:alice") == 4 })
	// A fifth of hers is refused at once; bob is served meanwhile.
	if code := get("alice", "a", "1"); code != http.StatusServiceUnavailable {
		t.Errorf("alice's fifth explain: %d, want 503", code)
	}
	for range 3 {
		if code := get("bob", "b", "2"); code != http.StatusOK {
			t.Fatalf("bob's explain while alice's runs: %d, want 200", code)
		}
	}
	if n := aliceRunning.Load(); n != 1 {
		t.Errorf("%d of alice's explains ran at once, want 1", n)
	}
	release()
	for range 4 {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("alice's explain: %d, want 200 once it was her turn", code)
		}
	}
}
