package monitor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// cnMsg builds a connector message around a proc_event.
func cnMsg(what uint32, words ...uint32) []byte {
	ne := binary.NativeEndian
	ev := make([]byte, procEventHdr+4*len(words))
	ne.PutUint32(ev[0:], what)
	ne.PutUint64(ev[8:], 123456789)
	for i, w := range words {
		ne.PutUint32(ev[procEventHdr+4*i:], w)
	}
	b := make([]byte, cnMsgLen, cnMsgLen+len(ev))
	ne.PutUint32(b[0:], cnIdxProc)
	ne.PutUint32(b[4:], cnValProc)
	ne.PutUint16(b[16:], uint16(len(ev)))
	return append(b, ev...)
}

func TestParseProcEvent(t *testing.T) {
	ev, ok, err := parseProcEvent(cnMsg(procEventFork, 10, 10, 11, 11))
	if err != nil || !ok || ev.ParentTGID != 10 || ev.PID != 11 || ev.TGID != 11 || ev.TimestampNs != 123456789 {
		t.Errorf("fork: %+v %v %v", ev, ok, err)
	}
	ev, ok, err = parseProcEvent(cnMsg(procEventExit, 11, 11, 3<<8, 17, 10, 10))
	if err != nil || !ok || ev.PID != 11 || ev.ExitCode != 3<<8 || ev.ParentTGID != 10 {
		t.Errorf("exit: %+v %v %v", ev, ok, err)
	}
	if es := collector.DecodeWaitStatus(int64(ev.ExitCode)); !es.Exited || es.Code != 3 {
		t.Errorf("exit status %+v", es)
	}
	ev, ok, err = parseProcEvent(cnMsg(procEventExit, 11, 11, 9, 17)) // an old kernel: no parent
	if err != nil || !ok || ev.ExitCode != 9 || ev.ParentTGID != 0 {
		t.Errorf("short exit: %+v %v %v", ev, ok, err)
	}
	comm := cnMsg(procEventComm, 12, 12, 0, 0, 0, 0)
	copy(comm[cnMsgLen+procEventHdr+8:], "x) Z 1 (")
	if ev, ok, err = parseProcEvent(comm); err != nil || !ok || ev.Comm != "x) Z 1 (" {
		t.Errorf("comm: %+v %v %v", ev, ok, err)
	}
	if ev, ok, err = parseProcEvent(cnMsg(procEventNone, 0)); err != nil || !ok || ev.What != procEventNone {
		t.Errorf("ack: %+v %v %v", ev, ok, err)
	}
	if _, _, err = parseProcEvent(cnMsg(procEventFork, 10)); !errors.Is(err, errShort) {
		t.Errorf("truncated fork: %v, want errShort", err)
	}
	if _, _, err = parseProcEvent([]byte{1, 2}); !errors.Is(err, errShort) {
		t.Errorf("tiny message: %v", err)
	}
	other := cnMsg(procEventFork, 1, 1, 2, 2)
	other[0] = 7
	if _, ok, err = parseProcEvent(other); ok || err != nil {
		t.Errorf("another connector's message must be skipped: %v %v", ok, err)
	}
}

func TestSlowSubscriberGetsEveryEvent(t *testing.T) {
	m := New(nil, Options{})
	ch, cancel := m.Subscribe()
	defer cancel()
	f1 := &Frame{Seq: 1, Events: []lifecycle.Event{{Type: lifecycle.Spawn, ID: collector.ID{PID: 5}}}}
	f2 := &Frame{Seq: 2, Events: []lifecycle.Event{{Type: lifecycle.Exit, ID: collector.ID{PID: 5}}}}
	m.publish(f1)
	m.publish(f2)
	got := <-ch
	if got.Seq != 2 || len(got.Events) != 2 || got.Events[0].Type != lifecycle.Spawn || got.Events[1].Type != lifecycle.Exit {
		t.Fatalf("merged frame %d with %+v", got.Seq, got.Events)
	}
	if len(f2.Events) != 1 || m.Latest() != f2 {
		t.Error("published frames must not be modified")
	}
	select {
	case f := <-ch:
		t.Fatalf("one frame expected, got another: %+v", f)
	default:
	}
}

// waitFrame reads frames until ok accepts one or the deadline passes.
func waitFrame(t *testing.T, ch <-chan *Frame, what string, ok func(*Frame) bool) *Frame {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case f := <-ch:
			if ok(f) {
				return f
			}
		case <-deadline:
			t.Fatalf("no frame with %s within 20s", what)
		}
	}
}

// framesThroughSync asks m for a frame that holds every kernel event
// sent so far (Sync) and returns the frames read from ch up to that
// one, which is last.
func framesThroughSync(t *testing.T, m *Monitor, ch <-chan *Frame) []*Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	seq, err := m.Sync(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	var fs []*Frame
	waitFrame(t, ch, "the frame after Sync", func(f *Frame) bool {
		fs = append(fs, f)
		return f.Seq > seq
	})
	return fs
}

// frameAfterSync is the first frame after a Sync of m: with a long
// interval, the one Sync asked for.
func frameAfterSync(t *testing.T, m *Monitor, ch <-chan *Frame) *Frame {
	t.Helper()
	fs := framesThroughSync(t, m, ch)
	return fs[len(fs)-1]
}

func startMonitor(t *testing.T, o Options) (*Monitor, <-chan *Frame) {
	t.Helper()
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := New(r, o)
	ch, unsub := m.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		unsub()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	waitFrame(t, ch, "a first frame", func(*Frame) bool { return true })
	return m, ch
}

