package taskiter

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// pinRootForTest mounts a bpffs of the test's own (unmounted at the end)
// and points PinRoot into it; it skips where that is not allowed (not
// root) and on kernels without the walk.
func pinRootForTest(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: pinning needs root")
	}
	if !kernelAtLeast(6, 7) {
		t.Skipf("kernel %s has no open-coded task iterator", kernelRelease())
	}
	mnt := t.TempDir()
	if err := unix.Mount("bpf", mnt, "bpf", 0, "mode=0700"); err != nil {
		t.Skipf("cannot mount a bpffs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	old := PinRoot
	PinRoot = filepath.Join(mnt, "pinspect")
	t.Cleanup(func() { PinRoot = old })
	return mnt
}

// openPinnedForTest opens with UsePin and fails unless the pin was used.
func openPinnedForTest(t *testing.T) *Iterator {
	t.Helper()
	it, err := Open(Options{UsePin: true, Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = it.Close() })
	if !it.Pinned() {
		t.Fatal("a pin of this object was there and not used")
	}
	return it
}

// TestPinOneShot pins, and checks that an iterator opened from the pin
// gives the same processes and fields as one loaded here, on the same
// processes, cmdlines included; that two at once do not share the pin;
// that unpinning leaves nothing.
func TestPinOneShot(t *testing.T) {
	mnt := pinRootForTest(t)
	info, err := Pin(PinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Current || info.Problem != "" || info.Tasks == 0 || info.Processes == 0 || info.CmdlineSlots == 0 || info.MemoryBytes == 0 {
		t.Fatalf("pin status %+v", info)
	}
	// Root's own: the directories 0700, every file 0600.
	_ = filepath.WalkDir(PinRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			t.Fatal(err)
		}
		want := uint32(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if st.Uid != 0 || st.Mode&0o7777 != want {
			t.Errorf("%s: uid %d mode %#o, want root's %#o", path, st.Uid, st.Mode&0o7777, want)
		}
		return nil
	})

	// Processes that stay put while both passes run.
	var kids []*exec.Cmd
	for range 3 {
		c := exec.Command("sleep", "60", "0.25")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		kids = append(kids, c)
	}
	t.Cleanup(func() {
		for _, c := range kids {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})
	const wantCmd = "sleep\x0060\x000.25\x00"
	for _, c := range kids {
		// Until it has exec'd sleep (polled: the fork comes first).
		for start := time.Now(); time.Since(start) < time.Minute; {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.Process.Pid))
			if err != nil {
				t.Fatalf("%d: %q %v", c.Process.Pid, b, err)
			}
			if string(b) == wantCmd {
				break
			}
			runtime.Gosched()
		}
	}
	loaded, err := Open(Options{Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	if loaded.Pinned() {
		t.Fatal("an iterator opened without UsePin used the pin")
	}
	pinned := openPinnedForTest(t)
	a, b := passAll(t, loaded), passAll(t, pinned)
	for _, c := range kids {
		pid := c.Process.Pid
		sa, sb := a[pid], b[pid]
		if sa == nil || sb == nil {
			t.Fatalf("pid %d: loaded saw it %v, pinned %v", pid, sa != nil, sb != nil)
		}
		// A sleeping process: every field the same, in both passes.
		// (but the kernel's last adjusted times, which any reader of
		// its /proc stat moves: another pinspect, top).
		ta, tb := sa.task, sb.task
		ta.Group, tb.Group = nil, nil
		ga, gb := sa.group, sb.group
		ga.PrevUTimeNs, ga.PrevSTimeNs, gb.PrevUTimeNs, gb.PrevSTimeNs = 0, 0, 0, 0
		ta.PrevUTimeNs, ta.PrevSTimeNs, tb.PrevUTimeNs, tb.PrevSTimeNs = 0, 0, 0, 0
		if ta != tb || ga != gb {
			t.Errorf("pid %d: loaded %+v %+v, pinned %+v %+v", pid, ta, ga, tb, gb)
		}
	}
	for _, it := range []*Iterator{loaded, pinned} {
		c := it.Cmdlines()
		if c == nil {
			t.Fatalf("pinned %v: no cmdline program", it.Pinned())
		}
		pids := []int{kids[0].Process.Pid, kids[2].Process.Pid}
		if err := c.Run(pids); err != nil {
			t.Fatal(err)
		}
		for i := range pids {
			r := c.Result(i)
			if r.State != CmdlineRead || string(r.Bytes) != wantCmd {
				t.Errorf("pinned %v: pid %d: %v %q", it.Pinned(), pids[i], r.State, r.Bytes)
			}
		}
	}

	if st, err := Status(); err != nil || len(st) != 1 || !st[0].Busy || st[0].TooSmall != "" {
		t.Errorf("status while a user holds the pin: %+v %v", st, err)
	}
	// A second user while the first holds the pin loads its own.
	second, err := Open(Options{UsePin: true, Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	if second.Pinned() {
		t.Error("two iterators share the pin")
	}
	_ = second.Close()
	// Once the first is closed, the next one has it.
	_ = pinned.Close()
	again := openPinnedForTest(t)
	if len(passAll(t, again)) == 0 {
		t.Fatal("no tasks")
	}
	_ = again.Close()

	gone, err := Unpin()
	if err != nil || len(gone) != 1 {
		t.Fatalf("unpin: %v %v", gone, err)
	}
	// The kernel's own files of a new bpffs (maps.debug, progs.debug)
	// stay; nothing of pinspect's.
	if ents, err := os.ReadDir(mnt); err != nil || slices.ContainsFunc(ents, func(e os.DirEntry) bool { return !strings.HasSuffix(e.Name(), ".debug") }) {
		t.Fatalf("left in the bpffs after unpin: %v %v", ents, err)
	}
	it, err := Open(Options{UsePin: true, Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.Pinned() {
		t.Fatal("pinned after unpin")
	}
}

// TestPinConcurrentOneShots opens from the pin in several goroutines at
// once: exactly one at a time has it, and every pass of each is whole.
func TestPinConcurrentOneShots(t *testing.T) {
	pinRootForTest(t)
	if _, err := Pin(PinOptions{}); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		holder int
		max    int
		wg     sync.WaitGroup
		errs   []error
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				it, err := Open(Options{UsePin: true})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				if it.Pinned() {
					holder++
					max = maxInt(max, holder)
				}
				mu.Unlock()
				st, err := it.Pass(func(*Task) error { return nil })
				mu.Lock()
				if err != nil || st.Tasks == 0 || st.Groups == 0 {
					errs = append(errs, errors.Join(err, errors.New("an empty pass")))
				}
				if it.Pinned() {
					holder--
				}
				mu.Unlock()
				_ = it.Close()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if max != 1 {
		t.Fatalf("%d iterators held the pin at once (want 1)", max)
	}
	if _, err := Unpin(); err != nil {
		t.Fatal(err)
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// TestPinIgnored: a pin of another object, one too small for the
// machine, and one another user could have made are not used.
func TestPinIgnored(t *testing.T) {
	pinRootForTest(t)
	// bpf pin refuses a size a one-shot could never use; made anyway
	// (the machine grew since), it is passed over.
	if _, err := Pin(PinOptions{Tasks: 16, Processes: 16}); !errors.Is(err, ErrPinSize) {
		t.Fatalf("a pin of 16 tasks: %v", err)
	}
	if _, err := Pin(PinOptions{Tasks: 1 << 30, Processes: 1 << 30}); !errors.Is(err, ErrPinSize) {
		t.Fatalf("a pin of 2^30 tasks: %v", err)
	}
	pinSizeCheck = func(int, int, int, int, int) error { return nil }
	_, err := Pin(PinOptions{Tasks: 16, Processes: 16})
	pinSizeCheck = checkPinSize
	if err != nil {
		t.Fatal(err)
	}
	if st, err := Status(); err != nil || len(st) != 1 || st[0].TooSmall == "" {
		t.Errorf("status of a 16-task pin: %+v %v", st, err)
	}
	it, err := Open(Options{UsePin: true, Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	if it.Pinned() {
		t.Error("a pin of 16 tasks used")
	}
	// And it says so, with the numbers (a one-shot tells the user to
	// pin again; it loaded its own silently).
	if err := it.PinTooSmall; err == nil || !strings.Contains(err.Error(), "holds 16 tasks") {
		t.Errorf("a pin of 16 tasks passed over: PinTooSmall %v, want why", err)
	}
	if len(passAll(t, it)) == 0 {
		t.Fatal("no tasks")
	}
	_ = it.Close()

	// The same pin under another object's name: stale.
	if _, err := Pin(PinOptions{}); err != nil {
		t.Fatal(err)
	}
	cur := filepath.Join(PinRoot, ObjectHash())
	stale := filepath.Join(PinRoot, "0123456789abcdef")
	if err := os.Rename(cur, stale); err != nil {
		t.Fatal(err)
	}
	it, err = Open(Options{UsePin: true, Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	if it.Pinned() {
		t.Error("another object's pin used")
	}
	if it.PinTooSmall != nil {
		t.Errorf("another object's pin passed over as too small: %v", it.PinTooSmall)
	}
	_ = it.Close()
	st, err := Status()
	if err != nil || len(st) != 1 || st[0].Current || st[0].Hash != "0123456789abcdef" {
		t.Fatalf("status %+v %v", st, err)
	}
	// Another object's pin renamed to this object's name: its layout
	// names the other object (here the layout's hash is changed).
	if err := os.Rename(stale, cur); err != nil {
		t.Fatal(err)
	}
	lm, err := ebpf.LoadPinnedMap(filepath.Join(cur, pinLayout), nil)
	if err != nil {
		t.Fatal(err)
	}
	var layout [layoutWords]uint32
	if err := lm.Lookup(uint32(0), &layout); err != nil {
		t.Fatal(err)
	}
	layout[layoutWords-1]++
	if err := lm.Put(uint32(0), layout); err != nil {
		t.Fatal(err)
	}
	_ = lm.Close()
	it, err = Open(Options{UsePin: true})
	if err != nil {
		t.Fatal(err)
	}
	if it.Pinned() {
		t.Error("a pin whose layout names another object used")
	}
	_ = it.Close()
	layout[layoutWords-1]--
	if lm, err = ebpf.LoadPinnedMap(filepath.Join(cur, pinLayout), nil); err != nil {
		t.Fatal(err)
	}
	if err := lm.Put(uint32(0), layout); err != nil {
		t.Fatal(err)
	}
	_ = lm.Close()
	if err := os.Rename(cur, stale); err != nil {
		t.Fatal(err)
	}

	// This object's again, its directory open to others: refused.
	if err := os.Rename(stale, cur); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cur, 0o755); err != nil {
		t.Fatal(err)
	}
	it, err = Open(Options{UsePin: true})
	if err != nil {
		t.Fatal(err)
	}
	if it.Pinned() {
		t.Error("a pin directory of mode 0755 used")
	}
	_ = it.Close()
	if st := statusOf(cur); !strings.Contains(st.Problem, "refusing") {
		t.Errorf("status of a 0755 pin: %+v", st)
	}
	// Unpin leaves a directory that is not root's alone, too.
	if gone, err := Unpin(); err == nil || len(gone) != 0 {
		t.Fatalf("unpin of a 0755 pin directory: %v %v", gone, err)
	}
	if err := os.Chmod(cur, 0o700); err != nil {
		t.Fatal(err)
	}
	gone, err := Unpin()
	if err != nil || !slices.Equal(gone, []string{cur}) {
		t.Fatalf("unpin: %v %v", gone, err)
	}
}

// TestUnpinPlanted: in a bpffs anyone may write in, what another user
// plants where pins go (a symlink for the pin root or a pin directory,
// a name that is not a pin's) is never followed or removed by unpin or
// status.
func TestUnpinPlanted(t *testing.T) {
	mnt := pinRootForTest(t)
	if err := os.Chmod(mnt, 0o1777); err != nil {
		t.Fatal(err)
	}
	victim := t.TempDir()
	keep := filepath.Join(victim, "keys")
	if err := os.Mkdir(keep, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keep, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	planted := func() {
		t.Helper()
		if _, err := os.Stat(filepath.Join(keep, "secret")); err != nil {
			t.Fatalf("the victim's file is gone: %v", err)
		}
	}
	// The pin root a symlink to the victim's directory.
	if err := os.Symlink(victim, PinRoot); err != nil {
		t.Fatal(err)
	}
	if gone, err := Unpin(); err == nil || len(gone) != 0 {
		t.Errorf("unpin through a symlinked pin root: %v %v", gone, err)
	}
	if _, err := Status(); err == nil {
		t.Error("status through a symlinked pin root: no error")
	}
	planted()
	if err := os.Remove(PinRoot); err != nil {
		t.Fatal(err)
	}
	// A pin directory (by name) a symlink; a name that is not a pin's.
	if err := os.Mkdir(PinRoot, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(keep, filepath.Join(PinRoot, "0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(PinRoot, "other"), 0o700); err != nil {
		t.Fatal(err)
	}
	gone, err := Unpin()
	if err == nil || len(gone) != 0 {
		t.Errorf("unpin with a symlinked pin directory: %v %v", gone, err)
	}
	planted()
	if _, err := os.Lstat(filepath.Join(PinRoot, "other")); err != nil {
		t.Errorf("a directory that is not a pin's was removed: %v", err)
	}
	st, err := Status()
	if err != nil || len(st) != 2 || st[0].Problem == "" || st[1].Problem == "" {
		t.Errorf("status: %+v %v", st, err)
	}
	for _, n := range []string{"0123456789abcdef", "other"} {
		_ = os.Remove(filepath.Join(PinRoot, n))
	}
	_ = os.Remove(PinRoot)
}

func TestPinName(t *testing.T) {
	for name, want := range map[string]bool{
		"c4e6d318d7b9b23e": true, "new-c4e6d318d7b9b23e-123": true,
		"C4E6D318D7B9B23E": false, "c4e6d318d7b9b23": false, "new-c4e6d318d7b9b23e-": false,
		"new-c4e6d318d7b9b23e-1x": false, "other": false, "..": false, "": false,
	} {
		if got := pinName(name); got != want {
			t.Errorf("pinName(%q) = %v", name, got)
		}
	}
}

// TestPinNeedsBPFFS: pinning where the parent is not a bpffs says so.
func TestPinNeedsBPFFS(t *testing.T) {
	old := PinRoot
	PinRoot = filepath.Join(t.TempDir(), "pinspect")
	defer func() { PinRoot = old }()
	if _, err := Pin(PinOptions{}); !errors.Is(err, ErrNoBPFFS) {
		t.Fatalf("pin in a tmpfs: %v", err)
	}
}

// pinChildEnv names, for the child TestPinNotRoot starts, the pin root
// to look in.
const pinChildEnv = "PINSPECT_TEST_PIN_ROOT"

// TestPinNotRoot: in a bpffs anyone may write in (mode 1777, as
// /sys/fs/bpf is mounted), a user other than root can neither open the
// pin nor load BPF: Open falls back and fails as it does without a pin.
func TestPinNotRoot(t *testing.T) {
	if root := os.Getenv(pinChildEnv); root != "" {
		PinRoot = root
		_, err := lockDir(filepath.Join(PinRoot, ObjectHash()))
		if !errors.Is(err, os.ErrPermission) {
			t.Fatalf("as uid %d: open the pin directory: %v, want permission denied", os.Geteuid(), err)
		}
		it, err := Open(Options{UsePin: true, Cmdlines: true})
		if err == nil {
			pinned := it.Pinned()
			_ = it.Close()
			t.Fatalf("as uid %d: Open succeeded (pinned %v)", os.Geteuid(), pinned)
		}
		// Pin says why it cannot, without a fallback it does not have.
		if _, err := Pin(PinOptions{}); err == nil || strings.Contains(err.Error(), "using the") {
			t.Fatalf("as uid %d: pin: %v", os.Geteuid(), err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	if !kernelAtLeast(6, 7) {
		t.Skipf("kernel %s has no open-coded task iterator", kernelRelease())
	}
	dir, err := os.MkdirTemp("", "pinspect-pin-notroot")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	mnt := filepath.Join(dir, "bpffs")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("bpf", mnt, "bpf", 0, "mode=1777"); err != nil {
		t.Skipf("cannot mount a bpffs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	old := PinRoot
	PinRoot = filepath.Join(mnt, "pinspect")
	t.Cleanup(func() { PinRoot = old })
	if _, err := Pin(PinOptions{}); err != nil {
		t.Fatal(err)
	}
	// The test binary, where uid 65534 may run it.
	exe, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "taskiter.test")
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestPinNotRoot$", "-test.count=1")
	cmd.Env = append(os.Environ(), pinChildEnv+"="+PinRoot)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
	if _, err := Unpin(); err != nil {
		t.Fatal(err)
	}
}

// TestPinKeptWhileCmdlineRunInKernel: an iterator closed while its
// pinned cmdline program's run is still in the kernel (runReturnedHook
// holds it where a run abandoned at its deadline would be) keeps the
// pin's lock: the next user loads its own rather than run the program
// over the slots and pages that run may still write.
func TestPinKeptWhileCmdlineRunInKernel(t *testing.T) {
	pinRootForTest(t)
	if _, err := Pin(PinOptions{}); err != nil {
		t.Fatal(err)
	}
	it, err := Open(Options{UsePin: true, Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	c := it.Cmdlines()
	if !it.Pinned() || c == nil {
		t.Fatalf("pinned %v, cmdline program %v", it.Pinned(), c != nil)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	runReturnedHook = func() {
		close(entered)
		<-release
	}
	t.Cleanup(func() { runReturnedHook = nil })
	done := make(chan error, 1)
	go func() { done <- c.Run([]int{os.Getpid(), 1}) }()
	<-entered
	if err := it.Close(); err != nil {
		t.Errorf("Close during a run: %v", err)
	}
	next, err := Open(Options{UsePin: true, Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	if next.Pinned() {
		t.Error("the pin was taken while a run of its cmdline program was in the kernel")
	}
	_ = next.Close()
	close(release)
	if err := <-done; !errors.Is(err, errCmdlinesClosed) {
		t.Errorf("the run after Close: %v", err)
	}
	if _, err := Unpin(); err != nil {
		t.Fatal(err)
	}
}

// TestPinConcurrentPins: pins made at once are made one after the other
// (the pin root's flock): every one succeeds and one whole pin is left.
func TestPinConcurrentPins(t *testing.T) {
	pinRootForTest(t)
	if _, err := Pin(PinOptions{}); err != nil { // the root made once
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Pin(PinOptions{})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	st, err := Status()
	if err != nil || len(st) != 1 || !st[0].Current || st[0].Problem != "" {
		t.Fatalf("after 4 pins at once: %+v %v", st, err)
	}
	openPinnedForTest(t)
}

func TestCheckPinSize(t *testing.T) {
	for _, c := range []struct {
		capT, capG, nt, ng int
		ok                 bool
	}{
		{2048, 2048, 1000, 500, true},
		{1252, 690, 1000, 500, true}, // exactly the least: the one-shot's room twice
		{1251, 690, 1000, 500, false},
		{1252, 689, 1000, 500, false},
		{1126, 595, 1000, 500, false},   // the one-shot's room only: too small at once
		{40000, 2048, 1000, 500, false}, // above the limit
	} {
		err := checkPinSize(c.capT, c.capG, c.nt, c.ng, 34880)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrPinSize) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestPinLeastNotTooSmallAtOnce (tester13 B4): pin accepted 251 tasks
// with 176 counted (176 + 176/16 + 64), and status straight after
// counted 218 and called it too small (218 + 13 + 64 = 295). The least
// size pin accepts must still hold what a one-shot asks after that much
// growth, and the refusal names that least size.
func TestPinLeastNotTooSmallAtOnce(t *testing.T) {
	for _, c := range []struct{ counted, after int }{{176, 218}, {1000, 1050}, {18148, 18400}} {
		least := 0
		for capT := c.counted; capT <= 40000; capT++ {
			if checkPinSize(capT, 40000, c.counted, 1, 40000) == nil {
				least = capT
				break
			}
		}
		if need := c.after + c.after/16 + 64; least < need {
			t.Errorf("%d counted: pin accepts %d tasks, too small for a one-shot with %d running (needs %d)", c.counted, least, c.after, need)
		}
		err := checkPinSize(least-1, 40000, c.counted, 1, 40000)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("at least %d tasks", least)) {
			t.Errorf("%d counted: below the least (%d): %v, want it named", c.counted, least, err)
		}
	}
}

// TestPinSwappedCmdMaps: a pin whose cmd_slots and cmd_pages were
// swapped is damaged: a one-shot asking for cmdlines passes it over
// without calling it too small, and status says so. Before, the one-shot
// took the pages for slots and called the pin too small ("its cmdline
// program holds N processes"; tester14), and status called it usable.
func TestPinSwappedCmdMaps(t *testing.T) {
	pinRootForTest(t)
	if _, err := Pin(PinOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(PinRoot, ObjectHash())
	for _, mv := range [][2]string{{pinCmdSlots, "swap"}, {pinCmdPages, pinCmdSlots}, {"swap", pinCmdPages}} {
		if err := os.Rename(filepath.Join(dir, mv[0]), filepath.Join(dir, mv[1])); err != nil {
			t.Fatal(err)
		}
	}
	it, err := Open(Options{UsePin: true, Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.Pinned() || it.PinTooSmall != nil {
		t.Errorf("a pin with cmd_slots and cmd_pages swapped: pinned %v, too small %v; want passed over, not too small", it.Pinned(), it.PinTooSmall)
	}
	if st, err := Status(); err != nil || len(st) != 1 || !strings.Contains(st[0].Problem, "the pin is damaged: its cmd_slots holds values of") {
		t.Errorf("status of the swapped pin: %+v %v", st, err)
	}
}
