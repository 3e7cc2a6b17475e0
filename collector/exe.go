package collector

import "strings"

// exeDeleted is what the kernel appends to the exe link of a process
// whose executable was deleted (or replaced) after it started.
const exeDeleted = " (deleted)"

// readExe reads the exe link at the NUL-terminated path into the reused
// buffer link (PATH_MAX bytes) and splits off the kernel's " (deleted)"
// mark: the reader of exe for the scans, the identity lookups and the
// address space. A process without an executable (a kernel thread, a
// zombie) is ENOENT: the callers treat it as "none", not as an error.
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
