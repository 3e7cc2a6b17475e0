package monitor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's process-events connector (linux/cn_proc.h, connector.h).
const (
	cnIdxProc         = 1 // CN_IDX_PROC: also the multicast group
	cnValProc         = 1 // CN_VAL_PROC
	procCnMcastListen = 1
	procCnMcastIgnore = 2

	procEventNone = 0x00000000
	procEventFork = 0x00000001
	procEventExec = 0x00000002
	procEventComm = 0x00000200
	procEventExit = 0x80000000

	cnMsgLen     = 20 // struct cn_msg without data
	procEventHdr = 16 // what, cpu, timestamp_ns
)

// procEvent is one decoded event of the process-events connector. Pids
// are in the initial pid namespace (the connector works only there).
type procEvent struct {
	What uint32
	// CPU is the CPU that sent the event and Seq its number in that CPU's
	// stream (cn_msg.seq): the kernel numbers every process event per CPU,
	// so a gap means events were dropped before reaching the socket.
	CPU, Seq uint32
	// TimestampNs is the kernel's CLOCK_MONOTONIC time of the event.
	TimestampNs uint64
	// PID and TGID are the subject (the child for fork).
	PID, TGID int
	// ParentPID and ParentTGID: the parent for fork; for exit the parent
	// the kernel notified (kernels since 4.18), else 0.
	ParentPID, ParentTGID int
	// ExitCode is the wait status for exit; ExitSignal the signal sent to
	// the parent.
	ExitCode, ExitSignal uint32
	// Comm for comm events.
	Comm string
	// Err is the acknowledgement's error number for what == none.
	Err uint32
}

// errShort is a connector message too short for its type.
var errShort = errors.New("connector message too short")

// parseProcEvent decodes one netlink payload (struct cn_msg followed by a
// struct proc_event). ok is false for messages of other connectors.
func parseProcEvent(b []byte) (ev procEvent, ok bool, err error) {
	ne := binary.NativeEndian
	if len(b) < cnMsgLen {
		return ev, false, errShort
	}
	if ne.Uint32(b[0:]) != cnIdxProc || ne.Uint32(b[4:]) != cnValProc {
		return ev, false, nil
	}
	ev.Seq = ne.Uint32(b[8:])
	n := int(ne.Uint16(b[16:]))
	d := b[cnMsgLen:]
	if n < len(d) {
		d = d[:n]
	}
	if len(d) < procEventHdr {
		return ev, false, errShort
	}
	ev.What = ne.Uint32(d[0:])
	ev.CPU = ne.Uint32(d[4:])
	ev.TimestampNs = ne.Uint64(d[8:])
	e := d[procEventHdr:]
	u := func(i int) uint32 { return ne.Uint32(e[4*i:]) }
	need := func(words int) error {
		if len(e) < 4*words {
			return fmt.Errorf("%w: event %#x has %d data bytes", errShort, ev.What, len(e))
		}
		return nil
	}
	switch ev.What {
	case procEventNone:
		if err := need(1); err != nil {
			return ev, false, err
		}
		ev.Err = u(0)
	case procEventFork:
		if err := need(4); err != nil {
			return ev, false, err
		}
		ev.ParentPID, ev.ParentTGID, ev.PID, ev.TGID = int(u(0)), int(u(1)), int(u(2)), int(u(3))
	case procEventExit:
		if err := need(4); err != nil {
			return ev, false, err
		}
		ev.PID, ev.TGID, ev.ExitCode, ev.ExitSignal = int(u(0)), int(u(1)), u(2), u(3)
		if len(e) >= 24 {
			ev.ParentPID, ev.ParentTGID = int(u(4)), int(u(5))
		}
	case procEventComm:
		if err := need(2); err != nil {
			return ev, false, err
		}
		ev.PID, ev.TGID = int(u(0)), int(u(1))
		c := e[8:min(len(e), 24)]
		for i, ch := range c {
			if ch == 0 {
				c = c[:i]
				break
			}
		}
		ev.Comm = string(c)
	default:
		if len(e) >= 8 {
			ev.PID, ev.TGID = int(u(0)), int(u(1))
		}
	}
	return ev, true, nil
}

// listenMsg builds the cn_msg that (un)subscribes to process events.
func listenMsg(op uint32) []byte {
	ne := binary.NativeEndian
	b := make([]byte, cnMsgLen+4)
	ne.PutUint32(b[0:], cnIdxProc)
	ne.PutUint32(b[4:], cnValProc)
	ne.PutUint16(b[16:], 4)
	ne.PutUint32(b[cnMsgLen:], op)
	return b
}

