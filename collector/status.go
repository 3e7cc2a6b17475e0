package collector

import (
	"bytes"
	"errors"
	"fmt"
)

// statusFields holds the fields of /proc/PID/status that pinspect uses and
// procfs does not parse (State, PPid, TracerPid, Sig*, NSpid) plus the
// context-switch counts. has records which keys were present.
type statusFields struct {
	tgid      int64
	ppid      int64
	tracerPID int64
	uids      [4]int64
	gids      [4]int64
	nspids    [8]int64
	nnspids   int
	sigPnd    uint64
	shdPnd    uint64
	sigBlk    uint64
	sigIgn    uint64
	sigCgt    uint64
	capEff    uint64
	capInh    uint64
	capPrm    uint64
	capBnd    uint64
	capAmb    uint64
	vmPeakKB  uint64
	vmRSSKB   uint64
	vmSwapKB  uint64
	rssAnonKB uint64
	rssFileKB uint64
	rssShmKB  uint64
	vol       uint64
	invol     uint64
	has       statusKeys
}

// statusKeys is a bit set of the status keys that were found.
type statusKeys uint32

const (
	hasTgid statusKeys = 1 << iota
	hasPPid
	hasTracer
	hasUid
	hasGid
	hasNSpid
	hasSig
	hasCap
	hasVmPeak
	hasVmRSS
	hasVmSwap
	hasRssAnon
	hasRssFile
	hasRssShmem
	hasVol
	hasInvol
)

// readStatus reads and parses a status file (/proc/PID/status or
// task/TID/status) at the NUL-terminated path, relative to dirfd (atFDCWD
// for an absolute path), into the reused buffer buf: the one reader of
// status. A file longer than statusMax is ErrTooLarge. It does not check
// that the keys of a process status are all there (checkComplete).
func readStatus(dirfd uintptr, path []byte, buf *[]byte) (statusFields, error) {
	data, trunc, err := readSeqIn(dirfd, path, buf, statusMax)
	if err == nil && trunc {
		err = ErrTooLarge
	}
	if err != nil {
		return statusFields{}, err
	}
	return parseStatus(data)
}

// errStatusFormat is wrapped by every status parse error.
var errStatusFormat = errors.New("malformed status")

// parseStatus parses the content of a status file. Unknown keys are
// ignored; a known key with a bad value is an error; missing keys are
// reported through has (a status with no context-switch lines is valid
// input, the counts are then unknown). It never panics.
func parseStatus(b []byte) (statusFields, error) {
	var s statusFields
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		var line []byte
		if nl < 0 {
			line, b = b, nil
		} else {
			line, b = b[:nl], b[nl+1:]
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		key, val := line[:colon], trimSpace(line[colon+1:])
		var err error
		switch string(key) {
		case "Tgid":
			s.tgid, err = statusInt(key, val)
			s.has |= hasTgid
		case "PPid":
			s.ppid, err = statusInt(key, val)
			s.has |= hasPPid
		case "TracerPid":
			s.tracerPID, err = statusInt(key, val)
			s.has |= hasTracer
		case "Uid":
			err = statusInts(key, val, s.uids[:], nil)
			s.has |= hasUid
		case "Gid":
			err = statusInts(key, val, s.gids[:], nil)
			s.has |= hasGid
		case "NSpid":
			err = statusInts(key, val, s.nspids[:], &s.nnspids)
			s.has |= hasNSpid
		case "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt", "CapEff", "CapInh", "CapPrm", "CapBnd", "CapAmb":
			*s.mask(key), err = statusHex(key, val)
		case "VmPeak":
			s.vmPeakKB, err = statusKB(key, val)
			s.has |= hasVmPeak
		case "VmRSS":
			s.vmRSSKB, err = statusKB(key, val)
			s.has |= hasVmRSS
		case "VmSwap":
			s.vmSwapKB, err = statusKB(key, val)
			s.has |= hasVmSwap
		case "RssAnon":
			s.rssAnonKB, err = statusKB(key, val)
			s.has |= hasRssAnon
		case "RssFile":
			s.rssFileKB, err = statusKB(key, val)
			s.has |= hasRssFile
		case "RssShmem":
			s.rssShmKB, err = statusKB(key, val)
			s.has |= hasRssShmem
		case "voluntary_ctxt_switches":
			s.vol, err = statusUint(key, val)
			s.has |= hasVol
		case "nonvoluntary_ctxt_switches":
			s.invol, err = statusUint(key, val)
			s.has |= hasInvol
		}
		if err != nil {
			return s, err
		}
	}
	return s, nil
}

