package report

import (
	"encoding/base64"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// SnapshotSchema is the schema version of the snapshot document.
const SnapshotSchema = "pinspect.snapshot/v1"

// SnapshotDoc is the `pinspect --json` document (docs/SCHEMA.md).
type SnapshotDoc struct {
	Schema              string       `json:"schema"`
	TakenAt             string       `json:"taken_at"`
	ScanDurationSeconds float64      `json:"scan_duration_seconds"`
	ProcRoot            string       `json:"proc_root"`
	Summary             Summary      `json:"summary"`
	Host                HostDoc      `json:"host"`
	Processes           []ProcessDoc `json:"processes"`
	Problems            []ProblemDoc `json:"problems,omitempty"`
	// stream, when set, holds the processes WriteSnapshotJSON converts
	// one at a time in place of Processes (NewSnapshotDocStream).
	stream *streamProcs
}

// streamProcs are the processes of a streamed document.
type streamProcs struct {
	procs   []*collector.Process
	threads bool
}

// Summary counts processes and threads by state and what could not be read.
type Summary struct {
	Processes        int            `json:"processes"`
	Threads          int            `json:"threads"`
	ProcessesByState map[string]int `json:"processes_by_state"`
	ThreadsByState   map[string]int `json:"threads_by_state,omitempty"`
	KernelThreads    int            `json:"kernel_threads"`
	Zombies          int            `json:"zombies"`
	// ThreadsRead says whether per-thread rows and thread_sum totals are
	// present.
	ThreadsRead     bool   `json:"threads_read"`
	CtxSwitchSource string `json:"ctxt_switches_source"`
	// Collector is the backend that read the processes: "task_iter" (a
	// BPF task iterator) or "proc"; CollectorNote says why not the task
	// iterator, when that needs saying, and why not its cmdline program
	// when a one-shot command loads it and it was not used.
	Collector string `json:"collector,omitempty"`
	// CollectorPinned is true when the task iterator's programs were
	// opened from their pin (`pinspect bpf pin`) instead of loaded by
	// this run; absent when loaded.
	CollectorPinned bool   `json:"collector_pinned,omitempty"`
	CollectorNote   string `json:"collector_note,omitempty"`
	// CmdlineSource is "task_iter" when the task iterator's cmdline
	// program read the cmdlines (of every process it could read safely;
	// /proc the others'); absent when they all came from /proc (below
	// 500 processes it is not loaded; otherwise collector_note says why
	// not).
	CmdlineSource string `json:"cmdline_source,omitempty"`
	// Filtered is true when a filter was applied; the counts above are then
	// over the selected processes.
	Filtered bool          `json:"filtered"`
	Scan     ScanCountsDoc `json:"scan"`
}

// HostDoc is the host part of a snapshot.
type HostDoc struct {
	Hostname          string  `json:"hostname,omitempty"`
	Kernel            string  `json:"kernel,omitempty"`
	BootTime          string  `json:"boot_time,omitempty"`
	UptimeSeconds     float64 `json:"uptime_seconds,omitempty"`
	CPUs              int     `json:"cpus,omitempty"`
	MemTotalBytes     uint64  `json:"mem_total_bytes,omitempty"`
	MemAvailableBytes uint64  `json:"mem_available_bytes,omitempty"`
	Load1             float64 `json:"load1"`
	Load5             float64 `json:"load5"`
	Load15            float64 `json:"load15"`
	ContextSwitches   uint64  `json:"ctxt_switches_total"`
	ProcessesCreated  uint64  `json:"processes_created_total"`
	ProcsRunning      uint64  `json:"procs_running"`
	ProcsBlocked      uint64  `json:"procs_blocked"`
	// DelayAccounting is kernel.task_delayacct (absent when unknown, with
	// unavailable.task_delayacct saying why): per-task I/O delays are
	// counted only when it is true.
	DelayAccounting *bool             `json:"delay_accounting,omitempty"`
	Unavailable     map[string]string `json:"unavailable,omitempty"`
}

// ProcessDoc is one process in a snapshot document. Pointer fields are
// absent when their source file could not be read (see Unavailable).
type ProcessDoc struct {
	PID            int               `json:"pid"`
	StartTicks     *uint64           `json:"start_ticks,omitempty"`
	StartedAt      string            `json:"started_at,omitempty"`
	PPID           *int              `json:"ppid,omitempty"`
	PGID           *int              `json:"pgid,omitempty"`
	SID            *int              `json:"sid,omitempty"`
	TTYNr          *int              `json:"tty_nr,omitempty"`
	TTY            string            `json:"tty,omitempty"`
	UID            *int              `json:"uid,omitempty"`
	EUID           *int              `json:"euid,omitempty"`
	User           string            `json:"user,omitempty"`
	Comm           *string           `json:"comm,omitempty"`
	CommRawBase64  string            `json:"comm_raw_base64,omitempty"`
	State          string            `json:"state,omitempty"`
	StateName      string            `json:"state_name,omitempty"`
	KernelThread   bool              `json:"kernel_thread,omitempty"`
	LeaderExited   bool              `json:"leader_exited,omitempty"`
	Cmdline        []string          `json:"cmdline,omitempty"`
	CmdlineRaw     []string          `json:"cmdline_raw_base64,omitempty"`
	CmdlineTrunc   bool              `json:"cmdline_truncated,omitempty"`
	CmdlineTitle   bool              `json:"cmdline_is_title,omitempty"`
	Exe            string            `json:"exe,omitempty"`
	ExeRawBase64   string            `json:"exe_raw_base64,omitempty"`
	ExeDeleted     bool              `json:"exe_deleted,omitempty"`
	Nice           *int64            `json:"nice,omitempty"`
	Priority       *int64            `json:"priority,omitempty"`
	Policy         string            `json:"policy,omitempty"`
	RTPriority     *uint64           `json:"rt_priority,omitempty"`
	NumThreads     *int64            `json:"num_threads,omitempty"`
	UserSeconds    *float64          `json:"utime_seconds,omitempty"`
	SystemSeconds  *float64          `json:"stime_seconds,omitempty"`
	RSSBytes       *uint64           `json:"rss_bytes,omitempty"`
	VSizeBytes     *uint64           `json:"vsize_bytes,omitempty"`
	LastCPU        *int64            `json:"last_cpu,omitempty"`
	MinorFaults    *uint64           `json:"minor_faults,omitempty"`
	MajorFaults    *uint64           `json:"major_faults,omitempty"`
	VolCtx         *uint64           `json:"voluntary_ctxt_switches,omitempty"`
	InvolCtx       *uint64           `json:"involuntary_ctxt_switches,omitempty"`
	CtxSource      string            `json:"ctxt_switches_source,omitempty"`
	LeaderVolCtx   *uint64           `json:"leader_voluntary_ctxt_switches,omitempty"`
	LeaderInvolCtx *uint64           `json:"leader_involuntary_ctxt_switches,omitempty"`
	TracerPID      *int              `json:"tracer_pid,omitempty"`
	NSPids         []int             `json:"nspids,omitempty"`
	Signals        *SignalsDoc       `json:"signals,omitempty"`
	ExitStatus     *ExitStatusDoc    `json:"exit_status,omitempty"`
	Unavailable    map[string]string `json:"unavailable,omitempty"`
	Threads        []ThreadDoc       `json:"threads,omitempty"`
}

// SignalsDoc holds the signal masks of status as hex strings. Ignored
// and Caught (the dispositions) are absent when they were not read: a
// walk may leave them out (collector.Process.SigDispAbsent), and 0 would
// say that no signal is ignored or caught.
type SignalsDoc struct {
	Pending       string `json:"pending"`
	SharedPending string `json:"shared_pending"`
	Blocked       string `json:"blocked"`
	Ignored       string `json:"ignored,omitempty"`
	Caught        string `json:"caught,omitempty"`
}

// ThreadDoc is one thread of a process.
type ThreadDoc struct {
	TID           int     `json:"tid"`
	StartTicks    uint64  `json:"start_ticks"`
	Comm          string  `json:"comm"`
	CommRawBase64 string  `json:"comm_raw_base64,omitempty"`
	State         string  `json:"state"`
	StateName     string  `json:"state_name"`
	UserSeconds   float64 `json:"utime_seconds"`
	SystemSeconds float64 `json:"stime_seconds"`
	LastCPU       int64   `json:"last_cpu"`
	Priority      int64   `json:"priority"`
	Nice          int64   `json:"nice"`
	VolCtx        *uint64 `json:"voluntary_ctxt_switches,omitempty"`
	InvolCtx      *uint64 `json:"involuntary_ctxt_switches,omitempty"`
}

// NewSnapshotDoc builds the document for the processes of snap selected by
// f, with or without thread rows.
func NewSnapshotDoc(snap *collector.Snapshot, f Filter, threads bool) *SnapshotDoc {
	doc, procs := newSnapshotHead(snap, f)
	doc.Processes = make([]ProcessDoc, 0, len(procs))
	for _, p := range procs {
		doc.Processes = append(doc.Processes, NewProcessDoc(p, threads))
	}
	return doc
}

// NewSnapshotDocStream is NewSnapshotDoc for WriteSnapshotJSON only: the
// processes are converted one at a time as they are written, so the
// document of a snapshot with many threads is never whole in memory (at
// 2,000 processes of 9 threads it was 3.4 MB, the fresh pages of which
// cost a one-shot command more than the conversion). Processes stays
// nil; ProcessCount gives their number. The bytes written are those of
// NewSnapshotDoc's document.
func NewSnapshotDocStream(snap *collector.Snapshot, f Filter, threads bool) *SnapshotDoc {
	doc, procs := newSnapshotHead(snap, f)
	doc.stream = &streamProcs{procs: procs, threads: threads}
	return doc
}

// newSnapshotHead is the document of snap without its processes, and the
// processes f selects (counted in its summary).
func newSnapshotHead(snap *collector.Snapshot, f Filter) (*SnapshotDoc, []*collector.Process) {
	doc := &SnapshotDoc{
		Schema:              SnapshotSchema,
		TakenAt:             snap.TakenAt.UTC().Format(time.RFC3339Nano),
		ScanDurationSeconds: snap.ScanDuration.Seconds(),
		ProcRoot:            snap.Root,
		Host:                NewHostDoc(&snap.Host),
		Problems:            newProblemDocs(snap.Problems),
	}
	procs := f.Apply(snap)
	doc.Summary = Summarize(snap, procs)
	doc.Summary.Filtered = !f.Empty()
	return doc, procs
}

// ProcessCount is the number of processes in the document.
func (d *SnapshotDoc) ProcessCount() int {
	if d.stream != nil {
		return len(d.stream.procs)
	}
	return len(d.Processes)
}

// Summarize counts procs (a selection from snap) by state.
func Summarize(snap *collector.Snapshot, procs []*collector.Process) Summary {
	s := Summary{
		ProcessesByState: map[string]int{},
		ThreadsRead:      snap.ThreadsRead,
		CtxSwitchSource:  string(snap.CtxSwitchSource),
		Collector:        string(snap.Collector),
		CollectorPinned:  snap.CollectorPinned,
		CollectorNote:    snap.CollectorNote,
		Scan:             NewScanCountsDoc(snap.Counts),
	}
	if snap.CmdlinesBPF > 0 {
		s.CmdlineSource = string(collector.BackendTaskIter)
	}
	// Counted by state byte, and put in the maps once at the end: a map
	// update a process and a thread was 0.5 % of a one-shot at 10,000
	// processes.
	var byProc, byThread [256]int
	for _, p := range procs {
		s.Processes++
		// A leader-exited process is alive: counted under L, as the
		// tables show it, never under the kernel's Z.
		byProc[lifecycle.StateLetter(p)]++
		if p.IsKernelThread() {
			s.KernelThreads++
		}
		if p.IsZombie() {
			s.Zombies++
		}
		if snap.ThreadsRead {
			for i := range p.Threads {
				s.Threads++
				byThread[p.Threads[i].State]++
			}
		} else if p.NumThreads > 0 {
			s.Threads += int(p.NumThreads)
		}
	}
	for b, n := range byProc {
		if n > 0 {
			s.ProcessesByState[stateKey(byte(b))] += n
		}
	}
	if snap.ThreadsRead {
		s.ThreadsByState = map[string]int{}
		for b, n := range byThread {
			if n > 0 {
				s.ThreadsByState[stateKey(byte(b))] += n
			}
		}
	}
	return s
}

// StateLeaderExited is the state_name of a process whose main thread
// called pthread_exit while other threads run: the kernel shows its
// leader as Z, but the process is alive (num_threads - 1 threads run).
const StateLeaderExited = lifecycle.LeaderExitedName

func stateKey(s byte) string {
	if s == 0 {
		return "unknown"
	}
	return stateLetter(s)
}

// stateLetter is string(rune(s)) without an allocation for a letter (a
// state is one; a document has one for every process and thread).
func stateLetter(s byte) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	switch {
	case s >= 'A' && s <= 'Z':
		return letters[s-'A' : s-'A'+1]
	case s >= 'a' && s <= 'z':
		return letters[26+s-'a' : 26+s-'a'+1]
	}
	return string(rune(s))
}

