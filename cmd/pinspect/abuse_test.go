package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"
)

// The tests of this file run pinspect as a user would, against the
// breaks of issue 19 that live in the command: files a user names,
// listen addresses, signals, descriptors, a process that hangs. Each
// waits for conditions with generous deadlines; none asserts a duration.
// PINSPECT_TEST_BIN (see command) runs them against another build.

// runBounded runs pinspect args; after limit it is killed (a hang is the
// failure these tests look for) and ended is false.
func runBounded(t *testing.T, limit time.Duration, args ...string) (r result, ended bool) {
	t.Helper()
	cmd := command(args...)
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
		ended = true
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		err = <-done
	}
	r = result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signal = ws.Signal()
		}
	}
	return r, ended
}

// TestServeBoundedConfigFiles: a web config that never ends (/dev/zero
// read 700 MB in 3 s and once 22 GB), a FIFO (hung for ever, after the
// port was already listening), a directory, a file too large, and a
// config naming /dev/zero as its certificate: each is refused at once with
// a message naming the file and why, exit 2, before anything listens or
// the URL is announced.
func TestServeBoundedConfigFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yml")
	must(t, unix.Mkfifo(fifo, 0o600))
	big := filepath.Join(dir, "big.yml")
	must(t, os.WriteFile(big, []byte("# "+strings.Repeat("x", 2<<20)+"\n"), 0o600))
	cert := filepath.Join(dir, "cert.yml")
	must(t, os.WriteFile(cert, []byte("tls_server_config:\n  cert_file: /dev/zero\n  key_file: /dev/zero\n"), 0o600))
	for _, c := range []struct{ file, why string }{
		{"/dev/zero", "not a regular file"},
		{fifo, "not a regular file"},
		{dir, "not a regular file"},
		{big, "too large"},
		{cert, "cert_file"},
	} {
		addr := freePort(t)
		r, ended := runBounded(t, 60*time.Second, "serve", listenFlag(), addr, "--web.config.file", c.file, "--no-connector")
		if !ended {
			t.Errorf("--web.config.file %s: still running after 60 s", c.file)
			continue
		}
		if r.code != exitUsage || !strings.Contains(r.stderr, c.file) || !strings.Contains(r.stderr, c.why) {
			t.Errorf("--web.config.file %s: exit %d, stderr %q; want %d and %q", c.file, r.code, r.stderr, exitUsage, c.why)
		}
		if strings.Contains(r.stderr, "url=") {
			t.Errorf("--web.config.file %s: the URL was announced: %q", c.file, r.stderr)
		}
	}
}