// mask returns where the signal or capability mask of key goes, and
// records the keys the completeness check wants (SigPnd, CapEff).
func (s *statusFields) mask(key []byte) *uint64 {
	switch string(key) {
	case "SigPnd":
		s.has |= hasSig
		return &s.sigPnd
	case "ShdPnd":
		return &s.shdPnd
	case "SigBlk":
		return &s.sigBlk
	case "SigIgn":
		return &s.sigIgn
	case "SigCgt":
		return &s.sigCgt
	case "CapEff":
		s.has |= hasCap
		return &s.capEff
	case "CapInh":
		return &s.capInh
	case "CapPrm":
		return &s.capPrm
	case "CapBnd":
		return &s.capBnd
	}
	return &s.capAmb
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func statusInt(key, val []byte) (int64, error) {
	v, ok := parseInt(val)
	if !ok {
		return 0, fmt.Errorf("%w: %s: bad integer %q", errStatusFormat, key, clip(val))
	}
	return v, nil
}

func statusUint(key, val []byte) (uint64, error) {
	v, ok := parseUint(val)
	if !ok {
		return 0, fmt.Errorf("%w: %s: bad number %q", errStatusFormat, key, clip(val))
	}
	return v, nil
}

// statusKB parses "1234 kB" into kibibytes.
func statusKB(key, val []byte) (uint64, error) {
	if i := bytes.IndexByte(val, ' '); i >= 0 {
		val = val[:i]
	}
	return statusUint(key, val)
}

func statusHex(key, val []byte) (uint64, error) {
	v, ok := parseHex(val)
	if !ok {
		return 0, fmt.Errorf("%w: %s: bad mask %q", errStatusFormat, key, clip(val))
	}
	return v, nil
}

// statusInts parses whitespace-separated integers into dst; with count it
// records how many were found, else it requires at least one.
func statusInts(key, val []byte, dst []int64, count *int) error {
	n := 0
	for len(val) > 0 {
		for len(val) > 0 && (val[0] == ' ' || val[0] == '\t') {
			val = val[1:]
		}
		if len(val) == 0 {
			break
		}
		end := 0
		for end < len(val) && val[end] != ' ' && val[end] != '\t' {
			end++
		}
		v, ok := parseInt(val[:end])
		if !ok {
			return fmt.Errorf("%w: %s: bad integer %q", errStatusFormat, key, clip(val[:end]))
		}
		if n < len(dst) {
			dst[n] = v
		}
		n++
		val = val[end:]
	}
	if count != nil {
		*count = min(n, len(dst))
	} else if n == 0 {
		return fmt.Errorf("%w: %s: empty", errStatusFormat, key)
	}
	return nil
}

// statusRequired are the keys every kernel since 2.6.23 writes in a process
// status; without them the file is malformed, and the fields read from it
// would be fake zeros (uid 0, no context switches).
const statusRequired = hasTgid | hasPPid | hasUid | hasGid | hasSig | hasVol | hasInvol

// checkComplete returns an error wrapping errStatusFormat naming the
// required keys missing from a parsed process status.
func (s *statusFields) checkComplete() error {
	missing := statusRequired &^ s.has
	if missing == 0 {
		return nil
	}
	names := []struct {
		bit  statusKeys
		name string
	}{{hasTgid, "Tgid"}, {hasPPid, "PPid"}, {hasUid, "Uid"}, {hasGid, "Gid"}, {hasSig, "SigPnd"},
		{hasVol, "voluntary_ctxt_switches"}, {hasInvol, "nonvoluntary_ctxt_switches"}}
	var list []byte
	for _, n := range names {
		if missing&n.bit != 0 {
			if len(list) > 0 {
				list = append(list, ", "...)
			}
			list = append(list, n.name...)
		}
	}
	return fmt.Errorf("%w: missing %s", errStatusFormat, list)
}
