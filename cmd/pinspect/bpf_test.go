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