// connector is a subscription to the process-events connector.
//
// Its socket is never given to Go's network poller directly: the poller
// registers a socket with epoll for good, edge-triggered, and every
// datagram that arrives then wakes the thread sleeping in epoll_wait,
// whether or not anyone reads it (the kernel sends one event a datagram:
// under 200 forks a second that was about a thousand wake-ups a second of
// a program that reads its events 20 times a second). Nor does a receive
// wait in a blocking poll(2): a system call the Go scheduler is told of
// wakes the runtime's monitor thread (sysmon) from its deep sleep, which
// then polls every 20 µs while the program works, and a thread blocked in
// the kernel has its P taken and handed back. Instead the socket sits in
// an epoll set of the connector's own, armed one-shot only while a
// receive waits, and that set is what Go's poller watches: a wait parks
// the goroutine, the first datagram wakes it once, and the datagrams that
// follow wake nobody until the next wait arms the set again. Every system
// call of a receive is a raw, non-blocking one.
type connector struct {
	fd int // the netlink socket (non-blocking)
	// wake is an eventfd in the epoll set that ends a wait (close).
	wake int
	// ep is the epoll set (the socket one-shot, wake level-triggered),
	// epf the same descriptor in Go's poller and raw its RawConn.
	ep  int
	epf *os.File
	raw syscall.RawConn
	// events receives epoll_wait's answer.
	events [2]unix.EpollEvent
	// dgram holds one datagram while it is parsed.
	dgram []byte
	// held is an error met after some datagrams of a drain were read: the
	// events are returned first, the error by the next receive.
	held error
	// emptyAtNs is set by each receive: the monotonic time at which it
	// began the read that found the socket empty and ended it (every
	// datagram the kernel queued before then has been returned), 0 when
	// it ended otherwise (maxDrain datagrams, an error). The receiving
	// goroutine's.
	emptyAtNs int64
	// waits is odd while a receive waits on the empty socket, and counts
	// every wait's start and end (queueEmpty's caller checks that none
	// began or ended around it).
	waits atomic.Uint64
	// closed is set by close; the descriptors are released by release,
	// once nothing receives any more. mu keeps close and release apart
	// (close may run on another goroutine, as ctx ends).
	closed   atomic.Bool
	mu       sync.Mutex
	released bool
}

// errConnectorClosed is a receive's error once close was called.
var errConnectorClosed = errors.New("proc connector: closed")

// errAckTimeout is a receive's error when nothing came within its limit.
var errAckTimeout = errors.New("proc connector: timed out")

// connectorRcvBuf is the socket receive buffer asked for (the kernel
// doubles it). Each event is charged about 1 KiB of buffer (the skb's true
// size), so this holds tens of thousands of events: a burst of forks, or a
// while without CPU for pinspect on an overloaded machine, does not overrun
// it. The memory is used only while events wait to be read.
const connectorRcvBuf = 32 << 20

// dialConnector opens a netlink connector socket bound to the process
// events group and subscribes. It fails without CAP_NET_ADMIN, outside
// the initial pid namespace, or on kernels without CONFIG_PROC_EVENTS.
func dialConnector() (*connector, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("proc connector: dial: %w", err)
	}
	k := &connector{fd: fd, wake: -1, ep: -1, dgram: make([]byte, connectorDatagramMax)}
	if err := k.openWait(); err != nil {
		k.release()
		return nil, fmt.Errorf("proc connector: %w", err)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, connectorRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, connectorRcvBuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		k.release()
		return nil, fmt.Errorf("proc connector: dial: %w", err)
	}
	if err := k.send(procCnMcastListen); err != nil {
		k.release()
		return nil, fmt.Errorf("proc connector: subscribe: %w", err)
	}
	// The kernel acknowledges with an event of type none carrying an error
	// number; without privilege it does not answer at all, so wait briefly.
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			left = 0
		}
		evs, err := k.receiveWithin(nil, int(left/time.Millisecond))
		if err != nil {
			k.release()
			if errors.Is(err, errAckTimeout) || errors.Is(err, unix.EAGAIN) {
				return nil, fmt.Errorf("proc connector: no acknowledgement to the subscription (needs CAP_NET_ADMIN in the initial pid namespace)")
			}
			return nil, fmt.Errorf("proc connector: %w", err)
		}
		for _, ev := range evs {
			if ev.What == procEventNone {
				if ev.Err != 0 {
					k.release()
					return nil, fmt.Errorf("proc connector: subscription refused: %w", unix.Errno(ev.Err))
				}
				return k, nil
			}
		}
	}
}

