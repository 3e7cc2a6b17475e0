package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
	"golang.org/x/sys/unix"
)

// lifelineEnv names, in a pinspect the tests start, the descriptor of
// its lifeline: the read end of a pipe whose write end only the test
// binary holds. When the test binary dies, however it dies (a package
// timeout's panic or SIGKILL runs no cleanup), the kernel closes the
// write end, the read sees end of file, and the child exits: a record
// started by a killed test binary ran on for 18 minutes. Pdeathsig
// cannot do this for the tests: it fires when the thread that forked
// the child ends, and the Go runtime ends threads (the connector's
// locked ones among them).
const lifelineEnv = "PINSPECT_TEST_LIFELINE"

// lifeline is the test binary's pipe: w is never closed (and stays
// referenced, so no finalizer closes it) while the binary lives.
var lifeline struct {
	once sync.Once
	r, w *os.File
	err  error
}

// asPinspect sets cmd up to run the test binary (or whatever it runs
// first, such as setpriv or prlimit, that then execs the test binary) as
// pinspect: the main switch in its environment, and the lifeline passed
// as its next extra descriptor.
func asPinspect(cmd *exec.Cmd) *exec.Cmd {
	lifeline.once.Do(func() { lifeline.r, lifeline.w, lifeline.err = os.Pipe() })
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, mainEnv+"=1")
	if lifeline.err != nil {
		panic("the tests' lifeline pipe: " + lifeline.err.Error())
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, lifeline.r)
	// The last of a name in Env is the one used: a command whose extra
	// descriptors were replaced is given the lifeline again.
	cmd.Env = append(cmd.Env, lifelineEnv+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	return cmd
}

// holdLifeline, in a pinspect the tests started, exits (code 3) as soon
// as the lifeline reads end of file: the test binary is gone. A
// descriptor that is not a pipe (replaced since, as systemd's socket in
// TestServeSystemdSocket) is left alone.
func holdLifeline() {
	fd, err := strconv.Atoi(os.Getenv(lifelineEnv))
	os.Unsetenv(lifelineEnv)
	var st unix.Stat_t
	if err != nil || fd < 3 || unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return
	}
	unix.CloseOnExec(fd)
	_ = unix.SetNonblock(fd, false)
	go func() {
		var b [1]byte
		for {
			n, err := unix.Read(fd, b[:])
			switch {
			case n == 0 && err == nil:
				fmt.Fprintln(os.Stderr, "pinspect (started by a test): the test binary is gone; exiting")
				os.Exit(exitError)
			case err != nil && err != unix.EINTR:
				return
			}
		}
	}()
}

// lifelineChildEnv makes the test binary a parent of a recorder for
// TestPinspectDiesWithTheTest: the value is the recorder's directory.
const lifelineChildEnv = "PINSPECT_LIFELINE_CHILD"

// TestPinspectDiesWithTheTest: a pinspect started by a test ends when
// the test binary is killed, its cleanup never run (a package timeout):
// a record did not, and ran on for 18 minutes. A child test binary
// starts a recorder, prints its pid and start time, and is killed with
// SIGKILL; the recorder must be gone within a minute.
func TestPinspectDiesWithTheTest(t *testing.T) {
	if dir := os.Getenv(lifelineChildEnv); dir != "" {
		rec := command("record", "--dir", dir, "--interval", "1h", "--fsync", "none")
		if err := rec.Start(); err != nil {
			t.Fatal(err)
		}
		fmt.Println("pinspect", rec.Process.Pid, startTicks(rec.Process.Pid))
		time.Sleep(time.Hour)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPinspectDiesWithTheTest$", "-test.count=1")
	cmd.Env = append(os.Environ(), lifelineChildEnv+"="+filepath.Join(t.TempDir(), "rec"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := livehelper.StartSteady(cmd); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var pid int
	var start string
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatal("the child test binary printed nothing")
	}
	if _, err := fmt.Sscanf(sc.Text(), "pinspect %d %s", &pid, &start); err != nil {
		t.Fatalf("child: %q", sc.Text())
	}
	// Whatever happens, the recorder does not stay (killed only while
	// it is still the same process).
	defer func() {
		if startTicks(pid) == start {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for end := time.Now().Add(time.Minute); startTicks(pid) == start; livehelper.Sleep() {
		if time.Now().After(end) {
			t.Fatalf("the recorder %d still runs a minute after the test binary that started it was killed", pid)
		}
	}
}
