package main

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPasswdFileNotPasswd: a --passwd-file (or --rootfs's etc/passwd)
// that is not a passwd file, random bytes, a text file of other lines,
// an empty file, is refused at once with exit 2 and says which line is
// wrong; it was read as a passwd file naming nobody, every owner a
// number. A real passwd file (this machine's, the fixtures') is taken.
func TestPasswdFileNotPasswd(t *testing.T) {
	dir := t.TempDir()
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(11, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rootfs := hostRoot(t, "multithread", string(random))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--passwd-file", write("random", string(random))}, "not a passwd file: not text"},
		{[]string{"--passwd-file", write("uid", "root:x:zero:0::/root:/bin/sh\n")}, `not a passwd file: no entry (name:password:UID:GID:GECOS:home:shell); line 1 has UID "zero", not a number`},
		{[]string{"--passwd-file", write("nul", "root:x:0:0::/root:/bin/sh\x00\n")}, "not a passwd file: not text (a NUL byte on line 1)"},
		{[]string{"--passwd-file", write("empty", "")}, "not a passwd file: no entry"},
		{[]string{"--rootfs", rootfs}, "etc/passwd: not a passwd file: not text"},
	} {
		r := pinspect(t, append([]string{"ps"}, c.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("ps %q: exit %d stderr %q, want exit 2 with %q", c.args, r.code, r.stderr, c.want)
		}
	}
	for _, good := range []string{"/etc/passwd", filepath.Join("..", "..", "fixtures", "passwd"),
		write("compat", "# local users\nroot:x:0:0:root:/root:/bin/sh\r\n\n+@admins::::::\n-bob\n")} {
		if r := pinspect(t, "ps", "--proc-root", fixtureRoot+"multithread", "--passwd-file", good, "--pid", "100"); r.code != 0 || r.stderr != "" {
			t.Errorf("ps --passwd-file %s: exit %d stderr %q", good, r.code, r.stderr)
		}
	}
	// A host's passwd with a Latin-1 GECOS field and a broken line is
	// still its passwd (glibc skips the bad line): taken, the skipped line
	// said once on stderr (review5 M1: exit 2 made serve restart forever).
	host := write("host", "root:x:0:0:root:/root:/bin/sh\nhello world\njuergen:x:1000:1000:J\xfcrgen:/home/juergen:/bin/bash\n")
	r := pinspect(t, "ps", "--proc-root", fixtureRoot+"multithread", "--passwd-file", host, "--pid", "100")
	if want := "2 entries read; 1 other line skipped as no entry (first: line 2 has 1 colon-separated fields, want 7"; r.code != 0 || !strings.Contains(r.stderr, want) || r.stdout == "" {
		t.Errorf("ps --passwd-file host: exit %d stderr %q, want exit 0 and %q", r.code, r.stderr, want)
	}
}

// TestRemotePasswordFileNotPassword: a --remote.password-file of random
// bytes, or of several lines, is no basic-auth password (RFC 7617: no
// control character): refused with exit 2 rather than sent to the agent.
func TestRemotePasswordFileNotPassword(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"random": "pw\x00\xff\xfe\x01rest", "lines": "one\ntwo\n", "escape": "pw\x1b[2J"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		a := &app{remotePassFile: p}
		_, _, err := a.remoteCredentials()
		var usage usageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), "not a password file") {
			t.Errorf("%s: %v, want a usage error (exit 2) saying it is not a password file", name, err)
		}
	}
}
