package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// Options configures a Monitor.
type Options struct {
	// Interval is the sampling interval (default 1 s).
	Interval time.Duration
	// Threads makes every snapshot read threads (per-thread rates and
	// thread_start/thread_exit events).
	Threads bool
	// ThreadsEvery, when Threads is false, reads threads in every Nth
	// snapshot only (the recorder's cadence: threads are most of a
	// scan's cost); thread events are then not reported.
	ThreadsEvery int
	// Connector subscribes to the kernel's process-events connector where
	// available, so processes shorter than the interval are seen with their
	// exit codes.
	Connector bool
	// Tracepoints, with Connector, takes the kernel's process events
	// from BPF programs on the scheduler's fork, exec and exit
	// tracepoints instead, read at each scan, where the reader scans with
	// the BPF task iterator and they load; the connector otherwise (the
	// frame's EventsNote says why). For serve and record: no wake-up and
	// no /proc read for each event, at the price of events reaching the
	// frames only at the scans (which is when these read them anyway).
	Tracepoints bool
	// ConnectorCoalesce is how long the connector's listener lets events
	// gather before it reads again while they come often (default
	// DefaultConnectorCoalesce). A longer wait costs less CPU under
	// process churn (each read, conversion and lookup batch wakes the
	// program; the wake-ups, not the events, were most of the cost) and
	// makes the lookup that names a new process later: a process that
	// execs and exits within it is named by the comm it had before (its
	// parent's). Every event is still delivered, in order.
	ConnectorCoalesce time.Duration
	// MaxPending bounds the connector events held between two frames (for
	// example while paused); beyond it events are dropped and counted.
	// Default 100000.
	MaxPending int
	// Explain gives each frame explain's findings (Frame.Explain): the
	// machine's, and the focused process's over the last ExplainTicks
	// ticks (default DefaultExplainTicks); and keeps every process's
	// memory history (MemoryHistory). See explain.go for what it reads.
	Explain      bool
	ExplainTicks int
	// MemoryHistory keeps every process's memory history (MemoryHistory)
	// without explain's findings: frames have no Frame.Explain, and none
	// of the findings' reads (pressure, the runnable count, the focused
	// process) nor their per-tick work (the busiest processes, the
	// machine's findings) is done. For serve, whose /api/v1/explain
	// samples a process when asked and takes only its history from the
	// monitor. Explain implies it.
	MemoryHistory bool
	// ThreadDemand reads every process's threads only in the scans a
	// client asked for (WantThreads: the scans of the next ThreadHold)
	// and while the kernel source is not live, instead of in every scan;
	// Threads is then ignored. Thread starts and exits are still
	// reported: from the connector's events while it is live, from the
	// poll's threaded scans while it is not. For serve on the task
	// iterator, whose scans count threads by state without keeping them
	// (collector.Snapshot.ThreadStates): a metrics scrape needs no more.
	// The scans that read the threads also read every process's signal
	// dispositions (collector.ScanOptions.Dispositions), which a Reader
	// with collector.Options.BPFSkipDispositions leaves out of the others:
	// a frame with its threads read is whole.
	ThreadDemand bool
	// IdentitiesOnDemand, with ThreadDemand, has the scans that do not
	// read the threads reuse every process's cmdline and exe past the
	// Reader's TTL while nothing says they changed
	// (collector.ScanOptions.ReuseIdentities); the scans a client waits
	// for read them as always. For serve when no metric shows a command
	// line: re-reading each busy process's cmdline once a minute was
	// about a tenth of its collections (docs/PERFORMANCE.md, serve8).
	IdentitiesOnDemand bool
	// ThreadHold is how long after a client's last WantThreads the scans
	// go on reading threads (default DefaultThreadHold, or two intervals
	// when that is longer).
	ThreadHold time.Duration
	// Cgroups and IO make every scan read each process's cgroup (and the
	// workload it names) and I/O counters (collector.ScanOptions): serve's
	// metrics group by the one and sum the other; the dashboard shows the
	// workload and filters by it.
	Cgroups, IO bool
	// IOWanted, when set, is asked before each scan whether IO is wanted
	// in it: serve shows io only to clients that may see it in full, and
	// reads it only while such a client can connect.
	IOWanted func() bool
	// FinalFrame, when positive, has Run take one last frame when its
	// context is done (after a first frame), within this long or three
	// times the last scan's duration when that is longer (a loaded or
	// large machine): the kernel events received until then (Sync's
	// wait) and a scan, published before Run returns, so that an agent
	// stopped by a signal loses none of the events since its last frame
	// (serve's streams, the recorder's store). A source or scan still
	// busy at the bound ends the frame unfinished: none is published.
	FinalFrame time.Duration
	// NoRates leaves Frame.Rates nil: no per-process, per-thread and
	// machine rates are computed between the scans. For serve and
	// record, which never read them (the frame endpoint sends none: a
	// remote dashboard computes its own from two snapshots, as a
	// recording's reader does).
	NoRates bool
	// ListFirst has Run scan once before it opens the kernel source (the
	// BPF programs take a moment to load and attach): the first frame
	// then reports what changed since that scan, as the poll sees it, so
	// a process listed then that ended before the kernel's events were
	// taken has its exit (without status, as the poll's are) instead of
	// none. With Connector, Run also subscribes to the proc connector
	// before that scan, and the first frame has its events until the
	// kernel source is live: a process that started and ended before
	// then, in no scan, has its spawn and exit. For watch, whose user
	// started a short process just before.
	ListFirst bool
}

