package dashboard

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// This file is the only place that reads the optional parts of a Frame
// (rates, diagnoses, focus). Everything else in the package works on the
// small view types below.

// rate is a process's or thread's CPU and context-switch rates; ok is
// false when unknown (first frame, new process).
type rate struct {
	cpu, vol, invol float64
	ok              bool
}

// zombieGroup is the zombie panel's view of one non-reaping parent.
type zombieGroup struct {
	parent     collector.ID
	parentComm string // raw
	parentInfo string // raw: state, wait channel, SIGCHLD disposition
	zombies    []collector.ID
	statuses   []string
	// others counts the parent's zombies left out of zombies by the
	// --pid scope (scopedZombies).
	others    int
	diagnosis string // raw
	remedy    string // raw
}

// focusData is what the Frame carries for the focused process.
type focusData struct {
	pid     int
	proc    *collector.Process // with threads when read
	status  []kv               // readable details (cgroups, namespaces, ...), raw values
	mem     *memView
	memNote string
	err     string
}

// kv is one labelled line of the Status tab.
type kv struct{ k, v string }

// memView is what the Memory tab draws.
type memView struct {
	segments []memSegment
	maps     []memMap
	total    uint64
	note     string
	// perMapping says each mapping's RSS was read (smaps): the collector
	// gives every mapping its RSS or none (AddressSpace.PerMapping).
	perMapping bool
	// stackWhy says why a thread's stack is not located ("running", ...).
	stackWhy map[int]string
	// smapsWhy says why smaps could not be read when the rows came from
	// maps instead (collector.AddrOptions.MapsFallback); "" otherwise.
	smapsWhy string
}

// memSegment is one class of mappings with its size.
type memSegment struct {
	name     string
	bytes    uint64
	rss      uint64
	rssKnown bool
	count    int
}

// memMap is one mapping.
type memMap struct {
	start, end uint64
	perms      string
	class      string
	path       string // raw
	tid        int    // the thread whose stack this is, 0 if none
	rss        uint64
	rssKnown   bool
}

// frameData wraps one Frame for the views.
type frameData struct {
	f *monitor.Frame
}

// newFrameData wraps a Frame.
func newFrameData(f *monitor.Frame) *frameData { return &frameData{f: f} }

func fromRate(r lifecycle.ProcRate, ok bool) rate {
	return rate{cpu: r.CPUPercent, vol: r.VolPerSec, invol: r.InvolPerSec, ok: ok}
}

// procRate returns the rates of a process of the current snapshot.
func (d *frameData) procRate(p *collector.Process) rate {
	if d == nil || d.f == nil {
		return rate{}
	}
	return fromRate(d.f.Rates.Process(p.ID()))
}

// threadRate returns the rates of one thread of p, known when its
// threads were read in both scans (every process's, or the focused one's).
func (d *frameData) threadRate(p *collector.Process, t *collector.Thread) rate {
	if d == nil || d.f == nil {
		return rate{}
	}
	return fromRate(d.f.Rates.Thread(p.PID, t.TID))
}

// systemCtx returns the system-wide context switches per second.
func (d *frameData) systemCtx() (float64, bool) {
	if d == nil || d.f == nil || d.f.Rates == nil {
		return 0, false
	}
	return d.f.Rates.System.CtxPerSec, true
}

// zombies returns the zombie groups by parent, with their diagnoses.
func (d *frameData) zombies() []zombieGroup {
	if d == nil || d.f == nil {
		return nil
	}
	var now time.Time
	if d.f.Snapshot != nil {
		now = d.f.Snapshot.TakenAt
	}
	out := make([]zombieGroup, 0, len(d.f.Zombies))
	for i := range d.f.Zombies {
		g := &d.f.Zombies[i]
		v := zombieGroup{parent: g.Parent, parentComm: g.ParentComm, diagnosis: g.Diagnosis, remedy: g.Remedy}
		var info []string
		switch {
		case g.ParentLeaderExited:
			letter, name := g.ParentStateLetterName()
			info = append(info, "state "+string(rune(letter))+" "+name)
		case g.ParentState != 0:
			info = append(info, "state "+string(rune(g.ParentState)))
		}
		if g.ParentWChan != "" {
			info = append(info, "in "+g.ParentWChan)
		}
		if g.SIGCHLD != "" {
			info = append(info, "SIGCHLD "+g.SIGCHLD)
		}
		if !g.Since.IsZero() && !now.IsZero() {
			// Since is when the oldest exited only when the kernel's
			// events said so; otherwise when pinspect first saw it.
			if g.SinceExited() {
				info = append(info, "oldest exited "+durationString(now.Sub(g.Since))+" ago")
			} else {
				info = append(info, "zombies first seen "+durationString(now.Sub(g.Since))+" ago")
			}
		}
		v.parentInfo = strings.Join(info, ", ")
		for _, z := range g.Zombies {
			v.zombies = append(v.zombies, z.ID)
			st := ""
			if z.Exit != nil {
				st = z.Exit.String()
			}
			v.statuses = append(v.statuses, st)
		}
		out = append(out, v)
	}
	return out
}

