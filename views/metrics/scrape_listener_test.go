package metrics

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestScrapeListenerOutlivesFlood: with every connection of the API's
// listener taken by requests that cannot make room (event streams), a
// scrape there waits and is refused; on the scrape listener, which has
// its own accept queue and connection cap, it is answered. The scrape
// listener serves nothing of the API.
func TestScrapeListenerOutlivesFlood(t *testing.T) {
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s := NewServer(src, ServerOptions{})
	base, _ := abuseServerWith(t, s, ServeOptions{MaxConns: 2, ScrapeListeners: []net.Listener{sl}, ScrapeHandler: s.ScrapeHandler()})
	scrapeBase := "http://" + sl.Addr().String()
	// Two event streams fill the API's cap; neither can be evicted (each
	// is served, and reads what it is sent).
	for range 2 {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		must(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, "GET "+PathEvents+" HTTP/1.1\r\nHost: x\r\n\r\n")
		must(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		must(t, err)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("event stream: %s", resp.Status)
		}
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(url string) int {
		resp, err := hc.Get(url)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if code := get(base + PathMetrics); code == http.StatusOK {
		t.Errorf("a scrape on the full API listener: %d, want it refused (the cap is full of streams)", code)
	}
	if code := get(scrapeBase + PathMetrics); code != http.StatusOK {
		t.Errorf("a scrape on the scrape listener while the API's is full: %d, want 200", code)
	}
	for path, want := range map[string]int{PathReady: 200, PathHealthy: 200, PathSnapshot: 404, PathProcesses + "1": 404, PathEvents: 404} {
		if code := get(scrapeBase + path); code != want {
			t.Errorf("scrape listener %s: %d, want %d", path, code, want)
		}
	}
}

// TestScrapeAllow: a TCP scrape listener restricted to other networks
// closes a loopback peer at once and counts it; allowed, it is served.
func TestScrapeAllow(t *testing.T) {
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	for _, c := range []struct {
		allow string
		ok    bool
	}{{"10.0.0.0/8", false}, {"127.0.0.1/32", true}} {
		_, n, err := net.ParseCIDR(c.allow)
		must(t, err)
		sl, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		s := NewServer(src, ServerOptions{})
		abuseServerWith(t, s, ServeOptions{ScrapeListeners: []net.Listener{sl}, ScrapeHandler: s.ScrapeHandler(), ScrapeAllow: []*net.IPNet{n}})
		hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := hc.Get("http://" + sl.Addr().String() + PathMetrics)
		if err == nil {
			resp.Body.Close()
		}
		if got := err == nil && resp.StatusCode == http.StatusOK; got != c.ok {
			t.Errorf("allow %s, a loopback scrape: answered %v (%v), want %v", c.allow, got, err, c.ok)
		}
		if refused := s.stats.peersRefused.Load(); (refused > 0) == c.ok {
			t.Errorf("allow %s: %d peers refused", c.allow, refused)
		}
	}
}
