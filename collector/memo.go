package collector

import (
	"slices"
	"time"

	"github.com/pinspect/pinspect/collector/taskiter"
)

// identityMemo is what a Reader keeps between its scans, per process
// identity (pid + start ticks): the strings that rarely change (cmdline,
// exe, the user name, the pid namespace list) and the interned comms, so
// that a scan neither re-reads nor re-allocates them. The Reader owns it;
// only the scan holding the Reader's scanMu uses it, so it needs no lock
// of its own. A one-process read (Reader.Process) does without it.
type identityMemo struct {
	procs map[int]*procCache
	// first holds the entries an empty memo's first scan adds (add), in
	// one array in the pass's pid order (firstPIDs), instead of one
	// allocation and one insert into procs each: a one-shot command's
	// only scan never needs the table (at 10,000 processes the
	// allocations and the inserts were 3 % of `pinspect --json`). A
	// lookup finds them by binary search; the next scan's begin moves
	// them into procs (index).
	first     []procCache
	firstPIDs []int
	gen       uint32 // the generation of the scan using the memo
	intern    map[string]string
}

func newIdentityMemo() *identityMemo {
	return &identityMemo{procs: make(map[int]*procCache), intern: make(map[string]string)}
}

// procCache is what the memo keeps about one process.
type procCache struct {
	start   uint64 // identity: with the pid, start ticks
	comm    string // the comm the cmdline and exe were read with
	cmdline []string
	exe     string
	// due is when cmdline and exe are read again at the latest
	// (cmdlineDue), and args the address-space layout they were read
	// with (argsKeyOf): a new one means an exec or a moved argv.
	due  time.Duration
	args argsKey
	// ran is the process's ranCount when its cmdline and exe were read
	// (0: unknown): while it is the same the process has not run since.
	ran     uint64
	nspids  []int
	user    string
	userUID int
	// cg is the process's cgroup, valid when cgOK (cgroup.go); nil
	// until one is read.
	cg *cgroupMemo
	// io is the process's io counters, read when its ranCount was
	// io.ran: reused while it has not run since (ioIdle); nil when none
	// are kept (only a Reader asked for io keeps them).
	io *ioMemo
	// status is the process's status fields as last read from its
	// status file (nil when none are kept: a task-iterator scan has
	// them from the pass, and only a Reader with Options.StatusTTL
	// keeps them; scan.go, reuseStatus).
	status *statusMemo
	seen   uint32 // generation of the last scan that saw it
	// The flags last, together (each between two words took a word: the
	// entry was 224 bytes, one for every process).
	noNUL, trunc, cmdOK bool // cmdline's
	exeDel              bool
	exeOK               bool // exe read, or ENOENT (no executable)
	userOK              bool
	cgOK                bool
}

// The parts of a procCache that only some Readers use are held behind a
// pointer: a dashboard on the task iterator keeps an entry for every
// process (about 2,000 on the bench workload) and needs neither, and the
// status alone is 270 bytes.

// cgroupMemo is a process's cgroup, read with the comm comm, read again
// at the latest at due. Behind a pointer: only a Reader asked for
// cgroups reads them, and in every entry they took a third of its 320
// bytes (1 MB at 10,000 processes for a one-shot `pinspect --json`).
type cgroupMemo struct {
	cgroup ProcCgroup
	comm   string
	due    time.Duration
	// id is the walk's cgroup id the path was read under, when idOK (the
	// path is the unified hierarchy's, and the scan's walk gave an id);
	// the path stands while the id is the same, until idDue.
	id    uint64
	idOK  bool
	idDue time.Duration
	// walkID is the cgroup id the walk of the scan of generation walkGen
	// gave (taskiter.Group.CgroupID; set by noteCgroupID).
	walkID  uint64
	walkGen uint32
}

// noteCgroupID keeps the cgroup id this scan's walk gave for the process
// in its group record g, if it gave one (with the memo m's generation).
func (c *procCache) noteCgroupID(g *taskiter.Group, m *identityMemo) {
	if c == nil || m == nil || !g.HasCgroupID {
		return
	}
	if c.cg == nil {
		c.cg = &cgroupMemo{}
	}
	c.cg.walkID, c.cg.walkGen = g.CgroupID, m.gen
}

// walkCgroupID is the cgroup id the current scan's walk gave for the
// process (noteCgroupID), if it gave one.
func (c *procCache) walkCgroupID(m *identityMemo) (uint64, bool) {
	if c == nil || c.cg == nil || m == nil || m.gen == 0 || c.cg.walkGen != m.gen {
		return 0, false
	}
	return c.cg.walkID, true
}

// ioMemo is a process's io counters, read when its ranCount was ran,
// and what the process was then (access: walkIOOK).
type ioMemo struct {
	io     IOCounters
	ran    uint64
	access ioAccessKey
	// accessOK: the file was read without error for the process as
	// access says; an exec the connector saw clears it.
	accessOK bool
}

// statusMemo is a process's status fields, read at at with the comm comm,
// reused until due.
type statusMemo struct {
	status  ProcStatus
	at, due time.Duration
	comm    string
}

