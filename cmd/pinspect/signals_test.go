//go:build linux

package main

import (
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
)

// TestSignalRepeatIsOneRequest: timeout(1) sends its signal to the child
// and then to the child's process group, so pinspect can get SIGTERM twice
// at once; the second was taken for "exit at once" (serve exited 143, not
// 0, in about 2 of 5 runs under `timeout`, and a recorder lost its last
// sample: tester14). The same signal within signalRepeat of the first is
// one request; another signal still exits at once, with the first's
// status. The handler is driven through an unbuffered channel (each send
// returns once it took the signal), so no kernel merging of pending
// signals can hide the second, and forceExit is stubbed.
func TestSignalRepeatIsOneRequest(t *testing.T) {
	var mu sync.Mutex
	var exits []int
	old := forceExit
	forceExit = func(code int) {
		mu.Lock()
		exits = append(exits, code)
		mu.Unlock()
	}
	t.Cleanup(func() { forceExit = old })
	for _, c := range []struct {
		name string
		sigs []os.Signal
		want []int
	}{
		{"the same signal twice at once", []os.Signal{syscall.SIGTERM, syscall.SIGTERM}, nil},
		{"another signal after the first", []os.Signal{syscall.SIGTERM, syscall.SIGINT}, []int{exitSignalBase + int(syscall.SIGTERM)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			exits = nil
			mu.Unlock()
			a := &app{}
			sigs := make(chan os.Signal)
			returned := make(chan struct{})
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			done := make(chan struct{})
			go func() {
				defer close(done)
				a.handleSignals(sigs, cancel, returned)
			}()
			for _, s := range c.sigs {
				select {
				case sigs <- s:
				case <-done: // it ended (forceExit): the rest is not taken
				}
			}
			close(returned)
			<-done
			if ctx.Err() == nil {
				t.Error("the first signal did not cancel the command")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(exits) != len(c.want) || (len(exits) > 0 && exits[0] != c.want[0]) {
				t.Errorf("forceExit calls %v, want %v", exits, c.want)
			}
		})
	}
}
