package collector

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAddressSpaceRSSSplitLive: the resident set's split by kind comes
// from status. This test process maps 8 MiB of shared anonymous memory
// and touches it: RssShmem grows by it, and the split says so; anon and
// file are the Go heap and the binary's pages, both nonzero.
func TestAddressSpaceRSSSplitLive(t *testing.T) {
	const size = 8 << 20
	shm, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Skip(err)
	}
	defer unix.Munmap(shm)
	for i := 0; i < size; i += 4096 {
		shm[i] = 1
	}
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	as, err := r.AddressSpace(os.Getpid(), AddrOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if as.RSS == nil {
		t.Fatalf("no RSS split; unavailable %v", as.Unavailable)
	}
	if as.RSS.ShmemBytes < size || as.RSS.AnonBytes == 0 || as.RSS.FileBytes == 0 {
		t.Errorf("split %+v: want shmem >= %d (the touched shared mapping), anon and file nonzero", *as.RSS, size)
	}
	if as.Memory != nil && as.Memory.RSSBytes < as.RSS.ShmemBytes {
		t.Errorf("smaps_rollup rss %d below the shmem %d", as.Memory.RSSBytes, as.RSS.ShmemBytes)
	}
}

// TestAddressSpaceRSSSplitAbsent: a status without RssAnon, RssFile and
// RssShmem (kernels before 4.5) gives no split, with the reason, never
// zeros.
func TestAddressSpaceRSSSplitAbsent(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "fixtures", "proc", "maps-c"))); err != nil {
		t.Fatal(err)
	}
	pid := onlyPID(t, root)
	status := filepath.Join(root, strconv.Itoa(pid), "status")
	b, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	old := regexp.MustCompile(`(?m)^Rss(Anon|File|Shmem):.*\n`).ReplaceAll(b, nil)
	if len(old) == len(b) {
		t.Fatal("the fixture's status has no Rss lines to take out")
	}
	if err := os.WriteFile(status, old, 0o644); err != nil {
		t.Fatal(err)
	}
	as := spaceAt(t, root, AddrOptions{})
	if as.RSS != nil || as.Unavailable["rss_split"] == "" {
		t.Errorf("split %+v, unavailable %q: want none, with the reason", as.RSS, as.Unavailable["rss_split"])
	}
	if want := "kernels before 4.5"; !strings.Contains(as.Unavailable["rss_split"], want) {
		t.Errorf("unavailable %q, want %q", as.Unavailable["rss_split"], want)
	}
	// A status that is none (tester11 T8: random bytes were said to be
	// a kernel before 4.5).
	if err := os.WriteFile(status, []byte("\x8a\x01garbage\nmore: 12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	as = spaceAt(t, root, AddrOptions{})
	if want := "not a process's status"; as.RSS != nil || !strings.Contains(as.Unavailable["rss_split"], want) {
		t.Errorf("random status: split %+v, unavailable %q, want %q", as.RSS, as.Unavailable["rss_split"], want)
	}
	if as := fixtureSpace(t, "maps-c", AddrOptions{}); as.RSS == nil || as.RSS.AnonBytes == 0 {
		t.Errorf("the fixture's own status: split %+v", as.RSS)
	}
}
