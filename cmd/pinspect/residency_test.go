//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
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
	for _, m := range codeMappings(b, exe) {
		if m.path == exe && !m.writable {
			rssKiB += m.rssKiB
			anonKiB += m.anonKiB
		}
	}
	return rssKiB, anonKiB
}

// smapsEntry is one mapping of a smaps file, as the tests read it.
type smapsEntry struct {
	perms, path   string
	filePmdMapped uint64 // KiB
	vmFlags       []string
}

// readSmaps parses /proc/PID/smaps (pid "self" for this process).
func readSmaps(t *testing.T, pid string) []smapsEntry {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var out []smapsEntry
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case !strings.HasSuffix(f[0], ":"):
			e := smapsEntry{}
			if len(f) > 1 {
				e.perms = f[1]
			}
			if len(f) > 5 {
				e.path = strings.Join(f[5:], " ")
			}
			out = append(out, e)
		case len(out) == 0:
		case f[0] == "FilePmdMapped:" && len(f) > 1:
			out[len(out)-1].filePmdMapped, _ = strconv.ParseUint(f[1], 10, 64)
		case f[0] == "VmFlags:":
			out[len(out)-1].vmFlags = f[1:]
		}
	}
	return out
}

func hasFlag(e smapsEntry, flag string) bool {
	for _, f := range e.vmFlags {
		if f == flag {
			return true
		}
	}
	return false
}

// faultAroundSupported says whether this kernel takes the asynchronous
// write-protect registration noFaultAround makes (Linux 6.7 and later,
// userfaultfd allowed), tried on a mapping of the test's own.
// Where the kernel is 6.7 or later and no seccomp filter is installed,
// the registration must work: that is decided from the kernel's release
// and /proc/self/status, not by the code under test, so a broken ioctl
// number fails the test instead of skipping it.
func faultAroundSupported(t *testing.T) bool {
	t.Helper()
	b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	start := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	ok := noFaultAround([]mapping{{start: start, end: start + 4096}})
	if !ok && kernelAtLeast(t, 6, 7) && !seccompFiltered(t) {
		t.Fatal("Linux 6.7 or later without a seccomp filter refused the asynchronous write-protect registration")
	}
	return ok
}

// kernelAtLeast says whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		t.Fatalf("kernel release %q: %v", unix.ByteSliceToString(u.Release[:]), err)
	}
	return ma > major || ma == major && mi >= minor
}

// seccompFiltered says whether this process runs under a seccomp filter
// (the Seccomp line of /proc/self/status is 2).
func seccompFiltered(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
			return strings.TrimSpace(v) == "2"
		}
	}
	return false
}

// checkCodeMappings fails the test unless every clean read-only mapping
// of the executable in smaps is marked VM_NOHUGEPAGE ("nh"), maps no PMD,
// and (where the kernel has it) is registered for asynchronous write
// protection ("uw"), which turns fault-around off there.
func checkCodeMappings(t *testing.T, smaps []smapsEntry, exe string, wantUW bool) {
	t.Helper()
	n := 0
	for _, e := range smaps {
		if e.path != exe || strings.Contains(e.perms, "w") {
			continue
		}
		n++
		if !hasFlag(e, "nh") {
			t.Errorf("%s %s: no VM_NOHUGEPAGE (VmFlags %v)", e.perms, e.path, e.vmFlags)
		}
		if e.filePmdMapped != 0 {
			t.Errorf("%s %s: FilePmdMapped %d kB", e.perms, e.path, e.filePmdMapped)
		}
		if wantUW && !hasFlag(e, "uw") {
			t.Errorf("%s %s: not registered for write protection, so the kernel faults around in it (VmFlags %v)", e.perms, e.path, e.vmFlags)
		}
	}
	if n == 0 {
		t.Fatalf("no read-only mapping of %s in smaps", exe)
	}
}

// TestReleaseStartupPages: releasing drops the test binary's resident
// read-only pages of its own executable (it has run its package
// initialisation and the tests before this one), marks them so that the
// kernel maps them page by page from now on, and the program keeps
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
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	checkCodeMappings(t, readSmaps(t, "self"), exe, faultAroundSupported(t))
}

// pagesPresent counts the pages of b mapped in this process
// (/proc/self/pagemap's present bit).
func pagesPresent(t *testing.T, b []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := uint64(os.Getpagesize())
	start := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	entries := make([]byte, 8*(uint64(len(b))/page))
	if _, err := f.ReadAt(entries, int64(start/page*8)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i < len(entries); i += 8 {
		if binary.LittleEndian.Uint64(entries[i:])>>63 == 1 {
			n++
		}
	}
	return n
}

// readSink keeps the compiler from dropping a read whose value is not
// used otherwise.
var readSink byte

// TestNoFaultAroundMapsOnePage: a read of one page of a file mapping maps
// that page alone once noFaultAround registered the mapping; the same
// read in an unregistered mapping of the same cached file maps its
// neighbours too (fault-around), which is what the registration is for.
func TestNoFaultAroundMapsOnePage(t *testing.T) {
	if !faultAroundSupported(t) {
		t.Skip("this kernel does not take an asynchronous write-protect userfaultfd registration (Linux 6.7+), or userfaultfd is denied")
	}
	// 4 MB written in one piece: in the page cache, in large folios where
	// the file system makes them.
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mapFile := func() []byte {
		b, err := unix.Mmap(int(f.Fd()), 0, 4<<20, unix.PROT_READ, unix.MAP_PRIVATE)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Munmap(b) })
		return b
	}
	page := os.Getpagesize()
	control, registered := mapFile(), mapFile()
	start := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(registered))))
	m := mapping{start: start, end: start + uint64(len(registered))}
	madvise(m, unix.MADV_NOHUGEPAGE)
	if !noFaultAround([]mapping{m}) {
		t.Fatal("noFaultAround failed on a private file mapping")
	}
	readSink += control[100*page+1]
	readSink += registered[100*page+1]
	nControl, nRegistered := pagesPresent(t, control), pagesPresent(t, registered)
	t.Logf("pages mapped by one read: %d unregistered, %d registered", nControl, nRegistered)
	if nRegistered != 1 {
		t.Errorf("one read mapped %d pages of the registered mapping, want 1", nRegistered)
	}
	if nControl == 1 {
		t.Logf("fault-around is off on this machine (fault_around_bytes is one page): the control mapped one page too")
	}
}

