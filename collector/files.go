package collector

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ReadError is a failure to read one /proc file of one process. It unwraps
// to the underlying errno, so errors.Is(err, unix.EACCES) works. Its
// message names the path read: Root, PID and File (tester11 T8: a
// --proc-root tree's errors named /proc). A Reader makes its errors with
// Reader.FileError, which gives Root.
type ReadError struct {
	PID  int    // 0 for machine-wide files
	File string // the file relative to the process directory, e.g. "stat"
	Err  error
	// Root is the proc tree the file was read under ("" is /proc); with
	// PID 0, File is a path of its own and Root is not used.
	Root string
}

// FileError is the ReadError of file (relative to the process directory)
// of pid read under r's root.
func (r *Reader) FileError(pid int, file string, err error) *ReadError {
	return &ReadError{PID: pid, File: file, Err: err, Root: r.opts.Root}
}

func (e *ReadError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("read %s: %v", e.File, e.Err)
	}
	root := strings.TrimRight(e.Root, "/")
	if e.Root == "" {
		root = "/proc"
	}
	if e.File == "" {
		return fmt.Sprintf("read %s/%d: %v", root, e.PID, e.Err)
	}
	return fmt.Sprintf("read %s/%d/%s: %v", root, e.PID, e.File, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// ErrTooLarge is returned for a file larger than its read cap where
// truncation would make the content meaningless (stat, status).
var ErrTooLarge = errors.New("file larger than its read cap")

// ReasonNotPresent is the reason for a file absent from a process
// directory that is still there: a /proc tree another program wrote (a
// capture, a test fixture) may leave files out. The process is kept with
// the fields of that file unavailable; it did not vanish.
const ReasonNotPresent = "not present"

// errNotPresent is recorded for such a file (Reason gives
// ReasonNotPresent).
var errNotPresent = errors.New(ReasonNotPresent)

// ErrNotRegular is returned when a read would block: the path is a FIFO or
// other non-regular file in a fixture tree (real /proc files never are).
var ErrNotRegular = errors.New("read would block (not a regular file)")

// IsVanished reports whether err means the process or thread is gone:
// ENOENT at open, or ESRCH at read after it was reaped.
func IsVanished(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH)
}

// IsDenied reports whether err is a permission refusal (EACCES or EPERM),
// which can happen even to root for some files.
func IsDenied(err error) bool {
	return errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)
}

// Reason turns a read error into the short reason shown for an unavailable
// field: "permission denied", "vanished", "timeout", or the error text.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case IsDenied(err):
		return "permission denied"
	case IsVanished(err):
		return "vanished"
	case errors.Is(err, ErrNotRegular):
		return "would block"
	case errors.Is(err, ErrTimeout):
		return timeoutReason(err)
	case errors.Is(err, ErrTooLarge):
		return "too large"
	case errors.Is(err, ErrMasked):
		return ReasonMaskedField
	case errors.Is(err, errNotPresent):
		return ReasonNotPresent
	}
	var re *ReadError
	if errors.As(err, &re) {
		return re.Err.Error()
	}
	return err.Error()
}

// pathBuf builds NUL-terminated paths "<root>/<pid>/<file>" without
// allocating, for the raw openat below.
type pathBuf struct {
	b    []byte
	root int // length of "<root>/"
}

func newPathBuf(root string) pathBuf {
	b := make([]byte, 0, len(root)+64)
	b = append(b, root...)
	if len(b) == 0 || b[len(b)-1] != '/' {
		b = append(b, '/')
	}
	return pathBuf{b: b, root: len(b)}
}

// set makes the buffer "<root>/<a>/<name>" ("<root>/<a>/task/<b>/<name>"
// when b > 0), NUL-terminated, and returns it.
func (p *pathBuf) set(a, b int, name string) []byte {
	p.b = p.b[:p.root]
	p.b = strconv.AppendInt(p.b, int64(a), 10)
	if b > 0 {
		p.b = append(p.b, "/task/"...)
		p.b = strconv.AppendInt(p.b, int64(b), 10)
	}
	if name != "" {
		p.b = append(p.b, '/')
		p.b = append(p.b, name...)
	}
	p.b = append(p.b, 0)
	return p.b
}

// setTop makes "<root>/<name>".
func (p *pathBuf) setTop(name string) []byte {
	p.b = append(p.b[:p.root], name...)
	p.b = append(p.b, 0)
	return p.b
}

// openPath opens a NUL-terminated path read-only. O_NONBLOCK keeps a FIFO
// planted in a fixture tree from blocking the open (procfs ignores it).
func openPath(path []byte, flags int) (int, error) { return openIn(atFDCWD, path, flags) }