// TestServeStopsWhileStarting: SIGTERM reaches serve at every stage of
// its start, and a /proc root whose files would block no longer hangs it.
// A FIFO where the hostname should be used to hang the start (only the
// signal's grace ended it); now the hostname is unavailable ("would
// block"), serve starts, and a signal stops it cleanly. Then SIGTERM
// comes at several points of the start (from at once to 200 ms in): each
// time serve exits within the deadline, with 0 or 143 (or by the signal
// itself before its handler is installed).
func TestServeStopsWhileStarting(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "sys", "kernel"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "1"), 0o755))
	hostname := filepath.Join(root, "sys", "kernel", "hostname")
	must(t, unix.Mkfifo(hostname, 0o600))
	t.Cleanup(func() {
		if fd, err := unix.Open(hostname, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
	})
	stopped := func(cmd *exec.Cmd, done <-chan error, errb *lockedBuffer, when string) {
		t.Helper()
		must(t, cmd.Process.Signal(syscall.SIGTERM))
		select {
		case err := <-done:
			// Before the Go runtime installs its handlers (the first
			// milliseconds) the signal's default action ends the process.
			var ee *exec.ExitError
			killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM
			if err != nil && !killed && (!errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM)) {
				t.Errorf("serve stopped %s: %v, want exit 0 or 143; stderr %q", when, err, errb.String())
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("serve ignored SIGTERM %s", when)
		}
	}

	sp := startServeCmd(t, command("serve", "--proc-root", root, listenFlag(), freePort(t), "--no-connector"))
	stopped(sp.cmd, sp.done, sp.log, "after a start with a FIFO for a hostname")
	sp.done <- nil // for startServeCmd's cleanup, which waits for the exit

	for _, after := range []time.Duration{0, 2 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond} {
		cmd := command("serve", "--proc-root", root, listenFlag(), freePort(t), "--no-connector")
		var errb lockedBuffer
		cmd.Stderr = &errb
		must(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		time.Sleep(after)
		stopped(cmd, done, &errb, fmt.Sprintf("%s into its start", after))
	}
}

// blockedIn reports whether a thread of pid sleeps in a kernel function
// whose name contains what (wchan: pipe_read, fifo_open, pipe_write...).
func blockedIn(pid int, what string) bool {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/wchan")
	for _, w := range tasks {
		if b, err := os.ReadFile(w); err == nil && strings.Contains(string(b), what) {
			return true
		}
	}
	return false
}

// waitedFor polls cond for up to a minute.
func waitedFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeWildcardListen: an empty or wildcard host used to bind every
// interface with only a warning. Without --web.listen-any it is a usage
// error.
func TestServeWildcardListen(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", ""},
		{"--listen", ":0"},
		{listenFlag(), "0.0.0.0:0"},
		{listenFlag(), "[::]:0"},
		{listenFlag(), "127.0.0.1"},
		{listenFlag(), "unix:relative.sock"},
	} {
		r, ended := runBounded(t, 60*time.Second, append([]string{"serve", "--no-connector"}, args...)...)
		if !ended || r.code != exitUsage {
			t.Errorf("serve %q: ended %v, exit %d, stderr %q; want usage error 2", args, ended, r.code, r.stderr)
		}
		if args[1] == "" || strings.HasPrefix(args[1], ":") || strings.Contains(args[1], "0.0.0.0") || strings.Contains(args[1], "::") {
			if !strings.Contains(r.stderr, "--web.listen-any") {
				t.Errorf("serve %q: the message does not name --web.listen-any: %q", args, r.stderr)
			}
		}
	}
}

// TestIntervalFloor: --interval 1ns was accepted and burned 1-1.7 cores;
// every command refuses an interval under 100ms.
func TestIntervalFloor(t *testing.T) {
	for _, args := range [][]string{
		{"--interval", "1ns"},
		{"watch", "--interval", "1ns", "--no-connector"},
		{"serve", "--interval", "99ms", "--no-connector"},
	} {
		r, ended := runBounded(t, 60*time.Second, args...)
		if !ended || r.code != exitUsage || !strings.Contains(r.stderr, "at least 100ms") {
			t.Errorf("%q: ended %v, exit %d, stderr %q; want a usage error", args, ended, r.code, r.stderr)
		}
	}
}

// TestStopOnStalledPipe: SIGTERM and SIGINT were ignored while a write
// to a pipe nobody reads blocked (the documented 143 and 130 never came;
// the process hung until the reader went away). Now the process ends
// with 128 + the signal.
func TestStopOnStalledPipe(t *testing.T) {
	if countProcs(t) < 50 {
		t.Skip("too few processes for the output to fill a pipe")
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		pr, pw, err := os.Pipe()
		must(t, err)
		if _, err := unix.FcntlInt(pw.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
			t.Fatal(err)
		}
		cmd := command("--json")
		cmd.Stdout = pw
		var errb lockedBuffer
		cmd.Stderr = &errb
		must(t, cmd.Start())
		pw.Close()
		waitedFor(t, "pinspect to block writing to the pipe", func() bool { return blockedIn(cmd.Process.Pid, "pipe_write") })
		must(t, cmd.Process.Signal(sig))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
				t.Errorf("%v on a stalled pipe: %v, want exit %d", sig, err, 128+int(sig))
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("%v on a stalled pipe: still running after 60 s", sig)
		}
		pr.Close()
	}
}

