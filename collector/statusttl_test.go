package collector

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// statusReader is a Reader of this machine's /proc that reuses status
// for ttl (Options.StatusTTL). Reuse needs taskstats and CAP_SYS_PTRACE:
// as root (CI) both are there, and the test fails if reuse is still off.
func statusReader(t *testing.T, ttl time.Duration) *Reader {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("status reuse needs taskstats and CAP_SYS_PTRACE (root)")
	}
	r, err := NewReader(Options{StatusTTL: ttl, Backend: BackendProc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if r.scanStatusTTL() != ttl {
		_, why := r.Taskstats()
		t.Fatalf("root, but status is not reused (taskstats: %v, creds %v)", why, r.creds)
	}
	return r
}

// scanStatus is one scan of r with opts, and how many process status
// files it read.
func scanStatus(t *testing.T, r *Reader, o ScanOptions) (*Snapshot, int) {
	t.Helper()
	s, err := r.Scan(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s, r.idle.statusReads
}

// statusFresh reports whether p's status was read by the scan of s.
func statusFresh(s *Snapshot, p *Process) bool { return p.StatusAt >= s.Monotonic }

// TestStatusReusedWithinTTL: a warm Reader with a StatusTTL reads the
// status of a sleeping process once, and every later scan within the TTL
// reuses it (its status fields equal, StatusAt the first read's), while
// its resident memory is the scan's own (statm); the scan's count of
// status reads is the number of processes whose status is fresh.
func TestStatusReusedWithinTTL(t *testing.T) {
	r := statusReader(t, 10*time.Hour) // due at least 140 s after the first read
	h := livehelper.Start(t, "comm", "stsleeper")
	s1, reads1 := scanStatus(t, r, ScanOptions{})
	a := find(s1, h.PID())
	if a == nil || a.Read&SrcStatus == 0 || !statusFresh(s1, a) {
		t.Fatalf("first scan: helper %d not read with its status: %+v", h.PID(), a)
	}
	if c := s1.Counts; reads1 < len(s1.Processes)-c.Unreadable || reads1 > len(s1.Processes)+c.Vanished {
		t.Errorf("first scan read %d statuses for %d processes (counts %+v)", reads1, len(s1.Processes), c)
	}
	// This process grows by 64 MiB between the scans: its RSS must show
	// it though its status is reused.
	// Fresh anonymous memory, not the Go heap: a heap slice may reuse
	// pages still resident from an earlier scan's garbage (a busy
	// machine's big snapshots), and then RSS does not grow.
	self := os.Getpid()
	grow, err := unix.Mmap(-1, 0, 64<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(grow)
	for i := 0; i < len(grow); i += 4096 {
		grow[i] = 1
	}
	s2, reads2 := scanStatus(t, r, ScanOptions{})
	b := find(s2, h.PID())
	if b == nil || b.Read&SrcStatus == 0 {
		t.Fatalf("second scan: helper %d without status: %+v", h.PID(), b)
	}
	if statusFresh(s2, b) || b.StatusAt != a.StatusAt {
		t.Errorf("helper's status read again within the TTL: at %v, first read at %v, scan at %v", b.StatusAt, a.StatusAt, s2.Monotonic)
	}
	if b.UIDs != a.UIDs || b.User != a.User || b.SigCgt != a.SigCgt || b.CapEff != a.CapEff || !b.HasRSS || b.RSSBytes == 0 || !b.HasShared {
		t.Errorf("reused status differs or lost its memory: first %+v, then %+v", a.ProcStatus, b.ProcStatus)
	}
	// The RSS split is the first read's (one status), and none with a
	// reused status: its RSS is statm's, which does not split.
	if _, _, _, ok := a.RSSSplit(); !ok {
		t.Errorf("first scan: no RSS split from the fresh status: %+v", a.ProcStatus)
	}
	if _, _, _, ok := b.RSSSplit(); ok || b.HasRSSSplit {
		t.Errorf("reused status: an RSS split %+v beside statm's RSS", b.ProcStatus)
	}
	fresh := 0
	for i := range s2.Processes {
		p := &s2.Processes[i]
		if p.Read&SrcStatus != 0 && statusFresh(s2, p) {
			fresh++
		}
		if p.Read&SrcStatus != 0 && !statusFresh(s2, p) && !strings.ContainsRune("RSI", rune(p.State)) {
			t.Errorf("pid %d in state %c: status reused", p.PID, p.State)
		}
	}
	// Every status read is a fresh one in the snapshot, but for processes
	// that vanished after it (not in the snapshot) or whose status could
	// not be used (a problem: no SrcStatus).
	if c := s2.Counts; reads2 < fresh || reads2 > fresh+c.Vanished+c.Denied+c.ParseErrors+c.NotPresent+c.Timeouts {
		t.Errorf("second scan read %d statuses, %d processes have a fresh one (counts %+v)", reads2, fresh, c)
	}
	// Reuse is for the processes the first scan read: those started
	// since (another test's or a benchmark's fleet) are read fresh.
	born := 0
	for i := range s2.Processes {
		p := &s2.Processes[i]
		if q := find(s1, p.PID); q == nil || q.StartTicks != p.StartTicks {
			born++
		}
	}
	if (reads2-born)*2 > len(s2.Processes)-born {
		t.Errorf("second scan read %d statuses of %d processes (%d started since the first): reuse did not take", reads2, len(s2.Processes), born)
	}
	me1, me2 := find(s1, self), find(s2, self)
	if me1 == nil || me2 == nil || !me2.HasRSS {
		t.Fatalf("this process %d not found or without RSS", self)
	}
	if statusFresh(s2, me2) {
		t.Errorf("this process (state %c): status read again within the TTL", me2.State)
	}
	if me2.RSSBytes < me1.RSSBytes+48<<20 {
		t.Errorf("this process grew by 64 MiB, RSS %d -> %d with its status reused", me1.RSSBytes, me2.RSSBytes)
	}
	grow[len(grow)-1] = 2 // keep grow alive past the second scan
}

// TestStatusFreshForFocus: a process named in ScanOptions.FreshStatus has
// its status read every scan, and sees a change of uid at once; the same
// Reader without it keeps the uid it read (the reuse is real).
func TestStatusFreshForFocus(t *testing.T) {
	r := statusReader(t, 10*time.Hour)
	h := livehelper.Start(t, "setuid", "65534")
	pid := h.PID()
	s0, _ := scanStatus(t, r, ScanOptions{})
	if p := find(s0, pid); p == nil || p.UIDs[0] != 0 {
		t.Fatalf("helper %d before setuid: %+v", pid, p)
	}
	setUID(t, pid)
	s1, _ := scanStatus(t, r, ScanOptions{})
	if p := find(s1, pid); p == nil || p.UIDs[0] != 0 || statusFresh(s1, p) {
		t.Fatalf("helper %d: status not reused within the TTL: %+v", pid, p)
	}
	s2, _ := scanStatus(t, r, ScanOptions{FreshStatus: []int{pid}})
	p := find(s2, pid)
	if p == nil || !statusFresh(s2, p) || p.UIDs != [4]int{65534, 65534, 65534, 65534} || p.GIDs[0] != 65534 {
		t.Fatalf("helper %d in FreshStatus: status %+v at %v (scan at %v)", pid, p, p.StatusAt, s2.Monotonic)
	}
	// The memo keeps the fresh read: the next scan reuses the new uid.
	s3, _ := scanStatus(t, r, ScanOptions{})
	if p := find(s3, pid); p == nil || p.UIDs[0] != 65534 {
		t.Fatalf("helper %d after the fresh read: %+v", pid, p)
	}
}

// TestStatusTTLBound: a change of uid (setresuid, no exec, comm
// unchanged) is seen by every scan that starts StatusTTL after it, and a
// scan that reports a status read after the change reports the new uid.
func TestStatusTTLBound(t *testing.T) {
	const ttl = 2 * time.Second
	r := statusReader(t, ttl)
	h := livehelper.Start(t, "setuid", "65534")
	pid := h.PID()
	s0, _ := scanStatus(t, r, ScanOptions{})
	if p := find(s0, pid); p == nil || p.UIDs[0] != 0 {
		t.Fatalf("helper %d before setuid: %+v", pid, p)
	}
	setUID(t, pid)
	changed := r.Monotonic() // the change happened before this
	for end := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		s, _ := scanStatus(t, r, ScanOptions{})
		p := find(s, pid)
		if p == nil {
			t.Fatalf("helper %d gone", pid)
		}
		if p.StatusAt > changed && p.UIDs[0] != 65534 {
			t.Fatalf("status read at %v, after the change at %v, says uid %d", p.StatusAt, changed, p.UIDs[0])
		}
		if s.Monotonic >= changed+ttl {
			if p.UIDs[0] != 65534 || p.StatusAt <= changed {
				t.Fatalf("scan at %v, TTL %v after the change at %v: uid %d read at %v", s.Monotonic, ttl, changed, p.UIDs[0], p.StatusAt)
			}
			return
		}
		if time.Now().After(end) {
			t.Fatal("the Reader's clock did not pass the TTL")
		}
	}
}

// TestStatusFreshForZombieParent: the parent of a zombie, a sleeping
// process, has its status read every scan (the zombie diagnosis reads its
// SIGCHLD disposition and tracer), and the zombies theirs, while a
// sleeping process beside them has its status reused.
func TestStatusFreshForZombieParent(t *testing.T) {
	r := statusReader(t, 10*time.Hour)
	h := livehelper.Start(t, "zombies", "2")
	sleeper := livehelper.Start(t, "comm", "stsleeper")
	allZombies := func(s *Snapshot) bool {
		for _, z := range h.PIDs[1:] {
			if p := find(s, z); p == nil || !p.IsZombie() {
				return false
			}
		}
		return true
	}
	for end := time.Now().Add(2 * time.Minute); ; livehelper.Sleep() {
		if s, _ := scanStatus(t, r, ScanOptions{}); allZombies(s) {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the helper's children never all became zombies")
		}
	}
	s, _ := scanStatus(t, r, ScanOptions{})
	if !allZombies(s) {
		t.Fatal("zombies reaped")
	}
	for _, z := range h.PIDs[1:] {
		if p := find(s, z); p.Read&SrcStatus != 0 && !statusFresh(s, p) {
			t.Errorf("zombie %d: status reused", z)
		}
	}
	if p := find(s, h.PID()); p == nil || p.Read&SrcStatus == 0 || !statusFresh(s, p) {
		t.Errorf("parent %d of zombies %v: status not read by the scan: %+v", h.PID(), h.PIDs[1:], p)
	}
	if p := find(s, sleeper.PID()); p == nil || statusFresh(s, p) {
		t.Errorf("sleeper %d: status not reused: %+v", sleeper.PID(), p)
	}
}

// TestStatusTTLOffWithoutTaskstats: without taskstats (a fixture tree,
// or NoTaskstats) a Reader reads every status every scan, whatever its
// StatusTTL: the leader's context switches, which only status gives
// then, are never old.
func TestStatusTTLOffWithoutTaskstats(t *testing.T) {
	r := fixtureReaderOpts(t, "zombie", Options{StatusTTL: time.Hour})
	for range 2 {
		s, reads := scanStatus(t, r, ScanOptions{})
		withStatus := 0
		for i := range s.Processes {
			if s.Processes[i].Read&SrcStatus != 0 {
				withStatus++
			}
		}
		if withStatus == 0 || reads < withStatus {
			t.Fatalf("fixture: %d status reads, %d processes with status", reads, withStatus)
		}
	}
	live, err := NewReader(Options{StatusTTL: time.Hour, NoTaskstats: true, Backend: BackendProc})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	for range 2 {
		s, reads := scanStatus(t, live, ScanOptions{})
		if reads < len(s.Processes)-s.Counts.Unreadable {
			t.Fatalf("NoTaskstats: %d status reads for %d processes", reads, len(s.Processes))
		}
	}
}

// setUID tells the setuid helper to change its ids and waits until its
// status says so.
func setUID(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(2 * time.Minute); ; livehelper.Sleep() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "\nUid:\t65534\t65534\t65534\t65534\n") {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("helper %d never changed its uid:\n%s", pid, b)
		}
	}
}
