package collector

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const sleepStat = "19787 (rlsleep) S 19781 19774 2117 34816 19774 4194304 97 0 0 0 12 3 0 0 20 0 1 0 97319 2625536 128 18446744073709551615 94000000000000 94000000010000 140720000000000 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94000000020000 94000000021000 94000001000000 140720000001000 140720000001100 140720000001100 140720000002000 0\n"

func TestParseStat(t *testing.T) {
	s, err := parseStat([]byte(sleepStat))
	if err != nil {
		t.Fatal(err)
	}
	if s.pid != 19787 || string(s.comm) != "rlsleep" || s.state != 'S' || s.ppid != 19781 || s.pgid != 19774 ||
		s.sid != 2117 || s.ttyNr != 34816 || s.utime != 12 || s.stime != 3 || s.priority != 20 || s.numThreads != 1 ||
		s.starttime != 97319 || s.vsize != 2625536 || s.processor != 1 || s.exitCode != 0 {
		t.Fatalf("parsed %+v", s)
	}
	if !s.layout.HasExtended || s.layout.StartBrk != 94000001000000 || s.layout.StartCode != 94000000000000 {
		t.Fatalf("layout %+v", s.layout)
	}
}

// TestParseStatHostileComm: comm is taken up to the LAST ')', so a comm
// like "x) Z 1 (" cannot fake state Z and ppid 1.
func TestParseStatHostileComm(t *testing.T) {
	for _, comm := range []string{"x) Z 1 (", ") (", "a\nb) Z 1 (", "\x1b]0;pwn\x07", "\xff\xfe", "()"} {
		line := strings.Replace(sleepStat, "(rlsleep)", "("+comm+")", 1)
		s, err := parseStat([]byte(line))
		if err != nil {
			t.Fatalf("comm %q: %v", comm, err)
		}
		if string(s.comm) != comm || s.state != 'S' || s.ppid != 19781 {
			t.Errorf("comm %q: got comm %q state %c ppid %d", comm, s.comm, s.state, s.ppid)
		}
	}
}

func TestParseStatBad(t *testing.T) {
	for _, in := range []string{
		"", "()", "1 (x)", "1 (x) S", "600 (truncated) S 1 600 600 0 -1 4194560\n",
		"this is not a stat file", "x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22",
		strings.Replace(sleepStat, " 97319 ", " 99999999999999999999999 ", 1), // overflows uint64
		strings.Replace(sleepStat, " S ", " SS ", 1),
		strings.Replace(sleepStat, " 2625536 ", " -5 ", 1), // negative in an unsigned field
	} {
		if _, err := parseStat([]byte(in)); !errors.Is(err, errStatFormat) {
			t.Errorf("parseStat(%q) err = %v, want errStatFormat", in, err)
		}
	}
}

func TestParseStatShortAndExtra(t *testing.T) {
	// Through field 44 only (an old kernel): accepted, no extended layout.
	f := strings.Fields(sleepStat)
	s, err := parseStat([]byte(strings.Join(f[:44], " ")))
	if err != nil || s.layout.HasExtended || s.exitCode != -1 {
		t.Fatalf("44 fields: %v %+v", err, s.layout)
	}
	// Fields a future kernel may add are ignored.
	if _, err := parseStat([]byte(strings.TrimSpace(sleepStat) + " 7 8 9\n")); err != nil {
		t.Fatal(err)
	}
	// Negative values in signed fields, -1 in an unsigned one.
	neg := strings.Replace(sleepStat, " 20 0 1 0 ", " -100 -20 1 0 ", 1)
	s, err = parseStat([]byte(neg))
	if err != nil || s.priority != -100 || s.nice != -20 {
		t.Fatalf("negative: %v %d %d", err, s.priority, s.nice)
	}
	// The largest uint64 is valid (rsslim is often exactly that).
	if v, ok := parseUint([]byte("18446744073709551615")); !ok || v != 1<<64-1 {
		t.Fatal("max uint64")
	}
	if _, ok := parseUint([]byte("18446744073709551616")); ok {
		t.Fatal("overflow accepted")
	}
	if v, ok := parseInt([]byte("-9223372036854775808")); !ok || v != -1<<63 {
		t.Fatal("min int64")
	}
}

func TestDecodeWaitStatus(t *testing.T) {
	cases := map[int64]string{0: "exit 0", 256: "exit 1", 0x300: "exit 3", 9: "killed by SIGKILL", 0x86: "killed by SIGABRT (core dumped)",
		11: "killed by SIGSEGV", 35: "killed by SIGRTMIN+1", 0x7e: "killed by signal 126"}
	for ws, want := range cases {
		if got := DecodeWaitStatus(ws).String(); got != want {
			t.Errorf("DecodeWaitStatus(%#x) = %s, want %s", ws, got, want)
		}
	}
}

func TestTTYName(t *testing.T) {
	for nr, want := range map[int]string{0: "", 34816: "pts/0", 34817: "pts/1", 1025: "tty1", 1088: "ttyS0", 5 << 8: ""} {
		if got := TTYName(nr); got != want {
			t.Errorf("TTYName(%d) = %q, want %q", nr, got, want)
		}
	}
}

// TestParseStatSignedFields: proc(5) types fields 16, 17, 21 and 44 %ld
// (cutime, cstime, itrealvalue, cguest_time): any int64 is legal there,
// INT64_MIN included, and must not reject the stat (issue 13, item 5).
// Every field is tried with -1 and with INT64_MIN: accepted exactly when
// proc(5) types it signed.
func TestParseStatSignedFields(t *testing.T) {
	signed := map[int]bool{4: true, 5: true, 6: true, 7: true, 8: true, 16: true, 17: true, 18: true, 19: true,
		20: true, 21: true, 24: true, 38: true, 39: true, 44: true, 52: true}
	f := strings.Fields(sleepStat)
	for n := 4; n <= 52; n++ {
		for _, v := range []string{"-1", "-9223372036854775808"} {
			g := slices.Clone(f)
			g[n-1] = v
			s, err := parseStat([]byte(strings.Join(g, " ") + "\n"))
			if signed[n] != (err == nil) {
				t.Errorf("field %d = %s: err %v, want accepted=%v", n, v, err, signed[n])
				continue
			}
			if err == nil && (s.pid != 19787 || s.starttime != 97319 || s.vsize != 2625536) {
				t.Errorf("field %d = %s: other fields changed: %+v", n, v, s)
			}
		}
	}
	// The bit set the fast path uses says the same.
	for n := 1; n <= 52; n++ {
		if got := statSigned&(1<<n) != 0; got != signed[n] {
			t.Errorf("statSigned bit %d = %v, want %v", n, got, signed[n])
		}
	}
}
