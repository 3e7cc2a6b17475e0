package collector

import (
	"bytes"
	"errors"
	"fmt"
)

// statFields holds the parsed fields of /proc/PID/stat (or task/TID/stat).
type statFields struct {
	pid        int64
	comm       []byte // aliases the input buffer
	state      byte
	ppid       int64
	pgid       int64
	sid        int64
	ttyNr      int64
	tpgid      int64
	flags      uint64
	minflt     uint64
	majflt     uint64
	utime      uint64
	stime      uint64
	priority   int64
	nice       int64
	numThreads int64
	starttime  uint64
	vsize      uint64
	layout     Layout
	processor  int64
	rtPriority uint64
	policy     uint64
	blkioTicks uint64
	exitCode   int64 // -1 when the field is absent
	nfields    int   // number of fields found, counting pid and comm
}

// readStat reads and parses a stat file (/proc/PID/stat or
// task/TID/stat) at the NUL-terminated path, relative to the directory
// dirfd (atFDCWD for an absolute path), into the reused buffer buf. It is
// the one reader of stat: the scan, the thread reads, the address space,
// the identity lookups and the deadline workers' own check all use it. A
// file longer than statusMax is ErrTooLarge (a cut stat would parse into
// wrong fields). The comm in the result aliases *buf.
func readStat(dirfd uintptr, path []byte, buf *[]byte) (statFields, error) {
	data, trunc, err := readSeqIn(dirfd, path, buf, statusMax)
	if err != nil {
		return statFields{exitCode: -1}, err
	}
	return parseStatRead(data, trunc)
}

// parseStatRead parses a stat read that was cut at statusMax (trunc) or
// not: a cut stat is ErrTooLarge, never parsed into wrong fields.
func parseStatRead(data []byte, trunc bool) (statFields, error) {
	if trunc {
		return statFields{exitCode: -1}, ErrTooLarge
	}
	return parseStat(data)
}

// errStatFormat is wrapped by every stat parse error.
var errStatFormat = errors.New("malformed stat")

// minStatFields is the fewest fields accepted: through rss (field 24), which
// every kernel since 2.6 writes. rss itself is not kept: it is the
// kernel's unsummed per-CPU counter (proc(5): "inaccurate"); the resident
// set comes from status's VmRSS (readRSS).
const minStatFields = 24

// parseStat parses the content of a stat file. comm is everything between
// the first '(' and the LAST ')', because a comm may itself hold ')',
// spaces, newlines and any other byte. It never panics; malformed input
// returns an error wrapping errStatFormat.
func parseStat(b []byte) (statFields, error) {
	var s statFields
	s.exitCode = -1
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return s, fmt.Errorf("%w: no (comm)", errStatFormat)
	}
	pid, ok := parseInt(bytes.TrimSpace(b[:open]))
	if !ok {
		return s, fmt.Errorf("%w: bad pid", errStatFormat)
	}
	s.pid = pid
	s.comm = b[open+1 : closing]
	rest := b[closing+1:]
	n := 2 // pid and comm
	// Walk the space-separated fields after comm without allocating.
	// Plain decimal fields (nearly all of them) are parsed inline into
	// vals and stored once at the end; anything else (signs, garbage) goes
	// through setField, which validates it and reports errors.
	var vals [53]uint64
	var have uint64 // bit n: vals[n] holds field n
	for i := 0; i < len(rest); {
		c := rest[i]
		if c == ' ' || c == '\n' {
			i++
			continue
		}
		start := i
		var v uint64
		digits := true
		for ; i < len(rest); i++ {
			c = rest[i]
			if c == ' ' || c == '\n' {
				break
			}
			d := c - '0'
			if d > 9 {
				digits = false
				continue
			}
			v = v*10 + uint64(d)
		}
		n++
		if n > 52 {
			continue // fields added by future kernels
		}
		tok := rest[start:i]
		// 19 digits cannot overflow a uint64; a signed field above
		// MaxInt64 is left to setField, which rejects it.
		if n != 3 && digits && len(tok) <= 19 && (v <= 1<<63-1 || statSigned&(1<<n) == 0) {
			vals[n] = v
			have |= 1 << n
			continue
		}
		if err := s.setField(n, tok); err != nil {
			return s, err
		}
	}
	if have != 0 {
		s.storeFast(&vals, have)
	}
	s.nfields = n
	if n < minStatFields {
		return s, fmt.Errorf("%w: %d fields, want at least %d", errStatFormat, n, minStatFields)
	}
	s.layout.HasExtended = n >= 51
	return s, nil
}

// statSigned has bit n set for the signed stat fields: those proc(5)
// types %d or %ld (setField's list). A field pinspect does not keep is
// still checked against its type, so a legal value (cutime, field 16,
// can be any int64, INT64_MIN included) is never taken for garbage.
const statSigned uint64 = 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<16 | 1<<17 | 1<<18 | 1<<19 | 1<<20 |
	1<<21 | 1<<24 | 1<<38 | 1<<39 | 1<<44 | 1<<52

