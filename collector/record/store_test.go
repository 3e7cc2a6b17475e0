package record

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

var t0 = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

// synth makes sample i (fakeSample) at the given time, with an exit
// event (a SIGSEGV every 5th sample) and a zombie first seen at t0.
func synth(_ testing.TB, i int, at time.Time) *Sample {
	s := fakeSample(i)
	s.Snapshot.TakenAt = at
	s.Snapshot.Monotonic = at.Sub(t0)
	ev := lifecycle.Event{Type: lifecycle.Exit, Time: at.Add(-time.Second), ID: collector.ID{PID: 100000 + i, StartTicks: uint64(i)},
		Comm: "worker", Source: lifecycle.SourceConnector, ExitStatus: &collector.ExitStatus{Exited: true}}
	if i%5 == 0 {
		ev.ExitStatus = &collector.ExitStatus{Signal: 11, CoreDumped: true}
	}
	s.Events = []lifecycle.Event{ev}
	s.ZombieFirstSeen = map[collector.ID]time.Time{{PID: 7, StartTicks: 1}: t0}
	return s
}

// testLogger collects log lines.
type testLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLogger) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }
func (l *testLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}
func (l *testLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func writeSamples(t *testing.T, w *Writer, from, n int) []*Sample {
	t.Helper()
	var out []*Sample
	for i := from; i < from+n; i++ {
		s := synth(t, i, t0.Add(time.Duration(i)*10*time.Second))
		if err := w.Append(s); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		out = append(out, s)
	}
	return out
}

// sameSample asserts two samples are equal: their encodings are (the
// encoding is deterministic and TestSampleRoundTrip holds it to the
// model; go-cmp over every sample was most of this package's test time).
func sameSample(t *testing.T, i int, want, got *Sample) {
	t.Helper()
	if !bytes.Equal(appendSample(nil, want), appendSample(nil, got)) {
		t.Fatalf("sample %d (-want +got):\n%s", i, cmp.Diff(want, got, sampleCmp...))
	}
}

// checkAll asserts the store holds exactly want, in order.
func checkAll(t *testing.T, dir string, want []*Sample) *Store {
	t.Helper()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if st.Len() != len(want) {
		t.Fatalf("store has %d samples, want %d (problems: %v)", st.Len(), len(want), st.Problems())
	}
	for i, w := range want {
		got, err := st.Read(i)
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		sameSample(t, i, w, got)
	}
	return st
}

func TestWriteReadBack(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{KeyframeEvery: 4, SegmentAge: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := writeSamples(t, w, 0, 20)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for i, s := range want {
		if s.Seq != uint64(i+1) {
			t.Fatalf("sample %d got seq %d", i, s.Seq)
		}
	}
	st := checkAll(t, dir, want)
	if p := st.Problems(); len(p) > 0 {
		t.Fatalf("problems in a clean store: %v", p)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	idxs, _ := filepath.Glob(filepath.Join(dir, "*"+idxSuffix))
	if len(segs) != 4 || len(idxs) != 4 {
		t.Fatalf("20 samples of a 1-minute segment age: %d segments, %d indexes, want 4 and 4", len(segs), len(idxs))
	}

	// Points in time.
	if _, ok := st.Find(t0.Add(-time.Second)); ok {
		t.Error("a time before the record found a sample")
	}
	if _, err := st.At(t0.Add(-time.Second)); !errors.Is(err, ErrNoRecord) {
		t.Errorf("At before the record: %v, want ErrNoRecord", err)
	}
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{0, 0}, {5 * time.Second, 0}, {10 * time.Second, 1}, {125 * time.Second, 12}, {time.Hour, 19}} {
		if i, ok := st.Find(t0.Add(c.at)); !ok || i != c.want {
			t.Errorf("Find(t0+%v) = %d, %v; want %d", c.at, i, ok, c.want)
		}
	}

	// The exits by a signal of the last minute (samples 14..19, of which 15 was a SIGSEGV).
	var got []int
	err = st.Events(EventQuery{Since: t0.Add(135 * time.Second), Until: t0.Add(time.Hour), Flags: FlagExitSignal},
		func(e *lifecycle.Event) bool { got = append(got, e.ID.PID-100000); return true })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{15}) {
		t.Errorf("exits by signal since t0+135s: %v, want [15]", got)
	}
	n := 0
	_ = st.Events(EventQuery{}, func(*lifecycle.Event) bool { n++; return true })
	if n != 20 {
		t.Errorf("all events: %d, want 20", n)
	}
}

func TestSecondWriterLocked(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = OpenWriter(dir, WriterOptions{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: %v, want ErrLocked", err)
	}
	for _, want := range []string{dir, "pid", "one recorder per directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second writer's error %q does not say %q", err, want)
		}
	}
	// Readers need no lock.
	writeSamples(t, w, 0, 2)
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Len() != 2 {
		t.Fatalf("reader beside the writer sees %d samples, want 2", st.Len())
	}
	// A reader opened earlier sees later samples after Refresh.
	writeSamples(t, w, 2, 1)
	if err := st.Refresh(); err != nil || st.Len() != 3 {
		t.Fatalf("after Refresh: %d samples, err %v; want 3", st.Len(), err)
	}
	if _, err := st.Read(2); err != nil {
		t.Fatal(err)
	}
}

