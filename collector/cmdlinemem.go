package collector

// A process's cmdline read from its memory: one process_vm_readv(2) at
// the argument range the task iterator's group record gives (mm's
// arg_start..arg_end and env_start..env_end), instead of an open, reads
// and a close of /proc/PID/cmdline (about 3 µs a process against 7 on a
// loaded machine). Both take the target's mmap lock and fault its pages
// in the same way, so the read is made where the file's is: on a
// deadline worker (deadline.go), charged to the same stuck target.
//
// The result is what the file gives: get_mm_cmdline's rules are followed
// (fs/proc/base.c): the bytes of [arg_start, arg_end) when the last of
// them is NUL; else the process rewrote its arguments (setproctitle), and
// the file gives the first NUL-terminated string from arg_start, NUL
// included, within one page, and beyond arg_end only into an environment
// area that starts right there. Anything unexpected (an error, a short
// read) falls back to the file: no permission (process_vm_readv needs
// ptrace access, the file does not), a page that is not there, an exited
// process.
//
// The range is the pass's. It is used only by a reader with
// CAP_SYS_PTRACE, on a process whose address space is randomised (its
// personality lacks ADDR_NO_RANDOMIZE and the machine randomises the
// stack): a process that exec'd between the pass and the read has a new
// stack at a new random place, where the old range is not mapped (the
// read fails and the file is read) but for a chance of about one in
// 10^5; the /proc read of such a process shows the new program's
// arguments beside the old one's stat either way.

import (
	"bytes"
	"os"

	"golang.org/x/sys/unix"
)

// cmdlineAt is where a process's arguments are in its memory (pid 0:
// unknown, read the file).
type cmdlineAt struct {
	pid                                int
	argStart, argEnd, envStart, envEnd uint64
}

// pageSize is get_mm_proctitle's limit.
var pageSize = uint64(os.Getpagesize())

// read reads the cmdline into *buf (grown up to limit+1 bytes): the
// content, whether it was cut at limit, and false when the file must be
// read instead.
func (m *cmdlineAt) read(buf *[]byte, limit int) ([]byte, bool, bool) {
	if m.argStart >= m.argEnd {
		return (*buf)[:0], false, true // the file is empty
	}
	envEnd := m.envEnd
	if m.envStart != m.argEnd || m.envEnd < m.envStart {
		envEnd = m.argEnd
	}
	argLen := m.argEnd - m.argStart
	// The arguments up to max+1 bytes (more than max: cut), and their
	// last byte, in one call.
	want := min(argLen, uint64(limit)+1)
	b := growTo(buf, int(max(want, min(envEnd-m.argStart, pageSize))))
	var last byte
	local := [2]unix.Iovec{{Base: &b[0]}, {Base: &last, Len: 1}}
	local[0].SetLen(int(want))
	remote := [2]unix.RemoteIovec{{Base: uintptr(m.argStart), Len: int(want)}, {Base: uintptr(m.argEnd - 1), Len: 1}}
	n, err := unix.ProcessVMReadv(m.pid, local[:], remote[:], 0)
	if err != nil || n != int(want)+1 {
		return nil, false, false
	}
	if last == 0 {
		if argLen > uint64(limit) {
			return b[:limit], true, true
		}
		return b[:argLen], false, true
	}
	// setproctitle: the first string, within a page and the
	// environment area that follows the arguments.
	want = min(envEnd-m.argStart, pageSize)
	local[0].Base, remote[0].Len = &b[0], int(want)
	local[0].SetLen(int(want))
	n, err = unix.ProcessVMReadv(m.pid, local[:1], remote[:1], 0)
	if err != nil || n != int(want) {
		return nil, false, false
	}
	got := b[:n]
	if i := bytes.IndexByte(got, 0); i >= 0 {
		got = got[:i+1]
	}
	if len(got) > limit {
		return got[:limit], true, true
	}
	return got, false, true
}

// growTo returns *buf with length n, reallocated when its capacity is less.
func growTo(buf *[]byte, n int) []byte {
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	*buf = (*buf)[:n]
	return *buf
}
