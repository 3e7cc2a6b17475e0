package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
	"github.com/pinspect/pinspect/views/report"
	"github.com/pinspect/pinspect/views/schema"
)

// TestLiveDocumentsMatchSchemas: every JSON document pinspect writes, from
// a live run on this machine's /proc with real zombies, orphans, threads
// and lifecycle events, is valid under its strict schema (docs/schema,
// views/schema): the commands' documents, watch's NDJSON lines, and the
// agent's API answers.
func TestLiveDocumentsMatchSchemas(t *testing.T) {
	v, err := schema.NewValidator(repoRoot + "/docs/schema")
	if err != nil {
		t.Fatal(err)
	}
	threads := livehelper.Start(t, "threads", "3")
	zombies := livehelper.Start(t, "zombies", "2")
	orphan := livehelper.Start(t, "orphan")
	zpid, tpid := strconv.Itoa(zombies.PID()), strconv.Itoa(threads.PID())
	seen := map[string]int{}
	check := func(what, out string) {
		t.Helper()
		id, err := v.Validate([]byte(out))
		if err != nil {
			t.Errorf("%s: %v\n%.2000s", what, err, out)
		}
		seen[id]++
	}
	for _, args := range [][]string{
		{"--json"},
		{"--json", "--no-threads"},
		{"--json", "--pid", zpid + "," + strconv.Itoa(zombies.PIDs[1])},
		{"ps", "--json"},
		{"show", tpid, "--json"},
		{"show", strconv.Itoa(zombies.PIDs[1]), "--json"}, // a zombie: no address space
		{"show", tpid, "--json", "--smaps=false"},
		{"zombies", "--json"},
		{"orphans", "--json"},
		{"orphans", "--json", "--daemons"},
		{"explain", tpid, "--json", "--window", "500ms"},
		{"explain", "--json", "--window", "500ms"}, // the machine
		{"ps", "--json", "--sample", "300ms", "--pid", tpid},
	} {
		out, errs, code := runInProcess(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		check(strings.Join(args, " "), out)
	}
	// The orphan and the zombies are in their documents, so the schema was
	// checked on real entries, not empty lists.
	out, _, _ := runInProcess(t, "zombies", "--json", "--pid", zpid)
	if !strings.Contains(out, `"exited":true`) && !strings.Contains(out, `"exited":false`) {
		t.Errorf("zombies --json has no exit status: %s", out)
	}
	lifePoll(t, "the orphan", func() bool {
		out, _, _ := runInProcess(t, "orphans", "--json", "--pid", strconv.Itoa(orphan.PIDs[len(orphan.PIDs)-1]))
		return strings.Contains(out, `"adopter_kind"`)
	})

	// watch --json: NDJSON lines of real events (a burst of children).
	burst := livehelper.Start(t, "burst", "5")
	var o, e lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"watch", "--json", "--types", "all", "--pid", strconv.Itoa(burst.PID()), "--count", "10", "--duration", "20s", "--interval", "200ms"}, &o, &e)
	}()
	lifePoll(t, "watch to start", func() bool { return strings.Contains(e.String(), "pinspect watch:") })
	if err := syscall.Kill(burst.PID(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("watch: exit %d: %s", code, e.String())
	}
	n, err := v.ValidateLines([]byte(o.String()))
	if err != nil || n == 0 {
		t.Errorf("watch --json: %d lines valid, %v\n%s", n, err, o.String())
	}
	seen[report.EventSchema] += n

	// pinspect dump: NDJSON lines of every kind, from a record of this
	// machine (recordLive, dump_test.go).
	dir, samples := recordLive(t, 2)
	for _, kind := range []string{"process", "thread", "event", "system"} {
		out, errs, code := runInProcess(t, "dump", kind, "--dir", dir)
		if code != 0 {
			t.Fatalf("dump %s: exit %d %s", kind, code, errs)
		}
		n, err := v.ValidateLines([]byte(out))
		if err != nil || n == 0 {
			t.Errorf("dump %s: %d lines valid, %v", kind, n, err)
		}
		for _, line := range strings.SplitN(out, "\n", 2)[:1] {
			id, _ := v.Validate([]byte(line))
			seen[id] += n
		}
	}
	// The record's other readers: events (NDJSON lines, and the restarts
	// document, with the crash recordLive adds as a last end still down),
	// and every --at document.
	out, errs, code := runInProcess(t, "events", "--dir", dir, "--json")
	if n, err := v.ValidateLines([]byte(out)); code != 0 || err != nil || n == 0 {
		t.Errorf("events --json: exit %d, %d lines valid, %v %s", code, n, err, errs)
	}
	out, errs, code = runInProcess(t, "events", "--dir", dir, "--restarts", "--name", "crash", "--json")
	if code != exitNoMatch || !strings.Contains(out, `"still_down":{`) {
		t.Errorf("events --restarts --json: exit %d %s %s", code, out, errs)
	}
	check("events --restarts --json", out)
	at := []string{"--dir", dir, "--at", samples[len(samples)-1].Snapshot.TakenAt.Format(time.RFC3339Nano)}
	for _, args := range [][]string{{"--json"}, {"ps", "--json"}, {"zombies", "--json"}, {"orphans", "--json"}, {"show", "1", "--json"}, {"explain", "--json"}} {
		out, errs, code := runInProcess(t, append(args, at...)...)
		if code != 0 && code != exitNoMatch {
			t.Fatalf("%v --at: exit %d: %s", args, code, errs)
		}
		check(strings.Join(args, " ")+" --at", out)
	}

	// The agent's API answers the same documents: to an unauthenticated
	// TCP client (what an unprivileged user could read) and in full to
	// root on a unix socket, the record's past included.
	sock := filepath.Join(t.TempDir(), "pinspect.sock")
	base := startServe(t, buildPinspect(t), listenFlag(), "127.0.0.1:0", listenFlag(), "unix:"+sock, "--interval", "500ms", "--record-dir", dir)
	get := func(path string) string {
		t.Helper()
		return authGet(t, base+strings.TrimPrefix(path, "/"), "", "", 60*time.Second, `"schema"`)
	}
	paths := []string{"/api/v1/snapshot", "/api/v1/snapshot?threads=false&state=Z", "/api/v1/processes/" + tpid, "/api/v1/zombies", "/api/v1/orphans", "/api/v1/explain/" + tpid + "?window=500ms"}
	for _, path := range paths {
		check(path, get(path))
	}
	local := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	for _, path := range paths {
		out := unixGet(t, local, path)
		if strings.HasPrefix(path, "/api/v1/processes/") && !strings.Contains(out, `"pss_bytes"`) {
			t.Errorf("%s on the unix socket as root: no memory maps: %.300s", path, out)
		}
		check(path+" (unix socket, root)", out)
	}
	since := url.QueryEscape(samples[0].Snapshot.TakenAt.Add(-time.Second).Format(time.RFC3339Nano))
	out = unixGet(t, local, "/api/v1/events?since="+since)
	if n, err := v.ValidateLines([]byte(out)); err != nil || n == 0 {
		t.Errorf("/api/v1/events?since=: %d lines valid, %v\n%.500s", n, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	burst2 := livehelper.Start(t, "burst", "3")
	if err := syscall.Kill(burst2.PID(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for lines := 0; lines < 3 && sc.Scan(); lines++ {
		check("/api/v1/events line", sc.Text())
	}
	t.Logf("validated documents: %v", seen)
	for _, d := range schema.Documents {
		if d.ID != "pinspect.process_entry/v1" && seen[d.ID] == 0 {
			t.Errorf("no live %s document was validated", d.ID)
		}
	}
}

// unixGet asks the agent on its unix socket, until it answers 200 with a
// document (the first scan may still be running).
func unixGet(t *testing.T, c *http.Client, path string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := c.Get("http://pinspect" + path)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"schema"`) {
				return string(b)
			}
			err = fmt.Errorf("%s: %.200s", resp.Status, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s on the unix socket: no document within 60 s: %v", path, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