// beforeKernelOpen, when set (tests), runs between the ListFirst scan and
// the opening of the kernel source.
var beforeKernelOpen func()

// DefaultFinalFrame is the bound serve and record give their last frame
// (Options.FinalFrame): well inside systemd's stop timeout (90 s) and a
// container's grace period (10 s), and longer than a collection at
// 10,000 processes.
const DefaultFinalFrame = 2 * time.Second

// DefaultThreadHold is how long scans read threads after a client asked
// for them (Options.ThreadHold): a client that polls (a remote
// dashboard, a script every 30 s) finds them in every frame.
const DefaultThreadHold = time.Minute

// Monitor samples a Reader on an interval and publishes Frames. Its
// methods are safe for concurrent use. Run's goroutine owns the loop: it
// alone reads the Reader's scans and feeds the lifecycle Tracker; the
// kernel source runs beside it and hands over its events at each scan.
type Monitor struct {
	r      *collector.Reader
	opts   Options
	out    *Fanout // the latest frame and the subscribers
	wake   chan struct{}
	syncMu sync.Mutex // Syncs take turns

	mu     sync.Mutex
	ctl    control
	kernel kernelSource // set by Run, before the first frame
	// sampleFails counts the samples that failed for a transient reason,
	// lastFail is the last one's error (SampleFailures); guarded by mu.
	sampleFails uint64
	lastFail    string

	// Owned by Run's goroutine.
	prev *collector.Snapshot
	// scans counts the scans begun (ThreadsEvery); Run's goroutine only.
	scans   uint64
	tracker *lifecycle.Tracker
	ex      *explainer // nil without Options.Explain
}

// control is what the methods ask of the loop, guarded by Monitor.mu.
type control struct {
	interval time.Duration
	paused   bool
	focus    int
	// threads asks every scan for every process's threads (SampleThreads);
	// perMapping the focused process's per-mapping memory (FocusMemory).
	threads, perMapping bool
	// threadsUntil is when the scans a client asked threads for end
	// (WantThreads); threadsNow asks for one at once, taken when a scan
	// begins; threadsScanning is set while a scan with threads runs.
	threadsUntil    time.Time
	threadsNow      bool
	threadsScanning bool
	// resume asks for a sample at once (set when unpausing); focusChanged
	// for the focus to be re-read without a scan; rescan for a scan at
	// once, paused or not (Sync, or kernel events lost).
	resume, focusChanged, rescan bool
	// flush: a Sync asked that the next frame taken hold every event
	// (the Tracker holds no poll exit back for it: Kernel.Flush).
	flush bool
	// seq is the number of the last frame begun.
	seq uint64
}

// New makes a monitor over r. Nothing is read until Run.
func New(r *collector.Reader, o Options) *Monitor {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.ThreadHold <= 0 {
		// At least two intervals: a client polling once an interval
		// keeps the threads in every frame without forcing a scan.
		o.ThreadHold = max(DefaultThreadHold, 2*o.Interval)
	}
	m := &Monitor{
		r:       r,
		opts:    o,
		out:     NewFanout(o.MaxPending),
		wake:    make(chan struct{}, 1),
		ctl:     control{interval: o.Interval},
		kernel:  polling{noteNotAsked},
		tracker: lifecycle.NewTracker(o.MaxPending),
	}
	if o.Explain || o.MemoryHistory {
		m.ex = newExplainer(r, o)
	}
	return m
}

