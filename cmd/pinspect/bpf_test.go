package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector/taskiter"
)

// runHere runs pinspect in this process (so that taskiter.PinRoot, set
// by the test, applies) and returns its exit code and output.
func runHere(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// pinRootHere mounts a bpffs of the test's own and points
// taskiter.PinRoot into it until the test ends.
func pinRootHere(t *testing.T) {
	t.Helper()
	mnt := t.TempDir()
	if err := unix.Mount("bpf", mnt, "bpf", 0, "mode=0700"); err != nil {
		t.Skipf("cannot mount a bpffs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	old := taskiter.PinRoot
	t.Cleanup(func() { taskiter.PinRoot = old })
	taskiter.PinRoot = filepath.Join(mnt, "pinspect")
}

// TestBPFPinCommands: bpf pin, status and unpin on a bpffs of the
// test's own; a one-shot with the pin says so and prints the same
// processes as one without it; pin refuses a directory that is not a
// bpffs with exit 2.
func TestBPFPinCommands(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	old := taskiter.PinRoot
	t.Cleanup(func() { taskiter.PinRoot = old })
	taskiter.PinRoot = filepath.Join(t.TempDir(), "pinspect")
	for _, verb := range []string{"pin", "status", "unpin"} {
		if code, _, stderr := runHere("bpf", verb); code != exitUsage || !strings.Contains(stderr, "not a BPF filesystem") {
			t.Fatalf("%s on a tmpfs: exit %d, %s", verb, code, stderr)
		}
	}
	pinRootHere(t)
	if code, out, _ := runHere("bpf", "status"); code != exitNoMatch || !strings.Contains(out, "nothing pinned") {
		t.Fatalf("status before pin: exit %d, %s", code, out)
	}
	if code, _, stderr := runHere("bpf", "pin", "--tasks", "10", "--processes", "10"); code != exitUsage || !strings.Contains(stderr, "run now") {
		t.Fatalf("pin --tasks 10: exit %d, %s", code, stderr)
	}
	code, out, stderr := runHere("bpf", "pin")
	if code != exitOK || !strings.Contains(out, "this binary's object") {
		t.Skipf("pin: exit %d: %s%s (no task walk here?)", code, out, stderr)
	}
	if code, st, _ := runHere("bpf", "status"); code != exitOK || !strings.Contains(st, taskiter.ObjectHash()) || !strings.Contains(st, "MiB of kernel memory") {
		t.Fatalf("status: exit %d, %s", code, st)
	}
	kid := exec.Command("sleep", "60")
	if err := kid.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kid.Process.Kill(); _ = kid.Wait() })
	pid := strconv.Itoa(kid.Process.Pid)
	// Until it sleeps in nanosleep: once it has exec'd, sleep still
	// maps its libraries and faults pages in for a while, and the two
	// one-shots below saw its size, faults and switches change between
	// them (its comm was already sleep).
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile("/proc/" + pid + "/wchan"); strings.Contains(string(b), "nanosleep") {
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("pid %s never slept in nanosleep", pid)
		}
	}
	type doc struct {
		Summary struct {
			Collector string `json:"collector"`
			Pinned    bool   `json:"collector_pinned"`
		} `json:"summary"`
		Processes json.RawMessage `json:"processes"`
	}
	oneShot := func() doc {
		t.Helper()
		code, out, stderr := runHere("--json", "--pid", pid)
		if code != exitOK {
			t.Fatalf("--json --pid %s: exit %d: %s", pid, code, stderr)
		}
		var d doc
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	pinned := oneShot()
	if pinned.Summary.Collector != "task_iter" || !pinned.Summary.Pinned {
		t.Fatalf("with a pin: collector %q pinned %v", pinned.Summary.Collector, pinned.Summary.Pinned)
	}
	if code, out, _ := runHere("bpf", "unpin"); code != exitOK || !strings.Contains(out, "unpinned") {
		t.Fatalf("unpin: exit %d, %s", code, out)
	}
	if _, err := os.Stat(taskiter.PinRoot); !os.IsNotExist(err) {
		t.Fatalf("%s after unpin: %v", taskiter.PinRoot, err)
	}
	loaded := oneShot()
	if loaded.Summary.Collector != "task_iter" || loaded.Summary.Pinned {
		t.Fatalf("without a pin: collector %q pinned %v", loaded.Summary.Collector, loaded.Summary.Pinned)
	}
	if !bytes.Equal(pinned.Processes, loaded.Processes) {
		t.Errorf("a sleeping process differs:\npinned %s\nloaded %s", pinned.Processes, loaded.Processes)
	}
	if code, out, _ := runHere("bpf", "unpin"); code != exitNoMatch || !strings.Contains(out, "nothing pinned") {
		t.Fatalf("unpin again: exit %d, %s", code, out)
	}
}

// TestOneShotSaysPinTooSmall: a one-shot that passes over this binary's
// pin because it holds fewer tasks than run now (pinned on a quieter
// machine) says so once on stderr, with the numbers and how to resize
// it; it said nothing (pin10's open item). Its stdout is a loaded run's
// JSON, with no collector_pinned. The pin is made at the smallest size
// bpf pin takes, and 200 threads of this test then make it too small
// (made again, up to 3 times, if the machine lost as many meanwhile).
func TestOneShotSaysPinTooSmall(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	pinRootHere(t)
	least := regexp.MustCompile(`at least (\d+) tasks, (\d+) processes`)
	for try := 0; try < 3; try++ {
		// The smallest pin: what bpf pin says it takes at the least.
		_, _, stderr := runHere("bpf", "pin", "--tasks", "10", "--processes", "10")
		m := least.FindStringSubmatch(stderr)
		if m == nil {
			t.Fatalf("pin --tasks 10: %s", stderr)
		}
		if code, out, stderr := runHere("bpf", "pin", "--tasks", m[1], "--processes", m[2]); code != exitOK {
			if code == exitUsage {
				continue // the machine grew between the two
			}
			t.Skipf("pin: exit %d: %s%s (no task walk here?)", code, out, stderr)
		}
		// 200 more tasks: threads of this process, parked until the end.
		stop := make(chan struct{})
		var ready sync.WaitGroup
		for range 200 {
			ready.Add(1)
			go func() {
				runtime.LockOSThread()
				ready.Done()
				<-stop
			}()
		}
		ready.Wait()
		code, out, stderr := runHere("--json", "--pid", "1")
		close(stop)
		if code != exitOK {
			t.Fatalf("--json: exit %d: %s", code, stderr)
		}
		if strings.Contains(out, `"collector_pinned"`) {
			continue // the machine lost 200 tasks meanwhile
		}
		if strings.Count(stderr, "pinspect: ") != 1 || !strings.Contains(stderr, "the BPF pin is too small") ||
			!strings.Contains(stderr, "holds "+m[1]+" tasks") || !strings.Contains(stderr, "pin again to resize") {
			t.Errorf("a one-shot past a pin too small: stderr %q, want it said once with the numbers", stderr)
		}
		return
	}
	t.Skip("the machine's task count moved by more than 200 in each of 3 tries")
}

// TestBPFStatusDamagedPin: status checks every file a one-shot opens of
// a pin: with cmd_pages removed, or the walk program, it says the pin is
// not usable and names what is missing; with cmd_slots and cmd_pages
// swapped, it calls it damaged (TestPinSwappedCmdMaps: a one-shot passes
// it over). Before, status called these pins usable (one-shots passed
// the first two over). A stray directory is "not a pin", not "another
// object".
func TestBPFStatusDamagedPin(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	pinRootHere(t)
	pin := func() string {
		t.Helper()
		code, out, stderr := runHere("bpf", "pin")
		if code != exitOK || !strings.Contains(out, "this binary's object") {
			t.Skipf("pin: exit %d: %s%s (no task walk here?)", code, out, stderr)
		}
		return filepath.Join(taskiter.PinRoot, taskiter.ObjectHash())
	}
	status := func(what, want string) {
		t.Helper()
		code, out, stderr := runHere("bpf", "status")
		if code != exitOK || !strings.Contains(out, "this binary's object; not usable: ") || !strings.Contains(out, want) {
			t.Errorf("status with %s: exit %d, %q %q; want not usable, %q", what, code, out, stderr, want)
		}
	}
	dir := pin()
	must(t, os.Remove(filepath.Join(dir, "cmd_pages")))
	status("cmd_pages removed", "the pin is damaged: cmd_pages missing (pin again)")
	must(t, os.Remove(filepath.Join(dir, "walk")))
	status("cmd_pages and walk removed", "the pin is damaged: walk, cmd_pages missing (pin again)")

	dir = pin()
	swap := filepath.Join(dir, "swap")
	must(t, os.Rename(filepath.Join(dir, "cmd_slots"), swap))
	must(t, os.Rename(filepath.Join(dir, "cmd_pages"), filepath.Join(dir, "cmd_slots")))
	must(t, os.Rename(swap, filepath.Join(dir, "cmd_pages")))
	status("cmd_slots and cmd_pages swapped", "the pin is damaged: its cmd_slots holds values of 8192 bytes, the cmdline program's are 32 (pin again)")

	must(t, os.Mkdir(filepath.Join(taskiter.PinRoot, "stray"), 0o700))
	if _, out, _ := runHere("bpf", "status"); !strings.Contains(out, "stray: not a pin of pinspect (unpin leaves it alone)") {
		t.Errorf("status with a stray directory: %q", out)
	}
}

// TestBPFMountAdviceAgrees: the mount command bpf's help gives and the
// one its error gives without a bpffs are the same; and a pin root of
// mode 0755 is refused saying what pinspect makes and how to remove it.
// The help said `mount -t bpf bpf /sys/fs/bpf`, the error `-o mode=0700`.
func TestBPFMountAdviceAgrees(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	mount := regexp.MustCompile("mount -t bpf[^)`]*")
	_, help, _ := runHere("bpf", "--help")
	old := taskiter.PinRoot
	t.Cleanup(func() { taskiter.PinRoot = old })
	taskiter.PinRoot = filepath.Join(t.TempDir(), "pinspect")
	_, _, stderr := runHere("bpf", "status")
	h, e := mount.FindString(help), mount.FindString(stderr)
	if h == "" || h != strings.Replace(e, filepath.Dir(taskiter.PinRoot), "/sys/fs/bpf", 1) {
		t.Errorf("the help says %q, the error %q (%s)", h, e, stderr)
	}
	pinRootHere(t)
	must(t, os.Mkdir(taskiter.PinRoot, 0o755))
	must(t, os.Chmod(taskiter.PinRoot, 0o755))
	code, _, stderr := runHere("bpf", "status")
	if code != exitError || !strings.Contains(stderr, "mode 0755: refusing it, as pinspect makes it this user's, mode 0700 (remove it, `rm -r "+taskiter.PinRoot+"`, and pin again)") {
		t.Errorf("status with a 0755 pin root: exit %d, %q", code, stderr)
	}
}
