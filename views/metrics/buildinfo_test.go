package metrics

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestBuildInfo: /metrics carries pinspect_build_info with the build's
// facts, as a gauge of 1 in the form exporters share, and lints clean.
func TestBuildInfo(t *testing.T) {
	bi := BuildInfo{Version: "0.1.0+git.3.540e148", Revision: "540e14864cc9d12934d54f747f52ab45893b4a38", GoVersion: "go1.26.8", GoOS: "linux", GoArch: "amd64"}
	problems, err := testutil.CollectAndLint(NewBuildInfoCollector(bi))
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	_, hs := startServer(t, newFrameSource(), ServerOptions{BuildInfo: bi})
	resp, err := http.Get(hs.URL + PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := `pinspect_build_info{goarch="amd64",goos="linux",goversion="go1.26.8",revision="540e14864cc9d12934d54f747f52ab45893b4a38",tags="",version="0.1.0+git.3.540e148"} 1`
	if !strings.Contains(string(body), want+"\n") {
		t.Errorf("/metrics lacks\n%s", want)
	}
	// Without build facts (a test server) the gauge is left out rather
	// than exported with empty labels.
	_, hs = startServer(t, newFrameSource(), ServerOptions{})
	resp, err = http.Get(hs.URL + PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	if strings.Contains(string(body), "pinspect_build_info") {
		t.Error("pinspect_build_info exported without build facts")
	}
	ch := make(chan *prometheus.Desc, 1)
	NewBuildInfoCollector(bi).Describe(ch)
	if d := <-ch; !strings.Contains(d.String(), `fqName: "pinspect_build_info"`) {
		t.Errorf("desc %s", d)
	}
}
