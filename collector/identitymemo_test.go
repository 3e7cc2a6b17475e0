package collector

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestCmdlineReadAgainOnExec: within the TTL, with the same comm, a
// process's cmdline is reused; it is read again when its address-space
// layout changes (a new argv and stack: an exec) and when a kernel event
// source notes an exec (Reader.NoteExecs) that kept both.
func TestCmdlineReadAgainOnExec(t *testing.T) {
	root := copyTree(t)
	addProcess(t, root, 400, []byte("one\x00"))
	r, err := NewReader(Options{Root: root, CmdlineTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmdline := func(what string) []string {
		t.Helper()
		s, err := r.Scan(context.Background(), ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p := findProcess(s, 400)
		if p == nil {
			t.Fatalf("%s: pid 400 missing", what)
		}
		return p.Cmdline
	}
	set := func(c string) { mustWrite(t, filepath.Join(root, "400", "cmdline"), []byte(c+"\x00")) }
	if got := cmdline("first scan"); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("first scan: %q", got)
	}
	set("two")
	if got := cmdline("same identity"); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("same comm and layout within the TTL: read again (%q)", got)
	}
	r.NoteExecs([]int{400})
	if got := cmdline("exec noted"); !slices.Equal(got, []string{"two"}) {
		t.Errorf("after NoteExecs: %q, want the new cmdline", got)
	}
	// An exec with a new layout: stat's arg_start (field 48) moves.
	set("three")
	statPath := filepath.Join(root, "400", "stat")
	stat, err := os.ReadFile(statPath)
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the comm's last ')': field 3 (state) first.
	end := strings.LastIndexByte(string(stat), ')')
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 50 {
		t.Fatalf("fixture stat has %d fields after the comm", len(fields))
	}
	fields[48-3] = "140720000000512"
	mustWrite(t, statPath, []byte(string(stat[:end+1])+" "+strings.Join(fields, " ")+"\n"))
	if got := cmdline("layout changed"); !slices.Equal(got, []string{"three"}) {
		t.Errorf("after the layout changed: %q, want the new cmdline", got)
	}
}

// TestCmdlineDue: when a cmdline read now is read again at the latest.
func TestCmdlineDue(t *testing.T) {
	p := &Process{PID: 4242}
	now, ttl := 100*time.Second, time.Minute
	if d := cmdlineDue(p, false, now, ttl, time.Second); d != now {
		t.Errorf("a process younger than youngAge: due %v, want the next scan (%v)", d, now)
	}
	if d := cmdlineDue(p, false, now, -1, time.Hour); d != now {
		t.Errorf("cache off: due %v, want %v", d, now)
	}
	if d := cmdlineDue(p, false, now, ttl, time.Hour); d != now+ttl {
		t.Errorf("a re-read: due %v, want %v", d, now+ttl)
	}
	spread := map[time.Duration]bool{}
	for pid := 1; pid <= 64; pid++ {
		d := cmdlineDue(&Process{PID: pid}, true, now, ttl, time.Hour)
		if d <= now || d > now+ttl {
			t.Fatalf("first read of pid %d: due %v, want in (%v, %v]", pid, d, now, now+ttl)
		}
		spread[d] = true
	}
	if len(spread) < 32 {
		t.Errorf("first reads of 64 pids fall due at %d times only", len(spread))
	}
}