// TestTornTail: a record cut short at the end of the last segment (a
// writer killed mid-write, or power lost) is invisible to readers and cut
// off by the next writer; everything before it stays.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{KeyframeEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := writeSamples(t, w, 0, 5)
	path := w.cur.path
	// Leave the segment as a dead writer would: no index, and half a record.
	w.cur.f.Close()
	w.cur = nil
	w.lock.unlock()
	rec := synth(t, 5, t0.Add(time.Minute))
	full := appendSample(nil, rec)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	var hdr [recHeaderSize]byte
	h := recHeader{kind: kindSample, codec: codecZstd, seq: 6, takenAt: rec.TakenAt().UnixNano(), bodyLen: uint32(len(full))}
	h.put(hdr[:], full)
	f.Write(hdr[:])
	f.Write(full[:len(full)/2])
	f.Close()
	sizeTorn := fileSize(path)

	st := checkAll(t, dir, want)
	if p := st.Problems(); len(p) != 1 || !strings.Contains(p[0], "not a whole record") {
		t.Errorf("problems: %q, want one about the incomplete tail", p)
	}

	log := &testLogger{}
	w2, err := OpenWriter(dir, WriterOptions{Logger: log.logger()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "cutting off an incomplete record") {
		t.Errorf("the recovery was not logged: %s", log)
	}
	if fileSize(path) >= sizeTorn {
		t.Error("the torn record was not cut off")
	}
	if w2.LastSeq() != 5 {
		t.Errorf("next writer's last seq %d, want 5", w2.LastSeq())
	}
	want = append(want, writeSamples(t, w2, 6, 2)...)
	w2.Close()
	st2 := checkAll(t, dir, want)
	if p := st2.Problems(); len(p) > 0 {
		t.Errorf("problems after recovery: %v", p)
	}
}

