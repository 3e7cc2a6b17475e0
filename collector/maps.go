package collector

// This file reads /proc/PID/maps: a streaming, allocation-light parser over
// a fixed buffer (parseMapsLine, streamMaps) and the Mapping type. The
// classification lives in addrspace.go, smaps in smaps.go.

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// Mapping is one mapping of a process's address space, as a line of
// /proc/PID/maps (or a header line of smaps) plus its classification.
type Mapping struct {
	// Start and End are the virtual addresses [Start, End).
	Start, End uint64
	// Perms is the kernel's four letters: r/w/x or '-', then p (private)
	// or s (shared), e.g. "r-xp".
	Perms string
	// Offset is the offset into the mapped file, in bytes.
	Offset uint64
	// Dev is the device "major:minor" in hex, as the kernel prints it.
	Dev string
	// Inode is the mapped file's inode; 0 for anonymous memory.
	Inode uint64
	// Path is the raw pathname column: a file path (possibly ending in
	// " (deleted)"), a pseudo-path such as "[heap]", or "" for anonymous
	// memory. Not sanitised.
	Path string
	// Class is the segment class (see the Segment constants).
	Class Segment
	// TID is the thread whose stack this mapping holds (for stack and
	// thread_stack, and for the guard page just below a thread stack);
	// 0 when no thread owns it.
	TID int
	// RSSBytes and PSSBytes are read from smaps only on request
	// (AddrOptions.PerMapping); nil otherwise.
	RSSBytes, PSSBytes *uint64
	// Dirty holds the mapping's shared and private dirty and anonymous
	// bytes, read with RSS and PSS; nil otherwise.
	Dirty *MappingDirty
}

// SizeBytes is the length of the mapping.
func (m *Mapping) SizeBytes() uint64 { return m.End - m.Start }

// Anonymous reports whether the mapping has no backing file and no
// pseudo-path.
func (m *Mapping) Anonymous() bool { return m.Inode == 0 && m.Path == "" }

// Readable reports the r permission.
func (m *Mapping) Readable() bool { return len(m.Perms) == 4 && m.Perms[0] == 'r' }

// Writable reports the w permission.
func (m *Mapping) Writable() bool { return len(m.Perms) == 4 && m.Perms[1] == 'w' }

// Executable reports the x permission.
func (m *Mapping) Executable() bool { return len(m.Perms) == 4 && m.Perms[2] == 'x' }

// Shared reports a shared (s) rather than private (p) mapping.
func (m *Mapping) Shared() bool { return len(m.Perms) == 4 && m.Perms[3] == 's' }

// errMapsFormat is wrapped by every maps parse error.
var errMapsFormat = errors.New("malformed maps line")

// ErrLineTooLong is returned when a /proc line does not fit the streaming
// buffer (real maps lines are bounded by PATH_MAX plus about 100 bytes).
var ErrLineTooLong = errors.New("line longer than the read buffer")

// mapsBufSize is the streaming buffer for maps and smaps, and so the
// longest line accepted.
const mapsBufSize = 64 << 10

// mapsLine is one parsed maps line; the byte slices alias the input.
type mapsLine struct {
	start, end, offset, inode uint64
	perms, dev, path          []byte
}