// serveProc is a `pinspect serve` started by a test, with its log.
type serveProc struct {
	cmd  *exec.Cmd
	base string
	log  *lockedBuffer
	done chan error
}

var serveURL = regexp.MustCompile(`url=(https?://[^ ]+/)`)

// startServeCmd starts cmd (a serve command line) and waits for its URL.
func startServeCmd(t *testing.T, cmd *exec.Cmd) *serveProc {
	t.Helper()
	sp := &serveProc{cmd: cmd, log: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = sp.log
	must(t, cmd.Start())
	go func() { sp.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-sp.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	waitedFor(t, "serve to announce its URL", func() bool {
		if m := serveURL.FindStringSubmatch(sp.log.String()); m != nil {
			sp.base = strings.TrimSuffix(m[1], "/")
			return true
		}
		select {
		case err := <-sp.done:
			t.Fatalf("serve exited: %v\n%s", err, sp.log.String())
		default:
		}
		return false
	})
	return sp
}

// metric returns the value of an unlabelled metric (or the first series
// of a name) from a scrape.
func metric(t *testing.T, c *http.Client, base, name string) (float64, bool) {
	t.Helper()
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// fdCount is the number of open descriptors of pid.
func fdCount(pid int) int {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	return len(ents)
}

// TestServeSurvivesFDExhaustion: with `ulimit -n 64`, 70 idle
// connections exhausted the descriptors, the monitor failed to read
// /proc three times and serve exited. Now (1) the default connection cap
// keeps a reserve of descriptors, so a flood never starves the scans; and
// (2) even with a cap set too high on purpose, so that descriptors do run
// out, the monitor counts the failed scans, goes on, and recovers.
func TestServeSurvivesFDExhaustion(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("no prlimit")
	}
	flood := func(base string, n int) []net.Conn {
		var cs []net.Conn
		for range n {
			c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 10*time.Second)
			if err != nil {
				continue
			}
			fmt.Fprintf(c, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
			cs = append(cs, c)
		}
		return cs
	}
	// handled waits until the server has dealt with every connection of
	// the flood: each was answered (its request served, or a 503 at the
	// cap) or closed (evicted to make room). Until then the server is
	// still accepting the flood, and a scrape behind it in the accept
	// queue could be closed as a connection that has sent nothing yet,
	// before its request is read: on a loaded machine, by a flood
	// connection leaving the waiting room. After it the cap is held by
	// the flood's idle connections, which is the case to test.
	handled := func(t *testing.T, cs []net.Conn) {
		t.Helper()
		var b [1]byte
		for i, c := range cs {
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			if _, err := c.Read(b[:]); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("flood connection %d of %d neither answered nor closed", i, len(cs))
			}
			_ = c.SetReadDeadline(time.Time{})
		}
	}
	closeAll := func(cs []net.Conn) {
		for _, c := range cs {
			c.Close()
		}
	}
	c := &http.Client{Timeout: 30 * time.Second}
	for _, tc := range []struct {
		name     string
		maxConns string // "" for the default
	}{{"default cap", ""}, {"cap too high", "500"}} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--nofile=64:64", "--", os.Args[0], "serve", listenFlag(), freePort(t),
				"--interval", "100ms", "--no-connector", "--no-threads"}
			if tc.maxConns != "" {
				args = append(args, "--web.max-connections", tc.maxConns)
			}
			cmd := exec.Command("prlimit", args...)
			asPinspect(cmd)
			sp := startServeCmd(t, cmd)
			pid := cmd.Process.Pid
			waitedFor(t, "the first scrape", func() bool { _, ok := metric(t, c, sp.base, "pinspect_frames_total"); return ok })
			cs := flood(sp.base, 120)
			if tc.maxConns != "" {
				// Descriptors run out; hold them for many intervals (the
				// old monitor gave up after three failed scans).
				waitedFor(t, "the descriptors to run out", func() bool { return fdCount(pid) >= 63 })
				time.Sleep(time.Second)
			} else {
				if n := fdCount(pid); n >= 60 {
					t.Errorf("%d descriptors open under a flood with the default cap", n)
				}
				// A scrape gets through the flood, its connections held
				// open (an idle one makes room).
				handled(t, cs)
				if _, ok := metric(t, c, sp.base, "pinspect_frames_total"); !ok {
					t.Error("no scrape during the flood")
				}
			}
			closeAll(cs)
			select {
			case err := <-sp.done:
				t.Fatalf("serve exited under the flood: %v\n%s", err, sp.log.String())
			default:
			}
			var f1 float64
			waitedFor(t, "a scrape after the flood", func() bool { var ok bool; f1, ok = metric(t, c, sp.base, "pinspect_frames_total"); return ok })
			waitedFor(t, "scans to go on", func() bool { f2, ok := metric(t, c, sp.base, "pinspect_frames_total"); return ok && f2 > f1 })
			fails, _ := metric(t, c, sp.base, "pinspect_scan_failures_total")
			if tc.maxConns == "" && fails > 0 {
				t.Errorf("%v scans failed with the default cap: the reserve of descriptors did not hold", fails)
			}
			if tc.maxConns != "" && fails == 0 {
				t.Logf("no scan failed although descriptors ran out (the flood came between two scans)")
			}
		})
	}
}