func TestMonitorLiveZombiesFocusAndSubreaper(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: 50 * time.Millisecond, Connector: true})
	zp := livehelper.Start(t, "zombies", "3")
	f := waitFrame(t, ch, "3 zombies of the helper", func(f *Frame) bool {
		for _, g := range f.Zombies {
			if g.Parent.PID == zp.PID() && len(g.Zombies) == 3 {
				return true
			}
		}
		return false
	})
	for _, g := range f.Zombies {
		if g.Parent.PID != zp.PID() {
			continue
		}
		if g.SIGCHLD != lifecycle.SigchldDefault || g.ParentWChan == "" || g.Diagnosis == "" {
			t.Errorf("group %+v", g)
		}
		// The children exit with codes 1..3; the group lists them by first
		// sighting, which need not follow the exit code.
		codes := map[int]bool{}
		for i, z := range g.Zombies {
			if z.Exit == nil || z.FirstSeen.After(f.Snapshot.TakenAt) {
				t.Errorf("zombie %d: %+v", i, z)
				continue
			}
			codes[z.Exit.Code] = true
		}
		if !codes[1] || !codes[2] || !codes[3] {
			t.Errorf("exit codes %v, want 1, 2 and 3", codes)
		}
	}

	m.Focus(zp.PID())
	f = waitFrame(t, ch, "the focused helper", func(f *Frame) bool { return f.Focus != nil && f.Focus.Process != nil })
	if f.Focus.PID != zp.PID() || f.Focus.Details == nil || len(f.Focus.Details.Namespaces) == 0 || len(f.Focus.Process.Threads) != 1 {
		t.Errorf("focus %+v details %+v", f.Focus, f.Focus.Details)
	}
	m.Focus(0)

	if !f.EventsLive {
		t.Skipf("no kernel process events here (%s): the subreaper adoption is only seen by them", f.EventsNote)
	}
	sr := livehelper.Start(t, "subreaper")
	g := sr.PIDs[1]
	f = waitFrame(t, ch, "the subreaper's orphan", func(f *Frame) bool {
		for _, o := range f.Orphans {
			if o.ID.PID == g {
				return true
			}
		}
		return false
	})
	for _, o := range f.Orphans {
		if o.ID.PID == g && (o.Adopter != sr.PID() || o.AdopterKind != lifecycle.AdopterSubreaper || !o.Observed || o.OldPPID == 0 || o.OldPPID == sr.PID()) {
			t.Errorf("orphan %+v", o)
		}
	}
}

func TestMonitorPauseAndInterval(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: time.Hour})
	first := m.Latest()
	// A focus change is published at once, without a scan.
	m.Focus(os.Getpid())
	f := waitFrame(t, ch, "the focus on this test", func(f *Frame) bool { return f.Focus != nil })
	if f.Snapshot != first.Snapshot || f.Focus.Process == nil || f.Focus.Process.PID != os.Getpid() || len(f.Focus.Process.Threads) < 2 || len(f.Events) != 0 {
		t.Errorf("focus frame %d: snapshot reused %v, focus %+v", f.Seq, f.Snapshot == first.Snapshot, f.Focus)
	}
	m.SetInterval(20 * time.Millisecond)
	waitFrame(t, ch, "a frame at the new interval", func(f *Frame) bool { return f.Interval == 20*time.Millisecond })
	m.SetPaused(true)
	p := waitFrame(t, ch, "a paused frame", func(f *Frame) bool { return f.Paused })
	// While paused, a republished frame carries the interval in force,
	// not its last scan's: a dashboard takes a frame's interval as the
	// one in force.
	m.SetInterval(time.Hour)
	m.Focus(1)
	q := waitFrame(t, ch, "a paused frame focused on pid 1", func(f *Frame) bool { return f.Focus != nil && f.Focus.PID == 1 })
	if !q.Paused || q.Interval != time.Hour {
		t.Errorf("paused frame after SetInterval(1h): paused %v, interval %v; want true, 1h", q.Paused, q.Interval)
	}
	m.SetPaused(false)
	r := waitFrame(t, ch, "a resumed frame", func(f *Frame) bool { return !f.Paused })
	if r.Seq <= p.Seq || r.Snapshot == p.Snapshot {
		t.Errorf("resumed frame %d after paused %d", r.Seq, p.Seq)
	}
	if r.EventsLive {
		t.Error("connector was not asked for")
	}
}

// TestFocusChangesDoNotHoldBackScans: a focus that keeps changing (a
// user holding an arrow key in the dashboard) is republished at once,
// and the scans still come every interval: a focus change does not
// restart the interval.
func TestFocusChangesDoNotHoldBackScans(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: 100 * time.Millisecond})
	first := m.Latest()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pids := []int{os.Getpid(), 1}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m.Focus(pids[i%2])
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()
	waitFrame(t, ch, "a new scan while the focus keeps changing", func(f *Frame) bool { return f.Snapshot != first.Snapshot })
}

