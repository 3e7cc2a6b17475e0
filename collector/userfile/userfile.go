// Package userfile reads the files a user names on the command line
// (pinspect serve's web config and the certificates it names, a passwd
// file, a future config file): bounded in size and regular files only,
// with a clear error otherwise. Nothing of /proc is read here; /proc files
// have their own bounded readers in the collector.
//
// It imports only the standard library and x/sys, so every layer may use
// it.
package userfile

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Common size caps, in bytes.
const (
	// MaxConfigBytes caps a configuration file (a web config is a few
	// hundred bytes).
	MaxConfigBytes = 1 << 20
	// MaxPEMBytes caps a certificate, key or CA bundle file (a system CA
	// bundle is about 220 KB).
	MaxPEMBytes = 4 << 20
	// MaxPasswdBytes caps a user database (a passwd file of 100,000 users
	// is about 8 MB).
	MaxPasswdBytes = 64 << 20
)

// ErrNotRegular is wrapped by Read's error for a path that is not a
// regular file (a FIFO, a device such as /dev/zero, a socket, a
// directory).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by Read's error for a file over its cap.
var ErrTooLarge = errors.New("file too large")

// Read returns the content of the regular file at path (symbolic links
// are followed), at most maxBytes of it. The file is opened as
// OpenRegular opens it; a file that grows past maxBytes while it is read
// is refused too. The error names the path.
func Read(path string, maxBytes int64) ([]byte, error) {
	f, size, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > maxBytes {
		return nil, fmt.Errorf("%s: %w: %d bytes, at most %d", path, ErrTooLarge, size, maxBytes)
	}
	// The descriptor is non-blocking, which a regular file ignores; reads
	// of a file that grew meanwhile stop one byte past the cap.
	b, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(b)) > maxBytes {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, ErrTooLarge, maxBytes)
	}
	return b, nil
}

// OpenRegular opens the regular file at path for reading (symbolic links
// are followed) and returns it with its size, for a caller that reads it
// in pieces within bounds of its own. It opens without blocking (a FIFO
// cannot hang the open, nor a device the reads) and checks the type on
// the open descriptor, so a path swapped between a check and the open
// cannot slip a FIFO or a device in. The error names the path.
func OpenRegular(path string) (*os.File, int64, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 0, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, kind(st.Mode))
	}
	return os.NewFile(uintptr(fd), path), st.Size, nil
}

// kind names a file type for an error message.
func kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "not a regular file"
}
