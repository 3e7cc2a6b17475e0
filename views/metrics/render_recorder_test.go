package metrics

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// TestRenderRecorderAsHTTPTest: the exposition's recorder keeps what
// httptest's ResponseRecorder, which it replaced, kept for the same
// handler: status, header (a sniffed Content-Type included), body, and
// each write's answer.
func TestRenderRecorderAsHTTPTest(t *testing.T) {
	type writes struct {
		n   []int
		err []error
	}
	handlers := map[string]func(http.ResponseWriter) writes{
		"nothing": func(http.ResponseWriter) writes { return writes{} },
		"sniffed html": func(w http.ResponseWriter) writes {
			n, err := w.Write([]byte("<html><body>x</body></html>"))
			return writes{[]int{n}, []error{err}}
		},
		"sniffed text, then more": func(w http.ResponseWriter) writes {
			n1, err1 := w.Write([]byte("# HELP x\n"))
			n2, err2 := w.Write([]byte("<html>"))
			return writes{[]int{n1, n2}, []error{err1, err2}}
		},
		"own type": func(w http.ResponseWriter) writes {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			n, err := w.Write([]byte("<html>"))
			return writes{[]int{n}, []error{err}}
		},
		"transfer encoding": func(w http.ResponseWriter) writes {
			w.Header().Set("Transfer-Encoding", "chunked")
			n, err := w.Write([]byte("abc"))
			return writes{[]int{n}, []error{err}}
		},
		"status first, twice": func(w http.ResponseWriter) writes {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.WriteHeader(http.StatusOK)
			w.Header().Set("Retry-After", "1")
			n, err := w.Write([]byte("not ready\n"))
			return writes{[]int{n}, []error{err}}
		},
		"no body allowed": func(w http.ResponseWriter) writes {
			w.WriteHeader(http.StatusNotModified)
			n, err := w.Write([]byte("x"))
			return writes{[]int{n}, []error{err}}
		},
		"flushed": func(w http.ResponseWriter) writes {
			w.(http.Flusher).Flush()
			w.WriteHeader(http.StatusInternalServerError)
			n, err := w.Write([]byte("{}"))
			return writes{[]int{n}, []error{err}}
		},
	}
	for name, h := range handlers {
		want := httptest.NewRecorder()
		wantW := h(want)
		got := newRenderRecorder()
		gotW := h(got)
		if got.code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) ||
			got.body.String() != want.Body.String() || !reflect.DeepEqual(gotW, wantW) {
			t.Errorf("%s: got %d %v %q %v, httptest has %d %v %q %v", name,
				got.code, got.Header(), got.body.String(), gotW, want.Code, want.Header(), want.Body.String(), wantW)
		}
	}
	for _, code := range []int{0, 99, 1000} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WriteHeader(%d) did not panic", code)
				}
			}()
			newRenderRecorder().WriteHeader(code)
		}()
	}
}