// send sends the kernel a connector control message (listen, ignore) in
// one netlink message.
func (k *connector) send(op uint32) error {
	body := listenMsg(op)
	b := make([]byte, unix.NLMSG_HDRLEN+len(body))
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.NLMSG_DONE)
	copy(b[unix.NLMSG_HDRLEN:], body)
	return unix.Sendto(k.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// connectorDatagramMax is the largest datagram read: a process event is
// under 100 bytes; a longer datagram is cut and its events skipped.
const connectorDatagramMax = 4 << 10

// maxDrain is the most datagrams one receive reads before it returns, so
// that a flood is converted while it is being read.
const maxDrain = 4096

// receive blocks until a datagram is queued, then reads every datagram
// queued (up to maxDrain) without blocking again, and appends their
// events to dst: a burst of events costs one wake-up, not one a
// datagram. Datagrams not sent by the kernel are ignored. It sets
// emptyAtNs when it stopped on an empty socket. After close it returns
// errConnectorClosed.
func (k *connector) receive(dst []procEvent) ([]procEvent, error) {
	return k.receiveWithin(dst, -1)
}

// receiveWithin is receive waiting at most ms milliseconds for the first
// datagram (-1: no limit); errAckTimeout when none came.
func (k *connector) receiveWithin(dst []procEvent, ms int) ([]procEvent, error) {
	k.emptyAtNs = 0
	if err := k.held; err != nil {
		k.held = nil
		return dst, err
	}
	got := 0
	var rerr error
	for rerr == nil && got < maxDrain {
		if k.closed.Load() {
			rerr = errConnectorClosed
			break
		}
		at := monotonicNow()
		n, fromKernel, err := recvDatagram(k.fd, k.dgram)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if got > 0 {
				k.emptyAtNs = at
				return dst, nil
			}
			rerr = k.wait(ms)
			continue
		case err != nil:
			rerr = err
			continue
		}
		got++
		if fromKernel {
			dst, err = appendEvents(dst, k.dgram[:n])
			if err != nil {
				rerr = err
			}
		}
	}
	if rerr != nil && got > 0 {
		k.held = rerr
		return dst, nil
	}
	return dst, rerr
}

// openWait makes the wake-up eventfd and the epoll set a receive waits
// on, and puts the set in Go's poller.
func (k *connector) openWait() error {
	var err error
	if k.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	if k.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	// The socket is added disarmed (no events asked): wait arms it.
	if err := unix.EpollCtl(k.ep, unix.EPOLL_CTL_ADD, k.fd, &unix.EpollEvent{Fd: int32(k.fd)}); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	if err := unix.EpollCtl(k.ep, unix.EPOLL_CTL_ADD, k.wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(k.wake)}); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	// os.NewFile gives a descriptor to the poller only when it is
	// non-blocking (for an epoll set the flag changes nothing else).
	if err := unix.SetNonblock(k.ep, true); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	k.epf = os.NewFile(uintptr(k.ep), "proc-connector-epoll")
	if k.raw, err = k.epf.SyscallConn(); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	return nil
}

// wait parks the goroutine until the socket is readable, close wakes it,
// or ms milliseconds pass (-1: no limit). It arms the socket in the epoll
// set for one event, so only the first datagram after the arming wakes
// the program; the deadline is Go's poller's, not a system call's.
func (k *connector) wait(ms int) error {
	k.waits.Add(1)
	defer k.waits.Add(1)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(k.fd)}
	if _, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(k.ep), unix.EPOLL_CTL_MOD, uintptr(k.fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0); errno != 0 {
		return fmt.Errorf("proc connector: epoll: %w", errno)
	}
	var deadline time.Time
	if ms >= 0 {
		deadline = time.Now().Add(time.Duration(ms) * time.Millisecond)
	}
	if err := k.epf.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("proc connector: %w", err)
	}
	var ready, woken bool
	var werr error
	err := k.raw.Read(func(ep uintptr) bool {
		r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, ep, uintptr(unsafe.Pointer(&k.events[0])), uintptr(len(k.events)), 0, 0, 0)
		switch {
		case errno == unix.EINTR || errno == unix.EAGAIN:
			return false
		case errno != 0:
			werr = errno
			return true
		}
		for _, e := range k.events[:r] {
			if e.Fd == int32(k.wake) {
				woken = true
			} else {
				ready = true
			}
		}
		return r > 0
	})
	switch {
	case k.closed.Load() || woken:
		return errConnectorClosed
	case werr != nil:
		return fmt.Errorf("proc connector: epoll_wait: %w", werr)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errAckTimeout
	case err != nil:
		return fmt.Errorf("proc connector: %w", err)
	case !ready:
		return errAckTimeout
	}
	return nil
}

