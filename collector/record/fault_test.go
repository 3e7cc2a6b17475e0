package record

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// childEnv makes the test binary a recorder child for TestKillMidWrite.
const childEnv = "PINSPECT_RECORD_TEST_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(recorderChild(dir))
	}
	os.Exit(m.Run())
}

// fakeSample is deterministic sample i: 120 processes of 9 threads whose
// counters move, an exit event, 10 s apart.
func fakeSample(i int) *Sample {
	at := t0.Add(time.Duration(i) * 10 * time.Second)
	snap := &collector.Snapshot{TakenAt: at, Monotonic: time.Duration(i) * 10 * time.Second, ThreadsRead: true,
		Host: collector.Host{Hostname: "h", CPUs: 2, CPUTicks: uint64(1000 * i)}}
	for p := range 120 {
		pr := collector.Process{PID: 1000 + p, Read: collector.SrcStat | collector.SrcStatus | collector.SrcTasks,
			ProcStat: collector.ProcStat{StartTicks: uint64(p), Comm: fmt.Sprintf("worker-%d", p%17), State: 'S', PPID: 1,
				UTimeTicks: uint64(i * p % 97), NumThreads: 9},
			ProcStatus:  collector.ProcStatus{RSSBytes: uint64(4096 * (p + i)), HasRSS: true},
			ProcCmdline: collector.ProcCmdline{Cmdline: []string{"/usr/bin/worker", "--id", strconv.Itoa(p)}}}
		for t := range 9 {
			pr.Threads = append(pr.Threads, collector.Thread{TID: 1000 + p + t*10000, Comm: "w", State: 'S',
				HasStatus: true, VolCtx: uint64(i * t), UTimeTicks: uint64(i * t / 3)})
		}
		snap.Processes = append(snap.Processes, pr)
	}
	return &Sample{RunID: 9, Interval: 10 * time.Second, Snapshot: snap, Events: []lifecycle.Event{
		{Type: lifecycle.Exit, Time: at, ID: collector.ID{PID: 50000 + i, StartTicks: 1}, Comm: "short", Source: lifecycle.SourceConnector,
			ExitStatus: &collector.ExitStatus{Exited: true, Code: i % 3}},
	}}
}

// killAfter is how many samples the child writes whole before it stops
// in the middle of the next one.
const killAfter = 7

// recorderChild writes samples, says "ok N" after each, and stops inside
// the write of sample killAfter+1 (after its first half), saying "mid".
func recorderChild(dir string) int {
	n := 0
	opts := WriterOptions{KeyframeEvery: 3}
	opts.midWrite = func() {
		if n == killAfter {
			fmt.Println("mid")
			time.Sleep(time.Hour)
		}
	}
	w, err := OpenWriter(dir, opts)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	for i := 0; ; i++ {
		if err := w.Append(fakeSample(i)); err != nil {
			fmt.Println("error", err)
			return 1
		}
		n++
		fmt.Println("ok", n)
	}
}

// TestKillMidWrite: a recorder killed with SIGKILL in the middle of
// writing a record; the store opens with every sample written before,
// and the next recorder cuts the torn record off and carries on.
func TestKillMidWrite(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	written := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ok ") {
			written, _ = strconv.Atoi(strings.TrimPrefix(line, "ok "))
			continue
		}
		if line == "mid" {
			break
		}
		t.Fatalf("child: %s", line)
	}
	// A reader sees the recorder at work (its lock), and after the kill
	// no more: the kernel dropped the lock with the process
	// (recorderWriting, which ends events pages short of the live end).
	if !recorderWriting(dir) {
		t.Error("a recorder process writes the record, and a reader does not see it")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if recorderWriting(dir) {
		t.Error("the recorder was killed, and a reader still sees it writing")
	}
	if written != killAfter {
		t.Fatalf("child wrote %d samples before the torn one, want %d", written, killAfter)
	}
	var want []*Sample
	for i := range written {
		s := fakeSample(i)
		s.Seq = uint64(i + 1)
		want = append(want, s)
	}
	st := checkAll(t, dir, want)
	if p := st.Problems(); len(p) != 1 || !strings.Contains(p[0], "not a whole record") {
		t.Errorf("problems after the kill: %q, want the torn record", p)
	}

	w, err := OpenWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	more := fakeSample(100)
	if err := w.Append(more); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if more.Seq != killAfter+1 {
		t.Errorf("the next recorder's first sample has seq %d, want %d", more.Seq, killAfter+1)
	}
	st2 := checkAll(t, dir, append(want, more))
	if p := st2.Problems(); len(p) != 0 {
		t.Errorf("problems after recovery: %q", p)
	}
}

