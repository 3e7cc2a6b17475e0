package metrics

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// RemoteOptions configure a RemoteSource.
type RemoteOptions struct {
	// Client makes the requests (default: a client whose timeout covers
	// the long-poll). Set its Transport's TLS config for a private CA.
	Client *http.Client
	// Wait is how long one request waits for a new frame (default 20 s).
	Wait time.Duration
	// RetryDelay is the pause after a failed request (default 2 s).
	RetryDelay time.Duration
	// Logger gets connection errors (default: discard).
	Logger *slog.Logger
	// User and Password are basic-auth credentials (User may also come
	// from the URL; a password in the URL is refused: a command line is
	// visible to every local user).
	User, Password string
}

// maxFrameBytes bounds one frame response (a snapshot of 10,000
// processes with threads is a few MB).
const maxFrameBytes = 512 << 20

// RemoteSource is the dashboard's frame source for `pinspect --remote
// URL`: it long-polls a `pinspect serve` agent's frame endpoint and
// publishes the frames it receives. It is read-only: SetInterval and
// Focus change nothing on the agent (the agent's interval is its own;
// the focused process gets the threads the agent's snapshot holds, but no
// details or address space). It has the methods
// of a *monitor.Monitor that the dashboard uses (Subscribe, Latest,
// SetInterval, SetPaused, Focus) plus Run and Err.
type RemoteSource struct {
	base *url.URL
	opts RemoteOptions

	wake chan struct{}

	out *monitor.Fanout // the latest frame and the subscribers (bounded backlog)

	mu     sync.Mutex
	prev   *collector.Snapshot
	seq    uint64 // local frame numbering
	remote uint64 // the agent's last frame number
	paused bool
	focus  int
	err    error
}

// NewRemoteSource checks the agent URL (http or https, optionally with a
// user name; a path prefix is kept; or unix:/path for an agent's unix
// socket) and makes a source. Nothing is fetched until Run.
func NewRemoteSource(rawURL string, o RemoteOptions) (*RemoteSource, error) {
	if path, ok := strings.CutPrefix(rawURL, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("--remote %s: want unix:/absolute/path", rawURL)
		}
		if o.Client == nil {
			o.Client = &http.Client{Timeout: max(o.Wait, 20*time.Second) + 60*time.Second, Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "unix", path)
				}}}
		}
		rawURL = "http://unix-socket"
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--remote: %w", err)
	}
	if _, set := u.User.Password(); set {
		return nil, fmt.Errorf("--remote %s: a password in the URL is visible to every user of this machine (ps shows command lines): give it in --remote.password-file or the PINSPECT_REMOTE_PASSWORD environment variable", u.Redacted())
	}
	if u.User != nil && o.User == "" {
		o.User = u.User.Username()
	}
	u.User = nil
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("--remote %s: want an http:// or https:// URL", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("--remote %s: no host", u.Redacted())
	}
	if o.Wait <= 0 {
		o.Wait = 20 * time.Second
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 2 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Wait + 60*time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &RemoteSource{base: u, opts: o, out: monitor.NewFanout(0), wake: make(chan struct{}, 1)}, nil
}

// URL returns the agent's address with any password hidden.
func (s *RemoteSource) URL() string { return s.base.Redacted() }

// Run polls the agent until ctx is done. Failures are kept (Err) and
// retried; Run returns ctx's error, or at once an error the agent will
// keep giving (401/403: wrong credentials, 404: not a pinspect agent, an
// unsupported frame version).
func (s *RemoteSource) Run(ctx context.Context) error {
	for {
		s.mu.Lock()
		paused := s.paused
		s.mu.Unlock()
		if paused {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.wake:
				continue
			}
		}
		err := s.poll(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		if err == nil {
			continue
		}
		var fe *fatalError
		if errors.As(err, &fe) {
			return err
		}
		s.opts.Logger.Warn("remote agent", "url", s.URL(), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.opts.RetryDelay):
		}
	}
}

// fatalError is an agent answer that retrying will not change.
type fatalError struct{ error }

