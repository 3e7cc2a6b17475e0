//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// agentTimerSlack is the timer slack serve and record give every thread
// of theirs (PR_SET_TIMERSLACK; systemd's TimerSlackNSec= for a whole
// service): how late the kernel may end a sleep or a timeout so that it
// ends together with another wake-up. Linux's default is 50 us.
//
// The lever is the Go runtime's monitor thread (sysmon). While the P
// runs, it sleeps 20 us at a time (a nanosleep) for its first 50 rounds
// after a system call woke it, and doubles the sleep only then; an
// agent's collection starts with such a system call, so at 2,000 x 9
// sysmon woke about 110 times a collection, each wake a timer interrupt
// and two task switches on the CPU the collection runs on, about a tenth
// of the agent's CPU (docs/PERFORMANCE.md, serve14). With this slack its
// sleeps end at the next timer interrupt at least 20 us on (the
// scheduler's tick: 4 ms at HZ=250, 1 ms at HZ=1000), and it does what
// it does (retake a P from a blocking system call, preempt a goroutine
// that ran 10 ms, poll the network) a few milliseconds later at most.
// The agents' own timers (the interval, the connector's 50 ms
// coalescing, the HTTP server's deadlines) end at most as late: nothing
// an agent does is timed finer.
const agentTimerSlack = 4 * time.Millisecond

// widenTimerSlack gives every thread of the process the timer slack d:
// this one by prctl, the others through /proc/TID/timerslack_ns, which
// takes CAP_SYS_NICE (root has it). A thread takes its creator's slack,
// so the threads the runtime starts later have it too; the threads are
// listed twice, for one started while the first list was worked
// through. It returns how many threads it set and how many it found;
// without the capability it sets this thread only (the other threads'
// writes fail), which is only less of a saving.
func widenTimerSlack(d time.Duration) (set, found int) {
	self := unix.Gettid()
	if unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(d.Nanoseconds()), 0, 0, 0) == nil {
		set++
	}
	found++
	done := map[int]bool{self: true}
	val := []byte(strconv.FormatInt(d.Nanoseconds(), 10))
	for range 2 {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return set, found
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			done[tid] = true
			found++
			if writeTimerSlack(tid, val) == nil {
				set++
			}
		}
	}
	return set, found
}

// writeTimerSlack writes val (nanoseconds, decimal) to thread tid's
// /proc/TID/timerslack_ns (a thread's own directory under /proc: the
// task/ directory has no such file). The directory is opened first and
// the file is written only when its status says the thread is this
// process's: a thread of ours that ended since the listing can have its
// tid taken by another process's thread, whose slack pinspect, which only
// reads, must not set. The open directory holds the thread it named, so
// the check and the write are of one thread.
func writeTimerSlack(tid int, val []byte) error {
	dir, err := unix.Open("/proc/"+strconv.Itoa(tid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	if ours, err := threadOfThisProcess(dir); err != nil {
		return err
	} else if !ours {
		return unix.ESRCH
	}
	fd, err := unix.Openat(dir, "timerslack_ns", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "timerslack_ns")
	_, err = f.Write(val)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// threadOfThisProcess reads the status file of the thread whose /proc
// directory is dir and says whether its Tgid is this process's pid.
func threadOfThisProcess(dir int) (bool, error) {
	fd, err := unix.Openat(dir, "status", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return false, err
	}
	want := "\nTgid:\t" + strconv.Itoa(os.Getpid()) + "\n"
	return strings.Contains(string(buf[:n]), want), nil
}
