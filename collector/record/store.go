package record

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/userfile"
)

// ErrNoRecord is returned by Open for a directory that holds no
// recording, and by At for a time before the first sample.
var ErrNoRecord = errors.New("no recording")

// Store reads a store directory. It never writes, takes no lock, and can
// be opened while a recorder writes (the samples written after Open are
// seen after Refresh). Its methods are safe for concurrent use.
type Store struct {
	dir string

	mu       sync.Mutex
	segs     []*readSeg
	pos      []position // every sample, in write order
	byTime   []int32    // indexes into pos, by time then write order
	steps    []ClockStep
	problems []string
	// skipped is the damage load skipped that may have held samples
	// (SkippedAtOpen); its problems are in problems too.
	skipped []openDamage
	// readFault, when set, stands for reads' failures (tests:
	// setReadFault).
	readFault func(path string, off int64) error
	// listed, when set, runs after load lists the directory (tests: a
	// segment deleted then).
	listed   func()
	foreign  []string // names in the directory that are not the store's files
	dec      *zstd.Decoder
	strs     *decoder
	keyRef   dictRef  // the keyframe whose sample is cached
	keyRaw   []byte   // its whole sample
	keyProcs [][]byte // its process messages
	body     []byte
	raw      []byte
	full     []byte
}

// position is one sample: its segment and record.
type position struct {
	seg *readSeg
	e   entry
}

type readSeg struct {
	num     uint64
	path    string
	size    int64
	indexed bool // from a valid .idx file (else scanned)
	f       *os.File
}

type dictRef struct {
	seg *readSeg
	off int64
}

// ClockStep is a place in the record where the wall clock went back:
// the samples after it repeat times already recorded.
type ClockStep struct {
	Seq      uint64
	From, To time.Time
}

// Open reads the catalog of a store directory. A damaged record or index
// does not fail it: the damage is skipped and listed in Problems.
func Open(dir string) (*Store, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w in %s: the directory does not exist (is `pinspect record` running with this --dir?)", ErrNoRecord, dir)
		}
		return nil, fmt.Errorf("record directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("record directory %s: not a directory", dir)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxRaw))
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, dec: dec, strs: newDecoder()}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	if len(s.pos) == 0 {
		err := s.emptyError()
		s.Close()
		return nil, err
	}
	return s, nil
}

// maxNamed bounds the files and problems an error about an empty store
// names (a directory can hold any number).
const maxNamed = 5

// emptyError says why a store has no sample: segments that could not be
// read, files that are not segments, or nothing recorded yet.
func (s *Store) emptyError() error {
	if len(s.problems) > 0 {
		return fmt.Errorf("%w in %s: no readable sample: %s", ErrNoRecord, s.dir, listSome(s.problems, "; "))
	}
	if len(s.foreign) > 0 {
		return fmt.Errorf("%w in %s: it holds no segment: %s %s not a segment file (pinspect record writes segments named like %s, with their %s index files and a %s file)",
			ErrNoRecord, s.dir, listSome(s.foreign, ", "), isAre(len(s.foreign)), segName(1, time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)), idxSuffix, lockName)
	}
	return fmt.Errorf("%w in %s: no samples recorded yet", ErrNoRecord, s.dir)
}

// listSome joins the first maxNamed items and says how many more there are.
func listSome(items []string, sep string) string {
	if len(items) <= maxNamed {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:maxNamed], sep) + fmt.Sprintf("%s and %d more", sep, len(items)-maxNamed)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// load (re)reads the catalog.