// TestCorruption: a flipped byte inside a record, a smashed header and a
// damaged index cost only the records they hit; a segment that is not one
// is skipped with a reason.
func TestCorruption(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{KeyframeEvery: 2, SegmentAge: 50 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := writeSamples(t, w, 0, 10) // two segments of 5: keyframes at 0, 2, 4
	seg1 := w.segs[0].path
	es := slices.Clone(w.segs)
	w.Close()
	_ = es

	// Flip a byte in the body of sample 3 (not a keyframe) of segment 1.
	st, _ := Open(dir)
	off3 := st.pos[3].e.off
	off1 := st.pos[1].e.off
	st.Close()
	flip(t, seg1, off3+recHeaderSize+10)
	// Smash the magic of sample 1's header.
	flip(t, seg1, off1)
	// And damage segment 1's index.
	flip(t, idxPath(seg1), 60)
	// A file that looks like a segment by name but is not one, named
	// 200 s in (after the samples).
	os.WriteFile(filepath.Join(dir, segName(99, t0.Add(200*time.Second))), []byte("not a segment at all, just text"), 0o600)

	st, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Sample 1 is gone from the catalog (its header is unreadable); 3 is
	// listed but its checksum fails.
	if st.Len() != 9 {
		t.Fatalf("%d samples, want 9 (problems %v)", st.Len(), st.Problems())
	}
	probs := strings.Join(st.Problems(), "\n")
	for _, want := range []string{"not a readable record", "skipped: not a pinspect record segment"} {
		if !strings.Contains(probs, want) {
			t.Errorf("problems do not mention %q:\n%s", want, probs)
		}
	}
	// Both are counted as damage of unknown samples: the smashed record
	// between samples 0 and 2 (0 s and 20 s in), the skipped segment
	// from its name's time on (it is the last: no later segment bounds
	// it; it counted at every time).
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Second) }
	for _, c := range []struct {
		since, until time.Time
		parts        int
	}{
		{time.Time{}, time.Time{}, 2},
		{at(0), at(2), 1},
		{at(3), time.Time{}, 1},
		{time.Time{}, at(0).Add(-time.Second), 0},
		{at(3), at(19), 0},
		{at(20), at(20), 1},
	} {
		if samples, parts := st.SkippedAtOpen(c.since, c.until); samples != 0 || parts != c.parts {
			t.Errorf("SkippedAtOpen(%v, %v) = %d samples, %d parts; want 0 and %d", c.since, c.until, samples, parts, c.parts)
		}
	}
	for i := range st.Len() {
		got, err := st.Read(i)
		seq := st.Meta(i).Seq
		if seq == 4 { // sample index 3
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("the flipped sample read with err %v, want ErrDamaged", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("sample seq %d: %v", seq, err)
			continue
		}
		sameSample(t, int(seq), want[seq-1], got)
	}
	// The events query skips the damaged record and says so.
	n := 0
	if err := st.Events(EventQuery{}, func(*lifecycle.Event) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != 8 || !strings.Contains(strings.Join(st.Problems(), "\n"), "checksum mismatch") {
		t.Errorf("events query: %d events (want 8), problems %v", n, st.Problems())
	}

	// A writer opens such a store and carries on.
	w2, err := OpenWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w2, 10, 1)
	w2.Close()
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

func TestClockStepBack(t *testing.T) {
	dir := t.TempDir()
	log := &testLogger{}
	w, err := OpenWriter(dir, WriterOptions{Logger: log.logger()})
	if err != nil {
		t.Fatal(err)
	}
	var want []*Sample
	// 02:00:00 .. 02:00:40, then the clock goes back to 02:00:15.
	for i, at := range []time.Duration{0, 10, 20, 30, 40, 15, 25, 35} {
		s := synth(t, i, t0.Add(at*time.Second))
		if err := w.Append(s); err != nil {
			t.Fatal(err)
		}
		want = append(want, s)
	}
	w.Close()
	if !strings.Contains(log.String(), "clock stepped back") {
		t.Errorf("the step was not logged: %s", log)
	}
	st := checkAll(t, dir, want)
	steps := st.ClockSteps()
	if len(steps) != 1 || steps[0].Seq != 6 || !steps[0].To.Equal(t0.Add(15*time.Second)) {
		t.Errorf("clock steps %+v, want one at seq 6 back to 02:00:15", steps)
	}
	// 02:00:17 was recorded twice: the closest sample before it is the
	// one of 02:00:15 (after the step); 02:00:42 is the last before the step.
	if i, _ := st.Find(t0.Add(17 * time.Second)); st.Meta(i).Seq != 6 {
		t.Errorf("Find(02:00:17) = seq %d, want 6", st.Meta(i).Seq)
	}
	if i, _ := st.Find(t0.Add(42 * time.Second)); st.Meta(i).Seq != 5 {
		t.Errorf("Find(02:00:42) = seq %d, want 5", st.Meta(i).Seq)
	}
	// Sequence numbers never go back.
	for i := 1; i < st.Len(); i++ {
		if st.Meta(i).Seq <= st.Meta(i-1).Seq {
			t.Fatalf("seq went back at %d", i)
		}
	}
}

// TestPIDReuse: a pid that belongs to another process in the next sample
// is another identity in the record, not a continuation.
func TestPIDReuse(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(i int, start uint64, comm string) *Sample {
		snap := &collector.Snapshot{TakenAt: t0.Add(time.Duration(i) * 10 * time.Second), Processes: []collector.Process{
			{PID: 1, ProcStat: collector.ProcStat{Comm: "init", State: 'S'}, Read: collector.SrcStat},
			{PID: 4242, ProcStat: collector.ProcStat{StartTicks: start, Comm: comm, State: 'S', UTimeTicks: 100 * uint64(i)}, Read: collector.SrcStat},
		}}
		return &Sample{RunID: 1, Snapshot: snap}
	}
	a, b := mk(0, 1000, "old"), mk(1, 5000, "new")
	b.Events = lifecycle.Diff(a.Snapshot, b.Snapshot)
	for _, s := range []*Sample{a, b} {
		if err := w.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	checkAll(t, dir, []*Sample{a, b})
	var types []string
	st, _ := Open(dir)
	defer st.Close()
	_ = st.Events(EventQuery{}, func(e *lifecycle.Event) bool {
		types = append(types, string(e.Type)+":"+e.Comm)
		return true
	})
	if !slices.Equal(types, []string{"exit:old", "spawn:new"}) {
		t.Errorf("events of a reused pid: %v, want exit:old then spawn:new", types)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	// By age: segments of 1 minute, kept 3 minutes.
	w, err := OpenWriter(dir, WriterOptions{SegmentAge: time.Minute, MaxAge: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w, 0, 60) // 10 minutes
	w.Close()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, last := st.Span()
	st.Close()
	if age := last.Sub(first); age < 3*time.Minute || age > 5*time.Minute {
		t.Errorf("after age retention of 3m the record spans %v", age)
	}
	if w.Stats().SegmentsFreed == 0 {
		t.Error("no segment freed")
	}

	// By size: the store stays under MaxBytes (plus the segment being
	// written).
	dir2 := t.TempDir()
	const maxBytes, segBytes = 256 << 10, 64 << 10
	w2, err := OpenWriter(dir2, WriterOptions{MaxBytes: maxBytes, SegmentBytes: segBytes, KeyframeEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; w2.Stats().BytesWritten < 4*maxBytes; i++ {
		if i > 100000 {
			t.Fatal("samples too small to fill the store")
		}
		if err := w2.Append(synth(t, i, t0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
		if sz := dirSize(t, dir2); sz > maxBytes+2*segBytes {
			t.Fatalf("store at %d bytes over a %d-byte limit", sz, maxBytes)
		}
	}
	if w2.Stats().SegmentsFreed == 0 {
		t.Error("size retention freed nothing")
	}
	w2.Close()
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, ErrNoRecord) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing dir: %v", err)
	}
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNoRecord) || !strings.Contains(err.Error(), "no samples") {
		t.Errorf("empty dir: %v", err)
	}
	// A directory of files that are not segments names them and what a
	// segment is, not "no samples recorded yet".
	foreign := t.TempDir()
	for _, name := range []string{"notes.txt", "000000000001.pnr", lockName, "000000000001-20261201T020000Z.idx"} {
		os.WriteFile(filepath.Join(foreign, name), []byte("text"), 0o600)
	}
	_, err := Open(foreign)
	if msg := fmt.Sprint(err); !errors.Is(err, ErrNoRecord) || strings.Contains(msg, "no samples recorded yet") ||
		!strings.Contains(msg, "000000000001.pnr, notes.txt are not a segment file") || !strings.Contains(msg, "named like 000000000001-20261201T020000Z.pnr") {
		t.Errorf("a directory of other files: %v", err)
	}
	// Segments that cannot be read: the reasons, not "no samples".
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, segName(1, t0)), []byte("not a segment at all, just text"), 0o600)
	_, err = Open(bad)
	if msg := fmt.Sprint(err); !errors.Is(err, ErrNoRecord) || !strings.Contains(msg, "no readable sample: ") || !strings.Contains(msg, segName(1, t0)+": skipped: not a pinspect record segment") {
		t.Errorf("a directory of a damaged segment: %v", err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: %v", err)
	}
	if _, err := OpenWriter(file, WriterOptions{}); err == nil {
		t.Error("a writer on a file opened")
	}
}

// TestFIFOInRecordDir: a FIFO planted in a record directory under an
// index's name is refused, never waited on (the index is rebuilt from
// its segment, as for a missing one): opening the record for reading
// and for writing returns, with every sample. Before, both hung for ever
// in the open of the FIFO.
func TestFIFOInRecordDir(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{KeyframeEvery: 4, SegmentAge: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := writeSamples(t, w, 0, 20)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	idxs, _ := filepath.Glob(filepath.Join(dir, "*"+idxSuffix))
	if len(idxs) < 2 {
		t.Fatalf("%d indexes, want several", len(idxs))
	}
	fifo := idxs[0]
	if err := os.Remove(fifo); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A hang is a failure: wait for the open generously, then free it by
	// opening the FIFO's other end so that the test ends.
	returns := func(what string, f func() error) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s with a FIFO for an index: %v", what, err)
			}
		case <-time.After(time.Minute):
			t.Errorf("%s with a FIFO for an index: still blocked after a minute", what)
			if fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				unix.Close(fd)
			}
			<-done
		}
	}
	returns("Open", func() error {
		st, err := Open(dir)
		if err != nil {
			return err
		}
		return st.Close()
	})
	checkAll(t, dir, want)
	returns("OpenWriter", func() error {
		w, err := OpenWriter(dir, WriterOptions{})
		if err != nil {
			return err
		}
		return w.Close()
	})
}

// TestOversizedSegmentRefused: a segment file larger than any writer
// makes (here sparse, 100 GiB of zeros after its records) is refused
// with its size named, not scanned to its end; the other segments stay
// readable.
func TestOversizedSegmentRefused(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{KeyframeEvery: 4, SegmentAge: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w, 0, 20)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(segs) < 2 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	slices.Sort(segs)
	big := segs[len(segs)-1]
	if err := os.Truncate(big, 100<<30); err != nil {
		t.Skipf("no sparse file of 100 GiB here: %v", err)
	}
	_ = os.Remove(idxPath(big))
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	found := false
	for _, p := range st.Problems() {
		found = found || (strings.Contains(p, big) && strings.Contains(p, "more than a segment can hold"))
	}
	if !found {
		t.Errorf("problems %q: want the oversized segment %s refused", st.Problems(), big)
	}
	if st.Len() == 0 {
		t.Error("no sample left readable from the other segments")
	}
}

// rewriteHeader changes the header of the record at off in a segment and
// writes it back with a checksum that holds, as a crafted file would.
func rewriteHeader(t *testing.T, path string, off int64, change func(*recHeader)) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hdr := make([]byte, recHeaderSize)
	if _, err := f.ReadAt(hdr, off); err != nil {
		t.Fatal(err)
	}
	h, err := parseRecHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, h.bodyLen)
	if _, err := f.ReadAt(body, off+recHeaderSize); err != nil {
		t.Fatal(err)
	}
	change(&h)
	h.put(hdr, body)
	if _, err := f.WriteAt(hdr, off); err != nil {
		t.Fatal(err)
	}
}

