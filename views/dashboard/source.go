package dashboard

import (
	"time"

	"github.com/pinspect/pinspect/collector/monitor"
)

// Source publishes Frames to the dashboard and takes its requests. A
// *monitor.Monitor satisfies it, and so do a remote agent's client and a
// record's player. Every method must return promptly: they are called
// from the UI goroutine.
//
// A Source may also implement ThreadSampler, MemoryFocuser and Timeline;
// the dashboard uses what it finds and says what it cannot do.
type Source interface {
	// Subscribe returns a channel of Frames and a function that ends the
	// subscription. A slow subscriber may miss frames but gets the latest.
	Subscribe() (<-chan *monitor.Frame, func())
	// Latest returns the most recent Frame, or nil before the first.
	Latest() *monitor.Frame
	// SetInterval changes the sampling interval.
	SetInterval(time.Duration)
	// SetPaused stops (true) or resumes (false) sampling.
	SetPaused(bool)
	// Focus asks for the heavy data (threads, address space, details) of
	// one process in the following Frames; 0 clears the focus.
	Focus(pid int)
}

// ThreadSampler is a Source that can read every process's threads on
// each sample (the H key) instead of the focused process's only.
type ThreadSampler interface {
	SampleThreads(all bool)
}

// MemoryFocuser is a Source that can add each mapping's resident memory
// to the focused process's address space (the Memory tab's RSS column);
// it costs a walk of the process's page tables, so the dashboard asks
// only while the tab is shown.
type MemoryFocuser interface {
	FocusMemory(perMapping bool)
}

// Timeline is a Source that moves through a recorded past (a replay):
// the dashboard binds the step keys to it (see the key map) and the
// header says which sample is shown. Its frames are not this machine's
// present: no signal or nice action is offered.
type Timeline interface {
	// Step moves n samples in recorded order (negative: back).
	Step(n int)
	// JumpTo shows the sample at or before t.
	JumpTo(t time.Time) error
	// Where says which sample is shown ("2026-12-01 02:00:05, sample 41
	// of 7200").
	Where() string
}

// TimelineNotices is a Timeline that has something to say once about the
// frame it has just published (a replay that stepped over damaged
// samples to reach it): the status line shows it.
type TimelineNotices interface {
	// TakeNotice returns the notice once ("" when there is none).
	TakeNotice() string
}

var _ interface {
	Source
	ThreadSampler
	MemoryFocuser
} = (*monitor.Monitor)(nil)