// NewHostDoc converts host facts.
func NewHostDoc(h *collector.Host) HostDoc {
	d := HostDoc{
		Hostname:          h.Hostname,
		Kernel:            h.Kernel,
		UptimeSeconds:     h.UptimeSeconds,
		CPUs:              h.CPUs,
		MemTotalBytes:     h.MemTotalBytes,
		MemAvailableBytes: h.MemAvailBytes,
		Load1:             h.Load1,
		Load5:             h.Load5,
		Load15:            h.Load15,
		ContextSwitches:   h.ContextSwitches,
		ProcessesCreated:  h.ProcessesCreated,
		ProcsRunning:      h.ProcsRunning,
		ProcsBlocked:      h.ProcsBlocked,
		Unavailable:       h.Unavailable,
	}
	if !h.BootTime.IsZero() {
		d.BootTime = h.BootTime.UTC().Format(time.RFC3339)
	}
	if _, unknown := h.Unavailable[collector.HostDelayAcctKey]; !unknown {
		d.DelayAccounting = ptr(h.DelayAcct)
	}
	return d
}

// TicksToSeconds converts clock ticks to seconds.
func TicksToSeconds(t uint64) float64 { return float64(t) / collector.ClockTicks }

// processValues holds what a ProcessDoc's pointer fields point to: one
// allocation per process instead of one per field.
type processValues struct {
	startTicks, rtPriority, minFlt, majFlt, rss, vsize uint64
	vol, invol, leaderVol, leaderInv                   uint64
	ppid, pgid, sid, tty, uid, euid, tracer            int
	nice, priority, numThreads, lastCPU                int64
	utime, stime                                       float64
	comm                                               string
	signals                                            SignalsDoc
}

