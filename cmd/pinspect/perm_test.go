package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// nobody is the unprivileged uid and gid the permission tests run as.
const nobody = "65534"

// needNobody skips unless the test runs as root with setpriv(1), which the
// permission tests need to run pinspect as uid 65534.
func needNobody(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to uid 65534")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv(1) not installed")
	}
	return setpriv
}

// asNobody returns a command running pinspect (a copy of the test binary
// that uid 65534 can execute) as uid/gid 65534 with no groups, through
// setpriv(1).
func asNobody(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	setpriv := needNobody(t)
	bin := filepath.Join(publicDir(t), "pinspect")
	copyFile(t, os.Args[0], bin, 0o755)
	cmd := exec.Command(setpriv, append([]string{"--reuid=" + nobody, "--regid=" + nobody, "--clear-groups", bin}, args...)...)
	asPinspect(cmd)
	return cmd
}

// publicDir is a temporary directory that every user may enter (t.TempDir
// makes it and its parent mode 0700).
func publicDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// snapshotJSON is the part of the snapshot document the permission tests
// read.
type snapshotJSON struct {
	Summary struct {
		Processes int `json:"processes"`
		Scan      struct {
			Listed     int `json:"listed"`
			Denied     int `json:"denied"`
			Unreadable int `json:"unreadable"`
		} `json:"scan"`
	} `json:"summary"`
	Host struct {
		Unavailable map[string]string `json:"unavailable"`
	} `json:"host"`
	Processes []struct {
		PID         int               `json:"pid"`
		UID         *int              `json:"uid"`
		State       string            `json:"state"`
		Cmdline     []string          `json:"cmdline"`
		Unavailable map[string]string `json:"unavailable"`
	} `json:"processes"`
}

func decodeSnapshot(t *testing.T, r result) snapshotJSON {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc snapshotJSON
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v: %.200s", err, r.stdout)
	}
	return doc
}

// TestUnprivilegedRealProc: as uid 65534 on the real /proc, pinspect
// works; what it may not read (exe of root's processes) is counted as
// denied and shown as unavailable with the reason, and the process stays
// listed with what it could read.
func TestUnprivilegedRealProc(t *testing.T) {
	doc := decodeSnapshot(t, runCmd(t, asNobody(t, "--json", "--no-threads")))
	if doc.Summary.Scan.Denied == 0 {
		t.Error("no denied field counted as uid 65534")
	}
	var one *struct {
		PID         int               `json:"pid"`
		UID         *int              `json:"uid"`
		State       string            `json:"state"`
		Cmdline     []string          `json:"cmdline"`
		Unavailable map[string]string `json:"unavailable"`
	}
	for i := range doc.Processes {
		if doc.Processes[i].PID == 1 {
			one = &doc.Processes[i]
		}
	}
	if one == nil {
		t.Fatal("pid 1 not listed")
	}
	if one.State == "" || one.UID == nil || *one.UID != 0 {
		t.Errorf("pid 1: state %q uid %v: stat and status are readable by anyone", one.State, one.UID)
	}
	if one.Unavailable["exe"] != "permission denied" {
		t.Errorf("pid 1: unavailable %v, want exe: permission denied", one.Unavailable)
	}
	t.Logf("as uid 65534: %d processes, %d denied fields", doc.Summary.Processes, doc.Summary.Scan.Denied)

	r := runCmd(t, asNobody(t, "ps"))
	if r.code != 0 || !strings.Contains(r.stdout, "denied ") {
		t.Errorf("ps as uid 65534: exit %d, stderr %q", r.code, r.stderr)
	}
	checkTerminalSafe(t, r.stdout)
}

// TestDirectoryWithoutPermission: a process directory mode 000 (as a
// non-root reader sees another user's directory under hidepid=noaccess)
// keeps the process listed with each file denied.
func TestDirectoryWithoutPermission(t *testing.T) {
	root := filepath.Join(publicDir(t), "proc")
	if err := os.CopyFS(root, os.DirFS(hostileRoot)); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	locked := filepath.Join(root, "100")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	doc := decodeSnapshot(t, runCmd(t, asNobody(t, "--json", "--proc-root", root)))
	for _, p := range doc.Processes {
		if p.PID != 100 {
			continue
		}
		for _, f := range []string{"stat", "status", "cmdline", "task"} {
			if p.Unavailable[f] != "permission denied" {
				t.Errorf("pid 100: unavailable[%s] = %q, want permission denied", f, p.Unavailable[f])
			}
		}
		if p.State != "" || p.UID != nil {
			t.Errorf("pid 100: values shown from an unreadable directory: %+v", p)
		}
		// Unreadable: pid 100 itself plus the five malformed stats of the
		// hostile tree (110, 111, 112, 115, 116).
		if doc.Summary.Scan.Denied < 4 || doc.Summary.Scan.Unreadable != 1+5 {
			t.Errorf("scan counts %+v", doc.Summary.Scan)
		}
		return
	}
	t.Fatal("pid 100 (unreadable directory) not listed")
}