func (s *Store) load() error {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("record directory: %w", err)
	}
	old := make(map[uint64]*readSeg, len(s.segs))
	for _, g := range s.segs {
		old[g.num] = g
	}
	var segs []*readSeg
	s.foreign, s.problems = s.foreign[:0], nil
	for _, d := range names {
		n, ok := parseSegName(d.Name())
		if ok && !d.Type().IsRegular() {
			// Named like a segment but not a file: said, never opened
			// (a FIFO would hang the read).
			s.problems = append(s.problems, fmt.Sprintf("%s: skipped: named like a segment but not a regular file (%s)", filepath.Join(s.dir, d.Name()), fileKind(d.Type())))
			continue
		}
		if !ok {
			if !ownFile(d.Name()) {
				s.foreign = append(s.foreign, d.Name())
			}
			continue
		}
		g := old[n]
		if g == nil {
			g = &readSeg{num: n, path: filepath.Join(s.dir, d.Name())}
		}
		delete(old, n)
		segs = append(segs, g)
	}
	for _, g := range old { // deleted by retention since
		g.close()
	}
	slices.SortFunc(segs, func(a, b *readSeg) int { return cmp.Compare(a.num, b.num) })
	s.segs = segs
	if s.listed != nil {
		s.listed()
	}
	s.pos, s.steps, s.skipped = s.pos[:0], nil, nil
	gone := make([]bool, len(segs))
	for k, g := range segs {
		var after *readSeg
		if k+1 < len(segs) {
			after = segs[k+1]
		}
		gone[k] = s.addSegment(g, after)
	}
	s.goneFromMiddle(segs, gone)
	s.pos = s.refuseDisorder(s.pos)
	s.byTime = make([]int32, len(s.pos))
	for i := range s.byTime {
		s.byTime[i] = int32(i)
		if i > 0 && s.pos[i].e.h.takenAt < s.pos[i-1].e.h.takenAt {
			s.steps = append(s.steps, ClockStep{Seq: s.pos[i].e.h.seq, From: s.pos[i-1].e.TakenAt(), To: s.pos[i].e.TakenAt()})
		}
	}
	if len(s.steps) > 0 {
		slices.SortStableFunc(s.byTime, func(a, b int32) int { return cmp.Compare(s.pos[a].e.h.takenAt, s.pos[b].e.h.takenAt) })
	}
	return nil
}

// fileKind names a file type that is not a regular file's.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "of another kind"
}