// NewProcessDoc converts one process.
func NewProcessDoc(p *collector.Process, threads bool) ProcessDoc {
	var d ProcessDoc
	fillProcessDoc(&d, p, threads, nil)
	return d
}

// docScratch is the storage a streamed document's processes are
// converted into, one after the other (each is written before the next
// is made): the pointer fields' values, the threads and the cmdline
// slices. At 2,000 processes x 9 threads, making them afresh for every
// process was 4 % of `pinspect --json`'s CPU (allocations and the page
// faults of the fresh heap they took).
type docScratch struct {
	v             processValues
	threads       []ThreadDoc
	cmdline, raws []string
	// startedAt is the start time the document filled with this scratch
	// writes as started_at (its StartedAt is left empty): appended
	// straight into the output, it is never made a string of its own.
	startedAt time.Time
	// startSecond formats startedAt for the streamed writer.
	startSecond rfc3339Second
	// cmdSrc is the first argument of the command line cmdline and raws
	// were converted from (its slice's array: snapshots never write to
	// their slices), cmdAnyRaw whether raws is used; cmdSame says the
	// document filled last has that command line (fillCmdline), and
	// cmdJSON is what the streamed writer wrote for the command line of
	// the document it wrote last.
	cmdSrc    *string
	cmdAnyRaw bool
	cmdSame   bool
	cmdJSON   []byte
	// sigs are the signal masks (pending, shared pending, blocked,
	// ignored, caught) the document filled last writes as its signals
	// when hasSigs (its Signals is left nil): the streamed writer writes
	// their digits straight into the output.
	sigs    [5]uint64
	hasSigs bool
	// sigsNoDisp: the last two of sigs (the dispositions) were not read
	// and are not written.
	sigsNoDisp bool
}