// mountProc mounts a new procfs instance with opts in a temporary
// directory, unmounted at cleanup.
func mountProc(t *testing.T, opts string) string {
	t.Helper()
	dir := filepath.Join(publicDir(t), "proc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("proc", dir, "proc", 0, opts); err != nil {
		t.Skipf("mount -t proc -o %s: %v", opts, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// TestHidepidInvisible: on a procfs mounted hidepid=invisible, uid 65534
// sees only its own processes; pinspect works and says what it cannot see
// (host.unavailable.processes in JSON, a line on stderr for ps).
func TestHidepidInvisible(t *testing.T) {
	needNobody(t)
	root := mountProc(t, "hidepid=invisible")
	doc := decodeSnapshot(t, runCmd(t, asNobody(t, "--json", "--no-threads", "--proc-root", root)))
	if doc.Summary.Processes == 0 {
		t.Fatal("no process listed: pinspect itself runs as uid 65534")
	}
	for _, p := range doc.Processes {
		if p.UID == nil || strconv.Itoa(*p.UID) != nobody {
			t.Errorf("pid %d of uid %v visible under hidepid=invisible", p.PID, p.UID)
		}
	}
	if note := doc.Host.Unavailable["processes"]; !strings.Contains(note, "hidepid=invisible") {
		t.Errorf("host.unavailable.processes = %q", note)
	}
	r := runCmd(t, asNobody(t, "ps", "--proc-root", root))
	if r.code != 0 || !strings.Contains(r.stderr, "hidepid=invisible: other users' processes are hidden") {
		t.Errorf("ps: exit %d, stderr %q", r.code, r.stderr)
	}
	t.Logf("hidepid=invisible as uid 65534: %d processes listed of %d on /proc", doc.Summary.Processes, countProcs(t))

	// subset=pid also hides the machine-wide files: still works.
	root = mountProc(t, "hidepid=invisible,subset=pid")
	doc = decodeSnapshot(t, runCmd(t, asNobody(t, "--json", "--no-threads", "--proc-root", root)))
	if doc.Summary.Processes == 0 || doc.Host.Unavailable["uptime"] != "not present" ||
		!strings.Contains(doc.Host.Unavailable["processes"], "subset=pid") {
		t.Errorf("subset=pid: %d processes, host unavailable %v", doc.Summary.Processes, doc.Host.Unavailable)
	}
}

// TestHidepidNoaccess: on a procfs mounted hidepid=noaccess, uid 65534
// lists every process but may read only its own: the others stay listed,
// with their files counted as denied and shown as unavailable.
func TestHidepidNoaccess(t *testing.T) {
	needNobody(t)
	root := mountProc(t, "hidepid=noaccess")
	doc := decodeSnapshot(t, runCmd(t, asNobody(t, "--json", "--no-threads", "--proc-root", root)))
	own, denied := 0, 0
	for _, p := range doc.Processes {
		switch {
		case p.UID != nil && strconv.Itoa(*p.UID) == nobody:
			own++
		case p.Unavailable["stat"] == "permission denied" && p.Unavailable["status"] == "permission denied":
			denied++
		default:
			t.Errorf("pid %d: neither own nor denied: %+v", p.PID, p)
		}
	}
	if own == 0 || denied < 10 || doc.Summary.Scan.Unreadable != denied || doc.Summary.Scan.Denied < 2*denied {
		t.Errorf("own %d, denied %d, scan %+v", own, denied, doc.Summary.Scan)
	}
	if note := doc.Host.Unavailable["processes"]; !strings.Contains(note, "hidepid=noaccess") {
		t.Errorf("host.unavailable.processes = %q", note)
	}
	t.Logf("hidepid=noaccess as uid 65534: %d own processes, %d listed without access, %d denied fields",
		own, denied, doc.Summary.Scan.Denied)
}

func countProcs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	return n
}

// TestHidepidPtraceable: hidepid=ptraceable shows uid 65534 only the
// processes it may ptrace (its own), and pinspect says so.
func TestHidepidPtraceable(t *testing.T) {
	needNobody(t)
	root := mountProc(t, "hidepid=ptraceable")
	doc := decodeSnapshot(t, runCmd(t, asNobody(t, "--json", "--no-threads", "--proc-root", root)))
	if doc.Summary.Processes == 0 {
		t.Fatal("no process listed")
	}
	for _, p := range doc.Processes {
		if p.UID == nil || strconv.Itoa(*p.UID) != nobody {
			t.Errorf("pid %d of uid %v visible under hidepid=ptraceable", p.PID, p.UID)
		}
	}
	if note := doc.Host.Unavailable["processes"]; !strings.Contains(note, "hidepid=ptraceable") {
		t.Errorf("host.unavailable.processes = %q", note)
	}
}
