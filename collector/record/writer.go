package record

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/userfile"
)

// SyncPolicy says when the writer makes records durable.
type SyncPolicy int

const (
	// SyncEachSample calls fdatasync after every record: a power loss
	// loses at most the sample being written (the default).
	SyncEachSample SyncPolicy = iota
	// SyncNone leaves write-back to the kernel: a power loss can lose the
	// last dirty interval of the page cache (about 30 s by default on
	// Linux); a killed recorder still loses at most one sample.
	SyncNone
)

// Defaults of WriterOptions.
const (
	DefaultMaxBytes      = 2 << 30
	DefaultMaxAge        = 7 * 24 * time.Hour
	DefaultSegmentBytes  = 64 << 20
	DefaultSegmentAge    = time.Hour
	DefaultKeyframeEvery = 30
	// DefaultMaxPendingEvents bounds the events kept for the next sample
	// while writes fail (a full disk).
	DefaultMaxPendingEvents = 1_000_000
)

// WriterOptions configure a Writer. Zero values take the defaults.
type WriterOptions struct {
	// MaxBytes is the retention by size: the oldest finished segments are
	// deleted while the store is larger.
	MaxBytes int64
	// MaxAge is the retention by age: finished segments whose last sample
	// is older than the newest sample by more than this are deleted.
	MaxAge time.Duration
	// SegmentBytes and SegmentAge bound one segment file (a new one is
	// started at either).
	SegmentBytes int64
	SegmentAge   time.Duration
	// KeyframeEvery is how often a sample is stored whole (a keyframe);
	// the samples between are stored as deltas against the last keyframe.
	// 1 makes every sample a keyframe.
	KeyframeEvery int
	// Sync is the durability policy.
	Sync SyncPolicy
	// MaxPendingEvents bounds events carried to the next sample while
	// writes fail.
	MaxPendingEvents int
	// Logger gets recovery and retention notices (default: discard).
	Logger *slog.Logger

	// midWrite, for tests, is called after the first half of a record is
	// written and before the rest (the kill -9 test stops there).
	midWrite func()
	// syncData and cutBack, for tests, stand for fdatasync(2) and
	// ftruncate(2) on a segment (nil: the system calls), to make them
	// fail.
	syncData func(*os.File) error
	cutBack  func(*os.File, int64) error
}

