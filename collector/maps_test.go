package collector

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

func TestParseMapsLine(t *testing.T) {
	good := []struct {
		in   string
		want Mapping
	}{
		{"55fd0171e000-55fd01723000 r-xp 00002000 fe:00 247026                     /usr/bin/cat",
			Mapping{Start: 0x55fd0171e000, End: 0x55fd01723000, Perms: "r-xp", Offset: 0x2000, Dev: "fe:00", Inode: 247026, Path: "/usr/bin/cat"}},
		{"7fa9bd7aa000-7fa9bd7cc000 rw-p 00000000 00:00 0 ",
			Mapping{Start: 0x7fa9bd7aa000, End: 0x7fa9bd7cc000, Perms: "rw-p", Dev: "00:00"}},
		{"7fa9bd7aa000-7fa9bd7cc000 rw-p 00000000 00:00 0",
			Mapping{Start: 0x7fa9bd7aa000, End: 0x7fa9bd7cc000, Perms: "rw-p", Dev: "00:00"}},
		{"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
			Mapping{Start: 0xffffffffff600000, End: 0xffffffffff601000, Perms: "--xp", Dev: "00:00", Path: "[vsyscall]"}},
		{"7f00-8000 rw-s 00000000 103:00001 99 /dev/shm/my file (deleted)",
			Mapping{Start: 0x7f00, End: 0x8000, Perms: "rw-s", Dev: "103:00001", Inode: 99, Path: "/dev/shm/my file (deleted)"}},
	}
	for _, c := range good {
		ms, err := parseMaps([]byte(c.in + "\n"))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if len(ms) != 1 || ms[0] != c.want {
			t.Errorf("%q:\n got %+v\nwant %+v", c.in, ms, c.want)
		}
	}
	bad := []string{
		"", "-", "1000-", "1000-2000", "1000-2000 ", "1000-2000 rwxq 0 00:00 0",
		"2000-1000 r--p 0 00:00 0", "x000-2000 r--p 0 00:00 0",
		"10000000000000000-2 r--p 0 00:00 0", "1000-2000 r--p 0 0000 0",
		"1000-2000 r--p 0 00:00 -1", "1000-2000 r--p 0 00:00", "1000-2000 r--p zz 00:00 0",
	}
	for _, in := range bad {
		if _, err := parseMapsLine([]byte(in)); !errors.Is(err, errMapsFormat) {
			t.Errorf("%q: err %v, want errMapsFormat", in, err)
		}
	}
}

func TestParseMapsStream(t *testing.T) {
	// Empty lines are skipped, a missing final newline is fine, and a line
	// longer than the buffer is an error, never a silent cut.
	ms, err := parseMaps([]byte("1000-2000 r--p 0 00:00 0\n\n3000-4000 rw-p 0 00:00 0 [heap]"))
	if err != nil || len(ms) != 2 || ms[1].Path != "[heap]" {
		t.Fatalf("got %+v, %v", ms, err)
	}
	long := "1000-2000 r--p 0 fe:00 1 /" + strings.Repeat("a", mapsBufSize) + "\n"
	if _, err := parseMaps([]byte(long)); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("long line: err %v, want ErrLineTooLong", err)
	}
	// A parse error in the middle stops the stream with that error.
	if _, err := parseMaps([]byte("1000-2000 r--p 0 00:00 0\ngarbage\n")); !errors.Is(err, errMapsFormat) {
		t.Fatalf("garbage: err %v", err)
	}
}

func TestParseMapsInterns(t *testing.T) {
	in := strings.Repeat("1000-2000 r--p 0 fe:00 7 /usr/lib/libc.so.6\n", 3)
	ms, err := parseMaps([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if ms[2].Path != "/usr/lib/libc.so.6" || unsafe.StringData(ms[0].Path) != unsafe.StringData(ms[2].Path) {
		t.Fatal("repeated paths were not interned")
	}
	// Allocations grow with the slice (log n), not with the lines.
	many := []byte(strings.Repeat(in, 1000))
	few := testing.AllocsPerRun(5, func() { _, _ = parseMaps([]byte(in)) })
	lots := testing.AllocsPerRun(5, func() { _, _ = parseMaps(many) })
	if lots-few > 30 {
		t.Errorf("parseMaps: %.0f allocs for 3 lines, %.0f for 3000", few, lots)
	}
}

// fixtureFiles returns every file named name under fixtures/proc/maps-*.
func fixtureFiles(t testing.TB, name string) []string {
	t.Helper()
	got, err := filepath.Glob(filepath.Join("..", "fixtures", "proc", "maps-*", "*", name))
	if err != nil || len(got) == 0 {
		t.Fatalf("no fixture %s files (%v)", name, err)
	}
	return got
}

func FuzzParseMaps(f *testing.F) {
	for _, p := range fixtureFiles(f, "maps") {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := parseMaps(b)
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.End < m.Start || len(m.Perms) != 4 {
				t.Fatalf("accepted an impossible mapping %+v", m)
			}
		}
	})
}

// TestParseHex: the one hex parser of maps, status and syscall files takes
// 1 to 16 digits of either case and nothing else.
func TestParseHex(t *testing.T) {
	cases := []struct {
		in string
		v  uint64
		ok bool
	}{
		{"0", 0, true},
		{"7f0bAbCd", 0x7f0babcd, true},
		{"ffffffffffffffff", 1<<64 - 1, true},
		{"", 0, false},
		{"11112222333344445", 0, false},
		{"0x10", 0, false},
		{"12 ", 0, false},
		{"g", 0, false},
	}
	for _, c := range cases {
		if v, ok := parseHex([]byte(c.in)); v != c.v || ok != c.ok {
			t.Errorf("parseHex(%q) = %#x %v, want %#x %v", c.in, v, ok, c.v, c.ok)
		}
	}
	// The status mask and the maps address take the same rules.
	if _, err := statusHex([]byte("SigBlk"), []byte("11112222333344445")); err == nil {
		t.Error("statusHex took 17 digits")
	}
	if _, _, ok := hexUntil([]byte("11112222333344445-1"), '-'); ok {
		t.Error("hexUntil took 17 digits")
	}
}

// TestParseSyscallSPNoAlloc: reading a thread's stack pointer allocates
// nothing (one read per thread of a process with thousands of threads).
func TestParseSyscallSPNoAlloc(t *testing.T) {
	in := []byte("230 0x0 0x0 0x7f0b24857ea0 0x0 0x0 0x64 0x7f0b24857e60 0x7f0b24d2c545\n")
	allocs := testing.AllocsPerRun(100, func() {
		if sp, _, err := parseSyscallSP(in); err != nil || sp != 0x7f0b24857e60 {
			t.Fatalf("sp %#x %v", sp, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per parse, want 0", allocs)
	}
}
