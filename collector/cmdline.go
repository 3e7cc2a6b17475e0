package collector

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// parseCmdline splits the content of /proc/PID/cmdline into arguments.
// Arguments are NUL-separated and usually NUL-terminated; trailing NULs are
// dropped. A process that rewrote its argv area into a single title has no
// NUL separators, or pads with spaces: noNUL reports that case, and the
// title is returned as one argument.
func parseCmdline(b []byte) (args []string, noNUL bool) {
	if len(b) > 0 && bytes.IndexByte(b, 0) < 0 {
		return []string{string(b)}, true
	}
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil, false
	}
	n := bytes.Count(b, []byte{0}) + 1
	args = make([]string, 0, n)
	// One string for the whole command line, the arguments slices of it:
	// two allocations a process instead of one an argument.
	all := string(b)
	for len(all) > 0 {
		i := strings.IndexByte(all, 0)
		if i < 0 {
			args = append(args, all)
			break
		}
		args = append(args, all[:i])
		all = all[i+1:]
	}
	return args, false
}

// parseDirents decodes a buffer filled by getdents64 and calls fn for every
// entry whose name is a decimal number (a pid, a tid or a descriptor,
// which may be 0), with that number.
// It returns the number of bytes consumed; a truncated trailing record is
// left for the caller. It never panics on any content.
func parseDirents(buf []byte, fn func(id int)) int {
	const hdr = 19 // ino(8) off(8) reclen(2) type(1)
	off := 0
	for off+hdr <= len(buf) {
		// struct linux_dirent64 is in the host's byte order.
		reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
		if reclen < hdr || off+reclen > len(buf) {
			break
		}
		name := buf[off+hdr : off+reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if v, ok := parseUint(name); ok && v <= 1<<31-1 {
			fn(int(v))
		}
		off += reclen
	}
	return off
}