// MaxSampleFailures is the number of samples in a row that may fail (the
// root cannot be read) before Run gives up and returns the error.
const MaxSampleFailures = 3

// Run samples until ctx is done and returns ctx's error; or the error of
// the first sample when the root cannot be read at all, or of the last one
// when MaxSampleFailures samples in a row failed. With Options.FinalFrame
// it publishes a last frame first when ctx is done. Every goroutine it
// starts has ended when it returns.
func (m *Monitor) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The kernel source outlives ctx until the last frame has its events.
	kctx, kcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer kcancel()
	var early *earlyEvents
	if m.opts.ListFirst && m.opts.Connector {
		// Subscribed before the scan and the BPF loads: a process
		// that starts and ends meanwhile is in neither.
		early = startEarlyEvents(m.r, m.opts)
	}
	if m.opts.ListFirst {
		m.listFirst(ctx)
	}
	if beforeKernelOpen != nil {
		beforeKernelOpen()
	}
	k := openKernelSource(m.r, m.opts, m.rescanNow)
	if early != nil {
		k = early.bridge(k, time.Now())
	}
	m.mu.Lock()
	m.kernel = k
	m.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); k.run(kctx) }()
	defer wg.Wait()
	defer kcancel()
	for {
		err := m.sample(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !m.transient(err) {
			return err
		}
		// Out of descriptors or memory at start: wait and try again.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(m.currentInterval()):
		}
	}
	err := m.loop(ctx)
	if m.opts.FinalFrame > 0 && ctx.Err() != nil {
		m.final(kctx)
	}
	return err
}

// listFirst takes the scan before the kernel source opens
// (Options.ListFirst) as the one the first frame is compared with. A
// failure leaves the first frame as without it (no events).
func (m *Monitor) listFirst(ctx context.Context) {
	snap, err := m.r.Scan(ctx, collector.ScanOptions{Threads: m.opts.Threads, Cgroups: m.opts.Cgroups})
	if err == nil {
		m.prev = snap
	}
}

// finalFrameCap bounds the last frame's wait when the last scan was
// slow (three times its duration is waited for, at most this).
const finalFrameCap = 30 * time.Second

// final takes and publishes the last frame (Options.FinalFrame): the
// kernel events received until now, as Sync waits for them, then a scan,
// each within the bound.
func (m *Monitor) final(kctx context.Context) {
	bound := m.opts.FinalFrame
	if m.prev != nil {
		// Never past finalFrameCap: a service manager's stop timeout
		// (systemd's 90 s) must not kill the program mid-frame.
		bound = min(max(bound, 3*m.prev.ScanDuration), max(bound, finalFrameCap))
	}
	ctx, cancel := context.WithTimeout(kctx, bound)
	defer cancel()
	m.mu.Lock()
	k := m.kernel
	m.mu.Unlock()
	if err := k.sync(ctx); err != nil {
		return
	}
	m.mu.Lock()
	m.ctl.flush = true
	m.mu.Unlock()
	_ = m.sample(ctx)
}

// loop samples on the interval and on request until ctx is done. The
// next tick is one interval after the end of the last sample (or of a
// tick while paused, or of a change of interval): a focus change between
// two ticks is published at once and leaves the next tick where it was,
// so a focus that keeps changing cannot hold the scans back.
func (m *Monitor) loop(ctx context.Context) error {
	interval := m.currentInterval()
	timer := time.NewTimer(interval)
	defer timer.Stop()
	failures := 0
	for {
		tick := false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			tick = true
		case <-m.wake:
		}
		m.mu.Lock()
		c := m.ctl
		m.ctl.resume, m.ctl.focusChanged = false, false
		m.mu.Unlock()
		sampled := c.rescan || c.threadsNow || !c.paused && (tick || c.resume)
		switch {
		case sampled:
			err := m.sample(ctx)
			if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil {
				failures = 0
				break
			}
			// Out of descriptors or memory (a flood of connections to
			// serve, a small ulimit): counted, retried, never the end.
			if m.transient(err) {
				break
			}
			// A failing root (a fixture tree deleted, procfs unmounted):
			// a passing error is retried, a lasting one ends the run.
			if failures++; failures >= MaxSampleFailures {
				return fmt.Errorf("reading %s failed %d times in a row: %w", m.r.Root(), failures, err)
			}
		case c.paused:
			m.republish(true, c.focusChanged)
		case c.focusChanged:
			m.republish(false, true)
		}
		if tick || sampled || c.interval != interval {
			interval = c.interval
			timer.Reset(interval)
		}
	}
}