// addSegment catalogs segment g into the store's samples, problems and
// damage; after is the segment after it (nil: g is the newest). It
// reports whether g was gone when it was opened (removed since the
// directory was listed), which goneFromMiddle judges.
func (s *Store) addSegment(g, after *readSeg) (gone bool) {
	start, next := segBounds(g, after)
	es, probs, err := g.catalog()
	for _, p := range probs {
		s.problems = append(s.problems, g.path+": "+p.text)
		if p.gap >= 0 {
			d := openDamage{from: start, to: next}
			if p.gap > 0 {
				d.from = es[p.gap-1].h.takenAt
			}
			if p.gap < len(es) {
				d.to = es[p.gap].h.takenAt
			}
			s.skipped = append(s.skipped, d)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		// Removed since the directory was listed: by retention when it
		// was the oldest (goneFromMiddle).
		return true
	case errors.Is(err, errNoRecordYet):
		// The header cut short, as the writer creates a segment and
		// then writes it: the newest is being started; an older one
		// was left so by a recorder that stopped then. Neither holds
		// a sample.
		if after != nil {
			s.problems = append(s.problems, fmt.Sprintf("%s: skipped: %v", g.path, err))
		}
		return false
	default:
		s.problems = append(s.problems, fmt.Sprintf("%s: skipped: %v", g.path, err))
		s.skipped = append(s.skipped, openDamage{from: start, to: next})
		return false
	}
	for _, e := range es {
		s.pos = append(s.pos, position{seg: g, e: e})
	}
	return false
}

// segBounds is when segment g's samples were taken, from its name's time
// to the next segment's (after; to the second: names carry whole
// seconds), 0 where not known; a clock step back between segments
// reverses the two, which openDamage.overlaps reads as such.
func segBounds(g, after *readSeg) (start, next int64) {
	if t, ok := segNameTime(g.path); ok {
		start = t.UnixNano()
	}
	if after != nil {
		if t, ok := segNameTime(after.path); ok {
			next = t.Add(time.Second).UnixNano()
		}
	}
	return start, next
}

// goneFromMiddle counts as damage the segments removed between the
// directory's listing and their opening (gone) that lie between two
// segments still there: retention removes only the oldest, and a
// recorder only its newest, when it holds no sample. Either of those
// gone is not damage; a segment gone from the middle took its samples
// with it. (A number missing from the listing is not damage: the
// recorder removes an empty newest segment and starts the next number.)
// Nor is one whose older segments are all gone from the directory by
// now, though some were opened before: retention removed them with it
// (removedOldest).
func (s *Store) goneFromMiddle(segs []*readSeg, gone []bool) {
	first, last := slices.Index(gone, false), -1
	for k := len(gone) - 1; k >= 0; k-- {
		if !gone[k] {
			last = k
			break
		}
	}
	for k := first + 1; first >= 0 && k < last; k++ {
		if !gone[k] || removedOldest(segs[:k]) {
			continue
		}
		start, next := segBounds(segs[k], segs[k+1])
		s.problems = append(s.problems, fmt.Sprintf("%s: skipped: removed while the record was read, though segments before and after it are there (retention removes the oldest only)", segs[k].path))
		s.skipped = append(s.skipped, openDamage{from: start, to: next})
	}
}

// removedOldest reports whether every segment of older is gone from the
// directory now: retention, which removes the oldest first, took them
// (a segment opened before it keeps its samples for the reader).
func removedOldest(older []*readSeg) bool {
	for _, g := range older {
		if _, err := os.Lstat(g.path); !errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}
	return true
}

// inOrder reports whether sample b may follow sample a: its sequence
// number is larger (they never go back, across segments and recorder
// runs alike). reason says what is wrong when it may not. Times are not
// checked: a time that goes back is a clock step, kept and listed
// (ClockSteps), even inside one segment, which a writer before the one
// that compares wall clocks made when the wall clock stepped back.
func inOrder(a, b *position) (ok bool, reason string) {
	switch {
	case b.e.h.seq == a.e.h.seq:
		return false, fmt.Sprintf("sequence number %d repeats the sample before it", b.e.h.seq)
	case b.e.h.seq < a.e.h.seq:
		return false, fmt.Sprintf("sequence number %d after %d: sequence numbers never go back", b.e.h.seq, a.e.h.seq)
	}
	return true, ""
}

// refuseDisorder drops, as damaged, the samples that break the record's
// order (inOrder), listing each in problems. A writer never writes them;
// a crafted or mixed-up directory can hold them, and a reader that kept
// them would show one sequence number twice and rates over a negative
// interval. A single sample far ahead of its neighbours (its sequence
// number) is the one refused, not every sample after it: when
// the next two samples follow the sample before it but not it, it goes.
func (s *Store) refuseDisorder(pos []position) []position {
	kept := pos[:0]
	for i := range pos {
		c := pos[i]
		if len(kept) > 0 {
			prev := &kept[len(kept)-1]
			var next int64
			if i+1 < len(pos) {
				next = pos[i+1].e.h.takenAt
			}
			if ok, why := inOrder(prev, &c); !ok {
				s.refuse(&c, next, errors.New(why+" (refused)"))
				continue
			}
			if i+1 < len(pos) && s.outlier(prev, &c, pos[i+1:]) {
				s.refuse(&c, next, fmt.Errorf("out of order with the samples around it (sequence numbers %d, %d, %d) (refused)",
					prev.e.h.seq, c.e.h.seq, pos[i+1].e.h.seq))
				continue
			}
		}
		kept = append(kept, c)
	}
	return kept
}

// refuse lists sample c as damaged for why, and counts it among the
// samples skipped at open at its time; next is the time of the sample
// written after it (0: none), which bounds its events' (eventsEnd).
func (s *Store) refuse(c *position, next int64, why error) {
	s.problems = append(s.problems, s.damaged(c, why).Error())
	s.skipped = append(s.skipped, openDamage{samples: 1, from: c.e.h.takenAt, to: c.e.h.takenAt,
		eventsTo:   eventsEnd(c.e.h.takenAt, next),
		headerRead: true, events: c.e.h.eventsLen > 0, evFlags: c.e.h.evFlags})
}

// openDamage is one piece of damage load skipped: a sample refused
// (samples 1, at its time, its header read), or bytes that are not a
// readable record or a whole segment skipped (samples 0: how many it
// held is not known) lying between the times from and to: those of the
// samples around it, else the bounds its segment's name and the next
// one's give (0: none known on that side).
type openDamage struct {
	samples  int
	from, to int64
	// eventsTo is the latest time the events of the samples it held can
	// have (eventsEnd): a refused sample's next sample's time, else to.
	eventsTo int64
	// headerRead: events and evFlags are the refused sample's header's:
	// whether it has an events block, and the kinds of event in it.
	headerRead bool
	events     bool
	evFlags    EventFlag
}

// overlaps reports whether d may hold samples taken between since and
// until (Unix nanoseconds; 0: unbounded). When from is after to, the
// wall clock stepped back between the samples around it: what lies
// between was taken at or before to, or at or after from.
func (d *openDamage) overlaps(since, until int64) bool {
	reachesSince := since == 0 || d.to == 0 || d.to >= since
	reachesUntil := until == 0 || d.from == 0 || d.from <= until
	if d.from != 0 && d.to != 0 && d.from > d.to {
		return reachesSince || reachesUntil
	}
	return reachesSince && reachesUntil
}

// SkippedAtOpen counts the damage that opening the record (Open and
// Refresh) skipped and that may have held samples taken between since
// and until (zero: unbounded): samples refused (listed in Problems with
// "(refused)"), and parts that are not readable records or segments
// skipped, whose samples are not known. A torn tail, the record a
// recorder is writing in the common case, is listed in Problems but not
// counted, nor is a segment whose header is still being written or one
// deleted by retention while the directory was read (one removed then
// from between two segments still there is counted: goneFromMiddle). A reader's own
// damage (Read, Events) is not in these counts.
func (s *Store) SkippedAtOpen(since, until time.Time) (samples, parts int) {
	from, to := unixNano(since), unixNano(until)
	return s.skippedAtOpen(func(d *openDamage) bool { return d.overlaps(from, to) })
}

// mayHoldEvents reports whether d may have held events timed between
// since and until (Unix nanoseconds; 0: unbounded), by the rule Events
// reads samples with: a sample's events lie from eventSlack before its
// time to the next sample's time (eventsEnd). When the wall clock
// stepped back around d, both sides are widened by the slack instead.
func (d *openDamage) mayHoldEvents(since, until int64) bool {
	to := d.eventsTo
	if d.samples == 0 {
		to = d.to
	}
	if d.from != 0 && to != 0 && d.from > to {
		if since != 0 {
			since -= int64(eventSlack)
		}
		if until != 0 {
			until += int64(eventSlack)
		}
		return d.overlaps(since, until)
	}
	return (since == 0 || to == 0 || to >= since) &&
		(until == 0 || d.from == 0 || d.from-int64(eventSlack) <= until)
}

// SkippedEventsAtOpen is SkippedAtOpen for an events query: it counts
// the damage that may have held events q selects, by the rule Events
// reads samples with: a refused sample only when its header says it
// holds events of the kinds q asks for (q.Flags), and only when its
// events' times can lie in q's range (mayHoldEvents): from eventSlack
// before the time of the samples it held to the time of the sample
// after them.
func (s *Store) SkippedEventsAtOpen(q EventQuery) (samples, parts int) {
	since, until := unixNano(q.Since), unixNano(q.Until)
	return s.skippedAtOpen(func(d *openDamage) bool {
		return d.mayHoldEvents(since, until) && (!d.headerRead || d.events && (q.Flags == 0 || d.evFlags&q.Flags != 0))
	})
}

// skippedAtOpen counts the damage skipped at open that keep keeps.
func (s *Store) skippedAtOpen(keep func(*openDamage) bool) (samples, parts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.skipped {
		d := &s.skipped[i]
		if !keep(d) {
			continue
		}
		if d.samples > 0 {
			samples += d.samples
		} else {
			parts++
		}
	}
	return samples, parts
}

// unixNano is t in Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// outlier reports whether c, which may follow prev, is out of order with
// what comes after it while that follows prev: the next sample may not
// follow c but may follow prev, and neither may the one after it follow c.
func (s *Store) outlier(prev, c *position, next []position) bool {
	if ok, _ := inOrder(c, &next[0]); ok {
		return false
	}
	if ok, _ := inOrder(prev, &next[0]); !ok {
		return false
	}
	if len(next) > 1 {
		if ok, _ := inOrder(c, &next[1]); ok {
			return false
		}
	}
	return true
}

// ownFile reports whether name is one of the files a writer keeps beside
// its segments: the lock, the indexes and an index being written.
func ownFile(name string) bool {
	return name == lockName || strings.HasSuffix(name, idxSuffix) || strings.HasSuffix(name, idxSuffix+".tmp")
}

// segProblem is damage a catalog found in a segment: what, and, for
// bytes that are not a readable record, the index of the first entry
// after them (gap; -1 for a torn tail, which is not counted as damage).
type segProblem struct {
	text string
	gap  int
}

// catalog lists a segment's records from its index, or by scanning it
// when the index is missing, stale or damaged (the segment being
// written has none).
func (g *readSeg) catalog() ([]entry, []segProblem, error) {
	f, err := g.file()
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	g.size = st.Size()
	if g.size > maxSegmentFile {
		return nil, nil, fmt.Errorf("%d bytes, more than a segment can hold (%d): not written by pinspect record", g.size, int64(maxSegmentFile))
	}
	if g.size < segHeaderSize && headerBegun(f, g.num, g.size) {
		return nil, nil, errNoRecordYet
	}
	if b, err := readFileMax(idxPath(g.path), maxIndexBytes); err == nil {
		if es, err := decodeIndex(b, g.num, g.size); err == nil {
			g.indexed = true
			return es, nil, nil
		}
	}
	g.indexed = false
	res, err := scanSegment(f, g.size, false)
	if err != nil {
		// A damaged header (zeroed, say): its records are found by
		// their own magic and checksum, as after a smashed record.
		var hb [segHeaderSize]byte
		if _, rerr := f.ReadAt(hb[:], 0); rerr == nil {
			if why := segHeaderDamage(hb[:]); why != "" {
				r, found, serr := scanPastHeader(f, g.size, why)
				switch {
				case serr != nil:
					return nil, nil, serr
				case found:
					res, err = r, nil
				}
			}
		}
		if err != nil {
			return nil, nil, err
		}
	}
	// A torn tail of the newest segment is a write in progress, not
	// damage; elsewhere it is reported.
	var probs []segProblem
	for i, p := range res.problems {
		probs = append(probs, segProblem{text: p, gap: res.gaps[i]})
	}
	if res.tornAt >= 0 && g.size-res.tornAt > 0 {
		probs = append(probs, segProblem{text: fmt.Sprintf("the last %d bytes are not a whole record (a write in progress, or cut short)", g.size-res.tornAt), gap: -1})
	}
	return res.entries, probs, nil
}

// errNoRecordYet is a segment shorter than its header whose bytes begin
// the header a writer writes for it: it holds no record.
var errNoRecordYet = errors.New("the segment's header is not all written: it holds no record")

// headerBegun reports whether the size bytes of f (fewer than a header)
// are the start of segment n's header: none, or what the writer was
// writing when it was read or stopped.
func headerBegun(f *os.File, n uint64, size int64) bool {
	var want, got [segHeaderSize]byte
	putSegHeader(want[:], n)
	if _, err := f.ReadAt(got[:size], 0); err != nil {
		return false
	}
	return string(got[:size]) == string(want[:size])
}

func (g *readSeg) file() (*os.File, error) {
	if g.f != nil {
		return g.f, nil
	}
	// Opened without blocking, a regular file only: a FIFO or a device
	// in the record directory (under a segment's name) is refused, never
	// waited on.
	f, _, err := userfile.OpenRegular(g.path)
	if err != nil {
		return nil, err
	}
	g.f = f
	return f, nil
}

func (g *readSeg) close() {
	if g.f != nil {
		g.f.Close()
		g.f = nil
	}
}

// Refresh re-reads the catalog, to see samples written since Open.
func (s *Store) Refresh() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load()
}