func TestConnectorErrorResubscribesAndRescans(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: time.Hour, Connector: true})
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	cs := connOf(t, m)
	cs.mu.Lock()
	old := cs.conn
	cs.mu.Unlock()
	// Break the socket under the listener: its next receive fails, as on
	// ENOBUFS. The interval is an hour, so only the forced rescan makes a frame.
	old.close()
	f := waitFrame(t, ch, "a lost event", func(f *Frame) bool {
		for _, e := range f.Events {
			if e.Type == lifecycle.Lost {
				return true
			}
		}
		return false
	})
	for _, e := range f.Events {
		if e.Type == lifecycle.Lost && !strings.Contains(e.Note, "resubscribed") {
			t.Errorf("lost event note %q", e.Note)
		}
	}
	// The listener subscribes again: a new process's spawn arrives from the kernel.
	deadline := time.Now().Add(20 * time.Second)
	for {
		cs.mu.Lock()
		again := cs.conn != old && cs.live
		cs.mu.Unlock()
		if again {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new subscription within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The interval is an hour: no scan sees the helper before Sync has
	// had its fork converted, so the kernel's spawn is the one reported
	// (a scan first would report the poll's, and drop the kernel's).
	p := livehelper.Start(t, "comm", "resub")
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if _, err := m.Sync(sctx); err != nil {
		t.Fatal(err)
	}
	waitFrame(t, ch, "the helper's spawn from the kernel", func(f *Frame) bool {
		for _, e := range f.Events {
			if e.Type == lifecycle.Spawn && e.ID.PID == p.PID() && e.Source == lifecycle.SourceConnector {
				return true
			}
		}
		return false
	})
}

// FuzzParseProcEvent: no datagram makes the connector parser panic, and
// an accepted event never claims more data than it was given.
func FuzzParseProcEvent(f *testing.F) {
	f.Add(cnMsg(procEventFork, 10, 10, 11, 11))
	f.Add(cnMsg(procEventExit, 11, 11, 3<<8, 17, 10, 10))
	f.Add(cnMsg(procEventComm, 12, 12, 0x41414141, 0, 0, 0))
	f.Add(cnMsg(procEventNone, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, ok, err := parseProcEvent(b)
		if ok && err != nil {
			t.Fatalf("accepted with an error: %+v %v", ev, err)
		}
		if len(ev.Comm) > 16 {
			t.Fatalf("comm longer than the kernel's 16 bytes: %q", ev.Comm)
		}
	})
}

func TestSyncDeliversEverythingBeforeIt(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: time.Hour, Connector: true})
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	p := livehelper.Start(t, "comm", "synced")
	// The interval is an hour: the frame after Sync is the one it asked for,
	// and it must already hold the helper's fork.
	f := frameAfterSync(t, m, ch)
	found := false
	for _, e := range f.Events {
		found = found || e.Type == lifecycle.Spawn && e.ID.PID == p.PID() && e.Source == lifecycle.SourceConnector
	}
	if !found {
		t.Errorf("the frame after Sync lacks the helper's spawn (%d events)", len(f.Events))
	}
}

func TestSeqTrackerFindsGaps(t *testing.T) {
	var s seqTracker
	ev := func(cpu, seq uint32) *procEvent { return &procEvent{What: procEventFork, CPU: cpu, Seq: seq} }
	steps := []struct {
		ev   *procEvent
		want uint32
	}{
		{ev(0, 10), 0}, {ev(1, 500), 0}, {ev(0, 11), 0}, {ev(1, 501), 0},
		{ev(0, 15), 3}, {ev(1, 501), 0}, // a repeat is not a gap
		{&procEvent{What: procEventNone, CPU: ackNoCPU, Seq: 99}, 0}, // an old kernel's ack: no stream
		{&procEvent{What: procEventNone, CPU: 0, Seq: 16}, 0},        // a current kernel's ack: numbered
		{ev(0, 17), 0},
		{ev(2, 0xffffffff), 0}, {ev(2, 0), 0}, {ev(2, 2), 1}, // wraps
	}
	for i, st := range steps {
		if got := s.gap(st.ev); got != st.want {
			t.Errorf("step %d (%+v): gap %d, want %d", i, st.ev, got, st.want)
		}
	}
	b := cnMsg(procEventFork, 1, 1, 2, 2)
	binary.NativeEndian.PutUint32(b[8:], 77)
	binary.NativeEndian.PutUint32(b[cnMsgLen+4:], 3)
	if ev, _, _ := parseProcEvent(b); ev.Seq != 77 || ev.CPU != 3 {
		t.Errorf("seq/cpu not parsed: %+v", ev)
	}
}

// TestExecsNotedToReader: the connector tells the reader which processes
// exec'd (so their cmdline is read afresh at the next scan), and only
// those: a thread's exec is reported for its process.
func TestExecsNotedToReader(t *testing.T) {
	var noted []int
	s := &connSource{execs: func(pids []int) { noted = append(noted, pids...) }}
	s.noteExecs([]procEvent{
		{What: procEventFork, PID: 10, TGID: 10},
		{What: procEventExec, PID: 11, TGID: 11},
		{What: procEventComm, PID: 12, TGID: 12},
		{What: procEventExec, PID: 13, TGID: 13},
	})
	if !slices.Equal(noted, []int{11, 13}) {
		t.Errorf("noted %v, want [11 13]", noted)
	}
	s.noteExecs([]procEvent{{What: procEventExit, PID: 11, TGID: 11}})
	if len(noted) != 2 {
		t.Errorf("an exit was noted as an exec: %v", noted)
	}
}

