package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/pinspect/pinspect/collector/userfile"
)

// entry locates one record: its offset in its segment and its header.
type entry struct {
	off int64
	h   recHeader
}

// TakenAt is the record's snapshot time.
func (e *entry) TakenAt() time.Time { return time.Unix(0, e.h.takenAt) }

// scanResult is what a scan of one segment found.
type scanResult struct {
	entries []entry
	// problems describe skipped corruption (offset and reason); gaps
	// holds, for each, the index in entries of the first record after it.
	problems []string
	gaps     []int
	// end is the offset just past the last good record; tornAt is where
	// an incomplete or bad tail begins (-1 when the file ends cleanly),
	// and tailGood is true when no good record follows it (so the tail
	// can be cut off without losing data).
	end    int64
	tornAt int64
}

// scanSegment walks the records of a segment file of the given size. With
// verify, every record's checksum is checked (the writer's recovery);
// without, only headers are read, and a bad header is skipped by
// searching forward for the next record whose checksum holds.
func scanSegment(f io.ReaderAt, size int64, verify bool) (scanResult, error) {
	res := scanResult{tornAt: -1, end: segHeaderSize}
	var hb [segHeaderSize]byte
	if _, err := f.ReadAt(hb[:], 0); err != nil {
		return res, fmt.Errorf("%w: %v", errNotSegment, err)
	}
	if _, err := parseSegHeader(hb[:]); err != nil {
		return res, err
	}
	err := scanRecords(f, segHeaderSize, size, verify, &res)
	return res, err
}

// scanPastHeader scans a segment whose header is damaged (why:
// segHeaderDamage) from the first record whose
// checksum holds: each record is framed and checksummed on its own, so
// one lost header need not lose them (it lost the whole segment). found
// is false when no record is found (not a segment of pinspect's, or
// nothing left of one). The header, and any bytes up to that record,
// are the first problem: counted as damage (gap 0) only when they are
// more than a header, which holds no sample.
func scanPastHeader(f io.ReaderAt, size int64, why string) (res scanResult, found bool, err error) {
	res = scanResult{tornAt: -1, end: segHeaderSize}
	first, found, err := resync(f, 0, size)
	if err != nil || !found {
		return res, false, err
	}
	if first <= segHeaderSize {
		res.problems = append(res.problems, fmt.Sprintf("bytes 0 to %d, the segment header, are damaged (%s): no sample is lost, its records are read on their own checksums", first, why))
		res.gaps = append(res.gaps, -1)
	} else {
		res.problems = append(res.problems, fmt.Sprintf("bytes 0 to %d, the segment header (%s) and what follows it, are not a readable record (skipped)", first, why))
		res.gaps = append(res.gaps, 0)
	}
	return res, true, scanRecords(f, first, size, false, &res)
}

// segHeaderDamage says how the segment header b is damaged (its magic or
// checksum wrong, as when it is zeroed); "" for a whole header, whatever
// its format version.
func segHeaderDamage(b []byte) string {
	switch {
	case len(b) < segHeaderSize:
		return ""
	case string(b[:8]) != segMagic:
		return "no segment magic"
	case crc32.Checksum(b[:28], crcTable) != binary.LittleEndian.Uint32(b[28:]):
		return "its checksum does not hold"
	}
	return ""
}

// scanRecords walks the records of a segment from off (a record's start)
// to size into res: each good record an entry, each stretch of bad bytes
// a problem, a bad tail tornAt.
func scanRecords(f io.ReaderAt, off, size int64, verify bool, res *scanResult) error {
	var hdr [recHeaderSize]byte
	var body []byte
	for off < size {
		h, ok := readRecord(f, off, size, verify, &hdr, &body)
		if ok {
			res.entries = append(res.entries, entry{off: off, h: h})
			off += recHeaderSize + int64(h.bodyLen)
			res.end = off
			continue
		}
		// A bad or incomplete record: look for the next good one.
		next, found, err := resync(f, off+1, size)
		if err != nil {
			return err
		}
		if !found {
			res.tornAt = off
			return nil
		}
		res.problems = append(res.problems, fmt.Sprintf("bytes %d to %d are not a readable record (skipped)", off, next))
		res.gaps = append(res.gaps, len(res.entries))
		off = next
	}
	return nil
}

// readRecord reads and checks the record at off; with verify its body's
// checksum too. ok is false for anything that is not a whole good record.
func readRecord(f io.ReaderAt, off, size int64, verify bool, hdr *[recHeaderSize]byte, body *[]byte) (recHeader, bool) {
	if size-off < recHeaderSize {
		return recHeader{}, false
	}
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return recHeader{}, false
	}
	h, err := parseRecHeader(hdr[:])
	if err != nil || off+recHeaderSize+int64(h.bodyLen) > size {
		return h, false
	}
	if verify {
		*body = grow(*body, int(h.bodyLen))
		if _, err := f.ReadAt(*body, off+recHeaderSize); err != nil || !checksumOK(hdr[:], *body) {
			return h, false
		}
	}
	return h, true
}