// fillProcessDoc converts p into *d (which must be zero); with scratch,
// d points into scratch, valid until the next call with it.
func fillProcessDoc(d *ProcessDoc, p *collector.Process, threads bool, scratch *docScratch) {
	setStartedAt(d, p, scratch)
	if scratch != nil {
		scratch.cmdSame, scratch.hasSigs = false, false
	}
	d.PID, d.Unavailable = p.PID, p.Unavailable
	var v *processValues
	newValues := func() *processValues {
		if scratch != nil {
			scratch.v = processValues{}
			return &scratch.v
		}
		return new(processValues)
	}
	if p.Read&(collector.SrcStat|collector.SrcStatus) != 0 {
		v = newValues()
	}
	if p.Read&collector.SrcStat != 0 {
		v.startTicks = p.StartTicks
		d.StartTicks = &v.startTicks
		v.ppid, v.pgid, v.sid, v.tty = p.PPID, p.PGID, p.SID, p.TTY
		d.PPID, d.PGID, d.SID, d.TTYNr = &v.ppid, &v.pgid, &v.sid, &v.tty
		d.TTY = collector.TTYName(p.TTY)
		v.comm, d.CommRawBase64 = textAndRaw(p.Comm)
		d.Comm = &v.comm
		d.State = stateLetter(p.State)
		d.StateName = collector.StateName(p.State)
		if p.LeaderExited() {
			// Alive: its main thread exited, other threads run.
			d.StateName, d.LeaderExited = StateLeaderExited, true
		}
		d.KernelThread = p.IsKernelThread()
		v.nice, v.priority = p.Nice, p.Priority
		d.Nice, d.Priority = &v.nice, &v.priority
		d.Policy = collector.PolicyName(p.Policy)
		v.rtPriority, v.numThreads = p.RTPriority, p.NumThreads
		d.RTPriority, d.NumThreads = &v.rtPriority, &v.numThreads
		v.utime, v.stime = TicksToSeconds(p.UTimeTicks), TicksToSeconds(p.STimeTicks)
		d.UserSeconds, d.SystemSeconds = &v.utime, &v.stime
		v.lastCPU = p.Processor
		d.LastCPU = &v.lastCPU
		v.minFlt, v.majFlt = p.MinFlt, p.MajFlt
		d.MinorFaults, d.MajorFaults = &v.minFlt, &v.majFlt
		if !p.IsZombie() && !p.IsKernelThread() {
			v.vsize = p.VSizeBytes
			d.VSizeBytes = &v.vsize
		}
		if p.IsZombie() && p.ExitCode >= 0 {
			d.ExitStatus = &ExitStatusDoc{collector.DecodeWaitStatus(p.ExitCode)}
		}
	}
	if p.HasRSS {
		if v == nil {
			v = newValues()
		}
		v.rss = p.RSSBytes
		d.RSSBytes = &v.rss
	}
	if p.Read&collector.SrcStatus != 0 {
		v.uid, v.euid, v.tracer = p.UIDs[0], p.UIDs[1], p.TracerPID
		d.UID, d.EUID, d.TracerPID = &v.uid, &v.euid, &v.tracer
		d.User = p.User
		d.NSPids = p.NSPids
		v.leaderVol, v.leaderInv = p.LeaderVol, p.LeaderInv
		d.LeaderVolCtx, d.LeaderInvolCtx = &v.leaderVol, &v.leaderInv
		setSignals(d, v, p, scratch)
		// The reader says where the totals come from; when a thread's
		// status could not be read it keeps the leader's counts and says
		// leader_only rather than give a partial sum.
		v.vol, v.invol = p.VolCtx, p.InvolCtx
		d.VolCtx, d.InvolCtx = &v.vol, &v.invol
		d.CtxSource = string(p.CtxSource)
	}
	if p.Read&collector.SrcCmdline != 0 && len(p.Cmdline) > 0 {
		fillCmdline(d, p, scratch)
	}
	d.Exe, d.ExeRawBase64 = textAndRaw(p.Exe)
	d.ExeDeleted = p.ExeDeleted
	if threads && p.Read&collector.SrcTasks != 0 {
		if scratch != nil {
			d.Threads = slices.Grow(scratch.threads[:0], len(p.Threads))
		} else {
			d.Threads = make([]ThreadDoc, 0, len(p.Threads))
		}
		for i := range p.Threads {
			d.Threads = append(d.Threads, NewThreadDoc(&p.Threads[i]))
		}
		if scratch != nil {
			scratch.threads = d.Threads
		}
	}
}

