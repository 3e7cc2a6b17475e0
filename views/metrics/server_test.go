package metrics

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
	"github.com/pinspect/pinspect/views/report"
)

// startServer runs a Server over src on an httptest server.
func startServer(t *testing.T, src Source, o ServerOptions) (*Server, *httptest.Server) {
	t.Helper()
	s := NewServer(src, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); cancel(); <-done })
	return s, hs
}

func getJSON(t *testing.T, url string, want int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %s, want %d: %s", url, resp.Status, want, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

func TestAPIDocuments(t *testing.T) {
	z := livehelper.Start(t, "zombies", "2")
	src := newFrameSource()
	_, hs := startServer(t, src, ServerOptions{Options: Options{ZombieParents: 5}})

	var e ErrorDoc
	getJSON(t, hs.URL+PathSnapshot, http.StatusServiceUnavailable, &e)
	if e.Error == "" {
		t.Error("503 without an error message")
	}

	sc := newScanner(t, true)
	// Generous: the only wait of the test, and it failed under a load
	// average of 100 to 400 (helpers building and testing at once).
	deadline := time.Now().Add(2 * time.Minute)
	var f *monitor.Frame
	for f = sc.frame(); countZombiesOf(f.Snapshot, z.PID()) < 2; f = sc.frame() {
		if time.Now().After(deadline) {
			t.Fatal("zombies never appeared")
		}
		livehelper.Sleep()
	}
	src.publish(f)

	var snap report.SnapshotDoc
	getJSON(t, hs.URL+PathSnapshot, http.StatusOK, &snap)
	if snap.Schema != report.SnapshotSchema || len(snap.Processes) != len(f.Snapshot.Processes) {
		t.Errorf("snapshot: schema %q, %d processes; want %q, %d", snap.Schema, len(snap.Processes), report.SnapshotSchema, len(f.Snapshot.Processes))
	}
	for _, p := range snap.Processes {
		if len(p.Cmdline) > 0 || len(p.CmdlineRaw) > 0 {
			t.Fatalf("pid %d: cmdline served without --metrics.cmdline", p.PID)
		}
	}
	var zs report.SnapshotDoc
	getJSON(t, hs.URL+PathSnapshot+"?state=Z&threads=false", http.StatusOK, &zs)
	// State Z is a zombie, or a live process whose leader thread exited
	// (another test's helper may be one): the summary counts the first.
	zombies := 0
	for _, p := range zs.Processes {
		if p.State != "Z" {
			t.Errorf("?state=Z: pid %d in state %s", p.PID, p.State)
		}
		if p.NumThreads == nil || *p.NumThreads <= 1 {
			zombies++
		}
	}
	if zs.Summary.Zombies < 2 || zs.Summary.Zombies != zombies {
		t.Errorf("?state=Z: %d zombies in %d processes, %d with at most one thread", zs.Summary.Zombies, len(zs.Processes), zombies)
	}
	getJSON(t, hs.URL+PathSnapshot+"?state=Q", http.StatusBadRequest, &e)

	var pe ProcessEntryDoc
	getJSON(t, hs.URL+PathProcesses+strconv.Itoa(z.PID()), http.StatusOK, &pe)
	if pe.Process.PID != z.PID() || pe.Process.State != "S" && pe.Process.State != "R" {
		t.Errorf("process %d: got pid %d state %q", z.PID(), pe.Process.PID, pe.Process.State)
	}
	if len(pe.Process.Threads) == 0 {
		t.Errorf("process %d: no thread rows", z.PID())
	}
	getJSON(t, hs.URL+PathProcesses+"0", http.StatusBadRequest, &e)
	getJSON(t, hs.URL+PathProcesses+"abc", http.StatusBadRequest, &e)
	getJSON(t, hs.URL+PathProcesses+"4194303", http.StatusNotFound, &e)      // the largest pid a kernel gives
	getJSON(t, hs.URL+PathProcesses+"2147483647", http.StatusBadRequest, &e) // above it: no pid

	var zd report.ZombiesDoc
	getJSON(t, hs.URL+PathZombies, http.StatusOK, &zd)
	if zd.Schema != report.ZombiesSchema || zd.Zombies < 2 {
		t.Errorf("zombies doc: %+v", zd)
	}
	found := false
	for _, g := range zd.Parents {
		if g.Parent.PID == z.PID() {
			found = len(g.Zombies) == 2 && g.Diagnosis != ""
		}
	}
	if !found {
		t.Errorf("zombies doc has no diagnosed group of 2 for parent %d: %+v", z.PID(), zd.Parents)
	}
	var od report.OrphansDoc
	getJSON(t, hs.URL+PathOrphans, http.StatusOK, &od)
	if od.Schema != report.OrphansSchema || od.Orphans == nil {
		t.Errorf("orphans doc: %+v", od)
	}

	// Only GET (and HEAD).
	resp, err := http.Post(hs.URL+PathSnapshot, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %s, want 405", PathSnapshot, resp.Status)
	}
}

// With Cmdline on, the API carries command lines, redacted.
func TestAPICmdlineOptIn(t *testing.T) {
	sc := newScanner(t, false)
	f := sc.frame()
	cp := *f.Snapshot
	cp.Processes = append([]collector.Process(nil), f.Snapshot.Processes...)
	cp.Processes[0].Cmdline = []string{"db", "--password=hunter2"}
	cp.Processes[0].Read |= collector.SrcCmdline
	f.Snapshot = &cp
	src := newFrameSource()
	src.publish(f)
	_, hs := startServer(t, src, ServerOptions{Options: Options{Cmdline: true}})
	var snap report.SnapshotDoc
	getJSON(t, hs.URL+PathSnapshot, http.StatusOK, &snap)
	got := strings.Join(snap.Processes[0].Cmdline, " ")
	if got != "db --password="+Redacted {
		t.Errorf("cmdline = %q, want the password redacted", got)
	}
}

func TestEventsStream(t *testing.T) {
	src := newFrameSource()
	sc := newScanner(t, false)
	src.publish(sc.frame())
	_, hs := startServer(t, src, ServerOptions{})
	resp, err := http.Get(hs.URL + PathEvents + "?type=spawn,exit")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	f := sc.frame()
	f.Events = []lifecycle.Event{
		{Type: lifecycle.Spawn, ID: collector.ID{PID: 42, StartTicks: 7}, Comm: "a\xffb", PPID: 1, Time: f.Snapshot.TakenAt},
		{Type: lifecycle.StateChange, ID: collector.ID{PID: 42}},
		{Type: lifecycle.Exit, ID: collector.ID{PID: 42, StartTicks: 7}, ExitStatus: &collector.ExitStatus{Exited: true, Code: 3}},
	}
	// The stream subscribes when the request arrives: publish until the
	// first line comes back.
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []report.EventDoc
	deadline := time.After(10 * time.Second)
	for len(got) < 2 {
		src.publish(f)
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			var d report.EventDoc
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			got = append(got, d)
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("got %d events in 10s", len(got))
		}
	}
	if got[0].Type != "spawn" || got[0].PID != 42 || got[0].CommRawBase64 == "" || got[0].Schema != report.EventSchema {
		t.Errorf("first event: %+v", got[0])
	}
	// An unauthenticated client gets no exit status (a [PT] field the
	// kernel hides from an unprivileged reader): the note says why.
	if got[1].Type != "exit" || got[1].PID != 42 || got[1].Exit != nil || !strings.Contains(got[1].Note, ReasonNeedsAuth) {
		t.Errorf("second event (state change filtered out): %+v", got[1])
	}
}