// Close releases the store's files.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.segs {
		g.close()
	}
	if s.dec != nil {
		s.dec.Close()
		s.dec = nil
	}
	return nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Problems lists damage found and skipped (corrupted or cut-short
// records, unusable indexes), for display.
func (s *Store) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.problems)
}

// ClockSteps lists where the wall clock went back while recording.
func (s *Store) ClockSteps() []ClockStep {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.steps)
}

// Len is the number of samples.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pos)
}

// Meta is what the catalog knows of one sample without reading it.
type Meta struct {
	// Index is its position in write order (0 to Len-1).
	Index   int
	Seq     uint64
	TakenAt time.Time
	// Flags are the kinds of events recorded with it.
	Flags EventFlag
	// Bytes is its size on disk.
	Bytes int64
}

func (s *Store) meta(i int) Meta {
	p := &s.pos[i]
	return Meta{Index: i, Seq: p.e.h.seq, TakenAt: p.e.TakenAt(), Flags: p.e.h.evFlags, Bytes: recHeaderSize + int64(p.e.h.bodyLen)}
}

// Meta returns the catalog entry of sample i (in write order).
func (s *Store) Meta(i int) Meta {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meta(i)
}

// Span returns the times of the oldest and newest samples.
func (s *Store) Span() (first, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pos) == 0 {
		return
	}
	return s.pos[s.byTime[0]].e.TakenAt(), s.pos[s.byTime[len(s.byTime)-1]].e.TakenAt()
}

