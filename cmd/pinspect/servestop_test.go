package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeStopSendsLastEvents: serve stopped by SIGTERM sends its event
// streams the events since its last frame before it ends them: a process
// that started and exited after the first frame, with the next an hour
// away, reaches an open /api/v1/events stream, which then ends. The
// stream was cut with the server, the exit never sent.
func TestServeStopSendsLastEvents(t *testing.T) {
	sp := startServeCmd(t, command("serve", "--web.listen-address", "127.0.0.1:0", "--interval", "1h", "--no-threads"))
	waitedFor(t, "serve's first frame", func() bool {
		resp, err := http.Get(sp.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	resp, err := http.Get(sp.base + "/api/v1/events?type=exit")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %s", resp.Status)
	}
	short := exec.Command("sh", "-c", "exit 7")
	if err := short.Run(); err == nil {
		t.Fatal("sh -c 'exit 7' exited 0")
	}
	pid := short.Process.Pid
	if err := sp.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	lines := make(chan []string, 1)
	go func() {
		var ls []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			ls = append(ls, sc.Text())
		}
		lines <- ls
	}()
	var got []string
	select {
	case got = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatalf("the event stream did not end within 30 s of SIGTERM; log:\n%s", sp.log.String())
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
	for _, l := range got {
		var e struct {
			Type string `json:"type"`
			PID  int    `json:"pid"`
		}
		if json.Unmarshal([]byte(l), &e) == nil && e.PID == pid {
			// (Its exit status is withheld from this unauthenticated
			// client: docs/SECURITY.md.)
			if e.Type != "exit" {
				t.Errorf("the event of %d: %s, want its exit", pid, l)
			}
			return
		}
	}
	t.Fatalf("no exit of %d (exit 7) in the stream's %d lines before it ended:\n%s\nlog:\n%s", pid, len(got), strings.Join(got, "\n"), sp.log.String())
}
