package monitor

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

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
	m.SetPaused(false)
	r := waitFrame(t, ch, "a resumed frame", func(f *Frame) bool { return !f.Paused })
	if r.Seq <= p.Seq || r.Snapshot == p.Snapshot || r.Prev == nil {
		t.Errorf("resumed frame %d after paused %d", r.Seq, p.Seq)
	}
	if r.EventsLive {
		t.Error("connector was not asked for")
	}
}

func TestConnectorErrorResubscribesAndRescans(t *testing.T) {
	m, ch := startMonitor(t, Options{Interval: time.Hour, Connector: true})
	if f := m.Latest(); !f.EventsLive {
		t.Skipf("no kernel process events here: %s", f.EventsNote)
	}
	m.mu.Lock()
	old := m.conn
	m.mu.Unlock()
	// Break the socket under the listener: its next receive fails, as on
	// ENOBUFS. The interval is an hour, so only the forced rescan makes a frame.
	_ = old.c.Close()
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
		m.mu.Lock()
		again := m.conn != old && m.live
		m.mu.Unlock()
		if again {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new subscription within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p := livehelper.Start(t, "comm", "resub")
	m.SetInterval(50 * time.Millisecond)
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seq, err := m.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The interval is an hour: the frame after Sync is the one it asked for,
	// and it must already hold the helper's fork.
	f := waitFrame(t, ch, "the frame after Sync", func(f *Frame) bool { return f.Seq > seq })
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
		{&procEvent{What: procEventNone, Seq: 99}, 0},
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