// orphans returns the number of orphans (not daemons) the frame reports.
func (d *frameData) orphans() int {
	if d == nil || d.f == nil {
		return -1
	}
	n := 0
	for i := range d.f.Orphans {
		if !d.f.Orphans[i].Daemon {
			n++
		}
	}
	return n
}

// focus returns the focused process's data, or nil.
func (d *frameData) focus() *focusData {
	if d == nil || d.f == nil || d.f.Focus == nil {
		return nil
	}
	f := d.f.Focus
	out := &focusData{pid: f.PID, proc: f.Process, err: f.Err}
	if f.Details != nil {
		out.status = detailsKV(f.Details)
	}
	out.mem = memFromSpace(f.Space)
	switch {
	case out.mem != nil:
	case f.SpaceErr != "":
		out.memNote = "the address space could not be read: " + f.SpaceErr
	default:
		out.memNote = "the address space is not provided by this source"
	}
	return out
}

// detailsKV turns Details into Status tab lines (raw values).
func detailsKV(det *collector.Details) []kv {
	var out []kv
	wchan := det.WChan
	if wchan == "" {
		wchan = "- (running or not blocked)"
	}
	out = append(out, kv{"Waiting in", wchan})
	for _, c := range det.Cgroups {
		k := "Cgroup"
		if len(c.Controllers) > 0 {
			k += " " + strings.Join(c.Controllers, ",")
		}
		out = append(out, kv{k, c.Path})
	}
	// The namespaces it is in, then (pid_for_children, time_for_children)
	// those its next children will be born in, labelled as such.
	var own, kids strings.Builder
	for _, n := range det.Namespaces {
		b := &own
		name := n.Type
		if t, ok := strings.CutSuffix(n.Type, "_for_children"); ok {
			b, name = &kids, t
		}
		if b.Len() > 0 {
			b.WriteString("  ")
		}
		b.WriteString(name + ":" + strconv.FormatUint(uint64(n.Inode), 10))
	}
	if own.Len() > 0 {
		out = append(out, kv{"Namespaces", own.String()})
	}
	if kids.Len() > 0 {
		out = append(out, kv{"Namespaces of children", kids.String()})
	}
	c := det.Caps
	out = append(out,
		kv{"Caps permitted", capSet(c.Prm)},
		kv{"Caps bounding", capSet(c.Bnd)},
		kv{"Caps inheritable", capSet(c.Inh)},
		kv{"Caps ambient", capSet(c.Amb)})
	for _, l := range det.Limits {
		out = append(out, kv{"Limit " + l.Name, limitValue(l.Soft, l.Units) + " / " + limitValue(l.Hard, l.Units)})
	}
	keys := make([]string, 0, len(det.Unavailable))
	for k := range det.Unavailable {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, kv{"Unavailable", k + ": " + det.Unavailable[k]})
	}
	return out
}

func limitValue(v int64, units string) string {
	if v < 0 {
		return "unlimited"
	}
	if units == "bytes" {
		return humanBytes(uint64(v))
	}
	s := strconv.FormatInt(v, 10)
	if units != "" {
		s += " " + units
	}
	return s
}

