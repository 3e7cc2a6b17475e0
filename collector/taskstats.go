package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Taskstats: the kernel's per-task and per-thread-group accounting, read
// over generic netlink (TASKSTATS_CMD_GET). A TGID query gives a process's
// exact voluntary/involuntary context switches (exited threads included on
// current kernels) and its run-queue delay (cpu_delay_total) for about
// 10 µs; a per-thread query gives one thread's counts for about 7 µs,
// cheaper than reading its status file. It needs CAP_NET_ADMIN; without
// it every query fails with EPERM and the Reader falls back to /proc.
//
// The encoding is written by hand with raw write/read on a connected socket, into buffers
// reused for every query; replies are read by offset after a length check,
// never by casting to a struct of one kernel version's size. Netlink
// headers, attributes and struct taskstats are in the host's byte order
// (the kernel writes its own structs as they are), so every field is read
// and written with binary.NativeEndian, as the process-events connector's
// are: on a big-endian host a little-endian read would garble the lengths
// and every query would fail (pinspect would then fall back to /proc).

// ErrTaskstatsFormat is wrapped by errors about a malformed reply.
var ErrTaskstatsFormat = errors.New("malformed taskstats reply")

// Netlink and taskstats constants (linux/netlink.h, genetlink.h,
// taskstats.h).
const (
	nlmsgHdrLen  = 16
	genlHdrLen   = 4
	nlaHdrLen    = 4
	nlaTypeMask  = 0x3fff // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
	nlmFRequest  = 0x1
	nlmsgError   = 0x2
	genlIDCtrl   = 0x10
	ctrlCmdGetFa = 3
	ctrlAttrID   = 1
	ctrlAttrName = 2

	tsCmdGet      = 1
	tsGenlVersion = 1
	tsCmdAttrPID  = 1
	tsCmdAttrTGID = 2
	tsTypePID     = 1
	tsTypeTGID    = 2
	tsTypeStats   = 3
	tsTypeAggrPID = 4
	tsTypeAggrTG  = 5
)

// Offsets in struct taskstats (stable across versions: fields are only
// ever appended).
const (
	tsOffVersion  = 0
	tsOffCPUCount = 16
	tsOffCPUDelay = 24
	tsOffBlkCount = 32
	tsOffBlkDelay = 40
	tsOffSwpCount = 48
	tsOffSwpDelay = 56
	tsOffUTime    = 152
	tsOffSTime    = 160
	tsOffNvcsw    = 272
	tsOffNivcsw   = 280
	tsMinLen      = tsOffNivcsw + 8
)

// taskstatsRecord is the part of struct taskstats pinspect uses.
type taskstatsRecord struct {
	id           uint32 // the pid or tgid the reply names
	version      uint16
	cpuCount     uint64
	cpuDelayNs   uint64
	blkioCount   uint64
	blkioDelayNs uint64
	swapinCount  uint64
	swapinDelay  uint64 // ns
	utimeUs      uint64
	stimeUs      uint64
	nvcsw        uint64
	nivcsw       uint64
}

// taskstatsConn is one generic-netlink socket for taskstats queries.
type taskstatsConn struct {
	fd     int
	family uint16
	seq    uint32
	req    []byte
	resp   []byte
	// For batches: one receive slot per request, read with recvmmsg.
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	slots []byte
	ids   []int // a batch's ids, the TGID first
}

// Batches: requests per write, and the bytes kept for each reply (a
// version 16 reply is about 600 bytes; later versions append fields).
const (
	tsBatchMax = 32
	tsSlotSize = 2048
)

// openTaskstats opens the socket and resolves the TASKSTATS family. It
// does not check permission: the first query does (probeTaskstats).
func openTaskstats() (*taskstatsConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("taskstats socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("taskstats bind: %w", err)
	}
	// Connected to the kernel, plain write/read need no address (and
	// allocate nothing per query).
	if err := unix.Connect(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("taskstats connect: %w", err)
	}
	// A query never waits long; a bound keeps a wedged socket from
	// stalling a snapshot.
	tv := unix.Timeval{Sec: 1}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	c := &taskstatsConn{fd: fd, req: make([]byte, 0, 64), resp: make([]byte, 8192)}
	fam, err := c.resolveFamily()
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	c.family = fam
	return c, nil
}

func (c *taskstatsConn) close() {
	if c != nil && c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

// appendNlmsg starts a request: netlink header (length patched by send),
// genl header.
func (c *taskstatsConn) begin(typ uint16, cmd, version uint8) {
	c.seq++
	b := c.req[:0]
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, nlmFRequest)
	b = binary.NativeEndian.AppendUint32(b, c.seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, cmd, version, 0, 0)
	c.req = b
}