// fillCmdline gives the document of p its command line. With a scratch
// whose last command line was p's own slice (processes forked from one
// parent share their parsed arguments: collector's bpfCmdlines.parse),
// the scratch's conversion of it is taken as it is, and the streamed
// writer writes the bytes it wrote for it (docScratch.cmdSame).
func fillCmdline(d *ProcessDoc, p *collector.Process, scratch *docScratch) {
	d.CmdlineTrunc = p.CmdlineTruncated
	d.CmdlineTitle = p.CmdlineNoNUL
	var raws []string
	switch {
	case scratch == nil:
		d.Cmdline, raws = make([]string, len(p.Cmdline)), make([]string, len(p.Cmdline))
	case scratch.cmdSrc == &p.Cmdline[0] && len(scratch.cmdline) == len(p.Cmdline):
		d.Cmdline = scratch.cmdline
		if scratch.cmdAnyRaw {
			d.CmdlineRaw = scratch.raws
		}
		scratch.cmdSame = true
		return
	default:
		scratch.cmdline = slices.Grow(scratch.cmdline[:0], len(p.Cmdline))[:len(p.Cmdline)]
		scratch.raws = slices.Grow(scratch.raws[:0], len(p.Cmdline))[:len(p.Cmdline)]
		d.Cmdline, raws = scratch.cmdline, scratch.raws
	}
	anyRaw := false
	for i, a := range p.Cmdline {
		d.Cmdline[i], raws[i] = textAndRaw(a)
		anyRaw = anyRaw || raws[i] != ""
	}
	if anyRaw {
		d.CmdlineRaw = raws
	}
	if scratch != nil {
		scratch.cmdSrc, scratch.cmdAnyRaw = &p.Cmdline[0], anyRaw
	}
}

