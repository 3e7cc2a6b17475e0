package collector

// This file reads the machine-wide files a live view samples on every
// tick: /proc/stat (the CPU times of the whole machine and of each CPU,
// context switches, forks, runnable and blocked tasks), /proc/meminfo
// (memory and swap), /proc/loadavg and /proc/pressure/*. They are read
// raw into one reused buffer and parsed by the functions below, which
// never panic on any content (fuzz_test.go).

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// CPUTimes is the time one CPU (or all of them) spent in each kind of
// work since boot, in clock ticks (USER_HZ), from a cpu line of
// /proc/stat. Guest time is already counted in User and Nice.
type CPUTimes struct {
	// CPU is the CPU's number (the N of "cpuN"); -1 for the machine's
	// total line.
	CPU     int
	User    uint64
	Nice    uint64
	System  uint64
	Idle    uint64
	IOWait  uint64
	IRQ     uint64
	SoftIRQ uint64
	Steal   uint64
}

// Total is every kind of time added up, saturated.
func (c *CPUTimes) Total() uint64 {
	t := addSat(c.User, c.Nice)
	for _, v := range []uint64{c.System, c.Idle, c.IOWait, c.IRQ, c.SoftIRQ, c.Steal} {
		t = addSat(t, v)
	}
	return t
}

// IdleTotal is idle plus I/O wait time (a CPU waiting for I/O runs
// nothing).
func (c *CPUTimes) IdleTotal() uint64 { return addSat(c.Idle, c.IOWait) }

// hostStatMax caps a /proc/stat read: a machine with thousands of CPUs
// writes about 150 bytes per CPU plus the interrupt counters.
const hostStatMax = 4 << 20

// errHostStatFormat is wrapped by every /proc/stat and /proc/meminfo
// parse error.
var errHostStatFormat = errors.New("malformed host file")

// parseHostStat fills h from /proc/stat: the cpu and cpuN lines, ctxt,
// processes, procs_running and procs_blocked. Lines it does not know
// are skipped; a cpu line with fewer than four numbers, or a number that
// is not one, is an error.
func parseHostStat(b []byte, h *Host) error {
	h.PerCPU = h.PerCPU[:0]
	seenCPU := false
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		key, rest, _ := bytes.Cut(line, []byte(" "))
		switch {
		case bytes.HasPrefix(key, []byte("cpu")):
			c, err := parseCPULine(key[3:], rest)
			if err != nil {
				return err
			}
			if c.CPU < 0 {
				h.CPUTotal, seenCPU = c, true
			} else {
				h.PerCPU = append(h.PerCPU, c)
			}
		case string(key) == "ctxt":
			h.ContextSwitches, _ = parseUint(bytes.TrimSpace(rest))
		case string(key) == "processes":
			h.ProcessesCreated, _ = parseUint(bytes.TrimSpace(rest))
		case string(key) == "procs_running":
			h.ProcsRunning, _ = parseUint(bytes.TrimSpace(rest))
		case string(key) == "procs_blocked":
			h.ProcsBlocked, _ = parseUint(bytes.TrimSpace(rest))
		}
	}
	if !seenCPU {
		return fmt.Errorf("%w: /proc/stat has no cpu line", errHostStatFormat)
	}
	h.CPUTicks = h.CPUTotal.Total()
	h.CPUIdleTicks = h.CPUTotal.IdleTotal()
	return nil
}

// parseCPULine parses the numbers of a "cpu" (num empty) or "cpuN" line.
// Kernels before 2.6.11 wrote fewer columns: the missing ones are 0.
func parseCPULine(num, rest []byte) (CPUTimes, error) {
	c := CPUTimes{CPU: -1}
	if len(num) > 0 {
		n, ok := parseUint(num)
		if !ok || n > 1<<20 {
			return c, fmt.Errorf("%w: cpu line %q", errHostStatFormat, clip(num))
		}
		c.CPU = int(n)
	}
	dst := []*uint64{&c.User, &c.Nice, &c.System, &c.Idle, &c.IOWait, &c.IRQ, &c.SoftIRQ, &c.Steal}
	i := 0
	for f := range bytes.FieldsSeq(rest) {
		if i == len(dst) {
			break // guest and guest_nice: already in user and nice
		}
		v, ok := parseUint(f)
		if !ok {
			return c, fmt.Errorf("%w: cpu%s: bad number %q", errHostStatFormat, clip(num), clip(f))
		}
		*dst[i] = v
		i++
	}
	if i < 4 {
		return c, fmt.Errorf("%w: cpu%s: %d numbers, want at least 4", errHostStatFormat, clip(num), i)
	}
	return c, nil
}

// The meminfo keys a Host holds; meminfoSeen says which were present.
const (
	memSeenTotal uint16 = 1 << iota
	memSeenFree
	memSeenAvail
	memSeenBuffers
	memSeenCached
	memSeenShmem
	memSeenSReclaimable
	memSeenSwapTotal
	memSeenSwapFree
)

