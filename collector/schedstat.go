package collector

import (
	"bytes"
	"errors"
	"fmt"
)

// SchedStat is a task's scheduler accounting from /proc/PID/task/TID/schedstat
// (or /proc/PID/schedstat, which is the leader thread's). The kernel keeps
// it whether or not delay accounting is on (kernel.task_delayacct), so it
// is the one per-thread run-queue wait every kernel since 2.6.23 gives.
type SchedStat struct {
	// RunNs is the time the task has spent on a CPU, in nanoseconds.
	RunNs uint64 `json:"run_ns"`
	// WaitNs is the time the task has spent runnable but waiting in a run
	// queue for a CPU, in nanoseconds.
	WaitNs uint64 `json:"wait_ns"`
	// Slices is the number of times the task was given a CPU (timeslices
	// run): a wait per slice is WaitNs growth over Slices growth.
	Slices uint64 `json:"slices"`
}

// readSchedstat reads and parses a schedstat file at the NUL-terminated
// path, relative to dirfd (atFDCWD for an absolute path), into the reused
// buffer buf.
func readSchedstat(dirfd uintptr, path []byte, buf *[]byte) (SchedStat, error) {
	data, _, err := readSeqIn(dirfd, path, buf, 4096)
	if err != nil {
		return SchedStat{}, err
	}
	return parseSchedstat(data)
}

// errSchedstatFormat is wrapped by every schedstat parse error.
var errSchedstatFormat = errors.New("malformed schedstat")

// parseSchedstat parses "run_ns wait_ns slices\n". Extra fields (none
// today) are ignored; fewer than three, or anything but decimal numbers,
// is an error.
func parseSchedstat(b []byte) (SchedStat, error) {
	var v [3]uint64
	f := bytes.Fields(b)
	if len(f) < 3 {
		return SchedStat{}, fmt.Errorf("%w: %d fields, want 3", errSchedstatFormat, len(f))
	}
	for i := range v {
		n, ok := parseUint(f[i])
		if !ok {
			return SchedStat{}, fmt.Errorf("%w: field %d: bad number %q", errSchedstatFormat, i+1, clip(f[i]))
		}
		v[i] = n
	}
	return SchedStat{RunNs: v[0], WaitNs: v[1], Slices: v[2]}, nil
}
