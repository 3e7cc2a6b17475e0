package metrics

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/views/report"
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
	// DefaultZombieParents is 0: per-parent series carry a pid, which
	// Prometheus keeps as a new series for every parent; the groups'
	// zombie series say which programs hold zombies.
	DefaultZombieParents = 0
	// MaxSeriesLimit caps ZombieParents and per_process.max whatever is
	// asked.
	MaxSeriesLimit = 1000
	// maxLabelBytes caps comm and cmdline label values.
	maxLabelBytes     = 128
	maxCmdlineLabel   = 256
	metricsNamePrefix = "pinspect_"
)

// Options choose what the collector exports. The zero value groups
// processes by comm and exports no per-process and no per-parent series.
type Options struct {
	// ZombieParents is how many parents (most zombies first) get a
	// per-parent zombie series; capped at MaxSeriesLimit.
	ZombieParents int
	// Cmdline adds a redacted, truncated `cmdline` label to per-process
	// series. Off by default: command lines can hold secrets.
	Cmdline bool
	// Groups names the groups of pinspect_group_* (LoadConfig).
	Groups Grouping
	// PerProcess chooses the processes with pinspect_process_* series.
	PerProcess PerProcess
	// Connector says the agent asked for the kernel's process-events
	// connector (pinspect_events_requested), so an agent without it can be
	// told from one that lost it.
	Connector bool
	// StuckReads, when set, returns how many of the agent's /proc reads
	// are still blocked in the kernel after their deadline
	// (pinspect_reads_stuck).
	StuckReads func() int
}

func (o Options) normalized() Options {
	o.ZombieParents = min(max(o.ZombieParents, 0), MaxSeriesLimit)
	o.PerProcess.max = min(max(o.PerProcess.max, 0), MaxSeriesLimit)
	if o.Groups.max <= 0 || o.Groups.max > MaxGroupsLimit {
		o.Groups.max = DefaultMaxGroups
	}
	return o
}

// scanTotals are the scans' bookkeeping counts added up since the agent
// started.
type scanTotals struct {
	vanished, vanishedThreads, denied, parseErrors, timeouts, unreadable float64
}

func (s *scanTotals) add(c collector.ScanCounts) {
	s.vanished += float64(c.Vanished)
	s.vanishedThreads += float64(c.VanishedThreads)
	s.denied += float64(c.Denied)
	s.parseErrors += float64(c.ParseErrors)
	s.timeouts += float64(c.Timeouts)
	s.unreadable += float64(c.Unreadable)
}

// exitKey is one pinspect_exits_total series.
type exitKey struct {
	outcome int // index in exitOutcomes
	status  string
}

// Collector is a prometheus.Collector over the frames Observe is given
// (Server.Run gives it every frame of its source). It never reads /proc:
// Observe accounts each frame once (groups, lifecycle and scan counters)
// and the first scrape after it converts the result into metrics, which
// every other scrape of the same frame (concurrent ones included) reuses.
type Collector struct {
	opts Options
	d    descs

	mu       sync.Mutex
	table    *groupTable
	last     *monitor.Frame // the latest observed frame with a snapshot
	lastSeq  uint64
	events   map[lifecycle.EventType]float64
	exits    map[exitKey]float64
	scans    scanTotals
	cut      float64              // pinspect_process_series_cut_total
	selected []*collector.Process // this frame's per-process series
	gen      uint64               // bumped by Observe
	cacheGen uint64
	cache    []prometheus.Metric
	builds   uint64
}

// NewCollector makes a collector; feed it frames with Observe.
func NewCollector(o Options) *Collector {
	o = o.normalized()
	c := &Collector{
		opts:   o,
		d:      newDescs(o.Cmdline, o.Groups.byCgroup),
		events: map[lifecycle.EventType]float64{},
		exits:  map[exitKey]float64{},
	}
	c.table = newGroupTable(&c.opts.Groups)
	// The usual outcomes exist from the start (0), so rate() and
	// increase() see their first exits.
	for _, k := range []exitKey{{0, "0"}, {1, "1"}, {2, "SIGKILL"}, {2, "SIGTERM"}, {3, ""}} {
		c.exits[k] = 0
	}
	return c
}

// The exit outcomes of pinspect_exits_total, by index.
var exitOutcomes = [...]string{"success", "failure", "signal", "unknown"}

