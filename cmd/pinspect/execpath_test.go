package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/views/report"
)

// TestWatchNameMatchesExecPath: watch --name finds a program that execs
// and ends at once by the path its exec was given, which no scan read:
// a link to sh whose name is longer than a comm's 15 bytes (--name the
// part past them; its exe is sh, the link resolved), and a script whose
// #! names an interpreter (--name the interpreter's name, which is
// neither the script's comm nor, a link again, its exe). Every exit is
// printed with its code and the path, never as exe. Before the BPF exec
// record carried the path, watch printed none of them (their comm does
// not hold the name, and their exe is sh).
func TestWatchNameMatchesExecPath(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	pid := strconv.Itoa(os.Getpid())
	dir := t.TempDir()

	t.Run("long name", func(t *testing.T) {
		needle := "longtail" + pid
		prog := dir + "/xpathxxxxxxxxxx-" + needle // comm: its first 15 bytes
		if err := os.Symlink(sh, prog); err != nil {
			t.Fatal(err)
		}
		watchExecPathExits(t, needle, func(code int) *exec.Cmd {
			return exec.Command(prog, "-c", "exit "+strconv.Itoa(code))
		}, func(e *report.EventDoc) bool { return e.ExecPath == prog && e.ExecInterp == "" })
	})
	t.Run("script", func(t *testing.T) {
		needle := "interp" + pid
		interp := dir + "/" + needle
		if err := os.Symlink(sh, interp); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/job.sh", []byte("#!"+interp+"\nexit \"$1\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		watchExecPathExits(t, needle, func(code int) *exec.Cmd {
			cmd := exec.Command("./job.sh", strconv.Itoa(code))
			cmd.Dir = dir
			return cmd
		}, func(e *report.EventDoc) bool { return e.ExecPath == "./job.sh" && e.ExecInterp == interp })
	})
}

// watchExecPathExits holds watch to each exit of start's programs:
// printed with its code and an exec path pathOK accepts, the needle in
// no exe.
func watchExecPathExits(t *testing.T, needle string, start func(code int) *exec.Cmd, pathOK func(*report.EventDoc) bool) {
	t.Helper()
	watchShortExits(t, needle, 5, start, "an exit code and the exec path, the path not as exe", func(e *report.EventDoc) bool {
		return pathOK(e) && !strings.Contains(e.Exe, needle)
	})
}

// watchShortExits runs watch --json --name needle (exits only) on the
// BPF tracepoints (it skips without them: the connector cannot name a
// process gone before its lookup, nor give its exec path) while start's
// programs exit at once with codes 1 to n, and checks that each exit is
// printed once, with its code, and that ok (want says what it wants)
// holds for each.
func watchShortExits(t *testing.T, needle string, n int, start func(code int) *exec.Cmd, want string, ok func(*report.EventDoc) bool) {
	t.Helper()
	var out, errOut lockedBuffer
	done := make(chan int)
	go func() {
		done <- run([]string{"watch", "--json", "--interval", "200ms", "--types", "exit,lost", "--name", needle,
			"--count", strconv.Itoa(n), "--duration", "20s"}, &out, &errOut)
	}()
	lifePoll(t, "watch to start", func() bool { return strings.Contains(errOut.String(), "pinspect watch:") })
	if !strings.Contains(errOut.String(), "kernel process events (BPF tracepoints") {
		<-done
		t.Skipf("no BPF tracepoints: %s", errOut.String())
	}
	for code := 1; code <= n; code++ {
		if cmd := start(code); cmd.Run() == nil {
			t.Fatalf("%v (exit %d) exited 0", cmd.Args, code)
		}
	}
	if code := <-done; code != 0 {
		t.Fatalf("watch exit %d (want %d exits printed): stdout %q, stderr %q", code, n, out.String(), errOut.String())
	}
	seen := map[int]int{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e report.EventDoc
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("bad NDJSON line %q: %v", line, err)
		}
		if e.Type == "lost" {
			t.Skipf("the kernel dropped events: %s", line)
		}
		if e.Exit == nil || !e.Exit.Exited || !ok(&e) {
			t.Errorf("exit event %s: want %s", line, want)
			continue
		}
		seen[e.Exit.Code]++
	}
	for code := 1; code <= n; code++ {
		if seen[code] != 1 {
			t.Errorf("exit %d printed %d times, want once (stdout %q)", code, seen[code], out.String())
		}
	}
}
