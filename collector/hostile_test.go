package collector

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// hostileRoot is the committed hostile fixture tree (fixtures/proc/hostile,
// described in its README.md).
const hostileRoot = "../fixtures/proc/hostile"

// snapshotOf reads one snapshot of root with threads and returns it with
// its processes by pid.
func snapshotOf(t *testing.T, opts Options) (*Snapshot, map[int]*Process) {
	t.Helper()
	r, err := NewReader(opts)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.SnapshotThreads(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	byPID := make(map[int]*Process, len(snap.Processes))
	for i := range snap.Processes {
		byPID[snap.Processes[i].PID] = &snap.Processes[i]
	}
	return snap, byPID
}

// rawComm is the comm of a fixture stat file: between the first '(' and
// the last ')'.
func rawComm(t *testing.T, root string, pid int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b[bytes.IndexByte(b, '(')+1 : bytes.LastIndexByte(b, ')')])
}

// TestHostileComm: every hostile comm is read byte for byte, the fields
// after it are right (a comm "x) Z 1 (" does not make a fake zombie
// orphan), and nothing is counted as an error.
func TestHostileComm(t *testing.T) {
	_, procs := snapshotOf(t, Options{Root: hostileRoot})
	for pid := 100; pid <= 107; pid++ {
		p := procs[pid]
		if p == nil {
			t.Errorf("pid %d missing", pid)
			continue
		}
		if want := rawComm(t, hostileRoot, pid); p.Comm != want {
			t.Errorf("pid %d: comm %q, want %q", pid, p.Comm, want)
		}
		if p.State != 'S' || p.PPID != 50 || p.IsZombie() {
			t.Errorf("pid %d (%q): state %c ppid %d, want S 50", pid, p.Comm, p.State, p.PPID)
		}
		if p.UTimeTicks != 120 || p.StartTicks != 5000 || p.Layout.EnvEnd != 140720000003000 {
			t.Errorf("pid %d: utime %d start %d env_end %d: fields after comm misparsed", pid, p.UTimeTicks, p.StartTicks, p.Layout.EnvEnd)
		}
		if len(p.Unavailable) != 0 {
			t.Errorf("pid %d: unavailable %v", pid, p.Unavailable)
		}
		if len(p.Cmdline) != 2 || p.Cmdline[0] != p.Comm || p.Cmdline[1] != "--x" {
			t.Errorf("pid %d: cmdline %q", pid, p.Cmdline)
		}
		if len(p.Threads) != 1 || p.Threads[0].Comm != p.Comm {
			t.Errorf("pid %d: threads %+v", pid, p.Threads)
		}
	}
}

