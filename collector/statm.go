package collector

// This file reads /proc/PID/statm, the process's memory in pages. It is
// read only when status could not be (its VmRSS is the same number): the
// resident set of a process whose status is denied, not present (a tree
// written by another program) or malformed.

import (
	"bytes"
	"errors"
	"fmt"
)

// errStatmFormat is wrapped by every statm parse error.
var errStatmFormat = errors.New("malformed statm")

// statmMax caps a statm read: seven numbers, about 60 bytes.
const statmMax = 4096

// readStatm reads statm at the NUL-terminated path and returns its
// resident pages (the second field), the kernel's exact sum, as status's
// VmRSS.
func readStatm(path []byte, buf *[]byte) (residentPages uint64, err error) {
	data, trunc, err := readSeqIn(atFDCWD, path, buf, statmMax)
	if err == nil && trunc {
		err = ErrTooLarge
	}
	if err != nil {
		return 0, err
	}
	return parseStatm(data)
}

// parseStatm parses "size resident shared text lib data dt" and returns
// resident. At least the first two fields must be there, each a decimal
// number. It never panics.
func parseStatm(b []byte) (residentPages uint64, err error) {
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, fmt.Errorf("%w: %d fields, want 7", errStatmFormat, len(f))
	}
	for i, tok := range f {
		v, ok := parseUint(tok)
		if !ok {
			return 0, fmt.Errorf("%w: field %d: bad number %q", errStatmFormat, i+1, clip(tok))
		}
		if i == 1 {
			residentPages = v
		}
	}
	return residentPages, nil
}