// transient reports whether a sample failed for want of a resource the
// process may get back (file descriptors, memory, buffer space), and if
// so counts it (SampleFailures).
func (m *Monitor) transient(err error) bool {
	for _, e := range []error{unix.EMFILE, unix.ENFILE, unix.ENOMEM, unix.ENOBUFS, unix.EAGAIN, unix.EINTR} {
		if errors.Is(err, e) {
			m.mu.Lock()
			m.sampleFails++
			m.lastFail = err.Error()
			m.mu.Unlock()
			return true
		}
	}
	return false
}

// SampleFailures returns how many samples failed for a transient reason
// (out of file descriptors or memory) since Run started, and the last
// such error. Those samples publish no frame; the run goes on.
func (m *Monitor) SampleFailures() (n uint64, last string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sampleFails, m.lastFail
}

func (m *Monitor) currentInterval() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ctl.interval
}

// rescanNow asks for a scan at once (the kernel source lost events).
func (m *Monitor) rescanNow() {
	m.mu.Lock()
	m.ctl.rescan = true
	m.mu.Unlock()
	m.poke()
}

// Sync waits until every kernel event received so far is queued for the
// next frame (or ctx is done), then has that frame sampled at once. A
// command that stops at a deadline calls it so that the last frame holds
// everything that happened before. Without kernel events it only asks for
// the sample.
//
// It returns the number of the last frame already begun: the first frame
// with a greater Seq holds the events (see connSource.sync for how the
// kernel's queue is drained).
func (m *Monitor) Sync(ctx context.Context) (uint64, error) {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	m.mu.Lock()
	k := m.kernel
	m.mu.Unlock()
	if err := k.sync(ctx); err != nil {
		return 0, err
	}
	m.mu.Lock()
	seq := m.ctl.seq
	m.ctl.rescan, m.ctl.flush = true, true
	m.mu.Unlock()
	m.poke()
	return seq, nil
}

// sample reads a snapshot, builds a frame and publishes it.
func (m *Monitor) sample(ctx context.Context) error {
	// The focused process comes from the snapshot, read once with its
	// threads (a focus changed during the scan is republished after it).
	m.mu.Lock()
	k := m.kernel
	m.mu.Unlock()
	live, _ := k.status()
	m.mu.Lock()
	focusPID := m.ctl.focus
	allThreads := m.ctl.threads
	asked := m.ctl.threadsNow || time.Now().Before(m.ctl.threadsUntil)
	m.ctl.threadsNow = false
	so := collector.ScanOptions{Threads: m.opts.Threads || allThreads, Cgroups: m.opts.Cgroups,
		IO: m.opts.IO && (m.opts.IOWanted == nil || m.opts.IOWanted())}
	if m.opts.ThreadDemand {
		// Threads too while the connector is not live (their events
		// come from the scans then) and after a scan without the counts
		// (a pass that fell back to /proc counts no states): the
		// states are never left unknown for want of a client.
		so.Threads = allThreads || asked || !live || (m.prev != nil && m.prev.ThreadStates == nil)
		so.ThreadStates = true
		// Set with threadsNow's clearing, so a WantThreads between
		// the two does not ask for another scan.
		m.ctl.threadsScanning = so.Threads
	}
	m.mu.Unlock()
	if m.opts.ThreadDemand {
		defer func() {
			m.mu.Lock()
			m.ctl.threadsScanning = false
			m.mu.Unlock()
		}()
	}
	if n := uint64(m.opts.ThreadsEvery); n > 0 && m.scans%n == 0 {
		so.Threads = true
	}
	if m.opts.ThreadDemand {
		// A scan on demand that reads every thread (asked for, or
		// every ThreadsEvery) reads every process's signal dispositions
		// too (a Reader may leave them out otherwise,
		// collector.Options.BPFSkipDispositions): the API's whole
		// snapshot waits for such a frame, and its document shows them.
		so.Dispositions = so.Threads
		so.ReuseIdentities = m.opts.IdentitiesOnDemand && !so.Threads
	}
	m.scans++
	if focusPID > 0 {
		// Its detail view shows every status field: never an old one.
		so.FreshStatus = []int{focusPID}
		if !so.Threads {
			so.ThreadPIDs = so.FreshStatus
		}
	}
	// The kernel's events are read before the scan (the reader learns of
	// the execs it must not answer from memory) and after it, outside
	// mu: a source's reading goroutine may ask for a rescan, which takes
	// mu.
	k.read(ctx)
	// The scan serves the rescans asked for until now. One asked from
	// here on (a loss the read after the scan finds) stays asked, for
	// the next: cleared at the take, it was lost when the reading
	// goroutine asked before the take.
	m.mu.Lock()
	m.ctl.rescan = false
	m.mu.Unlock()
	snap, err := m.r.Scan(ctx, so)
	if err != nil {
		return err
	}
	k.scanned(snap)
	k.read(ctx)
	// Taking the kernel's events and numbering the frame are one step
	// under mu: an event a Sync waited for is in the first frame
	// numbered after the one Sync returned.
	nowLive, _ := k.status()
	m.mu.Lock()
	kev := k.take()
	m.ctl.seq++
	kev.Flush, m.ctl.flush = m.ctl.flush, false
	kev.Live, kev.Polled = nowLive, !nowLive
	c := m.ctl
	m.mu.Unlock()

	step := m.tracker.Observe(m.prev, snap, kev)
	live, note := k.status()
	f := &Frame{
		Seq:          c.seq,
		Snapshot:     snap,
		Events:       step.Events,
		Interval:     c.interval,
		EventsLive:   live,
		EventsNote:   note,
		EventsBehind: k.behind(),
		Zombies: lifecycle.DiagnoseZombiesWith(snap, step.ZombieSince, m.zombieParentsWChan(snap),
			lifecycle.ZombieOptions{WatchStart: step.WatchedSince, Exited: step.ZombieExited, SeenGaps: step.ZombieGap}),
		Orphans: step.Orphans,
		Paused:  c.paused,
	}
	f.ExecsUnnamedBehind = k.unnamedBehind()
	if !m.opts.NoRates {
		f.Rates = lifecycle.ComputeRates(m.prev, snap)
	}
	if focusPID > 0 {
		f.Focus = m.focusFrom(snap, focusPID)
	}
	switch {
	case m.ex == nil:
	case m.opts.Explain:
		f.Explain = m.ex.observe(snap, f.Focus)
	default:
		m.ex.remember(snap, snap.Monotonic)
	}
	m.prev = snap
	m.publish(f)
	return nil
}