// ExitClass classifies an exit status for pinspect_exits_total: its
// outcome (an index in success, failure, signal, unknown) and status: the
// exit code's class for an exit ("0", "1", "2", "3-125", "126", "127",
// "128-255": 126 and 127 are a shell's "cannot execute" and "not found",
// above 128 a shell reporting a child killed by a signal), the signal's
// name when killed ("SIGKILL"), "" when the status was not seen. Both
// take a bounded set of values.
func ExitClass(es *collector.ExitStatus) (outcome int, status string) {
	switch {
	case es == nil:
		return 3, ""
	case !es.Exited:
		return 2, signalName(es.Signal)
	case es.Code == 0:
		return 0, "0"
	}
	switch c := es.Code; {
	case c == 1, c == 2, c == 126, c == 127:
		return 1, strconv.Itoa(c)
	case c >= 3 && c <= 125:
		return 1, "3-125"
	}
	return 1, "128-255"
}

// ExitOutcome names an exit status's outcome: "success" (exit 0),
// "failure" (another exit code), "signal" (killed), "unknown" (status not
// seen).
func ExitOutcome(es *collector.ExitStatus) string {
	o, _ := ExitClass(es)
	return exitOutcomes[o]
}

// Observe accounts one frame. Call it for every frame a subscription
// delivers, in order (a subscriber that falls behind gets the skipped
// frames' events in the next frame, so no event is counted twice or
// lost); a frame numbered at or below one already observed is ignored.
func (c *Collector) Observe(f *monitor.Frame) {
	if f == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastSeq > 0 && f.Seq <= c.lastSeq {
		return
	}
	c.lastSeq = f.Seq
	// A paused monitor repeats its snapshot: account a scan once.
	fresh := f.Snapshot != nil && (c.last == nil || c.last.Snapshot != f.Snapshot)
	if fresh {
		c.table.observe(f.Snapshot)
		c.scans.add(f.Snapshot.Counts)
	}
	for i := range f.Events {
		e := &f.Events[i]
		c.events[e.Type]++
		if e.Type == lifecycle.Exit {
			o, s := ExitClass(e.ExitStatus)
			c.exits[exitKey{o, s}]++
		}
		c.table.event(e)
	}
	if fresh {
		c.table.sweep(f.Snapshot.TakenAt, f.Orphans, f.Zombies)
		c.selectProcesses(f.Snapshot)
	}
	if f.Snapshot != nil {
		c.last = f
	}
	c.gen++
}

// selectProcesses picks this scan's per-process series: the processes of
// the allowed groups, oldest first (so the set is stable while they
// live), up to the cap; the others are counted as cut.
func (c *Collector) selectProcesses(snap *collector.Snapshot) {
	c.selected = c.selected[:0]
	pp := &c.opts.PerProcess
	if !pp.Enabled() {
		return
	}
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if m := c.table.procs[p.ID()]; m != nil && pp.allows(m.g.key.name) {
			c.selected = append(c.selected, p)
		}
	}
	slices.SortFunc(c.selected, func(a, b *collector.Process) int {
		if a.StartTicks != b.StartTicks {
			return cmp.Compare(a.StartTicks, b.StartTicks)
		}
		return cmp.Compare(a.PID, b.PID)
	})
	if over := len(c.selected) - pp.max; over > 0 {
		c.cut += float64(over)
		clear(c.selected[pp.max:])
		c.selected = c.selected[:pp.max]
	}
}

// Builds returns how many times the conversion to metrics ran (for tests
// and the docs' cost figures: one per observed frame, not per scrape).
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

// Collect sends the metrics of the latest observed frame.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics() {
		ch <- m
	}
}

// metrics returns the cached metrics, building them when a frame was
// observed since. The slice is never modified after it is published, so
// scrapes share it.
func (c *Collector) metrics() []prometheus.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache != nil && c.cacheGen == c.gen {
		return c.cache
	}
	ms := c.build()
	c.cache, c.cacheGen = ms, c.gen
	c.builds++
	return ms
}

type addFunc func(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string)

// build converts the observed state into metrics. Called with c.mu.
func (c *Collector) build() []prometheus.Metric {
	ms := make([]prometheus.Metric, 0, 64+20*len(c.table.groups)+8*len(c.selected))
	add := func(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ms = append(ms, prometheus.MustNewConstMetric(desc, t, v, labels...))
	}
	c.agentMetrics(add)
	c.groupMetrics(add)
	if c.last == nil {
		return ms
	}
	f := c.last
	c.stateMetrics(f.Snapshot, add)
	c.zombieMetrics(f, add)
	c.orphanMetrics(f, add)
	c.processMetrics(add)
	return ms
}

