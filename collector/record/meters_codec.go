package record

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/pinspect/pinspect/collector"
)

// This file records what the dashboard's meters and columns need beyond
// the first model: every CPU's times, memory and swap detail, pressure
// (Host fields 19-31), and a process's shared memory and cgroup
// (Process fields 70-73). docs/record.proto has them.

// hostMeters writes the Host's meter fields.
func (e *enc) hostMeters(h *collector.Host) {
	if h.CPUTotal != (collector.CPUTimes{}) {
		e.msg(19, func() { e.cpuTimes(&h.CPUTotal) })
	}
	for i := range h.PerCPU {
		e.msg(20, func() { e.cpuTimes(&h.PerCPU[i]) })
	}
	e.u(21, h.MemFreeBytes)
	e.u(22, h.MemBuffersBytes)
	e.u(23, h.MemCachedBytes)
	e.u(24, h.MemShmemBytes)
	e.u(25, h.MemSReclaimableBytes)
	e.flag(26, h.HasMemDetail)
	e.flag(27, h.HasMemAvail)
	e.u(28, h.SwapTotalBytes)
	e.u(29, h.SwapFreeBytes)
	e.flag(30, h.HasSwap)
	if p := h.Pressure; p != nil {
		e.msg(31, func() {
			for _, r := range []struct {
				n protowire.Number
				p *collector.Pressure
			}{{1, p.CPU}, {2, p.IO}, {3, p.Memory}} {
				if r.p != nil {
					e.msg(r.n, func() { e.pressure(r.p) })
				}
			}
			e.kv(4, p.Unavailable)
		})
	}
}

func (e *enc) cpuTimes(c *collector.CPUTimes) {
	e.i(1, c.CPU+1) // -1 (the total) is 0: left out
	e.u(2, c.User)
	e.u(3, c.Nice)
	e.u(4, c.System)
	e.u(5, c.Idle)
	e.u(6, c.IOWait)
	e.u(7, c.IRQ)
	e.u(8, c.SoftIRQ)
	e.u(9, c.Steal)
}

func (e *enc) pressure(p *collector.Pressure) {
	e.msg(1, func() { e.pressureLine(&p.Some) })
	if p.Full != nil {
		e.msg(2, func() { e.pressureLine(p.Full) })
	}
}

func (e *enc) pressureLine(l *collector.PressureLine) {
	e.f64(1, l.Avg10)
	e.f64(2, l.Avg60)
	e.f64(3, l.Avg300)
	e.u(4, l.TotalUs)
}

// hostMeter decodes one of the Host's meter fields.
func (d *decoder) hostMeter(g *field, h *collector.Host) {
	switch g.num {
	case 19:
		h.CPUTotal = d.cpuTimes(g.b)
	case 20:
		h.PerCPU = append(h.PerCPU, d.cpuTimes(g.b))
	case 21:
		h.MemFreeBytes = g.v
	case 22:
		h.MemBuffersBytes = g.v
	case 23:
		h.MemCachedBytes = g.v
	case 24:
		h.MemShmemBytes = g.v
	case 25:
		h.MemSReclaimableBytes = g.v
	case 26:
		h.HasMemDetail = g.bool()
	case 27:
		h.HasMemAvail = g.bool()
	case 28:
		h.SwapTotalBytes = g.v
	case 29:
		h.SwapFreeBytes = g.v
	case 30:
		h.HasSwap = g.bool()
	case 31:
		h.Pressure = d.hostPressure(g.b)
	}
}

func (d *decoder) cpuTimes(b []byte) collector.CPUTimes {
	c := collector.CPUTimes{CPU: -1}
	dst := [...]*uint64{2: &c.User, 3: &c.Nice, 4: &c.System, 5: &c.Idle, 6: &c.IOWait, 7: &c.IRQ, 8: &c.SoftIRQ, 9: &c.Steal}
	_ = each(b, func(g *field) {
		switch {
		case g.num == 1:
			c.CPU = g.int() - 1
		case g.num >= 2 && int(g.num) < len(dst):
			*dst[g.num] = g.v
		}
	})
	return c
}

func (d *decoder) hostPressure(b []byte) *collector.HostPressure {
	p := &collector.HostPressure{}
	_ = each(b, func(g *field) {
		switch g.num {
		case 1:
			p.CPU = d.pressure(g.b)
		case 2:
			p.IO = d.pressure(g.b)
		case 3:
			p.Memory = d.pressure(g.b)
		case 4:
			if p.Unavailable == nil {
				p.Unavailable = make(map[string]string)
			}
			d.kvInto(g.b, p.Unavailable)
		}
	})
	return p
}

func (d *decoder) pressure(b []byte) *collector.Pressure {
	p := &collector.Pressure{}
	_ = each(b, func(g *field) {
		switch g.num {
		case 1:
			p.Some = d.pressureLine(g.b)
		case 2:
			l := d.pressureLine(g.b)
			p.Full = &l
		}
	})
	return p
}

func (d *decoder) pressureLine(b []byte) collector.PressureLine {
	var l collector.PressureLine
	_ = each(b, func(g *field) {
		switch g.num {
		case 1:
			l.Avg10 = g.f64()
		case 2:
			l.Avg60 = g.f64()
		case 3:
			l.Avg300 = g.f64()
		case 4:
			l.TotalUs = g.v
		}
	})
	return l
}

// processExtras writes a process's shared memory, cgroup, the owner of
// its /proc/PID/stat (field 74, plus one: 0, not written, is unknown) and
// whether its signal dispositions were left out (field 75,
// collector.Process.SigDispAbsent: SigIgn and SigCgt are then unknown,
// not 0; a record written before the field has none, and read them all).
func (e *enc) processExtras(p *collector.Process) {
	e.u(70, p.SharedBytes)
	e.flag(71, p.HasShared)
	e.str(72, p.Cgroup)
	if w := &p.Workload; *w != (collector.Workload{}) {
		e.msg(73, func() {
			e.str(1, w.Kind)
			e.str(2, w.Name)
			e.str(3, w.Runtime)
			e.str(4, w.Container)
		})
	}
	if p.DumpOwnerUID >= 0 {
		e.u(74, uint64(p.DumpOwnerUID)+1)
	}
	e.flag(75, p.SigDispAbsent)
	// The resident set's split (ProcStatus.RSSSplit): the shmem part of
	// SharedBytes and whether RSS, shared and shmem are one reading. A
	// record written before these fields has no split (ps --at: absent).
	e.u(76, p.ShmemBytes)
	e.flag(77, p.HasRSSSplit)
}

// processExtra decodes one of a process's fields 70-77.
func (d *decoder) processExtra(g *field, p *collector.Process) {
	switch g.num {
	case 70:
		p.SharedBytes = g.v
	case 71:
		p.HasShared = g.bool()
	case 72:
		p.Cgroup = d.intern(g.b)
	case 73:
		_ = each(g.b, func(h *field) {
			switch h.num {
			case 1:
				p.Workload.Kind = d.intern(h.b)
			case 2:
				p.Workload.Name = d.intern(h.b)
			case 3:
				p.Workload.Runtime = d.intern(h.b)
			case 4:
				p.Workload.Container = d.intern(h.b)
			}
		})
	case 74:
		if g.v > 0 && g.v <= 1<<32 {
			p.DumpOwnerUID = int(g.v - 1)
		}
	case 75:
		p.SigDispAbsent = g.bool()
	case 76:
		p.ShmemBytes = g.v
	case 77:
		p.HasRSSSplit = g.bool()
	}
}