// Find returns the index (write order) of the sample shown at time t:
// the latest sample taken at or before t (when the clock stepped back
// and t was recorded twice, the one closest before t; among equal times
// the later written). ok is false when t is before the first sample.
func (s *Store) Find(t time.Time) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := t.UnixNano()
	k, _ := slices.BinarySearchFunc(s.byTime, ns, func(i int32, ns int64) int {
		if s.pos[i].e.h.takenAt <= ns {
			return -1
		}
		return 1
	})
	if k == 0 {
		return 0, false
	}
	return int(s.byTime[k-1]), true
}

// At reads the sample shown at time t (see Find).
func (s *Store) At(t time.Time) (*Sample, error) {
	i, ok := s.Find(t)
	if !ok {
		first, _ := s.Span()
		return nil, fmt.Errorf("%w at %s: the record starts at %s", ErrNoRecord, t.Format(time.RFC3339), first.Format(time.RFC3339))
	}
	return s.Read(i)
}

// Read decodes sample i (in write order).
func (s *Store) Read(i int) (*Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.pos) {
		return nil, fmt.Errorf("sample %d: out of range (the store has %d)", i, len(s.pos))
	}
	return s.readLocked(&s.pos[i], true)
}

// ReadReadable reads sample i (in write order) or, when it is damaged,
// the first readable one after it in direction dir (1 or -1): it returns
// the index read. skipped counts the damaged samples stepped over and
// firstErr is the first one's error; err is not nil when no readable
// sample was found that way (then it is the last damage) or when a read
// failed for another reason.
func (s *Store) ReadReadable(i, dir int) (at int, smp *Sample, skipped int, firstErr, err error) {
	n := s.Len()
	for ; i >= 0 && i < n; i += dir {
		smp, err = s.Read(i)
		if !errors.Is(err, ErrDamaged) {
			return i, smp, skipped, firstErr, err
		}
		if skipped == 0 {
			firstErr = err
		}
		skipped++
	}
	if err == nil {
		err = fmt.Errorf("sample %d: out of range (the store has %d)", i+1, n)
	}
	return i, nil, skipped, firstErr, err
}

