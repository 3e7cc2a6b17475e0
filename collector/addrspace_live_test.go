package collector

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestAddressSpaceLiveThreads: a real C process with 5 threads shows 4
// thread stacks each tied to its worker's tid, one main stack, a heap
// after malloc, and code inside its executable.
func TestAddressSpaceLiveThreads(t *testing.T) {
	p := livehelper.Start(t, "threads", "5")
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, per := range []bool{false, true} {
		var as *AddressSpace
		// A thread on a CPU has no readable stack pointer ("running");
		// the workers sleep, so poll until every stack is known.
		deadline := time.Now().Add(30 * time.Second)
		for {
			as, err = r.AddressSpace(p.PID(), AddrOptions{PerMapping: per})
			if err != nil {
				t.Fatal(err)
			}
			known := 0
			for _, s := range as.Stacks {
				if s.Known {
					known++
				}
			}
			if known == 5 || time.Now().After(deadline) {
				break
			}
			livehelper.Sleep()
		}
		if len(as.Unavailable) != 0 || !as.LayoutTrusted {
			t.Fatalf("unavailable %v (layout trusted %v)", as.Unavailable, as.LayoutTrusted)
		}
		checkClassic(t, as)
		checkThreadStacks(t, as, 5)
		var owners []int
		for _, m := range as.Maps {
			if m.Class == SegThreadStack {
				owners = append(owners, m.TID)
			}
		}
		slices.Sort(owners)
		want := slices.Sorted(slices.Values(p.TIDs))
		if !slices.Equal(owners, want) {
			t.Errorf("thread stacks owned by %v, workers are %v", owners, want)
		}
		if exe, _ := os.Readlink("/proc/" + strconv.Itoa(p.PID()) + "/exe"); as.Exe != exe {
			t.Errorf("exe %q, want %q", as.Exe, exe)
		}
		if per {
			var rss uint64
			for _, m := range as.Maps {
				if m.RSSBytes == nil || m.PSSBytes == nil {
					t.Fatalf("mapping %#x without RSS/PSS", m.Start)
				}
				rss += *m.RSSBytes
			}
			if rss != as.Memory.RSSBytes || rss == 0 {
				t.Errorf("per-mapping RSS sum %d, total %d", rss, as.Memory.RSSBytes)
			}
		}
	}
}

func TestAddressSpaceLiveZombie(t *testing.T) {
	p := livehelper.Start(t, "zombies", "1")
	z := p.PIDs[1]
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		as, err := r.AddressSpace(z, AddrOptions{})
		if IsVanished(err) && time.Now().Before(deadline) {
			// Read while the child was exiting: it turned into a zombie
			// mid-read (smaps_rollup answers ESRCH then). Read it again.
			livehelper.Sleep()
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if as.Unavailable["maps"] == ReasonZombie {
			// tester11 T5: rss_split was absent with no reason for a zombie.
			if as.Maps != nil || as.Memory != nil || as.Unavailable["memory"] != ReasonZombie || as.RSS != nil || as.Unavailable["rss_split"] != ReasonZombie {
				t.Fatalf("zombie: maps %d memory %v split %v unavailable %v", len(as.Maps), as.Memory, as.RSS, as.Unavailable)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d never read as a zombie: %v", z, as.Unavailable)
		}
		livehelper.Sleep()
	}
}

// TestAddressSpaceLiveDenied reads a root-owned helper as uid 65534: the
// kernel refuses maps and smaps_rollup (EACCES) and masks the layout.
func TestAddressSpaceLiveDenied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to own the helper and drop to uid 65534")
	}
	p := livehelper.Start(t, "threads", "2")
	dir := worldReadableTempDir(t)
	as := spaceUnprivileged(t, dir, "/proc", p.PID(), false)
	if as.Maps != nil || as.Memory != nil {
		t.Fatalf("denied reader got %d maps, memory %v", len(as.Maps), as.Memory)
	}
	if as.Unavailable["maps"] != "permission denied" || !strings.Contains(as.Unavailable["memory"], "permission denied") ||
		as.Unavailable["exe"] != "permission denied" {
		t.Errorf("unavailable %v", as.Unavailable)
	}
	if as.LayoutTrusted {
		t.Errorf("masked layout trusted: %+v", as.Layout)
	}
}

// TestAddressSpaceLiveGuardInside: a thread whose stack's guard is a
// guard region inside the stack's own mapping (MADV_GUARD_INSTALL, as
// glibc >= 2.42 makes them on kernels >= 6.13), with no no-access
// mapping below it, is still that thread's stack: pagemap says its
// lowest page is a guard.
func TestAddressSpaceLiveGuardInside(t *testing.T) {
	p := livehelper.Start(t, "guardstack")
	if len(p.Hex) != 1 || len(p.TIDs) != 1 {
		t.Fatalf("helper printed hex %x, tids %v", p.Hex, p.TIDs)
	}
	if p.Hex[0] == 0 {
		t.Skip("this kernel has no MADV_GUARD_INSTALL")
	}
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		as, err := r.AddressSpace(p.PID(), AddrOptions{})
		if err != nil {
			t.Fatal(err)
		}
		i := findMapping(as.Maps, p.Hex[0])
		if i < 0 || as.Maps[i].Start != p.Hex[0] {
			t.Fatalf("no mapping starts at the stack %#x", p.Hex[0])
		}
		if i > 0 && as.Maps[i-1].End == as.Maps[i].Start && as.Maps[i-1].Class == SegGuard {
			t.Fatalf("a no-access mapping sits below the stack: %+v", as.Maps[i-1])
		}
		known := false
		for _, s := range as.Stacks {
			known = known || s.TID == p.TIDs[0] && s.Known
		}
		m := as.Maps[i]
		if known {
			if m.Class != SegThreadStack || m.TID != p.TIDs[0] {
				t.Fatalf("stack %#x-%#x is %s of %d, want thread_stack of %d", m.Start, m.End, m.Class, m.TID, p.TIDs[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d's stack pointer never known", p.TIDs[0])
		}
		livehelper.Sleep()
	}
}
