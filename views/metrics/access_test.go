package metrics

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
	"github.com/pinspect/pinspect/views/report"
)

// unixSocketServer serves src on a TCP port (no users: unauthenticated)
// and on a unix socket every user may reach; it returns the TCP base URL
// and the socket's path.
func unixSocketServer(t *testing.T, src Source) (string, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "pinspect.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(sock); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		must(t, os.Chmod(d, 0o755)) // let uid 65534 reach the socket
	}
	must(t, os.Chmod(sock, 0o666))
	base, _ := abuseServer(t, src, ServerOptions{}, ServeOptions{Listeners: []net.Listener{ul}})
	return base, sock
}

// getAs fetches path from the server: as root over TCP (uid < 0), or
// over the unix socket with curl run as uid (0 included).
func getAs(t *testing.T, base, sock string, uid int, path string) []byte {
	t.Helper()
	if uid < 0 {
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(base + path)
		must(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		must(t, err)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: %.200s", path, resp.Status, b)
		}
		return b
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl to make a request as another user")
	}
	id := strconv.Itoa(uid)
	out, err := exec.Command("setpriv", "--reuid="+id, "--regid="+id, "--clear-groups",
		curl, "-sSf", "--unix-socket", sock, "http://x"+path).Output()
	if err != nil {
		t.Fatalf("curl %s as uid %d: %v", path, uid, err)
	}
	return out
}

// TestZombiesPerClient: a client that may not read a zombie's exit status
// or its parent's wait channel from /proc itself (both [PT] fields) gets
// neither from serve, in no document (zombies, snapshot, frame, events),
// not even inside the diagnosis sentence: each is marked unavailable,
// never 0. A root peer on the unix socket gets both.
func TestZombiesPerClient(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: root's zombies are shown to unprivileged clients")
	}
	h := livehelper.Start(t, "zombies", "3")
	sc := newScanner(t, false)
	var f *monitor.Frame
	var wchan string
	for deadline := time.Now().Add(10 * time.Second); ; livehelper.Sleep() {
		f = sc.frame()
		if countZombiesOf(f.Snapshot, h.PID()) == 3 {
			if w, err := sc.r.WChan(h.PID()); err == nil && w != "" {
				wchan = w
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper's 3 zombies and its wait channel never showed in /proc")
		}
	}
	f.Zombies = lifecycle.DiagnoseZombies(f.Snapshot, nil, map[int]string{h.PID(): wchan})
	var zombie *collector.Process
	for i := range f.Snapshot.Processes {
		if p := &f.Snapshot.Processes[i]; p.IsZombie() && p.PPID == h.PID() {
			zombie = p
		}
	}
	es := collector.DecodeWaitStatus(zombie.ExitCode)
	if !es.Exited || es.Code == 0 {
		t.Fatalf("the helper's zombie %d has no exit code (%+v): the test cannot tell", zombie.PID, es)
	}
	f.Events = []lifecycle.Event{{Type: lifecycle.Zombie, Time: f.Snapshot.TakenAt, ID: zombie.ID(), Comm: zombie.Comm, ExitStatus: &es}}
	src := newFrameSource()
	src.publish(f)
	base, sock := unixSocketServer(t, src)

	group := func(b []byte) report.ZombieGroupDoc {
		t.Helper()
		var doc report.ZombiesDoc
		must(t, json.Unmarshal(b, &doc))
		for _, g := range doc.Parents {
			if g.Parent.PID == h.PID() {
				return g
			}
		}
		t.Fatalf("parent %d not in the zombies document: %.300s", h.PID(), b)
		return report.ZombieGroupDoc{}
	}
	// Root on the unix socket: everything, as the kernel gives root.
	g := group(getAs(t, base, sock, 0, PathZombies))
	if g.Parent.WChan != wchan || !strings.Contains(g.Diagnosis, wchan) {
		t.Errorf("root: wchan %q, diagnosis %q; want %q in both", g.Parent.WChan, g.Diagnosis, wchan)
	}
	for _, z := range g.Zombies {
		if z.Exit == nil {
			t.Errorf("root: zombie %d without its exit status", z.PID)
		}
	}

	// Unauthenticated TCP and uid 65534 on the unix socket: neither.
	for _, uid := range []int{-1, 65534} {
		b := getAs(t, base, sock, uid, PathZombies)
		g := group(b)
		if g.Parent.WChan != "" || g.Parent.WChanUnavailable != ReasonNeedsAuth || strings.Contains(string(b), wchan) {
			t.Errorf("uid %d: parent wchan %q (%q), diagnosis %q: the wait channel %q reached the client",
				uid, g.Parent.WChan, g.Parent.WChanUnavailable, g.Diagnosis, wchan)
		}
		if len(g.Zombies) != 3 {
			t.Errorf("uid %d: %d zombies of %d, want 3", uid, len(g.Zombies), h.PID())
		}
		for _, z := range g.Zombies {
			if z.Exit != nil || z.ExitUnavailable != ReasonNeedsAuth {
				t.Errorf("uid %d: zombie %d exit %+v (%q), want unavailable %q", uid, z.PID, z.Exit, z.ExitUnavailable, ReasonNeedsAuth)
			}
		}
		var snap report.SnapshotDoc
		must(t, json.Unmarshal(getAs(t, base, sock, uid, PathSnapshot+"?threads=false"), &snap))
		seen := 0
		for _, p := range snap.Processes {
			if p.State != "Z" || p.LeaderExited {
				continue // not a zombie (another test's pthread_exit helper)
			}
			if p.ExitStatus != nil || p.Unavailable["exit_code"] != ReasonNeedsAuth {
				t.Errorf("uid %d: snapshot: zombie %d exit %+v (%q)", uid, p.PID, p.ExitStatus, p.Unavailable["exit_code"])
			}
			seen++
		}
		if seen < 3 {
			t.Errorf("uid %d: snapshot has %d zombies, want >= 3", uid, seen)
		}
	}
	resp, err := http.Get(base + PathFrame)
	must(t, err)
	var wf WireFrame
	must(t, gob.NewDecoder(resp.Body).Decode(&wf))
	resp.Body.Close()
	for _, g := range wf.Zombies {
		if g.ParentWChan != "" || strings.Contains(g.Diagnosis, wchan) {
			t.Errorf("unauthenticated frame: parent %d wchan %q, diagnosis %q", g.Parent.PID, g.ParentWChan, g.Diagnosis)
		}
		for _, z := range g.Zombies {
			if z.Exit != nil {
				t.Errorf("unauthenticated frame: zombie %d exit %+v", z.ID.PID, z.Exit)
			}
		}
	}
	for _, p := range wf.Snapshot.Processes {
		if p.IsZombie() && p.ExitCode >= 0 {
			t.Errorf("unauthenticated frame: zombie %d exit code %d", p.PID, p.ExitCode)
		}
	}
	for _, e := range wf.Events {
		if e.ExitStatus != nil || !strings.Contains(e.Note, ReasonNeedsAuth) {
			t.Errorf("unauthenticated frame: event %s of %d: exit %+v, note %q", e.Type, e.ID.PID, e.ExitStatus, e.Note)
		}
	}
}

