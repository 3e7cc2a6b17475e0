package collector

import (
	"bytes"
	"errors"
	"fmt"
)

// TaskSyscall is what /proc/PID/task/TID/syscall says a task is doing. The
// file needs ptrace access to the task (root, or the same user when the
// Yama ptrace scope allows it); it reads "running" for a task on a CPU,
// "-1 SP PC" for a task blocked outside a system call (a page fault, a
// preemption in user mode), and "NR ARG0..ARG5 SP PC" for a task inside
// system call NR.
type TaskSyscall struct {
	// Running is true when the task was on a CPU: nothing else is known.
	Running bool `json:"running,omitempty"`
	// Nr is the system call number (the target's architecture), or -1
	// when the task is blocked outside a system call. Meaningless when
	// Running.
	Nr int `json:"nr"`
	// Args are the six argument registers (in a system call only).
	Args [6]uint64 `json:"args"`
	// SP and PC are the user stack pointer and program counter.
	SP uint64 `json:"sp"`
	PC uint64 `json:"pc"`
}

// InSyscall reports whether the task was inside a system call.
func (s TaskSyscall) InSyscall() bool { return !s.Running && s.Nr >= 0 }

// errTaskSyscallFormat is wrapped by every task syscall parse error.
var errTaskSyscallFormat = errors.New("malformed task syscall file")

// parseTaskSyscall parses a task's syscall file (see TaskSyscall). The
// number is decimal, the rest hexadecimal with a 0x prefix.
func parseTaskSyscall(b []byte) (TaskSyscall, error) {
	b = bytes.TrimSpace(b)
	if string(b) == "running" {
		return TaskSyscall{Running: true, Nr: -1}, nil
	}
	f := bytes.Fields(b)
	var s TaskSyscall
	var regs []*uint64
	switch len(f) {
	case 3:
		regs = []*uint64{&s.SP, &s.PC}
	case 9:
		regs = []*uint64{&s.Args[0], &s.Args[1], &s.Args[2], &s.Args[3], &s.Args[4], &s.Args[5], &s.SP, &s.PC}
	default:
		return s, fmt.Errorf("%w: %d fields", errTaskSyscallFormat, len(f))
	}
	nr, ok := parseInt(f[0])
	if !ok || nr < -1 || nr > 1<<20 || (len(f) == 3) != (nr == -1) {
		return s, fmt.Errorf("%w: bad number %q", errTaskSyscallFormat, clip(f[0]))
	}
	s.Nr = int(nr)
	for i, dst := range regs {
		v, ok := parseHex0x(f[i+1])
		if !ok {
			return s, fmt.Errorf("%w: bad register %q", errTaskSyscallFormat, clip(f[i+1]))
		}
		*dst = v
	}
	return s, nil
}

// parseHex0x parses "0x" followed by 1 to 16 hex digits.
func parseHex0x(b []byte) (uint64, bool) {
	h, ok := bytes.CutPrefix(b, []byte("0x"))
	if !ok {
		return 0, false
	}
	return parseHex(h)
}
