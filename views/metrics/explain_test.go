package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestExplainEndpoint: /api/v1/explain/{pid} checks its pid and window,
// answers 404 for a missing process and when no builder is configured,
// and runs one explain at a time.
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
