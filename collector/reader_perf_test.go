package collector

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

func findProc(s *Snapshot, pid int) *Process {
	for i := range s.Processes {
		if s.Processes[i].PID == pid {
			return &s.Processes[i]
		}
	}
	return nil
}

// TestScanThreadPIDs reads threads for one selected process only.
func TestScanThreadPIDs(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Skip(err)
	}
	a := livehelper.Start(t, "threads", "4")
	b := livehelper.Start(t, "threads", "3")
	s, err := r.Scan(context.Background(), ScanOptions{ThreadPIDs: []int{a.PID(), 1 << 22}})
	if err != nil {
		t.Fatal(err)
	}
	if s.ThreadsRead {
		t.Fatal("ThreadsRead with threads of one process read")
	}
	pa, pb := findProc(s, a.PID()), findProc(s, b.PID())
	if pa == nil || pb == nil {
		t.Fatal("helpers not in the snapshot")
	}
	if pa.Read&SrcTasks == 0 || len(pa.Threads) != 4 || pa.Threads[0].TID != a.PID() {
		t.Fatalf("selected process: read %b, %d threads", pa.Read, len(pa.Threads))
	}
	if pb.Read&SrcTasks != 0 || pb.Threads != nil {
		t.Fatalf("unselected process has threads: read %b, %d threads", pb.Read, len(pb.Threads))
	}
	for i := range s.Processes {
		p := &s.Processes[i]
		if p.PID != a.PID() && p.Threads != nil {
			t.Fatalf("pid %d has threads but was not selected", p.PID)
		}
	}
}

// TestScanScope: with a Scope, threads are read for the scoped processes
// alone, and the snapshot says so as a full thread read would: threads
// read, whole-process totals never leader-only. The other processes are
// still in the snapshot, without threads.
func TestScanScope(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Skip(err)
	}
	defer r.Close()
	a := livehelper.Start(t, "threads", "4")
	b := livehelper.Start(t, "threads", "3")
	s, err := r.Scan(context.Background(), ScanOptions{Threads: true, Scope: []int{a.PID()}})
	if err != nil {
		t.Fatal(err)
	}
	if !s.ThreadsRead || s.CtxSwitchSource == CtxLeaderOnly {
		t.Errorf("ThreadsRead %v, source %q: want true, not leader_only", s.ThreadsRead, s.CtxSwitchSource)
	}
	pa, pb := findProc(s, a.PID()), findProc(s, b.PID())
	if pa == nil || pb == nil {
		t.Fatal("helpers not in the snapshot")
	}
	if pa.Read&SrcTasks == 0 || len(pa.Threads) != 4 || pa.CtxSource == CtxLeaderOnly {
		t.Errorf("scoped process: read %b, %d threads, source %q", pa.Read, len(pa.Threads), pa.CtxSource)
	}
	if pb.Read&SrcTasks != 0 || pb.Threads != nil {
		t.Errorf("process outside the scope has threads: read %b, %d threads", pb.Read, len(pb.Threads))
	}
}

// TestThreadsDoNotOverlap: threads of different processes are cut from a
// shared slab; appending to one process's threads must not touch the
// next process's.
func TestThreadsDoNotOverlap(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Skip(err)
	}
	a := livehelper.Start(t, "threads", "3")
	b := livehelper.Start(t, "threads", "3")
	s, err := r.SnapshotThreads(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := findProc(s, a.PID()), findProc(s, b.PID())
	if pa == nil || pb == nil || len(pa.Threads) != 3 || len(pb.Threads) != 3 {
		t.Fatal("helpers or their threads missing")
	}
	before := pb.Threads[0]
	_ = append(pa.Threads, Thread{TID: -1})
	if pb.Threads[0] != before {
		t.Fatal("appending to one process's threads overwrote another's")
	}
}

