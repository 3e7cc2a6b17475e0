package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
	"github.com/pinspect/pinspect/views/report"
)

// lifeRun runs the command line in-process.
func lifeRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

// lifePoll retries f until it returns true (20 s deadline).
func lifePoll(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		livehelper.Sleep()
	}
}

func zombiesDoc(t *testing.T, args ...string) (report.ZombiesDoc, int) {
	t.Helper()
	out, errOut, code := lifeRun(t, append([]string{"zombies", "--json"}, args...)...)
	var d report.ZombiesDoc
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("zombies --json: %v\n%s\n%s", err, out, errOut)
	}
	return d, code
}

func TestZombiesLive(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		sigchld string
		diag    string
	}{
		{[]string{"zombies", "4"}, "default", "neither handles nor ignores SIGCHLD"},
		{[]string{"zombies", "2", "block"}, "blocked", "blocks SIGCHLD"},
	} {
		t.Run(tc.sigchld, func(t *testing.T) {
			p := livehelper.Start(t, tc.args...)
			n := len(p.PIDs) - 1
			pid := strconv.Itoa(p.PID())
			var d report.ZombiesDoc
			lifePoll(t, "the helper's zombies", func() bool {
				var code int
				d, code = zombiesDoc(t, "--check", "--pid", pid)
				return code == exitFound && len(d.Parents) == 1 && len(d.Parents[0].Zombies) == n
			})
			g := d.Parents[0]
			if g.Parent.PID != p.PID() || g.Parent.SIGCHLD != tc.sigchld || !strings.Contains(g.Diagnosis, tc.diag) ||
				g.Parent.WChan == "" || g.Parent.State != "S" || g.Remedy == "" {
				t.Errorf("parent %+v diagnosis %q remedy %q", g.Parent, g.Diagnosis, g.Remedy)
			}
			for i, z := range g.Zombies {
				if z.PID != p.PIDs[i+1] || z.Exit == nil || !z.Exit.Exited || z.Exit.Code != i+1 {
					t.Errorf("zombie %d: %+v exit %+v", i, z, z.Exit)
				}
			}
			out, _, code := lifeRun(t, "zombies", "--pid", pid)
			if code != 0 || !strings.Contains(out, "SIGCHLD "+tc.sigchld) || !strings.Contains(out, "exit "+strconv.Itoa(n)) {
				t.Errorf("text (exit %d):\n%s", code, out)
			}
		})
	}
}

func TestHostileCommIsNotZombieOrOrphan(t *testing.T) {
	p := livehelper.Start(t, "comm", "x) Z 1 (")
	pid := strconv.Itoa(p.PID())
	d, code := zombiesDoc(t, "--check", "--pid", pid)
	if code != 0 || len(d.Parents) != 0 {
		t.Errorf("a sleeping process named %q is not a zombie: exit %d, %+v", "x) Z 1 (", code, d)
	}
	out, errOut, code := lifeRun(t, "orphans", "--json", "--pid", pid)
	var o report.OrphansDoc
	if err := json.Unmarshal([]byte(out), &o); err != nil || code != 0 {
		t.Fatalf("orphans --json: %v %d\n%s", err, code, errOut)
	}
	if len(o.Orphans)+len(o.Daemons) != 0 {
		t.Errorf("%q reported as adopted: %+v", "x) Z 1 (", o)
	}
}

func orphansDoc(t *testing.T, args ...string) report.OrphansDoc {
	t.Helper()
	out, errOut, code := lifeRun(t, append([]string{"orphans", "--json"}, args...)...)
	var d report.OrphansDoc
	if err := json.Unmarshal([]byte(out), &d); err != nil || code != 0 {
		t.Fatalf("orphans --json: %v, exit %d\n%s", err, code, errOut)
	}
	return d
}

func TestOrphanAdoptedByInitLive(t *testing.T) {
	p := livehelper.Start(t, "orphan")
	child := p.PIDs[1]
	var d report.OrphansDoc
	lifePoll(t, "the orphan", func() bool {
		d = orphansDoc(t, "--pid", strconv.Itoa(child))
		return len(d.Orphans) == 1
	})
	o := d.Orphans[0]
	if o.PID != child || o.Adopter != 1 || o.AdopterKind != "init" || !strings.Contains(o.Evidence, "process group "+strconv.Itoa(p.PID())) && !strings.Contains(o.Evidence, "session") {
		t.Errorf("orphan %+v", o)
	}
}

func TestOrphanInPidNamespaceLive(t *testing.T) {
	if syscall.Getuid() != 0 {
		t.Skip("a new pid namespace needs root")
	}
	p := livehelper.Start(t, "pidns")
	nsInit, g := p.PIDs[1], p.PIDs[2]
	var d report.OrphansDoc
	lifePoll(t, "the namespace's orphan", func() bool {
		d = orphansDoc(t, "--pid", strconv.Itoa(g))
		return len(d.Orphans) == 1
	})
	if o := d.Orphans[0]; o.PID != g || o.Adopter != nsInit || o.AdopterKind != "pidns_init" || !strings.Contains(o.Evidence, "its leader is gone") {
		t.Errorf("orphan %+v", o)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestWatchSeesShortLivedProcesses(t *testing.T) {
	const n = 200
	p := livehelper.Start(t, "burst", strconv.Itoa(n))
	var out, errOut lockedBuffer
	done := make(chan int)
	go func() {
		done <- run([]string{"watch", "--json", "--interval", "200ms", "--duration", "4s"}, &out, &errOut)
	}()
	lifePoll(t, "watch to start", func() bool { return strings.Contains(errOut.String(), "pinspect watch:") })
	if !strings.Contains(errOut.String(), "subscribed") {
		<-done
		t.Skipf("no kernel process events: %s", errOut.String())
	}
	if err := syscall.Kill(p.PID(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("watch exit %d: %s", code, errOut.String())
	}
	spawned := map[int]bool{}
	codes := map[int]int{}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(nil, 1<<20)
	var exits []report.EventDoc
	for sc.Scan() {
		var e report.EventDoc
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("bad NDJSON line %q: %v", sc.Text(), err)
		}
		if e.Type == "" || e.Time == "" || e.PID == 0 || e.Schema != report.EventSchema {
			t.Errorf("incomplete event %q", sc.Text())
		}
		switch {
		case e.Type == "spawn" && e.PPID == p.PID():
			spawned[e.PID] = true
		case e.Type == "exit":
			exits = append(exits, e)
		}
	}
	for _, e := range exits {
		if spawned[e.PID] && e.Exit != nil && e.Exit.Exited {
			codes[e.Exit.Code]++
		}
	}
	if len(spawned) != n {
		t.Errorf("%d spawns of the helper's children, want %d", len(spawned), n)
	}
	for i := 1; i <= n; i++ {
		if codes[i] != 1 {
			t.Errorf("exit code %d seen %d times, want once", i, codes[i])
		}
	}
}
