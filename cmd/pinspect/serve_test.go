package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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

	"github.com/pinspect/pinspect/fixtures/livehelper"
	"github.com/pinspect/pinspect/views/metrics"
)

// buildPinspect builds this command into a temporary directory.
func buildPinspect(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pinspect")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var urlLine = regexp.MustCompile(`msg="pinspect serve" url=(https?://[^ ]+/)`)

// startServe runs `pinspect serve args...` and returns its base URL (from
// its log) once it listens. The agent is stopped with SIGTERM at cleanup,
// and must exit 0.
func startServe(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	var logBuf bytes.Buffer
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logBuf.WriteString(sc.Text() + "\n")
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		<-logDone
		if err != nil && !t.Failed() {
			t.Errorf("pinspect serve exited with %v after SIGTERM\n%s", err, logBuf.String())
		}
	})
	select {
	case u := <-urls:
		return u
	case <-logDone:
		t.Fatalf("pinspect serve exited early:\n%s", logBuf.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("pinspect serve: no url in its log within 30s")
	}
	return ""
}

func TestServeDefaultListenIsLoopback(t *testing.T) {
	var errOut lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	a := &app{stdout: io.Discard, stderr: &errOut, ctx: ctx, procRoot: "/proc"}
	cmd := newServeCmd(a)
	def := strings.Trim(cmd.Flags().Lookup("web.listen-address").DefValue, "[]")
	host, port, err := net.SplitHostPort(def)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || port != metrics.DefaultPort || port == "9256" {
		t.Fatalf("--web.listen-address default %q, want loopback port %s (not process-exporter's 9256)", def, metrics.DefaultPort)
	}
	// The agent really binds there when nothing else does.
	if l, err := net.Listen("tcp", def); err != nil {
		t.Skipf("port %s busy (%v): the default cannot be started here", def, err)
	} else {
		l.Close()
	}
	cmd.SetArgs([]string{"--interval", "1s", "--no-threads"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	want := `url=http://` + def + `/`
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errOut.String(), want) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no %q in the log:\n%s", want, errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, err := http.Get("http://" + def + "/"); err != nil {
		t.Errorf("GET / on the default address: %v", err)
	} else {
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve after cancel: %v", err)
	}
}

func TestServeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--interval", "1ms"},
		{"serve", "--metrics.config.file", "/nonexistent/pinspect-metrics.yml"},
		{"serve", "--metrics.config.file", "/dev/zero"},
		{"serve", "--metrics.zombie-parents", "100000"},
		{"serve", "--log.level", "loud"},
		{"serve", "--web.scrape-allow", "10.0.0.0/8"},
		{"serve", "--web.scrape-address", "127.0.0.1:0", "--web.scrape-allow", "not-a-network"},
		{"serve", "--web.scrape-address", "unix:relative.sock"},
		{"serve", "--web.scrape-address", ":9920"},
		{"serve", "--web.scrape-address", "unix:/tmp/x.sock", "--web.scrape-socket-mode", "0999"},
		{"serve", "--web.scrape-address", "unix:/tmp/x.sock", "--web.scrape-socket-group", "no-such-group-pinspect"},
		// Flags that would do nothing for the addresses given.
		{"serve", "--web.scrape-address", "unix:/tmp/x.sock", "--web.scrape-allow", "10.0.0.5"},
		{"serve", "--web.scrape-address", "127.0.0.1:0", "--web.scrape-socket-mode", "0600"},
		{"serve", "--web.scrape-address", "127.0.0.1:0", "--web.scrape-socket-group", "0"},
		{"serve", "--web.scrape-address", "unix:/" + strings.Repeat("s", maxSocketPath)},
	} {
		var o, e bytes.Buffer
		if code := run(args, &o, &e); code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %s", args, code, exitUsage, e.String())
		}
		// The message names the flag that was given.
		if args[1] == "--web.scrape-address" && strings.Contains(e.String(), "--web.listen-address") {
			t.Errorf("%q: the message names --web.listen-address: %s", args, e.String())
		}
	}
	var o, e bytes.Buffer
	cfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfg, []byte("basic_auth_users:\n  u: not-a-bcrypt-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"serve", "--listen", "127.0.0.1:0", "--web.config.file", cfg}, &o, &e); code != exitUsage || !strings.Contains(e.String(), "web.config.file") {
		t.Errorf("bad web config: exit %d, stderr %q", code, e.String())
	}
}