// parseMapsLine parses "start-end perms offset dev inode [path]". It never
// panics; malformed input returns an error wrapping errMapsFormat.
func parseMapsLine(b []byte) (mapsLine, error) {
	var l mapsLine
	var ok bool
	rest := b
	if l.start, rest, ok = hexUntil(rest, '-'); !ok {
		return l, fmt.Errorf("%w: bad start address in %q", errMapsFormat, clip(b))
	}
	if l.end, rest, ok = hexUntil(rest, ' '); !ok {
		return l, fmt.Errorf("%w: bad end address in %q", errMapsFormat, clip(b))
	}
	if l.end < l.start {
		return l, fmt.Errorf("%w: end below start in %q", errMapsFormat, clip(b))
	}
	if len(rest) < 5 || rest[4] != ' ' || !validPerms(rest[:4]) {
		return l, fmt.Errorf("%w: bad permissions in %q", errMapsFormat, clip(b))
	}
	l.perms, rest = rest[:4], rest[5:]
	if l.offset, rest, ok = hexUntil(rest, ' '); !ok {
		return l, fmt.Errorf("%w: bad offset in %q", errMapsFormat, clip(b))
	}
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		sp = len(rest)
	}
	if !validDev(rest[:sp]) {
		return l, fmt.Errorf("%w: bad device in %q", errMapsFormat, clip(b))
	}
	l.dev, rest = rest[:sp], rest[sp:]
	if len(rest) > 0 {
		rest = rest[1:]
	}
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		sp = len(rest)
	}
	if l.inode, ok = parseUint(rest[:sp]); !ok {
		return l, fmt.Errorf("%w: bad inode in %q", errMapsFormat, clip(b))
	}
	rest = rest[sp:]
	// The kernel pads to a column before the path; a path cannot be told
	// from leading padding, so leading spaces are dropped.
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	l.path = rest
	return l, nil
}

// parseHex parses 1 to 16 lowercase or uppercase hex digits (the whole
// of b). It is the one hex parser of maps addresses, status masks and
// syscall stack pointers.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// hexUntil parses the hex number before the first sep (which must be
// there) and returns it with the input after sep.
func hexUntil(b []byte, sep byte) (uint64, []byte, bool) {
	i := bytes.IndexByte(b, sep)
	if i < 0 {
		return 0, nil, false
	}
	v, ok := parseHex(b[:i])
	if !ok {
		return 0, nil, false
	}
	return v, b[i+1:], true
}

func validPerms(p []byte) bool {
	return (p[0] == 'r' || p[0] == '-') && (p[1] == 'w' || p[1] == '-') &&
		(p[2] == 'x' || p[2] == '-') && (p[3] == 'p' || p[3] == 's')
}

// validDev accepts "hex:hex".
func validDev(d []byte) bool {
	colon := bytes.IndexByte(d, ':')
	if colon <= 0 || colon == len(d)-1 || len(d) > 20 {
		return false
	}
	for i, c := range d {
		if i == colon {
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// permStrings holds the 16 possible permission strings so parsing never
// allocates one.
var permStrings = func() [16]string {
	var s [16]string
	for i := range s {
		b := []byte("----")
		if i&8 != 0 {
			b[0] = 'r'
		}
		if i&4 != 0 {
			b[1] = 'w'
		}
		if i&2 != 0 {
			b[2] = 'x'
		}
		b[3] = 'p'
		if i&1 != 0 {
			b[3] = 's'
		}
		s[i] = string(b)
	}
	return s
}()

func permString(p []byte) string {
	i := 0
	if p[0] == 'r' {
		i |= 8
	}
	if p[1] == 'w' {
		i |= 4
	}
	if p[2] == 'x' {
		i |= 2
	}
	if p[3] == 's' {
		i |= 1
	}
	return permStrings[i]
}

// interner returns one string per distinct byte sequence, so the device
// and the path of a library mapped five times are allocated once.
type interner struct {
	m    map[string]string
	last string
}

func (in *interner) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if string(b) == in.last {
		return in.last
	}
	if in.m == nil {
		in.m = make(map[string]string, 64)
	}
	s, ok := in.m[string(b)]
	if !ok {
		s = string(b)
		in.m[s] = s
	}
	in.last = s
	return s
}

// mapping converts a parsed line, interning its strings.
func (l *mapsLine) mapping(in *interner) Mapping {
	return Mapping{
		Start: l.start, End: l.end, Perms: permString(l.perms), Offset: l.offset,
		Dev: in.str(l.dev), Inode: l.inode, Path: in.str(l.path),
	}
}

// lineReader streams lines from read into a fixed buffer: memory stays
// bounded whatever the file size, and a line longer than the buffer is
// an error (ErrLineTooLong), never a silent cut.
type lineReader struct {
	read func([]byte) (int, error)
	buf  []byte
	r, w int
	eof  bool
}

// next returns the next line without its newline, or io.EOF at the end.
// The line aliases the buffer until the next call.
func (lr *lineReader) next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.r:lr.w], '\n'); i >= 0 {
			line := lr.buf[lr.r : lr.r+i]
			lr.r += i + 1
			return line, nil
		}
		if lr.eof {
			if lr.r < lr.w {
				line := lr.buf[lr.r:lr.w]
				lr.r = lr.w
				return line, nil
			}
			return nil, io.EOF
		}
		if lr.r > 0 {
			lr.w = copy(lr.buf, lr.buf[lr.r:lr.w])
			lr.r = 0
		}
		if lr.w == len(lr.buf) {
			return nil, ErrLineTooLong
		}
		n, err := lr.read(lr.buf[lr.w:])
		lr.w += n
		switch {
		case err == io.EOF || (err == nil && n == 0):
			lr.eof = true
		case err != nil:
			return nil, err
		}
	}
}

