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
	rss        int64
	layout     Layout
	processor  int64
	rtPriority uint64
	policy     uint64
	blkioTicks uint64
	exitCode   int64 // -1 when the field is absent
	nfields    int   // number of fields found, counting pid and comm
}

// errStatFormat is wrapped by every stat parse error.
var errStatFormat = errors.New("malformed stat")

// minStatFields is the fewest fields accepted: through rss (field 24), which
// every kernel since 2.6 writes.
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
	for len(rest) > 0 {
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\n') {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			break
		}
		end := 0
		for end < len(rest) && rest[end] != ' ' && rest[end] != '\n' {
			end++
		}
		tok := rest[:end]
		rest = rest[end:]
		n++
		if err := s.setField(n, tok); err != nil {
			return s, err
		}
	}
	s.nfields = n
	if n < minStatFields {
		return s, fmt.Errorf("%w: %d fields, want at least %d", errStatFormat, n, minStatFields)
	}
	s.layout.HasExtended = n >= 51
	return s, nil
}

// setField stores field number n (1-based, as in proc(5)).
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
	// Signed fields.
	switch n {
	case 4, 5, 6, 7, 8, 18, 19, 20, 24, 38, 39, 52:
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
		case 24:
			s.rss = v
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