// freePort returns a loopback address that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// promQuery runs an instant query against Prometheus's HTTP API and
// returns the result vector.
func promQuery(base, q string) ([]promSample, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, r.Error)
	}
	return r.Data.Result, nil
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSample) float() float64 {
	v, _ := s.Value[1].(string)
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

// TestServeWithPrometheus runs a real Prometheus server on loopback that
// scrapes `pinspect serve` (with basic auth) and waits until a staged
// zombie shows in Prometheus; it also runs promtool on the exposition and
// on the shipped rules. Outside CI it is skipped when Prometheus is not
// installed; in CI (CI=true) it must run.
func TestServeWithPrometheus(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("prometheus not installed, and CI=true: .ci/run installs the Debian package")
		}
		t.Skip("prometheus not installed (apt-get install prometheus); runs in CI")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("prometheus without promtool: %v", err)
	}
	rules, err := filepath.Abs("../../docs/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules %s: %v\n%s", rules, err, out)
	}
	if out, err := exec.Command(promtool, "test", "rules", "../../docs/prometheus/rules_test.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool test rules docs/prometheus/rules_test.yml: %v\n%s", err, out)
	}
	if out, err := exec.Command(promtool, "check", "config", "../../docs/prometheus/prometheus.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool check config docs/prometheus/prometheus.yml: %v\n%s", err, out)
	}

	dir := t.TempDir()
	const user, password = "prometheus", "scrape-secret"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	mustWrite(t, webCfg, "basic_auth_users:\n  "+user+": "+string(hash)+"\n")
	base := startServe(t, buildPinspect(t), "--listen", "127.0.0.1:0", "--interval", "1s", "--web.config.file", webCfg,
		"--metrics.zombie-parents", "1000") // other tests' zombie parents must not crowd the helper out
	target := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/")

	// promtool check metrics on a real exposition.
	expo := authGet(t, base+"metrics", user, password, 120*time.Second, "pinspect_processes")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(expo)
	if out, err := check.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	// The agent refuses a wrong password.
	req, _ := http.NewRequest(http.MethodGet, base+"metrics", nil)
	req.SetBasicAuth(user, "wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong password: %s, want 401", resp.Status)
		}
	}

	promAddr := freePort(t)
	promCfg := filepath.Join(dir, "prometheus.yml")
	mustWrite(t, promCfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: pinspect
    basic_auth:
      username: %s
      password: %s
    static_configs:
      - targets: [%q]
`, rules, user, password, target))
	prom := exec.Command(promBin,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr,
		"--log.level=warn")
	var promLog bytes.Buffer
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = prom.Process.Signal(syscall.SIGTERM)
		_ = prom.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
		}
	})
	promURL := "http://" + promAddr

	// Stage the zombies after the agent and Prometheus are up: the series
	// appears when they exist.
	z := livehelper.Start(t, "zombies", "2")
	q := fmt.Sprintf(`pinspect_zombie_parent_zombies{job="pinspect",pid="%d"}`, z.PID())
	var last []promSample
	var lastErr error
	deadline := time.Now().Add(180 * time.Second)
	for {
		last, lastErr = promQuery(promURL, q)
		if lastErr == nil && len(last) == 1 && last[0].float() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never showed %s = 2: last %v, err %v", q, last, lastErr)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if up, err := promQuery(promURL, `up{job="pinspect"}`); err != nil || len(up) != 1 || up[0].float() != 1 {
		t.Errorf("up{job=pinspect} = %v, %v", up, err)
	}
	if zs, err := promQuery(promURL, `pinspect_zombies{job="pinspect"}`); err != nil || len(zs) != 1 || zs[0].float() < 2 {
		t.Errorf("pinspect_zombies = %v, %v; want >= 2", zs, err)
	}
	checkDashboardQueries(t, promURL, target)
	if d, err := promQuery(promURL, `scrape_duration_seconds{job="pinspect"}`); err == nil && len(d) == 1 {
		t.Logf("Prometheus: scrape_duration_seconds %.4f", d[0].float())
	}
	// The shipped rules loaded and evaluate.
	resp, err := http.Get(promURL + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(body), `"type":"alerting"`); n < 5 {
		t.Errorf("Prometheus loaded %d alerting rules from %s, want >= 5", n, rules)
	}
}

// authGet polls url with basic auth until it answers 200 with a body
// containing want.
func authGet(t *testing.T, u, user, pass string, within time.Duration, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), want) {
				return string(b)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("GET %s: no 200 with %q within %s (last err %v)", u, want, within, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func mustWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestServeSystemdSocket: with --web.systemd-socket the agent serves on
// the socket systemd passes (socket activation: descriptor 3, LISTEN_PID
// its own pid, LISTEN_FDS the count) and binds nothing itself; without a
// passed socket it stops with a message instead of listening elsewhere.
// sh sets LISTEN_PID to its own pid and execs the agent, as systemd does.
func TestServeSystemdSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // the duplicate in f keeps the socket listening
	agent := command("serve", "--web.systemd-socket", "--interval", "1s", "--no-threads")
	cmd := exec.Command("sh", append([]string{"-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`}, agent.Args...)...)
	cmd.Env, cmd.ExtraFiles = agent.Env, []*os.File{f}
	asPinspect(cmd) // the lifeline after the socket: descriptor 4
	sp := startServeCmd(t, cmd)
	f.Close()
	if want := "http://" + addr; sp.base != want {
		t.Errorf("announced %s, want the passed socket's %s", sp.base, want)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	waitedFor(t, "a frame served on the passed socket", func() bool {
		v, ok := metric(t, c, "http://"+addr, "pinspect_frames_total")
		return ok && v >= 1
	})

	r := runCmd(t, command("serve", "--web.systemd-socket", "--interval", "1s"))
	if r.code == 0 || !strings.Contains(r.stderr, "--web.systemd-socket: no sockets passed") {
		t.Errorf("no socket passed: exit %d, stderr %q; want a failure saying no socket was passed", r.code, r.stderr)
	}
}