// fdRead reads from a raw fd, retrying EINTR; EAGAIN (a FIFO planted in
// a fixture tree) becomes ErrNotRegular.
func fdRead(fd int) func([]byte) (int, error) {
	return func(p []byte) (int, error) {
		for {
			n, err := unix.Read(fd, p)
			switch err {
			case nil:
				return n, nil
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return 0, ErrNotRegular
			}
			return 0, err
		}
	}
}

// streamMaps feeds every line of a maps file to fn. It stops at the first
// read or parse error and returns it.
func streamMaps(lr *lineReader, fn func(*mapsLine) error) error {
	// One mapsLine for the whole stream: it escapes through fn.
	l := new(mapsLine)
	for {
		line, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			continue
		}
		var err2 error
		if *l, err2 = parseMapsLine(line); err2 != nil {
			return err2
		}
		if err := fn(l); err != nil {
			return err
		}
	}
}

// parseMaps parses the whole content of a maps file with the same
// streaming code the reader uses (for tests and fuzzing).
func parseMaps(data []byte) ([]Mapping, error) {
	lr := &lineReader{read: bytes.NewReader(data).Read, buf: make([]byte, mapsBufSize)}
	var in interner
	var maps []Mapping
	err := streamMaps(lr, func(l *mapsLine) error {
		maps = append(maps, l.mapping(&in))
		return nil
	})
	return maps, err
}

// readMaps streams /proc/PID/maps at path (NUL-terminated) into Mapping
// values, under d's deadline (d may be nil: no deadline). Errors are the
// raw errno (open or read), a parse error, or ErrTimeout.
func readMaps(d *deadlineReads, path []byte) ([]Mapping, error) {
	var in interner
	var c mappingChunks
	err := d.stream(path, func(lr *lineReader) error {
		return streamMaps(lr, func(l *mapsLine) error {
			c.add(l.mapping(&in))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return c.slice(), nil
}

// mappingChunks collects mappings in fixed-size chunks and copies them
// once into an exact-size slice: about twice the final size in total
// allocation, where append's growth would allocate about five times it
// for 60,000 mappings.
type mappingChunks struct {
	full [][]Mapping
	cur  []Mapping
	n    int
}

const mappingChunk = 512

func (c *mappingChunks) add(m Mapping) {
	if len(c.cur) == cap(c.cur) {
		if c.cur != nil {
			c.full = append(c.full, c.cur)
		}
		c.cur = make([]Mapping, 0, mappingChunk)
	}
	c.cur = append(c.cur, m)
	c.n++
}

func (c *mappingChunks) slice() []Mapping {
	if len(c.full) == 0 {
		return c.cur[:len(c.cur):len(c.cur)]
	}
	out := make([]Mapping, 0, c.n)
	for _, f := range c.full {
		out = append(out, f...)
	}
	return append(out, c.cur...)
}
