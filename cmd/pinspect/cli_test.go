package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mainEnv makes the test binary run as pinspect itself (the os/exec test
// pattern): the CLI tests run the real command line in a child process, so
// exit codes, signals, stdout and stderr are the real ones.
const mainEnv = "PINSPECT_TEST_MAIN"

func init() {
	if os.Getenv(mainEnv) == "1" {
		holdLifeline()
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
}

// result is one run of pinspect.
type result struct {
	stdout, stderr string
	code           int            // exit code, -1 when killed by a signal
	signal         syscall.Signal // the signal that killed it, if any
}

// command returns the test binary set up to run as pinspect with args,
// or the binary named by PINSPECT_TEST_BIN (an older build or a release:
// the same tests then show what it does).
func command(args ...string) *exec.Cmd {
	if bin := os.Getenv("PINSPECT_TEST_BIN"); bin != "" {
		return exec.Command(bin, args...)
	}
	return asPinspect(exec.Command(os.Args[0], args...))
}

// runCmd runs cmd, capturing what was not redirected.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	cmd.Stderr = &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signal = ws.Signal()
		}
	default:
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	checkNoCrash(t, r.stderr)
	return r
}

// pinspect runs pinspect with args.
func pinspect(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, command(args...))
}

// checkNoCrash fails on anything in stderr that looks like a crash or a
// race report.
func checkNoCrash(t *testing.T, stderr string) {
	t.Helper()
	for _, bad := range []string{"panic", "goroutine ", "runtime error", "DATA RACE", "SIGSEGV", "fatal error"} {
		if strings.Contains(stderr, bad) {
			t.Fatalf("stderr looks like a crash (%q):\n%s", bad, stderr)
		}
	}
}

// TestBadInvocation: each mistake gives one clear line on stderr, nothing
// on stdout, and a non-zero exit: 2 for the caller's mistakes in flags and
// arguments, 3 for a root that cannot be read (pgrep's codes; 1 is an
// empty selection, TestExitCodes).
func TestBadInvocation(t *testing.T) {
	empty := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--proc-root", "/nonexistent"}, 3, "proc root /nonexistent: stat /nonexistent: no such file or directory"},
		{[]string{"--proc-root", empty}, 3, "not a proc filesystem: no stat file and no process directories"},
		{[]string{"--proc-root", "/etc/passwd", "--json"}, 3, "not a proc filesystem: not a directory"},
		{[]string{"--proc-root", "/proc/self", "ps"}, 3, "a directory inside a proc filesystem, not its root"},
		{[]string{"--proc-root", "/sys"}, 3, "not a proc filesystem"},
		{[]string{"show", "4194303"}, 1, "no such process: 4194303"}, // the largest pid a kernel gives
		// Above it no process can be: a usage error, not "no such process" (tester14).
		{[]string{"show", "99999999999"}, 2, "show: 99999999999 is not a pid (at most 4194303, the kernel's limit)"},
		{[]string{"show", "4194305"}, 2, "show: 4194305 is not a pid (at most 4194303, the kernel's limit)"},
		{[]string{"explain", "99999999999"}, 2, "explain: 99999999999 is not a pid (at most 4194303, the kernel's limit)"},
		{[]string{"ps", "--pid", "1,4194305"}, 2, "4194305 is not a pid (at most 4194303, the kernel's limit)"},
		{[]string{"orphans", "--observe", "-1s"}, 2, "--observe must not be negative"}, // tester11 T2: it was taken
		{[]string{"ps", "--passwd-file", ""}, 2, "--passwd-file: an empty value"},      // tester11 T6: it was taken as no flag
		{[]string{"ps", "--rootfs", ""}, 2, "--rootfs: an empty value"},
		{[]string{"--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"--pid", "abc"}, 2, `invalid argument "abc" for "--pid" flag`},
		{[]string{"--state", "Q"}, 2, "--state: unknown state letter 'Q'"},
		{[]string{"ps", "extra"}, 2, `unknown command "extra" for "pinspect ps"`},
		{[]string{"nosuchcommand"}, 2, `unknown command "nosuchcommand" for "pinspect"`},
		{[]string{"completion", "tcsh"}, 2, `unknown command "tcsh" for "pinspect completion"`},
		{[]string{"--proc-root"}, 2, "flag needs an argument"},
		// An argument with an escape sequence is quoted inertly.
		{[]string{"--proc-root", "/x\x1b]0;pwn\x07\n"}, 3, "proc root /x?]0;pwn??: stat"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := pinspect(t, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, c.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
			if !strings.HasPrefix(r.stderr, "pinspect: ") || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q, want one line with %q", r.stderr, c.want)
			}
			checkTerminalSafe(t, r.stderr)
		})
	}
}

