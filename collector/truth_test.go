package collector

// Tests of issue 13 ("every number true") on fixture trees made for it:
// foreign (a /proc tree another program wrote: files missing, negative
// signed fields), leader-exited (captured from `procshape leaderexit`)
// and masked (captured as uid 65534 from `procshape exits 3 5 sig9
// sig11` run by root). See each tree's README.md.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureReaderOpts is fixtureReader with options of the test's own.
func fixtureReaderOpts(t *testing.T, scenario string, o Options) *Reader {
	t.Helper()
	o.Root = filepath.Join("..", "fixtures", "proc", scenario)
	o.PasswdPath = filepath.Join("..", "fixtures", "passwd")
	r, err := NewReader(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestForeignTreeNotPresent: in a /proc tree another program wrote, a
// process directory that lacks status, cmdline or task/ is kept with
// those files "not present", never counted as vanished (issue 13, item
// 4). Every process is counted once: listed = kept + vanished.
func TestForeignTreeNotPresent(t *testing.T) {
	for _, threads := range []bool{false, true} {
		s := snap(t, fixtureReaderOpts(t, "foreign", Options{Threads: threads}))
		c := s.Counts
		if c.Listed != 9 || c.Vanished != 1 || len(s.Processes) != 8 || c.Listed != len(s.Processes)+c.Vanished {
			t.Fatalf("threads %v: %d processes, counts %+v", threads, len(s.Processes), c)
		}
		if c.Unreadable != 2 || c.ParseErrors != 0 {
			t.Errorf("threads %v: counts %+v: want 2 processes without a stat (704, 707), no parse errors", threads, c)
		}
		want := map[int][]string{
			700: {"status", "cmdline", "rss"},
			701: {"cmdline"},
			702: {"status"},
			704: {"stat", "status", "cmdline"},
			707: {"stat", "cmdline"},
		}
		if threads {
			for _, pid := range []int{700, 701, 702, 704, 707} {
				want[pid] = append(want[pid], "task")
			}
		}
		for pid, keys := range want {
			p := find(s, pid)
			if p == nil {
				t.Errorf("threads %v: pid %d dropped", threads, pid)
				continue
			}
			for _, k := range keys {
				if p.Unavailable[k] != ReasonNotPresent {
					t.Errorf("threads %v: pid %d: unavailable[%s] = %q, want %q (all: %v)", threads, pid, k, p.Unavailable[k], ReasonNotPresent, p.Unavailable)
				}
			}
		}
		// 700's stat says three threads; with no task/ they are unread,
		// not zero: SrcTasks stays off.
		if p := find(s, 700); p != nil && (p.NumThreads != 3 || p.Read&SrcTasks != 0 || len(p.Threads) != 0 || p.Comm != "statonly") {
			t.Errorf("threads %v: stat-only 700: %+v", threads, p)
		}
		// 702 has no status: its resident set comes from statm.
		if p := find(s, 702); p != nil && (!p.HasRSS || p.RSSBytes != 300*uint64(os.Getpagesize()) || len(p.Cmdline) != 2) {
			t.Errorf("threads %v: 702: rss %d (known %v), cmdline %q", threads, p.RSSBytes, p.HasRSS, p.Cmdline)
		}
		// 701 has status: its VmRSS, not stat's field 24 (2048 pages).
		if p := find(s, 701); p != nil && (!p.HasRSS || p.RSSBytes != 2048*1024) {
			t.Errorf("threads %v: 701: rss %d", threads, p.RSSBytes)
		}
		if p := find(s, 704); p != nil && (p.HasRSS || p.Read != 0) {
			t.Errorf("threads %v: empty 704 has values: %+v", threads, p)
		}
		if find(s, 705) != nil {
			t.Errorf("threads %v: the dangling 705 was kept", threads)
		}
		// 707 has a status and no stat: what status says is kept.
		if p := find(s, 707); p != nil && (p.Read&SrcStat != 0 || p.Read&SrcStatus == 0 || !p.HasRSS || p.RSSBytes != 4096*1024 || p.User != "alice") {
			t.Errorf("threads %v: status-only 707: read %b, rss %d (known %v), user %q", threads, p.Read, p.RSSBytes, p.HasRSS, p.User)
		}
		// 706's threads have a stat and no status: both are threads of
		// the process, none vanished.
		if p := find(s, 706); threads && p != nil {
			if len(p.Threads) != 2 || p.Threads[1].TID != 709 || p.Threads[1].State != 'R' || p.Threads[0].HasStatus {
				t.Errorf("706's threads: %+v", p.Threads)
			}
			if p.Unavailable["task/709/status"] != ReasonNotPresent {
				t.Errorf("706: unavailable %v", p.Unavailable)
			}
		}
		if c.VanishedThreads != 0 {
			t.Errorf("threads %v: %d threads counted vanished", threads, c.VanishedThreads)
		}
	}
}

// TestForeignTreeSignedFields: 703's stat has INT64_MIN in cutime and
// cguest_time, -1 in cstime and -5 in itrealvalue: legal values of
// signed fields (proc(5) %ld) that must not reject the stat (item 5).
func TestForeignTreeSignedFields(t *testing.T) {
	s := snap(t, fixtureReaderOpts(t, "foreign", Options{Threads: true}))
	p := find(s, 703)
	if p == nil || p.Read&SrcStat == 0 || p.Unavailable["stat"] != "" {
		t.Fatalf("703: %+v", p)
	}
	if p.Comm != "signed" || p.State != 'S' || p.StartTicks != 2000 || len(p.Threads) != 1 || p.Threads[0].StartTicks != 2000 {
		t.Errorf("703 parsed wrong: %+v", p)
	}
}

// TestRSSFromStatus: the resident set is status's VmRSS, the kernel's
// exact sum, never stat's field 24 (item 1). multithread's stat says
// 2048 pages (8 MiB) in field 24; its status says VmRSS 2048 kB.
func TestRSSFromStatus(t *testing.T) {
	s := snap(t, fixtureReader(t, "multithread", true))
	p := find(s, 100)
	if p == nil || !p.HasRSS || p.RSSBytes != 2048*1024 {
		t.Fatalf("pid 100: rss %d known %v, want VmRSS 2048 kB", p.RSSBytes, p.HasRSS)
	}
	// Kernel threads and zombies have none: unknown, not 0.
	s = snap(t, fixtureReader(t, "kthread", true))
	for _, pid := range []int{2, 50} {
		if p := find(s, pid); p == nil || p.HasRSS {
			t.Errorf("kernel thread %d has an RSS: %+v", pid, p)
		}
	}
	s = snap(t, fixtureReader(t, "zombie", true))
	for i := range s.Processes {
		if p := &s.Processes[i]; p.IsZombie() && p.HasRSS {
			t.Errorf("zombie %d has an RSS", p.PID)
		}
	}
}

// TestLeaderExitedFixture: a process whose main thread called
// pthread_exit while a worker runs (captured live) is alive: its leader
// shows Z and has no memory, maps or exe of its own, so they are read
// through the live thread's task/TID/ files (item 2).
func TestLeaderExitedFixture(t *testing.T) {
	for _, threads := range []bool{false, true} {
		r := fixtureReaderOpts(t, "leader-exited", Options{Threads: threads})
		s := snap(t, r)
		p := find(s, 14203)
		if p == nil || !p.LeaderExited() || p.IsZombie() || p.LiveTID != 14205 {
			t.Fatalf("threads %v: %+v", threads, p)
		}
		if !p.HasRSS || p.RSSBytes != 1676*1024 {
			t.Errorf("threads %v: rss %d known %v, want the worker's VmRSS 1676 kB", threads, p.RSSBytes, p.HasRSS)
		}
		if p.Exe != "/tmp/truth/procshape" || strings.Join(p.Cmdline, " ") != "/tmp/truth/procshape leaderexit" {
			t.Errorf("threads %v: exe %q cmdline %q, want the live thread's", threads, p.Exe, p.Cmdline)
		}
		as, err := r.AddressSpace(14203, AddrOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if as.LiveTID != 14205 || len(as.Maps) != 31 || as.Memory == nil || as.Memory.RSSBytes != 1676*1024 {
			t.Fatalf("threads %v: address space via task/14205: live %d, %d maps, memory %+v, unavailable %v",
				threads, as.LiveTID, len(as.Maps), as.Memory, as.Unavailable)
		}
		for _, ts := range as.Stacks {
			switch ts.TID {
			case 14203:
				if ts.Reason != ReasonLeaderExited {
					t.Errorf("exited leader's stack: %+v", ts)
				}
			case 14205:
				if !ts.Known || ts.Mapping < 0 || as.Maps[ts.Mapping].Class != SegThreadStack {
					t.Errorf("worker's stack: %+v", ts)
				}
			}
		}
	}
}

// TestMaskedFixture: a zombie's exit code and its parent's wait channel
// are [PT] fields: a reader that may not ptrace them gets 0 from the
// kernel, whatever the real values (3, 5, SIGKILL, SIGSEGV here). Read
// as that reader they are unavailable, "masked"; never "exit 0" (item 3).
func TestMaskedFixture(t *testing.T) {
	nobody := &Credentials{FSUID: 65534, FSGID: 65534}
	r := fixtureReaderOpts(t, "masked", Options{Credentials: nobody, Threads: true})
	s := snap(t, r)
	zombies := 0
	for i := range s.Processes {
		p := &s.Processes[i]
		if !p.IsZombie() {
			continue
		}
		zombies++
		if p.ExitCode != -1 || p.Unavailable["exit_code"] != ReasonMaskedField || !p.PTMasked {
			t.Errorf("zombie %d: exit code %d, unavailable %v: want masked", p.PID, p.ExitCode, p.Unavailable)
		}
	}
	if zombies != 4 {
		t.Fatalf("%d zombies, want 4", zombies)
	}
	if p := find(s, 18304); p == nil || !p.PTMasked || p.Layout != (Layout{}) {
		t.Errorf("parent: %+v", p)
	}
	if _, err := r.WChan(18304); !errors.Is(err, ErrMasked) || Reason(err) != ReasonMaskedField {
		t.Errorf("parent's wchan: err %v, want masked", err)
	}
	// The same uid as the processes: they are readable (the zombies have
	// no mm, so dumpability does not apply).
	root := &Credentials{FSUID: 0, FSGID: 0, CapEff: 0x1fffeffffff} // root's set, without CAP_SYS_PTRACE
	s = snap(t, fixtureReaderOpts(t, "masked", Options{Credentials: root}))
	if p := find(s, 18306); p == nil || p.PTMasked || p.ExitCode != 0 {
		t.Errorf("zombie read as its owner: %+v", p)
	}
}

// TestMayReadPT holds the access rule to the kernel's
// __ptrace_may_access (PTRACE_MODE_READ_FSCREDS).
func TestMayReadPT(t *testing.T) {
	own := Process{Read: SrcStat | SrcStatus, ProcStat: ProcStat{State: 'S'}}
	own.UIDs, own.GIDs = [4]int{1000, 1000, 1000, 1000}, [4]int{100, 100, 100, 100}
	me := Credentials{FSUID: 1000, FSGID: 100}
	setuid := own
	setuid.UIDs[1] = 0 // a set-uid program: euid root
	zombie := own
	zombie.State = 'Z'
	nostatus := own
	nostatus.Read = SrcStat
	capable := own
	capable.CapPrm = 1 << 21 // CAP_SYS_ADMIN
	capableZombie := capable
	capableZombie.State = 'Z'
	for _, c := range []struct {
		name  string
		c     Credentials
		p     Process
		owner int
		want  bool
	}{
		{"own, dumpable", me, own, 1000, true},
		{"own, not dumpable (dir owned by root)", me, own, 0, false},
		{"own zombie: no mm, dumpability does not apply", me, zombie, 0, true},
		{"euid differs", me, setuid, 1000, false},
		{"another user", Credentials{FSUID: 1001, FSGID: 100}, own, 1000, false},
		{"another group", Credentials{FSUID: 1000, FSGID: 101}, own, 1000, false},
		{"CAP_SYS_PTRACE", Credentials{FSUID: 5, FSGID: 5, CapSysPtrace: true}, setuid, 0, true},
		{"status unknown", me, nostatus, 1000, false},
		{"own, holding a capability the reader lacks", me, capable, 1000, false},
		{"own zombie holding a capability the reader lacks", me, capableZombie, 0, false},
		{"own, holding a capability the reader has", Credentials{FSUID: 1000, FSGID: 100, CapEff: 1 << 21}, capable, 1000, true},
	} {
		if got := c.c.mayReadPT(&c.p, c.owner); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDelayAcctHost: kernel.task_delayacct is a host fact, read every
// snapshot; unknown (with the reason) when the tree has no such file.
func TestDelayAcctHost(t *testing.T) {
	s := snap(t, fixtureReaderOpts(t, "foreign", Options{}))
	if _, unknown := s.Host.Unavailable[HostDelayAcctKey]; unknown || s.Host.DelayAcct {
		t.Errorf("foreign (task_delayacct 0): on %v, unavailable %v", s.Host.DelayAcct, s.Host.Unavailable)
	}
	s = snap(t, fixtureReader(t, "multithread", false))
	if s.Host.Unavailable[HostDelayAcctKey] != ReasonNotPresent {
		t.Errorf("multithread (no task_delayacct): unavailable %v", s.Host.Unavailable)
	}
}

// TestSelfPID: a snapshot of this machine's /proc names the reading
// process (filters leave it out); a fixture tree has none.
func TestSelfPID(t *testing.T) {
	s := snap(t, fixtureReader(t, "multithread", false))
	if s.SelfPID != 0 {
		t.Errorf("fixture: self %d", s.SelfPID)
	}
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	live, err := r.Scan(context.Background(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if live.SelfPID != os.Getpid() {
		t.Errorf("live: self %d, want %d", live.SelfPID, os.Getpid())
	}
}

func TestParseStatm(t *testing.T) {
	if v, err := parseStatm([]byte("2560 300 100 1 0 200 0\n")); err != nil || v.resident != 300 || v.shared != 100 || !v.hasShared {
		t.Errorf("statm: %+v %v", v, err)
	}
	if v, err := parseStatm([]byte("2560 300\n")); err != nil || v.resident != 300 || v.hasShared {
		t.Errorf("two-field statm: %+v %v", v, err)
	}
	for _, bad := range []string{"", "1", "1 x 3", "1 -2 3", "99999999999999999999999 1"} {
		if _, err := parseStatm([]byte(bad)); !errors.Is(err, errStatmFormat) {
			t.Errorf("parseStatm(%q): %v", bad, err)
		}
	}
	// Read per process and tick when status is reused: no allocation.
	line := []byte("2560 300 100 1 0 200 0\n")
	if n := testing.AllocsPerRun(100, func() { _, _ = parseStatm(line) }); n != 0 {
		t.Errorf("parseStatm allocates %v times a call", n)
	}
}
