package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestParseSyscallSP(t *testing.T) {
	cases := []struct {
		in     string
		sp     uint64
		reason string
		bad    bool
	}{
		{"230 0x0 0x0 0x7f0b24857ea0 0x0 0x0 0x64 0x7f0b24857e60 0x7f0b24d2c545\n", 0x7f0b24857e60, "", false},
		{"-1 0x7ffc67597818 0x7f7a95b3a2ad\n", 0x7ffc67597818, "", false},
		{"running\n", 0, ReasonThreadRuns, false},
		{"", 0, "", true},
		{"1 2 3 4", 0, "", true},
		{"-1 7ffc 0x1", 0, "", true},
		{"-1 0x 0x1", 0, "", true},
		{"-1 0x11112222333344445 0x1", 0, "", true},
		{"0 0 0 0 0 0 0 0 0 0 0", 0, "", true},
	}
	for _, c := range cases {
		sp, reason, err := parseSyscallSP([]byte(c.in))
		if c.bad {
			if !errors.Is(err, errSyscallFormat) {
				t.Errorf("%q: err %v, want errSyscallFormat", c.in, err)
			}
			continue
		}
		if err != nil || sp != c.sp || reason != c.reason {
			t.Errorf("%q: got %#x %q %v", c.in, sp, reason, err)
		}
	}
}

// fixtureSpace reads the one process of fixtures/proc/<scenario>.
func fixtureSpace(t *testing.T, scenario string, opt AddrOptions) *AddressSpace {
	t.Helper()
	root := filepath.Join("..", "fixtures", "proc", scenario)
	return spaceAt(t, root, opt)
}

func spaceAt(t *testing.T, root string, opt AddrOptions) *AddressSpace {
	t.Helper()
	r, err := NewReader(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	as, err := r.AddressSpace(onlyPID(t, root), opt)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func onlyPID(t *testing.T, root string) int {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			return pid
		}
	}
	t.Fatalf("%s: no process directory", root)
	return 0
}

func countClass(as *AddressSpace, c Segment) int {
	n := 0
	for i := range as.Maps {
		if as.Maps[i].Class == c {
			n++
		}
	}
	return n
}

func firstOf(as *AddressSpace, c Segment) *Mapping {
	for i := range as.Maps {
		if as.Maps[i].Class == c {
			return &as.Maps[i]
		}
	}
	return nil
}

// checkClassic checks what every C-like process shows: code inside the
// executable and holding start_code, data and rodata of it, one main
// stack owned by the leader, a heap at start_brk, libc's code and data.
func checkClassic(t *testing.T, as *AddressSpace) {
	t.Helper()
	code := firstOf(as, SegCode)
	if code == nil || code.Path != as.Exe || !code.Executable() {
		t.Fatalf("code mapping %+v, exe %q", code, as.Exe)
	}
	if as.LayoutTrusted && (as.Layout.StartCode < code.Start || as.Layout.EndCode > code.End) {
		t.Errorf("start_code..end_code %#x..%#x outside code %#x..%#x", as.Layout.StartCode, as.Layout.EndCode, code.Start, code.End)
	}
	if countClass(as, SegData) != 1 || countClass(as, SegRodata) == 0 {
		t.Errorf("data %d, rodata %d", countClass(as, SegData), countClass(as, SegRodata))
	}
	if countClass(as, SegStack) != 1 || firstOf(as, SegStack).TID != as.PID {
		t.Errorf("stack: %d mappings, %+v", countClass(as, SegStack), firstOf(as, SegStack))
	}
	heap := firstOf(as, SegHeap)
	if heap == nil || (as.LayoutTrusted && heap.Start != as.Layout.StartBrk) {
		t.Errorf("heap %+v, start_brk %#x", heap, as.Layout.StartBrk)
	}
	if countClass(as, SegLibCode) < 2 || countClass(as, SegLibData) < 2 {
		t.Errorf("libs: code %d data %d", countClass(as, SegLibCode), countClass(as, SegLibData))
	}
	for _, c := range []Segment{SegVdso, SegVvar, SegVsyscall} {
		if countClass(as, c) == 0 {
			t.Errorf("no %s", c)
		}
	}
	if as.Memory == nil || as.Memory.RSSBytes == 0 || as.Memory.PSSBytes == 0 || as.Memory.USSBytes > as.Memory.RSSBytes {
		t.Errorf("memory %+v", as.Memory)
	}
	var total uint64
	for _, s := range as.Segments {
		total += s.SizeBytes
	}
	var want uint64
	for i := range as.Maps {
		want += as.Maps[i].SizeBytes()
	}
	if total != want {
		t.Errorf("segment totals %d != mapping sizes %d", total, want)
	}
}