// TestOutputToDevFull: a write error is reported and the exit is 3.
func TestOutputToDevFull(t *testing.T) {
	for _, args := range [][]string{{"--json"}, {"ps"}, {"ps", "--json"}} {
		full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
		if err != nil {
			t.Skip(err)
		}
		cmd := command(append(args, "--proc-root", hostileRoot)...)
		cmd.Stdout = full
		r := runCmd(t, cmd)
		full.Close()
		if r.code != exitError || !strings.Contains(r.stderr, "pinspect: writing output: ") || !strings.Contains(r.stderr, "no space left on device") {
			t.Errorf("%v > /dev/full: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

// TestClosedPipe is `pinspect --json | head -c 10` (the reader goes away
// after 10 bytes) and `pinspect ps | true` (the reader is gone before the
// first write). pinspect stops quietly with the shell's SIGPIPE status
// (killed by SIGPIPE, or exit 141): non-zero, nothing on stderr.
func TestClosedPipe(t *testing.T) {
	for _, c := range []struct {
		args []string
		head int // bytes read before closing; 0: closed at once
	}{{[]string{"--json"}, 10}, {[]string{"ps"}, 10}, {[]string{"--json"}, 0}, {[]string{"ps"}, 0}} {
		if c.head > 0 && countProcs(t) < 100 {
			continue // the output might fit in the pipe and never meet the close
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		// A one-page pipe: the output does not fit, so pinspect writes
		// after the reader is gone.
		if _, err := unix.FcntlInt(pw.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
			t.Fatal(err)
		}
		if c.head == 0 {
			pr.Close()
		}
		done := make(chan error, 1)
		go func() {
			if c.head == 0 {
				done <- nil
				return
			}
			_, err := io.ReadFull(pr, make([]byte, c.head))
			pr.Close()
			done <- err
		}()
		cmd := command(c.args...)
		cmd.Stdout = pw
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		err = cmd.Wait()
		r := result{stderr: errb.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				r.signal = ws.Signal()
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("%v: reading the first %d bytes: %v", c.args, c.head, err)
		}
		t.Logf("%v | head -c %d: exit %d, signal %v", c.args, c.head, r.code, r.signal)
		checkNoCrash(t, r.stderr)
		if r.stderr != "" {
			t.Errorf("%v | head -c %d: stderr %q, want nothing", c.args, c.head, r.stderr)
		}
		if r.signal != syscall.SIGPIPE && r.code != exitPipe {
			t.Errorf("%v | head -c %d: exit %d signal %v, want SIGPIPE or %d", c.args, c.head, r.code, r.signal, exitPipe)
		}
	}
}

// hostileRoot is the hostile fixture tree.
var hostileRoot = filepath.Join("..", "..", "fixtures", "proc", "hostile")

// TestWatchInterruptExits130: Ctrl-C (SIGINT) ends watch with status 130
// (128 + 2), not 0, so a script can tell it was stopped.
func TestWatchInterruptExits130(t *testing.T) {
	cmd := command("watch", "--interval", "100ms", "--no-connector", "--proc-root", fixtureRoot+"lifecycle")
	var errOut lockedBuffer
	cmd.Stderr = &errOut
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lifePoll(t, "watch to start", func() bool { return strings.Contains(errOut.String(), "pinspect watch:") })
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("watch after SIGINT: %v, want exit status 130; stderr %q", err, errOut.String())
	}
	checkNoCrash(t, errOut.String())
}
