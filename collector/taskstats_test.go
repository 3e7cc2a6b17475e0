package collector

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// nla appends one netlink attribute.
func nla(b []byte, typ uint16, val []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(val)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// statsBlob is a struct taskstats of the given size with known values at
// the offsets pinspect reads.
func statsBlob(size int) []byte {
	s := make([]byte, size)
	ne := binary.NativeEndian
	put := func(off int, v uint64) {
		if off+8 <= size {
			ne.PutUint64(s[off:], v)
		}
	}
	if size >= 2 {
		ne.PutUint16(s[0:], 16)
	}
	put(tsOffCPUCount, 7)
	put(tsOffCPUDelay, 34870000000)
	put(tsOffBlkCount, 3)
	put(tsOffBlkDelay, 586)
	put(tsOffSwpCount, 2)
	put(tsOffSwpDelay, 91000)
	put(tsOffUTime, 1203000)
	put(tsOffSTime, 3408000)
	put(tsOffNvcsw, 8314)
	put(tsOffNivcsw, 1624)
	return s
}

// reply builds a reply payload: optional NULL padding, then the
// aggregate with the id and the stats.
func reply(tgid bool, id uint32, stats []byte, pad bool) []byte {
	aggr, idType := uint16(tsTypeAggrPID), uint16(tsTypePID)
	if tgid {
		aggr, idType = tsTypeAggrTG, tsTypeTGID
	}
	var inner []byte
	inner = nla(inner, idType, binary.NativeEndian.AppendUint32(nil, id))
	inner = nla(inner, tsTypeStats, stats)
	var b []byte
	if pad {
		b = nla(b, 6, nil) // TASKSTATS_TYPE_NULL
	}
	return nla(b, aggr|0x8000 /* NLA_F_NESTED */, inner)
}

func TestParseTaskstats(t *testing.T) {
	for _, tc := range []struct {
		name string
		tgid bool
		size int
		pad  bool
	}{
		{"tgid v16", true, 560, false},
		{"tgid v13 header size", true, 416, true},
		{"pid v17 larger", false, 720, false},
		{"exactly the fields read", true, tsMinLen, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := parseTaskstats(reply(tc.tgid, 1378, statsBlob(tc.size), tc.pad), tc.tgid)
			if err != nil {
				t.Fatal(err)
			}
			want := taskstatsRecord{id: 1378, version: 16, cpuCount: 7, cpuDelayNs: 34870000000,
				blkioCount: 3, blkioDelayNs: 586, swapinCount: 2, swapinDelay: 91000, utimeUs: 1203000, stimeUs: 3408000, nvcsw: 8314, nivcsw: 1624}
			if rec != want {
				t.Errorf("got %+v\nwant %+v", rec, want)
			}
		})
	}
}

func TestParseTaskstatsRejects(t *testing.T) {
	good := reply(true, 1, statsBlob(560), false)
	for _, tc := range []struct {
		name    string
		payload []byte
		tgid    bool
	}{
		{"empty", nil, true},
		{"stats too short for nivcsw", reply(true, 1, statsBlob(tsMinLen-1), false), true},
		{"pid reply read as tgid", reply(false, 1, statsBlob(560), false), true},
		{"attribute longer than payload", good[:len(good)-100], true},
		{"garbage", []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTaskstats(tc.payload, tc.tgid)
			if !errors.Is(err, ErrTaskstatsFormat) {
				t.Fatalf("got %v, want ErrTaskstatsFormat", err)
			}
		})
	}
}

func TestParseNlmsgError(t *testing.T) {
	msg := make([]byte, 36)
	binary.NativeEndian.PutUint32(msg[0:], 36)
	binary.NativeEndian.PutUint16(msg[4:], nlmsgError)
	binary.NativeEndian.PutUint32(msg[8:], 42)
	binary.NativeEndian.PutUint32(msg[16:], ^uint32(0)) // -1: -EPERM
	_, seq, err := parseNlmsg(msg)
	if seq != 42 || !errors.Is(err, unix.EPERM) || !IsDenied(err) {
		t.Fatalf("got seq %d err %v, want 42 EPERM", seq, err)
	}
	if _, _, err := parseNlmsg(msg[:10]); !errors.Is(err, ErrTaskstatsFormat) {
		t.Fatalf("short message: got %v", err)
	}
	binary.NativeEndian.PutUint32(msg[0:], 400) // longer than the datagram
	if _, _, err := parseNlmsg(msg); !errors.Is(err, ErrTaskstatsFormat) {
		t.Fatalf("bad length: got %v", err)
	}
}