// queueEmpty reports whether the socket has no datagram (nor error)
// waiting, without reading: a raw poll(2) that does not wait, safe beside
// a receive on another goroutine. False once the descriptors are
// released.
func (k *connector) queueEmpty() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.released {
		return false
	}
	fds := [1]unix.PollFd{{Fd: int32(k.fd), Events: unix.POLLIN}}
	var zero unix.Timespec
	r, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
	return errno == 0 && r == 0
}

// recvDatagram reads one datagram into b without blocking and says
// whether the kernel sent it (netlink port id 0). The call is a raw one,
// which the Go scheduler is not told of: with MSG_DONTWAIT it never
// blocks (a copy of at most connectorDatagramMax bytes), and a system
// call the scheduler is told of wakes the runtime's monitor thread
// (sysmon) from its deep sleep, which then polls every 20 µs while the
// program works: an agent's every batch of events paid for it (about 6 %
// of serve's CPU at 500 x 9 under a test run's process churn, side by
// side; docs/PERFORMANCE.md, the serve3 pass).
func recvDatagram(fd int, b []byte) (n int, fromKernel bool, err error) {
	var from unix.RawSockaddrNetlink
	fromLen := uint32(unsafe.Sizeof(from))
	r, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&from)), uintptr(unsafe.Pointer(&fromLen)))
	if errno != 0 {
		return 0, false, errno
	}
	return int(r), from.Pid == 0, nil
}

// appendEvents appends the process events of one datagram's netlink
// messages to dst; an error message from the kernel is returned as its
// error number.
func appendEvents(dst []procEvent, b []byte) ([]procEvent, error) {
	ne := binary.NativeEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(ne.Uint32(b[0:]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return dst, nil // cut short: nothing more to read in it
		}
		typ := ne.Uint16(b[4:])
		data := b[unix.NLMSG_HDRLEN:l]
		if typ == unix.NLMSG_ERROR && len(data) >= 4 {
			if errno := int32(ne.Uint32(data)); errno != 0 {
				return dst, fmt.Errorf("proc connector: %w", unix.Errno(-errno))
			}
		} else if typ != unix.NLMSG_NOOP && typ != unix.NLMSG_ERROR {
			if ev, ok, err := parseProcEvent(data); err == nil && ok {
				dst = append(dst, ev)
			}
		}
		b = b[min(nlmsgAlign(l), len(b)):]
	}
	return dst, nil
}

// nlmsgAlign rounds a netlink message length up to its 4-byte alignment.
func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// close unsubscribes and ends the subscription: a receive waiting returns
// errConnectorClosed, and so does every receive after. It may be called
// from any goroutine, more than once; the descriptors stay open until
// release.
func (k *connector) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed.Swap(true) || k.released {
		return
	}
	_ = k.send(procCnMcastIgnore)
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(k.wake, one[:])
}

// release closes the descriptors. Only the goroutine that receives calls
// it, once it will not receive again (after close, or before any
// receive): a descriptor closed under a receive could be reused by
// another file in between.
func (k *connector) release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.released {
		return
	}
	k.released = true
	k.closed.Store(true)
	if k.epf != nil {
		_ = k.epf.Close()
	} else if k.ep >= 0 {
		unix.Close(k.ep)
	}
	if k.wake >= 0 {
		unix.Close(k.wake)
	}
	unix.Close(k.fd)
}

// ackNoCPU is the CPU of an acknowledgement that is not numbered in a
// CPU's stream (kernels whose acknowledgements bypass send_msg).
const ackNoCPU = ^uint32(0)

// seqTracker finds gaps in the per-CPU numbering of connector events.
type seqTracker struct {
	last map[uint32]uint32
}

// gap returns how many events of ev's CPU were skipped before ev (0 for
// the first event seen from a CPU). On current kernels (6.18 here) the
// acknowledgement of every subscription and unsubscription goes through
// the same send path as the events: it is numbered in the sending CPU's
// stream and sent to every listener, so each pinspect, forkstat or other
// connector client starting or stopping shows here as one event of type
// none. Left out of the numbering, each such acknowledgement looked like
// one lost event and made the monitor rescan (TestOtherSubscribersAreNotGaps).
// Kernels whose acknowledgements carry CPU -1 and the subscriber's own
// number keep them out of every stream.
func (s *seqTracker) gap(ev *procEvent) uint32 {
	if ev.What == procEventNone && ev.CPU == ackNoCPU {
		return 0
	}
	if s.last == nil {
		s.last = make(map[uint32]uint32)
	}
	prev, seen := s.last[ev.CPU]
	s.last[ev.CPU] = ev.Seq
	if !seen {
		return 0
	}
	d := ev.Seq - prev - 1 // wraps correctly
	if d > 1<<30 {
		return 0 // out of order or reset: not a gap we can count
	}
	return d
}
