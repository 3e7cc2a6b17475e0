package dashboard

import (
	"time"

	"github.com/pinspect/pinspect/collector/monitor"
)

// Source publishes Frames to the dashboard and takes its requests. A
// *monitor.Monitor satisfies it, and so does a remote client. Every method
// must return promptly: they are called from the UI goroutine.
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
