package collector

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestAddressSpaceLiveProtNone (tester10's B11): a one-thread process
// with 1,000 no-access pages, each right below a rw page, has no stack
// guard among them: its only stack is [stack], known. They are
// reserved, as many as the ---p mappings /proc/PID/maps lists (what
// pmap shows), and the process has no guard at all.
func TestAddressSpaceLiveProtNone(t *testing.T) {
	const pages = 2000
	p := livehelper.Start(t, "maps", strconv.Itoa(pages), "none")
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var as *AddressSpace
	// The one thread sleeps in pause; poll until its stack is known.
	deadline := time.Now().Add(30 * time.Second)
	for {
		as, err = r.AddressSpace(p.PID(), AddrOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(as.Stacks) == 1 && as.Stacks[0].Known || time.Now().After(deadline) {
			break
		}
		livehelper.Sleep()
	}
	if len(as.Stacks) != 1 || !as.Stacks[0].Known {
		t.Fatalf("stacks %+v: want the one thread's known", as.Stacks)
	}
	noAccess := countNoAccess(t, p.PID())
	if noAccess < pages/2 {
		t.Fatalf("maps lists %d no-access mappings, want at least %d", noAccess, pages/2)
	}
	if g := countClass(as, SegGuard); g != 0 {
		t.Errorf("%d guard mappings in a one-thread process whose stack is [stack]: want 0", g)
	}
	if res := countClass(as, SegReserved); res != noAccess {
		t.Errorf("%d reserved mappings, /proc/%d/maps lists %d no-access ones", res, p.PID(), noAccess)
	}
}

// countNoAccess counts the ---p and ---s lines of /proc/PID/maps, as pmap
// lists them.
func countNoAccess(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 1 && strings.HasPrefix(fields[1], "---") {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
