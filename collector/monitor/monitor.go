package monitor

import (
	"context"
	"sync"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// Options configures a Monitor.
type Options struct {
	// Interval is the sampling interval (default 1 s).
	Interval time.Duration
	// Threads makes every snapshot read threads (per-thread rates).
	Threads bool
	// Connector subscribes to the kernel's process-events connector where
	// available, so processes shorter than the interval are seen.
	Connector bool
}

// Monitor samples a Reader on an interval and publishes Frames. Its
// methods are safe for concurrent use; the Reader is used only by Run.
type Monitor struct {
	r    *collector.Reader
	opts Options

	mu       sync.Mutex
	latest   *Frame
	subs     map[int]chan *Frame
	nextSub  int
	interval time.Duration
	paused   bool
	focus    int
	wake     chan struct{}
}

// New makes a monitor over r. Nothing is read until Run.
func New(r *collector.Reader, o Options) *Monitor {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	return &Monitor{
		r:        r,
		opts:     o,
		subs:     make(map[int]chan *Frame),
		interval: o.Interval,
		wake:     make(chan struct{}, 1),
	}
}

// Run samples until ctx is done and returns ctx's error (or a failure to
// read the root at the first sample).
func (m *Monitor) Run(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// Subscribe returns a channel of frames (buffered 1: a slow reader gets the
// latest frame, and every frame's Events include the events of frames it
// skipped) and a function that cancels the subscription.
func (m *Monitor) Subscribe() (<-chan *Frame, func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.nextSub
	m.nextSub++
	ch := make(chan *Frame, 1)
	m.subs[id] = ch
	return ch, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.subs, id)
	}
}

// Latest returns the last published frame, nil before the first.
func (m *Monitor) Latest() *Frame {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.latest
}

// SetInterval changes the sampling interval from the next tick.
func (m *Monitor) SetInterval(d time.Duration) {
	if d <= 0 {
		return
	}
	m.mu.Lock()
	m.interval = d
	m.mu.Unlock()
	m.poke()
}

// SetPaused pauses or resumes sampling. While paused no frames are
// published (except one marking the pause).
func (m *Monitor) SetPaused(p bool) {
	m.mu.Lock()
	m.paused = p
	m.mu.Unlock()
	m.poke()
}

// Focus makes each frame carry pid's full process and details; 0 clears
// the focus.
func (m *Monitor) Focus(pid int) {
	m.mu.Lock()
	m.focus = pid
	m.mu.Unlock()
	m.poke()
}

func (m *Monitor) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}
