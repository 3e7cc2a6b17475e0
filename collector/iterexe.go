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
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pinspect/pinspect/collector/taskiter"
	"golang.org/x/sys/unix"
)

// iterMM is what the pass said of a process's address space that its
// cmdline and exe reads use.
type iterMM struct {
	pid    int
	id     taskiter.ExeID
	hasExe bool
	// randomized: the process's address space is randomised (cmdlinemem.go).
	randomized bool
}

// addrNoRandomize is personality(2)'s ADDR_NO_RANDOMIZE.
const addrNoRandomize = 0x0040000

// stackRandomized reports whether the machine randomises a new program's
// stack (kernel.randomize_va_space at 1 or 2), read once.
var stackRandomized = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/sys/kernel/randomize_va_space")
	v := strings.TrimSpace(string(b))
	return err == nil && (v == "1" || v == "2")
})

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

// resetMMs starts a scan's address spaces and executables afresh.
func (s *scan) resetMMs() {
	s.iterMMs = s.iterMMs[:0]
	clear(s.exes)
}

// noteMM records from its group record what the reads of a process's
// cmdline and exe may use: only for a reader with CAP_SYS_PTRACE.
func (s *scan) noteMM(pid int, g *taskiter.Group) {
	if g.HasMM && s.r.creds.CapSysPtrace {
		s.iterMMs = append(s.iterMMs, iterMM{
			pid: pid, id: g.Exe, hasExe: g.HasExe,
			randomized: g.Personality&addrNoRandomize == 0 && stackRandomized(),
		})
	}
}

// iterMMOf is what the pass said of process pid, when it said anything.
func (s *scan) iterMMOf(pid int) (*iterMM, bool) {
	i, found := slices.BinarySearchFunc(s.iterMMs, pid, func(e iterMM, pid int) int { return e.pid - pid })
	if !found {
		return nil, false
	}
	return &s.iterMMs[i], true
}

// cmdlineAt is where p's cmdline may be read from its memory (pid 0:
// read the file).
func (s *scan) cmdlineAt(p *Process) cmdlineAt {
	mm, ok := s.iterMMOf(p.PID)
	if !ok || !mm.randomized || p.LiveTID != 0 || !p.HasVM {
		return cmdlineAt{}
	}
	l := &p.Layout
	return cmdlineAt{pid: p.PID, argStart: l.ArgStart, argEnd: l.ArgEnd, envStart: l.EnvStart, envEnd: l.EnvEnd}
}

// readIterExe reads p's exe link, or takes the one read for another
// process with the same executable in this pass.
func (s *scan) readIterExe(p *Process, c *procCache, now time.Duration) {
	mm, found := s.iterMMOf(p.PID)
	if !found || !mm.hasExe || p.LiveTID != 0 {
		s.readProcExe(p, c, now)
		return
	}
	id := mm.id
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
