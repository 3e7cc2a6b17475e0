package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// PathExplain is `pinspect explain PID` over HTTP: GET
// /api/v1/explain/{pid}[?window=2s] answers with the pinspect.explain/v1
// document after sampling the process for the window.
const PathExplain = "/api/v1/explain/"

// Bounds of the explain endpoint's window: a request holds the one
// explain slot for that long.
const (
	ExplainDefaultWindow = 2 * time.Second
	ExplainMinWindow     = 500 * time.Millisecond
	ExplainMaxWindow     = 10 * time.Second
)

// ExplainRequest is what an ExplainDoc builder is asked for.
type ExplainRequest struct {
	PID    int
	Window time.Duration
	// Client is who asks: a client that may not see the process in full
	// (Client.MaySee) gets it sampled as an unprivileged reader would.
	Client Client
	// HidesOthers is true when the /proc hides other users' processes: a
	// process the client may not see is then "not found".
	HidesOthers bool
}

// ExplainFunc builds the explain document of a process; (nil, nil) for a
// process that does not exist (or exited during the window, or that the
// client may not know of). It must give a client no more than the
// server's access rules allow (Client.MaySee).
type ExplainFunc func(ctx context.Context, req ExplainRequest) (any, error)

// The explain budget: each explain samples for seconds and reads two
// snapshots of the machine, so explainSlots run at once, one per client;
// a client's further requests wait for its turn, at most
// explainQueued of them (the others get 503 at once).
const (
	explainSlots  = 2
	explainQueued = 3
)

// handleExplain serves GET /api/v1/explain/{pid}.
func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request) {
	if s.explainFn == nil {
		httpError(w, http.StatusNotFound, "explain is not served by this agent")
		return
	}
	pid, err := parsePID(r.PathValue("pid"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if refuseParams(w, r, PathExplain+"{pid}", "window") {
		return
	}
	window := ExplainDefaultWindow
	if v := r.URL.Query().Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < ExplainMinWindow || d > ExplainMaxWindow {
			httpError(w, http.StatusBadRequest, "window: want a duration from "+ExplainMinWindow.String()+" to "+ExplainMaxWindow.String())
			return
		}
		window = d
	}
	// explain samples as an unprivileged reader would (docs/SECURITY.md),
	// so any client may ask; under hidepid only about what it may see.
	if client := ClientOf(r.Context()); !client.Full && s.opts.HidesOthers {
		var p *collector.Process
		if f := s.src.Latest(); f != nil && f.Snapshot != nil {
			p = lifecycle.Find(f.Snapshot, pid)
		}
		if p == nil || !client.MaySee(p) {
			httpError(w, http.StatusNotFound, "no such process: "+strconv.Itoa(pid))
			return
		}
	}
	release, ok := s.explain.acquire(r.Context(), ClientOf(r.Context()).Key, slotWait)
	if !ok {
		if r.Context().Err() == nil {
			s.busy(w, "too many explains at once (two at a time, one per client)")
		}
		return
	}
	defer release()
	doc, err := s.explainFn(r.Context(), ExplainRequest{PID: pid, Window: window, Client: ClientOf(r.Context()), HidesOthers: s.opts.HidesOthers})
	switch {
	case r.Context().Err() != nil:
		return // the client went away
	case err != nil:
		s.opts.Logger.Warn("explain", "pid", pid, "err", err)
		httpError(w, http.StatusInternalServerError, "explaining process "+strconv.Itoa(pid)+" failed")
	case doc == nil:
		httpError(w, http.StatusNotFound, "no such process: "+strconv.Itoa(pid))
	default:
		writeJSON(w, r, s.opts.Logger, doc)
	}
}
