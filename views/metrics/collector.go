package metrics

import (
	"cmp"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// Source is where frames come from: a *monitor.Monitor, or anything with
// the same two methods (tests publish frames built from real snapshots).
type Source interface {
	// Subscribe returns a channel of frames and a cancel function.
	Subscribe() (<-chan *monitor.Frame, func())
	// Latest returns the last published frame, nil before the first.
	Latest() *monitor.Frame
}

// Defaults for Options, used by `pinspect serve`.
const (
	DefaultTopN          = 10
	DefaultZombieParents = 20
	// MaxSeriesLimit caps TopN and ZombieParents whatever is asked.
	MaxSeriesLimit = 1000
	// maxLabelBytes caps comm and cmdline label values.
	maxLabelBytes     = 128
	maxCmdlineLabel   = 256
	metricsNamePrefix = "pinspect_"
)

// Options choose what the collector exports. The zero value exports no
// per-process and no per-parent series.
type Options struct {
	// TopN is how many processes get per-process context-switch series
	// (the top N by switches per second); capped at MaxSeriesLimit.
	TopN int
	// ZombieParents is how many parents (most zombies first) get a
	// per-parent zombie series; capped at MaxSeriesLimit.
	ZombieParents int
	// Cmdline adds a redacted, truncated `cmdline` label to per-process
	// series. Off by default: command lines can hold secrets.
	Cmdline bool
}

func (o Options) normalized() Options {
	o.TopN = min(max(o.TopN, 0), MaxSeriesLimit)
	o.ZombieParents = min(max(o.ZombieParents, 0), MaxSeriesLimit)
	return o
}

// Collector is a prometheus.Collector over the latest Frame of a Source.
// A scrape never reads /proc: it converts the frame the monitor already
// published. The conversion is done once per frame and shared by every
// scrape (concurrent ones wait for the one in progress); lifecycle
// counters accumulate from the frames Observe is given (Run does that).
type Collector struct {
	src  Source
	opts Options
	d    descs

	mu       sync.Mutex
	events   map[lifecycle.EventType]float64
	exits    map[string]float64
	gen      uint64 // bumped by Observe
	cacheSeq uint64
	cacheGen uint64
	cache    []prometheus.Metric
	builds   uint64
}

// NewCollector makes a collector over src.
func NewCollector(src Source, o Options) *Collector {
	return &Collector{
		src:    src,
		opts:   o.normalized(),
		d:      newDescs(o.Cmdline),
		events: map[lifecycle.EventType]float64{},
		exits:  map[string]float64{},
	}
}

// The exit outcomes of pinspect_exits_total.
var exitOutcomes = []string{"success", "failure", "signal", "unknown"}

// ExitOutcome classifies an exit status: "success" (exit 0), "failure"
// (another exit code), "signal" (killed), "unknown" (status not seen).
func ExitOutcome(es *collector.ExitStatus) string {
	switch {
	case es == nil:
		return "unknown"
	case !es.Exited:
		return "signal"
	case es.Code == 0:
		return "success"
	}
	return "failure"
}

// Observe counts the lifecycle events of f. Call it for every frame a
// subscription delivers (a subscriber that falls behind gets the skipped
// frames' events in the next frame, so nothing is counted twice or lost).
func (c *Collector) Observe(f *monitor.Frame) {
	if f == nil || len(f.Events) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range f.Events {
		e := &f.Events[i]
		c.events[e.Type]++
		if e.Type == lifecycle.Exit {
			c.exits[ExitOutcome(e.ExitStatus)]++
		}
	}
	c.gen++
}

// Builds returns how many times the frame-to-metrics conversion ran (for
// tests and the docs' cost figures: one per new frame, not per scrape).
func (c *Collector) Builds() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.builds
}

// Describe sends every descriptor the collector may emit.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect sends the metrics of the latest frame.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics() {
		ch <- m
	}
}

// metrics returns the cached metrics of the latest frame, building them
// when the frame or the counters changed. The slice is never modified
// after it is published, so scrapes share it.
func (c *Collector) metrics() []prometheus.Metric {
	f := c.src.Latest()
	c.mu.Lock()
	defer c.mu.Unlock()
	var seq uint64
	if f != nil {
		seq = f.Seq
	}
	if c.cache != nil && c.cacheSeq == seq && c.cacheGen == c.gen {
		return c.cache
	}
	ms := c.build(f)
	c.cache, c.cacheSeq, c.cacheGen = ms, seq, c.gen
	c.builds++
	return ms
}