// agentMetrics are the counters and the agent's own state.
func (c *Collector) agentMetrics(add addFunc) {
	d := &c.d
	// Every event type, always exported (0 until seen).
	for _, t := range lifecycle.EventTypes() {
		add(d.events, prometheus.CounterValue, c.events[t], string(t))
	}
	for k, v := range c.exits {
		add(d.exits, prometheus.CounterValue, v, exitOutcomes[k.outcome], k.status)
	}
	add(d.eventsRequested, prometheus.GaugeValue, boolFloat(c.opts.Connector))
	if c.opts.StuckReads != nil {
		add(d.readsStuck, prometheus.GaugeValue, float64(c.opts.StuckReads()))
	}
	s := &c.scans
	add(d.scanVanished, prometheus.CounterValue, s.vanished)
	add(d.scanVanishedThreads, prometheus.CounterValue, s.vanishedThreads)
	add(d.scanDenied, prometheus.CounterValue, s.denied)
	add(d.scanParseErrors, prometheus.CounterValue, s.parseErrors)
	add(d.scanTimeouts, prometheus.CounterValue, s.timeouts)
	add(d.scanUnreadable, prometheus.CounterValue, s.unreadable)
	if c.opts.PerProcess.Enabled() {
		add(d.seriesCut, prometheus.CounterValue, c.cut)
	}
	f := c.last
	if f == nil {
		return
	}
	snap := f.Snapshot
	add(d.frames, prometheus.CounterValue, float64(f.Seq))
	add(d.scanDuration, prometheus.GaugeValue, snap.ScanDuration.Seconds())
	add(d.scanTime, prometheus.GaugeValue, unixSeconds(snap.TakenAt))
	add(d.interval, prometheus.GaugeValue, f.Interval.Seconds())
	add(d.eventsLive, prometheus.GaugeValue, boolFloat(f.EventsLive))
	if snap.CtxSwitchSource != "" {
		add(d.ctxSource, prometheus.GaugeValue, 1, string(snap.CtxSwitchSource))
	}
	if snap.Collector != "" {
		add(d.collectorInfo, prometheus.GaugeValue, 1, string(snap.Collector))
	}
}

// stateMetrics are the processes and threads by state.
func (c *Collector) stateMetrics(snap *collector.Snapshot, add addFunc) {
	d := &c.d
	// A process whose leader exited while other threads run shows Z but
	// is alive (lifecycle.IsZombie): it is counted as leader-exited, never
	// as a zombie, as every other view of pinspect counts it.
	counts := lifecycle.CountStates(snap)
	procStates := counts.ByLetter
	procStates['Z'] -= counts.LeaderExited
	var threadStates [256]int
	kernel, unknownThreads := 0, 0
	// The task iterator counts every thread by state, kept or not
	// (Snapshot.ThreadStates); a /proc scan knows the states of the
	// threads it read.
	counted := snap.ThreadStates
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if p.IsKernelThread() {
			kernel++
		}
		switch {
		case counted != nil:
		case snap.ThreadsRead && len(p.Threads) > 0:
			for j := range p.Threads {
				threadStates[p.Threads[j].State]++
			}
		case p.NumThreads > 0:
			unknownThreads += int(p.NumThreads)
		}
	}
	if counted != nil {
		for k, n := range counted.ByState {
			threadStates[collector.StateLetters[k]] += n
		}
		unknownThreads = counted.Unknown
	}
	threadStates[0] += unknownThreads
	emitStates(add, d.processes, &procStates, report.StateLeaderExited, counts.LeaderExited)
	emitStates(add, d.threads, &threadStates, "", 0)
	add(d.kernelThreads, prometheus.GaugeValue, float64(kernel))
}

