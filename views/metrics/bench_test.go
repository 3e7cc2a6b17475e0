package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkBuild is the per-frame cost of the metrics on this machine's
// processes: accounting a new frame (groups, counters) and converting it
// into metrics (the first scrape after each scan pays the conversion; run with the bench workload of docs/PERFORMANCE.md
// for 2,000 processes x 9 threads).
func BenchmarkBuild(b *testing.B) {
	sc := newScanner(b, true)
	f1 := sc.frame()
	time.Sleep(100 * time.Millisecond)
	f2 := sc.frame()
	c := NewCollector(Options{ZombieParents: DefaultZombieParents})
	b.ReportMetric(float64(len(f2.Snapshot.Processes)), "processes")
	b.ResetTimer()
	for i := range b.N {
		// Alternate snapshots so every iteration accounts a new scan and
		// rebuilds.
		f := *f1
		if i%2 == 1 {
			f = *f2
		}
		f.Seq = uint64(i + 1)
		c.Observe(&f)
		c.metrics()
	}
}

// BenchmarkScrape is one full HTTP scrape of /metrics (exposition
// included) of a frame already converted: what every further scrape of
// the same frame costs.
func BenchmarkScrape(b *testing.B) {
	sc := newScanner(b, true)
	src := newFrameSource()
	s := NewServer(src, ServerOptions{Options: Options{ZombieParents: DefaultZombieParents}})
	s.Collector().Observe(sc.frame())
	time.Sleep(100 * time.Millisecond)
	s.Collector().Observe(sc.frame())
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
