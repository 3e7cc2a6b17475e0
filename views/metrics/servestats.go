package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// ServeStats counts what the server refused or cut, for /metrics: an
// agent under a flood says so instead of failing silently. A Server
// makes one (Server.Stats); Serve fills in the connection figures.
type ServeStats struct {
	conns, maxConns       atomic.Int64
	connsRefused, evicted atomic.Uint64
	busy, rateLimited     atomic.Uint64
	authLimited           atomic.Uint64
	streamsCut            atomic.Uint64
	// scrapeConns are the scrape listeners' open connections,
	// peersRefused the peers they closed for being outside ScrapeAllow.
	scrapeConns  atomic.Int64
	peersRefused atomic.Uint64
}

// sampleFailures is what a Source that counts its failed samples has
// (monitor.Monitor).
type sampleFailures interface {
	SampleFailures() (uint64, string)
}

// serveCollector exports a server's ServeStats, its API clients' stuck
// reads and the source's failed samples.
type serveCollector struct {
	s *Server

	conns, maxConns, refused, evicted, requests, streamsCut, stuck, sampleFails *prometheus.Desc
	scrapeConns, peersRefused                                                   *prometheus.Desc
}

func newServeCollector(s *Server) *serveCollector {
	n := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pinspect_"+name, help, labels, nil)
	}
	return &serveCollector{
		s:           s,
		conns:       n("http_connections", "Open HTTP connections."),
		maxConns:    n("http_connections_max", "The cap on open HTTP connections (--web.max-connections)."),
		refused:     n("http_connections_refused_total", "Connections closed at once because the cap was reached and no idle one could make room."),
		evicted:     n("http_connections_evicted_total", "Idle connections closed to make room for a new one at the cap."),
		requests:    n("http_requests_refused_total", "Requests refused: reason is busy (no slot in time, 503), rate_limit (web config rate_limit, 429) or auth_limit (too many failed logins, 429).", "reason"),
		streamsCut:  n("event_streams_cut_total", "Event streams ended because their client fell too far behind (a final lost record was sent)."),
		stuck:       n("api_stuck_reads", "Reads made for API clients, abandoned at their deadline and still blocked (the scanner's are not counted here)."),
		sampleFails: n("scan_failures_total", "Scans that failed for a transient reason (out of file descriptors or memory); the agent goes on."),
		scrapeConns: n("http_scrape_connections", "Open connections of the scrape listeners (--web.scrape-address), counted apart from http_connections."),
		peersRefused: n("http_scrape_peers_refused_total",
			"Connections to a scrape listener closed at once because the peer is outside --web.scrape-allow."),
	}
}

func (c *serveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.maxConns, c.refused, c.evicted, c.requests, c.streamsCut, c.stuck, c.sampleFails, c.scrapeConns, c.peersRefused} {
		ch <- d
	}
}

func (c *serveCollector) Collect(ch chan<- prometheus.Metric) {
	st := &c.s.stats
	g := func(d *prometheus.Desc, t prometheus.ValueType, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, l...)
	}
	g(c.conns, prometheus.GaugeValue, float64(st.conns.Load()))
	g(c.maxConns, prometheus.GaugeValue, float64(st.maxConns.Load()))
	g(c.refused, prometheus.CounterValue, float64(st.connsRefused.Load()))
	g(c.evicted, prometheus.CounterValue, float64(st.evicted.Load()))
	g(c.requests, prometheus.CounterValue, float64(st.busy.Load()), "busy")
	g(c.requests, prometheus.CounterValue, float64(st.rateLimited.Load()), "rate_limit")
	g(c.requests, prometheus.CounterValue, float64(st.authLimited.Load()), "auth_limit")
	g(c.streamsCut, prometheus.CounterValue, float64(st.streamsCut.Load()))
	g(c.scrapeConns, prometheus.GaugeValue, float64(st.scrapeConns.Load()))
	g(c.peersRefused, prometheus.CounterValue, float64(st.peersRefused.Load()))
	g(c.stuck, prometheus.GaugeValue, float64(c.s.stuck.Stuck()))
	var fails uint64
	if sf, ok := c.s.src.(sampleFailures); ok {
		fails, _ = sf.SampleFailures()
	}
	g(c.sampleFails, prometheus.CounterValue, float64(fails))
}
