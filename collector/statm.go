package collector

// This file reads /proc/PID/statm, the process's memory in pages. The
// /proc path reads it when status could not be (its VmRSS and RssFile +
// RssShmem are the same numbers): a process whose status is denied, not
// present (a tree written by another program) or malformed; and when it
// reuses an earlier status (Options.StatusTTL), for the memory, which
// changes all the time.
// The task-iterator path reads it for every process with an address
// space: the record's mm counters are not the exact sums.

import (
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
// first two fields must be there, each a decimal number; fields are
// separated by ASCII white space. It never panics, and allocates only
// for an error: the /proc path reads a statm per process and tick when it
// reuses status (Options.StatusTTL), the task-iterator path per process.
func parseStatm(b []byte) (statmPages, error) {
	var m statmPages
	n := 0
	for {
		for len(b) > 0 && isStatmSpace(b[0]) {
			b = b[1:]
		}
		if len(b) == 0 {
			break
		}
		end := 0
		for end < len(b) && !isStatmSpace(b[end]) {
			end++
		}
		tok := b[:end]
		b = b[end:]
		v, ok := parseUint(tok)
		if !ok {
			return statmPages{}, fmt.Errorf("%w: field %d: bad number %q", errStatmFormat, n+1, clip(tok))
		}
		switch n {
		case 1:
			m.resident = v
		case 2:
			m.shared, m.hasShared = v, true
		}
		n++
	}
	if n < 2 {
		return statmPages{}, fmt.Errorf("%w: %d fields, want 7", errStatmFormat, n)
	}
	return m, nil
}

// isStatmSpace reports whether c separates statm's fields.
func isStatmSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}