// emitStates emits one series per state name: every state of the
// schema's set and "unknown" always (0 included, so series do not come and
// go), plus any other state seen; extra, when not "", is one more state
// name, always present, with n.
func emitStates(add addFunc, desc *prometheus.Desc, counts *[256]int, extra string, n int) {
	byName := map[string]int{"unknown": 0}
	if extra != "" {
		byName[extra] = n
	}
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
// with when their oldest zombie was first seen when the monitor's
// diagnosis knows it.
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
		if g := since[p.pid]; g != nil && !g.Since.IsZero() {
			add(c.d.parentOldest, prometheus.GaugeValue, unixSeconds(g.Since), pid, lc)
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

// groupMetrics are the pinspect_group_* series of every group.
func (c *Collector) groupMetrics(add addFunc) {
	d := &c.d
	add(d.groups, prometheus.GaugeValue, float64(len(c.table.groups)))
	add(d.groupsOverflow, prometheus.GaugeValue, float64(c.table.overflow))
	for _, g := range c.table.groups {
		labels := []string{g.key.name}
		if c.opts.Groups.byCgroup {
			labels = append(labels, g.key.cgroup)
		}
		l := func(extra ...string) []string { return append(slices.Clip(labels), extra...) }
		for i, s := range groupStates {
			add(d.groupProcesses, prometheus.GaugeValue, float64(g.states[i]), l(s)...)
		}
		add(d.groupThreads, prometheus.GaugeValue, float64(g.threads), labels...)
		add(d.groupRSS, prometheus.GaugeValue, float64(g.rssBytes), labels...)
		add(d.groupOrphans, prometheus.GaugeValue, float64(g.orphans), labels...)
		if !g.oldestStart.IsZero() {
			add(d.groupOldestStart, prometheus.GaugeValue, unixSeconds(g.oldestStart), labels...)
		}
		// Only while the group holds zombies (an anomaly): most groups
		// never do.
		if g.zombieChildren > 0 {
			add(d.groupZombies, prometheus.GaugeValue, float64(g.zombieChildren), labels...)
			if !g.oldestZombie.IsZero() {
				add(d.groupOldestZombie, prometheus.GaugeValue, unixSeconds(g.oldestZombie), labels...)
			}
		}
		t := g.total()
		add(d.groupCPU, prometheus.CounterValue, ticksToSeconds(t.userTicks), l("user")...)
		add(d.groupCPU, prometheus.CounterValue, ticksToSeconds(t.systemTicks), l("system")...)
		add(d.groupCtx, prometheus.CounterValue, float64(t.volCtx), l("voluntary")...)
		add(d.groupCtx, prometheus.CounterValue, float64(t.involCtx), l("involuntary")...)
		if g.ioSeen {
			add(d.groupReadBytes, prometheus.CounterValue, float64(t.readBytes), labels...)
			add(d.groupWriteBytes, prometheus.CounterValue, float64(t.writeBytes), labels...)
		}
		add(d.groupSpawns, prometheus.CounterValue, g.spawns, labels...)
		add(d.groupExecs, prometheus.CounterValue, g.execs, labels...)
		for i, o := range exitOutcomes {
			add(d.groupExits, prometheus.CounterValue, g.exits[i], l(o)...)
		}
	}
}

// processMetrics are the per-process series of the selected processes.
func (c *Collector) processMetrics(add addFunc) {
	d := &c.d
	for _, p := range c.selected {
		group := ""
		if m := c.table.procs[p.ID()]; m != nil {
			group = m.g.key.name
		}
		labels := []string{strconv.Itoa(p.PID), LabelValue(p.Comm), group}
		if c.opts.Cmdline {
			labels = append(labels, CmdlineLabel(p.Cmdline))
		}
		l := func(extra ...string) []string { return append(slices.Clip(labels), extra...) }
		if p.Read&collector.SrcStat != 0 {
			add(d.procCPU, prometheus.CounterValue, ticksToSeconds(p.UTimeTicks), l("user")...)
			add(d.procCPU, prometheus.CounterValue, ticksToSeconds(p.STimeTicks), l("system")...)
			add(d.procThreads, prometheus.GaugeValue, float64(p.NumThreads), labels...)
			if !p.StartedAt.IsZero() {
				add(d.procStart, prometheus.GaugeValue, unixSeconds(p.StartedAt), labels...)
			}
		}
		if p.HasRSS {
			add(d.procRSS, prometheus.GaugeValue, float64(p.RSSBytes), labels...)
		}
		if p.Read&collector.SrcStatus != 0 {
			add(d.procCtx, prometheus.CounterValue, float64(p.VolCtx), l("voluntary")...)
			add(d.procCtx, prometheus.CounterValue, float64(p.InvolCtx), l("involuntary")...)
		}
		if p.Read&collector.SrcIO != 0 {
			add(d.procReadBytes, prometheus.CounterValue, float64(p.IO.ReadBytes), labels...)
			add(d.procWriteBytes, prometheus.CounterValue, float64(p.IO.WriteBytes), labels...)
		}
	}
}

// ticksToSeconds converts clock ticks (USER_HZ) to seconds.
func ticksToSeconds(t uint64) float64 { return float64(t) / collector.ClockTicks }

// unixSeconds is t in seconds since the Unix epoch.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