// resync searches from off for the next record whose checksum holds and
// returns its offset; found is false when there is none.
func resync(f io.ReaderAt, off, size int64) (int64, bool, error) {
	const chunk = 1 << 20
	buf := make([]byte, chunk+len(recMagic)-1)
	var hdr [recHeaderSize]byte
	var body []byte
	for off < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, false, err
		}
		b := buf[:n]
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte(recMagic))
			if j < 0 {
				break
			}
			at := off + int64(i+j)
			if _, ok := readRecord(f, at, size, true, &hdr, &body); ok {
				return at, true, nil
			}
			i += j + 1
		}
		if n < len(recMagic) {
			break
		}
		off += int64(n - len(recMagic) + 1)
	}
	return 0, false, nil
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// The index file of a finished segment (.idx) lets readers find its
// records without reading the segment:
//
//	 0  8  magic "PNSPIDX1"
//	 8  2  format version (1)
//	10  2  header size (48)
//	12  4  number of entries
//	16  8  segment number
//	24  8  first snapshot time, Unix ns
//	32  8  last snapshot time, Unix ns
//	40  4  segment size in bytes when indexed
//	44  4  CRC-32C of bytes 0..43 and the entries
//	48     entries of 56 bytes: the record's offset (8), then its header
const (
	idxMagic      = "PNSPIDX1"
	idxHeaderSize = 48
	idxEntrySize  = 8 + recHeaderSize
)

// encodeIndex builds the index file of a segment.
func encodeIndex(n uint64, size int64, es []entry) []byte {
	b := make([]byte, idxHeaderSize+len(es)*idxEntrySize)
	copy(b, idxMagic)
	binary.LittleEndian.PutUint16(b[8:], segVersion)
	binary.LittleEndian.PutUint16(b[10:], idxHeaderSize)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(es)))
	binary.LittleEndian.PutUint64(b[16:], n)
	if len(es) > 0 {
		binary.LittleEndian.PutUint64(b[24:], uint64(es[0].h.takenAt))
		binary.LittleEndian.PutUint64(b[32:], uint64(es[len(es)-1].h.takenAt))
	}
	binary.LittleEndian.PutUint32(b[40:], uint32(size))
	for i := range es {
		p := b[idxHeaderSize+i*idxEntrySize:]
		binary.LittleEndian.PutUint64(p, uint64(es[i].off))
		es[i].h.putHeaderOnly(p[8 : 8+recHeaderSize])
	}
	c := crc32.Update(0, crcTable, b[:44])
	c = crc32.Update(c, crcTable, b[idxHeaderSize:])
	binary.LittleEndian.PutUint32(b[44:], c)
	return b
}

// putHeaderOnly writes the header fields without a checksum (the index
// has its own).
func (h *recHeader) putHeaderOnly(b []byte) {
	h.put(b, nil)
	clear(b[4:8])
}

// errBadIndex says an index file cannot be used (the segment is scanned
// instead).
var errBadIndex = errors.New("bad index")

// decodeIndex parses an index file for segment n of the given size.
func decodeIndex(b []byte, n uint64, size int64) ([]entry, error) {
	if len(b) < idxHeaderSize || string(b[:8]) != idxMagic {
		return nil, fmt.Errorf("%w: no magic", errBadIndex)
	}
	c := crc32.Update(0, crcTable, b[:44])
	c = crc32.Update(c, crcTable, b[idxHeaderSize:])
	if c != binary.LittleEndian.Uint32(b[44:]) {
		return nil, fmt.Errorf("%w: checksum", errBadIndex)
	}
	count := int(binary.LittleEndian.Uint32(b[12:]))
	switch {
	case binary.LittleEndian.Uint16(b[8:]) != segVersion:
		return nil, fmt.Errorf("%w: version", errBadIndex)
	case binary.LittleEndian.Uint64(b[16:]) != n:
		return nil, fmt.Errorf("%w: for segment %d, not %d", errBadIndex, binary.LittleEndian.Uint64(b[16:]), n)
	case int64(binary.LittleEndian.Uint32(b[40:])) != size:
		return nil, fmt.Errorf("%w: segment size changed", errBadIndex)
	case len(b) != idxHeaderSize+count*idxEntrySize:
		return nil, fmt.Errorf("%w: length", errBadIndex)
	}
	es := make([]entry, count)
	for i := range es {
		p := b[idxHeaderSize+i*idxEntrySize:]
		es[i].off = int64(binary.LittleEndian.Uint64(p))
		h, err := parseRecHeader(p[8 : 8+recHeaderSize])
		if err != nil || es[i].off < segHeaderSize || es[i].off+recHeaderSize+int64(h.bodyLen) > size {
			return nil, fmt.Errorf("%w: entry %d", errBadIndex, i)
		}
		es[i].h = h
	}
	return es, nil
}

// readFileMax reads a whole regular file of at most max bytes, opened
// without blocking (userfile.Read): a FIFO or a device planted in the
// record directory is refused, never waited on.
func readFileMax(path string, max int64) ([]byte, error) {
	return userfile.Read(path, max)
}
