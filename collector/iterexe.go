package collector

// One readlink for every process that runs the same executable: the task
// iterator's group record identifies each process's executable
// (mm->exe_file: the mount and dentry its path is made of, its inode and
// device). The kernel makes /proc/PID/exe's link from that mount and
// dentry (d_path), so every process with the same ones has the same link
// (" (deleted)" included), as seen from this process's root. A scan
// reads the link of the first process of each executable as before; when
// a second one comes, it checks that the first process did not exec
// between the pass and its readlink, and then gives the link to every
// process with that executable. The check reads the first process's
// /proc/PID/stat after the readlink: its start time and address-space
// layout (code, data, stack, brk, argument and environment addresses)
// must be the pass's. An exec makes a new address space, with a new
// random stack (and code, for a position-independent program), so a
// process that exec'd after the pass shows another layout; it would have
// to exec a program whose layout is the old one's to the byte, which
// without randomisation means the same program at the same size with
// arguments and environment of the same sizes. Any difference, or a
// failed read, and each process reads its own link.
//
// The check never touches the executable's file system: a stat of
// /proc/PID/exe would follow the link into it (a getattr on FUSE or NFS),
// and on a mount that stops answering it blocked the scan for good, with
// no deadline; readlink and /proc/PID/stat only read the kernel's
// records (stat takes no memory-map lock either). The identities hold
// for one pass only (a dentry freed later may be reused): the map is
// emptied every scan.
//
// Only a reader with CAP_SYS_PTRACE shares links: it may read every
// process's exe link, so sharing gives no process a link its own
// readlink would have refused (the kernel checks ptrace access for each).

import (
	"slices"
	"time"

	"github.com/pinspect/pinspect/collector/taskiter"
)

// iterExe is a process's executable as the pass saw it.
type iterExe struct {
	pid int
	id  taskiter.ExeID
}

// sharedExe is the link read for one executable in this scan: the
// process it was read from (with its start time and layout in the pass),
// and whether the check that it did not exec since passed.
type sharedExe struct {
	pid     int
	start   uint64 // the process's start time (stat's starttime)
	layout  Layout // its address-space layout in the pass
	exe     string
	deleted bool
	checked bool // a second process came: the check was made
	ok      bool // ... and the link is the executable's
}

// exeKey is taskiter.ExeID (an alias: scan.go need not import taskiter).
type exeKey = taskiter.ExeID

// resetExes starts a scan's executables afresh, with room for n
// processes.
func (s *scan) resetExes(n int) {
	s.iterExes, s.exeAt = s.iterExes[:0], 0
	if cap(s.iterExes) < n {
		s.iterExes = make([]iterExe, 0, n)
	}
	clear(s.exes)
}

// noteExe records the executable of a process from its group record.
func (s *scan) noteExe(pid int, g *taskiter.Group) {
	if g.HasExe && s.r.creds.CapSysPtrace {
		s.iterExes = append(s.iterExes, iterExe{pid: pid, id: g.Exe})
	}
}

// readIterExe reads p's exe link, or takes the one read for another
// process with the same executable in this pass.
func (s *scan) readIterExe(p *Process, c *procCache, now time.Duration) {
	i, found := s.findIterExe(p.PID)
	if !found || p.LiveTID != 0 {
		s.readProcExe(p, c, now)
		return
	}
	id := s.iterExes[i].id
	sh := s.exes[id]
	if sh == nil {
		s.readProcExe(p, c, now)
		if p.Read&SrcExe != 0 {
			if s.exes == nil {
				s.exes = make(map[exeKey]*sharedExe)
			}
			s.exes[id] = &sharedExe{pid: p.PID, start: p.StartTicks, layout: p.Layout, exe: p.Exe, deleted: p.ExeDeleted}
		}
		return
	}
	if !sh.checked {
		sh.checked = true
		sh.ok = s.sameAddressSpace(sh)
	}
	if !sh.ok {
		s.readProcExe(p, c, now)
		return
	}
	s.setExe(p, c, now, sh.exe, sh.deleted, nil)
}

// findIterExe is the index of pid's executable in s.iterExes (in pid
// order). readIterIdentities asks in pid order: a cursor moving forward
// finds each in a step or two, where a binary search of 10,000 took
// fourteen (0.7 % of `pinspect --json` at 10,000 processes); a pid
// before the cursor is searched for.
func (s *scan) findIterExe(pid int) (int, bool) {
	e, k := s.iterExes, s.exeAt
	if k > 0 && k <= len(e) && e[k-1].pid >= pid {
		return slices.BinarySearchFunc(e, pid, func(x iterExe, pid int) int { return x.pid - pid })
	}
	for k < len(e) && e[k].pid < pid {
		k++
	}
	s.exeAt = k
	return k, k < len(e) && e[k].pid == pid
}

// sameAddressSpace reports whether sh's process still has the address
// space the pass saw (it did not exec, and its pid was not reused): its
// stat, read now, has the pass's start time and layout. A layout the
// pass did not see in full, or one the kernel masks, is never the same.
func (s *scan) sameAddressSpace(sh *sharedExe) bool {
	if sh.layout.Masked() || !sh.layout.HasExtended {
		return false
	}
	st, err := readStat(atFDCWD, s.path.set(sh.pid, 0, "stat"), &s.buf)
	return err == nil && st.starttime == sh.start && st.layout.HasExtended && st.layout == sh.layout
}
