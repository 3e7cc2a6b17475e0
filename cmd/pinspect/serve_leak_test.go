package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// readInKernel exempts a read worker that is inside one read of a /proc
// file when the check runs: other packages' tests (fixtures/hungfuse,
// collector's hung-exe tests) run at the same time and stage processes
// whose cmdline blocks a reader for as long as they are hung, and a
// scan of the whole /proc reads their cmdlines too. Such a worker is
// abandoned by design and exits when its read returns
// (collector/deadline.go); an idle worker left behind sits in its job
// loop, not in readItem, and is still reported.
var readInKernel = goleak.IgnoreAnyFunction("github.com/pinspect/pinspect/collector.readItem")

// TestServeStopsEveryGoroutine: `pinspect serve` stopped by its context
// (SIGTERM cancels it) leaves no goroutine behind: the monitor, the
// server's frame follower, the HTTP server and its connections.
func TestServeStopsEveryGoroutine(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	var errOut lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &app{stdout: io.Discard, stderr: &errOut, ctx: ctx, procRoot: "/proc"}
	cmd := newServeCmd(a)
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0", "--interval", "100ms"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	url := regexp.MustCompile(`url=(http://[^ ]+/)`)
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
		if m := url.FindStringSubmatch(errOut.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no url in the log:\n%s", errOut.String())
		}
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, path := range []string{"metrics", "api/v1/processes/" + strconv.Itoa(os.Getpid())} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s")
	}
	goleak.VerifyNone(t, baseline, readInKernel)
}