func (c *taskstatsConn) attr(typ uint16, payload []byte) {
	b := c.req
	b = binary.NativeEndian.AppendUint16(b, uint16(nlaHdrLen+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	c.req = b
}

// roundTrip sends the request and returns the payload (after the genl
// header) of the reply with our sequence number.
func (c *taskstatsConn) roundTrip() ([]byte, error) {
	binary.NativeEndian.PutUint32(c.req[0:], uint32(len(c.req)))
	for {
		if _, err := unix.Write(c.fd, c.req); err != nil {
			if err == unix.EINTR {
				continue
			}
			return nil, err
		}
		break
	}
	for {
		n, err := unix.Read(c.fd, c.resp)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		payload, seq, err := parseNlmsg(c.resp[:n])
		if err != nil {
			if seq != c.seq && seq != 0 {
				continue // a stale reply to an earlier query
			}
			return nil, err
		}
		if seq != c.seq {
			continue
		}
		return payload, nil
	}
}

// parseNlmsg checks one netlink message and returns its generic-netlink
// payload (attributes) and sequence number. An NLMSG_ERROR carrying an
// errno is returned as that errno.
func parseNlmsg(b []byte) (payload []byte, seq uint32, err error) {
	if len(b) < nlmsgHdrLen {
		return nil, 0, fmt.Errorf("%w: %d bytes", ErrTaskstatsFormat, len(b))
	}
	l := binary.NativeEndian.Uint32(b[0:])
	typ := binary.NativeEndian.Uint16(b[4:])
	seq = binary.NativeEndian.Uint32(b[8:])
	if l < nlmsgHdrLen || int(l) > len(b) {
		return nil, seq, fmt.Errorf("%w: length %d of %d", ErrTaskstatsFormat, l, len(b))
	}
	b = b[nlmsgHdrLen:l]
	if typ == nlmsgError {
		if len(b) < 4 {
			return nil, seq, fmt.Errorf("%w: short error", ErrTaskstatsFormat)
		}
		code := int32(binary.NativeEndian.Uint32(b))
		if code == 0 {
			return nil, seq, fmt.Errorf("%w: unexpected ack", ErrTaskstatsFormat)
		}
		return nil, seq, unix.Errno(-code)
	}
	if len(b) < genlHdrLen {
		return nil, seq, fmt.Errorf("%w: no genl header", ErrTaskstatsFormat)
	}
	return b[genlHdrLen:], seq, nil
}

// walkAttrs calls fn for each netlink attribute in b (type masked). It
// stops at a malformed attribute and reports it.
func walkAttrs(b []byte, fn func(typ uint16, val []byte)) error {
	for len(b) >= nlaHdrLen {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		typ := binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask
		if l < nlaHdrLen || l > len(b) {
			return fmt.Errorf("%w: attribute length %d of %d", ErrTaskstatsFormat, l, len(b))
		}
		fn(typ, b[nlaHdrLen:l])
		adv := (l + 3) &^ 3
		if adv > len(b) {
			break
		}
		b = b[adv:]
	}
	return nil
}

func (c *taskstatsConn) resolveFamily() (uint16, error) {
	c.begin(genlIDCtrl, ctrlCmdGetFa, 1)
	c.attr(ctrlAttrName, []byte("TASKSTATS\x00"))
	payload, err := c.roundTrip()
	if err != nil {
		return 0, fmt.Errorf("taskstats family: %w", err)
	}
	var id uint16
	err = walkAttrs(payload, func(typ uint16, val []byte) {
		if typ == ctrlAttrID && len(val) >= 2 {
			id = binary.NativeEndian.Uint16(val)
		}
	})
	if err == nil && id == 0 {
		err = fmt.Errorf("%w: no family id", ErrTaskstatsFormat)
	}
	return id, err
}

// query asks for one thread group (tgid true) or one thread.
func (c *taskstatsConn) query(id int, tgid bool) (taskstatsRecord, error) {
	c.begin(c.family, tsCmdGet, tsGenlVersion)
	var v [4]byte
	binary.NativeEndian.PutUint32(v[:], uint32(id))
	if tgid {
		c.attr(tsCmdAttrTGID, v[:])
	} else {
		c.attr(tsCmdAttrPID, v[:])
	}
	payload, err := c.roundTrip()
	if err != nil {
		return taskstatsRecord{}, err
	}
	return parseTaskstats(payload, tgid)
}

// queryBatch asks for the thread group id (when tgid >= 0) and then for
// each thread in tids, writing all the requests at once (the TGID query
// in the first write) and reading the replies with recvmmsg: 2 system
// calls per tsBatchMax queries instead of 2 per query. The kernel answers
// each request while the write runs, so the replies are already queued
// when it returns. recs and errs receive one entry per query, the TGID
// query first.
func (c *taskstatsConn) queryBatch(tgid int, tids []int, recs []taskstatsRecord, errs []error) ([]taskstatsRecord, []error) {
	recs, errs = recs[:0], errs[:0]
	if tgid >= 0 {
		n := min(len(tids), tsBatchMax-1)
		c.ids = append(append(c.ids[:0], tgid), tids[:n]...)
		recs, errs = c.batch(c.ids, true, recs, errs)
		tids = tids[n:]
	}
	for len(tids) > 0 {
		n := min(len(tids), tsBatchMax)
		recs, errs = c.batch(tids[:n], false, recs, errs)
		tids = tids[n:]
	}
	return recs, errs
}

// batch is one write of queries for ids (at most tsBatchMax; ids[0] is a
// thread group when tgidFirst, every other id a thread) and the reads of
// their replies.
func (c *taskstatsConn) batch(ids []int, tgidFirst bool, recs []taskstatsRecord, errs []error) ([]taskstatsRecord, []error) {
	tids := ids
	if c.msgs == nil {
		c.msgs = make([]unix.Mmsghdr, tsBatchMax)
		c.iovs = make([]unix.Iovec, tsBatchMax)
		c.slots = make([]byte, tsBatchMax*tsSlotSize)
		for i := range c.msgs {
			c.iovs[i].Base = &c.slots[i*tsSlotSize]
			c.iovs[i].SetLen(tsSlotSize)
			c.msgs[i].Hdr.Iov = &c.iovs[i]
			c.msgs[i].Hdr.SetIovlen(1)
		}
	}
	base := len(recs)
	for range tids {
		recs = append(recs, taskstatsRecord{})
		errs = append(errs, errTaskstatsNoReply)
	}
	// One buffer holding every request; sequence numbers map replies
	// back to their thread.
	first := c.seq + 1
	b := c.req[:0]
	var v [4]byte
	for i, tid := range tids {
		c.seq++
		start := len(b)
		b = binary.NativeEndian.AppendUint32(b, 0)
		b = binary.NativeEndian.AppendUint16(b, c.family)
		b = binary.NativeEndian.AppendUint16(b, nlmFRequest)
		b = binary.NativeEndian.AppendUint32(b, c.seq)
		b = binary.NativeEndian.AppendUint32(b, 0)
		b = append(b, tsCmdGet, tsGenlVersion, 0, 0)
		binary.NativeEndian.PutUint32(v[:], uint32(tid))
		b = binary.NativeEndian.AppendUint16(b, nlaHdrLen+4)
		if i == 0 && tgidFirst {
			b = binary.NativeEndian.AppendUint16(b, tsCmdAttrTGID)
		} else {
			b = binary.NativeEndian.AppendUint16(b, tsCmdAttrPID)
		}
		b = append(b, v[:]...)
		binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	}
	c.req = b
	for {
		_, err := unix.Write(c.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			for i := range tids {
				errs[base+i] = err
			}
			return recs, errs
		}
		break
	}
	left := len(tids)
	for left > 0 {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(c.fd),
			uintptr(unsafe.Pointer(&c.msgs[0])), uintptr(left), unix.MSG_WAITFORONE, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			// A timeout (SO_RCVTIMEO) or worse: the rest stay unanswered.
			break
		}
		for i := 0; i < int(n); i++ {
			m := &c.msgs[i]
			data := c.slots[i*tsSlotSize : i*tsSlotSize+int(min(m.Len, tsSlotSize))]
			payload, seq, err := parseNlmsg(data)
			idx := int(seq - first)
			if seq < first || idx >= len(tids) {
				continue // a stale reply to an earlier query
			}
			if err == nil && m.Hdr.Flags&unix.MSG_TRUNC != 0 {
				err = fmt.Errorf("%w: reply larger than %d bytes", ErrTaskstatsFormat, tsSlotSize)
			}
			if err == nil {
				recs[base+idx], err = parseTaskstats(payload, idx == 0 && tgidFirst)
			}
			if errs[base+idx] == errTaskstatsNoReply {
				left--
			}
			errs[base+idx] = err
		}
	}
	return recs, errs
}

// errTaskstatsNoReply marks a batched query whose reply never came.
var errTaskstatsNoReply = errors.New("taskstats: no reply")

// parseTaskstats reads the AGGR_TGID (or AGGR_PID) attribute of a reply
// payload. It never panics; a short or malformed reply is an error
// wrapping ErrTaskstatsFormat.
func parseTaskstats(payload []byte, tgid bool) (taskstatsRecord, error) {
	want, wantID := uint16(tsTypeAggrPID), uint16(tsTypePID)
	if tgid {
		want, wantID = tsTypeAggrTG, tsTypeTGID
	}
	var rec taskstatsRecord
	var stats []byte
	var nestErr error
	err := walkAttrs(payload, func(typ uint16, val []byte) {
		if typ != want {
			return // TASKSTATS_TYPE_NULL padding and anything newer
		}
		nestErr = walkAttrs(val, func(t uint16, v []byte) {
			switch {
			case t == wantID && len(v) >= 4:
				rec.id = binary.NativeEndian.Uint32(v)
			case t == tsTypeStats:
				stats = v
			}
		})
	})
	if err == nil {
		err = nestErr
	}
	if err != nil {
		return rec, err
	}
	if stats == nil {
		return rec, fmt.Errorf("%w: no stats attribute", ErrTaskstatsFormat)
	}
	if len(stats) < tsMinLen {
		return rec, fmt.Errorf("%w: stats %d bytes, want at least %d", ErrTaskstatsFormat, len(stats), tsMinLen)
	}
	ne := binary.NativeEndian
	rec.version = ne.Uint16(stats[tsOffVersion:])
	rec.cpuCount = ne.Uint64(stats[tsOffCPUCount:])
	rec.cpuDelayNs = ne.Uint64(stats[tsOffCPUDelay:])
	rec.blkioCount = ne.Uint64(stats[tsOffBlkCount:])
	rec.blkioDelayNs = ne.Uint64(stats[tsOffBlkDelay:])
	rec.swapinCount = ne.Uint64(stats[tsOffSwpCount:])
	rec.swapinDelay = ne.Uint64(stats[tsOffSwpDelay:])
	rec.utimeUs = ne.Uint64(stats[tsOffUTime:])
	rec.stimeUs = ne.Uint64(stats[tsOffSTime:])
	rec.nvcsw = ne.Uint64(stats[tsOffNvcsw:])
	rec.nivcsw = ne.Uint64(stats[tsOffNivcsw:])
	return rec, nil
}

// probeTaskstats decides once, for a Reader, whether taskstats can be
// used: the root must be this machine's procfs as seen from our own pid
// namespace (a fixture tree's pids mean nothing to the kernel), and a TGID
// query for ourselves must succeed. The error says why not.
func probeTaskstats(root string) (*taskstatsConn, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		return nil, errors.New("taskstats not used: the root is not a procfs")
	}
	self, err := os.Readlink(root + "/self")
	if err != nil || self != strconv.Itoa(os.Getpid()) {
		return nil, errors.New("taskstats not used: the root is another pid namespace's procfs")
	}
	c, err := openTaskstats()
	if err != nil {
		return nil, err
	}
	if _, err := c.query(os.Getpid(), true); err != nil {
		c.close()
		if IsDenied(err) {
			return nil, fmt.Errorf("taskstats: %w (needs CAP_NET_ADMIN)", err)
		}
		return nil, fmt.Errorf("taskstats: %w", err)
	}
	return c, nil
}