// TestHostileStat: malformed stat files give a per-process reason and
// keep the process listed; odd but well-formed ones give exact values.
func TestHostileStat(t *testing.T) {
	snap, procs := snapshotOf(t, Options{Root: hostileRoot})
	bad := map[int]string{
		110: "malformed stat: no (comm)",
		111: "malformed stat: bad pid",
		112: "malformed stat: 4 fields, want at least 24",
		115: `malformed stat: field 14: bad number "99999999999999999999"`,
		// The kernel prints minflt and vsize unsigned: a negative value is
		// malformed input, reported rather than read as a fake 0.
		116: `malformed stat: field 10: bad number "-1"`,
	}
	for pid, reason := range bad {
		p := procs[pid]
		if p == nil {
			t.Errorf("pid %d with a malformed stat was dropped", pid)
			continue
		}
		if got := p.Unavailable["stat"]; got != reason {
			t.Errorf("pid %d: unavailable[stat] = %q, want %q", pid, got, reason)
		}
		if p.Read&SrcStat != 0 || p.State != 0 {
			t.Errorf("pid %d: stat marked read (state %q)", pid, p.State)
		}
		// status still read: the process keeps its owner and parent.
		if p.Read&SrcStatus == 0 || p.PPID != 50 || p.UIDs[0] != 1000 {
			t.Errorf("pid %d: status not used: read %b ppid %d uid %d", pid, p.Read, p.PPID, p.UIDs[0])
		}
	}
	if p := procs[113]; p == nil || p.Read&SrcStat == 0 || p.ExitCode != 0 || !p.Layout.HasExtended {
		t.Errorf("extra fields: %+v", p)
	}
	if p := procs[114]; p == nil || p.UTimeTicks != math.MaxUint64 || p.VSizeBytes != math.MaxUint64 || p.Nice != math.MinInt64 ||
		p.StartTicks != math.MaxUint64 || p.RSSBytes != math.MaxUint64 {
		t.Errorf("extreme values: %+v", p)
	} else {
		// Derived values saturate instead of wrapping: rss pages times
		// the page size, utime+stime, and a start beyond a
		// time.Duration is unknown rather than before boot.
		if p.RSSBytes != math.MaxUint64 {
			t.Errorf("rss bytes = %d, want saturated %d", p.RSSBytes, uint64(math.MaxUint64))
		}
		if p.CPUTicks() != math.MaxUint64 || len(p.Threads) != 1 || p.Threads[0].CPUTicks() != math.MaxUint64 {
			t.Errorf("cpu ticks = %d (threads %+v), want saturated", p.CPUTicks(), p.Threads)
		}
		if !p.StartedAt.IsZero() {
			t.Errorf("started at %v from start ticks %d, want unknown (zero)", p.StartedAt, p.StartTicks)
		}
	}
	// Negative values in signed fields (priority, nice, tty) are exact.
	if st, err := parseStat([]byte("116 (negative) S 50 116 116 -1 -1 4194304 1 0 2 0 120 30 0 0 -100 -20 1 0 5000 1 300 1 2 3 4")); err != nil ||
		st.priority != -100 || st.nice != -20 || st.ttyNr != -1 {
		t.Errorf("negative signed fields: %v %+v", err, st)
	}
	// Five malformed stats (110, 111, 112, 115, 116).
	if snap.Counts.Unreadable != 5 {
		t.Errorf("unreadable = %d, want 5", snap.Counts.Unreadable)
	}
	if snap.Counts.Vanished != 0 {
		t.Errorf("vanished = %d, want 0: a malformed file is not a vanished process", snap.Counts.Vanished)
	}
}

// TestHostileStatus: a status missing lines or with a bad value is
// unavailable with a reason, instead of fake zeros (uid 0 = root).
func TestHostileStatus(t *testing.T) {
	_, procs := snapshotOf(t, Options{Root: hostileRoot})
	want := map[int]string{
		117: "malformed status: missing Tgid, PPid, Uid, Gid, SigPnd, voluntary_ctxt_switches, nonvoluntary_ctxt_switches",
		118: `malformed status: PPid: bad integer "fifty"`,
	}
	for pid, reason := range want {
		p := procs[pid]
		if p == nil {
			t.Fatalf("pid %d dropped", pid)
		}
		if got := p.Unavailable["status"]; got != reason {
			t.Errorf("pid %d: unavailable[status] = %q, want %q", pid, got, reason)
		}
		if p.Read&SrcStatus != 0 {
			t.Errorf("pid %d: status marked read", pid)
		}
		if p.Read&SrcStat == 0 || p.PPID != 50 {
			t.Errorf("pid %d: stat not used", pid)
		}
	}
}

// TestHostileCmdline: hostile bytes are kept, titles and trailing NULs
// handled, kernel threads and zombies have no cmdline and no error.
func TestHostileCmdline(t *testing.T) {
	_, procs := snapshotOf(t, Options{Root: hostileRoot})
	cases := map[int][]string{
		108: {"ls", "\x1b]52;c;cHduZWQ=\x07", "\x1b[31mred", "[blue]", "\xff"},
		109: {"nginx: master process /usr/sbin/nginx    "},
		119: {"/bin/trail", "a"},
		120: nil,
		121: nil,
	}
	for pid, want := range cases {
		p := procs[pid]
		if p == nil {
			t.Fatalf("pid %d dropped", pid)
		}
		if strings.Join(p.Cmdline, "\x00") != strings.Join(want, "\x00") || len(p.Cmdline) != len(want) {
			t.Errorf("pid %d: cmdline %q, want %q", pid, p.Cmdline, want)
		}
		if p.CmdlineNoNUL != (pid == 109) {
			t.Errorf("pid %d: title flag %v", pid, p.CmdlineNoNUL)
		}
		if _, ok := p.Unavailable["cmdline"]; ok {
			t.Errorf("pid %d: cmdline unavailable: %v", pid, p.Unavailable)
		}
	}
	if p := procs[120]; !p.IsKernelThread() {
		t.Error("pid 120 is not seen as a kernel thread")
	}
	if p := procs[121]; !p.IsZombie() || DecodeWaitStatus(p.ExitCode).String() != "exit 3" {
		t.Errorf("pid 121: zombie %v, exit %v", p.IsZombie(), DecodeWaitStatus(p.ExitCode))
	}
}