// TestServeHungProcess: a process whose memory-map reads never return
// (a FIFO where its maps should be: a process whose mmap lock is held by
// a thread stuck on a FUSE file reads the same way). About 70 requests
// for it used to spend the shared cap on stuck reads, after which the
// scanner skipped every command line. Now the process is not read again
// while its read is stuck (one stuck read, not 70), and the scanner's
// budget is its own.
func TestServeHungProcess(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(hostileRoot, "100")
	for _, f := range []string{"stat", "loadavg", "meminfo", "uptime", "cpuinfo"} {
		if b, err := os.ReadFile(filepath.Join(hostileRoot, f)); err == nil {
			must(t, os.WriteFile(filepath.Join(root, f), b, 0o644))
		}
	}
	stat, err := os.ReadFile(filepath.Join(src, "stat"))
	must(t, err)
	status, err := os.ReadFile(filepath.Join(src, "status"))
	must(t, err)
	addProc := func(pid int) string {
		dir := filepath.Join(root, strconv.Itoa(pid))
		task := filepath.Join(dir, "task", strconv.Itoa(pid))
		must(t, os.MkdirAll(task, 0o755))
		st := append([]byte(strconv.Itoa(pid)), stat[3:]...)
		for _, d := range []string{dir, task} {
			must(t, os.WriteFile(filepath.Join(d, "stat"), st, 0o644))
			must(t, os.WriteFile(filepath.Join(d, "status"), status, 0o644))
		}
		must(t, os.WriteFile(filepath.Join(dir, "cmdline"), []byte("ok\x00"), 0o644))
		return dir
	}
	for pid := 300; pid < 400; pid++ {
		addProc(pid)
	}
	maps := filepath.Join(addProc(400), "maps")
	must(t, unix.Mkfifo(maps, 0o644))
	t.Cleanup(func() {
		for range 80 {
			if fd, err := unix.Open(maps, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				unix.Close(fd)
			}
		}
	})
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	must(t, err)
	cfg := filepath.Join(t.TempDir(), "web.yml")
	must(t, os.WriteFile(cfg, []byte("basic_auth_users:\n  u: "+string(hash)+"\n"), 0o600))
	sp := startServeCmd(t, command("serve", "--proc-root", root, listenFlag(), freePort(t), "--web.config.file", cfg,
		"--interval", "100ms", "--no-connector", "--metrics.cmdline"))
	c := &http.Client{Timeout: 60 * time.Second}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, sp.base+path, nil)
		req.SetBasicAuth("u", "pw")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitedFor(t, "the first scan", func() bool { code, _ := get("/-/ready"); return code == 200 })
	for i := range 70 {
		code, body := get("/api/v1/processes/400")
		if code != http.StatusOK || !strings.Contains(body, `"maps":"timeout`) {
			t.Fatalf("request %d for the hung process: %d %.300s", i, code, body)
		}
	}
	// The scanner still reads every command line.
	waitedFor(t, "a scan after the requests", func() bool {
		code, body := get("/api/v1/snapshot?threads=false&pid=300,350,399")
		return code == 200 && strings.Count(body, `"cmdline":["ok"]`) == 3
	})
	_, body := get("/api/v1/snapshot?threads=false")
	if n := strings.Count(body, "skipped (reads stuck)"); n > 0 {
		t.Errorf("%d processes skipped by the scanner after the requests", n)
	}
	req, _ := http.NewRequest(http.MethodGet, sp.base+"/metrics", nil)
	req.SetBasicAuth("u", "pw")
	resp, err := c.Do(req)
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "\npinspect_api_stuck_reads 1\n") {
		t.Errorf("want one stuck read for the API's 70 requests: %s", grepLines(string(b), "stuck"))
	}
}

