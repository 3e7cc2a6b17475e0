package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned when another process records into the directory.
var ErrLocked = errors.New("another recorder is writing to this directory")

// dirLock is the writer's exclusive lock on a store directory: an flock
// on its LOCK file, released by the kernel when the process dies (so a
// kill -9 never leaves a stale lock). The file holds the holder's pid for
// the message a second recorder gets.
type dirLock struct{ f *os.File }

func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := readFileMax(path, 4096); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w%s; one recorder per directory: stop it or choose another --dir", dir, ErrLocked, holder)
		}
		return nil, fmt.Errorf("%s: locking: %w", path, err)
	}
	// An open file description's lock on the same file, which readers
	// can see without taking it (recorderWriting); flock locks cannot be
	// queried. Without it (an old kernel) readers take the record for
	// finished.
	_ = unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &unix.Flock_t{Type: unix.F_WRLCK})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}

// recorderWriting reports whether a recorder is writing the record in
// dir: whether one holds the lock on its LOCK file (lockDir's open file
// description lock, which F_OFD_GETLK reports without taking it, so a
// recorder starting meanwhile is never refused). When it cannot tell
// (no LOCK file, one it may not read, a kernel or file system without
// these locks) the record counts as finished, as it did before the lock:
// taking it for written would end every answer short of a finished
// record's end for good. A recorder before this lock counts as stopped.
func recorderWriting(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_RDLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false
	}
	return lk.Type != unix.F_UNLCK
}