// setSignals gives the document of p its signal masks: Signals (in v),
// or with a scratch the masks in it, which the streamed writer writes.
func setSignals(d *ProcessDoc, v *processValues, p *collector.Process, scratch *docScratch) {
	if scratch != nil {
		scratch.sigs = [5]uint64{p.SigPnd, p.ShdPnd, p.SigBlk, p.SigIgn, p.SigCgt}
		scratch.hasSigs, scratch.sigsNoDisp = true, p.SigDispAbsent
		return
	}
	v.signals = signalsDoc(p.SigPnd, p.ShdPnd, p.SigBlk, p.SigIgn, p.SigCgt)
	if p.SigDispAbsent {
		v.signals.Ignored, v.signals.Caught = "", ""
	}
	d.Signals = &v.signals
}

// setStartedAt gives the document of p its start time (when p's stat was
// read and has one): StartedAt, or with a scratch scratch.startedAt,
// which the streamed writer appends itself.
func setStartedAt(d *ProcessDoc, p *collector.Process, scratch *docScratch) {
	var t time.Time
	if p.Read&collector.SrcStat != 0 {
		t = p.StartedAt
	}
	switch {
	case scratch != nil:
		scratch.startedAt = t
	case !t.IsZero():
		d.StartedAt = t.UTC().Format(time.RFC3339Nano)
	}
}

