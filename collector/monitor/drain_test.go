package monitor

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nlMsg frames a payload as one netlink message of type typ, padded to
// the netlink alignment.
func nlMsg(typ uint16, payload []byte) []byte {
	ne := binary.NativeEndian
	b := make([]byte, nlmsgAlign(unix.NLMSG_HDRLEN+len(payload)))
	ne.PutUint32(b[0:], uint32(unix.NLMSG_HDRLEN+len(payload)))
	ne.PutUint16(b[4:], typ)
	copy(b[unix.NLMSG_HDRLEN:], payload)
	return b
}

// TestAppendEvents: the receiver's own netlink framing (it reads the
// socket directly to drain it in one wake-up): every process event of a
// datagram in order, no-ops and other connectors' messages skipped, a
// message cut short ends the datagram, an error message is its errno.
func TestAppendEvents(t *testing.T) {
	other := cnMsg(procEventFork, 1, 1, 2, 2)
	other[0] = 7
	var dgram []byte
	dgram = append(dgram, nlMsg(unix.NLMSG_DONE, cnMsg(procEventFork, 10, 10, 11, 11))...)
	dgram = append(dgram, nlMsg(unix.NLMSG_NOOP, nil)...)
	dgram = append(dgram, nlMsg(unix.NLMSG_DONE, other)...)
	dgram = append(dgram, nlMsg(unix.NLMSG_DONE, cnMsg(procEventExit, 11, 11, 0, 17))...)
	evs, err := appendEvents(nil, dgram)
	if err != nil || len(evs) != 2 || evs[0].What != procEventFork || evs[0].PID != 11 || evs[1].What != procEventExit || evs[1].PID != 11 {
		t.Fatalf("events %+v, error %v; want the fork of 11, then its exit", evs, err)
	}
	cut := nlMsg(unix.NLMSG_DONE, cnMsg(procEventFork, 20, 20, 21, 21))
	evs, err = appendEvents(evs[:0], append(nlMsg(unix.NLMSG_DONE, cnMsg(procEventFork, 10, 10, 12, 12)), cut[:len(cut)-8]...))
	if err != nil || len(evs) != 1 || evs[0].PID != 12 {
		t.Errorf("a datagram cut short: events %+v, error %v; want the one whole event", evs, err)
	}
	errno := make([]byte, 4)
	enobufs := -int32(unix.ENOBUFS)
	binary.NativeEndian.PutUint32(errno, uint32(enobufs))
	if _, err = appendEvents(nil, nlMsg(unix.NLMSG_ERROR, errno)); !errors.Is(err, unix.ENOBUFS) {
		t.Errorf("an error message: %v, want ENOBUFS", err)
	}
	binary.NativeEndian.PutUint32(errno, 0)
	if evs, err = appendEvents(nil, nlMsg(unix.NLMSG_ERROR, errno)); err != nil || len(evs) != 0 {
		t.Errorf("an acknowledgement (error 0): %+v, %v; want nothing", evs, err)
	}
}

// TestMonotonicNowIsClockMonotonic holds monotonicNow (Go's clock from a
// base) to CLOCK_MONOTONIC, which the connector's timestamps are on: a
// wrong unit or base would date every event wrongly. The bound is loose
// (the base's two reads may be a scheduling delay apart on a loaded
// machine); a unit error is off by orders of magnitude more.
func TestMonotonicNowIsClockMonotonic(t *testing.T) {
	var a, b unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &a)
	m := monotonicNow()
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &b)
	const slack = int64(time.Second)
	if m < a.Nano()-slack || m > b.Nano()+slack {
		t.Fatalf("monotonicNow %d, CLOCK_MONOTONIC %d..%d", m, a.Nano(), b.Nano())
	}
}
