package collector

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cgroup2Mount is where the unified cgroup hierarchy is mounted, "" when
// it is not.
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 2 && fs[2] == "cgroup2" {
			return fs[1]
		}
	}
	return ""
}

// TestWalkCgroupMove: on the walk, a process's cgroup path stands while
// the walk's cgroup id for it is the same (no re-read past the memo's TTL:
// TestWalkCgroupIDKept), and a process moved to another cgroup is shown
// in the new one at the next scan, well within the TTL (a minute): a
// process older than youngAge, read once, was shown in its old cgroup
// until the TTL ran out before the walk gave the id.
func TestWalkCgroupMove(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	mnt := cgroup2Mount(t)
	if mnt == "" {
		t.Skip("no cgroup2 mount")
	}
	raw, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skip(err)
	}
	self, unified, err := parseCgroupLine(raw)
	if err != nil || !unified {
		t.Skipf("this process's cgroup file names no unified hierarchy (%q, %v)", raw, err)
	}
	// Two cgroups beside this process's own (its own may have processes,
	// so no children can take domain controllers: siblings can).
	parent := filepath.Join(mnt, filepath.Dir(self))
	var fs syscall.Statfs_t
	if err := syscall.Statfs(parent, &fs); err != nil || fs.Type != 0x63677270 { // CGROUP2_SUPER_MAGIC
		t.Skipf("%s is not a cgroup2 directory (%v)", parent, err)
	}
	base := "pinspect-cgid-" + strconv.Itoa(os.Getpid())
	dirA, dirB := filepath.Join(parent, base+"-a"), filepath.Join(parent, base+"-b")
	for _, d := range []string{dirA, dirB} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Skipf("cannot make a cgroup: %v", err)
		}
		t.Cleanup(func() { _ = os.Remove(d) })
	}
	rel := func(d string) string { return "/" + strings.TrimPrefix(strings.TrimPrefix(d, mnt), "/") }
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// Registered after the directories': runs first, so they are empty
	// when removed.
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	move := func(d string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatalf("moving %d to %s: %v", pid, d, err)
		}
	}
	move(dirA)

	r := newIterReader(t, Options{CmdlineTTL: time.Minute})
	if !r.iter.Walking() {
		t.Skip(r.iter.WalkUnavailable)
	}
	scan := func() *Process {
		t.Helper()
		s, err := r.Scan(context.Background(), ScanOptions{Cgroups: true})
		if err != nil {
			t.Fatal(err)
		}
		p := find(s, pid)
		if p == nil || p.Read&SrcCgroup == 0 {
			t.Fatalf("pid %d without its cgroup: %+v", pid, p)
		}
		return p
	}
	// Until the child is past youngAge every scan reads its cgroup; once
	// it is older, one scan reads it and the memo holds it for the TTL.
	deadline := time.Now().Add(30 * time.Second)
	for p := scan(); p.StartedAt.IsZero() || time.Since(p.StartedAt) < youngAge+time.Second; p = scan() {
		if time.Now().After(deadline) {
			t.Fatalf("the child's age stays under %v: started %v", youngAge, p.StartedAt)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p := scan(); p.Cgroup != rel(dirA) {
		t.Fatalf("before the move: %q, want %q", p.Cgroup, rel(dirA))
	}
	move(dirB)
	if p := scan(); p.Cgroup != rel(dirB) {
		t.Errorf("at the scan after the move: %q, want %q", p.Cgroup, rel(dirB))
	}
	move(dirA)
	if p := scan(); p.Cgroup != rel(dirA) {
		t.Errorf("at the scan after the move back: %q, want %q", p.Cgroup, rel(dirA))
	}
}