func TestAddressSpaceFixtureC(t *testing.T) {
	for _, per := range []bool{false, true} {
		as := fixtureSpace(t, "maps-c", AddrOptions{PerMapping: per})
		if len(as.Unavailable) != 0 {
			t.Fatalf("unavailable: %v", as.Unavailable)
		}
		checkClassic(t, as)
		if n := countClass(as, SegThreadStack); n != 0 {
			t.Errorf("single-threaded process has %d thread stacks", n)
		}
		if per != as.PerMapping || (per && as.Maps[0].RSSBytes == nil) || (!per && as.Maps[0].RSSBytes != nil) {
			t.Errorf("per-mapping %v: got %v, rss %v", per, as.PerMapping, as.Maps[0].RSSBytes)
		}
		wantSrc := map[bool]string{false: "smaps_rollup", true: "smaps"}[per]
		if as.MemorySource != wantSrc {
			t.Errorf("memory source %q, want %q", as.MemorySource, wantSrc)
		}
	}
}

func TestAddressSpaceFixtureThreads(t *testing.T) {
	root := filepath.Join("..", "fixtures", "proc", "maps-threads")
	as := spaceAt(t, root, AddrOptions{})
	checkClassic(t, as)
	tids, err := os.ReadDir(filepath.Join(root, strconv.Itoa(as.PID), "task"))
	if err != nil {
		t.Fatal(err)
	}
	checkThreadStacks(t, as, len(tids))
}

// checkThreadStacks checks n threads give n-1 thread_stack mappings, each
// owned by a distinct non-leader thread whose stack pointer it holds, with
// a guard page below.
func checkThreadStacks(t *testing.T, as *AddressSpace, n int) {
	t.Helper()
	if got := countClass(as, SegThreadStack); got != n-1 {
		t.Fatalf("%d threads: %d thread_stack mappings, want %d", n, got, n-1)
	}
	seen := map[int]bool{}
	for i := range as.Maps {
		m := &as.Maps[i]
		if m.Class != SegThreadStack {
			continue
		}
		if m.TID == as.PID || m.TID == 0 || seen[m.TID] {
			t.Errorf("thread stack %#x owned by %d", m.Start, m.TID)
		}
		seen[m.TID] = true
		if i == 0 || as.Maps[i-1].Class != SegGuard || as.Maps[i-1].TID != m.TID {
			t.Errorf("thread stack of %d has no guard below it", m.TID)
		}
	}
	for _, s := range as.Stacks {
		if s.TID == as.PID {
			continue
		}
		if !s.Known || s.Mapping < 0 || as.Maps[s.Mapping].TID != s.TID || !seen[s.TID] {
			t.Errorf("thread %d: stack %+v", s.TID, s)
		}
	}
}

