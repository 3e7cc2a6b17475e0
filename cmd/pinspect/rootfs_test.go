package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pinspect/pinspect/collector/userfile"
)

// hostRoot lays out what a container sees of its host's root file system
// mounted at DIR: proc (here a fixture tree) and etc/passwd.
func hostRoot(t *testing.T, tree, passwd string) string {
	t.Helper()
	dir := t.TempDir()
	abs, err := filepath.Abs(fixtureRoot + tree)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "proc")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRootfs: --rootfs reads the host's proc and names users from the
// host's passwd, not the container's.
func TestRootfs(t *testing.T) {
	root := hostRoot(t, "multithread", "root:x:0:0::/root:/bin/sh\nhostalice:x:1000:1000::/home/alice:/bin/sh\n")
	out, errs, code := runInProcess(t, "ps", "--rootfs", root, "--user", "hostalice")
	if code != 0 || !strings.HasPrefix(strings.Split(out, "\n")[1], "100 ") || !strings.Contains(out, "hostalice") || !strings.Contains(out, "1 process,") {
		t.Fatalf("ps --rootfs --user hostalice: exit %d\n%s%s", code, out, errs)
	}
	// --passwd-file alone, with this machine's /proc tree given apart.
	out, errs, code = runInProcess(t, "ps", "--proc-root", fixtureRoot+"multithread", "--passwd-file", filepath.Join(root, "etc", "passwd"), "--pid", "100")
	if code != 0 || !strings.Contains(out, "hostalice") {
		t.Fatalf("ps --passwd-file: exit %d\n%s%s", code, out, errs)
	}
	// --proc-root wins over --rootfs's proc (the zombie tree has pid 201);
	// the names still come from the rootfs's passwd.
	out, errs, code = runInProcess(t, "ps", "--rootfs", root, "--proc-root", fixtureRoot+"zombie", "--json")
	if code != 0 || !strings.Contains(out, `"pid":201,`) || !strings.Contains(out, `"user":"hostalice"`) {
		t.Fatalf("--proc-root with --rootfs: exit %d\n%s%s", code, out, errs)
	}
}

// TestRootfsBadFiles: a named passwd file or root that is not what it
// should be is refused at once with exit 2: never a hang on a FIFO, never
// an unbounded read, never names silently turned into numbers.
func TestRootfsBadFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(userfile.MaxPasswdBytes + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	noPasswd := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--passwd-file", fifo}, "not a regular file (a FIFO)"},
		{[]string{"--passwd-file", dir}, "not a regular file (a directory)"},
		{[]string{"--passwd-file", "/dev/zero"}, "not a regular file (a character device)"},
		{[]string{"--passwd-file", huge}, "file too large: 67108865 bytes, at most 67108864"},
		{[]string{"--passwd-file", filepath.Join(dir, "missing")}, "no such file or directory"},
		{[]string{"--rootfs", filepath.Join(dir, "missing")}, "--rootfs: stat"},
		{[]string{"--rootfs", huge}, "not a directory"},
		{[]string{"--rootfs", noPasswd}, "etc/passwd: no such file or directory"},
	} {
		r := pinspect(t, append([]string{"ps"}, c.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("ps %q: exit %d stderr %q, want exit 2 with %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