// readLocked reads and decodes a record; with events false the events
// block is left out.
func (s *Store) readLocked(p *position, events bool) (*Sample, error) {
	h := &p.e.h
	// The keyframe first: readBody's buffer is shared.
	if h.codec == codecZstdDelta {
		ref := dictRef{p.seg, int64(h.keyOffset)}
		if s.keyRef != ref {
			raw, err := s.keyframeRaw(p.seg, int64(h.keyOffset))
			if errors.Is(err, ErrDamaged) {
				return nil, s.damaged(p, fmt.Errorf("its keyframe: %w", err))
			}
			if err != nil {
				return nil, fmt.Errorf("%s: sample %d: its keyframe: %w", p.seg.path, h.seq, err)
			}
			snap, err := subMessage(raw, fieldSnapshot)
			if err == nil {
				s.keyProcs, err = elems(snap, fieldProcess)
			}
			if err != nil {
				return nil, s.damaged(p, fmt.Errorf("its keyframe: %w", err))
			}
			s.keyRef, s.keyRaw = ref, raw
		}
	}
	body, err := s.readBody(p)
	if err != nil {
		return nil, err
	}
	s.raw, err = s.dec.DecodeAll(body[h.eventsLen:], s.raw[:0])
	if err != nil {
		return nil, s.damaged(p, fmt.Errorf("decompressing: %v", err))
	}
	full := s.raw
	if h.codec == codecZstdDelta {
		if s.full, err = applyDelta(s.full[:0], s.keyRaw, s.raw, s.keyProcs); err != nil {
			return nil, s.damaged(p, err)
		}
		full = s.full
	}
	if len(full) != int(h.rawLen) {
		return nil, s.damaged(p, fmt.Errorf("sample of %d bytes, the header says %d", len(full), h.rawLen))
	}
	smp, err := s.strs.decodeSample(full)
	if err != nil {
		return nil, s.damaged(p, err)
	}
	if events && h.eventsLen > 0 {
		if smp.Events, err = s.decodeEvents(p, body[:h.eventsLen]); err != nil {
			return nil, err
		}
	}
	return smp, nil
}

