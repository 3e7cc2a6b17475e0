//go:build linux

package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/hungfuse"
	"github.com/pinspect/pinspect/fixtures/livehelper"
	"github.com/pinspect/pinspect/views/report"
)

// TestServeHungProcessLive: a real hung process (a thread in D state
// holding its memory-map lock on a FUSE file that never answers, another
// queued for the lock: smaps_rollup and cmdline block) asked for again
// and again does not blind the agent: each answer comes (its memory
// "timeout", then "still stuck": it is not read again while a read is
// stuck), and afterwards every other process still has its maps and
// memory, and the scans still read command lines. Before issue 19, 70
// requests for such a process spent the shared budget of stuck reads and
// 96 of 100 processes lost their maps.
func TestServeHungProcessLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the FUSE mount, and the agent reads every process")
	}
	if err := hungfuse.Available(); err != nil {
		t.Skip(err)
	}
	bin := buildPinspect(t)
	// The agent starts first, so that the file system is closed before
	// it is stopped whatever fails (cleanups run last first, and Close is
	// registered again after every step that adds one): no process, the
	// agent included, can exit while a thread of it waits on the hung
	// file.
	sock := filepath.Join(t.TempDir(), "agent.sock")
	startServe(t, bin, "--web.listen-address", freePort(t), "--web.listen-address", "unix:"+sock, "--interval", "1s", "--no-threads")
	fs, err := hungfuse.Mount(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	closeFS := func() {
		if err := fs.Close(); err != nil {
			t.Errorf("unmounting the hung file system: %v", err)
		}
	}
	t.Cleanup(closeFS)
	hung := livehelper.Start(t, "memhang", fs.File()).PID()
	t.Cleanup(closeFS)
	hungfuse.WaitHung(t, hung)
	others := []int{os.Getpid(), livehelper.Start(t, "comm", "hungtest-peer").PID()}
	t.Cleanup(closeFS)
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	get := func(path string, v any) int {
		t.Helper()
		resp, err := hc.Get("http://agent" + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("GET %s: %v: %.300s", path, err, b)
			}
		}
		return resp.StatusCode
	}
	// Ready: the first scan is in (its command line read of the hung
	// process is stuck, on the scanner's own budget).
	deadline := time.Now().Add(2 * time.Minute)
	for get("/-/ready", nil) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the agent was not ready within 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// 70 requests for the hung process, one after another (a client
	// gets one process document at a time).
	var reasons []string
	for i := 0; i < 70; i++ {
		var d report.ShowDoc
		switch code := get("/api/v1/processes/"+strconv.Itoa(hung), &d); code {
		case http.StatusOK:
			reasons = append(reasons, d.Unavailable["memory"])
		case http.StatusServiceUnavailable:
			time.Sleep(100 * time.Millisecond) // the previous one still holds the slot
		default:
			t.Fatalf("request %d for the hung process: %d", i, code)
		}
	}
	if len(reasons) == 0 {
		t.Fatal("no document of the hung process")
	}
	t.Logf("the hung process: %d documents, memory %q first, %q last", len(reasons), reasons[0], reasons[len(reasons)-1])
	stillStuck := 0
	for _, r := range reasons {
		if r == "" {
			t.Errorf("the hung process's memory read, yet smaps_rollup blocks: reasons %q", reasons)
			break
		}
		if strings.Contains(r, "still stuck") {
			stillStuck++
		}
	}
	if stillStuck < len(reasons)-2 {
		t.Errorf("the hung process was read again: %d of %d answers say still stuck (%q)", stillStuck, len(reasons), reasons)
	}

	// Every other process keeps its maps and memory.
	for _, pid := range others {
		var d report.ShowDoc
		if code := get("/api/v1/processes/"+strconv.Itoa(pid), &d); code != http.StatusOK {
			t.Errorf("process %d after the hung one: %d", pid, code)
			continue
		}
		if len(d.Maps) == 0 || d.Memory == nil {
			t.Errorf("process %d after 70 requests for a hung one: %d mappings, memory %v, unavailable %v", pid, len(d.Maps), d.Memory, d.Unavailable)
		}
	}
	// The scans go on reading command lines: only the hung process's is
	// stuck.
	time.Sleep(2 * time.Second) // two scans after the requests
	var snap report.SnapshotDoc
	if code := get("/api/v1/snapshot?threads=false", &snap); code != http.StatusOK {
		t.Fatalf("snapshot: %d", code)
	}
	skipped := 0
	for _, p := range snap.Processes {
		if r := p.Unavailable["cmdline"]; strings.Contains(r, "skipped") && p.PID != hung {
			skipped++
		}
	}
	if skipped > 0 {
		t.Errorf("%d processes besides the hung one have their command line skipped", skipped)
	}
}
