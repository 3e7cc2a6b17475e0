package monitor

import (
	"os"
	"runtime"
	"testing"
)

// The main goroutine keeps the process's main thread (locked in init,
// before main runs) and runs the functions onMainThread is given there;
// the tests run on other goroutines.
func init() { runtime.LockOSThread() }

// mainThread takes the functions to run on the main thread.
var mainThread = make(chan func())

// onMainThread runs f on the process's main thread (tid == pid) and
// returns when it has.
func onMainThread(f func()) {
	done := make(chan struct{})
	mainThread <- func() { f(); close(done) }
	<-done
}

func TestMain(m *testing.M) {
	exit := make(chan int, 1)
	go func() { exit <- m.Run() }()
	for {
		select {
		case f := <-mainThread:
			f()
		case code := <-exit:
			os.Exit(code)
		}
	}
}
