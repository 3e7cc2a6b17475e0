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

// TestAddressSpaceSmapsWithoutRss: an smaps entry without its Rss line
// (the kernel writes one for every mapping: a cut or hand-written copy)
// makes the per-mapping read fail with the reason, as a rollup without
// Rss does; it used to leave that one mapping without RSS beside the
// others' (the Memory tab showed "-" with no word why) and to sum it
// into the totals as 0.
func TestAddressSpaceSmapsWithoutRss(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "fixtures", "proc", "maps-c"))); err != nil {
		t.Fatal(err)
	}
	pid := onlyPID(t, root)
	if as := spaceAt(t, root, AddrOptions{PerMapping: true}); !as.PerMapping || len(as.Maps) == 0 {
		t.Fatalf("the fixture's own smaps: per mapping %v, %d maps, unavailable %v", as.PerMapping, len(as.Maps), as.Unavailable)
	}
	smaps := filepath.Join(root, strconv.Itoa(pid), "smaps")
	b, err := os.ReadFile(smaps)
	if err != nil {
		t.Fatal(err)
	}
	// The third entry's Rss line.
	rss := regexp.MustCompile(`(?m)^Rss:.*\n`)
	locs := rss.FindAllIndex(b, 3)
	if len(locs) < 3 {
		t.Fatalf("the fixture's smaps has %d Rss lines", len(locs))
	}
	cut := append(append([]byte{}, b[:locs[2][0]]...), b[locs[2][1]:]...)
	if err := os.WriteFile(smaps, cut, 0o644); err != nil {
		t.Fatal(err)
	}
	as := spaceAt(t, root, AddrOptions{PerMapping: true})
	if as.PerMapping || as.Maps != nil || as.Memory != nil {
		t.Errorf("an entry without Rss: per mapping %v, %d maps, memory %+v; want none", as.PerMapping, len(as.Maps), as.Memory)
	}
	if got, want := as.Unavailable["maps"], "has no Rss or no Pss line"; !strings.Contains(got, want) {
		t.Errorf("unavailable maps %q, want it to say %q (all: %v)", got, want, as.Unavailable)
	}
	if got := as.Unavailable["memory"]; got == "" {
		t.Errorf("memory: no reason (all: %v)", as.Unavailable)
	}
}
