package collector

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// The fuzz targets below run their seeds (f.Add plus the committed corpus
// in testdata/fuzz/<FuzzName>/) as ordinary tests under `go test`, and
// explore for as long as asked under `go test -fuzz` (`make fuzz`). Each
// checks more than "no panic": the properties every caller relies on.

// statSeeds are real and hostile stat lines: comm with ')', spaces, a
// newline and escape sequences; empty, "()", short, extra fields,
// 20-digit and negative numbers.
var statSeeds = []string{
	"1 (systemd) S 0 1 1 0 -1 4194560 52341 2139841 97 1163 247 312 7542 2941 20 0 1 0 27 22691840 3270 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
	"7292 (x) Z 1 () S 7290 7292 2117 34816 7292 4194304 94 0 0 0 0 0 0 0 20 0 1 0 97319 2428928 203 18446744073709551615 94532 94540 140721 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94552 94560 9456 140721 140722 140722 140723 0",
	"7293 (a\nb) Z 1 () S 7290 7292 2117 34816 7292 4194304 94 0 0 0 0 0 0 0 20 0 1 0 97319 2428928 203 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0",
	"19787 (rlsleep) Z 19781 19774 2117 0 -1 4227084 97 0 0 0 0 0 0 0 20 0 1 0 97345 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 256",
	"42 (\x1b]0;pwn\x07) R 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0",
	"43 (\xff\xfe\xc3) S 1 43 43 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0",
	"",
	"()",
	"(",
	")",
	")(",
	"1 (x)",
	"1 (x) S",
	"1 (x) S 1 1 1 0 -1",
	"1 (x) SS 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0",
	"1 (x) S 1 1 1 0 -1 0 0 0 0 0 99999999999999999999 0 0 0 20 0 1 0 5 0 0 0",
	"1 (x) S 1 1 1 0 -1 0 0 0 0 0 18446744073709551615 0 0 0 -9223372036854775808 9223372036854775807 1 0 5 0 0 0",
	"1 (x) S -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1",
	"1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
	"x (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0",
	"1 (x) S 1 1 1 0 -1 0 0 0 0 0 0x10 0 0 0 20 0 1 0 5 0 0 0",
}

func FuzzParseStat(f *testing.F) {
	for _, s := range statSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		s, err := parseStat(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("parseStat modified its input")
		}
		if err != nil {
			if !errors.Is(err, errStatFormat) {
				t.Fatalf("error %v does not wrap errStatFormat", err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error message not bounded: %d bytes", len(err.Error()))
			}
			return
		}
		// comm is everything between the first '(' and the last ')'.
		open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if !bytes.Equal(s.comm, b[open+1:closing]) {
			t.Fatalf("comm %q, want %q", s.comm, b[open+1:closing])
		}
		if s.nfields < minStatFields {
			t.Fatalf("accepted %d fields", s.nfields)
		}
		if !(s.state >= 'A' && s.state <= 'Z' || s.state >= 'a' && s.state <= 'z') {
			t.Fatalf("accepted state %q", s.state)
		}
		// The fields after comm are the tokens separated by ' ' or '\n'.
		want := 2 + len(bytes.FieldsFunc(b[closing+1:], func(r rune) bool { return r == ' ' || r == '\n' }))
		if want != s.nfields {
			t.Fatalf("nfields %d, want %d", s.nfields, want)
		}
	})
}

// statusSeeds are a real status, one missing lines, one with a bad value
// and one with escaped hostile names.
var statusSeeds = []string{
	"Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t4241\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t256\nGroups:\t0 \nNStgid:\t4242\nNSpid:\t4242\nNSpgid:\t4242\nNSsid:\t4242\nVmPeak:\t   10000 kB\nVmSize:\t    9000 kB\nVmSwap:\t       0 kB\nThreads:\t1\nSigQ:\t0/31771\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000010000\nSigIgn:\t0000000000380004\nSigCgt:\t000000004b817efb\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nvoluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t3\n",
	"Name:\ta\\nb) Z 1 (\nState:\tS (sleeping)\n",
	"Name:\tx\nState:\tZ (zombie)\nTgid:\t19787\nPPid:\t19781\nThreads:\t1\nvoluntary_ctxt_switches:\t2\nnonvoluntary_ctxt_switches:\t2\n",
	"PPid:\tnope\n",
	"Uid:\t\n",
	"Uid:\t1 2 3 4 5 6 7 8 9\n",
	"NSpid:\t1 2 3 4 5 6 7 8 9 10 11\n",
	"SigPnd:\t00000000000000000\n",
	"SigPnd:\tzz\n",
	"VmPeak:\t18446744073709551615 kB\n",
	"voluntary_ctxt_switches:\t99999999999999999999\n",
	":::\n\n\n:",
	"",
}