// TestOrderRefused: a sample whose checksum holds but whose sequence
// number repeats or goes back is refused as damaged with the reason; one
// sample far ahead of its neighbours is refused alone, not every sample
// after it. A time that goes back is a clock step, kept and listed
// (TestClockStepInSegmentKept).
func TestOrderRefused(t *testing.T) {
	cases := []struct {
		name    string
		change  func(i int, h *recHeader) // i: the sample's index, 0 to 7
		refused []int
		want    string
	}{
		{"sequence repeats", func(i int, h *recHeader) {
			if i == 4 {
				h.seq = 4 // sample 3's
			}
		}, []int{4}, "sequence number 4 repeats the sample before it (refused)"},
		{"sequence goes back", func(i int, h *recHeader) {
			if i == 5 {
				h.seq = 2
			}
		}, []int{5}, "sequence number 2 after 5: sequence numbers never go back (refused)"},
		{"one sample far ahead", func(i int, h *recHeader) {
			if i == 2 {
				h.seq = 1000
			}
		}, []int{2}, "out of order with the samples around it (sequence numbers 2, 1000, 4) (refused)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := OpenWriter(dir, WriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := writeSamples(t, w, 0, 8) // one segment, 10 s apart; keyframe: the first
			w.Close()
			segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
			if len(segs) != 1 {
				t.Fatalf("segments %v, want one", segs)
			}
			seg := segs[0]
			st, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			var offs []int64
			for i := range st.Len() {
				offs = append(offs, st.pos[i].e.off)
			}
			st.Close()
			for i, off := range offs {
				rewriteHeader(t, seg, off, func(h *recHeader) { c.change(i, h) })
			}
			os.Remove(idxPath(seg)) // the reader scans the crafted headers
			st, err = Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var keep []*Sample
			for i, s := range want {
				if !slices.Contains(c.refused, i) {
					keep = append(keep, s)
				}
			}
			if st.Len() != len(keep) {
				t.Fatalf("%d samples, want %d (problems %v)", st.Len(), len(keep), st.Problems())
			}
			probs := strings.Join(st.Problems(), "\n")
			if !strings.Contains(probs, "damaged record: ") || !strings.Contains(probs, c.want) {
				t.Errorf("problems do not say %q:\n%s", c.want, probs)
			}
			for i, w := range keep {
				got, err := st.Read(i)
				if err != nil {
					t.Fatalf("sample %d: %v", i, err)
				}
				sameSample(t, i, w, got)
			}
		})
	}
}