// build converts one frame (nil: only the counters). Called with c.mu.
func (c *Collector) build(f *monitor.Frame) []prometheus.Metric {
	d := &c.d
	ms := make([]prometheus.Metric, 0, 64+4*c.opts.TopN+2*c.opts.ZombieParents)
	add := func(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ms = append(ms, prometheus.MustNewConstMetric(desc, t, v, labels...))
	}
	// Every event type, always exported (0 until seen).
	for _, t := range lifecycle.EventTypes() {
		add(d.events, prometheus.CounterValue, c.events[t], string(t))
	}
	for _, o := range exitOutcomes {
		add(d.exits, prometheus.CounterValue, c.exits[o], o)
	}
	if f == nil || f.Snapshot == nil {
		return ms
	}
	snap := f.Snapshot

	// Scan bookkeeping.
	add(d.frames, prometheus.CounterValue, float64(f.Seq))
	add(d.scanDuration, prometheus.GaugeValue, snap.ScanDuration.Seconds())
	add(d.scanTime, prometheus.GaugeValue, float64(snap.TakenAt.UnixNano())/1e9)
	sc := snap.Counts
	add(d.scanListed, prometheus.GaugeValue, float64(sc.Listed))
	add(d.scanVanished, prometheus.GaugeValue, float64(sc.Vanished))
	add(d.scanVanishedThreads, prometheus.GaugeValue, float64(sc.VanishedThreads))
	add(d.scanDenied, prometheus.GaugeValue, float64(sc.Denied))
	add(d.scanParseErrors, prometheus.GaugeValue, float64(sc.ParseErrors))
	add(d.scanTimeouts, prometheus.GaugeValue, float64(sc.Timeouts))
	add(d.scanUnreadable, prometheus.GaugeValue, float64(sc.Unreadable))
	add(d.interval, prometheus.GaugeValue, f.Interval.Seconds())
	add(d.eventsLive, prometheus.GaugeValue, boolFloat(f.EventsLive))
	if snap.CtxSwitchSource != "" {
		add(d.ctxSource, prometheus.GaugeValue, 1, string(snap.CtxSwitchSource))
	}
	if snap.Collector != "" {
		add(d.collectorInfo, prometheus.GaugeValue, 1, string(snap.Collector))
	}

	// Host-wide counters (absent when /proc/stat was unreadable).
	if _, bad := snap.Host.Unavailable["stat"]; !bad && snap.Host.ContextSwitches > 0 {
		add(d.sysCtx, prometheus.CounterValue, float64(snap.Host.ContextSwitches))
		add(d.sysForks, prometheus.CounterValue, float64(snap.Host.ProcessesCreated))
	}

	// Processes and threads by state.
	procStates := lifecycle.CountStates(snap).ByLetter
	var threadStates [256]int
	kernel, unknownThreads := 0, 0
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if p.IsKernelThread() {
			kernel++
		}
		if snap.ThreadsRead && len(p.Threads) > 0 {
			for j := range p.Threads {
				threadStates[p.Threads[j].State]++
			}
		} else if p.NumThreads > 0 {
			unknownThreads += int(p.NumThreads)
		}
	}
	threadStates[0] += unknownThreads
	emitStates(add, d.processes, &procStates)
	emitStates(add, d.threads, &threadStates)
	add(d.kernelThreads, prometheus.GaugeValue, float64(kernel))

	c.zombieMetrics(f, add)
	c.orphanMetrics(f, add)
	c.ctxMetrics(f, add)
	return ms
}

type addFunc func(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string)