// TestDashboardMapsItsCodePageByPage runs the real dashboard in tmux from
// a copy of the binary written in one piece (the page cache then holds it
// in large folios on file systems that make them, as after `dd bs=4M` or
// some installers, which the old code mapped a 2 MB PMD at a time) and
// checks, from its smaps, that once it has released its start-up pages
// its executable's read-only mappings map no PMD and are mapped page by
// page.
func TestDashboardMapsItsCodePageByPage(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	built := buildPinspect(t)
	content, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pinspect")
	if err := os.WriteFile(bin, content, 0o755); err != nil {
		t.Fatal(err)
	}
	s := startTmux(t, tmux, filepath.Join(dir, "tmux.sock"), 160, 45,
		"echo $$ > "+dir+"/pid; exec env XDG_CONFIG_HOME="+dir+" "+bin+" --readonly --interval 1s")
	s.waitFor("the dashboard", func(scr string) bool { return strings.Contains(scr, "COMMAND") && strings.Contains(scr, "tasks ") })
	pidText, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(pidText))
	wantUW := faultAroundSupported(t)
	// The releases run once the BPF program is loaded and 2 s later; the
	// flags are set by the first, so wait for them (generously: the
	// machine may be loaded), then check every mapping.
	var smaps []smapsEntry
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		smaps = readSmaps(t, pid)
		marked := false
		for _, e := range smaps {
			if e.path == bin && hasFlag(e, "nh") {
				marked = true
			}
		}
		if marked {
			break
		}
	}
	checkCodeMappings(t, smaps, bin, wantUW)
}

// TestCodeMappingsParse: the private mappings of the executable and of
// every file with an executable mapping (a shared object) are returned,
// with their Rss and Anonymous; a writable one is marked, a data file's
// mapping, a shared mapping and a deleted object are not returned, and a
// mapping whose Anonymous line is missing is never releasable.
func TestCodeMappingsParse(t *testing.T) {
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
7f10000000-7f10500000 r--p 00000000 00:1a 77                         /sys/kernel/btf/vmlinux
Rss:                 500 kB
Anonymous:             0 kB
7f1f000000-7f1f026000 r--p 00000000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                 152 kB
Anonymous:             0 kB
7f20000000-7f20100000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1060 kB
Anonymous:             0 kB
7f20200000-7f20204000 r--p 001cf000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                  16 kB
Anonymous:            16 kB
7f25000000-7f25010000 r-xp 00000000 fe:00 326300                     /usr/lib/libold.so (deleted)
Rss:                  64 kB
Anonymous:             0 kB
7f30000000-7f30001000 r--p 00000000 fe:00 1                          /tmp/with space/pinspect
Rss:                   4 kB
Anonymous:             0 kB
7f40000000-7f40001000 rw-p 00000000 00:00 0
Rss:                   4 kB
Anonymous:             4 kB
`
	const libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
	got := codeMappings([]byte(smaps), "/usr/bin/pinspect")
	want := []mapping{
		{start: 0x400000, end: 0xd82000, path: "/usr/bin/pinspect", executable: true, rssKiB: 8160},
		{start: 0xd82000, end: 0x1799000, path: "/usr/bin/pinspect", rssKiB: 8256, anonKiB: 1},
		{start: 0x1799000, end: 0x188b000, path: "/usr/bin/pinspect", writable: true, rssKiB: 892, anonKiB: 600},
		{start: 0x7f1f000000, end: 0x7f1f026000, path: libc, rssKiB: 152},
		{start: 0x7f20000000, end: 0x7f20100000, path: libc, executable: true, rssKiB: 1060},
		{start: 0x7f20200000, end: 0x7f20204000, path: libc, rssKiB: 16, anonKiB: 16},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	var clean []uint64
	for _, m := range releasable(got) {
		clean = append(clean, m.start)
	}
	if wantClean := []uint64{0x400000, 0x7f1f000000, 0x7f20000000}; !slices.Equal(clean, wantClean) {
		t.Errorf("releasable: %#x, want %#x", clean, wantClean)
	}
	// /usr/bin/pinspect has an executable mapping: code, whatever the
	// executable is.
	if got := codeMappings([]byte(smaps), "/tmp/with space/pinspect"); len(got) != 7 || got[6].path != "/tmp/with space/pinspect" || got[6].rssKiB != 4 || got[6].anonKiB != 0 {
		t.Errorf("a path with a space: %+v", got)
	}
}