// TestClockStepInSegmentKept: a time that goes back inside one segment
// (a writer that compared monotonic readings made them when the wall
// clock stepped back) is a clock step: every sample stays readable and
// the step is listed.
func TestClockStepInSegmentKept(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w, 0, 8) // one segment, 10 s apart
	w.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	off := st.pos[6].e.off
	st.Close()
	rewriteHeader(t, segs[0], off, func(h *recHeader) { h.takenAt = t0.Add(25 * time.Second).UnixNano() })
	os.Remove(idxPath(segs[0]))
	st, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Len() != 8 || len(st.Problems()) != 0 {
		t.Errorf("%d of 8 samples readable, problems %q", st.Len(), st.Problems())
	}
	if steps := st.ClockSteps(); len(steps) != 1 || !steps[0].To.Equal(t0.Add(25*time.Second)) {
		t.Errorf("clock steps %+v, want one to %s", steps, t0.Add(25*time.Second))
	}
}

// TestWriterSeesWallClockStepBack: snapshot times carry Go's monotonic
// reading, which goes on forward when the wall clock steps back; the
// writer compares wall clocks, begins a new segment at the step, and
// every sample reads back with the step listed.
func TestWriterSeesWallClockStepBack(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now()
	for i := range 8 {
		mono := base.Add(time.Duration(i) * 10 * time.Second)
		wall := mono
		if i >= 5 {
			wall = wall.Add(-time.Hour) // the wall clock stepped back an hour
		}
		at := wallWithMonotonic(wall, mono)
		if i == 5 && at.Before(base.Add(40*time.Second)) {
			t.Fatal("the crafted time compares by its wall clock: the test no longer stages a step")
		}
		if err := w.Append(synth(t, i, at)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(segs) != 2 {
		t.Errorf("%d segments, want two (a new one at the step)", len(segs))
	}
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Len() != 8 || len(st.Problems()) != 0 || len(st.ClockSteps()) != 1 {
		t.Errorf("%d of 8 samples readable, problems %q, clock steps %+v", st.Len(), st.Problems(), st.ClockSteps())
	}
}

// wallWithMonotonic returns a time whose wall clock is wall's and whose
// monotonic reading is mono's, as time.Now gives after the wall clock
// was set back. Both must carry monotonic readings (from time.Now). It
// writes the second word of time.Time (ext: the monotonic reading when
// the first word's hasMonotonic bit is set), which the time package has
// kept so since Go 1.9.
func wallWithMonotonic(wall, mono time.Time) time.Time {
	type timeWords struct {
		wall uint64
		ext  int64
		loc  unsafe.Pointer
	}
	out := wall
	(*timeWords)(unsafe.Pointer(&out)).ext = (*timeWords)(unsafe.Pointer(&mono)).ext
	return out
}
