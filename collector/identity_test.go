package collector

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
	"golang.org/x/sys/unix"
)

// TestIdentitySelf: the identity of this test process agrees with a
// snapshot's reading of it, and its exe is the test binary.
func TestIdentitySelf(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Skip(err)
	}
	defer r.Close()
	pid := os.Getpid()
	id, err := r.Identity(pid, true)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := r.Process(pid)
	if err != nil {
		t.Fatal(err)
	}
	if id.PID != pid || id.StartTicks != p.StartTicks || id.Comm != p.Comm || id.PPID != os.Getppid() ||
		id.PGID != p.PGID || id.SID != p.SID || id.State == 0 || id.NumThreads < 1 {
		t.Errorf("identity %+v, process start %d comm %q pgid %d sid %d", id, p.StartTicks, p.Comm, p.PGID, p.SID)
	}
	if id.ID() != p.ID() {
		t.Errorf("ID %v, want %v", id.ID(), p.ID())
	}
	self, _ := os.Executable()
	if id.Exe != self || id.ExeDeleted || id.ExeErr != nil || id.Exe != p.Exe {
		t.Errorf("exe %q deleted %v err %v, want %q (the scan read %q)", id.Exe, id.ExeDeleted, id.ExeErr, self, p.Exe)
	}
	if id, err := r.Identity(pid, false); err != nil || id.Exe != "" {
		t.Errorf("without exe: %q %v", id.Exe, err)
	}
}

// TestIdentityDeletedExe: a process whose executable was deleted has the
// path without the kernel's mark and ExeDeleted, as a scan and an address
// space say.
func TestIdentityDeletedExe(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Skip(err)
	}
	defer r.Close()
	bin := filepath.Join(t.TempDir(), "pinspect-deleted")
	src, err := os.Open(livehelper.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dst.Close()
	cmd := exec.Command(bin, "threads", "1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var line [64]byte
	if _, err := out.Read(line[:]); err != nil { // its ready line
		t.Fatal(err)
	}
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	id, err := r.Identity(pid, true)
	if err != nil {
		t.Fatal(err)
	}
	if id.Exe != bin || !id.ExeDeleted {
		t.Errorf("exe %q deleted %v, want %q deleted", id.Exe, id.ExeDeleted, bin)
	}
	p, _, err := r.Process(pid)
	if err != nil || p.Exe != bin || !p.ExeDeleted {
		t.Errorf("scan: exe %q deleted %v (%v)", p.Exe, p.ExeDeleted, err)
	}
	as, err := r.AddressSpace(pid, AddrOptions{})
	if err != nil || as.Exe != bin {
		t.Errorf("address space: exe %q (%v)", as.Exe, err)
	}
}

// TestIdentities: a batch answers each query in order, threads included;
// a pid that does not exist is vanished and does not disturb the others;
// a thread's exit is seen as its task vanishing.
func TestIdentities(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Skip(err)
	}
	defer r.Close()
	h := livehelper.Start(t, "threads", "3")
	if len(h.TIDs) == 0 {
		t.Fatal("no worker threads")
	}
	const gone = 1 << 22
	qs := []IdentityQuery{
		{PID: h.PID(), Exe: true},
		{PID: gone, Exe: true},
		{PID: h.PID(), TID: h.TIDs[0]},
		{PID: h.PID(), TID: gone},
		{PID: os.Getpid()},
	}
	res := r.Identities(qs, nil)
	if len(res) != len(qs) {
		t.Fatalf("%d results for %d queries", len(res), len(qs))
	}
	if res[0].Err != nil || res[0].PID != h.PID() || res[0].Comm != "procshape" || res[0].NumThreads != 3 ||
		filepath.Base(res[0].Exe) != "procshape" {
		t.Errorf("helper: %+v", res[0])
	}
	if !IsVanished(res[1].Err) || res[1].PID != gone {
		t.Errorf("missing pid: %+v, want vanished", res[1])
	}
	if res[2].Err != nil || res[2].PID != h.TIDs[0] || res[2].StartTicks < res[0].StartTicks || res[2].Exe != "" {
		t.Errorf("thread: %+v", res[2])
	}
	var re *ReadError
	if !IsVanished(res[3].Err) || !errors.As(res[3].Err, &re) || re.File != "task/"+strconv.Itoa(gone)+"/stat" {
		t.Errorf("missing thread: %+v, want vanished task/%d/stat", res[3], gone)
	}
	if res[4].Err != nil || res[4].PID != os.Getpid() {
		t.Errorf("self: %+v", res[4])
	}
}

// TestIdentityBlockingFile: an identity lookup reads stat as a scan does,
// opened without blocking: a stat that would block (a FIFO with no
// writer, standing for a read stuck in the kernel) is an error at once,
// not a hang, the lookup after it still works, and nothing is left stuck.
// (On /proc neither stat nor the exe link takes a lock the target can
// hold: the lookups read them on the caller's goroutine.)
func TestIdentityBlockingFile(t *testing.T) {
	root := copyTree(t)
	addProcess(t, root, 400, nil)
	addProcess(t, root, 401, nil)
	fifo := filepath.Join(root, "400", "stat")
	if err := os.Remove(fifo); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { releaseFIFO(fifo) })
	r, err := NewReader(Options{Root: root, ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan []IdentityResult, 1)
	go func() { done <- r.Identities([]IdentityQuery{{PID: 400}, {PID: 401}}, nil) }()
	var res []IdentityResult
	select {
	case res = <-done:
	case <-time.After(time.Minute):
		t.Fatal("an identity lookup hung on a stat that blocks")
	}
	if res[0].Err == nil {
		t.Errorf("blocking stat: %+v, want an error", res[0])
	}
	if res[1].Err != nil || res[1].PID != 401 || res[1].StartTicks == 0 {
		t.Errorf("the next lookup: %+v", res[1])
	}
	if r.StuckReads() != 0 {
		t.Errorf("stuck reads %d, want 0", r.StuckReads())
	}
}

// TestIdentityClosed: a closed Reader answers ErrClosed.
func TestIdentityClosed(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Skip(err)
	}
	r.Close()
	if _, err := r.Identity(os.Getpid(), false); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
