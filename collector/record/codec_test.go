package record

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// liveSnapshot reads this machine's /proc with threads.
func liveSnapshot(t testing.TB) *collector.Snapshot {
	t.Helper()
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := r.Scan(context.Background(), collector.ScanOptions{Threads: true})
	if err != nil {
		t.Fatal(err)
	}
	// Enough to see every kind of process; a loaded machine has thousands.
	s.Processes = s.Processes[:min(len(s.Processes), 300)]
	return s
}

// richSample is a sample with every kind of field set.
func richSample(snap *collector.Snapshot) *Sample {
	at := snap.TakenAt
	return &Sample{
		Seq: 7, RunID: 0xdeadbeef, Interval: 10 * time.Second, Snapshot: snap,
		Events: []lifecycle.Event{
			{Type: lifecycle.Spawn, Time: at, ID: collector.ID{PID: 42, StartTicks: 9}, Comm: "a\xff)b", PPID: 1, Source: lifecycle.SourcePoll},
			{Type: lifecycle.Exit, Time: at, ID: collector.ID{PID: 43}, Comm: "x", Source: lifecycle.SourceConnector,
				ExitStatus: &collector.ExitStatus{Signal: 11, CoreDumped: true}},
			{Type: lifecycle.Exit, Time: at, ID: collector.ID{PID: 44}, ExitStatus: &collector.ExitStatus{Exited: true}},
			{Type: lifecycle.Reparent, Time: at, ID: collector.ID{PID: 45, StartTicks: 3}, OldPPID: 40, PPID: 1, AdopterKind: lifecycle.AdopterSubreaper},
			{Type: lifecycle.Lost, Time: at, Note: "12 events dropped"},
			{Type: lifecycle.Exec, ID: collector.ID{PID: 46}, OldComm: "sh", Comm: "ls", OldExe: "/bin/sh", Exe: "/bin/ls", OldState: 'R', State: 'S', TID: 46},
		},
		EventsLive: true, EventsNote: "connector",
		ZombieFirstSeen: map[collector.ID]time.Time{{PID: 5, StartTicks: 6}: at.Add(-time.Hour), {PID: 2, StartTicks: 1}: at},
		Reparents:       map[collector.ID]lifecycle.Event{{PID: 45, StartTicks: 3}: {Type: lifecycle.Reparent, ID: collector.ID{PID: 45, StartTicks: 3}, OldPPID: 40, PPID: 1}},
		ParentWChan:     map[int]string{4: "do_wait", 9: ""},
		Memory:          map[collector.ID]collector.MemoryTotals{{PID: 4, StartTicks: 2}: {RSSBytes: 1 << 20, AnonBytes: 1 << 19, PrivateDirtyBytes: 3 << 18, PSSBytes: 5}},
	}
}

var sampleCmp = []cmp.Option{
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

func TestSampleRoundTrip(t *testing.T) {
	snap := liveSnapshot(t)
	if len(snap.Processes) < 5 {
		t.Fatalf("only %d processes read", len(snap.Processes))
	}
	// Fields the live machine may not show.
	p := &snap.Processes[0]
	p.ExitCode = -1
	p.Nice = -20
	p.Unavailable = map[string]string{"exe": "permission denied"}
	p.NSPids = []int{p.PID, 1}
	p.Cmdline = []string{"", "a b", "\x1b[31m"}
	p.DumpOwnerUID = 65534
	snap.Processes[1].DumpOwnerUID = 0 // root: not dumpable
	snap.Problems = []collector.Problem{{PID: 1, File: "stat", Reason: "parse"}}
	snap.Host.Unavailable = map[string]string{"uptime": "ENOENT"}
	want := richSample(snap)
	b := appendSample(nil, want)
	got, err := newDecoder().decodeSample(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, sampleCmp...); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	// Encoding is deterministic.
	if b2 := appendSample(nil, got); string(b2) != string(b) {
		t.Fatal("re-encoding the decoded sample gave other bytes")
	}
}

// TestDecodeTruncated cuts a payload inside its last field: an error,
// not a panic. (A cut between fields is a valid shorter message: the
// store's checksums catch those.)
func TestDecodeTruncated(t *testing.T) {
	b := appendSample(nil, richSample(liveSnapshot(t)))
	if _, err := newDecoder().decodeSample(b[:len(b)-1]); !errors.Is(err, errMalformed) {
		t.Errorf("cut by one byte: err %v, want errMalformed", err)
	}
	for n := 0; n < len(b); n += 1 + n/64 {
		_, _ = newDecoder().decodeSample(b[:n])
	}
}

func FuzzDecodeSample(f *testing.F) {
	snap := &collector.Snapshot{TakenAt: time.Unix(1e9, 5), Processes: []collector.Process{
		{PID: 1, ProcStat: collector.ProcStat{Comm: "init"}, Threads: []collector.Thread{{TID: 1}}, ProcStatus: collector.ProcStatus{NSPids: []int{1}}},
	}}
	f.Add(appendSample(nil, richSample(snap)))
	f.Add([]byte{0x22, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := newDecoder().decodeSample(b)
		if err == nil && s == nil {
			t.Fatal("nil sample without an error")
		}
	})
}

// TestDecodeRefusesPIDDisorder: a sample whose processes are not in
// strictly increasing pid order (a crafted or damaged recording; each
// lookup by pid relies on the order) is refused with errMalformed, as the
// decoder's other checks refuse what they find wrong.
func TestDecodeRefusesPIDDisorder(t *testing.T) {
	for name, pids := range map[string][]int{"descending": {1, 30, 20}, "repeated": {1, 20, 20}} {
		snap := &collector.Snapshot{TakenAt: time.Unix(1e9, 5)}
		for _, pid := range pids {
			snap.Processes = append(snap.Processes, collector.Process{PID: pid, ProcStat: collector.ProcStat{Comm: "p"}})
		}
		_, err := newDecoder().decodeSample(appendSample(nil, richSample(snap)))
		if !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), "process 20 after process") {
			t.Errorf("%s %v: err %v, want errMalformed naming the pids out of order", name, pids, err)
		}
	}
	ordered := &collector.Snapshot{TakenAt: time.Unix(1e9, 5), Processes: []collector.Process{{PID: 1}, {PID: 20}, {PID: 30}}}
	if _, err := newDecoder().decodeSample(appendSample(nil, richSample(ordered))); err != nil {
		t.Errorf("pids in order: %v", err)
	}
}
