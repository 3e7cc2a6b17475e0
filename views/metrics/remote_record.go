package metrics

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// RemotePlayer is the dashboard's source for `pinspect --remote URL --at
// TIME`: it shows an agent's record (serve --record-dir) one sample at a
// time and moves through it when asked, as record.Player does locally.
// It has the Source methods of the dashboard and the Timeline ones (Step,
// JumpTo, Where). Requests run on Run's goroutine.
type RemotePlayer struct {
	base *url.URL
	// user and pass are the basic-auth credentials (RemoteOptions).
	user, pass string
	client     *http.Client
	out        *monitor.Fanout

	mu    sync.Mutex
	at    time.Time // the sample shown (or asked for, before the first)
	step  int       // samples to move from at at the next request
	focus int
	seq   uint64
	where string
	err   error
	// notice is what the frame last published has to say once (damaged
	// samples the agent stepped over, or why the step failed).
	notice  string
	pending bool
	wake    chan struct{}
}

// NewRemotePlayer checks the agent URL (as NewRemoteSource) and makes a
// player starting at the sample shown at t.
func NewRemotePlayer(rawURL string, t time.Time, client *http.Client) (*RemotePlayer, error) {
	return NewRemotePlayerWith(rawURL, t, RemoteOptions{Client: client})
}

// NewRemotePlayerWith is NewRemotePlayer with the options of a
// RemoteSource: credentials (never in the URL), or a unix socket's client.
func NewRemotePlayerWith(rawURL string, t time.Time, o RemoteOptions) (*RemotePlayer, error) {
	client := o.Client
	rs, err := NewRemoteSource(rawURL, o)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	if rs.opts.Client != nil && o.Client == nil && strings.HasPrefix(rawURL, "unix:") {
		client = rs.opts.Client
	}
	return &RemotePlayer{base: rs.base, user: rs.opts.User, pass: rs.opts.Password, client: client, out: monitor.NewFanout(0), at: t, pending: true,
		where: "loading", wake: make(chan struct{}, 1)}, nil
}