// TestOtherSubscribersAreNotGaps: another connector client subscribing and
// unsubscribing (each acknowledged to every listener, numbered in a CPU's
// stream on current kernels) is not a gap, so it is neither a lost event
// nor a rescan.
func TestOtherSubscribersAreNotGaps(t *testing.T) {
	// On one CPU, so that the acknowledgements and the events share a
	// stream: forks and acknowledgements are sent from the calling thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var was, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		t.Skip(err)
	}
	one.Set(0)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		t.Skip(err)
	}
	defer unix.SchedSetaffinity(0, &was)
	k, err := dialConnector()
	if err != nil {
		t.Skip(err)
	}
	defer func() { k.close(); k.release() }()
	var s seqTracker
	acks := 0
	// runAndRead runs a short program and reads events until its exit.
	runAndRead := func() {
		cmd := exec.Command("true")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		child := cmd.Process.Pid
		for exited := false; !exited; {
			evs, err := k.receiveWithin(nil, int(time.Minute/time.Millisecond))
			if err != nil {
				t.Fatalf("waiting for the exit of %d: %v", child, err)
			}
			for i := range evs {
				ev := &evs[i]
				if g := s.gap(ev); g != 0 {
					t.Errorf("a gap of %d before %+v", g, *ev)
				}
				if ev.What == procEventNone {
					acks++
				}
				exited = exited || ev.What == procEventExit && ev.PID == child
			}
		}
	}
	runAndRead()
	for range 3 {
		other, err := dialConnector()
		if err != nil {
			t.Fatal(err)
		}
		other.close()
		other.release()
	}
	runAndRead()
	t.Logf("%d acknowledgements seen", acks)
}

// TestMainThreadExitIsNotProcessExit: the kernel reports the main thread's
// pthread_exit as an exit with pid == tgid while a worker runs on. No exit
// may be reported then; when the worker calls exit(7) the process exits,
// with that code. The same holds when the main thread exited before the
// monitor started (known from the scan, not from the kernel).
func TestMainThreadExitIsNotProcessExit(t *testing.T) {
	t.Run("seen", func(t *testing.T) { testLeaderExit(t, false) })
	t.Run("before", func(t *testing.T) { testLeaderExit(t, true) })
}