// TestIOReusedWhileIdle: on the task-iterator backend, a process that has
// not run since its io was read keeps its counters without a read, and one
// that ran (here: read a line from its stdin) has them read again. The
// reader lacks CAP_SYS_PTRACE: one with it takes the walk's sums instead
// (TestIterIOFromWalk).
func TestIOReusedWhileIdle(t *testing.T) {
	creds := selfCredentials()
	creds.CapSysPtrace = false
	r := newIterReader(t, Options{Credentials: &creds})
	cmd := exec.Command("sh", "-c", "read a; read b; sleep 300")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	scan := func() (*Process, bool) {
		t.Helper()
		s, err := r.Scan(context.Background(), ScanOptions{IO: true})
		if err != nil {
			t.Fatal(err)
		}
		p := findProcess(s, pid)
		if p == nil || p.Read&SrcIO == 0 {
			t.Fatalf("pid %d or its io missing: %+v", pid, p)
		}
		read := false
		for _, i := range r.idle.ioWant {
			read = read || s.Processes[i].PID == pid
		}
		return p, read
	}
	// Wait until the shell sits in its first read: two scans in a row
	// with the same run count.
	var idle *Process
	deadline := time.Now().Add(2 * time.Minute)
	for last := uint64(0); ; {
		p, _ := scan()
		if ran := ranCount(p); ran == last && p.State == 'S' {
			idle = p
			break
		} else {
			last = ran
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell never went idle")
		}
		livehelper.Sleep()
	}
	again, read := scan()
	if ranCount(again) == ranCount(idle) {
		if read {
			t.Error("the io of a process that has not run was read again")
		}
		if again.IO != idle.IO {
			t.Errorf("io changed without a read: %+v then %+v", idle.IO, again.IO)
		}
	}
	if _, err := io.WriteString(in, "x\n"); err != nil {
		t.Fatal(err)
	}
	for {
		p, read := scan()
		if p.IO.SyscR > idle.IO.SyscR {
			if !read {
				t.Error("new io counters without a read")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shell's read of its stdin never showed in its io (%+v)", p.IO)
		}
		livehelper.Sleep()
	}
}

// TestReuseIdentitiesPastTTL: a scan with ScanOptions.ReuseIdentities
// takes a running process's cmdline from the memo past the TTL (the
// spinner runs between the scans and is younger than youngAge: without
// the option it is read at every scan); the next scan without it reads
// it again; an exec noted for it (NoteExecs) makes even a scan with the
// option read it again. On both backends.
func TestReuseIdentitiesPastTTL(t *testing.T) {
	for _, b := range []Backend{BackendProc, BackendTaskIter} {
		t.Run(string(b), func(t *testing.T) {
			var r *Reader
			if b == BackendTaskIter {
				r = newIterReader(t, Options{CmdlineTTL: time.Nanosecond})
			} else {
				var err error
				if r, err = NewReader(Options{Backend: BackendProc, CmdlineTTL: time.Nanosecond}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = r.Close() })
			}
			if os.Geteuid() != 0 {
				t.Skip("not root: another user's layout is masked, and its cmdline read every scan")
			}
			spin := livehelper.Start(t, "spin")
			ctx := context.Background()
			// scan scans until the spinner shows with its cmdline and has
			// run since ran (0: any), and returns it.
			scan := func(o ScanOptions, ran uint64) *Process {
				t.Helper()
				for range 500 {
					s, err := r.Scan(ctx, o)
					if err != nil {
						t.Fatal(err)
					}
					if p := findProc(s, spin.PID()); p != nil && len(p.Cmdline) > 0 && ranCount(p) != ran {
						return p
					}
					livehelper.Sleep()
				}
				t.Fatalf("spinner %d never showed having run, with its cmdline", spin.PID())
				return nil
			}
			first := scan(ScanOptions{}, 0)
			kept := scan(ScanOptions{ReuseIdentities: true}, ranCount(first))
			if &kept.Cmdline[0] != &first.Cmdline[0] {
				t.Error("a scan with ReuseIdentities read the cmdline again")
			}
			again := scan(ScanOptions{}, ranCount(kept))
			if &again.Cmdline[0] == &first.Cmdline[0] {
				t.Error("a scan without ReuseIdentities reused the cmdline past the TTL")
			}
			r.NoteExecs([]int{spin.PID()})
			noted := scan(ScanOptions{ReuseIdentities: true}, ranCount(again))
			if &noted.Cmdline[0] == &again.Cmdline[0] {
				t.Error("a scan with ReuseIdentities reused the cmdline of a process noted to have exec'd")
			}
			if !slices.Equal(noted.Cmdline, first.Cmdline) {
				t.Errorf("cmdline %q, then %q", first.Cmdline, noted.Cmdline)
			}
		})
	}
}

// TestMemoFirstScanArray: an empty memo's first scan adds its entries to
// one array in pid order (add); they are found by pid as entries of the
// table are, an entry of another identity for one of their pids takes
// its place, an entry out of order or past the room goes to the table,
// and the next scan's begin moves them all into the table; sweep then
// drops and empties those it did not see.
func TestMemoFirstScanArray(t *testing.T) {
	m := newIdentityMemo()
	m.begin(nil)
	if !m.empty() {
		t.Fatal("a new memo is not empty")
	}
	m.reserve(3)
	a := m.add(10, 100)
	b := m.add(20, 200)
	late := m.add(5, 50) // out of pid order: the table
	c := m.add(30, 300)
	over := m.add(40, 400) // past the room reserved: the table
	if m.empty() || len(m.first) != 3 || len(m.procs) != 2 {
		t.Fatalf("first %d, table %d entries; want 3 and 2", len(m.first), len(m.procs))
	}
	for pid, want := range map[int]*procCache{10: a, 20: b, 5: late, 30: c, 40: over} {
		if got := m.lookup(pid); got != want {
			t.Errorf("lookup(%d) = %p, want %p", pid, got, want)
		}
	}
	if m.lookup(15) != nil {
		t.Error("lookup(15) found an entry for a pid never added")
	}
	if got := m.entry(20, 200); got != b {
		t.Errorf("entry(20, same start) = %p, want the first scan's %p", got, b)
	}
	b.cmdline = []string{"old"}
	b2 := m.entry(20, 201) // pid 20 reused: a new identity
	if b2 == b || m.lookup(20) != b2 {
		t.Fatal("a new identity of pid 20 did not take the place of the old one")
	}
	m.sweep()
	if b.cmdline != nil {
		t.Error("sweep kept the strings of an entry replaced in the table")
	}
	m.begin(nil) // the next scan: the table holds them all
	if len(m.first) != 0 || len(m.procs) != 5 || m.procs[10] != a || m.procs[20] != b2 || m.procs[30] != c {
		t.Fatalf("after begin: first %d, table %v", len(m.first), m.procs)
	}
	a.cmdline = []string{"gone"}
	m.entry(20, 201)
	m.entry(30, 300)
	m.sweep()
	if _, ok := m.procs[10]; ok || a.cmdline != nil {
		t.Errorf("sweep kept pid 10 (in the table: %v) or its strings (%q)", ok, a.cmdline)
	}
	if len(m.procs) != 2 {
		t.Errorf("after sweep the table holds %d entries, want 2 (pids 20 and 30)", len(m.procs))
	}
	// Pid 30 (an entry of the first scan's array) reused on a later
	// scan: the old identity's strings go with it.
	m.begin(nil)
	c.cmdline = []string{"old 30"}
	if got := m.entry(30, 301); got == c || c.cmdline != nil {
		t.Errorf("pid 30 reused: the array's old entry keeps %q", c.cmdline)
	}
}