// TestPeerOwnProcessesPerClient: a unix-socket peer of the same uid and
// gid as a process may still not read its exe or maps when the process
// holds capabilities (the kernel's ptrace check wants the target's
// permitted capabilities within the reader's) or is not dumpable (it
// changed its uid from root's, as sshd's per-user process does): serve
// restricts both for that peer, and shows in full the peer's plain
// process.
func TestPeerOwnProcessesPerClient(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start processes as uid 65534")
	}
	start := func(name string, args ...string) int {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, name, args...)
		if err := cmd.Start(); err != nil {
			cancel()
			t.Skipf("setpriv: %v", err)
		}
		t.Cleanup(func() { cancel(); _ = cmd.Wait() })
		return cmd.Process.Pid
	}
	sleep, err := exec.LookPath("sleep")
	must(t, err)
	asNobody := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	capped := start("setpriv", append(asNobody, "--inh-caps", "+sys_admin", "--ambient-caps", "+sys_admin", sleep, "600")...)
	plain := start("setpriv", append(asNobody, sleep, "601")...)
	py, err := exec.LookPath("python3")
	must(t, err)
	// setresuid from root makes the process not dumpable (no exec after
	// it resets that): /proc/PID is then root's.
	undumpable := start(py, "-c", "import os, time\nos.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\ntime.sleep(600)")
	sc := newScanner(t, false)
	var f *monitor.Frame
	for deadline := time.Now().Add(10 * time.Second); ; livehelper.Sleep() {
		f = sc.frame()
		c, p, u := lifecycle.Find(f.Snapshot, capped), lifecycle.Find(f.Snapshot, plain), lifecycle.Find(f.Snapshot, undumpable)
		if c != nil && p != nil && u != nil && c.UIDs[0] == 65534 && p.UIDs[0] == 65534 && u.UIDs[2] == 65534 && c.Exe != "" && p.Exe != "" {
			if c.CapPrm == 0 {
				t.Fatalf("pid %d runs without permitted capabilities (CapPrm 0): the test cannot tell", capped)
			}
			if u.DumpOwnerUID != 0 || p.DumpOwnerUID != 65534 {
				t.Fatalf("/proc/PID owners: %d of the undumpable pid %d (want 0), %d of the plain pid %d (want 65534)", u.DumpOwnerUID, undumpable, p.DumpOwnerUID, plain)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the three processes of uid 65534 never showed in /proc")
		}
	}
	src := newFrameSource()
	src.publish(f)
	base, sock := unixSocketServer(t, src)
	var doc report.SnapshotDoc
	must(t, json.Unmarshal(getAs(t, base, sock, 65534, PathSnapshot+"?threads=false"), &doc))
	found := 0
	for _, p := range doc.Processes {
		switch p.PID {
		case capped:
			found++
			if p.Exe != "" || p.Unavailable["exe"] != ReasonNeedsAuth {
				t.Errorf("uid 65534: its process %d with capabilities: exe %q (%q), want unavailable", p.PID, p.Exe, p.Unavailable["exe"])
			}
		case undumpable:
			found++
			if p.Exe != "" || p.Unavailable["exe"] != ReasonNeedsAuth {
				t.Errorf("uid 65534: its process %d that is not dumpable: exe %q (%q), want unavailable", p.PID, p.Exe, p.Unavailable["exe"])
			}
		case plain:
			found++
			if p.Exe == "" {
				t.Errorf("uid 65534: its own process %d without capabilities: no exe (%q)", p.PID, p.Unavailable["exe"])
			}
		}
	}
	if found != 3 {
		t.Errorf("uid 65534's snapshot has %d of the 3 processes", found)
	}
}
