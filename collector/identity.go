package collector

import (
	"errors"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector/taskiter"
)

// Identity is who a pid (or a thread id) is at the moment it was read:
// enough to tell it from a later process with the same pid, and to name
// it. It is what a kernel event source needs to complete an event (a
// fork, an exec, an exit), and nothing more: a lookup reads stat, and
// exe when asked.
type Identity struct {
	// PID is the pid asked about (the thread id for a thread lookup).
	PID int
	// StartTicks is stat's starttime: with the pid, the identity.
	StartTicks uint64
	// Comm is the raw comm (not sanitised).
	Comm  string
	State byte
	PPID  int
	PGID  int
	SID   int
	// NumThreads counts the live threads of the process, the leader
	// included while it is a zombie.
	NumThreads int64
	// ExitCode is stat field 52, the wait status of an exited (zombie)
	// task; -1 when absent, or when the reader has no CAP_SYS_PTRACE: the
	// field is [PT] (the kernel writes 0 for a reader that may not ptrace
	// the task), and a lookup reads no status to tell.
	ExitCode int64
	// Exe is the executable's path with the kernel's " (deleted)" mark
	// cut off (ExeDeleted says it was there: unchecked here, unlike a
	// scan's, so a file whose own name ends in the mark reads as
	// deleted; see readExe); "" when not asked for, or the process has
	// none (a kernel thread, a zombie).
	Exe        string
	ExeDeleted bool
	// ExeErr is why exe could not be read (permission, a timeout); nil
	// when it was read or the process has none.
	ExeErr error
}

// ID returns the identity as a process ID (pid and start ticks).
func (i *Identity) ID() ID { return ID{PID: i.PID, StartTicks: i.StartTicks} }

// IdentityQuery asks for one identity (Reader.Identities).
type IdentityQuery struct {
	// PID is the process.
	PID int
	// TID, when not 0, asks for the thread TID of process PID
	// (task/TID/stat) instead of the process.
	TID int
	// Exe also reads the process's exe link (not for a thread).
	Exe bool
}

// IdentityResult is the answer to one IdentityQuery: the identity, or
// the error of its stat read (IsVanished when the pid or thread is gone,
// IsDenied, a malformed stat, or ErrTimeout).
type IdentityResult struct {
	Identity
	Err error
}

// Identity reads who pid is now (its stat or the identity program's
// answer, and its exe link with exe).
// The error wraps ENOENT or ESRCH (IsVanished) when the process is gone.
// It is safe for concurrent use.
func (r *Reader) Identity(pid int, exe bool) (Identity, error) {
	var one [1]IdentityResult
	res := r.Identities([]IdentityQuery{{PID: pid, Exe: exe}}, one[:0])
	return res[0].Identity, res[0].Err
}

// Identities answers each query, appending one result per query to out
// (in query order) and returning it. With Options.BPFIdentities and the
// identity program loaded, the process queries are answered by one run
// of it (bpfIdentities); the rest read stat. The files are read on the caller's
// goroutine, as a scan reads them, with raw system calls (rawread.go):
// neither file takes a lock the target can hold for long (stat reads the
// task's counters under its own spinlocks, the exe link the mm's file
// under RCU), unlike cmdline and the memory maps, which take the target's
// mmap lock and go to the read workers. A kernel event source calls it
// for every burst of events: on a worker thread each burst paid two
// thread switches and a timer (about 40 µs, most of an event's cost in
// serve), and with calls the scheduler is told of, a wake-up of its
// monitor thread. It is safe for concurrent use.
func (r *Reader) Identities(qs []IdentityQuery, out []IdentityResult) []IdentityResult {
	if r.closed.Load() {
		for _, q := range qs {
			out = append(out, IdentityResult{Identity: Identity{PID: q.PID, ExitCode: -1}, Err: ErrClosed})
		}
		return out
	}
	w := r.identWork.Get().(*identityWork)
	defer r.identWork.Put(w)
	fromBPF := r.bpfIdentities(qs, w)
	k := 0 // w.ids[k] answers the next process query
	for _, q := range qs {
		res := IdentityResult{Identity: Identity{PID: q.PID, ExitCode: -1}}
		file := "stat"
		if q.TID != 0 {
			res.PID = q.TID
			file = "task/" + strconv.Itoa(q.TID) + "/stat"
		} else if fromBPF {
			id := &w.ids[k]
			k++
			if id.Found && !id.Kernel {
				// The kernel's own fields, as stat shows them. A kernel
				// thread's name may be longer than its comm, and a pid
				// the program did not find may still be in /proc (a
				// sandbox can hide its init from BPF): /proc says.
				r.applyBPFIdentity(&res, id)
				r.readIdentityExe(&res, q, w)
				r.identsFromBPF.Add(1)
				out = append(out, res)
				continue
			}
		}
		st, err := r.readIdentityStat(w.pb.set(q.PID, q.TID, "stat"), &w.buf)
		if err != nil {
			res.Err = r.FileError(q.PID, file, err)
		} else {
			res.StartTicks, res.Comm, res.State = st.starttime, string(st.comm), st.state
			res.PPID, res.PGID, res.SID = int(st.ppid), int(st.pgid), int(st.sid)
			res.NumThreads = st.numThreads
			if r.creds.CapSysPtrace {
				res.ExitCode = exitStatus(st.state, st.exitCode)
			}
		}
		r.readIdentityExe(&res, q, w)
		out = append(out, res)
	}
	if cap(w.buf) > 1<<20 {
		w.buf = nil
	}
	return out
}

