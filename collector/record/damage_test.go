package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
)

// twoSegments writes 10 samples, 10 s apart from t0, in two segments of
// five, and returns the directory.
func twoSegments(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{SegmentAge: 50 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w, 0, 10)
	w.Close()
	return dir
}

// openCounts opens dir and returns its problems and the damage it
// counts at any time.
func openCounts(t *testing.T, dir string) (problems []string, samples, parts int) {
	t.Helper()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Len() != 10 {
		t.Fatalf("%d samples, want 10 (problems %q)", st.Len(), st.Problems())
	}
	samples, parts = st.SkippedAtOpen(time.Time{}, time.Time{})
	return st.Problems(), samples, parts
}

// TestSegmentHeaderNotWrittenNotDamage: a segment shorter than its
// header whose bytes begin the header its writer writes holds no
// record: the newest is being started (the writer creates the file,
// then writes the header) and is neither listed nor counted; an older
// one (a recorder stopped while starting it) is listed, not counted.
// Both counted as an unreadable part at every time, which made an
// empty events query exit 3.
func TestSegmentHeaderNotWrittenNotDamage(t *testing.T) {
	dir := twoSegments(t)
	var hdr [segHeaderSize]byte
	putSegHeader(hdr[:], 3)
	third := filepath.Join(dir, segName(3, t0.Add(100*time.Second)))
	for _, n := range []int{0, 10, segHeaderSize - 1} {
		if err := os.WriteFile(third, hdr[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		if probs, samples, parts := openCounts(t, dir); len(probs) != 0 || samples != 0 || parts != 0 {
			t.Errorf("newest segment of %d header bytes: problems %q, %d samples and %d parts counted; want none", n, probs, samples, parts)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, segName(4, t0.Add(110*time.Second))), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	probs, samples, parts := openCounts(t, dir)
	if len(probs) != 1 || !strings.Contains(probs[0], filepath.Base(third)+": skipped: the segment's header is not all written") || samples != 0 || parts != 0 {
		t.Errorf("an older segment of %d header bytes: problems %q, %d samples and %d parts counted; want it listed, not counted", segHeaderSize-1, probs, samples, parts)
	}
	// Bytes that do not begin its header: damage.
	bad := hdr
	bad[3] ^= 0xff
	if err := os.WriteFile(third, bad[:10], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, parts := openCounts(t, dir); parts != 1 {
		t.Errorf("a short segment that is not a header's start: %d parts counted, want 1", parts)
	}
}

// TestSkippedSegmentBoundedByNames: a segment skipped whole may have
// held samples from its name's time to the next segment's (to the
// second), not at every time.
func TestSkippedSegmentBoundedByNames(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{SegmentAge: 50 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w, 0, 15) // segments from 0 s, 50 s and 100 s
	w.Close()
	mid := filepath.Join(dir, segName(2, t0.Add(50*time.Second)))
	// A whole header of another format version: nothing in it is read
	// (a damaged header's records are, TestSegmentHeaderDamaged).
	var hb [segHeaderSize]byte
	putSegHeader(hb[:], 2)
	binary.LittleEndian.PutUint16(hb[8:], segVersion+1)
	binary.LittleEndian.PutUint32(hb[28:], crc32.Checksum(hb[:28], crcTable))
	writeAt(t, mid, 0, hb[:])
	os.Remove(idxPath(mid))
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Len() != 10 || !strings.Contains(strings.Join(st.Problems(), "\n"), filepath.Base(mid)+": skipped: not a pinspect record segment") {
		t.Fatalf("%d samples, problems %q; want 10 and the middle segment skipped", st.Len(), st.Problems())
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, c := range []struct {
		since, until time.Time
		parts        int
	}{
		{time.Time{}, time.Time{}, 1},
		{time.Time{}, at(49), 0},
		{at(60), at(70), 1},
		{at(100), at(100), 1}, // the next segment's name is to the second
		{at(102), time.Time{}, 0},
	} {
		if samples, parts := st.SkippedAtOpen(c.since, c.until); samples != 0 || parts != c.parts {
			t.Errorf("SkippedAtOpen(%v, %v) = %d samples, %d parts; want 0 and %d", c.since, c.until, samples, parts, c.parts)
		}
	}
}

// TestSegmentGoneWhileListing: a segment deleted (by retention) between
// the directory's listing and its opening is gone, not damage.
func TestSegmentGoneWhileListing(t *testing.T) {
	dir := twoSegments(t)
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	third := filepath.Join(dir, segName(3, t0.Add(100*time.Second)))
	if err := os.WriteFile(third, []byte("a segment retention deletes"), 0o600); err != nil {
		t.Fatal(err)
	}
	st.listed = func() { os.Remove(third) }
	if err := st.Refresh(); err != nil {
		t.Fatal(err)
	}
	if samples, parts := st.SkippedAtOpen(time.Time{}, time.Time{}); len(st.Problems()) != 0 || samples != 0 || parts != 0 {
		t.Errorf("a segment gone while listing: problems %q, %d samples and %d parts counted; want none", st.Problems(), samples, parts)
	}
}

// TestSegmentGoneFromMiddle: a segment removed between the directory's
// listing and its opening, with segments before and after it still
// there, took its samples with it: retention removes only the oldest.
// It is listed and counted as an unreadable part between its name's time
// and the next segment's (it was ignored, as retention's); the oldest
// gone the same way is not counted.
func TestSegmentGoneFromMiddle(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{SegmentAge: 50 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w, 0, 15) // three segments of five, from 0 s, 50 s and 100 s
	w.Close()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first := filepath.Join(dir, segName(1, t0))
	second := filepath.Join(dir, segName(2, t0.Add(50*time.Second)))
	closeSegments := func() { // as a reader opening the directory anew
		for _, g := range st.segs {
			g.close()
		}
	}
	closeSegments()
	st.listed = func() { os.Remove(second) }
	if err := st.Refresh(); err != nil {
		t.Fatal(err)
	}
	if st.Len() != 10 || len(st.Problems()) != 1 || !strings.Contains(st.Problems()[0], filepath.Base(second)+": skipped: removed while the record was read") {
		t.Fatalf("the middle segment removed while listing: %d samples, problems %q; want 10 and it listed", st.Len(), st.Problems())
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, c := range []struct {
		since, until time.Time
		parts        int
	}{
		{time.Time{}, time.Time{}, 1},
		{time.Time{}, at(49), 0},
		{at(60), at(70), 1},
		{at(102), time.Time{}, 0},
	} {
		if samples, parts := st.SkippedAtOpen(c.since, c.until); samples != 0 || parts != c.parts {
			t.Errorf("SkippedAtOpen(%v, %v) = %d samples, %d parts; want 0 and %d", c.since, c.until, samples, parts, c.parts)
		}
	}
	// Now the oldest is removed while listing (retention): not damage.
	closeSegments()
	st.listed = func() { os.Remove(first) }
	if err := st.Refresh(); err != nil {
		t.Fatal(err)
	}
	if samples, parts := st.SkippedAtOpen(time.Time{}, time.Time{}); st.Len() != 5 || len(st.Problems()) != 0 || samples != 0 || parts != 0 {
		t.Errorf("the oldest segment removed while listing: %d samples, problems %q, %d samples and %d parts counted; want 5 and none", st.Len(), st.Problems(), samples, parts)
	}
}

// TestRetentionOfTwoWhileLoading: retention removing the two oldest
// segments while a reader loads, after it opened the first and before
// the second, is not damage: the first is gone too. Before, the second
// was "removed from the middle" and counted (review of polish6).
func TestRetentionOfTwoWhileLoading(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{SegmentAge: 50 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w, 0, 20) // four segments of five, from 0 s, 50 s, 100 s and 150 s
	w.Close()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first := filepath.Join(dir, segName(1, t0))
	second := filepath.Join(dir, segName(2, t0.Add(50*time.Second)))
	// The first stays open, as a reader holds a segment it opened; the
	// others are opened anew.
	for _, g := range st.segs[1:] {
		g.close()
	}
	st.listed = func() { os.Remove(first); os.Remove(second) }
	if err := st.Refresh(); err != nil {
		t.Fatal(err)
	}
	if samples, parts := st.SkippedAtOpen(time.Time{}, time.Time{}); len(st.Problems()) != 0 || samples != 0 || parts != 0 {
		t.Errorf("the two oldest segments removed by retention while loading: problems %q, %d samples and %d parts counted; want none", st.Problems(), samples, parts)
	}
}

// TestSkippedEventsAtOpen: a refused sample counts for an events query
// only when its header says it holds events of the kinds asked for, and
// when its events' times can lie in the range: up to 5 minutes before
// its time, and no later than the next sample's; a part whose samples
// are not known counts for any kind.
func TestSkippedEventsAtOpen(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w, 0, 8) // one segment, 10 s apart; each an exit, a signal's at 0 and 5
	w.Close()
	seg := filepath.Join(dir, segName(1, t0))
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	off := st.pos[4].e.off
	st.Close()
	rewriteHeader(t, seg, off, func(h *recHeader) { h.seq = 4 }) // repeats sample 3's
	os.Remove(idxPath(seg))
	st, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Len() != 7 {
		t.Fatalf("%d samples, want 7 (problems %q)", st.Len(), st.Problems())
	}
	refusedAt := t0.Add(40 * time.Second)
	for _, c := range []struct {
		q    EventQuery
		want int
	}{
		{EventQuery{}, 1},
		{EventQuery{Flags: FlagExit}, 1},
		{EventQuery{Flags: FlagReparent}, 0},
		{EventQuery{Flags: FlagExitSignal}, 0},
		{EventQuery{Flags: FlagReparent | FlagExit}, 1},
		// Its events lie no later than the next sample's time (10 s
		// after it): it counted up to 5 minutes after.
		{EventQuery{Since: refusedAt.Add(10 * time.Second)}, 1},
		{EventQuery{Since: refusedAt.Add(11 * time.Second)}, 0},
		{EventQuery{Since: refusedAt.Add(4 * time.Minute)}, 0},
		// An event may be written up to 5 minutes after its time.
		{EventQuery{Until: refusedAt.Add(-4 * time.Minute)}, 1},
		{EventQuery{Until: refusedAt.Add(-6 * time.Minute)}, 0},
	} {
		if samples, parts := st.SkippedEventsAtOpen(c.q); samples != c.want || parts != 0 {
			t.Errorf("SkippedEventsAtOpen(%+v) = %d samples, %d parts; want %d and 0", c.q, samples, parts, c.want)
		}
	}
	if samples, _ := st.SkippedAtOpen(refusedAt.Add(time.Minute), time.Time{}); samples != 0 {
		t.Errorf("SkippedAtOpen a minute after the refused sample: %d samples, want 0 (samples have no slack)", samples)
	}
	// A skipped part's events are not known: it counts for any kind.
	flip(t, seg, st.pos[2].e.off) // sample 2's header: a part between samples 1 and 3
	os.Remove(idxPath(seg))
	if err := st.Refresh(); err != nil {
		t.Fatal(err)
	}
	if samples, parts := st.SkippedEventsAtOpen(EventQuery{Flags: FlagReparent}); samples != 0 || parts != 1 {
		t.Errorf("a skipped part, for reparents: %d samples, %d parts; want 0 and 1", samples, parts)
	}
	// Its samples were taken before sample 3 (at 30 s), their events too.
	if _, parts := st.SkippedEventsAtOpen(EventQuery{Since: t0.Add(30 * time.Second)}); parts != 1 {
		t.Errorf("a skipped part before sample 3, since sample 3's time: %d parts, want 1", parts)
	}
	if _, parts := st.SkippedEventsAtOpen(EventQuery{Since: t0.Add(31 * time.Second)}); parts != 0 {
		t.Errorf("a skipped part before sample 3, since a second after it: %d parts, want 0", parts)
	}
}

// TestReadFaultNamesNoPath: an I/O error reading a record (EIO from a
// bad sector) makes the sample damaged, with the error's reason but not
// the file's path; what ForClient makes of it names the segment by its
// number (it carried the segment's path: os's read error names it).
func TestReadFaultNamesNoPath(t *testing.T) {
	dir := twoSegments(t)
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loc, err := st.Location(3)
	if err != nil {
		t.Fatal(err)
	}
	st.setReadFault(func(path string, off int64) error {
		if off == loc.Offset {
			return &fs.PathError{Op: "read", Path: path, Err: syscall.EIO}
		}
		return nil
	})
	_, err = st.Read(3)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "reading: input/output error") {
		t.Fatalf("a read failing with EIO: %v; want damaged, reading: input/output error", err)
	}
	want := fmt.Sprintf("damaged record: segment %d offset %d (sample 4 at ", loc.Segment, loc.Offset)
	if got := ForClient(err).Error(); !strings.Contains(got, want) || !strings.Contains(got, "input/output error") || strings.Contains(got, dir) {
		t.Errorf("ForClient: %q; want %q, the reason and no path", got, want)
	}
	if _, err := st.Read(2); err != nil {
		t.Errorf("sample 2 (no fault): %v", err)
	}
	// A reason naming the segment, its index or another file of the
	// directory: the segment's number, or no reason.
	for _, c := range []struct{ why, want string }{
		{"open " + loc.Path + ": input/output error", "open segment 1: input/output error"},
		{"reading " + idxPath(loc.Path) + ": bad", "reading segment 1.idx: bad"},
		{"compare with " + filepath.Join(dir, "other") + ": bad", "unreadable (the agent's log says why)"},
	} {
		d := &DamagedError{Path: loc.Path, Segment: loc.Segment, Offset: loc.Offset, Seq: 4, TakenAt: t0, Err: errors.New(c.why)}
		if got := ForClient(d).Error(); !strings.HasSuffix(got, "): "+c.want) || strings.Contains(got, dir) {
			t.Errorf("ForClient of %q: %q; want it to end in %q", c.why, got, c.want)
		}
	}
}

// TestEventsDamageBeforeRange: a damaged sample taken before an events
// query's range, and before the next sample, cannot hold events in the
// range: reading the range neither reads it nor reports it (it was
// reported, up to 5 minutes before, and an empty answer exited 3);
// the same sample counts for a range that starts by the next sample's
// time, and for one that ends up to 5 minutes before it.
func TestEventsDamageBeforeRange(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w, 0, 8) // 10 s apart, each an exit a second before its time
	w.Close()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loc, err := st.Location(3) // at t0+30s; the next at t0+40s
	if err != nil {
		t.Fatal(err)
	}
	flip(t, loc.Path, loc.BodyOffset+int64(loc.BodyBytes)/2) // checksum mismatch, read by Events
	damagedAt := t0.Add(30 * time.Second)
	for _, c := range []struct {
		q       EventQuery
		damaged int
		events  int
	}{
		{EventQuery{Since: damagedAt.Add(11 * time.Second)}, 0, 3}, // the exits at 49 s, 59 s, 69 s
		{EventQuery{Since: damagedAt.Add(10 * time.Second), Until: damagedAt.Add(15 * time.Second)}, 1, 0},
		{EventQuery{Since: damagedAt.Add(time.Second), Until: damagedAt.Add(5 * time.Second)}, 1, 0},
		{EventQuery{Until: damagedAt.Add(-4 * time.Minute)}, 1, 0},
		{EventQuery{Since: t0, Until: damagedAt.Add(-21 * time.Second)}, 1, 1}, // the exit at 9 s
	} {
		damaged, events := 0, 0
		c.q.Damaged = func(error) { damaged++ }
		if err := st.Events(c.q, func(*lifecycle.Event) bool { events++; return true }); err != nil {
			t.Fatal(err)
		}
		if damaged != c.damaged || events != c.events {
			t.Errorf("Events since %v until %v: %d damaged, %d events; want %d and %d", c.q.Since, c.q.Until, damaged, events, c.damaged, c.events)
		}
	}
}

// TestReadFaultForClientNamesNoPath: a sample whose read fails with an
// I/O error (EIO from a bad sector; os's error names the file) is
// damage that ForClient, which serve's answers use, names by its
// segment's number and offset with the reason, never by the agent's
// path. (It was a serve test in this package, since the read fault is
// no part of the store's API; serve's own handling of damage is held by
// views/metrics's TestSkippedNamesNoAgentPath on a real checksum
// mismatch.)
func TestReadFaultForClientNamesNoPath(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(dir, WriterOptions{Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	writeSamples(t, w, 0, 3)
	w.Close()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loc, err := st.Location(1)
	if err != nil {
		t.Fatal(err)
	}
	st.setReadFault(func(path string, off int64) error {
		if off == loc.Offset {
			return &fs.PathError{Op: "read", Path: path, Err: syscall.EIO}
		}
		return nil
	})
	_, err = st.Read(1)
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("reading sample 2 under EIO: %v, want damage", err)
	}
	got := ForClient(err).Error()
	want := fmt.Sprintf("damaged record: segment %d offset %d (sample 2 at ", loc.Segment, loc.Offset)
	if !strings.Contains(got, want) || !strings.Contains(got, "input/output error") || strings.Contains(got, dir) || strings.Contains(got, filepath.Base(loc.Path)) {
		t.Errorf("ForClient of an EIO read: %q; want %q, the reason and no path", got, want)
	}
}

// writeAt writes b at off in the file path.
func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestSegmentHeaderDamaged: a segment whose header is zeroed (and whose
// index is gone, as for the segment being written) keeps every sample:
// each record is found by its own magic and checksum, and the damaged
// header is named with where it is, not counted as a lost sample. With
// the first record's header damaged too, that sample is counted as
// skipped and the rest are read. Before, every sample of the segment
// was lost ("skipped: not a pinspect record segment").
func TestSegmentHeaderDamaged(t *testing.T) {
	dir := twoSegments(t)
	first := filepath.Join(dir, segName(1, t0))
	writeAt(t, first, 0, make([]byte, segHeaderSize))
	os.Remove(idxPath(first))
	probs, samples, parts := openCounts(t, dir)
	got := strings.Join(probs, "\n")
	if !strings.Contains(got, first+": bytes 0 to 32, the segment header, are damaged (no segment magic): no sample is lost") || samples != 0 || parts != 0 {
		t.Errorf("zeroed header: problems %q, %d samples and %d parts skipped; want it named and none skipped", probs, samples, parts)
	}
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.Len() {
		if _, err := st.Read(i); err != nil {
			t.Errorf("sample %d: %v", i, err)
		}
	}
	st.Close()

	// The first record's header too: that sample is lost and counted.
	writeAt(t, first, segHeaderSize, []byte("XXXX"))
	st, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, parts = st.SkippedAtOpen(time.Time{}, time.Time{})
	if st.Len() != 9 || parts != 1 || !strings.Contains(strings.Join(st.Problems(), "\n"), "the segment header (no segment magic) and what follows it, are not a readable record (skipped)") {
		t.Errorf("zeroed header and first record: %d samples, %d parts skipped, problems %q; want 9 and 1 part", st.Len(), parts, st.Problems())
	}
	if m := st.Meta(0); !m.TakenAt.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("the first sample read is at %s, want the second written (%s)", m.TakenAt, t0.Add(10*time.Second))
	}
}

// TestNonFileNamedLikeSegment: a FIFO, a directory and a symlink named
// like segments beside real ones are each named as skipped, with what
// they are, and never opened (the FIFO would hang); alone in the
// directory, the error says the same. Before, beside segments, they were
// skipped without a word, and alone called "not a segment file".
func TestNonFileNamedLikeSegment(t *testing.T) {
	dir := twoSegments(t)
	fifo := filepath.Join(dir, segName(3, t0.Add(200*time.Second)))
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, segName(4, t0.Add(300*time.Second)))
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, segName(5, t0.Add(400*time.Second)))
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	probs, samples, parts := openCounts(t, dir)
	got := strings.Join(probs, "\n")
	for path, kind := range map[string]string{fifo: "a FIFO", sub: "a directory", link: "a symbolic link"} {
		if want := path + ": skipped: named like a segment but not a regular file (" + kind + ")"; !strings.Contains(got, want) {
			t.Errorf("problems %q do not say %q", probs, want)
		}
	}
	if samples != 0 || parts != 0 {
		t.Errorf("%d samples, %d parts counted as skipped; want none (they held none)", samples, parts)
	}
	alone := t.TempDir()
	fifo = filepath.Join(alone, segName(1, t0))
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(alone); !errors.Is(err, ErrNoRecord) || !strings.Contains(err.Error(), fifo+": skipped: named like a segment but not a regular file (a FIFO)") {
		t.Errorf("a FIFO alone: %v", err)
	}
}