func testLeaderExit(t *testing.T, before bool) {
	var p *livehelper.Proc
	ids, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ids.Close()
	leaderExited := func() bool {
		q, err := ids.Identity(p.PID(), false)
		return err == nil && q.State == 'Z' && q.NumThreads > 1
	}
	if before {
		p = livehelper.Start(t, "leaderexit")
		for deadline := time.Now().Add(20 * time.Second); !leaderExited(); livehelper.Sleep() {
			if time.Now().After(deadline) {
				t.Fatal("the helper's main thread did not exit within 20s")
			}
		}
	}
	m, ch := startMonitor(t, Options{Interval: 50 * time.Millisecond, Connector: true})
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	if !before {
		p = livehelper.Start(t, "leaderexit")
	}
	exits := func(f *Frame) (n int, last lifecycle.Event) {
		for _, e := range f.Events {
			if e.Type == lifecycle.Exit && e.ID.PID == p.PID() {
				n++
				last = e
			}
		}
		return n, last
	}
	waitFrame(t, ch, "the helper's leader in Z with its worker running", func(f *Frame) bool {
		if n, e := exits(f); n > 0 {
			t.Fatalf("exit reported while the worker runs: %+v", e)
		}
		for i := range f.Snapshot.Processes {
			q := &f.Snapshot.Processes[i]
			if q.PID == p.PID() && q.LeaderExited() {
				return true
			}
		}
		return false
	})
	// One more synced frame: every kernel event so far is in it.
	for _, f := range framesThroughSync(t, m, ch) {
		if n, e := exits(f); n > 0 {
			t.Fatalf("exit reported while the worker runs: %+v", e)
		}
	}
	if err := syscall.Kill(p.PID(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var got lifecycle.Event
	waitFrame(t, ch, "the helper's exit", func(f *Frame) bool {
		n, e := exits(f)
		if n > 1 {
			t.Errorf("%d exits in one frame", n)
		}
		got = e
		return n > 0
	})
	if got.Source != lifecycle.SourceConnector || got.ExitStatus == nil || !got.ExitStatus.Exited || got.ExitStatus.Code != 7 {
		t.Errorf("exit %+v status %+v, want the connector's with code 7", got, got.ExitStatus)
	}
}

// TestStalledSubscriberIsBounded: a subscriber that does not read keeps
// at most MaxPending events, the newest, after a Lost event counting the
// rest; once it reads, the count starts again.
func TestStalledSubscriberIsBounded(t *testing.T) {
	m := New(nil, Options{MaxPending: 3})
	ch, cancel := m.Subscribe()
	defer cancel()
	for i := 1; i <= 4; i++ {
		m.publish(&Frame{Seq: uint64(i), Events: []lifecycle.Event{
			{Type: lifecycle.Spawn, ID: collector.ID{PID: 10 * i}}, {Type: lifecycle.Exit, ID: collector.ID{PID: 10 * i}}}})
	}
	got := <-ch
	if len(got.Events) != 4 || got.Events[0].Type != lifecycle.Lost || !strings.HasPrefix(got.Events[0].Note, "5 events dropped") {
		t.Fatalf("stalled subscriber got %+v", got.Events)
	}
	if e := got.Events[1:]; e[0].ID.PID != 30 || e[0].Type != lifecycle.Exit || e[1].ID.PID != 40 || e[2].ID.PID != 40 {
		t.Errorf("kept %+v, want the newest three", e)
	}
	m.publish(&Frame{Seq: 5, Events: []lifecycle.Event{{Type: lifecycle.Spawn, ID: collector.ID{PID: 50}}}})
	if got := <-ch; len(got.Events) != 1 || got.Events[0].ID.PID != 50 {
		t.Errorf("after reading: %+v", got.Events)
	}
}

// connOf returns m's connector source (the test has checked it is live).
func connOf(t *testing.T, m *Monitor) *connSource {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.kernel
	if b, ok := k.(*bridged); ok {
		k = b.kernelSource
	}
	cs, ok := k.(*connSource)
	if !ok {
		t.Fatalf("kernel source %T, want the connector", m.kernel)
	}
	return cs
}

// TestConvertThreadEvents: a connector fork or exit with pid != tgid is a
// thread_start or thread_exit of process tgid, only when threads are asked
// for.
func TestConvertThreadEvents(t *testing.T) {
	r, err := collector.NewReader(collector.Options{Root: "../../fixtures/proc/lifecycle"})
	if err != nil {
		t.Fatal(err)
	}
	in := []procEvent{
		{What: procEventFork, ParentTGID: 70, PID: 71, TGID: 70},
		{What: procEventExit, PID: 71, TGID: 70, ExitCode: 0},
	}
	for _, threads := range []bool{true, false} {
		d := newDecoder(r, threads)
		d.comms[70] = connProc{comm: "pool", start: 9}
		evs := d.convert(in, time.Now(), true)
		if !threads {
			if len(evs) != 0 {
				t.Errorf("without threads: %+v", evs)
			}
			continue
		}
		if len(evs) != 2 || evs[0].Type != lifecycle.ThreadStart || evs[1].Type != lifecycle.ThreadExit {
			t.Fatalf("events %+v", evs)
		}
		for _, e := range evs {
			if e.ID != (collector.ID{PID: 70, StartTicks: 9}) || e.TID != 71 || e.Comm != "pool" {
				t.Errorf("thread event %+v", e)
			}
		}
	}
}

// TestMonitorFocusFromSnapshot: a tick reads the focused process once:
// the snapshot reads its threads (only its threads when Options.Threads
// is off) and Frame.Focus.Process is that very process of the snapshot,
// with its capabilities from the same status read.
func TestMonitorFocusFromSnapshot(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: 20 * time.Millisecond})
	pid := os.Getpid()
	m.Focus(pid)
	f := waitFrame(t, ch, "a scanned frame with the focus", func(f *Frame) bool {
		if f.Focus == nil || f.Focus.Process == nil {
			return false
		}
		for i := range f.Snapshot.Processes { // a scan that selected the focus's threads
			if p := &f.Snapshot.Processes[i]; p.PID == pid {
				return p.Read&collector.SrcTasks != 0
			}
		}
		return false
	})
	var inSnap *collector.Process
	for i := range f.Snapshot.Processes {
		p := &f.Snapshot.Processes[i]
		if p.PID == pid {
			inSnap = p
		} else if p.Read&collector.SrcTasks != 0 {
			t.Errorf("pid %d's threads read, only the focus's wanted", p.PID)
		}
	}
	if inSnap == nil || f.Focus.Process != inSnap {
		t.Fatalf("focus process %p is not the snapshot's %p: read twice", f.Focus.Process, inSnap)
	}
	if inSnap.Read&collector.SrcTasks == 0 || len(inSnap.Threads) < 2 || f.Snapshot.ThreadsRead {
		t.Errorf("focused process threads: read %b, %d threads", inSnap.Read, len(inSnap.Threads))
	}
	if f.Focus.Details == nil || f.Focus.Details.Caps != inSnap.Capabilities() || len(f.Focus.Details.Limits) == 0 {
		t.Errorf("details %+v, process caps %+v", f.Focus.Details, inSnap.Capabilities())
	}
}

