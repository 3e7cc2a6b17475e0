package collector

import (
	"errors"
	"fmt"
)

// DelayTotals is a thread group's delay accounting from taskstats (struct
// taskstats, TGID query): how long its threads, exited ones included,
// waited for block I/O and for swap-in, and how many such waits there
// were. The kernel counts them only while kernel.task_delayacct is on:
// with it off, the totals stand still (usually at 0), so a caller must
// check the sysctl (DelayAcct) before reading them as a measurement.
//
// The kernel keeps delays only for tasks created while delay accounting
// was on: a process started before the sysctl was turned on reports no
// block-I/O or swap-in waits at all (seen on 6.18: 0 waits for a disk
// pool whose threads sat in D), so 0 is a measurement only for a process
// started after it.
type DelayTotals struct {
	BlkioCount    uint64 `json:"blkio_count"`     // blkio_count: block I/O waits
	BlkioDelayNs  uint64 `json:"blkio_delay_ns"`  // blkio_delay_total
	SwapinCount   uint64 `json:"swapin_count"`    // swapin_count: swap-in waits
	SwapinDelayNs uint64 `json:"swapin_delay_ns"` // swapin_delay_total
}

// ErrNoTaskstats is wrapped by Delays' error when this Reader does not use
// taskstats; the error's text says why (e.g. it needs CAP_NET_ADMIN).
var ErrNoTaskstats = errors.New("taskstats not available")

// Delays asks taskstats for pid's thread-group delay totals (one netlink
// round trip, about 10 µs). The error wraps ErrNoTaskstats when the
// Reader does not use taskstats, and a ReadError wrapping ESRCH when the
// process is gone.
func (r *Reader) Delays(pid int) (*DelayTotals, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	rec, err, ok := r.ts.queryTGID(pid)
	if !ok {
		_, why := r.ts.state()
		if why == nil {
			why = errors.New("taskstats not opened")
		}
		return nil, fmt.Errorf("%w: %w", ErrNoTaskstats, why)
	}
	if err != nil {
		return nil, r.FileError(pid, "taskstats", err)
	}
	return &DelayTotals{
		BlkioCount:    rec.blkioCount,
		BlkioDelayNs:  rec.blkioDelayNs,
		SwapinCount:   rec.swapinCount,
		SwapinDelayNs: rec.swapinDelay,
	}, nil
}
