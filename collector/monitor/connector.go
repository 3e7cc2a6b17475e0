package monitor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/netlink"
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
type connector struct {
	c *netlink.Conn
	// rc reads the socket directly: receive drains every datagram queued
	// in one wake-up (netlink.Conn.Receive reads one per call, and the
	// connector sends one event per datagram).
	rc syscall.RawConn
	// dgram holds one datagram while it is parsed.
	dgram []byte
	// held is an error met after some datagrams of a drain were read: the
	// events are returned first, the error by the next receive.
	held error
}

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
	c, err := netlink.Dial(unix.NETLINK_CONNECTOR, &netlink.Config{Groups: cnIdxProc, MessageBufferSize: 64 << 10})
	if err != nil {
		return nil, fmt.Errorf("proc connector: dial: %w", err)
	}
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, connectorRcvBuf) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, connectorRcvBuf)
			}
		})
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("proc connector: %w", err)
	}
	k := &connector{c: c, rc: rc, dgram: make([]byte, connectorDatagramMax)}
	if _, err := c.Send(netlink.Message{Header: netlink.Header{Type: netlink.Done}, Data: listenMsg(procCnMcastListen)}); err != nil {
		c.Close()
		return nil, fmt.Errorf("proc connector: subscribe: %w", err)
	}
	// The kernel acknowledges with an event of type none carrying an error
	// number; without privilege it does not answer at all, so wait briefly.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		evs, err := k.receive(nil)
		if err != nil {
			c.Close()
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ETIMEDOUT) || isTimeout(err) {
				return nil, fmt.Errorf("proc connector: no acknowledgement to the subscription (needs CAP_NET_ADMIN in the initial pid namespace)")
			}
			return nil, fmt.Errorf("proc connector: %w", err)
		}
		for _, ev := range evs {
			if ev.What == procEventNone {
				if ev.Err != 0 {
					c.Close()
					return nil, fmt.Errorf("proc connector: subscription refused: %w", unix.Errno(ev.Err))
				}
				_ = c.SetReadDeadline(time.Time{})
				return k, nil
			}
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
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
// datagram. Datagrams not sent by the kernel are ignored.
func (k *connector) receive(dst []procEvent) ([]procEvent, error) {
	if err := k.held; err != nil {
		k.held = nil
		return dst, err
	}
	got := 0
	var rerr error
	err := k.rc.Read(func(fd uintptr) bool {
		for got < maxDrain {
			n, fromKernel, err := recvDatagram(int(fd), k.dgram)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return got > 0 // none yet: wait until readable
			case err != nil:
				rerr = err
				return true
			}
			got++
			if fromKernel {
				dst, err = appendEvents(dst, k.dgram[:n])
				if err != nil {
					rerr = err
					return true
				}
			}
		}
		return true
	})
	if err == nil {
		err = rerr
	}
	if err != nil && got > 0 {
		k.held = err
		return dst, nil
	}
	return dst, err
}

// recvDatagram reads one datagram into b without blocking and says
// whether the kernel sent it (netlink port id 0).
func recvDatagram(fd int, b []byte) (n int, fromKernel bool, err error) {
	var from unix.RawSockaddrNetlink
	fromLen := uint32(unsafe.Sizeof(from))
	r, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
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

// close unsubscribes and closes the socket; a blocked receive returns.
func (k *connector) close() {
	_, _ = k.c.Send(netlink.Message{Header: netlink.Header{Type: netlink.Done}, Data: listenMsg(procCnMcastIgnore)})
	_ = k.c.Close()
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