// zombieParentsWChan reads what each parent of a zombie is blocked in.
func (m *Monitor) zombieParentsWChan(snap *collector.Snapshot) map[int]string {
	parents := lifecycle.ZombieParents(snap)
	if len(parents) == 0 {
		return nil
	}
	wchan := make(map[int]string, len(parents))
	for _, pid := range parents {
		wchan[pid], _ = m.r.WChan(pid)
	}
	return wchan
}

// focusFrom takes the focused process, read with its threads, from the
// snapshot (no second read of it) and reads its details and address
// space.
func (m *Monitor) focusFrom(snap *collector.Snapshot, pid int) *Focus {
	p := lifecycle.Find(snap, pid)
	if p == nil {
		return m.focusOf(pid, nil, m.r.FileError(pid, "stat", unix.ENOENT))
	}
	return m.focusOf(pid, p, nil)
}

// readFocus reads the focused process in full, without a snapshot (a
// focus changed between ticks).
func (m *Monitor) readFocus(pid int) *Focus {
	p, _, err := m.r.Process(pid)
	return m.focusOf(pid, p, err)
}

// focusOf is the focus on process p (or err) with its details and its
// address space. The capabilities come from p's status, read with it; the
// maps are read for p's identity (a pid reused in between reads as
// vanished). The Monitor reads the address space on every frame that has
// a focus: each tick and each focus change, so the Memory tab is as fresh
// as the process table.
func (m *Monitor) focusOf(pid int, p *collector.Process, err error) *Focus {
	f := &Focus{PID: pid}
	if err != nil {
		f.Err = collector.Reason(err)
		return f
	}
	f.Process = p
	d, err := m.r.DetailsOf(p)
	if err != nil {
		f.Err = collector.Reason(err)
	}
	f.Details = d
	m.mu.Lock()
	perMapping := m.ctl.perMapping
	m.mu.Unlock()
	if f.Space, err = m.r.AddressSpace(pid, collector.AddrOptions{StartTicks: p.StartTicks, PerMapping: perMapping, MapsFallback: true}); err != nil {
		f.Space, f.SpaceErr = nil, collector.Reason(err)
	}
	return f
}

