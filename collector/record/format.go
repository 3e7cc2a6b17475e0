package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
)

// A store is a directory of segment files, each named
// NNNNNNNNNNNN-YYYYMMDDTHHMMSSZ.pnr (the segment number, then the UTC time
// of its first sample, for people), plus a lock file held by the writer
// and, for each segment the writer has finished, an index file (.idx).
//
// A segment file is a 32-byte header and then records, one per sample:
//
//	segment header (little-endian)
//	 0  8  magic "PNSPSEG1"
//	 8  2  format version (1)
//	10  2  header size (32)
//	12  4  reserved (0)
//	16  8  segment number
//	24  4  reserved (0)
//	28  4  CRC-32C of bytes 0..27
//
//	record header (little-endian)
//	 0  4  magic "PNRc"
//	 4  4  CRC-32C of bytes 8..47 and the body
//	 8  4  body length
//	12  1  kind (1: a sample)
//	13  1  codec (1: zstd of the whole sample, a keyframe; 3: zstd of a
//	       delta against the keyframe record at the keyframe offset, see
//	       delta.go)
//	14  2  header size (48)
//	16  8  sample sequence number
//	24  8  snapshot time, Unix nanoseconds
//	32  4  length of the events block (the start of the body)
//	36  4  event flags (EventFlag bits: which event types the block has)
//	40  4  keyframe offset (codec 2)
//	44  4  length of the whole (uncompressed, delta applied) sample
//	48     body: events block (zstd of an EventBlock message), then the
//	       sample block (zstd of a Sample message without its events)
//
// A record is written with one write(2) and, by default, made durable
// with fdatasync before the next sample; a record whose checksum fails is
// skipped by readers (counted in the store's problems) and a torn record
// at the end of the last segment is cut off by the next writer.
const (
	segMagic      = "PNSPSEG1"
	segVersion    = 1
	segHeaderSize = 32
	recMagic      = "PNRc"
	recHeaderSize = 48
	segSuffix     = ".pnr"
	idxSuffix     = ".idx"
	lockName      = "LOCK"

	kindSample = 1

	codecZstd      = 1
	codecZstdDelta = 3

	// maxBody bounds one record's body and maxRaw its uncompressed
	// sample: anything larger is corruption, not data (a snapshot of
	// 100,000 processes with threads is about 60 MB raw).
	maxBody = 256 << 20
	maxRaw  = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// recHeader is a decoded record header.
type recHeader struct {
	bodyLen   uint32
	kind      uint8
	codec     uint8
	seq       uint64
	takenAt   int64
	eventsLen uint32
	evFlags   EventFlag
	keyOffset uint32
	rawLen    uint32
}

// put writes h into b[:recHeaderSize] with the checksum of b's header and
// body (body is the bytes after the header).
func (h *recHeader) put(b []byte, body []byte) {
	copy(b[0:4], recMagic)
	binary.LittleEndian.PutUint32(b[8:], h.bodyLen)
	b[12], b[13] = h.kind, h.codec
	binary.LittleEndian.PutUint16(b[14:], recHeaderSize)
	binary.LittleEndian.PutUint64(b[16:], h.seq)
	binary.LittleEndian.PutUint64(b[24:], uint64(h.takenAt))
	binary.LittleEndian.PutUint32(b[32:], h.eventsLen)
	binary.LittleEndian.PutUint32(b[36:], uint32(h.evFlags))
	binary.LittleEndian.PutUint32(b[40:], h.keyOffset)
	binary.LittleEndian.PutUint32(b[44:], h.rawLen)
	c := crc32.Update(0, crcTable, b[8:recHeaderSize])
	c = crc32.Update(c, crcTable, body)
	binary.LittleEndian.PutUint32(b[4:], c)
}

// errBadRecord is wrapped by record-level corruption errors.
var errBadRecord = errors.New("bad record")

// parseRecHeader decodes and sanity-checks a record header (not its
// checksum, which needs the body).
func parseRecHeader(b []byte) (recHeader, error) {
	var h recHeader
	if len(b) < recHeaderSize || string(b[0:4]) != recMagic {
		return h, fmt.Errorf("%w: no record magic", errBadRecord)
	}
	if binary.LittleEndian.Uint16(b[14:]) != recHeaderSize {
		return h, fmt.Errorf("%w: header size %d", errBadRecord, binary.LittleEndian.Uint16(b[14:]))
	}
	h.bodyLen = binary.LittleEndian.Uint32(b[8:])
	h.kind, h.codec = b[12], b[13]
	h.seq = binary.LittleEndian.Uint64(b[16:])
	h.takenAt = int64(binary.LittleEndian.Uint64(b[24:]))
	h.eventsLen = binary.LittleEndian.Uint32(b[32:])
	h.evFlags = EventFlag(binary.LittleEndian.Uint32(b[36:]))
	h.keyOffset = binary.LittleEndian.Uint32(b[40:])
	h.rawLen = binary.LittleEndian.Uint32(b[44:])
	switch {
	case h.bodyLen > maxBody:
		return h, fmt.Errorf("%w: body of %d bytes", errBadRecord, h.bodyLen)
	case h.eventsLen > h.bodyLen:
		return h, fmt.Errorf("%w: events block longer than the body", errBadRecord)
	case h.rawLen > maxRaw:
		return h, fmt.Errorf("%w: raw sample of %d bytes", errBadRecord, h.rawLen)
	case h.kind != kindSample || h.codec != codecZstd && h.codec != codecZstdDelta:
		return h, fmt.Errorf("%w: kind %d codec %d", errBadRecord, h.kind, h.codec)
	}
	return h, nil
}

// checksum reports whether the record's stored checksum matches.
func checksumOK(hdr, body []byte) bool {
	c := crc32.Update(0, crcTable, hdr[8:recHeaderSize])
	c = crc32.Update(c, crcTable, body)
	return c == binary.LittleEndian.Uint32(hdr[4:])
}

// putSegHeader writes a segment header for segment number n.
func putSegHeader(b []byte, n uint64) {
	clear(b[:segHeaderSize])
	copy(b, segMagic)
	binary.LittleEndian.PutUint16(b[8:], segVersion)
	binary.LittleEndian.PutUint16(b[10:], segHeaderSize)
	binary.LittleEndian.PutUint64(b[16:], n)
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], crcTable))
}

