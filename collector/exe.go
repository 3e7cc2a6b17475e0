package collector

import (
	"strings"

	"golang.org/x/sys/unix"
)

// exeDeleted is what the kernel appends to the exe link of a process
// whose executable was deleted (or replaced) after it started.
const exeDeleted = " (deleted)"

// readExe reads the exe link at the NUL-terminated path into the reused
// buffer link (PATH_MAX bytes) and splits off the kernel's " (deleted)"
// mark: the reader of exe for the scans, the identity lookups and the
// address space. A process without an executable (a kernel thread, a
// zombie) is ENOENT: the callers treat it as "none", not as an error.
//
// The mark is the kernel's word, unchecked: an executable whose own name
// ends in " (deleted)" has the same link as a deleted one. A scan checks
// it (exeNamed); the identity lookups, read inline with no deadline, and
// the address space do not.
func readExe(path, link []byte) (exe string, deleted bool, err error) {
	exe, err = readlinkAt(path, link)
	if err != nil {
		return "", false, err
	}
	exe, deleted = splitDeleted(exe)
	return exe, deleted, nil
}

// splitDeleted cuts the " (deleted)" mark off an exe link; a path that is
// only the mark is kept as it is.
func splitDeleted(exe string) (string, bool) {
	if len(exe) > len(exeDeleted) && strings.HasSuffix(exe, exeDeleted) {
		return exe[:len(exe)-len(exeDeleted)], true
	}
	return exe, false
}

// exeNamed tells a deleted executable from one whose name ends in
// " (deleted)": link is the exe link's whole text, mark included, exe
// the NUL-terminated path of the link ("ROOT/PID/exe") and rootDir the
// process's root ("ROOT/PID/root"). It reports whether link, looked up
// without following a last symlink, is the running file itself (the same
// device and inode as exe leads to) and that file still has a name: then
// the name is real and nothing was deleted. The kernel writes the link
// from the reader's root when the file is in sight of it (a chrooted
// process's exe reads "/srv/jail/bin/x") and from the file's mount
// otherwise (a container's, "/bin/x"), so link is looked up from the
// process's root, then from the reader's; the inode check makes either
// safe. A file with no link left, another file or none at link, and any
// failure keep the kernel's mark.
//
// Both stats go into the executable's file system, which can stop
// answering (a FUSE daemon that hangs, a dead NFS server), so they run on
// a read worker under the read deadline (slow), and ask for cached
// attributes only (AT_STATX_DONT_SYNC: no round trip where the file
// system can avoid one). They are made only for a link that ends in the
// mark, each time the link is read (the memo keeps the answer for its
// period).
func exeNamed(slow *deadlineReads, exe []byte, rootDir, link string) bool {
	exePath := string(exe[:len(exe)-1])
	named := false
	err := slow.call(exe, func() error {
		var running, at unix.Statx_t
		if err := unix.Statx(unix.AT_FDCWD, exePath, unix.AT_STATX_DONT_SYNC, unix.STATX_INO|unix.STATX_NLINK, &running); err != nil {
			return err
		}
		if running.Nlink == 0 {
			return nil // no name left: deleted
		}
		same := func(path string) bool {
			return unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_DONT_SYNC, unix.STATX_INO, &at) == nil &&
				at.Ino == running.Ino && at.Dev_major == running.Dev_major && at.Dev_minor == running.Dev_minor
		}
		// From the process's root (a container's); else from the
		// reader's, which the kernel wrote the link from when the file
		// is in sight of it (a chroot's directory).
		named = same(rootDir+link) || strings.HasPrefix(link, "/") && same(link)
		return nil
	})
	// named is read only when the call returned: an abandoned one may
	// still write it.
	return err == nil && named
}