// listenFlag is serve's address flag: --web.listen-address, or the
// first releases' --listen when PINSPECT_TEST_BIN runs an older build.
func listenFlag() string {
	if os.Getenv("PINSPECT_TEST_BIN") != "" {
		return "--listen"
	}
	return "--web.listen-address"
}

func grepLines(s, what string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, what) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRemotePasswordFile: the --remote password comes from a file (a
// regular one, bounded) or the environment, never from the command line.
func TestRemotePasswordFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pw")
	must(t, os.WriteFile(f, []byte("s3cret\n"), 0o600))
	a := &app{remotePassFile: f}
	if _, pass, err := a.remoteCredentials(); err != nil || pass != "s3cret" {
		t.Errorf("password file: %q, %v", pass, err)
	}
	for _, bad := range []string{"/dev/zero", t.TempDir()} {
		a.remotePassFile = bad
		if _, _, err := a.remoteCredentials(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("--remote.password-file %s: %v", bad, err)
		}
	}
	t.Setenv("PINSPECT_REMOTE_PASSWORD", "env-pw")
	t.Setenv("PINSPECT_REMOTE_USER", "prom")
	a.remotePassFile = ""
	if user, pass, err := a.remoteCredentials(); err != nil || user != "prom" || pass != "env-pw" {
		t.Errorf("environment: %q %q %v", user, pass, err)
	}
}

// TestServeUnixSocketMode: the socket was made connectable by a chmod of
// its path after it was bound; in a directory another user may write,
// that path could be swapped for a symbolic link to any file in between,
// and root's chmod would follow it. The mode now comes from the umask at
// bind time: the socket is 0666 and no chmod is made by path.
func TestServeUnixSocketMode(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "p.sock")
	old := unix.Umask(0o077) // a strict umask must not leak into the socket's mode
	ls, err := listenAll([]listenAddr{{"unix", sock}}, false)
	if after := unix.Umask(old); after != 0o077 {
		t.Errorf("umask after listening %#o, want the previous %#o back", after, 0o077)
	}
	must(t, err)
	defer ls[0].Close()
	fi, err := os.Lstat(sock)
	must(t, err)
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, want a socket with 0666", fi.Mode())
	}
	// A symbolic link where the socket should be is refused, never followed.
	target := filepath.Join(dir, "target")
	must(t, os.WriteFile(target, nil, 0o600))
	link := filepath.Join(dir, "link.sock")
	must(t, os.Symlink(target, link))
	if _, err := listenAll([]listenAddr{{"unix", link}}, false); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("a symbolic link at the socket path: %v, want refused", err)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the link's target: %v %v, want untouched 0600", fi.Mode(), err)
	}
}