func (o *WriterOptions) defaults() {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	// A segment is at most a quarter of the retention size, so retention
	// keeps most of what it may.
	o.SegmentBytes = max(min(o.SegmentBytes, maxSegmentBytes, o.MaxBytes/4), 64<<10)
	if o.SegmentAge <= 0 {
		o.SegmentAge = DefaultSegmentAge
	}
	if o.KeyframeEvery <= 0 {
		o.KeyframeEvery = DefaultKeyframeEvery
	}
	if o.MaxPendingEvents <= 0 {
		o.MaxPendingEvents = DefaultMaxPendingEvents
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// WriterStats count what a Writer did.
type WriterStats struct {
	Samples       uint64 // records written
	Failed        uint64 // samples that could not be written
	BytesWritten  int64  // record bytes written (headers included)
	RawBytes      int64  // uncompressed sample and event bytes
	SegmentsMade  int
	SegmentsFreed int   // deleted by retention
	BytesFreed    int64 // by retention
	StoreBytes    int64 // segments and indexes now on disk
}

// Writer appends samples to a store directory. Only one Writer may hold a
// directory (an flock on its LOCK file). Its methods are for one
// goroutine.
type Writer struct {
	dir  string
	opts WriterOptions
	lock *dirLock

	segs []segInfo // finished segments, oldest first
	cur  *activeSeg
	next uint64 // next segment number
	seq  uint64 // last sample sequence number written

	enc      *zstd.Encoder
	delta    deltaEncoder // against the current keyframe
	raw      []byte
	evRaw    []byte
	dRaw     []byte
	out      []byte
	pending  []lifecycle.Event // events of samples that could not be written
	lastTime time.Time
	stats    WriterStats
}

// segInfo is a finished segment as the writer tracks it for retention.
type segInfo struct {
	num         uint64
	path        string
	bytes       int64 // segment and index
	first, last time.Time
}

// activeSeg is the segment being written.
type activeSeg struct {
	num        uint64
	path       string
	f          *os.File
	size       int64
	entries    []entry
	first      time.Time
	key        []byte // the raw sample of the current keyframe
	keyOff     int64
	keyThreads bool // the keyframe has every process's threads
	sinceKey   int
}

// OpenWriter opens (creating it if needed) a store directory for
// recording. It takes the directory's lock, repairs the end of the last
// segment if a previous writer died mid-write (cutting off only a torn
// record), writes the missing index of a segment left unfinished, and
// applies retention. Samples are appended to a new segment.
func OpenWriter(dir string, o WriterOptions) (*Writer, error) {
	o.defaults()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("record directory: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("record directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("record directory %s: not a directory", dir)
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return nil, fmt.Errorf("record directory %s is not writable: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	w := &Writer{dir: dir, opts: o, lock: lock, next: 1}
	if err := w.recover(); err != nil {
		lock.unlock()
		return nil, err
	}
	w.enc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	w.retain()
	return w, nil
}

// recover reads the catalog of segments, repairs the last one and
// indexes every finished segment that has no index yet.
func (w *Writer) recover() error {
	names, err := os.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("record directory: %w", err)
	}
	var nums []uint64
	paths := map[uint64]string{}
	for _, d := range names {
		if n, ok := parseSegName(d.Name()); ok && d.Type().IsRegular() {
			nums = append(nums, n)
			paths[n] = filepath.Join(w.dir, d.Name())
		}
	}
	slices.Sort(nums)
	for i, n := range nums {
		last := i == len(nums)-1
		info, err := w.checkSegment(n, paths[n], last)
		if err != nil {
			w.opts.Logger.Warn("record: segment left as it is", "path", paths[n], "err", err)
			info = segInfo{num: n, path: paths[n], bytes: fileSize(paths[n]) + fileSize(idxPath(paths[n]))}
		}
		w.segs = append(w.segs, info)
		w.next = n + 1
	}
	return nil
}

// checkSegment makes sure a finished segment has a valid index, building
// one when it is missing (the writer died before finishing it). The last
// segment's records are all verified and a torn tail is cut off.
func (w *Writer) checkSegment(n uint64, path string, last bool) (segInfo, error) {
	info := segInfo{num: n, path: path}
	// Without blocking, and a regular file only: a FIFO planted under a
	// segment's name would hang the reads.
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return info, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return info, err
	}
	if !st.Mode().IsRegular() {
		return info, fmt.Errorf("%s: %w", path, userfile.ErrNotRegular)
	}
	size := st.Size()
	var es []entry
	if !last {
		if b, err := readFileMax(idxPath(path), maxIndexBytes); err == nil {
			es, err = decodeIndex(b, n, size)
			if err == nil {
				return w.finishInfo(info, es, size), nil
			}
		}
	}
	res, err := scanSegment(f, size, last)
	if err != nil {
		return info, err
	}
	for _, p := range res.problems {
		w.opts.Logger.Warn("record: damaged data skipped", "path", path, "problem", p)
	}
	if res.tornAt >= 0 {
		if last {
			// Nothing good follows: an incomplete write by a writer that
			// died. Cut it off so the file ends with a whole record.
			w.opts.Logger.Warn("record: cutting off an incomplete record at the end of the last segment (the previous recorder stopped mid-write)",
				"path", path, "offset", res.tornAt, "bytes", size-res.tornAt)
			if err := f.Truncate(res.tornAt); err != nil {
				return info, fmt.Errorf("cutting off the incomplete record: %w", err)
			}
			if err := f.Sync(); err != nil {
				return info, err
			}
			size = res.tornAt
		} else {
			w.opts.Logger.Warn("record: segment ends with unreadable bytes (left in place, skipped by readers)",
				"path", path, "offset", res.tornAt)
		}
	}
	es = res.entries
	for i := range es {
		if es[i].h.seq > w.seq {
			w.seq = es[i].h.seq
		}
	}
	if err := writeFileAtomic(idxPath(path), encodeIndex(n, size, es)); err != nil {
		w.opts.Logger.Warn("record: could not write the segment index (readers will scan the segment)", "path", path, "err", err)
	}
	return w.finishInfo(info, es, size), nil
}

// finishInfo fills a segInfo from its entries and notes the last
// sequence number and time.
func (w *Writer) finishInfo(info segInfo, es []entry, size int64) segInfo {
	info.bytes = size + fileSize(idxPath(info.path))
	if len(es) > 0 {
		info.first = es[0].TakenAt()
		info.last = es[len(es)-1].TakenAt()
		for i := range es {
			w.seq = max(w.seq, es[i].h.seq)
		}
		if info.last.After(w.lastTime) {
			w.lastTime = info.last
		}
	}
	return info
}

// maxIndexBytes bounds an index file (a 1 GiB segment of tiny records).
const maxIndexBytes = 64 << 20

// maxSegmentBytes bounds SegmentBytes. A segment file ends at most one
// record past it (the record that reached it), so a reader refuses a
// file over maxSegmentFile: no writer made it, and scanning it would
// cost time in proportion to its size (a sparse file of 100 GiB took
// 20 s).
const (
	maxSegmentBytes = 1 << 30
	maxSegmentFile  = maxSegmentBytes + maxBody + 1<<20
)

func idxPath(segPath string) string { return strings.TrimSuffix(segPath, segSuffix) + idxSuffix }

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// writeFileAtomic writes a file by a temporary name, fsync and rename.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// syncDir makes a directory's entries (created, renamed, deleted files)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// LastSeq is the sequence number of the last sample in the store.
func (w *Writer) LastSeq() uint64 { return w.seq }

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	s := w.stats
	s.StoreBytes = w.storeBytes()
	return s
}

func (w *Writer) storeBytes() int64 {
	var n int64
	for _, s := range w.segs {
		n += s.bytes
	}
	if w.cur != nil {
		n += w.cur.size
	}
	return n
}

// ErrWrite wraps every failure to write a sample. The sample is not in
// the store; its events are kept and written with the next sample.
var ErrWrite = errors.New("sample not recorded")

// Append writes one sample. It sets s.Seq. On a write failure (a full
// disk, a directory made read-only) the store is left as it was before
// the call, the sample's events are carried to the next Append, and the
// error wraps ErrWrite and the cause (errors.Is(err, syscall.ENOSPC)).
func (w *Writer) Append(s *Sample) error {
	if s.Snapshot == nil {
		return fmt.Errorf("%w: no snapshot", ErrWrite)
	}
	at := s.Snapshot.TakenAt
	events := s.Events
	if len(w.pending) > 0 {
		events = append(w.pending, events...)
	}
	if w.cur != nil {
		switch {
		case at.Round(0).Before(w.lastTime.Round(0)):
			// The wall clocks: a snapshot's time carries Go's monotonic
			// reading, which never steps back, and a comparison of two
			// such times uses it alone, so a wall step back went unseen
			// (review of the reader's order check).
			w.opts.Logger.Warn("record: the clock stepped back; starting a new segment so times stay ordered inside each",
				"from", w.lastTime.Format(time.RFC3339Nano), "to", at.Format(time.RFC3339Nano))
			w.seal()
		case w.cur.size >= w.opts.SegmentBytes || at.Sub(w.cur.first) >= w.opts.SegmentAge:
			w.seal()
			w.retain()
		}
	}
	if w.cur == nil {
		if err := w.startSegment(at); err != nil {
			w.fail(events)
			return fmt.Errorf("%w: %w", ErrWrite, err)
		}
	}
	cur := w.cur
	seq := w.seq + 1

	// The events block.
	var flags EventFlag
	w.evRaw = w.evRaw[:0]
	for i := range events {
		flags |= EventFlags(&events[i])
		e := enc{b: w.evRaw}
		e.msg(1, func() { e.event(&events[i]) })
		w.evRaw = e.b
	}
	// The sample block, without its events.
	cp := *s
	cp.Seq, cp.Events = seq, nil
	w.raw = appendSample(w.raw[:0], &cp)
	if len(w.raw) > maxRaw {
		w.fail(events)
		return fmt.Errorf("%w: a sample of %d bytes is over the limit of %d", ErrWrite, len(w.raw), maxRaw)
	}

	w.out = grow(w.out, recHeaderSize)[:recHeaderSize]
	if len(w.evRaw) > 0 {
		w.out = w.enc.EncodeAll(w.evRaw, w.out)
	}
	evLen := len(w.out) - recHeaderSize
	h := recHeader{kind: kindSample, seq: seq, takenAt: at.UnixNano(), eventsLen: uint32(evLen), evFlags: flags, rawLen: uint32(len(w.raw))}
	// A keyframe every KeyframeEvery samples; and a sample with threads
	// after a keyframe without them is one (else every thread would be
	// new in its delta).
	threads := s.Snapshot.ThreadsRead
	keyframe := cur.key == nil || cur.sinceKey >= w.opts.KeyframeEvery-1 || threads && !cur.keyThreads
	if keyframe {
		h.codec = codecZstd
		w.out = w.enc.EncodeAll(w.raw, w.out)
	} else {
		var err error
		if w.dRaw, err = w.delta.encode(w.dRaw[:0], w.raw); err != nil {
			w.fail(events)
			return fmt.Errorf("%w: %w", ErrWrite, err)
		}
		h.codec = codecZstdDelta
		h.keyOffset = uint32(cur.keyOff)
		w.out = w.enc.EncodeAll(w.dRaw, w.out)
	}
	h.bodyLen = uint32(len(w.out) - recHeaderSize)
	if h.bodyLen > maxBody {
		w.fail(events)
		return fmt.Errorf("%w: a record of %d bytes is over the limit of %d", ErrWrite, h.bodyLen, maxBody)
	}
	h.put(w.out[:recHeaderSize], w.out[recHeaderSize:])

	off := cur.size
	if kept, err := w.write(cur, w.out); err != nil {
		if kept {
			// The record may be on disk, whole: its sequence number is
			// used (a reader refuses a sample that repeats one).
			w.seq = seq
		}
		w.fail(events)
		return fmt.Errorf("%w: %s: %w", ErrWrite, cur.path, err)
	}
	cur.size += int64(len(w.out))
	cur.entries = append(cur.entries, entry{off: off, h: h})
	if keyframe {
		cur.key = append(cur.key[:0], w.raw...)
		cur.keyOff, cur.sinceKey, cur.keyThreads = off, 0, threads
		if err := w.delta.setRef(cur.key); err != nil {
			cur.key = nil // the next sample is a keyframe
		}
	} else {
		cur.sinceKey++
	}
	w.seq = seq
	s.Seq = seq
	w.pending = w.pending[:0]
	if at.After(w.lastTime) {
		w.lastTime = at
	}
	w.stats.Samples++
	w.stats.BytesWritten += int64(len(w.out))
	w.stats.RawBytes += int64(len(w.raw) + len(w.evRaw))
	return nil
}

// write appends a whole record and, by policy, syncs it. On failure the
// segment is cut back to where it was and finished, so the next sample
// goes to a new segment; kept is true when it could not be cut back (the
// record, or a part of it, stays in the file).
func (w *Writer) write(cur *activeSeg, b []byte) (kept bool, err error) {
	if w.opts.midWrite != nil {
		half := len(b) / 2
		if _, err = cur.f.WriteAt(b[:half], cur.size); err == nil {
			w.opts.midWrite()
			_, err = cur.f.WriteAt(b[half:], cur.size+int64(half))
		}
	} else {
		_, err = cur.f.WriteAt(b, cur.size)
	}
	if err == nil && w.opts.Sync == SyncEachSample {
		if w.opts.syncData != nil {
			err = w.opts.syncData(cur.f)
		} else {
			err = unix.Fdatasync(int(cur.f.Fd()))
		}
	}
	if err != nil {
		cut := cur.f.Truncate
		if w.opts.cutBack != nil {
			cut = func(n int64) error { return w.opts.cutBack(cur.f, n) }
		}
		if terr := cut(cur.size); terr != nil {
			kept = true
			w.opts.Logger.Warn("record: could not cut back a failed write; readers will skip it if it is not whole", "path", cur.path, "err", terr)
		}
		w.seal()
	}
	return kept, err
}

// fail keeps a failed sample's events for the next one (bounded: the
// oldest are dropped and a lost event says how many).
func (w *Writer) fail(events []lifecycle.Event) {
	w.stats.Failed++
	if len(events) > w.opts.MaxPendingEvents {
		drop := len(events) - w.opts.MaxPendingEvents + 1
		lost := lifecycle.Event{Type: lifecycle.Lost, Time: events[drop-1].Time,
			Note: fmt.Sprintf("%d events dropped while the store could not be written", drop)}
		events = append([]lifecycle.Event{lost}, events[drop:]...)
	}
	w.pending = append(w.pending[:0], events...)
}

// startSegment creates the next segment file.
func (w *Writer) startSegment(at time.Time) error {
	n := w.next
	path := filepath.Join(w.dir, segName(n, at))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return err
	}
	var hb [segHeaderSize]byte
	putSegHeader(hb[:], n)
	if _, err = f.Write(hb[:]); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(w.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	w.next = n + 1
	w.cur = &activeSeg{num: n, path: path, f: f, size: segHeaderSize, first: at}
	w.stats.SegmentsMade++
	return nil
}

// seal finishes the current segment: its index is written and it joins
// the finished list. Errors are logged: a segment without an index is
// scanned by readers and indexed by the next writer.
func (w *Writer) seal() {
	cur := w.cur
	if cur == nil {
		return
	}
	w.cur = nil
	if err := cur.f.Close(); err != nil {
		w.opts.Logger.Warn("record: closing segment", "path", cur.path, "err", err)
	}
	if len(cur.entries) == 0 {
		os.Remove(cur.path)
		return
	}
	if err := writeFileAtomic(idxPath(cur.path), encodeIndex(cur.num, cur.size, cur.entries)); err != nil {
		w.opts.Logger.Warn("record: could not write the segment index (readers will scan the segment)", "path", cur.path, "err", err)
	} else {
		_ = syncDir(w.dir)
	}
	info := segInfo{num: cur.num, path: cur.path}
	w.segs = append(w.segs, w.finishInfo(info, cur.entries, cur.size))
}

// retain deletes the oldest finished segments while the store is over
// MaxBytes, and those whose last sample is older than MaxAge before the
// newest sample. The segment being written is never deleted.
func (w *Writer) retain() {
	newest := w.lastTime
	deleted := false
	for len(w.segs) > 0 {
		s := w.segs[0]
		over := w.storeBytes() > w.opts.MaxBytes
		old := !newest.IsZero() && !s.last.IsZero() && newest.Sub(s.last) > w.opts.MaxAge
		if !over && !old {
			break
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.opts.Logger.Warn("record: retention could not delete a segment", "path", s.path, "err", err)
			break
		}
		os.Remove(idxPath(s.path))
		w.segs = w.segs[1:]
		w.stats.SegmentsFreed++
		w.stats.BytesFreed += s.bytes
		deleted = true
		why := "age"
		if over {
			why = "size"
		}
		w.opts.Logger.Info("record: retention deleted a segment", "path", s.path, "by", why)
	}
	if deleted {
		_ = syncDir(w.dir)
	}
}

// Close finishes the current segment and releases the directory.
func (w *Writer) Close() error {
	w.seal()
	if w.enc != nil {
		w.enc.Close()
	}
	return w.lock.unlock()
}

// Pending is the number of events waiting for a sample to be written.
func (w *Writer) Pending() int { return len(w.pending) }

var _ io.Closer = (*Writer)(nil)