// mountTmpfs mounts a small tmpfs (root only), unmounted at cleanup.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Skipf("mount -t tmpfs -o %s: %v", opts, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// TestDiskFull: samples that do not fit fail with ENOSPC and leave the
// store as it was; their events wait for the next sample that fits.
func TestDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, "size=128k")
	dir := filepath.Join(mnt, "rec")
	w, err := OpenWriter(dir, WriterOptions{KeyframeEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var want []*Sample
	var failed []int
	for i := 0; len(failed) < 3; i++ {
		if i > 1000 {
			t.Fatal("a 256 KiB tmpfs never filled")
		}
		s := fakeSample(i)
		err := w.Append(s)
		if err == nil {
			if len(failed) > 0 {
				t.Fatalf("sample %d fitted after one did not (sizes vary?)", i)
			}
			want = append(want, s)
			continue
		}
		if !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("sample %d: %v, want ErrWrite and ENOSPC", i, err)
		}
		failed = append(failed, i)
	}
	if len(want) == 0 {
		t.Fatal("no sample fitted")
	}
	if w.Pending() != len(failed) {
		t.Errorf("%d events pending after %d failed samples", w.Pending(), len(failed))
	}
	checkAll(t, dir, want)

	// Room again: the next sample carries the failed samples' events.
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_REMOUNT, "size=16m"); err != nil {
		t.Fatal(err)
	}
	next := fakeSample(500)
	if err := w.Append(next); err != nil {
		t.Fatal(err)
	}
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Read(st.Len() - 1)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range got.Events {
		pids = append(pids, e.ID.PID-50000)
	}
	if fmt.Sprint(pids) != fmt.Sprint(append(failed, 500)) {
		t.Errorf("events of the sample after the disk filled: %v, want %v then 500", pids, failed)
	}
}

// TestReadOnlyDir: a recorder cannot start on a read-only directory (a
// clear error); the record there stays readable.
func TestReadOnlyDir(t *testing.T) {
	mnt := mountTmpfs(t, "size=16m")
	dir := filepath.Join(mnt, "rec")
	w, err := OpenWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []*Sample{fakeSample(0), fakeSample(1)}
	for _, s := range want {
		if err := w.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	_, err = OpenWriter(dir, WriterOptions{})
	if err == nil || !strings.Contains(err.Error(), "not writable") || !errors.Is(err, syscall.EROFS) {
		t.Fatalf("writer on a read-only directory: %v", err)
	}
	checkAll(t, dir, want)
}

// TestFailedSyncNotCutBackKeepsSequence: when fdatasync fails after a
// record was written and the file cannot be cut back either, the record
// stays on disk, whole, and its sequence number is used: the next
// sample takes the one after (it took the same one, and the reader
// refused it as repeating the sample before it).
func TestFailedSyncNotCutBackKeepsSequence(t *testing.T) {
	dir := t.TempDir()
	failing := false
	opts := WriterOptions{Sync: SyncEachSample}
	opts.syncData = func(f *os.File) error {
		if failing {
			return syscall.EIO
		}
		return f.Sync()
	}
	opts.cutBack = func(f *os.File, n int64) error {
		if failing {
			return syscall.EIO
		}
		return f.Truncate(n)
	}
	w, err := OpenWriter(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		failing = i == 2
		err := w.Append(fakeSample(i))
		if failing != (err != nil) {
			t.Fatalf("sample %d: Append: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if p := st.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	var seqs []uint64
	for i := range st.Len() {
		s, err := st.Read(i)
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		seqs = append(seqs, s.Seq)
	}
	// The failed sample's record is whole on disk (sequence number 3).
	if fmt.Sprint(seqs) != "[1 2 3 4 5]" {
		t.Errorf("sequence numbers %v, want [1 2 3 4 5]", seqs)
	}
}