// storeFast stores the fields parsed inline by parseStat. A signed field
// parsed there is at most MaxInt64, so the conversion is exact.
func (s *statFields) storeFast(v *[53]uint64, have uint64) {
	set := func(n int) bool { return have&(1<<n) != 0 }
	seti := func(n int, dst *int64) {
		if set(n) {
			*dst = int64(v[n])
		}
	}
	setu := func(n int, dst *uint64) {
		if set(n) {
			*dst = v[n]
		}
	}
	seti(4, &s.ppid)
	seti(5, &s.pgid)
	seti(6, &s.sid)
	seti(7, &s.ttyNr)
	seti(8, &s.tpgid)
	setu(9, &s.flags)
	setu(10, &s.minflt)
	setu(12, &s.majflt)
	setu(14, &s.utime)
	setu(15, &s.stime)
	seti(18, &s.priority)
	seti(19, &s.nice)
	seti(20, &s.numThreads)
	setu(22, &s.starttime)
	setu(23, &s.vsize)
	setu(26, &s.layout.StartCode)
	setu(27, &s.layout.EndCode)
	setu(28, &s.layout.StartStack)
	seti(39, &s.processor)
	setu(40, &s.rtPriority)
	setu(41, &s.policy)
	setu(42, &s.blkioTicks)
	setu(45, &s.layout.StartData)
	setu(46, &s.layout.EndData)
	setu(47, &s.layout.StartBrk)
	setu(48, &s.layout.ArgStart)
	setu(49, &s.layout.ArgEnd)
	setu(50, &s.layout.EnvStart)
	setu(51, &s.layout.EnvEnd)
	seti(52, &s.exitCode)
}

// setField stores field number n (1-based, as in proc(5)). It is a
// key-switch parser, one case per field, so it is exempt from the
// complexity gate:
//
//gocyclo:ignore
func (s *statFields) setField(n int, tok []byte) error {
	if n == 3 {
		// A state is one letter (R, S, D, Z, ...); 0 means unknown in
		// the model, so a NUL or any other byte is malformed.
		if len(tok) != 1 || !(tok[0] >= 'A' && tok[0] <= 'Z' || tok[0] >= 'a' && tok[0] <= 'z') {
			return fmt.Errorf("%w: bad state %q", errStatFormat, clip(tok))
		}
		s.state = tok[0]
		return nil
	}
	// Signed fields (proc(5)'s %d and %ld: statSigned).
	switch n {
	case 4, 5, 6, 7, 8, 16, 17, 18, 19, 20, 21, 24, 38, 39, 44, 52:
		v, ok := parseInt(tok)
		if !ok {
			return fmt.Errorf("%w: field %d: bad integer %q", errStatFormat, n, clip(tok))
		}
		switch n {
		case 4:
			s.ppid = v
		case 5:
			s.pgid = v
		case 6:
			s.sid = v
		case 7:
			s.ttyNr = v
		case 8:
			s.tpgid = v
		case 18:
			s.priority = v
		case 19:
			s.nice = v
		case 20:
			s.numThreads = v
		case 39:
			s.processor = v
		case 52:
			s.exitCode = v
		}
		return nil
	}
	if n > 52 {
		return nil // fields added by future kernels
	}
	v, ok := parseUint(tok)
	if !ok {
		return fmt.Errorf("%w: field %d: bad number %q", errStatFormat, n, clip(tok))
	}
	switch n {
	case 9:
		s.flags = v
	case 10:
		s.minflt = v
	case 12:
		s.majflt = v
	case 14:
		s.utime = v
	case 15:
		s.stime = v
	case 22:
		s.starttime = v
	case 23:
		s.vsize = v
	case 26:
		s.layout.StartCode = v
	case 27:
		s.layout.EndCode = v
	case 28:
		s.layout.StartStack = v
	case 40:
		s.rtPriority = v
	case 41:
		s.policy = v
	case 42:
		s.blkioTicks = v
	case 45:
		s.layout.StartData = v
	case 46:
		s.layout.EndData = v
	case 47:
		s.layout.StartBrk = v
	case 48:
		s.layout.ArgStart = v
	case 49:
		s.layout.ArgEnd = v
	case 50:
		s.layout.EnvStart = v
	case 51:
		s.layout.EnvEnd = v
	}
	return nil
}

// parseUint parses a decimal uint64; it fails on overflow, signs and any
// non-digit.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// parseInt parses a decimal int64 with an optional sign; it fails on
// overflow and any non-digit.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	u, ok := parseUint(b)
	if !ok {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// clip bounds a token quoted in an error message.
func clip(b []byte) []byte {
	if len(b) > 24 {
		return b[:24]
	}
	return b
}
