package record

import (
	"cmp"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// Field numbers of the messages in docs/record.proto. Numbers are never
// reused; a field that goes away keeps its number reserved.
const (
	sampleSeq             = 1
	sampleRunID           = 2
	sampleInterval        = 3
	sampleSnapshot        = 4
	sampleEvents          = 5
	sampleEventsLive      = 6
	sampleEventsNote      = 7
	sampleZombieFirstSeen = 8
	sampleReparents       = 9
	sampleParentWChan     = 10
	sampleMemory          = 11
)

// appendSample appends s in wire format to b.
func appendSample(b []byte, s *Sample) []byte {
	e := enc{b: b}
	e.u(sampleSeq, s.Seq)
	e.u(sampleRunID, s.RunID)
	e.s(sampleInterval, int64(s.Interval))
	if s.Snapshot != nil {
		e.msg(sampleSnapshot, func() { e.snapshot(s.Snapshot) })
	}
	for i := range s.Events {
		e.msg(sampleEvents, func() { e.event(&s.Events[i]) })
	}
	e.flag(sampleEventsLive, s.EventsLive)
	e.str(sampleEventsNote, s.EventsNote)
	for _, id := range sortedIDs(s.ZombieFirstSeen) {
		t := s.ZombieFirstSeen[id]
		e.msg(sampleZombieFirstSeen, func() {
			e.i(1, id.PID)
			e.u(2, id.StartTicks)
			e.time(3, t)
		})
	}
	for _, id := range sortedIDs(s.Reparents) {
		ev := s.Reparents[id]
		e.msg(sampleReparents, func() { e.event(&ev) })
	}
	for _, pid := range sortedInts(s.ParentWChan) {
		w := s.ParentWChan[pid]
		e.msg(sampleParentWChan, func() {
			e.i(1, pid)
			e.str(2, w)
		})
	}
	for _, id := range sortedIDs(s.Memory) {
		m := s.Memory[id]
		e.msg(sampleMemory, func() {
			e.i(1, id.PID)
			e.u(2, id.StartTicks)
			e.u(3, m.RSSBytes)
			e.u(4, m.PSSBytes)
			e.u(5, m.USSBytes)
			e.u(6, m.SharedBytes)
			e.u(7, m.SwapBytes)
			e.u(8, m.SharedDirtyBytes)
			e.u(9, m.PrivateDirtyBytes)
			e.u(10, m.AnonBytes)
		})
	}
	return e.b
}

func (e *enc) snapshot(s *collector.Snapshot) {
	e.time(1, s.TakenAt)
	e.s(2, int64(s.Monotonic))
	e.s(3, int64(s.ScanDuration))
	e.str(4, s.Root)
	e.msg(5, func() { e.host(&s.Host) })
	for i := range s.Processes {
		e.msg(6, func() { e.process(&s.Processes[i]) })
	}
	e.flag(7, s.ThreadsRead)
	// 8 was threads_selected (gone from the model): reserved.
	e.str(9, string(s.CtxSwitchSource))
	e.str(10, s.CtxSwitchNote)
	c := &s.Counts
	e.msg(11, func() {
		e.i(1, c.Listed)
		e.i(2, c.Vanished)
		e.i(3, c.VanishedThreads)
		e.i(4, c.Denied)
		e.i(5, c.ParseErrors)
		e.i(6, c.Timeouts)
		e.i(7, c.Unreadable)
		e.i(8, c.NotPresent)
	})
	for _, p := range s.Problems {
		e.msg(12, func() {
			e.i(1, p.PID)
			e.str(2, p.File)
			e.str(3, p.Reason)
		})
	}
	e.str(13, string(s.Collector))
	e.str(14, s.CollectorNote)
	e.i(15, s.SelfPID)
	if c := s.ThreadStates; c != nil {
		// Fields 1-9: the states in collector.StateLetters' order
		// ("RSDZTtXIP"); 10: unknown. Written even when all are 0, so
		// that a count of none is not taken for no count.
		e.msg(16, func() {
			for i, n := range c.ByState {
				e.i(protowire.Number(i+1), n)
			}
			e.i(protowire.Number(len(c.ByState)+1), c.Unknown)
		})
	}
}

func (e *enc) host(h *collector.Host) {
	e.str(1, h.Hostname)
	e.str(2, h.Kernel)
	e.time(3, h.BootTime)
	e.f64(4, h.UptimeSeconds)
	e.i(5, h.CPUs)
	e.u(6, h.MemTotalBytes)
	e.u(7, h.MemAvailBytes)
	e.f64(8, h.Load1)
	e.f64(9, h.Load5)
	e.f64(10, h.Load15)
	e.u(11, h.ContextSwitches)
	e.u(12, h.ProcessesCreated)
	e.u(13, h.ProcsRunning)
	e.u(14, h.ProcsBlocked)
	e.u(15, h.CPUTicks)
	e.u(16, h.CPUIdleTicks)
	e.kv(17, h.Unavailable)
	e.flag(18, h.DelayAcct)
	e.hostMeters(h)
}

// kv writes a string map as repeated {1: key, 2: value}, keys sorted.
func (e *enc) kv(n protowire.Number, m map[string]string) {
	for _, k := range sortedStrings(m) {
		v := m[k]
		e.msg(n, func() {
			e.str(1, k)
			e.str(2, v)
		})
	}
}

// packed writes ints as a packed repeated sint64 field.
func (e *enc) packed(n protowire.Number, vs []int) {
	if len(vs) == 0 {
		return
	}
	e.msg(n, func() {
		for _, v := range vs {
			e.b = protowire.AppendVarint(e.b, protowire.EncodeZigZag(int64(v)))
		}
	})
}

func (e *enc) process(p *collector.Process) {
	e.i(1, p.PID)
	e.u(2, p.StartTicks)
	e.time(3, p.StartedAt)
	e.u(4, uint64(p.Read))
	e.kv(5, p.Unavailable)
	e.str(6, p.Comm)
	e.u(7, uint64(p.State))
	e.i(8, p.PPID)
	e.i(9, p.PGID)
	e.i(10, p.SID)
	e.i(11, p.TTY)
	// 12 was tpgid, 22 rss_pages and 30 wchan_masked: reserved.
	e.u(13, p.Flags)
	e.u(14, p.MinFlt)
	e.u(15, p.MajFlt)
	e.u(16, p.UTimeTicks)
	e.u(17, p.STimeTicks)
	e.s(18, p.Priority)
	e.s(19, p.Nice)
	e.s(20, p.NumThreads)
	e.u(21, p.VSizeBytes)
	e.u(23, p.RSSBytes)
	e.s(24, p.Processor)
	e.u(25, p.RTPriority)
	e.u(26, p.Policy)
	e.u(27, p.DelayTicks)
	if l := &p.Layout; *l != (collector.Layout{}) {
		e.msg(28, func() {
			e.u(1, l.StartCode)
			e.u(2, l.EndCode)
			e.u(3, l.StartStack)
			e.u(4, l.StartData)
			e.u(5, l.EndData)
			e.u(6, l.StartBrk)
			e.u(7, l.ArgStart)
			e.u(8, l.ArgEnd)
			e.u(9, l.EnvStart)
			e.u(10, l.EnvEnd)
			e.flag(11, l.HasExtended)
		})
	}
	e.s(29, p.ExitCode)
	e.i(31, p.TGID)
	e.i(32, p.TracerPID)
	e.packed(33, p.UIDs[:])
	e.packed(34, p.GIDs[:])
	e.str(35, p.User)
	e.packed(36, p.NSPids)
	e.u(37, p.SigPnd)
	e.u(38, p.ShdPnd)
	e.u(39, p.SigBlk)
	e.u(40, p.SigIgn)
	e.u(41, p.SigCgt)
	e.u(42, p.CapEff)
	e.u(43, p.CapInh)
	e.u(44, p.CapPrm)
	e.u(45, p.CapBnd)
	e.u(46, p.CapAmb)
	e.u(47, p.VmPeakB)
	e.u(48, p.VmSwapB)
	e.u(49, p.LeaderVol)
	e.u(50, p.LeaderInv)
	e.u(51, p.VolCtx)
	e.u(52, p.InvolCtx)
	e.str(53, string(p.CtxSource))
	e.u(54, p.CPUDelayNs)
	for _, a := range p.Cmdline {
		e.strAlways(55, a)
	}
	e.flag(56, p.CmdlineTruncated)
	e.flag(57, p.CmdlineNoNUL)
	e.str(58, p.Exe)
	e.flag(59, p.ExeDeleted)
	for i := range p.Threads {
		t := &p.Threads[i]
		e.msg(60, func() { e.thread(t) })
	}
	e.flag(61, p.HasRSS)
	e.flag(62, p.HasVM)
	e.i(63, p.LiveTID)
	e.flag(64, p.PTMasked)
	// After every lower field: a delta sample merges a process's fields
	// by number, in ascending order (delta.go).
	e.processExtras(p)
}

func (e *enc) thread(t *collector.Thread) {
	e.i(1, t.TID)
	e.u(2, t.StartTicks)
	e.str(3, t.Comm)
	e.u(4, uint64(t.State))
	e.u(5, t.UTimeTicks)
	e.u(6, t.STimeTicks)
	e.s(7, t.Processor)
	e.s(8, t.Priority)
	e.s(9, t.Nice)
	e.flag(10, t.HasStatus)
	e.u(11, t.VolCtx)
	e.u(12, t.InvolCtx)
	e.u(13, t.CPUDelayNs)
}

func (e *enc) event(v *lifecycle.Event) {
	e.str(1, string(v.Type))
	e.time(2, v.Time)
	e.i(3, v.ID.PID)
	e.u(4, v.ID.StartTicks)
	e.str(5, v.Comm)
	e.i(6, v.PPID)
	e.str(7, v.Source)
	e.i(8, v.OldPPID)
	e.str(9, v.OldComm)
	e.str(10, v.OldExe)
	e.str(11, v.Exe)
	e.u(12, uint64(v.OldState))
	e.u(13, uint64(v.State))
	e.i(14, v.TID)
	if x := v.ExitStatus; x != nil {
		e.msg(15, func() {
			e.flag(1, x.Exited)
			e.i(2, x.Code)
			e.i(3, x.Signal)
			e.flag(4, x.CoreDumped)
		})
	}
	e.str(16, v.AdopterKind)
	e.str(17, v.Note)
	if x := v.ExecPath; x != nil {
		e.msg(18, func() {
			e.str(1, x.Path)
			e.str(2, x.Interp)
			e.flag(3, x.PathTruncated)
			e.flag(4, x.InterpTruncated)
		})
	}
}

// decoder decodes samples; it interns the strings that repeat across
// processes and samples (comm, user, exe, sources).
type decoder struct {
	strs map[string]string
}

func newDecoder() *decoder { return &decoder{strs: make(map[string]string)} }

// maxInterned bounds the interning table; beyond it strings are copied.
const maxInterned = 1 << 16

func (d *decoder) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.strs) < maxInterned && len(b) <= 256 {
		d.strs[s] = s
	}
	return s
}