// readBody reads a record's body and checks its checksum.
func (s *Store) readBody(p *position) ([]byte, error) {
	f, err := p.seg.file()
	if err != nil {
		return nil, fmt.Errorf("%s: %w (deleted by retention since the store was opened?)", p.seg.path, err)
	}
	n := recHeaderSize + int(p.e.h.bodyLen)
	s.body = grow(s.body, n)
	if err := s.readAt(f, p.seg.path, s.body, p.e.off); err != nil {
		// The reason alone (EIO from a bad sector): os's error names the
		// file, which DamagedError says, and ForClient must not.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, s.damaged(p, fmt.Errorf("reading: %v", err))
	}
	if !checksumOK(s.body[:recHeaderSize], s.body[recHeaderSize:]) {
		return nil, s.damaged(p, errors.New("checksum mismatch"))
	}
	return s.body[recHeaderSize:], nil
}

// readAt fills b from f at off, or fails as readFault says.
func (s *Store) readAt(f *os.File, path string, b []byte, off int64) error {
	if s.readFault != nil {
		if err := s.readFault(path, off); err != nil {
			return err
		}
	}
	_, err := f.ReadAt(b, off)
	return err
}

// setReadFault makes each later read of a record's bytes fail with the
// error fault returns for the segment file's path and the record's
// offset (nil: the read goes ahead; a nil fault: every read does). It
// is for the package's tests: an I/O error (EIO from a bad sector)
// is what a file on a sound disk cannot give.
func (s *Store) setReadFault(fault func(path string, off int64) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readFault = fault
}

// ErrDamaged wraps errors about a damaged record.
var ErrDamaged = errors.New("damaged record")

// DamagedError is a damaged sample: where it is and what is wrong. It
// is ErrDamaged (errors.Is).
type DamagedError struct {
	// Path is the segment file; Segment its number (in its name).
	Path    string
	Segment uint64
	// Offset is where the sample's record begins in the file.
	Offset int64
	// Seq and TakenAt are the sample's, from its record's header.
	Seq     uint64
	TakenAt time.Time
	// Err says what is wrong.
	Err error
}

func (e *DamagedError) Error() string { return e.text(e.Path, e.Err.Error()) }

// Unwrap gives ErrDamaged and the reason.
func (e *DamagedError) Unwrap() []error { return []error{ErrDamaged, e.Err} }

func (e *DamagedError) text(where, why string) string {
	return fmt.Sprintf("%v: %s offset %d (sample %d at %s): %s", ErrDamaged, where, e.Offset, e.Seq, e.TakenAt.Format(time.RFC3339), why)
}