func FuzzParseTaskstats(f *testing.F) {
	f.Add(reply(true, 1, statsBlob(560), true), true)
	f.Add(reply(false, 2, statsBlob(300), false), false)
	f.Add([]byte{8, 0, 5, 0x80, 4, 0, 3, 0}, true)
	f.Fuzz(func(t *testing.T, b []byte, tgid bool) {
		parseTaskstats(b, tgid) // must not panic
		parseNlmsg(b)
	})
}

// liveTaskstats skips unless this process can use taskstats.
func liveTaskstats(t *testing.T) *Reader {
	t.Helper()
	r, err := NewReader(Options{Backend: BackendProc})
	if err != nil {
		t.Skip("no /proc:", err)
	}
	if ok, why := r.Taskstats(); !ok {
		t.Skip("taskstats unavailable here:", why)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestTaskstatsLive checks the TGID totals against /proc on a helper whose
// threads wake often: the leader's status is read before the TGID query
// and the threads after it, and the counts only grow.
func TestTaskstatsLive(t *testing.T) {
	r := liveTaskstats(t)
	h := livehelper.Start(t, "threads", "4")
	deadline := time.Now().Add(30 * time.Second)
	// The leader's counts come from its status, read just before the TGID
	// query, so one call's thread sum may trail its own TGID total; every
	// read of the next call happens after it, so its sum may not.
	var prevTGID uint64
	for {
		p, _, err := r.Process(h.PID())
		if err != nil {
			t.Fatal(err)
		}
		if p.CtxSource != CtxTaskstats {
			t.Fatalf("CtxSource %q, want taskstats", p.CtxSource)
		}
		var sum uint64
		for _, th := range p.Threads {
			if !th.HasStatus {
				t.Fatalf("thread %d has no switch counts", th.TID)
			}
			sum += th.VolCtx
		}
		if len(p.Threads) != 4 {
			t.Fatalf("%d threads, want 4", len(p.Threads))
		}
		if p.VolCtx < p.LeaderVol || prevTGID > sum {
			t.Fatalf("TGID voluntary %d below the leader's %d, or the previous TGID total %d above a later thread sum %d",
				p.VolCtx, p.LeaderVol, prevTGID, sum)
		}
		prevTGID = p.VolCtx
		if p.VolCtx > p.LeaderVol+10 { // the waking threads have switched
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TGID voluntary count stayed at %d", p.VolCtx)
		}
		livehelper.Sleep()
	}
	// Without threads the totals still come from taskstats.
	s, err := r.Scan(context.Background(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.CtxSwitchSource != CtxTaskstats || s.CtxSwitchNote != "" {
		t.Fatalf("snapshot source %q note %q", s.CtxSwitchSource, s.CtxSwitchNote)
	}
	for _, p := range s.Processes {
		if p.PID == h.PID() {
			if p.CtxSource != CtxTaskstats || p.Threads != nil || p.VolCtx <= p.LeaderVol {
				t.Fatalf("no-threads scan: source %q, %d threads, vol %d leader %d", p.CtxSource, len(p.Threads), p.VolCtx, p.LeaderVol)
			}
			return
		}
	}
	t.Fatal("helper not in snapshot")
}

// TestTaskstatsBatchVanished asks for tids that do not exist among live
// ones: each gets its own error, the others their records.
func TestTaskstatsBatchVanished(t *testing.T) {
	r := liveTaskstats(t)
	h := livehelper.Start(t, "threads", "3")
	tids := append([]int{h.PID()}, h.TIDs...)
	tids = append(tids, 1<<22+7) // above pid_max: never a task
	recs, errs, _ := r.ts.queryBatch(h.PID(), tids, nil, nil)
	if len(recs) != len(tids)+1 || len(errs) != len(tids)+1 {
		t.Fatalf("%d records for %d queries", len(recs), len(tids)+1)
	}
	for i := 0; i < len(tids); i++ {
		if errs[i] != nil {
			t.Fatalf("query %d: %v", i, errs[i])
		}
	}
	if recs[0].id != uint32(h.PID()) || recs[1].id != uint32(h.PID()) || recs[2].id != uint32(h.TIDs[0]) {
		t.Errorf("reply ids %d %d %d, want %d %d %d", recs[0].id, recs[1].id, recs[2].id, h.PID(), h.PID(), h.TIDs[0])
	}
	if last := errs[len(errs)-1]; !IsVanished(last) {
		t.Fatalf("missing tid: got %v, want ESRCH", last)
	}
}

func TestTaskstatsNotForFixtures(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(root+"/stat", []byte("cpu 0 0 0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := r.Taskstats(); ok || why == nil {
		t.Fatalf("taskstats used on a fixture tree (why %v)", why)
	}
	s, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.CtxSwitchSource != CtxLeaderOnly || !strings.Contains(s.CtxSwitchNote, "not a procfs") {
		t.Fatalf("source %q note %q", s.CtxSwitchSource, s.CtxSwitchNote)
	}
}

func TestTaskstatsOff(t *testing.T) {
	r, err := NewReader(Options{NoTaskstats: true, Backend: BackendProc})
	if err != nil {
		t.Skip(err)
	}
	h := livehelper.Start(t, "threads", "3")
	p, _, err := r.Process(h.PID())
	if err != nil {
		t.Fatal(err)
	}
	if p.CtxSource != CtxThreadSum || p.CPUDelayNs != 0 {
		t.Fatalf("source %q delay %d, want thread_sum and none", p.CtxSource, p.CPUDelayNs)
	}
}

// TestTaskstatsEPERM runs this test binary without CAP_NET_ADMIN (root
// with it dropped from the bounding set, as setpriv does) and checks the
// fallback: EPERM at the probe, totals summed over live threads, labelled.
func TestTaskstatsEPERM(t *testing.T) {
	if os.Getenv("PINSPECT_EPERM_CHILD") == "1" {
		epermChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop a capability")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed")
	}
	if _, err := NewReader(Options{}); err != nil {
		t.Skip(err)
	}
	cmd := exec.Command("setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin",
		os.Args[0], "-test.run=^TestTaskstatsEPERM$", "-test.v")
	cmd.Env = append(os.Environ(), "PINSPECT_EPERM_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "EPERM-FALLBACK-OK") {
		t.Fatalf("child did not check the fallback:\n%s", out)
	}
}

func epermChild(t *testing.T) {
	r, err := NewReader(Options{Backend: BackendProc})
	if err != nil {
		t.Fatal(err)
	}
	ok, why := r.Taskstats()
	if ok {
		t.Skip("taskstats works without CAP_NET_ADMIN here")
	}
	if !errors.Is(why, unix.EPERM) {
		t.Skipf("taskstats unavailable for another reason: %v", why)
	}
	s, err := r.SnapshotThreads(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if s.CtxSwitchSource != CtxThreadSum || !strings.Contains(s.CtxSwitchNote, "live threads only") {
		t.Fatalf("source %q note %q", s.CtxSwitchSource, s.CtxSwitchNote)
	}
	for _, p := range s.Processes {
		if p.PID == os.Getpid() && p.CtxSource != CtxThreadSum {
			t.Fatalf("own process source %q", p.CtxSource)
		}
	}
	t.Log("EPERM-FALLBACK-OK")
}

func BenchmarkTaskstatsTGID(b *testing.B) {
	c, err := probeTaskstats("/proc")
	if err != nil {
		b.Skip(err)
	}
	defer c.close()
	pid := os.Getpid()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.query(pid, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTaskstatsThreadBatch queries every thread of this test process
// in one batch; the metric is per thread.
func BenchmarkTaskstatsThreadBatch(b *testing.B) {
	c, err := probeTaskstats("/proc")
	if err != nil {
		b.Skip(err)
	}
	defer c.close()
	tids, err := listNumeric(append([]byte("/proc/self/task"), 0), make([]byte, 16<<10), nil)
	if err != nil || len(tids) == 0 {
		b.Skip("no threads listed")
	}
	var recs []taskstatsRecord
	var errs []error
	b.ReportAllocs()
	for b.Loop() {
		recs, errs = c.queryBatch(-1, tids, recs, errs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tids))/1e3, "µs/thread")
}