// emitStates emits one series per state name: every state of the
// schema's set and "unknown" always (0 included, so series do not come and
// go), plus any other state seen.
func emitStates(add addFunc, desc *prometheus.Desc, counts *[256]int) {
	byName := map[string]int{"unknown": 0}
	for i := 0; i < len(collector.StateLetters); i++ {
		byName[collector.StateName(collector.StateLetters[i])] = 0
	}
	for s, n := range counts {
		if n > 0 {
			byName[collector.StateName(byte(s))] += n
		}
	}
	for _, name := range sortedKeys(byName) {
		add(desc, prometheus.GaugeValue, float64(byName[name]), name)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// zombieMetrics counts zombies from the snapshot (state Z is ground
// truth) and adds per-parent series for the parents holding the most,
// with the age of the oldest zombie when the monitor's diagnosis knows it.
func (c *Collector) zombieMetrics(f *monitor.Frame, add addFunc) {
	snap := f.Snapshot
	byParent := map[int]int{}
	total := 0
	for i := range snap.Processes {
		if p := &snap.Processes[i]; lifecycle.IsZombie(p) {
			total++
			byParent[p.PPID]++
		}
	}
	add(c.d.zombies, prometheus.GaugeValue, float64(total))
	add(c.d.zombieParents, prometheus.GaugeValue, float64(len(byParent)))
	if c.opts.ZombieParents == 0 || len(byParent) == 0 {
		return
	}
	type parent struct{ pid, n int }
	ps := make([]parent, 0, len(byParent))
	for pid, n := range byParent {
		ps = append(ps, parent{pid, n})
	}
	slices.SortFunc(ps, func(a, b parent) int {
		if a.n != b.n {
			return cmp.Compare(b.n, a.n)
		}
		return cmp.Compare(a.pid, b.pid)
	})
	if len(ps) > c.opts.ZombieParents {
		ps = ps[:c.opts.ZombieParents]
	}
	since := map[int]*lifecycle.ZombieGroup{}
	for i := range f.Zombies {
		since[f.Zombies[i].Parent.PID] = &f.Zombies[i]
	}
	for _, p := range ps {
		comm := ""
		if pp := lifecycle.Find(snap, p.pid); pp != nil {
			comm = pp.Comm
		} else if g := since[p.pid]; g != nil {
			comm = g.ParentComm
		}
		pid, lc := strconv.Itoa(p.pid), LabelValue(comm)
		add(c.d.parentZombies, prometheus.GaugeValue, float64(p.n), pid, lc)
		if g := since[p.pid]; g != nil && !g.Since.IsZero() && !snap.TakenAt.Before(g.Since) {
			add(c.d.parentOldest, prometheus.GaugeValue, snap.TakenAt.Sub(g.Since).Seconds(), pid, lc)
		}
	}
}

func (c *Collector) orphanMetrics(f *monitor.Frame, add addFunc) {
	kinds := map[string]int{}
	for _, k := range lifecycle.AdopterKinds() { // always exported
		kinds[k] = 0
	}
	daemons := 0
	for i := range f.Orphans {
		o := &f.Orphans[i]
		if o.Daemon {
			daemons++
			continue
		}
		k := o.AdopterKind
		if k == "" {
			k = "unknown"
		}
		kinds[LabelValue(k)]++
	}
	for _, k := range sortedKeys(kinds) {
		add(c.d.orphans, prometheus.GaugeValue, float64(kinds[k]), k)
	}
	add(c.d.daemons, prometheus.GaugeValue, float64(daemons))
}

// ctxRate is one process's context-switch rate.
type ctxRate struct {
	p          *collector.Process
	vol, invol float64
}

// ctxMetrics exports cumulative switches and their rate for the TopN
// processes by switches per second. Rates come from the frame (the
// lifecycle package's), or else from the previous snapshot in the frame;
// with neither (the first frame) there are no per-process series.
func (c *Collector) ctxMetrics(f *monitor.Frame, add addFunc) {
	if c.opts.TopN == 0 {
		return
	}
	rates := processRates(f)
	if len(rates) == 0 {
		return
	}
	slices.SortFunc(rates, func(a, b ctxRate) int {
		if x, y := a.vol+a.invol, b.vol+b.invol; x != y {
			return cmp.Compare(y, x)
		}
		return cmp.Compare(a.p.PID, b.p.PID)
	})
	if len(rates) > c.opts.TopN {
		rates = rates[:c.opts.TopN]
	}
	for _, r := range rates {
		labels := []string{strconv.Itoa(r.p.PID), LabelValue(r.p.Comm)}
		if c.opts.Cmdline {
			labels = append(labels, CmdlineLabel(r.p.Cmdline))
		}
		vol := append(slices.Clip(labels), "voluntary")
		inv := append(slices.Clip(labels), "involuntary")
		add(c.d.procCtx, prometheus.CounterValue, float64(r.p.VolCtx), vol...)
		add(c.d.procCtx, prometheus.CounterValue, float64(r.p.InvolCtx), inv...)
		add(c.d.procCtxRate, prometheus.GaugeValue, r.vol, vol...)
		add(c.d.procCtxRate, prometheus.GaugeValue, r.invol, inv...)
	}
}

// processRates returns the switch rate of every process of f's snapshot
// that was also in the previous scan (the frame's Rates), skipping
// processes whose totals are unavailable.
func processRates(f *monitor.Frame) []ctxRate {
	snap := f.Snapshot
	var out []ctxRate
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if p.Read&collector.SrcStatus == 0 {
			continue
		}
		if r, ok := f.Rates.Process(p.ID()); ok {
			out = append(out, ctxRate{p, r.VolPerSec, r.InvolPerSec})
		}
	}
	return out
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
