package metrics

import (
	"bytes"
	"fmt"
	"net/http"
)

// renderRecorder is the http.ResponseWriter an exposition is rendered
// into (Server.exposition), kept to be replayed: what
// net/http/httptest's ResponseRecorder does for it (the status, the
// header map, the body; a Content-Type sniffed from the first write when
// the handler set none, as a server sets it), without linking a testing
// package, and its flag and TLS set-up, into the release binary.
type renderRecorder struct {
	code        int
	header      http.Header
	body        bytes.Buffer
	wroteHeader bool
}

// newRenderRecorder returns a recorder whose status is 200 until the
// handler writes another.
func newRenderRecorder() *renderRecorder {
	return &renderRecorder{code: http.StatusOK, header: make(http.Header)}
}

// Header is the response's header map, changed in place by the handler.
func (rw *renderRecorder) Header() http.Header { return rw.header }

// WriteHeader records the status; only the first call counts. A code
// outside 100-999 panics, as net/http's server does.
func (rw *renderRecorder) WriteHeader(code int) {
	if rw.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	rw.code, rw.wroteHeader = code, true
}

// Write appends to the body; the first write without a status sets 200
// and, when the handler set neither a Content-Type nor a
// Transfer-Encoding, the Content-Type sniffed from b. A status that
// allows no body takes the bytes but says http.ErrBodyNotAllowed.
func (rw *renderRecorder) Write(b []byte) (int, error) {
	if !rw.wroteHeader {
		_, hasType := rw.header["Content-Type"]
		if !hasType && rw.header.Get("Transfer-Encoding") == "" {
			rw.header.Set("Content-Type", http.DetectContentType(b))
		}
		rw.WriteHeader(http.StatusOK)
	}
	rw.body.Write(b)
	if !bodyAllowed(rw.code) {
		return 0, http.ErrBodyNotAllowed
	}
	return len(b), nil
}

// Flush sets the status 200 when none was written; the body is kept
// whole anyway.
func (rw *renderRecorder) Flush() { rw.WriteHeader(http.StatusOK) }

// bodyAllowed says whether a response of status code may have a body
// (not 1xx, 204 or 304).
func bodyAllowed(code int) bool {
	return !(code >= 100 && code <= 199 || code == http.StatusNoContent || code == http.StatusNotModified)
}