// begin starts a scan's generation, and makes the processes in execs
// (pids a kernel event source saw exec since the last scan) read their
// cmdline, exe and cgroup afresh.
func (m *identityMemo) begin(execs []int) {
	if m == nil {
		return
	}
	m.gen++
	m.index()
	for _, pid := range execs {
		if c := m.procs[pid]; c != nil {
			c.cmdOK, c.cgOK = false, false
			if c.io != nil {
				c.io.accessOK = false
			}
		}
	}
}

// entry returns the cache entry of a process identity, creating or
// replacing it; nil without a memo.
func (m *identityMemo) entry(pid int, start uint64) *procCache {
	if m == nil {
		return nil
	}
	c := m.lookup(pid)
	if c == nil || c.start != start {
		if c != nil {
			// Replaced (a reused pid): emptied, so that the first
			// scan's array, if it is one of its entries, keeps none
			// of the old identity's strings (sweep never sees it
			// again: the table no longer holds it). Nothing keeps it
			// past this lookup: a scan's pass entries check the start.
			*c = procCache{}
		}
		c = &procCache{start: start}
		m.procs[pid] = c // before first's entry of the pid, if any
	}
	c.seen = m.gen
	return c
}

// lookup returns the entry of pid, whatever its identity; nil when there
// is none.
func (m *identityMemo) lookup(pid int) *procCache {
	if c := m.procs[pid]; c != nil {
		return c
	}
	if i, ok := slices.BinarySearch(m.firstPIDs, pid); ok {
		return &m.first[i]
	}
	return nil
}

// empty reports whether the memo holds no process (a Reader's first
// scan, a one-shot command's only one).
func (m *identityMemo) empty() bool {
	return m != nil && len(m.procs) == 0 && len(m.first) == 0
}

// add makes the entry of a process identity the memo does not hold: an
// empty memo's first scan, whose pass names each process once in pid
// order, adds its entries without looking each up in vain first (a
// lookup missing in a table of 10,000 was 1 % of `pinspect --json` at
// 10,000 processes), into first while they fit there and come in order.
func (m *identityMemo) add(pid int, start uint64) *procCache {
	n := len(m.first)
	if n < cap(m.first) && (n == 0 || m.firstPIDs[n-1] < pid) {
		m.first = append(m.first, procCache{start: start, seen: m.gen})
		m.firstPIDs = append(m.firstPIDs, pid)
		return &m.first[n]
	}
	c := &procCache{start: start, seen: m.gen}
	m.procs[pid] = c
	return c
}

// reserve makes an empty memo hold the entries of n processes without
// growing (first: one allocation for them all; add). The name table is
// not reserved: the first scan puts nothing in it (comm).
func (m *identityMemo) reserve(n int) {
	if m == nil || !m.empty() {
		return
	}
	m.first, m.firstPIDs = make([]procCache, 0, n), make([]int, 0, n)
	prefault(m.first)
}

// index moves the entries of first into the process table, sized for
// them at once (growing it entry by entry rehashed it again and again:
// 1.1 % of `pinspect --json` at 10,000 processes). An entry of procs
// made for the same pid since (another identity) stays.
func (m *identityMemo) index() {
	if len(m.first) == 0 {
		m.first, m.firstPIDs = nil, nil
		return
	}
	procs := make(map[int]*procCache, len(m.procs)+len(m.first))
	for pid, c := range m.procs {
		procs[pid] = c
	}
	for i, pid := range m.firstPIDs {
		if _, ok := procs[pid]; !ok {
			procs[pid] = &m.first[i]
		}
	}
	m.procs, m.first, m.firstPIDs = procs, nil, nil
}

// internMax bounds the comm intern table: past it, sweep starts it anew.
const internMax = 1 << 16

// sweep drops the entries of processes the scan did not see, and bounds
// the comm intern table.
func (m *identityMemo) sweep() {
	if m == nil {
		return
	}
	for pid, c := range m.procs {
		if c.seen != m.gen {
			delete(m.procs, pid)
			// Emptied: an entry of a first scan shares one array with
			// the others (add), which stays while any of them does,
			// and would keep its strings.
			*c = procCache{}
		}
	}
	for i := range m.first {
		if m.first[i].seen != m.gen {
			m.first[i] = procCache{} // replaced in procs (entry)
		}
	}
	if len(m.intern) > internMax {
		clear(m.intern)
	}
}

// comm returns b as a string, shared with earlier equal comms. A
// Reader's first scan (a one-shot command's only one) shares none: there
// is no earlier scan to share with, most names on a machine differ, and
// a lookup and an insert a name cost more than the copy; the next scan
// fills the table.
func (m *identityMemo) comm(b []byte) string {
	if m == nil || m.gen <= 1 {
		return string(b)
	}
	if s, ok := m.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	m.intern[s] = s
	return s
}