func TestAddressSpaceFixtureGo(t *testing.T) {
	as := fixtureSpace(t, "maps-go", AddrOptions{})
	code := firstOf(as, SegCode)
	if code == nil || code.Path != as.Exe {
		t.Fatalf("code %+v", code)
	}
	// A static Go binary: no libraries, no [heap]; its bss follows its
	// data, and its heap arenas are anonymous.
	if n := countClass(as, SegLibCode) + countClass(as, SegHeap); n != 0 {
		t.Errorf("%d lib/heap mappings in a static Go binary", n)
	}
	bss := firstOf(as, SegBSS)
	data := firstOf(as, SegData)
	if bss == nil || data == nil || bss.Start != data.End {
		t.Errorf("bss %+v after data %+v", bss, data)
	}
	// All Go threads park on stacks inside one arena: it is not a
	// per-thread stack, and it stays anon.
	if n := countClass(as, SegThreadStack); n != 0 {
		t.Errorf("%d thread stacks in a Go arena", n)
	}
	var arena uint64
	for _, m := range as.Maps {
		if m.Class == SegAnon && m.SizeBytes() > arena {
			arena = m.SizeBytes()
		}
	}
	if arena < 32<<20 {
		t.Errorf("largest anon mapping %d bytes; the Go heap arena is missing", arena)
	}
	// The runtime's no-access reservations guard no stack: reserved.
	if countClass(as, SegReserved) == 0 || countClass(as, SegGuard) != 0 {
		t.Errorf("%d reserved, %d guard ranges: want the Go reservations reserved", countClass(as, SegReserved), countClass(as, SegGuard))
	}
}

func TestAddressSpaceFixtureZombie(t *testing.T) {
	as := fixtureSpace(t, "maps-zombie", AddrOptions{PerMapping: true})
	if as.Maps != nil || as.Memory != nil || as.Segments != nil {
		t.Fatalf("zombie has maps %v memory %v", as.Maps, as.Memory)
	}
	if as.Unavailable["maps"] != ReasonZombie || as.Unavailable["memory"] != ReasonZombie || as.RSS != nil || as.Unavailable["rss_split"] != ReasonZombie {
		t.Fatalf("unavailable %v", as.Unavailable)
	}
}

func TestAddressSpaceVanished(t *testing.T) {
	r, err := NewReader(Options{Root: filepath.Join("..", "fixtures", "proc", "maps-c")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.AddressSpace(999999, AddrOptions{})
	if !IsVanished(err) {
		t.Fatalf("err %v, want vanished", err)
	}
}

// TestAddressSpaceFixtureDenied models a reader that is refused maps,
// smaps, smaps_rollup and the syscall files, as a non-root user is for
// another user's process: the fixture's stat is the masked one such a
// reader sees, and the refused files are made mode 000 in a copy read by
// an unprivileged process (this test re-runs itself as uid 65534 when
// run as root), so the EACCES comes from the kernel, not from a fake.
func TestAddressSpaceFixtureDenied(t *testing.T) {
	dir := worldReadableTempDir(t)
	root := filepath.Join(dir, "proc")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "fixtures", "proc", "maps-denied"))); err != nil {
		t.Fatal(err)
	}
	pid := onlyPID(t, root)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		switch {
		case d.IsDir():
			mode = 0o755
		case d.Name() == "maps" || d.Name() == "smaps" || d.Name() == "smaps_rollup" || d.Name() == "syscall":
			mode = 0
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, per := range []bool{false, true} {
		as := spaceUnprivileged(t, dir, root, pid, per)
		if as.Maps != nil || as.Memory != nil {
			t.Fatalf("denied reader got maps %d memory %v", len(as.Maps), as.Memory)
		}
		if as.Unavailable["maps"] != "permission denied" || !strings.Contains(as.Unavailable["memory"], "permission denied") {
			t.Errorf("unavailable %v", as.Unavailable)
		}
		if as.LayoutTrusted || as.Unavailable["layout"] != ReasonMasked {
			t.Errorf("masked layout trusted: %+v", as.Layout)
		}
	}
}

