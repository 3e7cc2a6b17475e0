package collector

import (
	"bytes"
	"errors"
	"fmt"
)

// IOCounters are a process's I/O counters from /proc/PID/io (the whole
// thread group, exited threads included). The file needs ptrace read
// access: another user's process is "permission denied" unless root.
type IOCounters struct {
	// RChar and WChar are bytes passed to read-like and write-like system
	// calls (including pipes, sockets and the page cache).
	RChar uint64 `json:"rchar_bytes"`
	WChar uint64 `json:"wchar_bytes"`
	// SyscR and SyscW count read-like and write-like system calls.
	SyscR uint64 `json:"read_syscalls"`
	SyscW uint64 `json:"write_syscalls"`
	// ReadBytes and WriteBytes are bytes the process made the block layer
	// fetch from, or caused to be sent to, storage.
	ReadBytes  uint64 `json:"read_bytes"`
	WriteBytes uint64 `json:"write_bytes"`
	// CancelledWriteBytes are written bytes that never reached storage
	// (the file was truncated or deleted first).
	CancelledWriteBytes uint64 `json:"cancelled_write_bytes"`
}

// IO reads /proc/PID/io, on the on-demand read workers under the read
// deadline (the file takes the target's exec lock). It is safe for
// concurrent use.
func (r *Reader) IO(pid int) (*IOCounters, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	pb, buf := newPathBuf(r.opts.Root), make([]byte, 0, 512)
	data, _, err := r.addrSlow.read(pb.set(pid, 0, "io"), &buf, 4096)
	if err != nil {
		return nil, r.FileError(pid, "io", err)
	}
	c, err := parseProcIO(data)
	if err != nil {
		return nil, r.FileError(pid, "io", err)
	}
	return &c, nil
}

// errIOFormat is wrapped by every /proc/PID/io parse error.
var errIOFormat = errors.New("malformed io")

// parseProcIO parses /proc/PID/io: "key: value" lines. Every one of the
// seven keys must be present (a kernel without task I/O accounting has no
// file at all); unknown keys are skipped.
func parseProcIO(b []byte) (IOCounters, error) {
	var c IOCounters
	var seen uint8
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return c, fmt.Errorf("%w: no key in %q", errIOFormat, clip(line))
		}
		var dst *uint64
		var bit uint8
		switch string(key) {
		case "rchar":
			dst, bit = &c.RChar, 1<<0
		case "wchar":
			dst, bit = &c.WChar, 1<<1
		case "syscr":
			dst, bit = &c.SyscR, 1<<2
		case "syscw":
			dst, bit = &c.SyscW, 1<<3
		case "read_bytes":
			dst, bit = &c.ReadBytes, 1<<4
		case "write_bytes":
			dst, bit = &c.WriteBytes, 1<<5
		case "cancelled_write_bytes":
			dst, bit = &c.CancelledWriteBytes, 1<<6
		default:
			continue
		}
		v, ok := parseUint(bytes.TrimSpace(val))
		if !ok {
			return c, fmt.Errorf("%w: %s: bad number %q", errIOFormat, key, clip(val))
		}
		*dst = v
		seen |= bit
	}
	if seen != 1<<7-1 {
		return c, fmt.Errorf("%w: missing keys (have mask %#x)", errIOFormat, seen)
	}
	return c, nil
}
