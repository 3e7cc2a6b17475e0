package collector

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