// worldReadableTempDir is a t.TempDir that another uid can enter.
func worldReadableTempDir(t *testing.T) string {
	if fi, err := os.Stat(os.TempDir()); err != nil || fi.Mode().Perm()&0o001 == 0 {
		t.Skipf("%s is not searchable by other users", os.TempDir())
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// spaceUnprivileged runs AddressSpace(pid) on root as uid 65534: in this
// process when not root, else in a copy of the test binary run as that
// uid (TestAddressSpaceChild).
func spaceUnprivileged(t *testing.T, dir, root string, pid int, per bool) *AddressSpace {
	t.Helper()
	if os.Geteuid() != 0 {
		r, err := NewReader(Options{Root: root})
		if err != nil {
			t.Fatal(err)
		}
		as, err := r.AddressSpace(pid, AddrOptions{PerMapping: per})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "collector.test")
	if _, err := os.Stat(bin); err != nil {
		src, err := os.Open(self)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-test.run=^TestAddressSpaceChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PINSPECT_ADDR_CHILD="+root+"|"+strconv.Itoa(pid)+"|"+strconv.FormatBool(per))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		// Not started: no CAP_SETUID (a user namespace), or noexec.
		t.Skipf("cannot run a child as uid 65534: %v", err)
	}
	if err != nil {
		t.Fatalf("unprivileged child: %v\n%s", err, out)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	var as AddressSpace
	if err := json.Unmarshal([]byte(line), &as); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	return &as
}

// TestAddressSpaceChild is the unprivileged half of spaceUnprivileged; it
// does nothing unless PINSPECT_ADDR_CHILD is set.
func TestAddressSpaceChild(t *testing.T) {
	arg := os.Getenv("PINSPECT_ADDR_CHILD")
	if arg == "" {
		t.Skip("helper for spaceUnprivileged")
	}
	f := strings.Split(arg, "|")
	pid, _ := strconv.Atoi(f[1])
	r, err := NewReader(Options{Root: f[0]})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	as, err := r.AddressSpace(pid, AddrOptions{PerMapping: f[2] == "true"})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	b, _ := json.Marshal(as)
	fmt.Println(string(b))
	os.Exit(0)
}

func TestAddressSpaceKernelThread(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	as, err := r.AddressSpace(2, AddrOptions{})
	if err != nil {
		t.Skipf("pid 2: %v", err)
	}
	if b, _ := os.ReadFile("/proc/2/stat"); !strings.Contains(string(b), "(kthreadd)") {
		t.Skip("pid 2 is not kthreadd here (a pid namespace)")
	}
	if as.Maps != nil || as.Memory != nil || as.Unavailable["maps"] != ReasonKernel || as.RSS != nil || as.Unavailable["rss_split"] != ReasonKernel {
		t.Fatalf("kthreadd: maps %d memory %v unavailable %v", len(as.Maps), as.Memory, as.Unavailable)
	}
}

// TestAddressSpaceStartTicks: with AddrOptions.StartTicks, a pid that now
// belongs to another process (another start time in stat) is reported
// vanished instead of returning the other process's address space; the
// right start, or zero, reads it.
func TestAddressSpaceStartTicks(t *testing.T) {
	r, err := NewReader(Options{Root: filepath.Join("..", "fixtures", "proc", "maps-c")})
	if err != nil {
		t.Fatal(err)
	}
	const pid, start = 26269, 75487 // the fixture's stat
	for _, ticks := range []uint64{0, start} {
		if as, err := r.AddressSpace(pid, AddrOptions{StartTicks: ticks}); err != nil || len(as.Maps) == 0 {
			t.Errorf("start ticks %d: %v", ticks, err)
		}
	}
	as, err := r.AddressSpace(pid, AddrOptions{StartTicks: start + 1})
	if !IsVanished(err) || as != nil {
		t.Fatalf("reused pid: space %v, err %v; want vanished", as != nil, err)
	}
	if !strings.Contains(err.Error(), "pid reused") {
		t.Errorf("err %q does not say the pid was reused", err)
	}
}

// TestSameStart: the re-check after the maps are read tells a reused pid
// (another start), a vanished one and the same process apart.
func TestSameStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stat")
	stat := "7 (x) S 1 7 7 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 500 1000 10"
	if err := os.WriteFile(path, []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf []byte
	p := []byte(path + "\x00")
	if err := sameStart(p, &buf, 500); err != nil {
		t.Errorf("same start: %v", err)
	}
	if err := sameStart(p, &buf, 501); !IsVanished(err) {
		t.Errorf("other start: %v, want vanished", err)
	}
	if err := sameStart([]byte(filepath.Join(dir, "none")+"\x00"), &buf, 500); !IsVanished(err) {
		t.Errorf("no stat: %v, want vanished", err)
	}
}
