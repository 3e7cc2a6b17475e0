package metrics

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUnknownQueryParams: every API endpoint answers 400 naming a query
// parameter it does not take (a misspelt ?typ=exit streamed every event,
// ?pids=1 gave every process, ?pid= on /api/v1/zombies every zombie), and
// every parameter docs/METRICS.md and docs/RECORD.md name still works.
func TestUnknownQueryParams(t *testing.T) {
	st, t0 := testRecord(t, 3)
	src := newFrameSource()
	sc := newScanner(t, false)
	src.publish(sc.frame())
	explainFn := func(context.Context, ExplainRequest) (any, error) {
		return map[string]any{"schema": "pinspect.explain/v1"}, nil
	}
	_, hs := startServer(t, src, ServerOptions{Record: st, ExplainDoc: explainFn, MaxLongPoll: time.Millisecond})
	since := t0.Format(time.RFC3339)
	until := t0.Add(time.Minute).Format(time.RFC3339)
	pid := "1"
	get := func(target string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			return resp.StatusCode, "" // a live stream runs on: its status is enough
		}
		b, _ := io.ReadAll(resp.Body)
		var e ErrorDoc
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("GET %s: 400 with %q: %v", target, b, err)
		}
		return resp.StatusCode, e.Error
	}
	for _, good := range []string{
		PathSnapshot + "?pid=1,2&state=SZ&user=root&name=init&threads=false",
		PathProcesses + pid,
		PathExplain + pid + "?window=600ms",
		PathZombies,
		PathOrphans,
		PathEvents + "?type=exit,zombie",
		PathEvents + "?since=" + since + "&until=" + until + "&type=exit&limit=2",
		PathFrame + "?after=0&wait=1ms",
		PathFrame + "?at=" + since + "&step=1",
	} {
		sep := "?"
		if strings.Contains(good, "?") {
			sep = "&"
		}
		if code, msg := get(good); code == http.StatusBadRequest {
			t.Errorf("GET %s: 400 %q, want it accepted", good, msg)
		}
		bad := good + sep + "typ=exit"
		code, msg := get(bad)
		if code != http.StatusBadRequest || !strings.Contains(msg, `"typ"`) || !strings.Contains(msg, "unknown query parameter") {
			t.Errorf("GET %s: %d %q, want 400 naming \"typ\"", bad, code, msg)
		}
	}
	// The live stream's until= and limit= keep their own message.
	if code, msg := get(PathEvents + "?limit=2"); code != http.StatusBadRequest || !strings.Contains(msg, "only with since=") {
		t.Errorf("live events ?limit=2: %d %q", code, msg)
	}
	// Values that ask for nothing, or for what no agent holds, are 400
	// with the reason, not 200 and an empty answer or every process
	// (tester14: until= before since= answered 200 and nothing).
	for target, want := range map[string]string{
		PathEvents + "?since=" + until + "&until=" + since: "until " + since + " is before since " + until,
		PathEvents + "?since=" + since + "&until=":         "until: an empty value",
		PathEvents + "?type=":                              "type: an empty value",
		PathSnapshot + "?name=":                            "name: an empty value",
		PathFrame + "?at=99999999999":                      "want a time from 1970 to a year from now",
		PathFrame + "?at=-1":                               "want a time from 1970 to a year from now",
		PathSnapshot + "?pid=4194304":                      "not a process id",
		PathProcesses + "99999999999":                      "not a process id",
		PathExplain + "4194304":                            "not a process id",
	} {
		if code, msg := get(target); code != http.StatusBadRequest || !strings.Contains(msg, want) {
			t.Errorf("GET %s: %d %q, want 400 and %q", target, code, msg, want)
		}
	}
}