// fresh reports whether c's cmdline and exe may be reused for p at now
// on the Reader's clock: read with p's comm and p's address-space layout
// (an exec changes both, or at least the layout: a new stack and argv,
// placed at random), and not yet due (cmdlineDue).
func (c *procCache) fresh(p *Process, now time.Duration) bool {
	return c != nil && c.cmdOK && c.exeOK && c.comm == p.Comm && c.args == argsKeyOf(p) && now < c.due
}

// idle reports whether c's cmdline and exe may be reused past their due
// time for p, whose whole-process totals are exact (the task
// iterator's): p has not run since they were read. Its argv and its
// executable change only by its own doing (setproctitle, exec, prctl),
// and a process that ran at all has a context switch or a CPU tick more
// in its totals, exited threads included. Only another process writing
// its memory (a debugger) could change its title unseen.
func (c *procCache) idle(p *Process, ttl time.Duration) bool {
	return c != nil && ttl > 0 && c.cmdOK && c.exeOK && c.comm == p.Comm && c.args == argsKeyOf(p) &&
		c.ran != 0 && c.ran == ranCount(p)
}

// current reports whether c's cmdline and exe, whatever their age, were
// read for p as it is now: with its comm and its address-space layout
// (known: a layout masked from the reader proves nothing), and no exec
// noted since (identityMemo.begin clears cmdOK). A scan with
// ScanOptions.ReuseIdentities reuses them past their due time; what is
// then left unseen is what changes with no sign (Options.CmdlineTTL): a
// title rewritten in place, an executable deleted or replaced on disk.
func (c *procCache) current(p *Process) bool {
	return c != nil && c.cmdOK && c.exeOK && c.comm == p.Comm && c.args != (argsKey{}) && c.args == argsKeyOf(p)
}

// ioIdle reports whether c's io counters may be reused for p: p's
// totals are exact (the task iterator's, exited threads included) and
// have not moved since the counters were read. Every io counter is
// charged to the task doing the I/O (reads, writes, the block I/O it
// submits or dirties, the writes its truncations cancel) while it runs,
// so a process that has not run has the same counters.
func (c *procCache) ioIdle(p *Process) bool {
	return c != nil && c.io != nil && p.CtxSource == CtxTaskIter && c.io.ran != 0 && c.io.ran == ranCount(p)
}

// ioAccessKey is what the kernel's ptrace check for /proc/PID/io may
// decide by: the process's ids and permitted capabilities, and its
// program (an exec moves argsKey; a security module may label the new
// program otherwise).
type ioAccessKey struct {
	uids, gids [4]int
	capPrm     uint64
	args       argsKey
}

func ioAccessKeyOf(p *Process) ioAccessKey {
	return ioAccessKey{uids: p.UIDs, gids: p.GIDs, capPrm: p.CapPrm, args: argsKeyOf(p)}
}

// walkIOOK reports whether the walk's io counters may stand for p's
// /proc/PID/io (readIOs): the reader holds CAP_SYS_PTRACE (the kernel's
// ptrace check passes for every process, as it does for the exe links
// iterexe.go shares), and the file itself was read for this process, as
// it is now, without error: a security module that refuses it is
// obeyed. A reader without the capability reads the file every time
// (or keeps its counters while idle: ioIdle).
func (c *procCache) walkIOOK(p *Process, capSysPtrace bool) bool {
	return capSysPtrace && c != nil && c.io != nil && c.io.accessOK && c.io.access == ioAccessKeyOf(p)
}

// argsKey is the part of a process's address-space layout that a new
// address space (an exec) changes: where its argv and its stack start
// (randomised at every exec) and where its code starts. prctl's
// PR_SET_MM_ARG_START and _ARG_END (how systemd and others move a
// rewritten title) change it too. It is zero when the layout is masked
// (a reader that may not ptrace the process).
type argsKey struct {
	argStart, argEnd, startStack, startCode uint64
}

func argsKeyOf(p *Process) argsKey {
	return argsKey{p.Layout.ArgStart, p.Layout.ArgEnd, p.Layout.StartStack, p.Layout.StartCode}
}

// youngAge is the age under which a process's cmdline and exe, once
// read, are read again at the next scan: a process that sets its title
// (setproctitle: sshd, postgres, nginx workers) does it just after it
// starts, often after the scan that first saw it.
const youngAge = 2 * time.Second

// cmdlineDue is when the cmdline and exe of p, read now with the TTL
// ttl, are read again at the latest: at the next scan for a process
// younger than youngAge (age: its age now) and for ttl <= 0; else ttl
// later, less a part of ttl that depends on the pid for the first read
// of an identity, so that the re-reads of processes first seen together
// (a Reader's first scan reads them all) spread over the TTL.
func cmdlineDue(p *Process, first bool, now, ttl, age time.Duration) time.Duration {
	if ttl <= 0 || age < youngAge {
		return now
	}
	due := now + ttl
	if first {
		due -= ttl * time.Duration(uint32(p.PID)*2654435761>>24) / 256
	}
	return due
}

// ranCount is a process's context switches plus CPU ticks: counters
// that only grow, so the sum changes whenever any of them does.
func ranCount(p *Process) uint64 {
	return p.VolCtx + p.InvolCtx + p.UTimeTicks + p.STimeTicks
}
