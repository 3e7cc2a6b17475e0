//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestWatchStopPrintsLastEvents: watch stopped by SIGINT or SIGTERM
// prints the events since its last tick before it ends (a last frame, as
// record and serve take): an `exit 7` between the first frame and the
// signal, with --interval 1h, was never printed. The status stays 128 +
// the signal.
func TestWatchStopPrintsLastEvents(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { testWatchStopPrints(t, sig) })
	}
}

func testWatchStopPrints(t *testing.T, sig syscall.Signal) {
	cmd := command("watch", "--json", "--interval", "1h", "--types", "exit")
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lifePoll(t, "watch to start", func() bool { return strings.Contains(errb.String(), "pinspect watch:") })
	if strings.Contains(errb.String(), "polling every interval") {
		t.Skipf("no kernel process events here: %s", errb.String())
	}
	short := exec.Command("sh", "-c", "exit 7")
	if err := short.Run(); err == nil {
		t.Fatal("sh -c 'exit 7' exited 0")
	}
	pid := short.Process.Pid
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
		t.Errorf("watch after %s: %v, want exit status %d; stderr %q", sig, err, 128+int(sig), errb.String())
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e struct {
			Type string `json:"type"`
			PID  int    `json:"pid"`
			Exit *struct {
				Exited bool `json:"exited"`
				Code   int  `json:"code"`
			} `json:"exit"`
		}
		if l == "" || json.Unmarshal([]byte(l), &e) != nil {
			continue
		}
		if e.Type == "exit" && e.PID == pid && e.Exit != nil && e.Exit.Exited && e.Exit.Code == 7 {
			found = true
		}
	}
	if !found {
		t.Errorf("the exit of %d (exit 7) not printed before watch ended; stdout:\n%s\nstderr:\n%s", pid, out.String(), errb.String())
	}
	checkNoCrash(t, errb.String())
}
