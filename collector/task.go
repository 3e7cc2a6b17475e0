package collector

// This file reads a process's threads: /proc/PID/task/ and each
// task/TID's stat and status (or, with taskstats, one batch of per-thread
// queries instead of the status files).

import (
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// readThreads lists task/ and reads each thread: its stat, and its
// context switches from a per-thread taskstats query when taskstats is in
// use, else from its status file. With every thread's counts it sets the
// process totals to their sum (CtxThreadSum) unless taskstats gave them.
// It returns false when the whole process vanished (task/ is gone).
func (s *scan) readThreads(p *Process, leader *statusFields) bool {
	taskfd, err := s.listTasks(p)
	if taskfd >= 0 {
		defer unix.Close(taskfd)
	}
	if err != nil {
		if IsVanished(err) && !s.present(p) {
			return false
		}
		if IsVanished(err) {
			err = errNotPresent
		}
		s.problem(p, "task", err)
		s.readTaskstats(p)
		return true
	}
	p.Threads = s.threadSlots(len(s.tids))
	p.Read |= SrcTasks
	batched := s.threadTaskstatsBatch(p, leader)
	next := 0 // index in s.tsTids
	allCounted := true
	var vol, invol uint64
	for _, tid := range s.tids {
		t, ok := s.readThread(p, taskfd, tid, leader, batched, &next)
		if !ok {
			continue
		}
		if t.HasStatus {
			vol += t.VolCtx
			invol += t.InvolCtx
		} else {
			allCounted = false
		}
		p.Threads = append(p.Threads, t)
	}
	if len(p.Threads) == 0 && p.Unavailable["task"] == ReasonNotPresent {
		p.Read &^= SrcTasks // no task/ in this tree: threads not read
		s.readTaskstats(p)
		return true
	}
	if p.CtxSource != CtxTaskstats && allCounted && len(p.Threads) > 0 {
		p.VolCtx, p.InvolCtx = vol, invol
		p.CtxSource = CtxThreadSum
	}
	return true
}

// listTasks fills s.tids, sorted, with the process's thread ids, and
// returns its task/ directory open (or -1: the caller closes it). A
// single-threaded process (most processes of a typical machine) has one
// task, the leader: task/ is not listed. A zombie leader may have one
// other live thread, so its task/ is.
func (s *scan) listTasks(p *Process) (taskfd int, err error) {
	if p.NumThreads == 1 && p.State != 'Z' && p.Read&SrcStat != 0 {
		s.tids = append(s.tids[:0], p.PID)
		return -1, nil
	}
	taskfd, err = openPath(s.path.set(p.PID, 0, "task"), unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	s.tids, err = listNumericFD(taskfd, s.dirBuf, s.tids[:0])
	slices.Sort(s.tids)
	return taskfd, err
}

// threadTaskstatsBatch asks taskstats, in one batch, for the counts of
// every thread but the leader when its status was read this scan
// (leaderCounted) and for the process's own TGID totals. It returns false
// when taskstats is not in use.
func (s *scan) threadTaskstatsBatch(p *Process, leader *statusFields) bool {
	s.tsTids = s.tsTids[:0]
	for _, tid := range s.tids {
		if tid != p.PID || !leaderCounted(p, leader) {
			s.tsTids = append(s.tsTids, tid)
		}
	}
	var ok bool
	s.tsRecs, s.tsErrs, ok = s.r.ts.queryBatch(p.PID, s.tsTids, s.tsRecs, s.tsErrs)
	if !ok {
		return false
	}
	s.applyTGID(p, s.tsRecs[0], s.tsErrs[0])
	return true
}

// threadFile returns where task/TID/name is: in the open task/ (taskfd)
// when there is one.
func (s *scan) threadFile(pid, taskfd, tid int, name string) (dirfd uintptr, path []byte) {
	if taskfd < 0 {
		return atFDCWD, s.path.set(pid, tid, name)
	}
	s.rel = strconv.AppendInt(s.rel[:0], int64(tid), 10)
	s.rel = append(append(append(s.rel, '/'), name...), 0)
	return uintptr(taskfd), s.rel
}

// readThread reads thread tid of p: its stat, and its context switches
// from the leader's status, the taskstats batch or its own status file.
// ok is false when the thread vanished or its stat could not be read (a
// problem is recorded for the latter).
func (s *scan) readThread(p *Process, taskfd, tid int, leader *statusFields, batched bool, next *int) (t Thread, ok bool) {
	t.TID = tid
	dirfd, path := s.threadFile(p.PID, taskfd, tid, "stat")
	st, err := readStat(dirfd, path, &s.buf)
	if err != nil {
		switch {
		case IsVanished(err) && taskfd < 0 && tid == p.PID && s.present(p):
			// The single-threaded shortcut found no task/ at all: a
			// tree without it, not a thread that exited.
			s.problem(p, "task", errNotPresent)
		case IsVanished(err):
			s.counts.VanishedThreads++
		default:
			s.problem(p, "task/"+strconv.Itoa(tid)+"/stat", err)
		}
		return t, false
	}
	t.StartTicks = st.starttime
	if string(st.comm) == p.Comm {
		t.Comm = p.Comm
	} else {
		t.Comm = s.memo.comm(st.comm)
	}
	t.State = st.state
	t.UTimeTicks, t.STimeTicks = st.utime, st.stime
	t.Processor = st.processor
	t.Priority, t.Nice = st.priority, st.nice
	switch {
	case tid == p.PID && leaderCounted(p, leader):
		// The leader's task status is /proc/PID/status, read already.
		t.HasStatus = true
		t.VolCtx, t.InvolCtx = leader.vol, leader.invol
	case batched && s.threadTaskstats(&t, next):
		s.updateLeader(p, &t)
	default:
		dirfd, path = s.threadFile(p.PID, taskfd, tid, "status")
		sf, err := readStatus(dirfd, path, &s.buf)
		switch {
		case err == nil:
			t.HasStatus = sf.has&hasVol != 0
			t.VolCtx, t.InvolCtx = sf.vol, sf.invol
			s.updateLeader(p, &t)
		case IsVanished(err) && !s.r.procfs && s.threadThere(p.PID, tid, st.starttime):
			// A tree another program wrote: the thread is there
			// without a status (its switches are not present).
			s.problem(p, "task/"+strconv.Itoa(tid)+"/status", errNotPresent)
		case IsVanished(err):
			s.counts.VanishedThreads++
			return t, false
		default:
			s.problem(p, "task/"+strconv.Itoa(tid)+"/status", err)
		}
	}
	return t, true
}

// leaderCounted reports whether the leader's context switches come from
// the process's status, read in this scan (leader holds its fields); a
// status reused from an earlier scan (Options.StatusTTL) left leader
// zero, and its counts are old.
func leaderCounted(p *Process, leader *statusFields) bool {
	return p.Read&SrcStatus != 0 && leader.has&hasVol != 0
}

// updateLeader takes the leader's context switches, read just now from
// its taskstats reply or task status, into the process's LeaderVol and
// LeaderInv when its status was reused from an earlier scan.
func (s *scan) updateLeader(p *Process, t *Thread) {
	if t.TID == p.PID && t.HasStatus && p.Read&SrcStatus != 0 {
		p.LeaderVol, p.LeaderInv = t.VolCtx, t.InvolCtx
	}
}

// threadThere reports whether thread tid of pid, whose status was not
// found, is still there: its stat, read again, has the same start ticks.
func (s *scan) threadThere(pid, tid int, start uint64) bool {
	return sameStart(s.path.set(pid, tid, "stat"), &s.buf, start) == nil
}

// threadTaskstats fills a thread's context switches and run-queue delay
// from the batch of per-thread taskstats replies (s.tsTids, sorted, read
// from *next on); false means use its status file.
func (s *scan) threadTaskstats(t *Thread, next *int) bool {
	i := *next
	for i < len(s.tsTids) && s.tsTids[i] < t.TID {
		i++
	}
	*next = i
	// Reply i+1: the TGID reply comes first.
	if i >= len(s.tsTids) || s.tsTids[i] != t.TID || s.tsErrs[i+1] != nil {
		return false
	}
	rec := s.tsRecs[i+1]
	t.HasStatus = true
	t.VolCtx, t.InvolCtx = rec.nvcsw, rec.nivcsw
	t.CPUDelayNs = rec.cpuDelayNs
	return true
}