// Run fetches the frames asked for until ctx is done, or returns an
// error the agent will keep giving (no record, refused).
func (p *RemotePlayer) Run(ctx context.Context) error {
	for {
		p.mu.Lock()
		pending, at, step := p.pending, p.at, p.step
		p.pending, p.step = false, 0
		p.mu.Unlock()
		if pending {
			if err := p.fetch(ctx, at, step); err != nil {
				var fe *fatalError
				if errors.As(err, &fe) {
					return err
				}
				p.mu.Lock()
				p.err = err
				// The frame shown stays; published again, so that the
				// dashboard redraws and says why the step failed.
				if last := p.out.Latest(); last != nil {
					cp := *last
					p.seq++
					cp.Seq = p.seq
					p.notice = err.Error()
					p.out.Publish(&cp)
				}
				p.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		}
	}
}

// get fetches one recorded frame: the one shown at at, moved by step.
func (p *RemotePlayer) get(ctx context.Context, at time.Time, step int) (*WireFrame, http.Header, error) {
	u := *p.base
	u.Path += PathFrame
	u.RawQuery = url.Values{"at": {at.UTC().Format(time.RFC3339Nano)}, "step": {strconv.Itoa(step)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err == nil && (p.user != "" || p.pass != "") {
		req.SetBasicAuth(p.user, p.pass)
	}
	if err != nil {
		return nil, nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, nil, &fatalError{fmt.Errorf("agent %s refused the request (%s): check the user and password", u.Redacted(), resp.Status)}
	case resp.StatusCode != http.StatusOK:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		err := fmt.Errorf("agent %s: %s: %s", p.base.Redacted(), resp.Status, strings.TrimSpace(string(msg)))
		if resp.StatusCode == http.StatusNotFound && strings.Contains(string(msg), "no record") {
			return nil, nil, &fatalError{err}
		}
		return nil, nil, err
	}
	if v := resp.Header.Get("X-Pinspect-Frame-Version"); v != strconv.Itoa(FrameVersion) {
		return nil, nil, &fatalError{fmt.Errorf("agent %s speaks frame version %q, this pinspect %d", p.base.Redacted(), v, FrameVersion)}
	}
	var wf WireFrame
	if err := gob.NewDecoder(io.LimitReader(resp.Body, maxFrameBytes)).Decode(&wf); err != nil {
		return nil, nil, fmt.Errorf("agent %s: decoding a recorded frame: %w", p.base.Redacted(), err)
	}
	if wf.Snapshot == nil {
		return nil, nil, fmt.Errorf("agent %s: a recorded frame without a snapshot", p.base.Redacted())
	}
	return &wf, resp.Header, nil
}

// fetch gets the frame and the one before it (for rates) and publishes.
func (p *RemotePlayer) fetch(ctx context.Context, at time.Time, step int) error {
	wf, h, err := p.get(ctx, at, step)
	if err != nil {
		return err
	}
	shown, _ := time.Parse(time.RFC3339Nano, h.Get("X-Pinspect-Sample-Time"))
	idx, _ := strconv.Atoi(h.Get("X-Pinspect-Sample-Index"))
	n, _ := strconv.Atoi(h.Get("X-Pinspect-Samples"))
	var rates *lifecycle.Rates
	if idx > 0 {
		if pw, _, err := p.get(ctx, shown, -1); err == nil && pw.Interval == wf.Interval {
			rates = lifecycle.ComputeRates(pw.Snapshot, wf.Snapshot)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at, p.err = shown, nil
	if sk := h.Get(HeaderSkipped); sk != "" {
		p.notice = "agent: " + sk
	}
	p.where = fmt.Sprintf("%s  sample %d/%d (agent)", shown.Local().Format("2006-01-02 15:04:05"), idx+1, n)
	p.seq++
	f := &monitor.Frame{Seq: p.seq, Snapshot: wf.Snapshot, Events: wf.Events, Interval: wf.Interval,
		EventsLive: wf.EventsLive, EventsNote: wf.EventsNote, Rates: rates, Zombies: wf.Zombies, Orphans: wf.Orphans,
		Focus: focusFrom(wf.Snapshot, p.focus)}
	p.out.Publish(f)
	return nil
}

func (p *RemotePlayer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Step moves n samples (negative: back).
func (p *RemotePlayer) Step(n int) {
	p.mu.Lock()
	p.step += n
	p.pending = true
	p.mu.Unlock()
	p.poke()
}

// JumpTo shows the sample at or before t.
func (p *RemotePlayer) JumpTo(t time.Time) error {
	p.mu.Lock()
	p.at, p.step, p.pending = t, 0, true
	p.mu.Unlock()
	p.poke()
	return nil
}

// Where says which sample is shown.
func (p *RemotePlayer) Where() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return "error: " + p.err.Error()
	}
	return p.where
}

// TakeNotice returns, once, what the frame last published has to say
// (damaged samples stepped over on the agent, or why a step failed); ""
// when nothing.
func (p *RemotePlayer) TakeNotice() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.notice
	p.notice = ""
	return n
}

// Subscribe returns a channel of frames and its cancel function.
func (p *RemotePlayer) Subscribe() (<-chan *monitor.Frame, func()) { return p.out.Subscribe() }

// Latest returns the frame shown, nil before the first.
func (p *RemotePlayer) Latest() *monitor.Frame { return p.out.Latest() }

// SetInterval does nothing: the record's interval is its own.
func (p *RemotePlayer) SetInterval(time.Duration) {}

// SetPaused does nothing: a replay moves only when asked.
func (p *RemotePlayer) SetPaused(bool) {}

// Focus shows pid's threads (as recorded) from the next frame on.
func (p *RemotePlayer) Focus(pid int) {
	p.mu.Lock()
	p.focus = pid
	if last := p.out.Latest(); last != nil {
		cp := *last
		cp.Focus = focusFrom(cp.Snapshot, pid)
		p.seq++
		cp.Seq = p.seq
		p.out.Publish(&cp)
	}
	p.mu.Unlock()
}
