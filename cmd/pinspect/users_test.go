package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// nssUID is the uid of the user the test makes known through NSS only.
const nssUID = 61234

// TestTruthUserFromNSS (issue 13, item 8): a user known through the
// system's user database but not /etc/passwd (as LDAP, SSSD or a systemd
// DynamicUser= user is) is named, and --user NAME finds its processes, as
// ps -u does. The user is staged in a private mount namespace as a
// systemd userdb record (/run/userdb/NAME.user, which the NSS module
// nss-systemd serves) under an nsswitch.conf that lists "systemd"; the
// host's files are not touched. --passwd-file keeps the file parser.
func TestTruthUserFromNSS(t *testing.T) {
	if out := os.Getenv("PINSPECT_NSS_CHILD_OUT"); out != "" {
		nssChild(t, out)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("stages a user in a private mount namespace: needs root (CI runs as root)")
	}
	if mods, _ := filepath.Glob("/usr/lib/*/libnss_systemd.so.2"); len(mods) == 0 {
		t.Fatal("libnss_systemd.so.2 is needed (Debian package libnss-systemd: .ci/run installs it)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	record := `{"userName":"truthnss","uid":61234,"gid":61234,"disposition":"regular","homeDirectory":"/nonexistent"}`
	if err := os.WriteFile(filepath.Join(dir, "truthnss.user"), []byte(record), 0o644); err != nil {
		t.Fatal(err)
	}
	nsswitch := "passwd: files systemd\ngroup: files systemd\n"
	if err := os.WriteFile(filepath.Join(dir, "nsswitch.conf"), []byte(nsswitch), 0o644); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "600")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nssUID, Gid: nssUID}}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	pid := strconv.Itoa(sleeper.Process.Pid)

	// Outside the namespace no database knows the user.
	if _, _, code := runInProcess(t, "ps", "--user", "truthnss"); code != 2 {
		t.Fatalf("truthnss is known outside the test's namespace (exit %d): the test cannot tell NSS from /etc/passwd", code)
	}
	out := filepath.Join(dir, "child.out")
	script := `set -e
mount -t tmpfs pinspect-test /run
mkdir /run/userdb
cp "$1/truthnss.user" /run/userdb/
ln -s truthnss.user /run/userdb/` + strconv.Itoa(nssUID) + `.user
mount --bind "$1/nsswitch.conf" /etc/nsswitch.conf
exec "$2" -test.run '^TestTruthUserFromNSS$'`
	cmd := exec.Command("unshare", "-m", "sh", "-c", script, "sh", dir, os.Args[0])
	cmd.Env = append(os.Environ(), "PINSPECT_NSS_CHILD_OUT="+out, "PINSPECT_NSS_CHILD_PID="+pid)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the namespaced run: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		"ps --user truthnss: exit 0\n",        // found, as ps -u finds it
		" truthnss S ",                        // named in the table
		`"user":"truthnss"`,                   // and in --json
		"--passwd-file /etc/passwd: exit 2\n", // the file parser does not know it
		" " + strconv.Itoa(nssUID) + " ",      // and shows the uid
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in the namespaced run's output:\n%s", want, got)
		}
	}
}

// nssChild is TestTruthUserFromNSS in the namespace: it runs pinspect's
// commands and writes what they print to the file out.
func nssChild(t *testing.T, out string) {
	pid := os.Getenv("PINSPECT_NSS_CHILD_PID")
	var b strings.Builder
	run := func(label string, args ...string) {
		o, e, code := runInProcess(t, args...)
		b.WriteString(label + ": exit " + strconv.Itoa(code) + "\n" + o + e + "\n")
	}
	run("ps --user truthnss", "ps", "--user", "truthnss", "--pid", pid)
	run("json", "--json", "--no-threads", "--pid", pid)
	run("--passwd-file /etc/passwd", "ps", "--user", "truthnss", "--passwd-file", "/etc/passwd")
	run("uid with --passwd-file", "ps", "--pid", pid, "--passwd-file", "/etc/passwd")
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
