package explain

import (
	"strconv"
	"strings"
)

// syscallNames are the system calls explain names, by architecture: the
// ones threads wait in. Others are shown by number.
var syscallNames = map[string]map[int]string{
	"amd64": {
		0: "read", 1: "write", 7: "poll", 17: "pread64", 18: "pwrite64", 19: "readv", 20: "writev",
		23: "select", 24: "sched_yield", 34: "pause", 35: "nanosleep", 43: "accept", 44: "sendto",
		45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 42: "connect", 61: "wait4", 73: "flock", 74: "fsync",
		75: "fdatasync", 128: "rt_sigtimedwait", 130: "rt_sigsuspend", 202: "futex", 208: "io_getevents",
		230: "clock_nanosleep", 232: "epoll_wait", 247: "waitid", 270: "pselect6", 271: "ppoll",
		281: "epoll_pwait", 288: "accept4", 426: "io_uring_enter", 441: "epoll_pwait2", 449: "futex_wait",
		454: "futex_waitv",
		// Process life and the calls a thread is often caught in.
		2: "open", 3: "close", 9: "mmap", 11: "munmap", 12: "brk", 16: "ioctl", 26: "msync", 40: "sendfile",
		56: "clone", 57: "fork", 58: "vfork", 59: "execve", 60: "exit", 62: "kill", 162: "sync",
		217: "getdents64", 231: "exit_group", 257: "openat", 275: "splice", 277: "sync_file_range",
		306: "syncfs", 322: "execveat", 435: "clone3",
	},
	"arm64": {
		4: "io_getevents", 22: "epoll_pwait", 32: "flock", 63: "read", 64: "write", 65: "readv", 66: "writev",
		67: "pread64", 68: "pwrite64", 72: "pselect6", 73: "ppoll", 82: "fsync", 83: "fdatasync",
		95: "waitid", 98: "futex", 101: "nanosleep", 115: "clock_nanosleep", 124: "sched_yield",
		133: "rt_sigsuspend", 137: "rt_sigtimedwait", 202: "accept", 203: "connect", 206: "sendto",
		207: "recvfrom", 211: "sendmsg", 212: "recvmsg", 242: "accept4", 260: "wait4",
		426: "io_uring_enter", 441: "epoll_pwait2", 449: "futex_wait", 454: "futex_waitv",
		// Process life and the calls a thread is often caught in (arm64
		// has no fork or vfork: glibc uses clone).
		29: "ioctl", 56: "openat", 57: "close", 61: "getdents64", 71: "sendfile", 76: "splice", 81: "sync",
		84: "sync_file_range", 93: "exit", 94: "exit_group", 129: "kill", 214: "brk", 215: "munmap",
		220: "clone", 221: "execve", 222: "mmap", 227: "msync", 267: "syncfs", 281: "execveat", 435: "clone3",
	},
}

// SyscallName names system call nr on arch ("futex"), or "syscall N" when
// explain does not know it.
func SyscallName(arch string, nr int) string {
	if n, ok := syscallNames[arch][nr]; ok {
		return n
	}
	return "syscall " + strconv.Itoa(nr)
}

// waitKind groups what a thread waits in.
type waitKind string

// The wait kinds.
const (
	waitTimer   waitKind = "timer"   // nanosleep, clock_nanosleep
	waitFutex   waitKind = "futex"   // locks, condition variables, joins
	waitPoll    waitKind = "poll"    // epoll, poll, select
	waitNet     waitKind = "network" // accept, recv, connect, socket reads
	waitDisk    waitKind = "disk"    // fsync, block I/O
	waitPipe    waitKind = "pipe"    // pipe reads and writes
	waitChild   waitKind = "child"   // wait4, waitid
	waitSignal  waitKind = "signal"  // pause, sigsuspend, sigtimedwait
	waitRead    waitKind = "read"    // read/write of an unknown kind
	waitOther   waitKind = "other"
	waitUnknown waitKind = ""
)

// syscallKind classifies a system call by name.
func syscallKind(name string) waitKind {
	switch name {
	case "nanosleep", "clock_nanosleep":
		return waitTimer
	case "futex", "futex_wait", "futex_waitv", "sched_yield":
		return waitFutex
	case "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6", "io_uring_enter", "io_getevents":
		return waitPoll
	case "accept", "accept4", "recvfrom", "recvmsg", "sendto", "sendmsg", "connect":
		return waitNet
	case "fsync", "fdatasync", "pread64", "pwrite64", "flock", "sync", "syncfs", "msync", "sync_file_range":
		return waitDisk
	case "wait4", "waitid", "vfork":
		// vfork (and clone with CLONE_VFORK: see wchan kernel_clone)
		// returns when the child execs or exits.
		return waitChild
	case "pause", "rt_sigsuspend", "rt_sigtimedwait":
		return waitSignal
	case "read", "write", "readv", "writev":
		return waitRead
	}
	return waitOther
}

// wchanKinds are the kernel wait functions (wchan) explain recognises,
// by the kind of wait each one is.
var wchanKinds = map[string]waitKind{
	"hrtimer_nanosleep": waitTimer, "do_nanosleep": waitTimer, "common_nsleep": waitTimer,
	"ep_poll": waitPoll, "do_epoll_wait": waitPoll, "do_sys_poll": waitPoll, "do_select": waitPoll, "core_sys_select": waitPoll,
	"inet_csk_accept": waitNet, "sk_wait_data": waitNet, "unix_stream_read_generic": waitNet, "unix_stream_data_wait": waitNet,
	"sk_stream_wait_memory": waitNet, "inet_wait_for_connect": waitNet,
	"submit_bio_wait": waitDisk, "io_schedule": waitDisk, "blk_mq_get_tag": waitDisk, "folio_wait_bit_common": waitDisk,
	"wait_on_page_bit_common": waitDisk, "jbd2_log_wait_commit": waitDisk, "file_write_and_wait_range": waitDisk,
	"filemap_fdatawait_range": waitDisk, "__filemap_fdatawait_range": waitDisk, "rq_qos_wait": waitDisk, "wbt_wait": waitDisk,
	"balance_dirty_pages": waitDisk, "jbd2_journal_commit_transaction": waitDisk, "__sync_dirty_buffer": waitDisk,
	"pipe_read": waitPipe, "pipe_write": waitPipe, "pipe_wait": waitPipe, "wait_for_partner": waitPipe,
	"do_wait": waitChild, "kernel_wait4": waitChild,
	// A vfork (or posix_spawn) parent waits in kernel_clone, in D, until
	// its child execs or exits.
	"kernel_clone": waitChild, "wait_for_vfork_done": waitChild,
	"folio_wait_bit": waitDisk, "folio_wait_writeback": waitDisk, "io_schedule_timeout": waitDisk,
	"sigsuspend": waitSignal, "do_sigtimedwait": waitSignal, "sys_pause": waitSignal,
}

// wchanKind classifies a kernel wait function (wchan) by name: the futex
// functions by their prefix, the others by wchanKinds.
func wchanKind(w string) waitKind {
	switch {
	case w == "":
		return waitUnknown
	case strings.HasPrefix(w, "futex"):
		return waitFutex
	}
	if k, ok := wchanKinds[w]; ok {
		return k
	}
	return waitOther
}
