package collector

// One readlink for every process that runs the same executable: the task
// iterator's group record identifies each process's executable
// (mm->exe_file: the mount and dentry its path is made of, its inode and
// device). The kernel makes /proc/PID/exe's link from that mount and
// dentry (d_path), so every process with the same ones has the same link
// (" (deleted)" included), as seen from this process's root. A scan
// reads the link of the first process of each executable as before; when
// a second one comes, it checks that link by the file it leads to
// (stat of the first process's /proc/PID/exe, after its readlink: an
// exec between the pass and the readlink, or between the readlink and
// the stat, shows as another inode) and then gives it to every process
// with that executable. The identities hold for one pass only (a dentry
// freed later may be reused): the map is emptied every scan.
//
// Only a reader with CAP_SYS_PTRACE shares links: it may read every
// process's exe link, so sharing gives no process a link its own
// readlink would have refused (the kernel checks ptrace access for each).

import (
	"slices"
	"time"

	"github.com/pinspect/pinspect/collector/taskiter"
	"golang.org/x/sys/unix"
)

// iterExe is a process's executable as the pass saw it.
type iterExe struct {
	pid int
	id  taskiter.ExeID
}

// sharedExe is the link read for one executable in this scan: the
// process it was read from, and whether the stat check passed.
type sharedExe struct {
	pid     int
	exe     string
	deleted bool
	checked bool // a second process came: the check was made
	ok      bool // ... and the link is the executable's
}

// exeKey is taskiter.ExeID (an alias: scan.go need not import taskiter).
type exeKey = taskiter.ExeID

// resetExes starts a scan's executables afresh.
func (s *scan) resetExes() {
	s.iterExes = s.iterExes[:0]
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
	i, found := slices.BinarySearchFunc(s.iterExes, p.PID, func(e iterExe, pid int) int { return e.pid - pid })
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
			s.exes[id] = &sharedExe{pid: p.PID, exe: p.Exe, deleted: p.ExeDeleted}
		}
		return
	}
	if !sh.checked {
		sh.checked = true
		var st unix.Stat_t
		path := s.path.set(sh.pid, 0, "exe")
		err := unix.Stat(string(path[:len(path)-1]), &st)
		sh.ok = err == nil && st.Ino == id.Ino && st.Dev == id.StatDev()
	}
	if !sh.ok {
		s.readProcExe(p, c, now)
		return
	}
	s.setExe(p, c, now, sh.exe, sh.deleted, nil)
}
