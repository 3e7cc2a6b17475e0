package collector

import "fmt"

// cgroupMax caps a /proc/PID/cgroup read: one line per hierarchy, each
// path at most PATH_MAX.
const cgroupMax = 64 << 10

// readCgroup reads a process's cgroup path from /proc/PID/cgroup (see
// parseCgroupPath). The file names the cgroups the kernel keeps for the
// task; reading it takes no lock of the target, so it is read inline.
func readCgroup(path []byte, buf *[]byte) (string, error) {
	data, trunc, err := readSeqIn(atFDCWD, path, buf, cgroupMax)
	if err == nil && trunc {
		err = ErrTooLarge
	}
	if err != nil {
		return "", err
	}
	return parseCgroupPath(data)
}

// parseCgroupPath returns the cgroup a process is grouped by: its path in
// the unified hierarchy ("0::PATH", where systemd puts services and
// scopes, and container runtimes their containers); on a machine without
// one, in systemd's named v1 hierarchy ("name=systemd"); else in the
// first hierarchy listed.
func parseCgroupPath(b []byte) (string, error) {
	var v2, systemd, first []byte
	err := cgroupLines(b, func(id, ctrls, path []byte) {
		switch {
		case string(id) == "0" && len(ctrls) == 0:
			v2 = path
		case string(ctrls) == "name=systemd":
			systemd = path
		case first == nil:
			first = path
		}
	})
	switch {
	case err != nil:
		return "", err
	case v2 != nil:
		return string(v2), nil
	case systemd != nil:
		return string(systemd), nil
	case first != nil:
		return string(first), nil
	}
	return "", fmt.Errorf("%w: cgroup: no hierarchy", errCgroupFormat)
}

// readProcCgroup reads p's cgroup (ScanOptions.Cgroups). A process gone
// since its other files were read keeps the field unavailable, saying so;
// it is not dropped (it was there when the scan read it).
func (s *scan) readProcCgroup(p *Process) {
	cg, err := readCgroup(s.path.set(p.PID, 0, "cgroup"), &s.buf)
	switch {
	case err == nil:
		p.Cgroup = cg
		p.Read |= SrcCgroup
	case IsVanished(err) && s.present(p):
		s.problem(p, "cgroup", errNotPresent)
	case IsVanished(err):
		markUnavailable(p, "cgroup", Reason(err))
	default:
		s.problem(p, "cgroup", err)
	}
}

// ioChunk is how many processes' io files are read in one batch of the
// read workers: as for cmdlines (cmdlineChunk), the batch amortises the
// handoff and bounds the time between a process's stat and its io.
const ioChunk = cmdlineChunk

// ioMax caps a /proc/PID/io read (seven short lines).
const ioMax = 4096

// readIOs reads the io counters of every process (ScanOptions.IO) in
// batches under the read deadline: the file takes the target's exec lock
// (ptrace access), which a process stuck in execve holds. Another user's
// io is denied without privileges (counted in ScanCounts.Denied); a
// process gone since its other files were read keeps the field
// unavailable, saying so.
func (s *scan) readIOs(procs []Process) {
	b := s.ios
	for from := 0; from < len(procs); from += ioChunk {
		to := min(from+ioChunk, len(procs))
		b.reset(ioMax)
		for i := from; i < to; i++ {
			b.add(s.path.set(procs[i].PID, 0, "io"))
		}
		s.slow.readBatch(b)
		for i := from; i < to; i++ {
			p := &procs[i]
			data, _, err := b.result(i - from)
			if err == nil {
				var c IOCounters
				if c, err = parseProcIO(data); err == nil {
					p.IO, p.Read = c, p.Read|SrcIO
					continue
				}
			}
			switch {
			case IsVanished(err) && s.present(p):
				s.problem(p, "io", errNotPresent)
			case IsVanished(err):
				markUnavailable(p, "io", Reason(err))
			default:
				s.problem(p, "io", err)
			}
		}
	}
	if len(b.data) > 1<<20 {
		b.data = nil
	}
}

// readExtras reads what a scan reads only when asked: cgroups and io.
func (s *scan) readExtras(procs []Process, o ScanOptions) {
	if o.Cgroups {
		for i := range procs {
			s.readProcCgroup(&procs[i])
		}
	}
	if o.IO {
		s.readIOs(procs)
	}
}
