package record

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pinspect/pinspect/collector/monitor"
)

// Player is a frame source over a record (`pinspect replay`): it
// publishes the frame of one recorded sample at a time and moves through
// the record when asked (Step, JumpTo). It has the methods of a *monitor.Monitor
// that the dashboard uses (Subscribe, Latest, SetInterval, SetPaused,
// Focus), so the dashboard shows a recorded frame as it shows a live one.
// Reads happen on Run's goroutine, never on the caller's.
type Player struct {
	st  *Store
	out *monitor.Fanout

	mu    sync.Mutex
	i     int // the sample shown
	want  int // the sample asked for
	focus int
	seq   uint64
	err   error
	// notice is what the frame just published has to say once (damaged
	// samples stepped over); TakeNotice hands it out and clears it.
	notice string
	wake   chan struct{}
}

// NewPlayer makes a player showing sample start (an index of st); Run
// must be running for anything to be shown.
func NewPlayer(st *Store, start int) *Player {
	return &Player{st: st, out: monitor.NewFanout(0), i: -1, want: start, wake: make(chan struct{}, 1)}
}

// Run loads and publishes the frames asked for until ctx is done.
func (p *Player) Run(ctx context.Context) error {
	for {
		p.mu.Lock()
		want, cur, focus := p.want, p.i, p.focus
		p.mu.Unlock()
		p.load(want, cur, focus)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		}
	}
}

// load publishes sample want (clamped to the record), with its focus. A
// damaged sample is stepped over in the direction of travel to the next
// readable one; when there is none that way, the sample shown stays (at
// the start, the nearest readable one before is shown). The notice says
// which samples were skipped and why (TakeNotice).
func (p *Player) load(want, cur, focus int) {
	n := p.st.Len()
	want = max(0, min(want, n-1))
	if want == cur && p.out.Latest() != nil && (p.out.Latest().Focus == nil) == (focus == 0) &&
		(focus == 0 || p.out.Latest().Focus.PID == focus) {
		return
	}
	dir := 1
	if cur >= 0 && want < cur {
		dir = -1
	}
	at, s, skipped, firstErr, err := p.st.ReadReadable(want, dir)
	outcome := ""
	if err != nil && skipped > 0 {
		way := "after"
		if dir < 0 {
			way = "before"
		}
		if cur >= 0 {
			outcome = fmt.Sprintf("no readable sample %s: still at sample %d", way, cur+1)
			at = cur
			s, err = p.st.Read(cur)
		} else if at, s, _, _, err = p.st.ReadReadable(want-1, -1); err == nil {
			outcome = fmt.Sprintf("no readable sample after: showing sample %d", at+1)
		}
	}
	notice := ""
	if skipped > 0 {
		notice = DamageNotice(p.st, want, dir, skipped, outcome, firstErr)
	}
	var prev *Sample
	if err == nil && at > 0 {
		prev, _ = p.st.Read(at - 1)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.want, p.err = want, err
		return
	}
	p.i, p.want, p.err = at, at, nil
	// A notice not yet taken stays: this frame may be a reload for a new
	// focus that a viewer coalesces with the one the notice is about.
	if notice != "" {
		p.notice = notice
	}
	p.seq++
	f := Frame(prev, s, focus)
	f.Seq = p.seq
	p.out.Publish(f)
}

// DamageNotice says which damaged samples a step skipped (skipped of
// them from sample first, an index, on in direction dir), what was shown
// instead when that was not the next sample (outcome, "" for none), and
// then the first one's error, which says where it is and what is wrong:
// a status line shows the start of it.
func DamageNotice(st *Store, first, dir, skipped int, outcome string, err error) string {
	at := func(i int) string { return st.Meta(i).TakenAt.Local().Format("15:04:05") }
	n := st.Len()
	var b strings.Builder
	if skipped == 1 {
		fmt.Fprintf(&b, "damaged sample %d/%d (%s) skipped", first+1, n, at(first))
	} else {
		lo, hi := min(first, first+dir*(skipped-1)), max(first, first+dir*(skipped-1))
		fmt.Fprintf(&b, "damaged samples %d to %d of %d (%s to %s) skipped", lo+1, hi+1, n, at(lo), at(hi))
	}
	if outcome != "" {
		b.WriteString(", " + outcome)
	}
	fmt.Fprintf(&b, ": %v", err)
	return b.String()
}

// TakeNotice returns, once, what the frame last published has to say
// (damaged samples stepped over to reach it); "" when nothing.
func (p *Player) TakeNotice() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.notice
	p.notice = ""
	return n
}

func (p *Player) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Step moves n samples in recorded order (negative: back).
func (p *Player) Step(n int) {
	p.mu.Lock()
	p.want = max(0, min(p.want+n, p.st.Len()-1))
	p.mu.Unlock()
	p.poke()
}

// JumpTo shows the sample at time t (Store.Find).
func (p *Player) JumpTo(t time.Time) error {
	i, ok := p.st.Find(t)
	if !ok {
		first, _ := p.st.Span()
		if first.IsZero() {
			return errors.New("the record holds no samples")
		}
		return fmt.Errorf("the record starts at %s", first.Local().Format(time.RFC3339))
	}
	p.mu.Lock()
	p.want = i
	p.mu.Unlock()
	p.poke()
	return nil
}

// Where says which sample is shown, for a header.
func (p *Player) Where() string {
	p.mu.Lock()
	i, err := p.i, p.err
	p.mu.Unlock()
	if err != nil {
		return "error: " + err.Error()
	}
	if i < 0 {
		return "loading"
	}
	m := p.st.Meta(i)
	return fmt.Sprintf("%s  sample %d/%d", m.TakenAt.Local().Format("2006-01-02 15:04:05"), i+1, p.st.Len())
}

// Err is the last read error ("" once a sample is shown again).
func (p *Player) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Subscribe returns a channel of frames and its cancel function.
func (p *Player) Subscribe() (<-chan *monitor.Frame, func()) { return p.out.Subscribe() }

// Latest returns the frame shown, nil before the first.
func (p *Player) Latest() *monitor.Frame { return p.out.Latest() }

// SetInterval does nothing: the record's interval is its own.
func (p *Player) SetInterval(time.Duration) {}

// SetPaused does nothing: a replay moves only when asked.
func (p *Player) SetPaused(bool) {}

// Focus shows pid's threads (as recorded) in the following frames.
func (p *Player) Focus(pid int) {
	p.mu.Lock()
	p.focus = pid
	p.mu.Unlock()
	p.poke()
}