// ForClient returns err as a client of an agent serving the record may
// read it (docs/SECURITY.md): a damaged sample's segment is named by its
// number, not by its file's path on the agent's machine (a damaged
// keyframe inside it too, and the segment's files wherever the reason
// names them; a reason naming the record's directory otherwise is
// replaced whole); any other error says only that the record could not
// be read, since its text may name the agent's files.
func ForClient(err error) error {
	var d *DamagedError
	if !errors.As(err, &d) {
		if errors.Is(err, ErrDamaged) { // no place named (a missing keyframe)
			return err
		}
		return errors.New("the record could not be read (the agent's log says why)")
	}
	seg := "segment " + strconv.FormatUint(d.Segment, 10)
	why := d.Err.Error()
	var inner *DamagedError
	if errors.As(d.Err, &inner) {
		why = strings.Replace(why, inner.Error(), ForClient(inner).Error(), 1)
	}
	// A reason that names the segment's files (its index too) names the
	// segment instead; one that still names the directory is not told.
	why = strings.ReplaceAll(why, d.Path, seg)
	why = strings.ReplaceAll(why, strings.TrimSuffix(d.Path, segSuffix), seg)
	if dir := filepath.Dir(d.Path); strings.Contains(dir, string(filepath.Separator)) && strings.Contains(why, dir) {
		why = "unreadable (the agent's log says why)"
	}
	return &clientDamage{d, d.text(seg, why)}
}

// clientDamage is a DamagedError with the text ForClient gives it.
type clientDamage struct {
	*DamagedError
	msg string
}

func (c *clientDamage) Error() string { return c.msg }

func (s *Store) damaged(p *position, err error) error {
	return &DamagedError{Path: p.seg.path, Segment: p.seg.num, Offset: p.e.off, Seq: p.e.h.seq, TakenAt: p.e.TakenAt(), Err: err}
}

// Location is where a sample lies on disk.
type Location struct {
	// Path is its segment file, Segment the segment's number.
	Path    string
	Segment uint64
	// Offset is where its record begins in the file, BodyOffset where
	// the record's body begins (after its header: the events block, then
	// the compressed sample), and BodyBytes the body's length.
	Offset, BodyOffset int64
	BodyBytes          int
}

// Location says where sample i (in write order) is: for tools that
// check a record, and for tests that damage one.
func (s *Store) Location(i int) (Location, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.pos) {
		return Location{}, fmt.Errorf("sample %d: out of range (the store has %d)", i, len(s.pos))
	}
	p := &s.pos[i]
	return Location{Path: p.seg.path, Segment: p.seg.num, Offset: p.e.off, BodyOffset: p.e.off + recHeaderSize, BodyBytes: int(p.e.h.bodyLen)}, nil
}

// keyframeRaw returns the uncompressed sample of the keyframe record at
// off in seg.
func (s *Store) keyframeRaw(g *readSeg, off int64) ([]byte, error) {
	var kp *position
	i, found := slices.BinarySearchFunc(s.pos, dictRef{g, off}, func(p position, r dictRef) int {
		return cmp.Or(cmp.Compare(p.seg.num, r.seg.num), cmp.Compare(p.e.off, r.off))
	})
	if found {
		kp = &s.pos[i]
	}
	if kp == nil || kp.e.h.codec != codecZstd {
		return nil, fmt.Errorf("%w: keyframe at offset %d is missing", ErrDamaged, off)
	}
	body, err := s.readBody(kp)
	if err != nil {
		return nil, err
	}
	raw, err := s.dec.DecodeAll(body[kp.e.h.eventsLen:], nil)
	if err != nil || len(raw) != int(kp.e.h.rawLen) {
		return nil, s.damaged(kp, fmt.Errorf("decompressing: %v", err))
	}
	return raw, nil
}

// decodeEvents decodes an events block.
func (s *Store) decodeEvents(p *position, block []byte) ([]lifecycle.Event, error) {
	raw, err := s.dec.DecodeAll(block, nil)
	if err != nil {
		return nil, s.damaged(p, fmt.Errorf("decompressing events: %v", err))
	}
	var evs []lifecycle.Event
	r := dec{b: raw}
	var f field
	for r.next(&f) {
		if f.num != 1 {
			continue
		}
		var ev lifecycle.Event
		if err := s.strs.event(f.b, &ev); err != nil {
			return nil, s.damaged(p, err)
		}
		evs = append(evs, ev)
	}
	if r.err != nil {
		return nil, s.damaged(p, r.err)
	}
	return evs, nil
}
