package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/record"
)

// recording is a `pinspect record --interval 1h` a test runs: its scans
// are the first sample's and, at stop, the last frame's.
type recording struct {
	cmd  *exec.Cmd
	errb *lockedBuffer
	done chan error
}

// startRecording starts `pinspect record` into dir and waits for its
// first sample and its event source's log line; it is killed at the
// test's end unless stopped.
func startRecording(t *testing.T, dir string) *recording {
	t.Helper()
	r := &recording{cmd: command("record", "--dir", dir, "--interval", "1h", "--fsync", "none"), errb: &lockedBuffer{}}
	r.cmd.Stderr = r.errb
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.done = make(chan error, 1)
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() { _ = r.cmd.Process.Kill(); <-r.done })
	waitedFor(t, "record's first sample and its event source", func() bool {
		st, err := record.Open(dir)
		if err != nil {
			return false
		}
		n := st.Len()
		st.Close()
		return n >= 1 && strings.Contains(r.errb.String(), "live=")
	})
	return r
}

// stop ends the recording with SIGTERM (its last frame scans and takes
// the kernel's events) and waits for it to exit 0 (30 s at most).
func (r *recording) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("record after SIGTERM: %v; stderr:\n%s", err, r.errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("record did not exit within 30 s of SIGTERM; stderr:\n%s", r.errb.String())
	}
}
