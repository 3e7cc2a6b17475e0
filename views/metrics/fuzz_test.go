package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for every handler's query parsing (make fuzz runs them;
// their seeds run in make test). Each parser either accepts a value it
// can use or says why not; none panics.

func FuzzSnapshotQuery(f *testing.F) {
	for _, s := range []string{"", "pid=1,2", "pid=0", "pid=-1", "pid=1,,2", "state=ZD", "state=Q", "state=\xff",
		"user=root,1000", "name=%00", "threads=false", "threads=maybe", "pid=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, _, err := parseSnapshotQuery(q)
		if err != nil {
			return
		}
		for _, pid := range flt.PIDs {
			if pid <= 0 {
				t.Fatalf("%q: accepted pid %d", raw, pid)
			}
		}
	})
}

func FuzzFrameQuery(f *testing.F) {
	for _, s := range []string{"", "after=3", "after=-1", "after=18446744073709551616", "wait=20s", "wait=-1s", "wait=1e9h", "wait=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		_, wait, err := parseFrameQuery(q, 30*time.Second)
		if err == nil && (wait < 0 || wait > 30*time.Second) {
			t.Fatalf("%q: wait %v outside 0..30s", raw, wait)
		}
	})
}

func FuzzEventTypes(f *testing.F) {
	for _, s := range []string{"", "type=exit", "type=exit,zombie", "type=", "type=bogus", "type=exit,", "type=lost,rename"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		types, err := parseEventTypes(q)
		if err != nil {
			return
		}
		for typ := range types {
			if !strings.Contains(","+joinTypes()+",", ","+typ+",") {
				t.Fatalf("%q: accepted type %q", raw, typ)
			}
		}
	})
}

func FuzzPID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "abc", "1e3", " 1", "2147483648", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if pid, err := parsePID(s); err == nil && pid <= 0 {
			t.Fatalf("%q: pid %d", s, pid)
		}
	})
}

func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"", "gzip", "gzip;q=0", "br, gzip;q=0.5", "GZIP", "deflate", "gzip;q=x", ";;,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Encoding", s)
		_ = acceptsGzip(r)
	})
}

// FuzzRequest sends any request line the parser of net/http accepts to
// the whole handler, as an unauthenticated client: the answer is one of
// the statuses the API gives, never a panic or a 500.
func FuzzRequest(f *testing.F) {
	src := newFrameSource()
	sc := newScanner(f, false)
	src.publish(sc.frame())
	s := NewServer(src, ServerOptions{MaxLongPoll: time.Millisecond})
	h := s.Handler()
	for _, s := range []string{"/", "/metrics", "/api/v1/snapshot?pid=1&state=S&threads=false", "/api/v1/processes/1",
		"/api/v1/processes/x", "/api/v1/zombies", "/api/v1/orphans", "/api/v1/frame?after=1&wait=1ms",
		"/api/v1/events?type=bogus", "/-/healthy", "/-/ready", "/api/v1/processes/%2e%2e", "//metrics"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "/api/v1/events") && !strings.Contains(target, "type=") {
			return // a stream without a bad type runs until its client leaves
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://x"+u.RequestURI(), nil)
		if err != nil || strings.ContainsAny(u.RequestURI(), " \t\r\n") {
			return // not a request line a client can send
		}
		r.RequestURI = u.RequestURI()
		r.RemoteAddr = "127.0.0.1:1"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200, 204, 301, 307, 308, 400, 404, 405, 503:
		default:
			t.Fatalf("GET %s: %d %s", target, w.Code, w.Body.String())
		}
	})
}