// Err returns the last polling error, nil after a successful poll.
func (s *RemoteSource) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// poll makes one long-poll request and publishes the frame it returns.
func (s *RemoteSource) poll(ctx context.Context) error {
	s.mu.Lock()
	after := s.remote
	s.mu.Unlock()
	u := *s.base
	u.Path += PathFrame
	u.RawQuery = url.Values{
		"after": {strconv.FormatUint(after, 10)},
		"wait":  {s.opts.Wait.String()},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	if s.opts.User != "" || s.opts.Password != "" {
		req.SetBasicAuth(s.opts.User, s.opts.Password)
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return nil // no new frame within the wait
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &fatalError{fmt.Errorf("agent %s refused the request (%s): check the user and password", s.URL(), resp.Status)}
	case resp.StatusCode == http.StatusNotFound:
		return &fatalError{fmt.Errorf("agent %s has no %s (%s): is it `pinspect serve`?", s.URL(), PathFrame, resp.Status)}
	case resp.StatusCode != http.StatusOK:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("agent %s: %s: %s", s.URL(), resp.Status, strings.TrimSpace(string(msg)))
	}
	if v := resp.Header.Get("X-Pinspect-Frame-Version"); v != strconv.Itoa(FrameVersion) {
		return &fatalError{fmt.Errorf("agent %s speaks frame version %q, this pinspect %d", s.URL(), v, FrameVersion)}
	}
	var wf WireFrame
	if err := gob.NewDecoder(io.LimitReader(resp.Body, maxFrameBytes)).Decode(&wf); err != nil {
		return fmt.Errorf("agent %s: decoding frame: %w", s.URL(), err)
	}
	if wf.Version != FrameVersion || wf.Snapshot == nil {
		return fmt.Errorf("agent %s: malformed frame (version %d)", s.URL(), wf.Version)
	}
	s.publish(&wf)
	return nil
}

// publish turns a wire frame into a Frame (rates recomputed from the
// previous snapshot received) and hands it to subscribers.
func (s *RemoteSource) publish(wf *WireFrame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if wf.Seq < s.remote { // the agent restarted: rates would span two runs
		s.prev = nil
	}
	s.seq++
	note := "remote agent " + s.URL()
	if wf.EventsNote != "" {
		note += ": " + wf.EventsNote
	}
	if wf.EventsLost {
		note += " (some events were dropped between polls)"
	}
	f := &monitor.Frame{
		Seq: s.seq, Snapshot: wf.Snapshot, Events: wf.Events,
		Interval: wf.Interval, EventsLive: wf.EventsLive, EventsNote: note,
		Rates:   lifecycle.ComputeRates(s.prev, wf.Snapshot),
		Zombies: wf.Zombies, Orphans: wf.Orphans, Paused: wf.Paused,
		Focus: focusFrom(wf.Snapshot, s.focus),
	}
	s.prev, s.remote = wf.Snapshot, wf.Seq
	s.out.Publish(f)
}

// Subscribe returns a channel of frames (buffered 1; a slow reader gets
// the skipped frames' events too, up to monitor.DefaultMaxPending) and its
// cancel function.
func (s *RemoteSource) Subscribe() (<-chan *monitor.Frame, func()) { return s.out.Subscribe() }

// Latest returns the last frame received, nil before the first.
func (s *RemoteSource) Latest() *monitor.Frame { return s.out.Latest() }

// SetInterval does nothing: the agent samples at its own interval.
func (s *RemoteSource) SetInterval(time.Duration) {}

// Focus makes the following frames carry pid's process as the agent's
// snapshot has it (with threads when the agent reads them); details and
// the address space are not fetched: the agent is read-only. 0 clears it.
func (s *RemoteSource) Focus(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.focus = pid
}

// focusFrom builds the Focus of pid from a received snapshot.
func focusFrom(snap *collector.Snapshot, pid int) *monitor.Focus {
	if pid <= 0 {
		return nil
	}
	f := &monitor.Focus{PID: pid}
	if p := lifecycle.Find(snap, pid); p != nil {
		f.Process = p
	} else {
		f.Err = "not in the remote agent's latest scan"
	}
	return f
}

// SetPaused stops (true) or resumes (false) polling. A pause publishes
// the latest frame marked Paused; on resume, the events that happened
// meanwhile arrive with the next frame (as far as the agent kept them).
func (s *RemoteSource) SetPaused(p bool) {
	s.mu.Lock()
	changed := s.paused != p
	s.paused = p
	if last := s.out.Latest(); changed && p && last != nil {
		cp := *last
		cp.Paused, cp.Events = true, nil
		s.out.Publish(&cp)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