// parseMeminfo fills h's memory and swap fields from /proc/meminfo
// ("Key:   N kB" lines). MemTotal is required; a key that is missing
// leaves its field zero and its Has bit clear.
func parseMeminfo(b []byte, h *Host) error {
	var seen uint16
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		key, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *uint64
		var bit uint16
		switch string(key) {
		case "MemTotal":
			dst, bit = &h.MemTotalBytes, memSeenTotal
		case "MemFree":
			dst, bit = &h.MemFreeBytes, memSeenFree
		case "MemAvailable":
			dst, bit = &h.MemAvailBytes, memSeenAvail
		case "Buffers":
			dst, bit = &h.MemBuffersBytes, memSeenBuffers
		case "Cached":
			dst, bit = &h.MemCachedBytes, memSeenCached
		case "Shmem":
			dst, bit = &h.MemShmemBytes, memSeenShmem
		case "SReclaimable":
			dst, bit = &h.MemSReclaimableBytes, memSeenSReclaimable
		case "SwapTotal":
			dst, bit = &h.SwapTotalBytes, memSeenSwapTotal
		case "SwapFree":
			dst, bit = &h.SwapFreeBytes, memSeenSwapFree
		default:
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return fmt.Errorf("%w: meminfo %s: no value", errHostStatFormat, key)
		}
		v, ok := parseUint(f[0])
		if !ok {
			return fmt.Errorf("%w: meminfo %s: bad number %q", errHostStatFormat, key, clip(f[0]))
		}
		if len(f) > 1 && string(f[1]) == "kB" {
			v = mulSat(v, 1024)
		}
		*dst = v
		seen |= bit
	}
	if seen&memSeenTotal == 0 {
		return fmt.Errorf("%w: meminfo has no MemTotal", errHostStatFormat)
	}
	h.HasMemAvail = seen&memSeenAvail != 0
	h.HasMemDetail = seen&(memSeenFree|memSeenBuffers|memSeenCached) == memSeenFree|memSeenBuffers|memSeenCached
	h.HasSwap = seen&(memSeenSwapTotal|memSeenSwapFree) == memSeenSwapTotal|memSeenSwapFree
	return nil
}

// parseLoadavg parses the three load averages of /proc/loadavg.
func parseLoadavg(b []byte, h *Host) error {
	f := bytes.Fields(b)
	if len(f) < 3 {
		return fmt.Errorf("%w: loadavg: %d fields", errLoadavgFormat, len(f))
	}
	var v [3]float64
	for i := range v {
		x, err := strconv.ParseFloat(string(f[i]), 64)
		if err != nil || !(x >= 0 && x < 1e9) { // NaN fails too
			return fmt.Errorf("%w: loadavg: bad number %q", errLoadavgFormat, clip(f[i]))
		}
		v[i] = x
	}
	h.Load1, h.Load5, h.Load15 = v[0], v[1], v[2]
	return nil
}

// parseUptime parses the first number of /proc/uptime (seconds).
func parseUptime(b []byte) (float64, error) {
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, fmt.Errorf("%w: empty uptime", errHostStatFormat)
	}
	x, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil || !(x >= 0 && x < 1e12) {
		return 0, fmt.Errorf("%w: uptime: bad number %q", errHostStatFormat, clip(f[0]))
	}
	return x, nil
}

// hostReads is the buffer and paths of the per-tick host reads.
type hostReads struct {
	root string
	buf  []byte
}

// read reads one machine-wide file under the root (bounded by max), as
// readHostFile does: a regular file only, opened without blocking (the
// root may be a tree the user named), into the reused buffer.
func (hr *hostReads) read(name string, max int) ([]byte, error) {
	path := hr.root + "/" + name
	fd, err := openHostFile(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	data, trunc, err := readFD(fd, &hr.buf, max)
	switch {
	case err != nil:
		return nil, &ReadError{File: path, Err: err}
	case trunc:
		return nil, &ReadError{File: path, Err: ErrTooLarge}
	}
	return data, nil
}

// readHostTick reads the per-tick host files into h, naming what could
// not be read in unavail.
func (hr *hostReads) readHostTick(h *Host, unavail map[string]string) {
	if data, err := hr.read("stat", hostStatMax); err != nil {
		unavail["stat"] = hostReason(err)
	} else if err := parseHostStat(data, h); err != nil {
		unavail["stat"] = hostReason(err)
	}
	if data, err := hr.read("meminfo", 64<<10); err != nil {
		unavail["meminfo"] = hostReason(err)
	} else if err := parseMeminfo(data, h); err != nil {
		unavail["meminfo"] = hostReason(err)
	}
	if data, err := hr.read("loadavg", 4096); err != nil {
		unavail["loadavg"] = hostReason(err)
	} else if err := parseLoadavg(data, h); err != nil {
		unavail["loadavg"] = hostReason(err)
	}
	if data, err := hr.read("uptime", 4096); err != nil {
		unavail["uptime"] = hostReason(err)
	} else if up, err := parseUptime(data); err != nil {
		unavail["uptime"] = hostReason(err)
	} else {
		h.UptimeSeconds = up
	}
	hp := HostPressure{}
	for _, res := range []struct {
		name string
		dst  **Pressure
	}{{"cpu", &hp.CPU}, {"io", &hp.IO}, {"memory", &hp.Memory}} {
		data, err := hr.read("pressure/"+res.name, 4096)
		var pr Pressure
		if err == nil {
			pr, err = parsePressure(data)
		}
		if err != nil {
			if hp.Unavailable == nil {
				hp.Unavailable = make(map[string]string, 3)
			}
			// A file never there (a kernel without PSI, a tree without
			// pressure/) is "not present", not "vanished", as Pressure
			// says it.
			hp.Unavailable[res.name] = hostReason(err)
			continue
		}
		*res.dst = &pr
	}
	h.Pressure = &hp
}