// readIdentityStat reads a stat file for Identities: with a raw system
// call from a proc filesystem (rawread.go), whose stat files do not wait
// on their task; from a tree another program wrote (Options.Root on NFS,
// FUSE or 9p, say), the ordinary way, since a raw call that blocked there
// would hold its P and stop the program's garbage collection with it.
func (r *Reader) readIdentityStat(path []byte, buf *[]byte) (statFields, error) {
	if r.procfs {
		return readStatRaw(path, buf)
	}
	return readStat(atFDCWD, path, buf)
}

// readIdentityExe reads the exe link of q's process into res when q asks
// for it and the process was found.
func (r *Reader) readIdentityExe(res *IdentityResult, q IdentityQuery, w *identityWork) {
	if !q.Exe || q.TID != 0 || res.Err != nil {
		return
	}
	readLink := readExe
	if r.procfs {
		readLink = readExeRaw // see rawread.go
	}
	exe, deleted, err := readLink(w.pb.set(q.PID, 0, "exe"), w.link)
	switch {
	case err == nil:
		res.Exe, res.ExeDeleted = exe, deleted
	case errors.Is(err, unix.ENOENT):
		// No executable: a kernel thread or a zombie.
	default:
		res.ExeErr = r.FileError(q.PID, "exe", err)
	}
}

// bpfIdentities answers the process queries of qs (not the thread ones)
// with one run of the iterator's identity program, into w.ids in query
// order, and reports whether it did: without the program, or when its
// run fails, every query reads /proc.
func (r *Reader) bpfIdentities(qs []IdentityQuery, w *identityWork) bool {
	if r.idents == nil {
		return false
	}
	w.pids = w.pids[:0]
	for _, q := range qs {
		if q.TID == 0 {
			w.pids = append(w.pids, q.PID)
		}
	}
	if len(w.pids) == 0 {
		return false
	}
	var err error
	if w.ids, err = r.idents.Run(w.pids, w.ids[:0]); err != nil || len(w.ids) != len(w.pids) {
		return false
	}
	return true
}

// applyBPFIdentity fills res from the identity program's answer for a
// task it found, as readStat's fields would.
func (r *Reader) applyBPFIdentity(res *IdentityResult, id *taskiter.Ident) {
	t := &id.Task
	res.StartTicks, res.Comm, res.State = t.StartTicks(), string(t.Comm()), t.StateLetter()
	if t.HasParent {
		res.PPID = t.PPID
	}
	res.PGID, res.SID, res.NumThreads = id.PGID, id.SID, int64(id.NumThreads)
	if r.creds.CapSysPtrace {
		res.ExitCode = exitStatus(res.State, int64(id.ExitCode))
	}
}

// identityWork is one Identities call's buffers, pooled per Reader
// (Reader.identWork): an event source calls it for every burst of
// events.
type identityWork struct {
	buf  []byte
	link []byte
	pb   pathBuf
	// pids and ids are the process queries put to the identity program
	// and its answers (bpfIdentities).
	pids []int
	ids  []taskiter.Ident
}

// exitStatus keeps stat field 52 (task->exit_code) only for a task that
// has exited (Z or X). On a live task the field holds no wait status: a
// process stopped by SIGSTOP shows 19 there in /proc, which would read as
// an exit code; the task iterator reads 0 for the same task.
func exitStatus(state byte, code int64) int64 {
	if state == 'Z' || state == 'X' {
		return code
	}
	return 0
}
