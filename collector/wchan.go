package collector

import "bytes"

// WChanState says what a task's wchan file held.
type WChanState uint8

// The wchan states.
const (
	// WChanHidden: the file was empty. The kernel writes nothing when the
	// reader may not ptrace-read the task (another user's task, not root),
	// so a function name exists but is hidden.
	WChanHidden WChanState = iota
	// WChanNone: the kernel wrote "0": the task is not blocked in the
	// kernel (it is running or runnable), or the address has no symbol.
	WChanNone
	// WChanFunc: the task sleeps in the named kernel function.
	WChanFunc
)

// readWChan reads and parses a wchan file at the NUL-terminated path,
// relative to dirfd, into the reused buffer buf.
func readWChan(dirfd uintptr, path []byte, buf *[]byte) (string, WChanState, error) {
	data, _, err := readSeqIn(dirfd, path, buf, 4096)
	if err != nil {
		return "", WChanHidden, err
	}
	name, st := parseWChan(data)
	return name, st, nil
}

// parseWChan parses /proc/PID/task/TID/wchan: a kernel function name, "0",
// or nothing (see WChanState). The name is returned with surrounding white
// space removed; it is kernel text but is still sanitised by views like
// any /proc string.
func parseWChan(b []byte) (string, WChanState) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return "", WChanHidden
	case string(b) == "0":
		return "", WChanNone
	}
	return string(b), WChanFunc
}