// NewThreadDoc converts one thread. The switch counts point into *t
// (snapshots are never written after they are returned).
func NewThreadDoc(t *collector.Thread) ThreadDoc {
	comm, raw := textAndRaw(t.Comm)
	d := ThreadDoc{
		TID: t.TID, StartTicks: t.StartTicks, Comm: comm, CommRawBase64: raw,
		State: stateLetter(t.State), StateName: collector.StateName(t.State),
		UserSeconds: TicksToSeconds(t.UTimeTicks), SystemSeconds: TicksToSeconds(t.STimeTicks),
		LastCPU: t.Processor, Priority: t.Priority, Nice: t.Nice,
	}
	if t.HasStatus {
		d.VolCtx, d.InvolCtx = &t.VolCtx, &t.InvolCtx
	}
	return d
}

// textAndRaw returns s as JSON-safe text and, when s is not valid UTF-8
// (which encoding/json would replace with U+FFFD, losing bytes), its
// base64 form so the raw bytes survive.
func textAndRaw(s string) (text, rawBase64 string) {
	// Most strings are short ASCII (a command line's arguments, a
	// thread's name): a byte loop settles them without a call.
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) || utf8.ValidString(s[i:]) {
		return s, ""
	}
	return string([]rune(s)), base64.StdEncoding.EncodeToString([]byte(s))
}

// signalsDoc writes the five masks in one string and slices it: one
// allocation a process instead of five.
func signalsDoc(pending, shared, blocked, ignored, caught uint64) SignalsDoc {
	var b [5 * 16]byte
	for i, v := range [5]uint64{pending, shared, blocked, ignored, caught} {
		putHex16(b[16*i:16*i+16], v)
	}
	all := string(b[:])
	return SignalsDoc{Pending: all[0:16], SharedPending: all[16:32], Blocked: all[32:48], Ignored: all[48:64], Caught: all[64:80]}
}

// putHex16 writes v as 16 lowercase hex digits into b: a byte's two
// digits at a time from hexPairs, and the two masks most signal sets are
// (none, all) copied whole. Digit by digit it was 0.8 % of a one-shot at
// 10,000 processes (five masks a process, each a chain of 16 dependent
// stores).
func putHex16(b []byte, v uint64) {
	switch v {
	case 0:
		copy(b[:16], "0000000000000000")
		return
	case ^uint64(0):
		copy(b[:16], "ffffffffffffffff")
		return
	}
	_ = b[15]
	for i := 14; i >= 0; i -= 2 {
		x := v & 0xff
		b[i], b[i+1] = hexPairs[2*x], hexPairs[2*x+1]
		v >>= 8
	}
}

// hexPairs is the two lowercase hex digits of every byte, in order.
const hexPairs = "" +
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f" +
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" +
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f" +
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f" +
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf" +
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf" +
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"

func ptr[T any](v T) *T { return &v }
