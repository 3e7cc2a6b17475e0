package collector

import (
	"bytes"
	"fmt"
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

// TaskOwner is a task (a thread id, such as a TracerPid) and the process
// it is a thread of, with that process's command.
type TaskOwner struct {
	// TID is the task asked for; PID its process's (the same for a main
	// thread).
	TID int `json:"tid"`
	PID int `json:"pid"`
	// Comm is the process's command (its stat's comm, as the kernel has
	// it: not sanitised).
	Comm string `json:"comm"`
}

// TaskOwner reads whose thread tid is (its status's Tgid: /proc/TID
// reaches any thread, listed or not) and that process's command (its
// stat's comm). The error wraps ENOENT or ESRCH (IsVanished) when the
// task or its process is gone.
func (r *Reader) TaskOwner(tid int) (TaskOwner, error) {
	if r.closed.Load() {
		return TaskOwner{}, ErrClosed
	}
	pb, buf := newPathBuf(r.opts.Root), make([]byte, 0, 4096)
	sf, err := readStatus(atFDCWD, pb.set(tid, 0, "status"), &buf)
	if err == nil && (sf.has&hasTgid == 0 || sf.tgid <= 0) {
		err = fmt.Errorf("%w: no Tgid", errStatusFormat)
	}
	if err != nil {
		return TaskOwner{}, r.FileError(tid, "status", err)
	}
	o := TaskOwner{TID: tid, PID: int(sf.tgid)}
	st, err := readStat(atFDCWD, pb.set(o.PID, 0, "stat"), &buf)
	if err != nil {
		return TaskOwner{}, r.FileError(o.PID, "stat", err)
	}
	o.Comm = string(st.comm)
	return o, nil
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

// TaskOwnerIn finds, in a snapshot, whose thread tid is (a TracerPid
// read with the snapshot): the process tid itself when it is a main
// thread, else the process one of whose read threads it is. No file is
// read: the dashboard and a record name a tracer with what they hold
// (fix12b: they named it by pid only). ok is false when the snapshot has
// neither (the tracer exited, or its threads were not read).
func TaskOwnerIn(snap *Snapshot, tid int) (o TaskOwner, ok bool) {
	if snap == nil || tid <= 0 {
		return TaskOwner{}, false
	}
	if i, ok := SearchPID(snap.Processes, tid); ok {
		return TaskOwner{TID: tid, PID: tid, Comm: snap.Processes[i].Comm}, true
	}
	for i := range snap.Processes {
		p := &snap.Processes[i]
		for j := range p.Threads {
			if p.Threads[j].TID == tid {
				return TaskOwner{TID: tid, PID: p.PID, Comm: p.Comm}, true
			}
		}
	}
	return TaskOwner{}, false
}
