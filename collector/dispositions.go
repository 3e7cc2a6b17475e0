package collector

import (
	"errors"
	"slices"
)

// This file gives back the signal dispositions a task-iterator walk left
// out (Options.BPFSkipDispositions) to the few processes that show them:
// the walk then spares the kernel every process's 64 handlers, and each
// of these few costs one status read.

// errNoDispositions is the problem of a status file without SigIgn and
// SigCgt lines.
var errNoDispositions = errors.New("no SigIgn/SigCgt in status")

// skipsDispositions reports whether a task-iterator scan with options o
// leaves the signal dispositions out of its walk: the Reader's
// Options.BPFSkipDispositions, unless the scan asks for them
// (ScanOptions.Dispositions).
func (r *Reader) skipsDispositions(o ScanOptions) bool {
	return r.opts.BPFSkipDispositions && !o.Dispositions
}

// readDispositions reads SigIgn and SigCgt from /proc/PID/status for the
// processes of procs (sorted by pid) that the walk left them out of and
// that show them: those of ScanOptions.FreshStatus (a detail view) and the
// parents of zombies (a diagnosis names their SIGCHLD handling). A
// process whose status cannot be read, or whose pid has passed to
// another process since the walk, keeps them absent; a read that fails
// for any reason but the process being gone is recorded as a problem
// with status, as a status read in the walk's place would be.
func (s *scan) readDispositions(procs []Process) {
	if !s.skipDisp {
		return
	}
	want := append(s.dispWant[:0], s.freshStatus...)
	for i := range procs {
		if p := &procs[i]; p.IsZombie() && p.PPID > 0 {
			want = append(want, p.PPID)
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	for _, pid := range want {
		i, ok := SearchPID(procs, pid)
		if !ok || !procs[i].SigDispAbsent {
			continue
		}
		s.readDisposition(&procs[i])
	}
	s.dispWant = want[:0]
}

// readDisposition reads p's dispositions from its status, and then its
// stat to prove the pid still belongs to p: a status read (or a failure
// to read it) after the pid was reused would be another process's.
func (s *scan) readDisposition(p *Process) {
	sf, statusErr := readStatus(atFDCWD, s.path.set(p.PID, 0, "status"), &s.buf)
	if IsVanished(statusErr) {
		return
	}
	st, err := readStat(atFDCWD, s.path.set(p.PID, 0, "stat"), &s.buf)
	if err != nil || st.starttime != p.StartTicks {
		return // gone, or its pid is another process's now
	}
	switch {
	case statusErr != nil:
		s.problem(p, "status", statusErr)
	case sf.has&hasSig == 0:
		s.problem(p, "status", errNoDispositions)
	default:
		p.SigIgn, p.SigCgt, p.SigDispAbsent = sf.sigIgn, sf.sigCgt, false
	}
}