// TestDecoderSequence plays a recorded-style sequence of connector events
// against a reader over fixtures/proc/lifecycle (no root, no connector):
// the lookups go through the reader; a process gone before its lookup is
// named from its parent; a main thread's exit with threads left is not
// the process's exit; a thread exit ends a process whose main thread had
// exited once the process is gone.
func TestDecoderSequence(t *testing.T) {
	r, err := collector.NewReader(collector.Options{Root: "../../fixtures/proc/lifecycle"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d := newDecoder(r, false)
	now := time.Now()
	in := []procEvent{
		{What: procEventFork, ParentTGID: 550, PID: 600, TGID: 600},   // read: start 300
		{What: procEventFork, ParentTGID: 550, PID: 9999, TGID: 9999}, // gone: a copy of bash
		{What: procEventExec, PID: 701, TGID: 701},
		{What: procEventComm, PID: 701, TGID: 701, Comm: "renamed"},
		{What: procEventExit, PID: 400, TGID: 400}, // main thread of 400: 3 threads left
		{What: procEventExit, PID: 401, TGID: 400}, // a thread of 400: 2 left
		{What: procEventExit, PID: 701, TGID: 701, ParentTGID: 700, ExitCode: 3 << 8},
		{What: procEventExit, PID: 9999, TGID: 9999, ExitCode: 9},
	}
	evs := d.convert(in, now, false)
	first := evs
	var got []string
	for _, e := range evs {
		l := fmt.Sprintf("%s %d/%d %q ppid %d", e.Type, e.ID.PID, e.ID.StartTicks, e.Comm, e.PPID)
		if e.ForkPPID != 0 {
			l += fmt.Sprintf(" (at fork %d)", e.ForkPPID)
		}
		got = append(got, l)
	}
	// 9999 was gone at its exit, which names no parent: the parent at
	// fork is only the tracker's fallback (a scan may show its adopter).
	want := []string{
		`spawn 600/300 "lost-job" ppid 550`,
		fmt.Sprintf(`spawn 9999/%d "bash" ppid 550`, evs[1].ID.StartTicks),
		`exec 701/310 "app" ppid 0`,
		`exit 701/310 "renamed" ppid 700`,
		fmt.Sprintf(`exit 9999/%d "bash" ppid 0 (at fork 550)`, evs[1].ID.StartTicks),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !evs[0].StartRead || evs[1].StartRead {
		t.Errorf("start read: %v %v, want true false", evs[0].StartRead, evs[1].StartRead)
	}
	if es := evs[3].ExitStatus; es == nil || !es.Exited || es.Code != 3 {
		t.Errorf("exit status %+v", es)
	}
	if !d.leaderGone[400] {
		t.Error("400's main thread exit not remembered")
	}
	// A process whose main thread exited before (a scan said so) ends with
	// its last thread: here it is gone by the time the thread's exit is
	// converted.
	d.leadersExited([]int{9000})
	evs = d.convert([]procEvent{{What: procEventExit, PID: 9001, TGID: 9000, ExitCode: 7 << 8}}, now, false)
	if len(evs) != 1 || evs[0].Type != lifecycle.Exit || evs[0].ID.PID != 9000 || evs[0].ExitStatus.Code != 7 || d.leaderGone[9000] {
		t.Errorf("last thread's exit: %+v", evs)
	}
	// In a hurry nothing is looked up: the start is estimated.
	evs = d.convert([]procEvent{{What: procEventFork, ParentTGID: 550, PID: 600, TGID: 600, TimestampNs: 1}}, now, true)
	if len(evs) != 1 || evs[0].StartRead || evs[0].ID.StartTicks == 300 {
		t.Errorf("hurried fork: %+v", evs)
	}

	// The tracker takes it from there. The scan shows 600, which the
	// kernel saw forked by 550, under init: it was adopted in between.
	snap, err := r.Scan(context.Background(), collector.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr := lifecycle.NewTracker(0)
	tr.Observe(nil, snap, lifecycle.Kernel{})
	st := tr.Observe(snap, snap, lifecycle.Kernel{Events: first})
	got = got[:0]
	for _, e := range st.Events {
		got = append(got, fmt.Sprintf("%s %d %s", e.Type, e.ID.PID, e.Source))
	}
	if g, w := strings.Join(got, ", "), "spawn 600 connector, spawn 9999 connector, exec 701 connector, exit 701 connector, exit 9999 connector, reparent 600 connector"; g != w {
		t.Errorf("tracker events\n%s\nwant\n%s", g, w)
	}
}

// TestEventsBehindMeasured: with the kernel's connector, a frame says how
// far behind the kernel its events were converted (Frame.EventsBehind,
// the dashboard's "N s behind"): real exits give a positive age on the
// kernel's clock, within reason (an hour would be a unit error).
func TestEventsBehindMeasured(t *testing.T) {
	_, ch := startMonitor(t, Options{Interval: 100 * time.Millisecond, Connector: true})
	for end := time.Now().Add(3 * time.Minute); time.Now().Before(end); {
		if err := exec.Command("true").Run(); err != nil {
			t.Fatal(err)
		}
		select {
		case f := <-ch:
			if !f.EventsLive && strings.Contains(f.EventsNote, "unavailable") {
				t.Skipf("no kernel process events here: %s", f.EventsNote)
			}
			if !f.EventsLive || len(f.Events) == 0 || f.EventsBehind == 0 {
				continue
			}
			if f.EventsBehind < 0 || f.EventsBehind > time.Hour {
				t.Fatalf("events %v behind", f.EventsBehind)
			}
			t.Logf("%d events, converted %v behind the kernel", len(f.Events), f.EventsBehind)
			return
		case <-time.After(time.Second):
		}
	}
	t.Fatal("no frame with events said how far behind they were")
}

// TestCoalescedConnectorDeliversEveryEvent: with the connector's events
// left to gather for long (ConnectorCoalesce, longer than the dashboard's
// 50 ms), a helper's burst of 200 children, each exiting at once with its
// own code, still reaches the frames whole: every spawn and every exit
// code exactly once. Under load the kernel may drop events; the monitor
// then says so with a lost event, and only then is the burst tried again,
// three times in all.
func TestCoalescedConnectorDeliversEveryEvent(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: 200 * time.Millisecond, Connector: true, ConnectorCoalesce: 250 * time.Millisecond})
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	const n = 200
	for attempt := 1; attempt <= 3; attempt++ {
		p := livehelper.Start(t, "burst", fmt.Sprint(n))
		if err := syscall.Kill(p.PID(), syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		spawned := map[int]bool{}
		codes := map[int]int{}
		lost := false
		done := func() bool {
			if len(spawned) < n {
				return false
			}
			for i := 1; i <= n; i++ {
				if codes[i] == 0 {
					return false
				}
			}
			return true
		}
		deadline := time.After(2 * time.Minute)
		for !lost && !done() {
			select {
			case f := <-ch:
				for _, e := range f.Events {
					switch {
					case e.Type == lifecycle.Lost:
						lost = true
					case e.Type == lifecycle.Spawn && e.PPID == p.PID():
						spawned[e.ID.PID] = true
					case e.Type == lifecycle.Exit && e.PPID == p.PID() && e.ExitStatus != nil && e.ExitStatus.Exited:
						codes[e.ExitStatus.Code]++
					}
				}
			case <-deadline:
				t.Fatalf("after 2 minutes: %d of %d spawns, %d exit codes seen", len(spawned), n, len(codes))
			}
		}
		if lost {
			t.Logf("attempt %d: the kernel dropped events (lost event); trying again", attempt)
			continue
		}
		for code, k := range codes {
			if k != 1 {
				t.Errorf("exit code %d seen %d times", code, k)
			}
		}
		return
	}
	t.Skip("the kernel dropped process events in every attempt (reported as lost): machine overloaded")
}

// countingIDs counts the lookups a decoder asks of a reader.
type countingIDs struct {
	identities
	asked []collector.IdentityQuery
}

func (c *countingIDs) Identities(qs []collector.IdentityQuery, out []collector.IdentityResult) []collector.IdentityResult {
	c.asked = append(c.asked, qs...)
	return c.identities.Identities(qs, out)
}

// TestExitOfKnownSingleThreadNeedsNoLookup: a process the decoder saw
// forked, with no thread made since and no event lost, exits without a
// lookup, named by its fork's lookup; after a thread of it was made, or
// after a loss, its exit is looked up again (the lookup is what tells a
// main thread's exit from the process's).
func TestExitOfKnownSingleThreadNeedsNoLookup(t *testing.T) {
	r, err := collector.NewReader(collector.Options{Root: "../../fixtures/proc/lifecycle"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ids := &countingIDs{identities: r}
	d := newDecoder(ids, false)
	now := time.Now()
	fork := procEvent{What: procEventFork, ParentTGID: 550, PID: 600, TGID: 600}
	exit := procEvent{What: procEventExit, PID: 600, TGID: 600, ExitCode: 4 << 8}
	thread := procEvent{What: procEventFork, ParentPID: 600, ParentTGID: 600, PID: 601, TGID: 600}
	cases := []struct {
		name   string
		before []procEvent // between the fork's batch and the exit's
		with   []procEvent // in the exit's batch, before it
		loss   bool
		asked  int
	}{
		{"single thread", nil, nil, false, 0},
		{"made a thread", []procEvent{thread}, nil, false, 1},
		{"made a thread in the exit's batch", nil, []procEvent{thread}, false, 1},
		{"events lost", nil, nil, true, 1},
	}
	for _, c := range cases {
		d.convert([]procEvent{fork}, now, false)
		if len(c.before) > 0 {
			d.convert(c.before, now, false)
		}
		if c.loss {
			d.losses++
		}
		ids.asked = nil
		evs := d.convert(append(c.with, exit), now, false)
		if len(ids.asked) != c.asked {
			t.Errorf("%s: %d lookups for the exit (%+v), want %d", c.name, len(ids.asked), ids.asked, c.asked)
		}
		if len(evs) != 1 || evs[0].Type != lifecycle.Exit || evs[0].Comm != "lost-job" || evs[0].ID.StartTicks != 300 || evs[0].ExitStatus.Code != 4 {
			t.Errorf("%s: exit events %+v, want lost-job's with code 4", c.name, evs)
		}
	}
}

// TestConnectorCloseEndsWaitingReceive: a receive waiting for the kernel
// (parked in Go's poller on the connector's epoll set) returns once
// close is called from another goroutine, and every receive after it
// fails the same way.
func TestConnectorCloseEndsWaitingReceive(t *testing.T) {
	k, err := dialConnector()
	if err != nil {
		t.Skipf("no kernel process events here: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		// Events of other processes may arrive: receive until closed.
		for {
			if _, err := k.receive(nil); err != nil {
				done <- err
				return
			}
		}
	}()
	k.close()
	select {
	case err := <-done:
		if !errors.Is(err, errConnectorClosed) {
			t.Errorf("receive after close: %v, want errConnectorClosed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a waiting receive did not return within a minute of close")
	}
	if _, err := k.receive(nil); !errors.Is(err, errConnectorClosed) {
		t.Errorf("a later receive: %v, want errConnectorClosed", err)
	}
	k.release()
}

// threadsChildEnv makes the test binary run TestWaitingReceivesHoldNoThreads's
// measurement itself, in a fresh process.
const threadsChildEnv = "PINSPECT_MONITOR_THREADS_CHILD"

// TestWaitingReceivesHoldNoThreads: a receive waiting for events parks
// its goroutine in Go's poller and holds no OS thread. A wait in a
// blocking system call (poll(2), as before) held one thread each, taken
// from the scheduler's P and handed back through the runtime's monitor
// thread: 16 waiting receives made 16 threads more. The count is taken
// in a new process each time: in this one the threads an earlier run
// (-count=2) or another test made stay idle, and would serve the next
// blocking waits without a thread more, so the old code passed there.
func TestWaitingReceivesHoldNoThreads(t *testing.T) {
	if os.Getenv(threadsChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWaitingReceivesHoldNoThreads$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), threadsChildEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.CombinedOutput()
		switch {
		case strings.Contains(string(out), "--- SKIP"):
			t.Skipf("in a new process: %s", out)
		case err != nil:
			t.Fatalf("in a new process: %v\n%s", err, out)
		case !strings.Contains(string(out), "--- PASS: TestWaitingReceivesHoldNoThreads"):
			t.Fatalf("in a new process, the test did not run:\n%s", out)
		}
		return
	}
	const n = 16
	var ks []*connector
	for range n {
		k, err := dialConnector()
		if err != nil {
			t.Skipf("no kernel process events here: %v", err)
		}
		ks = append(ks, k)
	}
	before := osThreads(t)
	var wg sync.WaitGroup
	for _, k := range ks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := k.receive(nil); err != nil {
					return
				}
			}
		}()
	}
	// Give every goroutine time to reach its wait (a receive that has
	// not reached it yet holds no thread either: this cannot fail
	// wrongly, only miss).
	time.Sleep(500 * time.Millisecond)
	during := osThreads(t)
	for _, k := range ks {
		k.close()
	}
	wg.Wait()
	for _, k := range ks {
		k.release()
	}
	if during-before >= n/2 {
		t.Errorf("%d waiting receives: %d OS threads, %d before", n, during, before)
	}
}

// osThreads is the number of this process's threads.
func osThreads(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestEventsWaitingCountAsBehind: events received and not yet converted
// (a converter starved of CPU converts nothing between two frames) make
// the source behind by the age of the oldest of them, frame after frame,
// until they are converted; before, a frame whose interval converted
// nothing said 0 (the dashboard's "events live") over minutes-old events.
func TestEventsWaitingCountAsBehind(t *testing.T) {
	s := newConnSource(nil, nil, 100, func() {})
	batches := make(chan []procEvent, 2)
	at := func(ago time.Duration) []procEvent {
		return []procEvent{{What: procEventExit, TimestampNs: uint64(monotonicNow() - int64(ago))}}
	}
	if !s.queue(batches, at(30*time.Second), 0) || !s.queue(batches, at(5*time.Second), 0) {
		t.Fatal("queueing two datagrams failed")
	}
	if s.queue(batches, at(time.Second), 0) {
		t.Fatal("a full queue took a datagram")
	}
	for frame := 1; frame <= 2; frame++ {
		if lag := s.behind(); lag < 30*time.Second || lag > time.Hour {
			t.Fatalf("frame %d: %v behind with a 30 s old event waiting", frame, lag)
		}
	}
	<-batches
	s.dequeued(1)
	if lag := s.behind(); lag < 5*time.Second || lag >= 30*time.Second {
		t.Fatalf("%v behind with a 5 s old event waiting", lag)
	}
	<-batches
	s.dequeued(1)
	if lag := s.behind(); lag != 0 {
		t.Fatalf("%v behind with nothing waiting and nothing converted", lag)
	}
}

// TestZombieBetweenScansNotYoung: without the kernel's exits, a zombie
// first seen by a scan became one at any time since the scan before: a
// monitor scanning 8 s apart does not call it young (provably younger
// than 5 s) at its first sighting, when it may be 8 s old (it called it
// young, "may still be reaped", for that scan).
func TestZombieBetweenScansNotYoung(t *testing.T) {
	// The child sleeps 8 s and is never reaped: its parent execs sleep.
	cmd := exec.Command("/bin/sh", "-c", "sleep 8 & exec sleep 600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	parent := cmd.Process.Pid
	state := func(pid int) byte {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := strings.LastIndexByte(string(b), ')'); err == nil && i >= 0 && i+2 < len(b) {
			return b[i+2]
		}
		return 0
	}
	var child int
	for deadline := time.Now().Add(10 * time.Second); child == 0; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent, parent))
		fmt.Sscan(string(b), &child)
		if time.Now().After(deadline) {
			t.Fatal("the shell started no child")
		}
	}
	m, ch := startMonitor(t, Options{Interval: time.Hour}) // its first scan, with the child asleep
	for deadline := time.Now().Add(20 * time.Second); state(child) != 'Z'; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d is not a zombie after 20 s (state %q)", child, state(child))
		}
	}
	f := frameAfterSync(t, m, ch)
	if f.EventsLive {
		t.Fatalf("the monitor took the kernel's events without Connector")
	}
	var g *lifecycle.ZombieGroup
	for i := range f.Zombies {
		if f.Zombies[i].Parent.PID == parent {
			g = &f.Zombies[i]
		}
	}
	if g == nil || len(g.Zombies) != 1 || g.Zombies[0].ID.PID != child {
		t.Fatalf("zombie groups %+v: want child %d of %d", f.Zombies, child, parent)
	}
	if g.Young || g.Zombies[0].Young || strings.Contains(g.Diagnosis, "may still be reaped") {
		t.Errorf("a zombie first seen 8 s after the scan before it called young: %q", g.Diagnosis)
	}
}

// TestMonitorNoRates: with Options.NoRates (serve's and record's) frames
// carry no rates, their events and zombies as without it; without it a
// frame after the first has the rates between its scan and the one
// before, a spinning process's CPU among them.
func TestMonitorNoRates(t *testing.T) {
	p := livehelper.Start(t, "cpupool", "1")
	for _, noRates := range []bool{false, true} {
		_, ch := startMonitor(t, Options{Interval: 50 * time.Millisecond, NoRates: noRates})
		waitFrame(t, ch, "a frame after the first with the pool", func(f *Frame) bool {
			if f.Seq < 2 {
				return false
			}
			q := lifecycle.Find(f.Snapshot, p.PID())
			if q == nil {
				return false
			}
			if noRates {
				if f.Rates != nil {
					t.Fatalf("frame %d has rates with NoRates", f.Seq)
				}
				return true
			}
			if f.Rates == nil {
				t.Fatalf("frame %d has no rates", f.Seq)
			}
			r, ok := f.Rates.Process(q.ID())
			return ok && r.CPUPercent > 10
		})
	}
}
