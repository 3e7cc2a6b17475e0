package collector

// This file decides which of a process's [PT]-marked fields (proc(5):
// shown only to a reader that passes a ptrace access check) this reader
// may see. Without access the kernel does not refuse the read: it writes
// 0 in their place (stat's start_code, end_code, start_stack, kstkesp,
// kstkeip, wchan, fields 45 to 51 and exit_code; the wchan file says "0"),
// a value pinspect must not present as a fact. An unprivileged user would
// be told "exit 0" for a zombie that died with exit 3.

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// ReasonMaskedField is the reason given for a [PT] field the kernel hid
// from this reader (Process.Unavailable, Details.Unavailable).
const ReasonMaskedField = "masked"

// ErrMasked is wrapped by the error of a read whose result the kernel
// masks for this reader (Reader.WChan): Reason gives ReasonMaskedField.
var ErrMasked = errors.New(ReasonMaskedField)

// Credentials are the reader as the kernel's ptrace access check for
// /proc (PTRACE_MODE_READ_FSCREDS) sees it.
type Credentials struct {
	// FSUID and FSGID are the reader's file-system uid and gid (its
	// effective ids, unless changed with setfsuid).
	FSUID, FSGID int
	// CapSysPtrace is CAP_SYS_PTRACE in the reader's effective set, in the
	// initial user namespace (a capability in a child user namespace does
	// not reach the host's processes).
	CapSysPtrace bool
	// CapEff is the reader's effective capability set (status CapEff): a
	// process holding a permitted capability outside it is not the
	// reader's to read, whatever the ids (cap_ptrace_access_check).
	CapEff uint64
}

// capSysPtrace is CAP_SYS_PTRACE's bit in the status capability masks.
const capSysPtrace = 1 << 19

// selfCredentials reads this process's credentials from the machine's
// own /proc (whatever root the Reader reads: a fixture tree is read by
// this process too). Unreadable means unprivileged with ids -1: nothing
// masked is presented as a fact.
func selfCredentials() Credentials {
	c := Credentials{FSUID: -1, FSGID: -1}
	buf := make([]byte, 0, 4096)
	sf, err := readStatus(atFDCWD, []byte("/proc/self/status\x00"), &buf)
	if err != nil || sf.has&(hasUid|hasGid) != hasUid|hasGid {
		return c
	}
	c.FSUID, c.FSGID = int(sf.uids[3]), int(sf.gids[3])
	c.CapSysPtrace = sf.capEff&capSysPtrace != 0 && initialUserNS()
	c.CapEff = sf.capEff
	return c
}

// initialUserNS reports whether this process is in the initial user
// namespace: its uid_map is the identity over all 2^32-1 ids.
func initialUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := bytes.Fields(b)
	return len(f) == 3 && string(f[0]) == "0" && string(f[1]) == "0" && string(f[2]) == "4294967295"
}

// mayReadPT decides whether the reader c sees p's [PT] fields, following
// the kernel's __ptrace_may_access for PTRACE_MODE_READ_FSCREDS: with
// CAP_SYS_PTRACE always; otherwise the reader's fs uid must equal the
// process's real, effective and saved uid and its fs gid the three gids
// (status), the process's permitted capabilities must all be in the
// reader's effective set (the capability module's ptrace check, which
// applies to a zombie too), and a process with an address space must be
// dumpable. A
// process that is not dumpable has its /proc/PID files owned by root
// (the kernel's task_dump_owner), which ownerUID gives (-1: unknown). A
// zombie, and a process whose main thread exited, has no mm on its
// leader: the dumpable test does not apply. It is false when p's status
// was not read (the ids are unknown): nothing is then presented as a fact.
func (c Credentials) mayReadPT(p *Process, ownerUID int) bool {
	if c.CapSysPtrace {
		return true
	}
	if p.Read&SrcStatus == 0 || c.FSUID < 0 {
		return false
	}
	u, g := p.UIDs, p.GIDs
	if u[0] != c.FSUID || u[1] != c.FSUID || u[2] != c.FSUID || g[0] != c.FSGID || g[1] != c.FSGID || g[2] != c.FSGID {
		return false
	}
	if p.CapPrm&^c.CapEff != 0 {
		return false
	}
	if p.State == 'Z' {
		return true // no mm: not subject to the dumpable test
	}
	return ownerUID == c.FSUID
}

// dumpOwner returns the owner uid of the NUL-terminated path, a file of
// /proc/PID (its stat), or -1. The kernel gives /proc/PID's files to root
// when the process is not dumpable (task_dump_owner), but not the
// /proc/PID directory itself, which stays its euid's so that stat on it
// keeps telling ps the owner: the directory does not tell dumpability.
func dumpOwner(path []byte) int {
	var st unix.Stat_t
	if err := unix.Stat(string(path[:len(path)-1]), &st); err != nil {
		return -1
	}
	return int(st.Uid)
}

// applyAccess marks p's [PT] fields unavailable when this reader may not
// see them: the exit code of a zombie (Unavailable["exit_code"]), and the
// stat layout, cleared (Layout.Masked then reports it). PTMasked records
// the decision for the other [PT] reads (wchan, the address space).
func (s *scan) applyAccess(p *Process) {
	c := s.r.creds
	p.DumpOwnerUID = -1
	if s.r.opts.DumpOwners && p.Read&SrcStatus != 0 && p.UIDs[0] != 0 {
		p.DumpOwnerUID = dumpOwner(s.path.set(p.PID, 0, "stat"))
	}
	if c.CapSysPtrace || p.Read&SrcStat == 0 {
		return
	}
	owner := p.DumpOwnerUID
	if owner < 0 && p.Read&SrcStatus != 0 && p.State != 'Z' && p.UIDs[0] == c.FSUID {
		owner = dumpOwner(s.path.set(p.PID, 0, "stat"))
	}
	if c.mayReadPT(p, owner) {
		return
	}
	p.PTMasked = true
	p.Layout = Layout{}
	p.ExitCode = -1
	if p.State == 'Z' {
		if p.Unavailable == nil {
			p.Unavailable = make(map[string]string, 1)
		}
		p.Unavailable["exit_code"] = ReasonMaskedField
	}
}

// ptMasked decides, for a read of one process outside a scan (wchan, an
// address space), whether its [PT] fields are masked for this reader: it
// reads the process's status and stat (nothing when the reader has
// CAP_SYS_PTRACE). A process whose status cannot be read counts as
// masked.
func (r *Reader) ptMasked(pid int) bool {
	if r.creds.CapSysPtrace {
		return false
	}
	pb, buf := newPathBuf(r.opts.Root), make([]byte, 0, 4096)
	p := Process{PID: pid}
	if st, err := readStat(atFDCWD, pb.set(pid, 0, "stat"), &buf); err == nil {
		p.State = st.state
		p.Read |= SrcStat
	}
	sf, err := readStatus(atFDCWD, pb.set(pid, 0, "status"), &buf)
	if err != nil || sf.has&(hasUid|hasGid) != hasUid|hasGid {
		return true
	}
	for i := range p.UIDs {
		p.UIDs[i], p.GIDs[i] = int(sf.uids[i]), int(sf.gids[i])
	}
	p.CapPrm = sf.capPrm
	p.Read |= SrcStatus
	return !r.creds.mayReadPT(&p, dumpOwner(pb.set(pid, 0, "stat")))
}

// credsString renders credentials for messages and tests.
func (c Credentials) String() string {
	s := "fsuid " + strconv.Itoa(c.FSUID) + " fsgid " + strconv.Itoa(c.FSGID)
	if c.CapSysPtrace {
		s += " CAP_SYS_PTRACE"
	}
	return s
}