// TestCmdlineCache: cmdline and exe are reused between snapshots of one
// Reader while comm is unchanged (once the process is older than
// youngAge), and read again after an exec changes comm.
func TestCmdlineCache(t *testing.T) {
	r, err := NewReader(Options{CmdlineTTL: time.Hour})
	if err != nil {
		t.Skip(err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cmd := exec.Command(sh, "-c", "read x; exec sleep 300", "pinspect-cache-test")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	ctx := context.Background()
	// Wait for the shell itself (not the forked, not yet exec'd child).
	// A scan of the whole machine can take seconds under the load of a
	// shared test machine: the deadline is generous, and a miss says what
	// was seen.
	var first *Process
	deadline := time.Now().Add(2 * time.Minute)
	for scans := 1; ; scans++ {
		s, err := r.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p := findProc(s, pid)
		// Past youngAge: a younger process's cmdline is read every scan.
		if p != nil && len(p.Cmdline) > 2 && p.Cmdline[1] == "-c" && s.TakenAt.Sub(p.StartedAt) > youngAge {
			first = p
			break
		}
		if time.Now().After(deadline) {
			if p == nil {
				t.Fatalf("shell never seen in %d scans: pid %d not listed", scans, pid)
			}
			t.Fatalf("shell never seen in %d scans: pid %d is comm %q, cmdline %q, the scan's problems %v", scans, pid, p.Comm, p.Cmdline, s.Problems)
		}
		livehelper.Sleep()
	}
	s, err := r.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again := findProc(s, pid)
	if again == nil || again.Comm != first.Comm {
		t.Fatalf("shell changed before the exec: %+v", again)
	}
	if &again.Cmdline[0] != &first.Cmdline[0] || again.Exe != first.Exe {
		t.Error("cmdline not reused from the cache while comm was unchanged")
	}
	io.WriteString(in, "go\n")
	for {
		s, err := r.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p := findProc(s, pid)
		if p != nil && p.Comm == "sleep" {
			if len(p.Cmdline) != 2 || p.Cmdline[0] != "sleep" || filepath.Base(p.Exe) != "sleep" {
				t.Fatalf("after exec: cmdline %q exe %q, want the new program's", p.Cmdline, p.Exe)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("exec never seen")
		}
		livehelper.Sleep()
	}
}

// TestCmdlineCacheOff: a negative TTL reads cmdline every time.
func TestCmdlineCacheOff(t *testing.T) {
	r, err := NewReader(Options{CmdlineTTL: -1})
	if err != nil {
		t.Skip(err)
	}
	h := livehelper.Start(t, "threads", "1")
	p1, _, err := r.Process(h.PID())
	if err != nil {
		t.Fatal(err)
	}
	p2, _, err := r.Process(h.PID())
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Cmdline) == 0 || &p1.Cmdline[0] == &p2.Cmdline[0] {
		t.Fatal("cmdline shared with the cache turned off")
	}
}

// TestReadSeqAtLarge: a file longer than the first read falls back to the
// growing read and comes back whole; a short one comes back in one read.
func TestReadSeqAtLarge(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("VmPeak:\t  226204 kB\n"), 1000)
	if err := os.WriteFile(dir+"/big", big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/small", []byte("1 (a) S 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/empty", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for name, want := range map[string][]byte{"big": big, "small": []byte("1 (a) S 0\n"), "empty": {}} {
		data, trunc, err := readSeqAt(append([]byte(dir+"/"+name), 0), &buf, statusMax)
		if err != nil || trunc || !bytes.Equal(data, want) {
			t.Fatalf("%s: %d bytes trunc %v err %v, want %d bytes", name, len(data), trunc, err, len(want))
		}
	}
	data, trunc, err := readSeqAt(append([]byte(dir+"/big"), 0), &buf, 8192)
	if err != nil || !trunc || len(data) != 8192 {
		t.Fatalf("capped: %d bytes trunc %v err %v", len(data), trunc, err)
	}
	if _, _, err := readSeqAt(append([]byte(dir+"/missing"), 0), &buf, 8192); !IsVanished(err) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestCommInterned: equal comms of different threads share one string,
// and thread comms stay right when they differ from the process's.
func TestCommInterned(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Skip(err)
	}
	h := livehelper.Start(t, "threads", "3")
	p, _, err := r.Process(h.PID())
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range p.Threads[1:] {
		if !strings.HasPrefix(th.Comm, "worker-") {
			t.Fatalf("thread %d comm %q, want worker-*", th.TID, th.Comm)
		}
	}
	if p.Threads[0].Comm != p.Comm {
		t.Fatalf("leader comm %q, process comm %q", p.Threads[0].Comm, p.Comm)
	}
}

// TestSingleThreadShortcut: the thread of a single-threaded process, read
// without listing task/, is what task/PID/stat says.
func TestSingleThreadShortcut(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Skip(err)
	}
	h := livehelper.Start(t, "comm", "pinspect-1thr")
	// The helper may still be running just after its ready line: wait
	// until it sleeps for good, so that the two reads below agree.
	waitFor(t, "the helper to sleep", func() bool {
		id, err := r.Identity(h.PID(), false)
		return err == nil && id.State == 'S'
	})
	p, _, err := r.Process(h.PID())
	if err != nil {
		t.Fatal(err)
	}
	if p.NumThreads != 1 || len(p.Threads) != 1 || p.Read&SrcTasks == 0 {
		t.Fatalf("num_threads %d, %d thread rows, read %b", p.NumThreads, len(p.Threads), p.Read)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(h.PID()) + "/task/" + strconv.Itoa(h.PID()) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	th := p.Threads[0]
	want := Thread{TID: h.PID(), StartTicks: st.starttime, Comm: string(st.comm), State: st.state,
		UTimeTicks: st.utime, STimeTicks: st.stime, Processor: th.Processor, Priority: st.priority, Nice: st.nice,
		HasStatus: true, VolCtx: th.VolCtx, InvolCtx: th.InvolCtx, CPUDelayNs: th.CPUDelayNs}
	if th != want {
		t.Fatalf("thread %+v\nwant   %+v", th, want)
	}
	if th.VolCtx != p.LeaderVol || !th.HasStatus {
		t.Fatalf("thread switches %d, leader status %d", th.VolCtx, p.LeaderVol)
	}
	if th.Comm != "pinspect-1thr" {
		t.Fatalf("comm %q", th.Comm)
	}
}