// openIn is openPath relative to the directory dirfd (atFDCWD: the
// working directory, or none for an absolute path).
func openIn(dirfd uintptr, path []byte, flags int) (int, error) {
	for {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, dirfd,
			uintptr(unsafe.Pointer(&path[0])), uintptr(flags|unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(fd), nil
	}
}

// readAt reads the whole file at path into buf (growing it up to max
// bytes) and returns the filled slice. When the file is longer than max,
// the content is cut at max and truncated is true.
func readAt(path []byte, buf *[]byte, max int) (data []byte, truncated bool, err error) {
	return readIn(atFDCWD, path, buf, max)
}

// readIn is readAt relative to the directory dirfd.
func readIn(dirfd uintptr, path []byte, buf *[]byte, max int) (data []byte, truncated bool, err error) {
	fd, err := openIn(dirfd, path, unix.O_NONBLOCK)
	if err != nil {
		return nil, false, err
	}
	defer unix.Close(fd)
	return readFD(fd, buf, max)
}

// readFD is readAt on an open file descriptor.
func readFD(fd int, buf *[]byte, max int) (data []byte, truncated bool, err error) {
	return readFDUntil(fd, buf, max, false)
}

// readFDUntil is readFD; with shortIsEnd, a read that returns less than
// it was offered, and does not end on a page boundary, is taken as the
// end of the file, and the read that would only see EOF is skipped.
//
// That holds for /proc/PID/cmdline: the kernel copies the argument area
// into the reader's buffer a page at a time until the area or the buffer
// ends (or a page cannot be read, which the next read would find again),
// and a setproctitle'd title comes whole in one read of up to a page.
// The skipped read was not free: it takes the target's mm and reads the
// last byte of its argument area (the setproctitle check) before it sees
// the end, about a third of a cmdline's read cost (docs/PERFORMANCE.md).
// A kernel that hands out a page per read at most stops at a page
// boundary, so such a read is always followed by another.
func readFDUntil(fd int, buf *[]byte, max int, shortIsEnd bool) (data []byte, truncated bool, err error) {
	b := (*buf)[:0]
	for {
		if len(b) >= max || len(b) == cap(b) {
			if len(b) >= max {
				// Probe one byte to tell "exactly max" from "more".
				var one [1]byte
				n, _ := unix.Read(fd, one[:])
				*buf = b
				return b, n > 0, nil
			}
			nb := make([]byte, len(b), min(max, 2*cap(b)+4096))
			copy(nb, b)
			b = nb
		}
		offered := min(cap(b), max) - len(b)
		n, err := unix.Read(fd, b[len(b):len(b)+offered])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			*buf = b
			return nil, false, ErrNotRegular
		}
		if err != nil {
			*buf = b
			return nil, false, err
		}
		if n == 0 {
			*buf = b
			return b, false, nil
		}
		b = b[:len(b)+n]
		if shortIsEnd && n < offered && len(b)%4096 != 0 {
			*buf = b
			return b, false, nil
		}
	}
}

// readSeqAt is readAt for files the kernel generates in one piece (stat,
// status: seq_file single_open): a read that returns less than the space
// offered has returned the whole file, so the read that would only see
// EOF is skipped. A regular file (a fixture) behaves the same way.
func readSeqAt(path []byte, buf *[]byte, max int) (data []byte, truncated bool, err error) {
	return readSeqIn(atFDCWD, path, buf, max)
}

// readSeqIn is readSeqAt relative to the directory dirfd: a thread's
// files are opened as "TID/stat" in the process's open task/ directory,
// a shorter path walk than /proc/PID/task/TID/stat (about 0.5 µs a file).
func readSeqIn(dirfd uintptr, path []byte, buf *[]byte, max int) (data []byte, truncated bool, err error) {
	if cap(*buf) < 4096 {
		*buf = make([]byte, 0, 4096)
	}
	fd, err := openIn(dirfd, path, unix.O_NONBLOCK)
	if err != nil {
		return nil, false, err
	}
	b := (*buf)[:0]
	limit := min(cap(b), max)
	var n int
	for {
		n, err = unix.Read(fd, b[:limit])
		if err != unix.EINTR {
			break
		}
	}
	if err == nil && n >= 0 && n < limit {
		unix.Close(fd)
		return b[:n], false, nil
	}
	unix.Close(fd)
	if err == unix.EAGAIN {
		return nil, false, ErrNotRegular
	}
	if err != nil {
		return nil, false, err
	}
	// The buffer filled up: read again from the start the slow way.
	return readIn(dirfd, path, buf, max)
}

// linkMax is the buffer for a symlink's target (PATH_MAX).
const linkMax = 4096

// readlinkAt reads a symlink into buf and returns its target.
func readlinkAt(path []byte, buf []byte) (string, error) {
	n, err := readlinkInto(path, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// readlinkInto reads a symlink's target into buf and returns its length.
func readlinkInto(path []byte, buf []byte) (int, error) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_READLINKAT, atFDCWD,
			uintptr(unsafe.Pointer(&path[0])), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
}

// listNumeric lists the numeric entries of a directory with getdents64
// into buf, appending them to ids. It reads until getdents64 returns 0: a
// short read does not mean the end (the kernel also stops filling the
// buffer when a signal is pending, and Go signals its own threads).
func listNumeric(path []byte, buf []byte, ids []int) ([]int, error) {
	fd, err := openPath(path, unix.O_DIRECTORY)
	if err != nil {
		return ids, err
	}
	defer unix.Close(fd)
	return listNumericFD(fd, buf, ids)
}

// listNumericFD is listNumeric on an open directory.
func listNumericFD(fd int, buf []byte, ids []int) ([]int, error) {
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ids, err
		}
		if n <= 0 {
			return ids, nil
		}
		parseDirents(buf[:n], func(id int) { ids = append(ids, id) })
	}
}

// atFDCWD is AT_FDCWD as the raw syscall argument.
var atFDCWD = func() uintptr { v := unix.AT_FDCWD; return uintptr(v) }()