// taskstatsShare is a Reader's one taskstats socket, shared by its scans
// and its Process calls, which may run at the same time: mu makes their
// queries take turns (a query is one round trip, a thread batch a few).
// It also says why taskstats is not used. The Reader owns it; Close
// closes it.
type taskstatsShare struct {
	mu   sync.Mutex
	conn *taskstatsConn // nil when taskstats is not used
	err  error          // why not
}

// state reports whether taskstats is in use, and if not, why.
func (t *taskstatsShare) state() (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conn != nil, t.err
}

// queryTGID asks for a thread group's totals; ok is false when taskstats
// is not in use.
func (t *taskstatsShare) queryTGID(tgid int) (rec taskstatsRecord, err error, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		return rec, nil, false
	}
	rec, err = t.conn.query(tgid, true)
	return rec, err, true
}

// queryBatch is taskstatsConn.queryBatch under the lock; ok is false when
// taskstats is not in use.
func (t *taskstatsShare) queryBatch(tgid int, tids []int, recs []taskstatsRecord, errs []error) ([]taskstatsRecord, []error, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		return recs, errs, false
	}
	recs, errs = t.conn.queryBatch(tgid, tids, recs, errs)
	return recs, errs, true
}

// disable stops using taskstats for good, saying why (permission lost
// mid-run, or the Reader closed).
func (t *taskstatsShare) disable(why error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil {
		t.conn.close()
		t.conn, t.err = nil, why
	}
}