// copyTree copies the hostile fixture into a temporary directory, where
// the test can add big, generated and special files.
func copyTree(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := os.CopyFS(dst, os.DirFS(hostileRoot))
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// addProcess writes a well-formed process directory with the given
// cmdline content.
func addProcess(t *testing.T, root string, pid int, cmdline []byte) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	src := filepath.Join(root, "100")
	for _, f := range []string{"", "task", "task/" + strconv.Itoa(pid)} {
		if err := os.MkdirAll(filepath.Join(dir, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stat, err := os.ReadFile(filepath.Join(src, "stat"))
	if err != nil {
		t.Fatal(err)
	}
	stat = append([]byte(strconv.Itoa(pid)), stat[3:]...)
	status, err := os.ReadFile(filepath.Join(src, "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"", "task/" + strconv.Itoa(pid)} {
		mustWrite(t, filepath.Join(dir, f, "stat"), stat)
		mustWrite(t, filepath.Join(dir, f, "status"), status)
	}
	if cmdline != nil {
		mustWrite(t, filepath.Join(dir, "cmdline"), cmdline)
	}
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHostileBigFiles: a 2 MiB cmdline is cut at the cap with a marker
// (or read whole with a larger cap); a cmdline of 2 MiB without NULs is
// one title; 1 MiB stat and status files are refused as too large; a
// 60,000-line maps file does not enter a snapshot.
func TestHostileBigFiles(t *testing.T) {
	root := copyTree(t)
	arg := bytes.Repeat([]byte("A"), 128<<10)
	var big []byte
	for len(big) < 2<<20 {
		big = append(append(big, arg...), 0)
	}
	addProcess(t, root, 200, big)
	addProcess(t, root, 201, bytes.Repeat([]byte("title "), (2<<20)/6))
	addProcess(t, root, 202, []byte("x\x00"))
	mustWrite(t, filepath.Join(root, "202", "stat"), append([]byte("202 ("), bytes.Repeat([]byte("j"), 1<<20)...))
	addProcess(t, root, 203, []byte("x\x00"))
	mustWrite(t, filepath.Join(root, "203", "status"), bytes.Repeat([]byte("Junk:\t1\n"), (1<<20)/8))
	addProcess(t, root, 204, []byte("x\x00"))
	var maps bytes.Buffer
	for i := range 60000 {
		a := uint64(0x7f0000000000) + uint64(i)*0x2000
		maps.WriteString(strconv.FormatUint(a, 16) + "-" + strconv.FormatUint(a+0x1000, 16) + " rw-p 00000000 00:00 0 \n")
	}
	mustWrite(t, filepath.Join(root, "204", "maps"), maps.Bytes())

	_, procs := snapshotOf(t, Options{Root: root})
	p := procs[200]
	if !p.CmdlineTruncated {
		t.Error("2 MiB cmdline not marked truncated at the default cap")
	}
	if n := len(strings.Join(p.Cmdline, "\x00")); n > DefaultCmdlineMax {
		t.Errorf("cmdline kept %d bytes, cap %d", n, DefaultCmdlineMax)
	}
	if p := procs[201]; !p.CmdlineTruncated || !p.CmdlineNoNUL || len(p.Cmdline) != 1 {
		t.Errorf("title cmdline: truncated %v title %v args %d", p.CmdlineTruncated, p.CmdlineNoNUL, len(p.Cmdline))
	}
	if got := procs[202].Unavailable["stat"]; got != "too large" {
		t.Errorf("1 MiB stat: %q, want too large", got)
	}
	if got := procs[203].Unavailable["status"]; got != "too large" {
		t.Errorf("1 MiB status: %q, want too large", got)
	}
	if p := procs[204]; p == nil || len(p.Unavailable) != 0 {
		t.Errorf("process with a 60,000-line maps: %+v", p)
	}

	_, procs = snapshotOf(t, Options{Root: root, CmdlineMax: 4 << 20})
	p = procs[200]
	if p.CmdlineTruncated || len(p.Cmdline) != 16 || len(p.Cmdline[15]) != 128<<10 {
		t.Errorf("with a 4 MiB cap: truncated %v, %d args", p.CmdlineTruncated, len(p.Cmdline))
	}
}

// releaseFIFO opens the write end of a FIFO (succeeding only when a reader
// is blocked on it) and closes it, which ends that reader's read.
func releaseFIFO(path string) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
}

// TestBlockingRead: a FIFO where cmdline should be blocks like a /proc
// read stuck on a D-state target. The snapshot finishes, the field says
// "timeout", the stuck read is not retried while stuck, stuck reads are
// capped, and a released read frees its worker.
func TestBlockingRead(t *testing.T) {
	root := copyTree(t)
	const n = MaxStuckReads + 4
	fifos := make([]string, n)
	for i := range n {
		pid := 300 + i
		addProcess(t, root, pid, nil)
		fifos[i] = filepath.Join(root, strconv.Itoa(pid), "cmdline")
		if err := unix.Mkfifo(fifos[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, f := range fifos {
			releaseFIFO(f)
		}
	})
	r, err := NewReader(Options{Root: root, ReadTimeout: 50 * time.Millisecond, CmdlineTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	scan := func() *Snapshot {
		t.Helper()
		snap, err := r.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	reason := func(s *Snapshot, pid int) string {
		t.Helper()
		p := findProcess(s, pid)
		if p == nil {
			t.Fatalf("pid %d missing", pid)
		}
		if p.Read&SrcStat == 0 || p.Read&SrcStatus == 0 {
			t.Errorf("pid %d: stat or status not read", pid)
		}
		return p.Unavailable["cmdline"]
	}
	snap := scan()
	if snap.Counts.Timeouts != n {
		t.Errorf("timeouts = %d, want %d", snap.Counts.Timeouts, n)
	}
	for i := range n {
		want := "timeout"
		if i >= MaxStuckReads {
			want = "skipped (reads stuck)"
		}
		if got := reason(snap, 300+i); got != want {
			t.Errorf("pid %d: cmdline %q, want %q", 300+i, got, want)
		}
	}
	if got := r.StuckReads(); got != MaxStuckReads {
		t.Errorf("stuck reads = %d, want the cap %d", got, MaxStuckReads)
	}
	// The processes read before the cap was reached are unaffected.
	if p := findProcess(snap, 108); p == nil || len(p.Cmdline) != 5 {
		t.Errorf("pid 108 after the stuck reads: %+v", p)
	}

	// Again: the stuck files are not retried (no new stuck worker), and at
	// the cap no cmdline is read at all rather than risk a stall.
	snap = scan()
	if got := reason(snap, 300); got != "timeout (still stuck)" {
		t.Errorf("second scan, pid 300: %q", got)
	}
	if got := reason(snap, 108); got != "skipped (reads stuck)" {
		t.Errorf("second scan, pid 108: %q", got)
	}
	if r.StuckReads() != MaxStuckReads {
		t.Errorf("second scan: stuck %d", r.StuckReads())
	}

	// Release the stuck reads: every worker comes back, and with the FIFOs
	// replaced by files everything reads again.
	for _, f := range fifos {
		releaseFIFO(f)
	}
	waitFor(t, "stuck reads to drain", func() bool { return r.StuckReads() == 0 })
	for _, f := range fifos {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, f, []byte("back\x00"))
	}
	snap = scan()
	if snap.Counts.Timeouts != 0 || reason(snap, 300) != "" || reason(snap, 108) != "" {
		t.Errorf("after release: timeouts %d, problems %v", snap.Counts.Timeouts, snap.Problems)
	}
}

func findProcess(s *Snapshot, pid int) *Process {
	for i := range s.Processes {
		if s.Processes[i].PID == pid {
			return &s.Processes[i]
		}
	}
	return nil
}

// waitFor polls cond with a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLiveHugeCmdline: a real process with a 1.8 MB command line (14
// arguments of 128 KiB, near ARG_MAX) is cut at the default cap with the
// truncation flag, and read whole with a larger cap.
func TestLiveHugeCmdline(t *testing.T) {
	arg := strings.Repeat("A", 128<<10-1) // MAX_ARG_STRLEN is 128 KiB with its NUL
	args := []string{"comm", "hugecmdline"}
	for range 14 {
		args = append(args, arg)
	}
	helper := livehelper.Start(t, args...) // comm mode ignores the extra arguments
	for _, c := range []struct {
		max   int
		trunc bool
	}{{0, true}, {4 << 20, false}} {
		r, err := NewReader(Options{CmdlineMax: c.max})
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := r.Process(helper.PID())
		if err != nil {
			t.Fatal(err)
		}
		total := len(strings.Join(p.Cmdline, "\x00"))
		if p.CmdlineTruncated != c.trunc {
			t.Errorf("cap %d: truncated %v, want %v (%d bytes)", c.max, p.CmdlineTruncated, c.trunc, total)
		}
		if c.trunc && total > DefaultCmdlineMax {
			t.Errorf("default cap: kept %d bytes", total)
		}
		if !c.trunc && (len(p.Cmdline) != 17 || p.Cmdline[16] != arg) {
			t.Errorf("4 MiB cap: %d args, %d bytes", len(p.Cmdline), total)
		}
	}
}

// TestLiveCmdlinePageEdges: a real process's cmdline, of lengths on and
// around the page boundaries where the one-read rule (readFDUntil) must
// read on, comes out exactly as /proc/PID/cmdline reads whole.
func TestLiveCmdlinePageEdges(t *testing.T) {
	probe := livehelper.Start(t, "comm", "pageedges", "x")
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", probe.PID()))
	if err != nil {
		t.Fatal(err)
	}
	prefix := len(raw) - len("x\x00") // the bytes before the last argument
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, total := range []int{4095, 4096, 4097, 8191, 8192, 8193, 3 * 4096, 20000} {
		arg := strings.Repeat("B", total-prefix-1)
		helper := livehelper.Start(t, "comm", "pageedges", arg)
		want, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", helper.PID()))
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != total {
			t.Fatalf("helper's cmdline is %d bytes, want %d", len(want), total)
		}
		p, _, err := r.Process(helper.PID())
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(p.Cmdline, "\x00") + "\x00"
		if got != string(want) || p.CmdlineTruncated {
			t.Errorf("%d bytes: read %d bytes (truncated %v), want them all", total, len(got), p.CmdlineTruncated)
		}
	}
}

// TestHostileStartBeyondDuration: with the boot time known, pid 114's
// start ticks (UINT64_MAX, beyond a time.Duration) give no start time
// rather than one before boot, while an ordinary process gets its exact
// start; StartTime's limit is the largest tick count a Duration holds.
func TestHostileStartBeyondDuration(t *testing.T) {
	root := copyTree(t)
	stat, err := os.ReadFile("../fixtures/proc/kthread/stat")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "stat"), stat, 0o644); err != nil {
		t.Fatal(err)
	}
	snap, procs := snapshotOf(t, Options{Root: root})
	boot := time.Unix(1700000000, 0).UTC()
	if !snap.Host.BootTime.Equal(boot) {
		t.Fatalf("boot time %v, want %v", snap.Host.BootTime, boot)
	}
	if p := procs[114]; p == nil || !p.StartedAt.IsZero() {
		t.Errorf("pid 114 started at %v, want unknown (zero)", p.StartedAt)
	}
	if p := procs[100]; p == nil || !p.StartedAt.Equal(boot.Add(time.Duration(p.StartTicks)*10*time.Millisecond)) {
		t.Errorf("pid 100 started at %v, want boot + start ticks", p.StartedAt)
	}
	limit := uint64(math.MaxInt64 / int64(time.Second/ClockTicks))
	if at, ok := StartTime(boot, limit); !ok || at.Before(boot) {
		t.Errorf("StartTime(limit) = %v, %v: want a time after boot", at, ok)
	}
	if at, ok := StartTime(boot, limit+1); ok {
		t.Errorf("StartTime(limit+1) = %v, want not ok", at)
	}
}
