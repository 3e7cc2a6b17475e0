package monitor

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// TestHoldReleasesWhileBehind drives the converter with a queue that
// never empties (it converts slower than receives come, as under a fork
// storm on a starved CPU): each receive is an exec of a running sleep,
// whose lookup names it, so every batch is held. Events must reach the
// frames while the queue stays full: proved received by later events'
// stamps, or, when no stamp proves it (all stamped alike), held no
// longer than the bounds. Before, nothing was released while more than
// maxJoin receives waited, and the batches held grew without bound.
func TestHoldReleasesWhileBehind(t *testing.T) {
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	waitStat(t, pid, func(comm string, _ byte) bool { return comm == "sleep" })
	// A subscription nobody receives from: the receiver is not waiting,
	// so the hold timer proves nothing (receivedUpTo).
	k, err := dialConnector()
	if err != nil {
		t.Skip(err)
	}
	defer func() { k.close(); k.release() }()
	for _, stamped := range []string{"now", "alike"} {
		t.Run(stamped, func(t *testing.T) {
			s := newConnSource(k, newDecoder(r, false), 1<<20, func() {})
			batches := make(chan []procEvent, 1<<14)
			done := make(chan struct{})
			go func() { defer close(done); s.convertLoop(batches) }()
			first := uint64(monotonicNow())
			sent, emitted := 0, 0
			// Bounded, so a converter that never emits fails instead of
			// hanging: the bounds alone emit after maxHeld batches of up to
			// maxJoin receives.
			for sent < 20000 && emitted == 0 {
				for len(batches) < 2*maxJoin {
					ts := first
					if stamped == "now" {
						ts = uint64(monotonicNow())
					}
					if !s.queue(batches, []procEvent{{What: procEventExec, PID: pid, TGID: pid, TimestampNs: ts}}, 0) {
						t.Fatal("the queue is full")
					}
					s.received.Add(1)
					sent++
				}
				emitted = len(s.take().Events)
				time.Sleep(time.Millisecond)
			}
			close(batches)
			<-done
			if emitted == 0 {
				t.Fatalf("%d receives queued, more than %d waiting all along: none emitted", sent, maxJoin)
			}
			if k := s.take(); k.Dropped != 0 {
				t.Errorf("%d events dropped", k.Dropped)
			}
		})
	}
}
