package collector

// This file reads /proc/PID/statm, the process's memory in pages. The
// /proc path reads it only when status could not be (its VmRSS and
// RssFile + RssShmem are the same numbers): a process whose status is
// denied, not present (a tree written by another program) or malformed.
// The task-iterator path reads it for every process with an address
// space: the record's mm counters are not the exact sums.

import (
	"bytes"
	"errors"
	"fmt"
)

// errStatmFormat is wrapped by every statm parse error.
var errStatmFormat = errors.New("malformed statm")

// statmMax caps a statm read: seven numbers, about 60 bytes.
const statmMax = 4096

// statmPages are the fields of statm pinspect uses, in pages: the
// resident set (the kernel's exact sum, as status's VmRSS) and the
// resident file and shared-memory pages ("shared": RssFile + RssShmem);
// hasShared is false for a statm of two fields.
type statmPages struct {
	resident, shared uint64
	hasShared        bool
}

// readStatm reads statm at the NUL-terminated path.
func readStatm(path []byte, buf *[]byte) (statmPages, error) {
	data, trunc, err := readSeqIn(atFDCWD, path, buf, statmMax)
	if err == nil && trunc {
		err = ErrTooLarge
	}
	if err != nil {
		return statmPages{}, err
	}
	return parseStatm(data)
}

// parseStatm parses "size resident shared text lib data dt". At least the
// first two fields must be there, each a decimal number. It never panics.
func parseStatm(b []byte) (statmPages, error) {
	var m statmPages
	f := bytes.Fields(b)
	if len(f) < 2 {
		return m, fmt.Errorf("%w: %d fields, want 7", errStatmFormat, len(f))
	}
	for i, tok := range f {
		v, ok := parseUint(tok)
		if !ok {
			return statmPages{}, fmt.Errorf("%w: field %d: bad number %q", errStatmFormat, i+1, clip(tok))
		}
		switch i {
		case 1:
			m.resident = v
		case 2:
			m.shared, m.hasShared = v, true
		}
	}
	return m, nil
}
