package collector

import "time"

// identityMemo is what a Reader keeps between its scans, per process
// identity (pid + start ticks): the strings that rarely change (cmdline,
// exe, the user name, the pid namespace list) and the interned comms, so
// that a scan neither re-reads nor re-allocates them. The Reader owns it;
// only the scan holding the Reader's scanMu uses it, so it needs no lock
// of its own. A one-process read (Reader.Process) does without it.
type identityMemo struct {
	procs  map[int]*procCache
	gen    uint32 // the generation of the scan using the memo
	intern map[string]string
}

func newIdentityMemo() *identityMemo {
	return &identityMemo{procs: make(map[int]*procCache), intern: make(map[string]string)}
}

// procCache is what the memo keeps about one process.
type procCache struct {
	start   uint64 // identity: with the pid, start ticks
	comm    string // the comm the cmdline and exe were read with
	cmdline []string
	noNUL   bool
	trunc   bool
	cmdOK   bool
	exe     string
	exeDel  bool
	exeOK   bool // exe read, or ENOENT (no executable)
	readAt  time.Duration
	// ran is the process's ranCount when its cmdline and exe were read
	// (0: unknown): while it is the same the process has not run since.
	ran     uint64
	nspids  []int
	seen    uint32 // generation of the last scan that saw it
	user    string
	userUID int
	userOK  bool
	// cgroup, read with the comm cgComm at cgAt when cgOK (cgroup.go).
	cgroup ProcCgroup
	cgComm string
	cgAt   time.Duration
	cgOK   bool
	// status is the process's status fields as last read from its
	// status file, at statusAt with the comm statusComm, when statusOK:
	// a scan of a Reader with Options.StatusTTL reuses them until
	// statusDue (scan.go, reuseStatus).
	status     ProcStatus
	statusAt   time.Duration
	statusDue  time.Duration
	statusComm string
	statusOK   bool
}

// begin starts a scan's generation.
func (m *identityMemo) begin() {
	if m != nil {
		m.gen++
	}
}

// entry returns the cache entry of a process identity, creating or
// replacing it; nil without a memo.
func (m *identityMemo) entry(pid int, start uint64) *procCache {
	if m == nil {
		return nil
	}
	c := m.procs[pid]
	if c == nil || c.start != start {
		c = &procCache{start: start}
		m.procs[pid] = c
	}
	c.seen = m.gen
	return c
}

// sweep drops the entries of processes the scan did not see, and bounds
// the comm intern table.
func (m *identityMemo) sweep() {
	if m == nil {
		return
	}
	for pid, c := range m.procs {
		if c.seen != m.gen {
			delete(m.procs, pid)
		}
	}
	if len(m.intern) > 1<<16 {
		clear(m.intern)
	}
}

// comm returns b as a string, shared with earlier equal comms.
func (m *identityMemo) comm(b []byte) string {
	if m == nil {
		return string(b)
	}
	if s, ok := m.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	m.intern[s] = s
	return s
}

// fresh reports whether c's cmdline and exe may be reused for a process
// now showing comm, at now on the Reader's clock, with the TTL ttl.
func (c *procCache) fresh(comm string, now, ttl time.Duration) bool {
	return c != nil && ttl > 0 && c.cmdOK && c.exeOK && c.comm == comm && now-c.readAt < ttl
}

// idle reports whether c's cmdline and exe may be reused past the TTL for
// p, whose whole-process totals are exact (the task iterator's): p has
// not run since they were read. Its argv and its executable change only
// by its own doing (setproctitle, exec, prctl), and a process that ran
// at all has a context switch or a CPU tick more in its totals, exited
// threads included. Only another process writing its memory (a debugger)
// could change its title unseen.
func (c *procCache) idle(p *Process, ttl time.Duration) bool {
	return c != nil && ttl > 0 && c.cmdOK && c.exeOK && c.comm == p.Comm && c.ran != 0 && c.ran == ranCount(p)
}

// ranCount is a process's context switches plus CPU ticks: counters
// that only grow, so the sum changes whenever any of them does.
func ranCount(p *Process) uint64 {
	return p.VolCtx + p.InvolCtx + p.UTimeTicks + p.STimeTicks
}
