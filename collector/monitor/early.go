package monitor

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// earlyWait bounds how long the early connector's hand-over waits for
// the events it received to be converted.
const earlyWait = 2 * time.Second

// earlyEvents is the proc connector subscribed when Run starts, before
// the ListFirst scan and before the kernel source opens (the BPF
// programs take tens of milliseconds to load and attach, the scan as
// long): a process started and ended in that time is in neither the
// scan nor the source's events, and was missed. Its events until the
// source is live are handed to the source's first take (bridge).
type earlyEvents struct {
	src    *connSource
	cancel context.CancelFunc
	done   chan struct{}
}

// startEarlyEvents subscribes to the connector and converts its events
// until bridge; nil when it cannot subscribe, or r reads another tree
// than the live /proc (as openKernelSource decides).
func startEarlyEvents(r *collector.Reader, o Options) *earlyEvents {
	var st unix.Statfs_t
	if unix.Statfs(r.Root(), &st) != nil || st.Type != unix.PROC_SUPER_MAGIC {
		return nil
	}
	k, err := dialConnector()
	if err != nil {
		return nil
	}
	src := newConnSource(k, newDecoder(r, o.Threads || o.ThreadDemand), o.MaxPending, func() {})
	src.execs = r.NoteExecs
	ctx, cancel := context.WithCancel(context.Background())
	e := &earlyEvents{src: src, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(e.done); src.run(ctx) }()
	return e
}

// stop ends the early connector.
func (e *earlyEvents) stop() {
	e.cancel()
	<-e.done
}

// bridge hands the early connector's events dated before cut, the
// moment main became live, to main's first take, and stops it. A live
// main reports everything from cut on; an event near cut may be in both
// (the tracepoints attach one after another, and a tracepoint and the
// connector stamp one event microseconds apart), so main's events dated
// before cut that the early connector reported too are dropped. Without
// a live main the early events are dropped with the connector: the
// scans say what changed.
func (e *earlyEvents) bridge(main kernelSource, cut time.Time) kernelSource {
	if live, _ := main.status(); !live {
		e.stop()
		return main
	}
	ctx, cancel := context.WithTimeout(context.Background(), earlyWait)
	err := e.src.sync(ctx)
	cancel()
	e.stop()
	k := e.src.take()
	b := &bridged{kernelSource: main, cut: cut, seen: make(map[bridgeKey]bool)}
	for _, ev := range k.Events {
		if ev.Time.Before(cut) {
			b.early = append(b.early, ev)
			b.seen[keyOf(&ev.Event)] = true
		}
	}
	b.lost, b.lostAt = k.LostNote, k.LostAt
	if k.Dropped > 0 || err != nil {
		b.lost = "kernel process events between pinspect's start and its event source's may be missing: not all were converted in time"
		b.lostAt = cut
	}
	return b
}

// bridged is a kernel source whose first take also has the early
// connector's events (earlyEvents.bridge).
type bridged struct {
	kernelSource
	cut    time.Time
	mu     sync.Mutex
	early  []lifecycle.KernelEvent
	lost   string
	lostAt time.Time
	// seen are the early events' keys: main's events before cut with
	// one of them are repeats. nil once a take had only events after
	// cut: the hand-off is over, and takes are not looked through.
	seen map[bridgeKey]bool
}

// bridgeKey names an event reported by both sources near the cut.
type bridgeKey struct {
	typ      lifecycle.EventType
	pid, tid int
}

func keyOf(e *lifecycle.Event) bridgeKey { return bridgeKey{e.Type, e.ID.PID, e.TID} }

func (b *bridged) take() lifecycle.Kernel {
	k := b.kernelSource.take()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seen) > 0 {
		kept := k.Events[:0:0]
		before, after := false, false
		for _, ev := range k.Events {
			if !ev.Time.Before(b.cut) {
				after = true
			} else if before = true; b.seen[keyOf(&ev.Event)] {
				continue
			}
			kept = append(kept, ev)
		}
		k.Events = kept
		if after && !before {
			// main's events come in about the order the kernel stamped
			// them: after a take with only events past cut, none from
			// before it is still to come.
			b.seen = nil
		}
	}
	if b.early != nil {
		k.Events = append(b.early, k.Events...)
		b.early = nil
		if k.LostNote == "" && b.lost != "" {
			k.LostNote, k.LostAt = b.lost, b.lostAt
		}
	}
	return k
}
