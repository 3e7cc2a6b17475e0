package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkBuild is the per-frame cost of a scrape on this machine's
// processes: converting a new frame into metrics (the first scrape after
// each scan pays it; run with the bench workload of docs/PERFORMANCE.md
// for 2,000 processes x 9 threads).
func BenchmarkBuild(b *testing.B) {
	sc := newScanner(b, true)
	f1 := sc.frame()
	time.Sleep(100 * time.Millisecond)
	f2 := sc.frame()
	src := newFrameSource()
	c := NewCollector(src, Options{TopN: DefaultTopN, ZombieParents: DefaultZombieParents})
	b.ReportMetric(float64(len(f2.Snapshot.Processes)), "processes")
	b.ResetTimer()
	for i := range b.N {
		// Alternate frames so every iteration rebuilds.
		if i%2 == 0 {
			src.publish(f1)
		} else {
			src.publish(f2)
		}
		c.metrics()
	}
}

// BenchmarkScrape is one full HTTP scrape of /metrics (exposition
// included) of a frame already converted: what every further scrape of
// the same frame costs.
func BenchmarkScrape(b *testing.B) {
	sc := newScanner(b, true)
	src := newFrameSource()
	src.publish(sc.frame())
	time.Sleep(100 * time.Millisecond)
	src.publish(sc.frame())
	s := NewServer(src, ServerOptions{Options: Options{TopN: DefaultTopN, ZombieParents: DefaultZombieParents}})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	b.ResetTimer()
	for range b.N {
		resp, err := http.Get(hs.URL + PathMetrics)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