// republish publishes a copy of the latest frame without new events:
// marked paused (once, when pausing), and with the focus re-read when it
// changed. It does not scan.
func (m *Monitor) republish(paused, focusChanged bool) {
	last := m.out.Latest()
	m.mu.Lock()
	focusPID := m.ctl.focus
	m.mu.Unlock()
	if last == nil || last.Paused == paused && !focusChanged {
		return
	}
	f := *last
	f.Events = nil
	f.Paused = paused
	if focusChanged {
		f.Focus = nil
		if focusPID > 0 {
			f.Focus = m.readFocus(focusPID)
		}
	}
	m.mu.Lock()
	m.ctl.seq++
	f.Seq = m.ctl.seq
	// The interval in force, not the last scan's: one changed while
	// paused is the one the next scan keeps.
	f.Interval = m.ctl.interval
	m.mu.Unlock()
	m.publish(&f)
}

// publish makes f the latest frame and offers it to every subscriber
// (see Fanout: skipped frames' events are carried, up to
// Options.MaxPending).
func (m *Monitor) publish(f *Frame) { m.out.Publish(f) }

// Subscribe returns a channel of frames (buffered 1: a slow reader gets the
// latest frame, and its Events include the events of frames it skipped, up
// to Options.MaxPending) and a function that cancels the subscription.
func (m *Monitor) Subscribe() (<-chan *Frame, func()) { return m.out.Subscribe() }

// Latest returns the last published frame, nil before the first.
func (m *Monitor) Latest() *Frame { return m.out.Latest() }

// SetInterval changes the sampling interval; the next sample comes one new
// interval from now.
func (m *Monitor) SetInterval(d time.Duration) {
	if d <= 0 {
		return
	}
	m.mu.Lock()
	m.ctl.interval = d
	m.mu.Unlock()
	m.poke()
}

// SetPaused pauses or resumes sampling. Pausing publishes one copy of the
// latest frame marked Paused and stops sampling; kernel events are kept
// (up to Options.MaxPending) and delivered in the first frame after
// resuming, which is sampled at once.
func (m *Monitor) SetPaused(p bool) {
	m.mu.Lock()
	if m.ctl.paused && !p {
		m.ctl.resume = true
	}
	m.ctl.paused = p
	m.mu.Unlock()
	m.poke()
}

// Focus makes each frame carry pid's full process (with threads), its
// details and its address space; 0 clears the focus. A copy of the latest
// frame with the new focus is published at once, without a scan.
func (m *Monitor) Focus(pid int) {
	m.mu.Lock()
	if m.ctl.focus != pid {
		m.ctl.focus = pid
		m.ctl.focusChanged = true
	}
	m.mu.Unlock()
	m.poke()
}

// SampleThreads makes every following scan read every process's threads
// (true), or only the focused process's (false, the default unless
// Options.Threads). The next scan comes at once.
func (m *Monitor) SampleThreads(all bool) {
	m.mu.Lock()
	changed := m.ctl.threads != all
	m.ctl.threads = all
	if changed {
		m.ctl.rescan = true
	}
	m.mu.Unlock()
	if changed {
		m.poke()
	}
}

// WantThreads asks for every process's threads in the scans of the next
// Options.ThreadHold (Options.ThreadDemand); when the latest frame has
// none, a scan comes at once. It reports whether they will come: false
// when the monitor does not read threads on demand (its frames have them
// or not as its Options say).
func (m *Monitor) WantThreads() bool {
	if !m.opts.ThreadDemand {
		return false
	}
	f := m.out.Latest()
	m.mu.Lock()
	m.ctl.threadsUntil = time.Now().Add(m.opts.ThreadHold)
	// A scan comes at once unless the latest frame has them or a scan
	// reading them runs (its frame is the next).
	now := (f == nil || f.Snapshot == nil || !f.Snapshot.ThreadsRead) && !m.ctl.threadsScanning
	if now {
		m.ctl.threadsNow = true
	}
	m.mu.Unlock()
	if now {
		m.poke()
	}
	return true
}

// FocusMemory makes the focused process's address space carry each
// mapping's resident and proportional memory (smaps, which walks the
// page tables: asked only while a view shows them), or only the maps and
// their totals (false, the default). The focus is re-read at once.
func (m *Monitor) FocusMemory(perMapping bool) {
	m.mu.Lock()
	changed := m.ctl.perMapping != perMapping
	m.ctl.perMapping = perMapping
	if changed && m.ctl.focus > 0 {
		m.ctl.focusChanged = true
	}
	m.mu.Unlock()
	if changed {
		m.poke()
	}
}

func (m *Monitor) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}
