package monitor

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestConnectorExitNamesAdopter (tester10 B10): a process forked by a
// shell that exits at once is adopted (by init or a subreaper); its main
// thread calls pthread_exit and a worker calls exit(7) later. The
// connector's event for that last thread's exit names no parent (the
// kernel releases a thread before it builds the event), and the exit
// named the parent at fork, the shell, long gone, although the reparent
// had been reported. It must name the adopter.
func TestConnectorExitNamesAdopter(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: 50 * time.Millisecond, Connector: true})
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	cmd := exec.Command("sh", "-c", `"$0" leaderexit &`, livehelper.Binary(t))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	shell := cmd.Process.Pid
	sc := bufio.NewScanner(out)
	pid := 0
	for pid == 0 && sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "ready" {
			pid, _ = strconv.Atoi(f[1])
		}
	}
	if pid == 0 {
		_ = cmd.Wait()
		t.Fatal("the helper gave no ready line")
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var adopter int
	for deadline := time.Now().Add(20 * time.Second); ; livehelper.Sleep() {
		q, err := r.Identity(pid, false)
		if err != nil {
			t.Fatal(err)
		}
		if q.PPID != shell && q.State == 'Z' && q.NumThreads > 1 {
			adopter = q.PPID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("helper %d: not adopted with its leader exited within 20s (ppid %d, state %c)", pid, q.PPID, q.State)
		}
	}
	// The monitor sees the adoption (a scan shows the adopter), and every
	// kernel event so far (the leader's exit) is converted.
	waitFrame(t, ch, "the helper under its adopter", func(f *Frame) bool {
		p := lifecycle.Find(f.Snapshot, pid)
		return p != nil && p.PPID == adopter
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var got lifecycle.Event
	waitFrame(t, ch, "the helper's exit", func(f *Frame) bool {
		for _, e := range f.Events {
			if e.Type == lifecycle.Exit && e.ID.PID == pid {
				got = e
				return true
			}
		}
		return false
	})
	if got.Source != lifecycle.SourceConnector || got.ExitStatus == nil || got.ExitStatus.Code != 7 {
		t.Errorf("exit %+v, want the connector's with code 7", got)
	}
	if got.PPID != adopter {
		t.Errorf("exit names parent %d, want the adopter %d (the shell that forked it was %d)", got.PPID, adopter, shell)
	}
}

// TestReparentBeforeExit (tester11 T3): a subreaper's child forks a
// grandchild and exits; the grandchild, adopted by the subreaper, exits
// with code 5 and stays a zombie; all between two scans (an hour's
// interval, then a Sync). The next scan shows the zombie under the
// subreaper: its reparent came after its exit, dated at that scan. It
// must come before the exit, dated no later (at the middle child's exit:
// the kernel re-parents before it reports that exit), from the connector
// and from the tracepoints; also when the subreaper reaps it at once (no
// scan shows the adoption: it had no reparent at all, tester12 B1).
func TestReparentBeforeExit(t *testing.T) {
	for _, c := range []struct {
		name string
		ro   collector.Options
		o    Options
	}{
		{"connector", collector.Options{}, Options{Interval: time.Hour, Connector: true}},
		{"tracepoints", collector.Options{Backend: collector.BackendTaskIter, NoTaskstats: true},
			Options{Interval: time.Hour, Connector: true, Tracepoints: true}},
	} {
		for _, reap := range []bool{false, true} {
			name := c.name + map[bool]string{false: ", a zombie", true: ", reaped at once"}[reap]
			t.Run(name, func(t *testing.T) { testReparentBeforeExit(t, c.ro, c.o, reap) })
		}
	}
}

// testReparentBeforeExit: TestReparentBeforeExit with a source's
// options; reap has the subreaper reap the grandchild at once (no scan
// shows it under the subreaper: tester12 B1, no reparent at all).
func testReparentBeforeExit(t *testing.T, ro collector.Options, o Options, reap bool) {
	m, ch := startMonitorOn(t, ro, o)
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	args := []string{"subreaperexit"}
	if reap {
		args = append(args, "reap")
	}
	p := livehelper.Start(t, args...)
	sr, mid, g := p.PIDs[0], p.PIDs[1], p.PIDs[2]
	f := frameAfterSync(t, m, ch)
	var evs []lifecycle.Event
	for _, e := range f.Events {
		if e.ID.PID == mid || e.ID.PID == g {
			evs = append(evs, e)
		}
	}
	find := func(typ lifecycle.EventType, pid int) int {
		return slices.IndexFunc(evs, func(e lifecycle.Event) bool { return e.Type == typ && e.ID.PID == pid })
	}
	rp, gx, mx := find(lifecycle.Reparent, g), find(lifecycle.Exit, g), find(lifecycle.Exit, mid)
	if rp < 0 || gx < 0 || mx < 0 {
		t.Fatalf("want the middle child's exit, the grandchild's reparent and exit: %s", describeEvents(evs))
	}
	if r := evs[rp]; r.OldPPID != mid || r.PPID != sr || rp > gx || r.Time.After(evs[gx].Time) || rp < mx || r.Time.Before(evs[mx].Time) {
		t.Errorf("the grandchild's reparent %d -> %d (want %d -> %d) must come after its old parent's exit and before its own, dated between:%s",
			r.OldPPID, r.PPID, mid, sr, describeEvents(evs))
	}
	if x := evs[gx]; x.ExitStatus == nil || x.ExitStatus.Code != 5 || x.PPID != sr {
		t.Errorf("the grandchild's exit %+v, want code 5 under the subreaper %d", x, sr)
	}
}

func describeEvents(evs []lifecycle.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s %d ppid %d (old %d) %s %q", e.Time.Format("15:04:05.000000"), e.Type, e.ID.PID, e.PPID, e.OldPPID, e.Source, e.Note)
	}
	return b.String()
}
