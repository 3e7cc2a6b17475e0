package collector

import (
	"bytes"
	"strconv"
)

// ThreadTracers reads the TracerPid of each thread tid of pid
// (task/TID/status; world-readable): a tracer may attach to one thread
// alone (strace -p TID, a debugger attached to a worker), and the
// process's own status, the main thread's, then says 0. It returns the
// threads traced (TracerPid not 0), in the order asked; a thread that
// exited, or whose status cannot be read, is left out.
func (r *Reader) ThreadTracers(pid int, tids []int) ([]ThreadTracer, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	pb, buf := newPathBuf(r.opts.Root), make([]byte, 0, 4096)
	var out []ThreadTracer
	for _, tid := range tids {
		sf, err := readStatus(atFDCWD, pb.set(pid, tid, "status"), &buf)
		if err != nil || sf.has&hasTracer == 0 || sf.tracerPID == 0 {
			continue
		}
		out = append(out, ThreadTracer{TID: tid, TracerPID: int(sf.tracerPID)})
	}
	return out, nil
}

// ThreadTracer is a traced thread and the task tracing it (its TracerPid:
// the tracing thread's id, which is the tracer's pid when the tracer has
// one thread).
type ThreadTracer struct {
	TID       int `json:"tid"`
	TracerPID int `json:"tracer_pid"`
}

// childrenMax caps one task/TID/children file (a pid and a space each:
// 32,768 children of one thread are under 200 KiB).
const childrenMax = 256 << 10

// ThreadChildren returns the live children of the threads tids of pid
// (task/TID/children: the processes each thread forked or adopted that
// have not been reaped), every pid once. A thread that exited, or whose
// file cannot be read, adds none.
func (r *Reader) ThreadChildren(pid int, tids []int) ([]int, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	pb, buf := newPathBuf(r.opts.Root), make([]byte, 0, 4096)
	var out []int
	seen := map[int]bool{}
	for _, tid := range tids {
		data, _, err := readSeqIn(atFDCWD, pb.set(pid, tid, "children"), &buf, childrenMax)
		if err != nil {
			continue
		}
		for _, f := range bytes.Fields(data) {
			if c, err := strconv.Atoi(string(f)); err == nil && c > 0 && !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}
