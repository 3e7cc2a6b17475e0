package main

import (
	"encoding/gob"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/metrics"
)

// TestServeStopAnswersFramePolls: a remote dashboard long-polling
// /api/v1/frame when serve is stopped (SIGTERM) receives the last frame,
// with the events since its last (an exit 7 after the first frame, the
// next scan an hour away), and a poll after that one a clean 503 "the
// agent is stopping", not a connection cut by the shutdown (the request
// context ended with the server: the handler returned without a frame).
func TestServeStopAnswersFramePolls(t *testing.T) {
	sp := startServeCmd(t, command("serve", "--web.listen-address", "127.0.0.1:0", "--interval", "1h", "--no-threads"))
	// No kept-alive connections: the connection gauge then counts the
	// scrape's own and the poll's.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	conns := func() float64 {
		v, _ := metric(t, c, sp.base, "pinspect_http_connections")
		return v
	}
	frame := func(after uint64, wait time.Duration) (*metrics.WireFrame, int, error) {
		resp, err := c.Get(sp.base + metrics.PathFrame + "?after=" + strconv.FormatUint(after, 10) + "&wait=" + wait.String())
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return nil, resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, b)
		}
		var wf metrics.WireFrame
		if err := gob.NewDecoder(resp.Body).Decode(&wf); err != nil {
			return nil, resp.StatusCode, err
		}
		return &wf, resp.StatusCode, nil
	}
	var first *metrics.WireFrame
	waitedFor(t, "serve's first frame", func() bool {
		f, _, err := frame(0, 0)
		first = f
		return err == nil
	})
	if !first.EventsLive {
		t.Skipf("no kernel process events: %s", first.EventsNote)
	}
	short := exec.Command("sh", "-c", "exit 7")
	if err := short.Run(); err == nil {
		t.Fatal("sh -c 'exit 7' exited 0")
	}
	pid := short.Process.Pid
	waitedFor(t, "no connection but the scrape's", func() bool { return conns() == 1 })
	type answer struct {
		f    *metrics.WireFrame
		code int
		err  error
	}
	polled := make(chan answer, 1)
	go func() {
		f, code, err := frame(first.Seq, time.Minute)
		polled <- answer{f, code, err}
	}()
	waitedFor(t, "the frame poll's connection", func() bool { return conns() == 2 })
	if err := sp.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var got answer
	select {
	case got = <-polled:
	case <-time.After(30 * time.Second):
		t.Fatalf("the frame poll not answered within 30 s of SIGTERM; log:\n%s", sp.log.String())
	}
	if got.err != nil {
		t.Fatalf("the frame poll waiting at SIGTERM: %v (status %d); log:\n%s", got.err, got.code, sp.log.String())
	}
	found := false
	for _, e := range got.f.Events {
		if e.Type == lifecycle.Exit && e.ID.PID == pid {
			found = true
		}
	}
	if got.f.Seq <= first.Seq || !found {
		t.Errorf("last frame %d (first %d) with %d events, the exit of %d among them: %v", got.f.Seq, first.Seq, len(got.f.Events), pid, found)
	}
	select {
	case err := <-sp.done:
		sp.done <- err // for startServeCmd's cleanup
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, sp.log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit within 30 s of SIGTERM")
	}
}