// decodeSample decodes a wire-format sample. Unknown fields are skipped
// (a newer writer's additions); a malformed payload is an error wrapping
// errMalformed, never a panic.
func (d *decoder) decodeSample(b []byte) (*Sample, error) {
	s := &Sample{}
	r := dec{b: b}
	var f field
	for r.next(&f) {
		var err error
		switch f.num {
		case sampleSeq:
			s.Seq = f.v
		case sampleRunID:
			s.RunID = f.v
		case sampleInterval:
			s.Interval = time.Duration(f.sint())
		case sampleSnapshot:
			s.Snapshot, err = d.snapshot(f.b)
		case sampleEvents:
			var ev lifecycle.Event
			if err = d.event(f.b, &ev); err == nil {
				s.Events = append(s.Events, ev)
			}
		case sampleEventsLive:
			s.EventsLive = f.bool()
		case sampleEventsNote:
			s.EventsNote = string(f.b)
		case sampleZombieFirstSeen, sampleParentWChan, sampleMemory:
			err = d.trackerField(s, &f)
		case sampleReparents:
			var ev lifecycle.Event
			if err = d.event(f.b, &ev); err == nil {
				if s.Reparents == nil {
					s.Reparents = make(map[collector.ID]lifecycle.Event)
				}
				s.Reparents[ev.ID] = ev
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// trackerField decodes the sample fields of the tracker state: zombie
// first-seen times, parent wait channels and memory readings.
func (d *decoder) trackerField(s *Sample, f *field) error {
	var err error
	switch f.num {
	case sampleZombieFirstSeen:
		var id collector.ID
		var t time.Time
		err = each(f.b, func(g *field) {
			switch g.num {
			case 1:
				id.PID = g.int()
			case 2:
				id.StartTicks = g.v
			case 3:
				t = g.time()
			}
		})
		if s.ZombieFirstSeen == nil {
			s.ZombieFirstSeen = make(map[collector.ID]time.Time)
		}
		s.ZombieFirstSeen[id] = t
	case sampleParentWChan:
		var pid int
		var w string
		err = each(f.b, func(g *field) {
			switch g.num {
			case 1:
				pid = g.int()
			case 2:
				w = d.intern(g.b)
			}
		})
		if s.ParentWChan == nil {
			s.ParentWChan = make(map[int]string)
		}
		s.ParentWChan[pid] = w
	case sampleMemory:
		var id collector.ID
		var m collector.MemoryTotals
		err = each(f.b, func(g *field) {
			switch g.num {
			case 1:
				id.PID = g.int()
			case 2:
				id.StartTicks = g.v
			case 3:
				m.RSSBytes = g.v
			case 4:
				m.PSSBytes = g.v
			case 5:
				m.USSBytes = g.v
			case 6:
				m.SharedBytes = g.v
			case 7:
				m.SwapBytes = g.v
			case 8:
				m.SharedDirtyBytes = g.v
			case 9:
				m.PrivateDirtyBytes = g.v
			case 10:
				m.AnonBytes = g.v
			}
		})
		if s.Memory == nil {
			s.Memory = make(map[collector.ID]collector.MemoryTotals)
		}
		s.Memory[id] = m
	}
	return err
}

// each calls fn for every field of the message in b.
func each(b []byte, fn func(f *field)) error {
	r := dec{b: b}
	var f field
	for r.next(&f) {
		fn(&f)
	}
	return r.err
}

// pidOrder checks the last of procs against the one before: a
// snapshot's processes are in strictly increasing pid order (each pid
// once), which every lookup by pid relies on (collector.SearchPID), so a
// recording that breaks it (crafted, or damaged where no checksum looks)
// is refused rather than read wrong.
func pidOrder(procs []collector.Process) error {
	if n := len(procs); n > 1 && procs[n-1].PID <= procs[n-2].PID {
		return fmt.Errorf("%w: process %d after process %d: not in pid order", errMalformed, procs[n-1].PID, procs[n-2].PID)
	}
	return nil
}

func (d *decoder) snapshot(b []byte) (*collector.Snapshot, error) {
	s := &collector.Snapshot{}
	r := dec{b: b}
	var f field
	for r.next(&f) {
		var err error
		switch f.num {
		case 1:
			s.TakenAt = f.time()
		case 2:
			s.Monotonic = time.Duration(f.sint())
		case 3:
			s.ScanDuration = time.Duration(f.sint())
		case 4:
			s.Root = string(f.b)
		case 5:
			err = d.host(f.b, &s.Host)
		case 6:
			s.Processes = append(s.Processes, collector.Process{})
			if err = d.process(f.b, &s.Processes[len(s.Processes)-1]); err == nil {
				err = pidOrder(s.Processes)
			}
		case 7:
			s.ThreadsRead = f.bool()
		case 9:
			s.CtxSwitchSource = collector.CtxSource(d.intern(f.b))
		case 10:
			s.CtxSwitchNote = string(f.b)
		case 11:
			c := &s.Counts
			err = each(f.b, func(g *field) {
				switch g.num {
				case 1:
					c.Listed = g.int()
				case 2:
					c.Vanished = g.int()
				case 3:
					c.VanishedThreads = g.int()
				case 4:
					c.Denied = g.int()
				case 5:
					c.ParseErrors = g.int()
				case 6:
					c.Timeouts = g.int()
				case 7:
					c.Unreadable = g.int()
				case 8:
					c.NotPresent = g.int()
				}
			})
		case 12:
			var p collector.Problem
			err = each(f.b, func(g *field) {
				switch g.num {
				case 1:
					p.PID = g.int()
				case 2:
					p.File = d.intern(g.b)
				case 3:
					p.Reason = string(g.b)
				}
			})
			s.Problems = append(s.Problems, p)
		case 13:
			s.Collector = collector.Backend(d.intern(f.b))
		case 14:
			s.CollectorNote = string(f.b)
		case 15:
			s.SelfPID = f.int()
		case 16:
			c := &collector.ThreadStates{}
			err = each(f.b, func(g *field) {
				switch i := int(g.num) - 1; {
				case i >= 0 && i < len(c.ByState):
					c.ByState[i] = g.int()
				case i == len(c.ByState):
					c.Unknown = g.int()
				}
			})
			s.ThreadStates = c
		}
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("snapshot: %w", r.err)
	}
	// A record's Reader reads every status in every scan (no
	// Options.StatusTTL): the status of each process was read by its
	// sample's scan.
	for i := range s.Processes {
		if p := &s.Processes[i]; p.Read&collector.SrcStatus != 0 {
			p.StatusAt = s.Monotonic
		}
	}
	return s, nil
}

func (d *decoder) host(b []byte, h *collector.Host) error {
	return each(b, func(g *field) {
		switch g.num {
		case 1:
			h.Hostname = d.intern(g.b)
		case 2:
			h.Kernel = d.intern(g.b)
		case 3:
			h.BootTime = g.time()
		case 4:
			h.UptimeSeconds = g.f64()
		case 5:
			h.CPUs = g.int()
		case 6:
			h.MemTotalBytes = g.v
		case 7:
			h.MemAvailBytes = g.v
		case 8:
			h.Load1 = g.f64()
		case 9:
			h.Load5 = g.f64()
		case 10:
			h.Load15 = g.f64()
		case 11:
			h.ContextSwitches = g.v
		case 12:
			h.ProcessesCreated = g.v
		case 13:
			h.ProcsRunning = g.v
		case 14:
			h.ProcsBlocked = g.v
		case 15:
			h.CPUTicks = g.v
		case 16:
			h.CPUIdleTicks = g.v
		case 17:
			if h.Unavailable == nil {
				h.Unavailable = make(map[string]string)
			}
			d.kvInto(g.b, h.Unavailable)
		case 18:
			h.DelayAcct = g.bool()
		default:
			d.hostMeter(g, h)
		}
	})
}

// kvInto decodes one {1: key, 2: value} entry into m.
func (d *decoder) kvInto(b []byte, m map[string]string) {
	var k, v string
	_ = each(b, func(g *field) {
		switch g.num {
		case 1:
			k = d.intern(g.b)
		case 2:
			v = d.intern(g.b)
		}
	})
	m[k] = v
}

// unpack decodes a packed sint64 field; false when malformed.
func unpack(b []byte, fn func(v int)) bool {
	for len(b) > 0 {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return false
		}
		fn(int(protowire.DecodeZigZag(v)))
		b = b[n:]
	}
	return true
}

func (d *decoder) process(b []byte, p *collector.Process) error {
	p.DumpOwnerUID = -1 // unless field 74 says (records before it: unknown)
	bad := false
	r := dec{b: b}
	var g field
	for r.next(&g) {
		switch g.num {
		case 1:
			p.PID = g.int()
		case 2:
			p.StartTicks = g.v
		case 3:
			p.StartedAt = g.time()
		case 4:
			p.Read = collector.Sources(g.v)
		case 5:
			if p.Unavailable == nil {
				p.Unavailable = make(map[string]string)
			}
			d.kvInto(g.b, p.Unavailable)
		case 6:
			p.Comm = d.intern(g.b)
		case 7:
			p.State = byte(g.v)
		case 8:
			p.PPID = g.int()
		case 9:
			p.PGID = g.int()
		case 10:
			p.SID = g.int()
		case 11:
			p.TTY = g.int()
		case 13:
			p.Flags = g.v
		case 14:
			p.MinFlt = g.v
		case 15:
			p.MajFlt = g.v
		case 16:
			p.UTimeTicks = g.v
		case 17:
			p.STimeTicks = g.v
		case 18:
			p.Priority = g.sint()
		case 19:
			p.Nice = g.sint()
		case 20:
			p.NumThreads = g.sint()
		case 21:
			p.VSizeBytes = g.v
		case 23:
			p.RSSBytes = g.v
		case 24:
			p.Processor = g.sint()
		case 25:
			p.RTPriority = g.v
		case 26:
			p.Policy = g.v
		case 27:
			p.DelayTicks = g.v
		case 28:
			l := &p.Layout
			if each(g.b, func(h *field) {
				switch h.num {
				case 1:
					l.StartCode = h.v
				case 2:
					l.EndCode = h.v
				case 3:
					l.StartStack = h.v
				case 4:
					l.StartData = h.v
				case 5:
					l.EndData = h.v
				case 6:
					l.StartBrk = h.v
				case 7:
					l.ArgStart = h.v
				case 8:
					l.ArgEnd = h.v
				case 9:
					l.EnvStart = h.v
				case 10:
					l.EnvEnd = h.v
				case 11:
					l.HasExtended = h.bool()
				}
			}) != nil {
				bad = true
			}
		case 29:
			p.ExitCode = g.sint()
		case 31:
			p.TGID = g.int()
		case 32:
			p.TracerPID = g.int()
		case 33, 34:
			arr := &p.UIDs
			if g.num == 34 {
				arr = &p.GIDs
			}
			i := 0
			bad = bad || !unpack(g.b, func(v int) {
				if i < len(arr) {
					arr[i] = v
				}
				i++
			})
		case 35:
			p.User = d.intern(g.b)
		case 36:
			bad = bad || !unpack(g.b, func(v int) { p.NSPids = append(p.NSPids, v) })
		case 37:
			p.SigPnd = g.v
		case 38:
			p.ShdPnd = g.v
		case 39:
			p.SigBlk = g.v
		case 40:
			p.SigIgn = g.v
		case 41:
			p.SigCgt = g.v
		case 42:
			p.CapEff = g.v
		case 43:
			p.CapInh = g.v
		case 44:
			p.CapPrm = g.v
		case 45:
			p.CapBnd = g.v
		case 46:
			p.CapAmb = g.v
		case 47:
			p.VmPeakB = g.v
		case 48:
			p.VmSwapB = g.v
		case 49:
			p.LeaderVol = g.v
		case 50:
			p.LeaderInv = g.v
		case 51:
			p.VolCtx = g.v
		case 52:
			p.InvolCtx = g.v
		case 53:
			p.CtxSource = collector.CtxSource(d.intern(g.b))
		case 54:
			p.CPUDelayNs = g.v
		case 55:
			p.Cmdline = append(p.Cmdline, d.intern(g.b))
		case 56:
			p.CmdlineTruncated = g.bool()
		case 57:
			p.CmdlineNoNUL = g.bool()
		case 58:
			p.Exe = d.intern(g.b)
		case 59:
			p.ExeDeleted = g.bool()
		case 60:
			p.Threads = append(p.Threads, collector.Thread{})
			if d.thread(g.b, &p.Threads[len(p.Threads)-1]) != nil {
				bad = true
			}
		case 61:
			p.HasRSS = g.bool()
		case 62:
			p.HasVM = g.bool()
		case 63:
			p.LiveTID = g.int()
		case 64:
			p.PTMasked = g.bool()
		default:
			d.processExtra(&g, p)
		}
	}
	if r.err != nil {
		return fmt.Errorf("process: %w", r.err)
	}
	if bad {
		return fmt.Errorf("%w: process %d: a nested field", errMalformed, p.PID)
	}
	return nil
}

func (d *decoder) thread(b []byte, t *collector.Thread) error {
	return each(b, func(g *field) {
		switch g.num {
		case 1:
			t.TID = g.int()
		case 2:
			t.StartTicks = g.v
		case 3:
			t.Comm = d.intern(g.b)
		case 4:
			t.State = byte(g.v)
		case 5:
			t.UTimeTicks = g.v
		case 6:
			t.STimeTicks = g.v
		case 7:
			t.Processor = g.sint()
		case 8:
			t.Priority = g.sint()
		case 9:
			t.Nice = g.sint()
		case 10:
			t.HasStatus = g.bool()
		case 11:
			t.VolCtx = g.v
		case 12:
			t.InvolCtx = g.v
		case 13:
			t.CPUDelayNs = g.v
		}
	})
}

func (d *decoder) event(b []byte, v *lifecycle.Event) error {
	var xerr error
	err := each(b, func(g *field) {
		switch g.num {
		case 1:
			v.Type = lifecycle.EventType(d.intern(g.b))
		case 2:
			v.Time = g.time()
		case 3:
			v.ID.PID = g.int()
		case 4:
			v.ID.StartTicks = g.v
		case 5:
			v.Comm = d.intern(g.b)
		case 6:
			v.PPID = g.int()
		case 7:
			v.Source = d.intern(g.b)
		case 8:
			v.OldPPID = g.int()
		case 9:
			v.OldComm = d.intern(g.b)
		case 10:
			v.OldExe = d.intern(g.b)
		case 11:
			v.Exe = d.intern(g.b)
		case 12:
			v.OldState = byte(g.v)
		case 13:
			v.State = byte(g.v)
		case 14:
			v.TID = g.int()
		case 15:
			var err error
			v.ExitStatus, err = exitStatus(g.b)
			xerr = cmp.Or(xerr, err)
		case 16:
			v.AdopterKind = d.intern(g.b)
		case 17:
			v.Note = string(g.b)
		case 18:
			// Recorded since 2026-12-07; older recordings have none (nil).
			var err error
			v.ExecPath, err = execPath(g.b)
			xerr = cmp.Or(xerr, err)
		}
	})
	if err == nil {
		err = xerr
	}
	if err != nil {
		return fmt.Errorf("event: %w", err)
	}
	return nil
}

// exitStatus decodes an event's ExitStatus message (field 15).
func exitStatus(b []byte) (*collector.ExitStatus, error) {
	x := &collector.ExitStatus{}
	err := each(b, func(h *field) {
		switch h.num {
		case 1:
			x.Exited = h.bool()
		case 2:
			x.Code = h.int()
		case 3:
			x.Signal = h.int()
		case 4:
			x.CoreDumped = h.bool()
		}
	})
	return x, err
}

// execPath decodes an event's ExecPath message (field 18).
func execPath(b []byte) (*lifecycle.ExecPath, error) {
	x := &lifecycle.ExecPath{}
	err := each(b, func(h *field) {
		switch h.num {
		case 1:
			x.Path = string(h.b)
		case 2:
			x.Interp = string(h.b)
		case 3:
			x.PathTruncated = h.bool()
		case 4:
			x.InterpTruncated = h.bool()
		}
	})
	return x, err
}

// MarshalSample appends s in the record's wire format (protocol buffers,
// message Sample of docs/record.proto) to dst.
func MarshalSample(dst []byte, s *Sample) []byte { return appendSample(dst, s) }

// UnmarshalSample decodes a sample in the record's wire format.
func UnmarshalSample(b []byte) (*Sample, error) { return newDecoder().decodeSample(b) }
