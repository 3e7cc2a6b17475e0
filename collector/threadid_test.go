package collector

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestProcessOfThreadIDLive: Reader.Process of one of this test's own
// thread ids other than the main one is a ThreadIDError naming this
// process; of the pid it is the process.
func TestProcessOfThreadIDLive(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pid := os.Getpid()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	tid := 0
	for _, e := range ents {
		if n, _ := strconv.Atoi(e.Name()); n != pid && n > 0 {
			tid = n
			break
		}
	}
	if tid == 0 {
		t.Fatal("the test binary has one thread")
	}
	_, _, err = r.Process(tid)
	if te, ok := err.(*ThreadIDError); !ok || te.TID != tid || te.TGID != pid {
		t.Errorf("Process(%d): %v, want a ThreadIDError of thread %d of %d", tid, err, tid, pid)
	}
	if p, _, err := r.Process(pid); err != nil || p.PID != pid {
		t.Errorf("Process(%d): %v", pid, err)
	}
}

// TestProcessReadsStatusOnce (closing11): Reader.Process's thread-id
// check is the status read the process read makes, not a read of its
// own before it. inotify counts the opens of a fixture tree's status:
// one (two before: and the first only to be ignored in such a tree).
// (Each close is watched too: inotify merges an event into the same one
// unread before it, so two opens in a row would count one.)
func TestProcessReadsStatusOnce(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "123")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"stat":    "123 (fix) S 1 123 123 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 1000 10000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		"status":  "Name:\tfix\nState:\tS (sleeping)\nTgid:\t99\nPid:\t123\nPPid:\t1\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t1\nSigQ:\t0/1000\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\nVmRSS:\t2000 kB\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t2\n",
		"cmdline": "fix\x00",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := NewReader(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, "status"), unix.IN_OPEN|unix.IN_CLOSE_NOWRITE); err != nil {
		t.Skipf("inotify watch: %v", err)
	}
	p, _, err := r.Process(123)
	if err != nil || p.Read&SrcStatus == 0 {
		// A tree another program wrote: its Tgid is taken as given.
		t.Fatalf("Process(123): %v (status read %v)", err, p != nil && p.Read&SrcStatus != 0)
	}
	opens := 0
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if ev.Mask&unix.IN_OPEN != 0 {
				opens++
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
	if opens != 1 {
		t.Errorf("status opened %d times by Process, want 1", opens)
	}
}
