package collector

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The reads of a kernel event source between scans (Reader.Identities)
// are raw system calls, which the Go scheduler is not told of. A call it
// is told of (syscall.Syscall) wakes the runtime's monitor thread (sysmon)
// from its deep sleep whenever every P was idle, and sysmon then polls
// every 20 µs, then less often, while the program works: an agent (serve,
// record) that looks up a burst of process events every 50 ms paid that
// for each burst, about as much CPU as the lookups themselves. A raw call
// keeps the P for its length, so only calls that do not wait on their
// target are made raw, and only on a proc filesystem (Reader.procfs):
// opening and reading /proc/PID/stat and reading the exe link take the
// task's spinlocks and RCU, never a lock its owner can hold (see
// Identities). They can still take a short sleeping lock of the path
// lookup, or do a dying process's last teardown (its final mmput or
// fput): rare, and bounded.

// readStatRaw is readStat from the root with raw system calls.
func readStatRaw(path []byte, buf *[]byte) (statFields, error) {
	data, trunc, err := readSeqRaw(path, buf, statusMax)
	if err != nil {
		return statFields{exitCode: -1}, err
	}
	return parseStatRead(data, trunc)
}

// readSeqRaw is readSeqIn from the root with raw system calls: one read
// into buf; a file that fills it is read again the ordinary way.
func readSeqRaw(path []byte, buf *[]byte, max int) (data []byte, truncated bool, err error) {
	if cap(*buf) < 4096 {
		*buf = make([]byte, 0, 4096)
	}
	var fd uintptr
	for {
		var errno unix.Errno
		fd, _, errno = unix.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(&path[0])),
			unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return nil, false, errno
		}
		break
	}
	b := (*buf)[:0]
	limit := min(cap(b), max)
	var n uintptr
	var errno unix.Errno
	for {
		n, _, errno = unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(limit))
		if errno != unix.EINTR {
			break
		}
	}
	_, _, _ = unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	switch {
	case errno == unix.EAGAIN:
		return nil, false, ErrNotRegular
	case errno != 0:
		return nil, false, errno
	case int(n) < limit:
		return b[:n], false, nil
	}
	// The buffer filled up: read again from the start the slow way.
	return readIn(atFDCWD, path, buf, max)
}

// readExeRaw is readExe with a raw readlinkat.
func readExeRaw(path, link []byte) (exe string, deleted bool, err error) {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_READLINKAT, atFDCWD,
			uintptr(unsafe.Pointer(&path[0])), uintptr(unsafe.Pointer(&link[0])), uintptr(len(link)), 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return "", false, errno
		}
		exe, deleted = splitDeleted(string(link[:n]))
		return exe, deleted, nil
	}
}
