package report

import (
	"io"

	"github.com/pinspect/pinspect/views/sanitize"
)

// ZombieHistoryDoc is what the record says about one parent's zombies
// (`zombies --at`): when the first appeared, how fast they accumulate,
// and what the parent was doing then.
type ZombieHistoryDoc struct {
	ParentPID  int    `json:"parent_pid"`
	ParentComm string `json:"parent_comm"`
	// FirstZombieAt is when the oldest zombie was first seen (recorded).
	FirstZombieAt string `json:"first_zombie_at"`
	// BeforeRecording says the first zombie was already there when the
	// recorder started (FirstZombieAt is then the start of recording).
	BeforeRecording bool `json:"before_recording,omitempty"`
	Zombies         int  `json:"zombies"`
	// ZombiesPerHour is the accumulation rate since the first: the
	// zombies after it over the time from it to this sample (absent when
	// it is the only one, or appeared in this sample). With
	// BeforeRecording, the zombies first seen after the sample recording
	// began with, over the time since that sample (those already there
	// have no time of their own): 0, even for a single zombie, says none
	// appeared since.
	ZombiesPerHour *float64 `json:"zombies_per_hour,omitempty"`
	// The parent as recorded in the sample where the first zombie was
	// first seen (absent when that sample is gone or does not hold it).
	ParentStateThen   string   `json:"parent_state_then,omitempty"`
	ParentWChanThen   string   `json:"parent_wchan_then,omitempty"`
	ParentCPUThen     *float64 `json:"parent_cpu_percent_then,omitempty"`
	ParentThreadsThen int64    `json:"parent_threads_then,omitempty"`
	SampleThen        string   `json:"sample_then,omitempty"`
}

// WriteZombieHistoryText prints the record's view of each parent.
func WriteZombieHistoryText(w io.Writer, hs []ZombieHistoryDoc) error {
	if len(hs) == 0 {
		return nil
	}
	ew := &errWriter{w: w}
	ew.printf("\nFrom the record:\n")
	for _, h := range hs {
		if h.BeforeRecording {
			ew.printf("  parent %d (%s): its first zombie was already there when recording began at %s; %d now", h.ParentPID, sanitize.Terminal(h.ParentComm), h.FirstZombieAt, h.Zombies)
		} else {
			ew.printf("  parent %d (%s): first zombie at %s; %d now", h.ParentPID, sanitize.Terminal(h.ParentComm), h.FirstZombieAt, h.Zombies)
		}
		if h.ZombiesPerHour != nil {
			ew.printf(", accumulating at %.1f an hour", *h.ZombiesPerHour)
		}
		ew.printf("\n")
		if h.ParentStateThen != "" {
			ew.printf("    then (sample of %s) the parent was %s", h.SampleThen, h.ParentStateThen)
			if h.ParentWChanThen != "" {
				ew.printf(", blocked in %s", sanitize.Terminal(h.ParentWChanThen))
			}
			if h.ParentCPUThen != nil {
				ew.printf(", %.1f%% CPU", *h.ParentCPUThen)
			}
			if h.ParentThreadsThen == 1 {
				ew.printf(", 1 thread")
			} else if h.ParentThreadsThen > 1 {
				ew.printf(", %d threads", h.ParentThreadsThen)
			}
			ew.printf("\n")
		}
	}
	return ew.err
}
