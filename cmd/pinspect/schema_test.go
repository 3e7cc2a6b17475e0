package main

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
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
	seen[schema.Documents[5].ID] += n

	// pinspect dump: NDJSON lines of every kind, from a record of this
	// machine (recordLive, dump_test.go).
	dir, _ := recordLive(t, 2)
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

	// The agent's API answers the same documents.
	base := startServe(t, buildPinspect(t), "--listen", "127.0.0.1:0", "--interval", "500ms")
	get := func(path string) string {
		t.Helper()
		return authGet(t, base+strings.TrimPrefix(path, "/"), "", "", 60*time.Second, `"schema"`)
	}
	for _, path := range []string{"/api/v1/snapshot", "/api/v1/snapshot?threads=false&state=Z", "/api/v1/processes/" + tpid, "/api/v1/zombies", "/api/v1/orphans"} {
		check(path, get(path))
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