// memFromSpace adapts the collector's address space to the Memory tab.
func memFromSpace(s *collector.AddressSpace) *memView {
	if s == nil {
		return nil
	}
	m := &memView{perMapping: s.PerMapping}
	if r, ok := s.Unavailable["maps"]; ok {
		m.note = "maps unavailable: " + r
	}
	m.smapsWhy = s.Unavailable["smaps"] // the rows are maps' (MapsFallback)
	if s.Memory != nil {
		m.note = strings.TrimSpace(m.note + " RSS " + humanBytes(s.Memory.RSSBytes) + "  PSS " + humanBytes(s.Memory.PSSBytes) +
			"  USS " + humanBytes(s.Memory.USSBytes) + "  shared " + humanBytes(s.Memory.SharedBytes) + "  swap " + humanBytes(s.Memory.SwapBytes))
	}
	for _, t := range s.Segments {
		seg := memSegment{name: string(t.Class), bytes: t.SizeBytes, count: t.Mappings}
		if t.RSSBytes != nil {
			seg.rss, seg.rssKnown = *t.RSSBytes, true
		}
		m.total += t.SizeBytes
		m.segments = append(m.segments, seg)
	}
	for _, st := range s.Stacks {
		if st.Mapping < 0 && st.Reason != "" {
			if m.stackWhy == nil {
				m.stackWhy = make(map[int]string)
			}
			m.stackWhy[st.TID] = st.Reason
		}
	}
	m.maps = make([]memMap, len(s.Maps))
	for i := range s.Maps {
		mp := &s.Maps[i]
		v := memMap{start: mp.Start, end: mp.End, perms: mp.Perms, class: string(mp.Class), path: mp.Path, tid: mp.TID}
		if mp.RSSBytes != nil {
			v.rss, v.rssKnown = *mp.RSSBytes, true
		}
		m.maps[i] = v
	}
	return m
}

// rssOf is a process's resident memory; false when it has none or it is
// not known (a kernel thread or a zombie has no address space; status and
// statm were unreadable): the table shows "-", never 0.
func rssOf(p *collector.Process) (uint64, bool) { return p.RSSBytes, p.HasRSS }

// virtOf is a process's virtual size, known as rssOf is.
func virtOf(p *collector.Process) (uint64, bool) {
	if p.Read&collector.SrcStat == 0 || lifecycle.IsZombie(p) || p.IsKernelThread() {
		return 0, false
	}
	return p.VSizeBytes, true
}

// sharedOf is a process's shared resident memory (file-backed and shmem
// pages), when the collector read it.
func sharedOf(p *collector.Process) (uint64, bool) { return p.SharedBytes, p.HasShared }

// stateText is a process's state for a person: the kernel's letter and
// its name, or, for a process whose main thread exited while others run
// (the kernel shows its leader Z), the table's L, that it is alive and
// on how many threads.
func stateText(p *collector.Process) string {
	if lifecycle.LeaderExited(p) {
		n := p.NumThreads - 1
		threads := " threads running"
		if n == 1 {
			threads = " thread running"
		}
		return stateLetter(lifecycle.LeaderExitedLetter) + " leader exited (the kernel shows Z), " + strconv.FormatInt(n, 10) + threads
	}
	return stateLetter(p.State) + " " + collector.StateName(p.State)
}

// statePhase places the process in the classic lifecycle: a
// leader-exited process is running on its other threads.
func statePhase(p *collector.Process) string {
	if lifecycle.LeaderExited(p) {
		return "alive"
	}
	return collector.StatePhase(p.State)
}

// ioDelayText is the process's block I/O delay, or why it is not known:
// with kernel.task_delayacct off the kernel counts no delays and the field
// is 0 for every process, whatever it waited.
func ioDelayText(p *collector.Process, h *collector.Host) string {
	if r, unknown := h.Unavailable[collector.HostDelayAcctKey]; unknown {
		return "[gray]- (kernel.task_delayacct: " + inert(r) + ")[-]"
	}
	if !h.DelayAcct {
		return "[gray]- (delay accounting is off: kernel.task_delayacct = 0)[-]"
	}
	return ticks(p.DelayTicks)
}

// exitText is a zombie's exit status between pre and post, or why it is
// unknown ("masked": the kernel hides it from this user), or "".
func exitText(p *collector.Process, pre, post string) string {
	switch {
	case p.ExitCode >= 0:
		return pre + collector.DecodeWaitStatus(p.ExitCode).String() + post
	case p.Unavailable["exit_code"] != "":
		return pre + "exit status " + inert(p.Unavailable["exit_code"]) + " for this user" + post
	}
	return ""
}

// rssNote says why the mappings' RSS column is "-": the address space
// was read without smaps (the read with it comes at once when the Memory
// tab opens), or smaps could not be read and the rows are maps' (why).
// Nothing when every mapping has its RSS, or when there are no mappings
// (the note says why the maps are unavailable: an smaps read that timed
// out is not still "reading").
func (m *memView) rssNote() string {
	if m.perMapping || len(m.maps) == 0 {
		return ""
	}
	if m.smapsWhy != "" {
		return "RSS per mapping not read (smaps: " + inert(m.smapsWhy) + "): the rows are from maps, without RSS"
	}
	return "RSS per mapping: reading smaps (the page tables)…"
}
