package collector

// This file reads a burst reading of a process's threads for `pinspect
// explain`: each task/TID's stat, and on request its schedstat, wchan and
// syscall (schedstat.go, wchan.go, tasksyscall.go hold their parsers).

import (
	"errors"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// TaskFields chooses what Reader.Tasks reads besides each task's stat.
type TaskFields uint8

// The per-task sources.
const (
	// ProbeSched reads task/TID/schedstat (run time, run-queue wait,
	// slices).
	ProbeSched TaskFields = 1 << iota
	// ProbeWChan reads task/TID/wchan (the kernel function it sleeps in).
	ProbeWChan
	// ProbeSyscall reads task/TID/syscall (the system call it is in;
	// ptrace access, under the read deadline).
	ProbeSyscall
	// ProbeAll is every per-task source.
	ProbeAll = ProbeSched | ProbeWChan | ProbeSyscall
)

// TaskSample is one task (thread) at one instant.
type TaskSample struct {
	TID        int    `json:"tid"`
	StartTicks uint64 `json:"start_ticks"`
	// Comm is the raw thread name (not sanitised).
	Comm       string `json:"comm"`
	State      byte   `json:"state"`
	UTimeTicks uint64 `json:"utime_ticks"`
	STimeTicks uint64 `json:"stime_ticks"`
	// Sched is valid when HasSched.
	Sched    SchedStat `json:"sched"`
	HasSched bool      `json:"has_sched"`
	// WChan is the kernel function the task sleeps in (WChanFunc); valid
	// when HasWChan.
	WChan      string     `json:"wchan,omitempty"`
	WChanState WChanState `json:"wchan_state"`
	HasWChan   bool       `json:"has_wchan"`
	// Syscall is valid when HasSyscall.
	Syscall    TaskSyscall `json:"syscall"`
	HasSyscall bool        `json:"has_syscall"`
}

// TaskSamples is one reading of every thread of a process, with the
// process-wide numbers of its stat at that instant.
type TaskSamples struct {
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
	// State is the process's (its leader thread's) state.
	State byte `json:"state"`
	// RSSBytes is statm's resident pages (the kernel's exact sum, as
	// status's VmRSS; stat's field 24 is the unsummed per-CPU counter:
	// docs/DESIGN.md, "Every number true"); 0 with Unavailable["statm"]
	// set when statm could not be read. MinFlt and MajFlt are from
	// /proc/PID/stat (the whole process, exited threads' faults
	// included).
	RSSBytes uint64 `json:"rss_bytes"`
	MinFlt   uint64 `json:"minflt"`
	MajFlt   uint64 `json:"majflt"`
	// UTimeTicks and STimeTicks are the whole process's CPU times.
	UTimeTicks uint64       `json:"utime_ticks"`
	STimeTicks uint64       `json:"stime_ticks"`
	Tasks      []TaskSample `json:"tasks"`
	// VanishedThreads counts threads that exited while they were read.
	VanishedThreads int `json:"vanished_threads,omitempty"`
	// Unavailable names a per-task source ("schedstat", "wchan",
	// "syscall", "task") that could not be read for some task, with the
	// first reason seen.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

func (s *TaskSamples) miss(src string, err error) {
	if s.Unavailable == nil {
		s.Unavailable = make(map[string]string, 2)
	}
	if _, ok := s.Unavailable[src]; !ok {
		s.Unavailable[src] = Reason(err)
	}
}

// namedReason is a read error whose Reason is its whole message, the
// path read included (Reason alone gives only why: "malformed stat: no
// (comm)" does not say which thread's file).
func namedReason(re *ReadError) error {
	return errors.New(re.Error())
}

// notPresent is err, or errNotPresent when err says a file of pid was
// not found in a tree another program wrote (--proc-root) whose process
// directory is there: the tree left the file out, the process did not
// vanish (tester12 B5: "no such process" for a missing PID/stat).
func (r *Reader) notPresent(pb *pathBuf, pid int, err error) error {
	if IsVanished(err) && !r.procfs && dirThere(pb.set(pid, 0, "")) {
		return errNotPresent
	}
	return err
}

// taskRead is one Tasks call's buffers.
type taskRead struct {
	pb    pathBuf
	buf   []byte
	rel   []byte
	dir   []byte
	tids  []int
	batch batch
}

// Tasks reads every thread of pid: its stat, and the sources in f. It
// returns an error wrapping ENOENT or ESRCH (IsVanished) when the process
// is gone or, with startTicks not zero, when the pid now belongs to
// another process. It is safe for concurrent use; the syscall files are
// read on the on-demand read workers, under the read deadline.
func (r *Reader) Tasks(pid int, startTicks uint64, f TaskFields) (*TaskSamples, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	tr := &taskRead{pb: newPathBuf(r.opts.Root), buf: make([]byte, 0, 4096), dir: make([]byte, 16<<10)}
	st, err := readStat(atFDCWD, tr.pb.set(pid, 0, "stat"), &tr.buf)
	if err != nil {
		return nil, r.FileError(pid, "stat", r.notPresent(&tr.pb, pid, err))
	}
	if startTicks != 0 && st.starttime != startTicks {
		return nil, r.FileError(pid, "stat", errReused)
	}
	s := &TaskSamples{
		PID: pid, StartTicks: st.starttime, State: st.state,
		MinFlt: st.minflt, MajFlt: st.majflt, UTimeTicks: st.utime, STimeTicks: st.stime,
	}
	if m, err := readStatm(tr.pb.set(pid, 0, "statm"), &tr.buf); err == nil {
		s.RSSBytes = mulSat(m.resident, r.pageSz)
	} else {
		s.miss("statm", err)
	}
	taskfd, err := openPath(tr.pb.set(pid, 0, "task"), unix.O_DIRECTORY)
	if err == nil {
		defer unix.Close(taskfd)
		tr.tids, err = listNumericFD(taskfd, tr.dir, tr.tids[:0])
	}
	if err != nil {
		if err = r.notPresent(&tr.pb, pid, err); IsVanished(err) {
			return nil, r.FileError(pid, "task", err)
		}
		s.miss("task", namedReason(r.FileError(pid, "task", err)))
		return s, nil
	}
	slices.Sort(tr.tids)
	s.Tasks = make([]TaskSample, 0, len(tr.tids))
	for _, tid := range tr.tids {
		if t, ok := tr.task(r, s, uintptr(taskfd), tid, f); ok {
			s.Tasks = append(s.Tasks, t)
		}
	}
	if f&ProbeSyscall != 0 && len(s.Tasks) > 0 {
		r.taskSyscalls(tr, s)
	}
	return s, nil
}

// task reads one thread's stat, schedstat and wchan in the open task/
// directory; ok is false when it vanished or its stat is unreadable
// (Unavailable["task"] names the file: a stat that does not parse is
// not a thread asleep, tester12 B5).
func (tr *taskRead) task(r *Reader, s *TaskSamples, taskfd uintptr, tid int, f TaskFields) (TaskSample, bool) {
	t := TaskSample{TID: tid}
	ts, err := readStat(taskfd, tr.relPath(tid, "stat"), &tr.buf)
	if err != nil {
		if IsVanished(err) {
			s.VanishedThreads++
		} else {
			s.miss("task", namedReason(r.FileError(s.PID, "task/"+strconv.Itoa(tid)+"/stat", err)))
		}
		return t, false
	}
	t.StartTicks, t.Comm, t.State = ts.starttime, string(ts.comm), ts.state
	t.UTimeTicks, t.STimeTicks = ts.utime, ts.stime
	if f&ProbeSched != 0 {
		if t.Sched, err = readSchedstat(taskfd, tr.relPath(tid, "schedstat"), &tr.buf); err == nil {
			t.HasSched = true
		} else if !IsVanished(err) {
			s.miss("schedstat", err)
		}
	}
	if f&ProbeWChan != 0 {
		t.WChan, t.WChanState, err = readWChan(taskfd, tr.relPath(tid, "wchan"), &tr.buf)
		switch {
		case err == nil && t.WChanState == WChanHidden:
			s.miss("wchan", unix.EACCES)
		case err == nil:
			t.HasWChan = true
		case !IsVanished(err):
			s.miss("wchan", err)
		}
	}
	return t, true
}

// relPath is "TID/name", NUL-terminated, for a read in the open task/.
func (tr *taskRead) relPath(tid int, name string) []byte {
	tr.rel = strconv.AppendInt(tr.rel[:0], int64(tid), 10)
	tr.rel = append(append(append(tr.rel, '/'), name...), 0)
	return tr.rel
}

// taskSyscalls reads every task's syscall file in one batch under the
// read deadline: the file waits for the task's exec lock, which a process
// stuck in exec holds.
func (r *Reader) taskSyscalls(tr *taskRead, s *TaskSamples) {
	b := &tr.batch
	b.reset(4096)
	for i := range s.Tasks {
		b.add(tr.pb.set(s.PID, s.Tasks[i].TID, "syscall"))
	}
	r.addrSlow.readBatch(b)
	for i := range s.Tasks {
		data, _, err := b.result(i)
		if err == nil {
			s.Tasks[i].Syscall, err = parseTaskSyscall(data)
		}
		if err == nil {
			s.Tasks[i].HasSyscall = true
		} else if !IsVanished(err) {
			s.miss("syscall", err)
		}
	}
}