// RemoteSource reads the frames a server publishes, events included.
func TestRemoteSource(t *testing.T) {
	src := newFrameSource()
	sc := newScanner(t, false)
	_, hs := startServer(t, src, ServerOptions{})
	rs, err := NewRemoteSource(hs.URL, RemoteOptions{Wait: 2 * time.Second, RetryDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ch, cancelSub := rs.Subscribe()
	defer cancelSub()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rs.Run(ctx) }()
	defer func() { cancel(); <-done }()

	f1 := sc.frame()
	src.publish(f1)
	var got *monitor.Frame
	select {
	case got = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no remote frame in 10s (err %v)", rs.Err())
	}
	if len(got.Snapshot.Processes) != len(f1.Snapshot.Processes) || got.Snapshot.TakenAt.Unix() != f1.Snapshot.TakenAt.Unix() {
		t.Errorf("remote frame: %d processes at %v; want %d at %v", len(got.Snapshot.Processes), got.Snapshot.TakenAt, len(f1.Snapshot.Processes), f1.Snapshot.TakenAt)
	}
	if p := got.Snapshot.Processes[0]; p.Cmdline != nil {
		t.Errorf("remote frame carries a cmdline without opt-in: %q", p.Cmdline)
	}
	if rs.Latest() == nil {
		t.Error("Latest nil after a frame")
	}
	f2 := sc.frame()
	f2.Events = []lifecycle.Event{{Type: lifecycle.Spawn, ID: collector.ID{PID: 99}, Comm: "x"}}
	src.publish(f2)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got = <-ch:
		case <-deadline:
			t.Fatal("second remote frame never came")
		}
		if got.Seq >= 2 {
			break
		}
	}
	if len(got.Events) != 1 || got.Events[0].ID.PID != 99 {
		t.Errorf("remote events: %+v", got.Events)
	}
	if got.Seq != 2 {
		t.Errorf("remote Seq = %d, want 2", got.Seq)
	}
	// Focus is served from the received snapshot.
	self := os.Getpid()
	rs.Focus(self)
	src.publish(sc.frame())
	deadline = time.After(10 * time.Second)
	for got = nil; got == nil || got.Focus == nil; {
		select {
		case got = <-ch:
		case <-deadline:
			t.Fatal("no focused frame")
		}
	}
	if got.Focus.PID != self || got.Focus.Process == nil || got.Focus.Process.PID != self {
		t.Errorf("focus: %+v", got.Focus)
	}
	// Pause publishes the latest frame marked paused.
	rs.SetPaused(true)
	select {
	case got = <-ch:
		if !got.Paused {
			t.Error("frame after SetPaused(true) not marked paused")
		}
	case <-time.After(10 * time.Second):
		t.Error("no frame after SetPaused(true)")
	}
}

