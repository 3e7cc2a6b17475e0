package collector

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
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

// SchedStatSum sums the schedstat of every live thread of pid (the
// task/TID/schedstat files: the process-wide /proc/PID/schedstat is the
// leader's alone) and says how many threads were summed. It returns an
// error wrapping ENOENT or ESRCH when the process is gone. Threads that
// exited are not in the sum: a delta between two sums loses their last
// counts. It is safe for concurrent use.
func (r *Reader) SchedStatSum(pid int) (sum SchedStat, threads int, err error) {
	if r.closed.Load() {
		return sum, 0, ErrClosed
	}
	pb := newPathBuf(r.opts.Root)
	taskfd, err := openPath(pb.set(pid, 0, "task"), unix.O_DIRECTORY)
	if err != nil {
		return sum, 0, r.FileError(pid, "task", err)
	}
	defer unix.Close(taskfd)
	tids, err := listNumericFD(taskfd, make([]byte, 16<<10), nil)
	if err != nil {
		return sum, 0, r.FileError(pid, "task", err)
	}
	buf, rel := make([]byte, 0, 128), make([]byte, 0, 32)
	for _, tid := range tids {
		rel = strconv.AppendInt(rel[:0], int64(tid), 10)
		rel = append(append(rel, "/schedstat"...), 0)
		s, err := readSchedstat(uintptr(taskfd), rel, &buf)
		switch {
		case err == nil:
			sum.RunNs, sum.WaitNs, sum.Slices = addSat(sum.RunNs, s.RunNs), addSat(sum.WaitNs, s.WaitNs), addSat(sum.Slices, s.Slices)
			threads++
		case IsVanished(err):
		default:
			return sum, threads, r.FileError(pid, "task/"+strconv.Itoa(tid)+"/schedstat", err)
		}
	}
	return sum, threads, nil
}
