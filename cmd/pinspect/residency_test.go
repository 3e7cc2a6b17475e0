//go:build linux

package main

import (
	"os"
	"strings"
	"testing"
)

// exeResident is how many KiB of the executable's read-only mappings are
// resident in this process, and how many of them are private copies.
func exeResident(t *testing.T) (rssKiB, anonKiB uint64) {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range exeMappings(b, exe) {
		if !m.writable {
			rssKiB += m.rssKiB
			anonKiB += m.anonKiB
		}
	}
	return rssKiB, anonKiB
}

// TestReleaseStartupPages: releasing drops the test binary's resident
// read-only pages of its own executable (it has run its package
// initialisation and the tests before this one), and the program keeps
// running on them: the code and data it touches next fault back in from
// the page cache.
func TestReleaseStartupPages(t *testing.T) {
	before, anon := exeResident(t)
	if before == 0 {
		t.Fatal("no resident read-only mapping of the executable before the release")
	}
	if anon != 0 {
		t.Skipf("the executable's read-only mappings hold %d KiB of private copies (a debugger's breakpoints?): nothing to release", anon)
	}
	released := releaseStartupPages()
	after, _ := exeResident(t)
	t.Logf("resident read-only executable pages: %d KiB before, %d KiB released, %d KiB right after", before, released>>10, after)
	if released <= 0 {
		t.Fatalf("released %d bytes of %d KiB resident", released, before)
	}
	if after >= before {
		t.Fatalf("still %d KiB resident after the release (%d before)", after, before)
	}
	// Code that has not run since the release, and read-only data, work.
	if got := strings.Repeat("ab", 3); got != "ababab" {
		t.Fatalf("strings.Repeat after the release: %q", got)
	}
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		t.Fatal(err)
	}
}

// TestExeMappingsParse: only private mappings of the named file are
// returned, with their Rss and Anonymous; a writable one is marked, and a
// mapping whose Anonymous line is missing is never releasable.
func TestExeMappingsParse(t *testing.T) {
	smaps := `00400000-00d82000 r-xp 00000000 fe:00 10380497                           /usr/bin/pinspect
Size:               9736 kB
Rss:                8160 kB
Anonymous:             0 kB
00d82000-01799000 r--p 00982000 fe:00 10380497                           /usr/bin/pinspect
Rss:                8256 kB
01799000-0188b000 rw-p 01399000 fe:00 10380497                           /usr/bin/pinspect
Rss:                 892 kB
Anonymous:           600 kB
7f00000000-7f00010000 r--s 00000000 00:10 1030                       /usr/bin/pinspect
Rss:                  64 kB
Anonymous:             0 kB
7f20000000-7f20100000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1060 kB
Anonymous:             0 kB
7f30000000-7f30001000 r--p 00000000 fe:00 1                          /tmp/with space/pinspect
Rss:                   4 kB
Anonymous:             0 kB
`
	got := exeMappings([]byte(smaps), "/usr/bin/pinspect")
	want := []mapping{
		{start: 0x400000, end: 0xd82000, rssKiB: 8160},
		{start: 0xd82000, end: 0x1799000, rssKiB: 8256, anonKiB: 1},
		{start: 0x1799000, end: 0x188b000, writable: true, rssKiB: 892, anonKiB: 600},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := exeMappings([]byte(smaps), "/tmp/with space/pinspect"); len(got) != 1 || got[0].rssKiB != 4 || got[0].anonKiB != 0 {
		t.Errorf("a path with a space: %+v", got)
	}
}