// TestServeJSONLog: --log.format json writes one JSON object a line, the
// fields a log pipeline indexes readable as they are (the interval as
// "1s", not nanoseconds); an unknown format is refused.
func TestServeJSONLog(t *testing.T) {
	cmd := command("serve", "--web.listen-address", "127.0.0.1:0", "--log.format", "json", "--interval", "1s", "--no-threads")
	log := &lockedBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var started map[string]any
	waitedFor(t, "the JSON line announcing the agent", func() bool {
		out := log.String()
		for _, line := range strings.Split(out[:strings.LastIndexByte(out, '\n')+1], "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("a log line that is not JSON: %q (%v)", line, err)
			}
			if m["msg"] == "pinspect serve" {
				started = m
				return true
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, log.String())
		default:
		}
		return false
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
	if started["interval"] != "1s" || started["level"] != "INFO" || !strings.HasPrefix(fmt.Sprint(started["url"]), "http://127.0.0.1:") {
		t.Errorf("the start line: %v; want interval \"1s\", level INFO and the url", started)
	}
	if r := runCmd(t, command("serve", "--log.format", "xml")); r.code != 2 || !strings.Contains(r.stderr, "--log.format") {
		t.Errorf("--log.format xml: exit %d, stderr %q; want 2 naming the flag", r.code, r.stderr)
	}
}

// TestServeTelemetryPath: --web.telemetry-path moves the metrics (the old
// path is then not found); a path the router would misread, or one it
// would refuse ("//x" panicked at start), is a usage error naming the
// flag.
func TestServeTelemetryPath(t *testing.T) {
	sp := startServeCmd(t, command("serve", "--web.listen-address", "127.0.0.1:0", "--web.telemetry-path", "/prom/metrics", "--interval", "1s", "--no-threads"))
	c := &http.Client{Timeout: 30 * time.Second}
	waitedFor(t, "a frame at /prom/metrics", func() bool {
		v, ok := metric(t, c, sp.base+"/prom", "pinspect_frames_total")
		return ok && v >= 1
	})
	resp, err := c.Get(sp.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics with --web.telemetry-path /prom/metrics: %s, want 404", resp.Status)
	}
	for _, bad := range []string{"//x", "/m/{x}", "/metrics/", "/a b", "/api/metrics", "metrics"} {
		r := runCmd(t, command("serve", "--web.listen-address", "127.0.0.1:0", "--web.telemetry-path", bad))
		if r.code != 2 || !strings.Contains(r.stderr, "--web.telemetry-path") {
			t.Errorf("--web.telemetry-path %q: exit %d, stderr %q; want 2 naming the flag", bad, r.code, r.stderr)
		}
	}
}

// TestServeScrapeSocket: --web.scrape-address unix:PATH is bound with the
// chosen mode and group and serves the metrics and the health endpoints,
// none of the API.
func TestServeScrapeSocket(t *testing.T) {
	bin := buildPinspect(t)
	sock := filepath.Join(t.TempDir(), "scrape.sock")
	startServe(t, bin, "--web.listen-address", freePort(t), "--interval", "1s", "--no-threads",
		"--web.scrape-address", "unix:"+sock, "--web.scrape-socket-mode", "0640", "--web.scrape-socket-group", "65534")
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o640 || st.Gid != 65534 {
		t.Errorf("scrape socket: mode %v, gid %d, want a socket of mode 0640 and gid 65534", fi.Mode(), st.Gid)
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	get := func(path string) (int, string) {
		resp, err := hc.Get("http://agent" + path)
		if err != nil {
			t.Fatalf("GET %s on the scrape socket: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := get("/metrics")
		if code == http.StatusOK && strings.Contains(body, "pinspect_http_scrape_connections 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scrape on the scrape socket: %d %.300s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := get("/api/v1/snapshot"); code != http.StatusNotFound {
		t.Errorf("the API on the scrape socket: %d, want 404", code)
	}
}

// TestIOShownFollowsWebConfig: serve reads io counters only while a
// client that is shown them can connect (ioShown): never over TCP
// without authentication, always with a unix socket, and with basic auth
// from the scan after a reload that turns it on until one turns it off.
func TestIOShownFollowsWebConfig(t *testing.T) {
	open, err := metrics.NewWeb("")
	if err != nil {
		t.Fatal(err)
	}
	if ioShown(false, open) {
		t.Error("TCP without authentication: io read for clients that are never shown it")
	}
	if !ioShown(true, open) {
		t.Error("a unix socket (root and its own processes' owners see io): io not read")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "web.yml")
	withAuth := "basic_auth_users:\n  u: " + string(hash) + "\n"
	mustWrite(t, cfg, withAuth)
	web, err := metrics.NewWeb(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		config string
		want   bool
	}{{withAuth, true}, {"# no authentication\n", false}, {withAuth, true}} {
		mustWrite(t, cfg, c.config)
		if err := web.Reload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if got := ioShown(false, web); got != c.want {
			t.Errorf("reload %d (%q): io read %v, want %v", i, c.config, got, c.want)
		}
	}
}

// TestServeHelpRoutes: serve --help and docs/METRICS.md's table list
// every path the agent answers (metrics.Server.Routes: what it
// registers); the help lacked /api/v1/explain/{pid} and /api/v1/frame
// (tester14). A new endpoint fails here until both name it.
func TestServeHelpRoutes(t *testing.T) {
	routes := metrics.NewServer(nil, metrics.ServerOptions{}).Routes()
	if len(routes) < 10 {
		t.Fatalf("routes %q: fewer than the ten served", routes)
	}
	r := pinspect(t, "serve", "--help")
	if r.code != 0 {
		t.Fatalf("serve --help: exit %d, %s", r.code, r.stderr)
	}
	doc, err := os.ReadFile("../../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range routes {
		// A line of the help's list starts with the path, or has it in a
		// list ("/-/healthy, /-/ready").
		inHelp := regexp.MustCompile(`(?m)^  (\S+, )*` + regexp.QuoteMeta(path) + `[ ,]`)
		if !inHelp.MatchString(r.stdout) {
			t.Errorf("serve --help does not list %s:\n%s", path, r.stdout)
		}
		if !strings.Contains(string(doc), "| `"+path) {
			t.Errorf("docs/METRICS.md's table does not list %s", path)
		}
	}
}
