package metrics

import (
	"encoding/gob"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestEndStreamsAnswersFramePolls: a stopping agent (EndStreams, after
// its monitor published its last frame) answers the frame requests
// waiting with that last frame, once its Run has taken it, even when Run
// takes it after EndStreams began; and a request from a client that has
// the last frame gets 503 "the agent is stopping" at once. That one
// waited its whole ?wait= (or until the shutdown cut it).
func TestEndStreamsAnswersFramePolls(t *testing.T) {
	src, one, two := newLaggingSource()
	srv, hs := startServer(t, src, ServerOptions{})
	src.ch <- one
	type answer struct {
		wf   WireFrame
		code int
		err  error
	}
	get := func(after uint64, wait time.Duration) answer {
		var a answer
		resp, err := http.Get(hs.URL + PathFrame + "?after=" + strconv.FormatUint(after, 10) + "&wait=" + wait.String())
		if err != nil {
			a.err = err
			return a
		}
		defer resp.Body.Close()
		a.code = resp.StatusCode
		if resp.StatusCode != http.StatusOK {
			a.err = fmt.Errorf("after=%d: %s", after, resp.Status)
			return a
		}
		a.err = gob.NewDecoder(resp.Body).Decode(&a.wf)
		return a
	}
	if a := get(0, 0); a.err != nil || a.wf.Seq != 1 {
		t.Fatalf("the first frame: %+v", a)
	}
	waiting := make(chan answer, 1)
	go func() { waiting <- get(1, time.Minute) }()
	for deadline := time.Now().Add(20 * time.Second); srv.liveFrames.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the frame request did not start waiting in 20s")
		}
	}
	// The monitor's last frame is published; the server's Run takes it
	// only after EndStreams began.
	src.publish(two)
	ended := make(chan struct{})
	go func() { srv.EndStreams(20 * time.Second); close(ended) }()
	src.ch <- two
	var a answer
	select {
	case a = <-waiting:
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting frame request not answered within 30 s")
	}
	if a.err != nil || a.wf.Seq != 2 || len(a.wf.Events) != 1 || a.wf.Events[0].ID.PID != 2000 {
		t.Fatalf("the waiting request: %+v, want frame 2 with its exit", a)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("EndStreams did not return within 30 s")
	}
	// A client that has the last frame: a clean end at once.
	done := make(chan answer, 1)
	go func() { done <- get(2, time.Minute) }()
	select {
	case a = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a request for a frame after the last not answered within 30 s of the end")
	}
	if a.code != http.StatusServiceUnavailable {
		t.Errorf("a request for a frame after the last at the end: %+v, want 503", a)
	}
}
