package collector

import (
	"slices"
	"strconv"
	"strings"
)

// FDSummary counts a process's open file descriptors by what they point
// at (the targets of /proc/PID/fd/* links). Reading them needs ptrace read
// access (another user's process is denied unless root).
type FDSummary struct {
	// Count is the number of descriptors read; Truncated is true when the
	// read stopped at its cap, so the counts are a lower bound.
	Count     int  `json:"count"`
	Truncated bool `json:"truncated,omitempty"`
	// EventPoll counts epoll instances (anon_inode:[eventpoll]): the
	// centre of an event loop.
	EventPoll int `json:"eventpoll"`
	// Sockets, Pipes, Files (regular paths) and the other anonymous
	// kinds.
	Sockets  int `json:"sockets"`
	Pipes    int `json:"pipes"`
	Files    int `json:"files"`
	EventFD  int `json:"eventfd"`
	TimerFD  int `json:"timerfd"`
	SignalFD int `json:"signalfd"`
	IOUring  int `json:"io_uring"`
	Other    int `json:"other"`
}

// add counts one link target.
func (s *FDSummary) add(target string) {
	s.Count++
	switch {
	case target == "anon_inode:[eventpoll]":
		s.EventPoll++
	case strings.HasPrefix(target, "socket:["):
		s.Sockets++
	case strings.HasPrefix(target, "pipe:["):
		s.Pipes++
	case target == "anon_inode:[eventfd]":
		s.EventFD++
	case target == "anon_inode:[timerfd]":
		s.TimerFD++
	case target == "anon_inode:[signalfd]":
		s.SignalFD++
	case target == "anon_inode:[io_uring]":
		s.IOUring++
	case strings.HasPrefix(target, "/"):
		s.Files++
	default:
		s.Other++
	}
}

// summarizeFDTargets counts link targets (for tests and fixtures).
func summarizeFDTargets(targets []string) FDSummary {
	var s FDSummary
	for _, t := range targets {
		s.add(t)
	}
	return s
}

// maxFDs caps the descriptors FDs reads.
const maxFDs = 1 << 16

// FDs reads the targets of /proc/PID/fd/* and counts them by kind, up to
// maxFDs descriptors (then Truncated is set). It is safe for concurrent
// use.
func (r *Reader) FDs(pid int) (*FDSummary, error) {
	pb, dirBuf, link := newPathBuf(r.opts.Root), make([]byte, 16<<10), make([]byte, linkMax)
	fds, err := listNumeric(pb.set(pid, 0, "fd"), dirBuf, nil)
	if err != nil {
		return nil, r.FileError(pid, "fd", err)
	}
	s := &FDSummary{}
	if len(fds) > maxFDs {
		fds, s.Truncated = fds[:maxFDs], true
	}
	dir := pb.set(pid, 0, "fd")
	dir = dir[:len(dir)-1] // without the NUL
	path := slices.Clone(dir)
	for _, fd := range fds {
		path = append(strconv.AppendInt(append(path[:len(dir)], '/'), int64(fd), 10), 0)
		target, err := readlinkAt(path, link)
		if err != nil {
			if IsDenied(err) {
				return nil, r.FileError(pid, "fd", err)
			}
			continue // closed since the listing
		}
		s.add(target)
	}
	return s, nil
}