func TestRemoteSourceBadURL(t *testing.T) {
	for _, u := range []string{"ftp://x", "http://", "::"} {
		if _, err := NewRemoteSource(u, RemoteOptions{}); err == nil {
			t.Errorf("NewRemoteSource(%q): no error", u)
		}
	}
}

// writeWebConfig writes an exporter-toolkit web config with one user and,
// when tlsDir is not empty, a self-signed certificate; it returns the
// config path and the certificate pool that trusts it.
func writeWebConfig(t *testing.T, user, password string, withTLS bool) (string, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := "basic_auth_users:\n  " + user + ": " + string(hash) + "\n"
	var pool *x509.CertPool
	if withTLS {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "pinspect-test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		must(t, os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600))
		must(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
		cfg += "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
		pool = x509.NewCertPool()
		pool.AppendCertsFromPEM(certPEM)
	}
	path := filepath.Join(dir, "web.yml")
	must(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path, pool
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// serveOn runs Serve on a loopback port and returns its address.
func serveOn(t *testing.T, h http.Handler, webConfig string) string {
	t.Helper()
	web, err := NewWeb(webConfig)
	if err != nil {
		t.Fatal(err)
	}
	return serveWeb(t, h, web, 0)
}

// serveWeb runs Serve with web and a connection cap (0: the default) on
// a loopback port and returns its address.
func serveWeb(t *testing.T, h http.Handler, web *Web, maxConns int) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, h, ServeOptions{Listeners: []net.Listener{l}, Web: web, MaxConns: maxConns})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

func status(t *testing.T, c *http.Client, url, user, pass string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestBasicAuthAndTLS(t *testing.T) {
	src := newFrameSource()
	src.publish(newScanner(t, false).frame())
	s := NewServer(src, ServerOptions{})

	cfg, _ := writeWebConfig(t, "prom", "right-password", false)
	addr := serveOn(t, s.Handler(), cfg)
	u := "http://" + addr + PathMetrics
	c := &http.Client{Timeout: 10 * time.Second}
	if got := status(t, c, u, "prom", "wrong-password"); got != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", got)
	}
	if got := status(t, c, u, "", ""); got != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", got)
	}
	if got := status(t, c, u, "prom", "right-password"); got != http.StatusOK {
		t.Errorf("right password: %d, want 200", got)
	}
	// The remote dashboard's source: credentials in the URL.
	go s.Run(t.Context())
	// A password in the URL is refused: command lines are public.
	if _, err := NewRemoteSource("http://prom:right-password@"+addr, RemoteOptions{}); err == nil || strings.Contains(err.Error(), "right-password") ||
		!strings.Contains(err.Error(), "PINSPECT_REMOTE_PASSWORD") {
		t.Errorf("a password in the --remote URL: %v", err)
	}
	badRS, err := NewRemoteSource("http://prom@"+addr, RemoteOptions{Wait: time.Second, Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if err := badRS.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("remote source with a wrong password: %v (want a 401 error that does not show the password)", err)
	}
	good, err := NewRemoteSource("http://"+addr, RemoteOptions{Wait: time.Second, User: "prom", Password: "right-password"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	runDone := make(chan error, 1)
	go func() { runDone <- good.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); good.Latest() == nil; livehelper.Sleep() {
		if time.Now().After(deadline) {
			t.Fatalf("remote source with the right password got no frame: %v", good.Err())
		}
	}
	cancel()
	<-runDone

	if w, err := NewWeb(cfg); err != nil || w.Scheme() != "http" {
		t.Errorf("Scheme of a basic-auth-only config: %v", err)
	}
	cfg, pool := writeWebConfig(t, "prom", "pw", true)
	if w, err := NewWeb(cfg); err != nil || w.Scheme() != "https" {
		t.Errorf("Scheme of a TLS config: %v", err)
	}
	addr = serveOn(t, s.Handler(), cfg)
	tc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if got := status(t, tc, "https://"+addr+PathZombies, "prom", "pw"); got != http.StatusOK {
		t.Errorf("TLS + right password: %d, want 200", got)
	}
	if got := status(t, tc, "https://"+addr+PathZombies, "prom", "nope"); got != http.StatusUnauthorized {
		t.Errorf("TLS + wrong password: %d, want 401", got)
	}
	// Plain HTTP to the TLS port gets no API document.
	if resp, err := c.Get("http://" + addr + PathZombies); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}

	// A broken config is refused at start.
	bad := filepath.Join(t.TempDir(), "bad.yml")
	must(t, os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: /nonexistent\n  key_file: /nonexistent\n"), 0o600))
	if _, err := NewWeb(bad); err == nil {
		t.Error("NewWeb accepted a config whose certificate does not exist")
	}
}

// Scrapes while processes churn, with the real monitor sampling every
// 100 ms: every scrape is a valid exposition with the process counts, and
// the lifecycle counters see the churn.
func TestScrapeWhileChurning(t *testing.T) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1)")
	}
	r, err := collector.NewReader(collector.Options{Threads: true})
	if err != nil {
		t.Fatal(err)
	}
	m := monitor.New(r, monitor.Options{Interval: 100 * time.Millisecond, Threads: true, Connector: true})
	ctx, cancel := context.WithCancel(context.Background())
	monDone := make(chan error, 1)
	go func() { monDone <- m.Run(ctx) }()
	defer func() { cancel(); <-monDone }()
	srv, hs := startServer(t, m, ServerOptions{Options: Options{ZombieParents: 10}})
	// The monitor's first frame reaches the collector a little later (its
	// observer runs on its own); until then /metrics rightly has no
	// per-frame series, so wait for the collector, not only the monitor
	// (under load the scrapes below came first and missed them).
	for deadline := time.Now().Add(30 * time.Second); gather(t, srv.Collector())["pinspect_processes"] == nil; livehelper.Sleep() {
		if time.Now().After(deadline) {
			t.Fatal("no frame reached the collector in 30s")
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 { // churn: short-lived processes
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = exec.Command(truePath).Run()
			}
		}()
	}
	var scrapes, failures int
	var mu sync.Mutex
	var sw sync.WaitGroup
	for range 4 { // concurrent scrapers
		sw.Add(1)
		go func() {
			defer sw.Done()
			for range 5 {
				err := scrapeOnce(hs.URL + PathMetrics)
				mu.Lock()
				scrapes++
				if err != nil {
					failures++
					t.Errorf("scrape: %v", err)
				}
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	sw.Wait()
	// Let the monitor publish the churn's events, then stop it.
	for deadline := time.Now().Add(30 * time.Second); ; livehelper.Sleep() {
		mfs := gather(t, srv.Collector())
		spawns, _ := find(mfs, "pinspect_lifecycle_events_total", map[string]string{"type": "spawn"})
		exits, _ := find(mfs, "pinspect_lifecycle_events_total", map[string]string{"type": "exit"})
		if spawns > 0 && exits > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after the churn: %v spawns, %v exits counted; want both > 0", spawns, exits)
			break
		}
	}
	close(stop)
	wg.Wait()
	if scrapes != 20 || failures != 0 {
		t.Errorf("%d scrapes, %d failed", scrapes, failures)
	}
}

func scrapeOnce(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &httpStatusError{resp.Status}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return err
	}
	for _, name := range []string{"pinspect_processes", "pinspect_scan_vanished_processes_total", "pinspect_zombies", "process_resident_memory_bytes"} {
		if mfs[name] == nil {
			return &httpStatusError{"missing " + name}
		}
	}
	return nil
}

type httpStatusError struct{ s string }

func (e *httpStatusError) Error() string { return e.s }

// TestCheckTelemetryPath: --web.telemetry-path takes plain paths only; a
// pattern the router would read as a wildcard or a subtree, or a path it
// refuses to register (it panicked on "//x"), is an error.
func TestCheckTelemetryPath(t *testing.T) {
	for _, ok := range []string{"/metrics", "/prom/metrics", "/m-1_2.x~y", "/" + strings.Repeat("a", maxTelemetryPath-1)} {
		if err := CheckTelemetryPath(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/", "metrics", "//x", "/metrics/", "/a//b", "/a/./b", "/a/../b", "/m/{x}", "/m/{$}",
		"/a b", "/a%20b", "/a?b", "/a#b", "/api/v1/x", "/api", "/-/ready", "/-", "/m\x00", "/m\u00e9",
		"/" + strings.Repeat("a", maxTelemetryPath)} {
		if err := CheckTelemetryPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// A server given a bad path anyway serves the default one.
	_, hs := startServer(t, newFrameSource(), ServerOptions{TelemetryPath: "//x"})
	resp, err := http.Get(hs.URL + PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		t.Errorf("GET %s with a bad telemetry path given: %s, want it served at the default", PathMetrics, resp.Status)
	}
}

// TestMetricsHiddenUnderHidepid: when the /proc hides other users'
// processes, /metrics (one exposition for every client, naming processes
// and programs) is refused to a client that is not Full, with a reason,
// and served to a Full one (a tester read root's process groups and
// zombie parents over it as nobody).
func TestMetricsHiddenUnderHidepid(t *testing.T) {
	src := newFrameSource()
	srv, hs := startServer(t, src, ServerOptions{HidesOthers: true})
	resp, err := http.Get(hs.URL + PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "hidepid") {
		t.Errorf("unauthenticated /metrics under hidepid: %s %q, want 403 naming hidepid", resp.Status, body)
	}
	for _, c := range []Client{{Local: true, UID: 65534, GID: 65534, Key: "uid:65534"}, {Full: true, Key: "user:x"}} {
		req := httptest.NewRequest(http.MethodGet, PathMetrics, nil).WithContext(withClient(context.Background(), c))
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		want := http.StatusForbidden
		if c.Full {
			want = http.StatusOK
		}
		if rec.Code != want {
			t.Errorf("client %+v: /metrics %d, want %d", c, rec.Code, want)
		}
	}
	// Without hidepid the unauthenticated scrape is served.
	_, open := startServer(t, newFrameSource(), ServerOptions{})
	if err := scrapeStatus(open.URL + PathMetrics); err != nil {
		t.Errorf("without hidepid: %v", err)
	}
}

// scrapeStatus is nil when a GET of url answers 200.
func scrapeStatus(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &httpStatusError{resp.Status}
	}
	return nil
}

// TestProcessIOOnlyToFullClients: the per-process io series come from
// /proc/PID/io, which the kernel gives only to a reader passing its
// ptrace check: a Full client gets them, every other client (TCP
// without authentication, a unix-socket peer of another uid) an
// exposition without them; both have the other per-process series and
// the groups' io totals.
func TestProcessIOOnlyToFullClients(t *testing.T) {
	h := livehelper.Start(t, "iocount", "100000", "100000")
	g, pp, err := ParseConfig([]byte("groups:\n  rules: [{name: io-helper, comm: [procshape]}]\nper_process:\n  groups: [io-helper]\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snap, err := r.Scan(context.Background(), collector.ScanOptions{IO: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := lifecycle.Find(snap, h.PID()); p == nil || p.Read&collector.SrcIO == 0 {
		t.Fatalf("helper %d or its io missing from the scan", h.PID())
	}
	src := newFrameSource()
	srv, hs := startServer(t, src, ServerOptions{Options: Options{Groups: g, PerProcess: pp}})
	seq := uint64(0)
	publish := func() {
		// Again at every try: the server may subscribe after a frame.
		seq++
		src.publish(&monitor.Frame{Seq: seq, Snapshot: snap, Interval: time.Second})
	}
	publish()
	pid := `pid="` + strconv.Itoa(h.PID()) + `"`
	scrape := func(c *Client) string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var body string
			if c == nil {
				resp, err := http.Get(hs.URL + PathMetrics)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
			} else {
				req := httptest.NewRequest(http.MethodGet, PathMetrics, nil).WithContext(withClient(context.Background(), *c))
				rec := httptest.NewRecorder()
				srv.Handler().ServeHTTP(rec, req)
				body = rec.Body.String()
			}
			if strings.Contains(body, "pinspect_process_threads{") && strings.Contains(body, pid) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("client %+v: no per-process series for %s:\n%s", c, pid, body)
			}
			publish()
		}
	}
	hasIO := func(body string) (proc, group bool) {
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "pinspect_process_read_bytes_total{") || strings.HasPrefix(l, "pinspect_process_write_bytes_total{") {
				proc = true
			}
			if strings.HasPrefix(l, "pinspect_group_read_bytes_total{") || strings.HasPrefix(l, "pinspect_group_write_bytes_total{") {
				group = true
			}
		}
		return proc, group
	}
	if proc, group := hasIO(scrape(&Client{Full: true, Key: "user:x"})); !proc || !group {
		t.Errorf("Full client: per-process io %v, group io %v; want both", proc, group)
	}
	for _, c := range []*Client{nil, {Local: true, UID: 65534, GID: 65534, Key: "uid:65534"}} {
		if proc, group := hasIO(scrape(c)); proc || group {
			t.Errorf("client %+v: per-process io %v, group io %v; want neither", c, proc, group)
		}
	}
}

// TestIndexListsRoutes: the index page (GET /) names every path the
// server answers (it lacked /api/v1/frame; tester14).
func TestIndexListsRoutes(t *testing.T) {
	src := newFrameSource()
	s, hs := startServer(t, src, ServerOptions{})
	resp, err := http.Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s, %v", resp.Status, err)
	}
	routes := s.Routes()
	if len(routes) < 10 {
		t.Fatalf("routes %q: fewer than the ten served", routes)
	}
	for _, path := range routes {
		if !strings.Contains(string(b), "<li>"+path) && !strings.Contains(string(b), `">`+path+"</a>") {
			t.Errorf("the index does not list %s:\n%s", path, b)
		}
	}
}
