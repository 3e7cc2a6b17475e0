//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/hungfuse"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// exitWait is how long a pinspect child is given to be reaped once it
// should be gone: generous, for a loaded machine; a child that a thread
// stuck in the kernel keeps alive never is, however long it is given.
const exitWait = 60 * time.Second

// reaped waits for cmd (started) in the background and returns a
// channel that gives Wait's error once the child is reaped. The caller
// must make the child able to exit (close the hung file system) before
// it waits on the channel without a limit.
func reaped(cmd *exec.Cmd) <-chan error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return done
}

// TestPinspectExitsBesideHungProcess: pinspect, run as a child process
// while another process is hung on its memory-map lock (a thread in D
// state on a FUSE file that never answers, another queued for the lock),
// can always finish exiting while that file system is still hung: a
// one-shot scan of it prints its document and is reaped, and an agent
// that has read it is reaped after SIGKILL. Every read that takes the
// target's memory-map lock must do so killably (/proc/PID/cmdline does:
// mmap_read_lock_killable); a thread left in process_vm_readv (which
// takes the lock uninterruptibly) kept the one-shot a zombie and made
// SIGKILL useless until the file system answered.
func TestPinspectExitsBesideHungProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the FUSE mount, and the task iterator reads every process")
	}
	if err := hungfuse.Available(); err != nil {
		t.Skip(err)
	}
	bin := buildPinspect(t)
	fs, err := hungfuse.Mount(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	closeFS := func() {
		if closed {
			return
		}
		closed = true
		if err := fs.Close(); err != nil {
			t.Errorf("unmounting the hung file system: %v", err)
		}
	}
	// Registered after the helper's cleanup, so it runs first: the hung
	// process can exit only once the file system answers.
	hung := livehelper.Start(t, "memhang", fs.File()).PID()
	t.Cleanup(closeFS)
	hungfuse.WaitHung(t, hung)

	// wait gives the child exitWait to be reaped while the file system
	// is hung; if it is not, the file system is closed (so that it can
	// exit and the test does not leak it) and the test fails.
	wait := func(t *testing.T, what string, cmd *exec.Cmd, done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(exitWait):
		}
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		stacks := taskStacks(cmd.Process.Pid)
		_ = cmd.Process.Kill()
		closeFS()
		<-done
		t.Fatalf("%s: not reaped %v after it should have exited, while the file system was hung (stat %q)\n%s", what, exitWait, bytes.TrimSpace(stat), stacks)
		return nil
	}

	t.Run("one-shot", func(t *testing.T) {
		if closed {
			t.Fatal("the file system was closed by an earlier failure")
		}
		cmd := exec.Command(bin, "--json", "--collector", "task_iter", "--pid", strconv.Itoa(hung))
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, "pinspect --json --pid HUNG", cmd, reaped(cmd)); err != nil {
			t.Fatalf("pinspect --json --pid %d: %v\n%s", hung, err, errOut.String())
		}
		var doc struct {
			Processes []struct {
				PID         int               `json:"pid"`
				Unavailable map[string]string `json:"unavailable"`
			} `json:"processes"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("pinspect --json: %v: %.300s", err, out.Bytes())
		}
		found := false
		for _, p := range doc.Processes {
			if p.PID == hung {
				found = true
				if !strings.Contains(p.Unavailable["cmdline"], "timeout") {
					t.Errorf("the hung process's cmdline is not a timeout: unavailable %q", p.Unavailable)
				}
			}
		}
		if !found {
			t.Errorf("the hung process %d is not in the output: %.300s", hung, out.Bytes())
		}
	})

	t.Run("agent SIGKILL", func(t *testing.T) {
		if closed {
			t.Fatal("the file system was closed by an earlier failure")
		}
		cmd := exec.Command(bin, "serve", "--web.listen-address", freePort(t), "--interval", "1s", "--no-threads")
		var errOut lockedBuffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := reaped(cmd)
		// Ready: its first scan read the hung process's cmdline (and left
		// the read behind at the deadline) before it logs its address.
		deadline := time.Now().Add(2 * time.Minute)
		for !urlLine.MatchString(errOut.String()) {
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				closeFS()
				<-done
				t.Fatalf("pinspect serve did not listen within 2 minutes:\n%s", errOut.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(3 * time.Second) // a few scans more
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := wait(t, "pinspect serve after SIGKILL", cmd, done)
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("pinspect serve after SIGKILL: %v", err)
		}
	})
}

// taskStacks is each thread of pid's kernel stack, for a failure message.
func taskStacks(pid int) string {
	var b strings.Builder
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		st, _ := os.ReadFile(dir + "/" + e.Name() + "/stack")
		fmt.Fprintf(&b, "thread %s:\n%s", e.Name(), st)
	}
	return b.String()
}