func FuzzParseStatus(f *testing.F) {
	for _, s := range statusSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		s, err := parseStatus(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("parseStatus modified its input")
		}
		if err != nil {
			if !errors.Is(err, errStatusFormat) {
				t.Fatalf("error %v does not wrap errStatusFormat", err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error message not bounded: %d bytes", len(err.Error()))
			}
			return
		}
		if err := s.checkComplete(); err != nil && (!errors.Is(err, errStatusFormat) || len(err.Error()) > 200) {
			t.Fatalf("checkComplete: %v", err)
		}
		if s.nnspids < 0 || s.nnspids > len(s.nspids) {
			t.Fatalf("nnspids %d", s.nnspids)
		}
		// A key that is absent must not be reported as present.
		for _, k := range []struct {
			bit statusKeys
			key string
		}{{hasVol, "voluntary_ctxt_switches:"}, {hasInvol, "nonvoluntary_ctxt_switches:"}, {hasUid, "Uid:"}, {hasPPid, "PPid:"}} {
			if s.has&k.bit != 0 && !bytes.Contains(b, []byte(k.key)) {
				t.Fatalf("has %s without the key", k.key)
			}
		}
	})
}

// cmdlineSeeds: ordinary, trailing NULs, no NUL (a rewritten title),
// empty, only NULs, empty arguments, invalid UTF-8 and control bytes.
var cmdlineSeeds = []string{
	"/usr/bin/bash\x00-l\x00",
	"nginx: worker process\x00\x00\x00\x00\x00\x00",
	"postgres: checkpointer   ",
	"",
	"\x00\x00\x00",
	"a\x00\x00b\x00",
	"\xff\xfe\x00\x1b]52;c;AAAA\x07\x00",
	"\x00a",
}

func FuzzParseCmdline(f *testing.F) {
	for _, s := range cmdlineSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		args, noNUL := parseCmdline(b)
		trimmed := strings.TrimRight(string(b), "\x00")
		// Lossless: the arguments joined by NUL are the input without its
		// trailing NULs.
		if got := strings.Join(args, "\x00"); got != trimmed {
			t.Fatalf("join(args) = %q, want %q", got, trimmed)
		}
		// A title is a buffer without any NUL: the process overwrote even
		// the terminator. "/sbin/init\x00" is one argument, not a title.
		if noNUL != (len(b) > 0 && !bytes.Contains(b, []byte{0})) {
			t.Fatalf("noNUL = %v for %q", noNUL, b)
		}
		if len(trimmed) == 0 && args != nil {
			t.Fatalf("args %q for an empty cmdline", args)
		}
	})
}

// dirent builds one linux_dirent64 record.
func dirent(name string, reclen int) []byte {
	if reclen == 0 {
		reclen = (19 + len(name) + 1 + 7) &^ 7
	}
	b := make([]byte, max(reclen, 19+len(name)+1))
	binary.NativeEndian.PutUint64(b[0:], 1)
	binary.NativeEndian.PutUint64(b[8:], 2)
	binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
	b[18] = 4 // DT_DIR
	copy(b[19:], name)
	return b[:reclen]
}

func FuzzParseDirents(f *testing.F) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(cat(dirent(".", 0), dirent("..", 0), dirent("1", 0), dirent("self", 0), dirent("4242", 0)))
	f.Add(cat(dirent("2147483647", 0), dirent("2147483648", 0), dirent("0", 0), dirent("-1", 0), dirent("007", 0)))
	f.Add(dirent("12", 0)[:10])                  // truncated header
	f.Add(cat(dirent("12", 0), dirent("13", 3))) // reclen below the header
	f.Add(cat(dirent("12", 0), dirent("13", 0)[:20]))
	f.Add(dirent("99999999999999999999999", 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ids []int
		off := parseDirents(b, func(id int) { ids = append(ids, id) })
		if off < 0 || off > len(b) {
			t.Fatalf("consumed %d of %d bytes", off, len(b))
		}
		for _, id := range ids {
			if id < 0 || id > 1<<31-1 {
				t.Fatalf("id %d out of range", id)
			}
		}
		// Every id comes from a whole record inside the consumed part:
		// parsing just that part gives the same ids.
		var again []int
		if off2 := parseDirents(b[:off], func(id int) { again = append(again, id) }); off2 != off || len(again) != len(ids) {
			t.Fatalf("re-parse of the consumed %d bytes: %d bytes, %d ids, want %d", off, off2, len(again), len(ids))
		}
	})
}