// errNotSegment says a file is not a pinspect segment (or a newer format).
var errNotSegment = errors.New("not a pinspect record segment")

// parseSegHeader checks a segment header and returns its number.
func parseSegHeader(b []byte) (uint64, error) {
	if len(b) < segHeaderSize || string(b[:8]) != segMagic {
		return 0, errNotSegment
	}
	if crc32.Checksum(b[:28], crcTable) != binary.LittleEndian.Uint32(b[28:]) {
		return 0, fmt.Errorf("%w: header checksum", errNotSegment)
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != segVersion {
		return 0, fmt.Errorf("%w: format version %d (this pinspect reads %d)", errNotSegment, v, segVersion)
	}
	return binary.LittleEndian.Uint64(b[16:]), nil
}

// segName is the file name of segment n whose first sample is at t.
func segName(n uint64, t time.Time) string {
	return fmt.Sprintf("%012d-%s%s", n, t.UTC().Format("20060102T150405Z"), segSuffix)
}

// parseSegName returns the number of a segment file name; ok is false
// for other names.
func parseSegName(name string) (n uint64, ok bool) {
	base, found := strings.CutSuffix(name, segSuffix)
	if !found {
		return 0, false
	}
	num, _, found := strings.Cut(base, "-")
	if !found || len(num) != 12 {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}

// segNameTime returns the time a segment file's name carries (segName):
// its first sample's, to the second below it. ok is false when the name
// carries none.
func segNameTime(path string) (t time.Time, ok bool) {
	base, _ := strings.CutSuffix(filepath.Base(path), segSuffix)
	_, stamp, found := strings.Cut(base, "-")
	if !found {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T150405Z", stamp)
	return t, err == nil
}

// EventFlag bits say which kinds of event a record's events block holds,
// so a query reads only the blocks that can match.
type EventFlag uint32

// The event flags: one per event type, and three about exits.
const (
	FlagSpawn EventFlag = 1 << iota
	FlagExec
	FlagRename
	FlagExit
	FlagZombie
	FlagReaped
	FlagReparent
	FlagState
	FlagThreadStart
	FlagThreadExit
	FlagLost
	FlagOther
	// FlagExitSignal: an exit or reaping by a signal; FlagExitError: by a
	// non-zero exit code; FlagCoreDump: with a core dump.
	FlagExitSignal
	FlagExitError
	FlagCoreDump
)

// eventTypeFlag maps an event type to its flag.
func eventTypeFlag(t lifecycle.EventType) EventFlag {
	switch t {
	case lifecycle.Spawn:
		return FlagSpawn
	case lifecycle.Exec:
		return FlagExec
	case lifecycle.Rename:
		return FlagRename
	case lifecycle.Exit:
		return FlagExit
	case lifecycle.Zombie:
		return FlagZombie
	case lifecycle.Reaped:
		return FlagReaped
	case lifecycle.Reparent:
		return FlagReparent
	case lifecycle.StateChange:
		return FlagState
	case lifecycle.ThreadStart:
		return FlagThreadStart
	case lifecycle.ThreadExit:
		return FlagThreadExit
	case lifecycle.Lost:
		return FlagLost
	}
	return FlagOther
}

// EventFlags returns the flags that describe one event.
func EventFlags(e *lifecycle.Event) EventFlag {
	f := eventTypeFlag(e.Type)
	if x := e.ExitStatus; x != nil {
		switch {
		case !x.Exited:
			f |= FlagExitSignal
		case x.Code != 0:
			f |= FlagExitError
		}
		if x.CoreDumped {
			f |= FlagCoreDump
		}
	}
	return f
}
