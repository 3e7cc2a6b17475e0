package collector

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// CgroupCPU is the CFS bandwidth limit (quota per period) that applies to
// a process, and how often it was throttled. The limit is the tightest on
// the way from the process's cgroup up to its hierarchy's root: a parent's
// quota caps its children too.
type CgroupCPU struct {
	// Version is 1 (the cpu controller's v1 hierarchy: cpu.cfs_quota_us,
	// cpu.cfs_period_us, cpu.stat) or 2 (the unified hierarchy: cpu.max,
	// cpu.stat).
	Version int `json:"version"`
	// Path is the process's own cgroup, relative to the hierarchy root.
	Path string `json:"path"`
	// LimitPath is the cgroup whose quota is the tightest (where the
	// throttling counters below come from); "" when no cgroup on the way
	// sets one.
	LimitPath string `json:"limit_path,omitempty"`
	// QuotaUs and PeriodUs are the limit: QuotaUs of CPU time per PeriodUs
	// of wall time (QuotaUs/PeriodUs CPUs). Both 0 when unlimited.
	QuotaUs  uint64 `json:"quota_us,omitempty"`
	PeriodUs uint64 `json:"period_us,omitempty"`
	// Stat is LimitPath's cpu.stat (or Path's when unlimited); nil when
	// unreadable.
	Stat *CgroupCPUStat `json:"stat,omitempty"`
}

// Limited reports whether a quota applies.
func (c *CgroupCPU) Limited() bool { return c.QuotaUs > 0 && c.PeriodUs > 0 }

// LimitCPUs is the quota in CPUs (1.5 = one and a half CPUs); 0 when
// unlimited.
func (c *CgroupCPU) LimitCPUs() float64 {
	if !c.Limited() {
		return 0
	}
	return float64(c.QuotaUs) / float64(c.PeriodUs)
}

// CgroupCPUStat are the bandwidth counters of a cgroup's cpu.stat.
type CgroupCPUStat struct {
	// Periods is the number of enforcement periods that had runnable
	// tasks; Throttled how many of them ran out of quota.
	Periods   uint64 `json:"periods"`
	Throttled uint64 `json:"throttled_periods"`
	// ThrottledNs is the total time the cgroup's tasks were held back.
	ThrottledNs uint64 `json:"throttled_ns"`
}

// errCgroupFormat is wrapped by every cgroup CPU file parse error.
var errCgroupFormat = errors.New("malformed cgroup cpu file")

// parseCPUMax parses a v2 cpu.max: "max 100000" (no limit) or
// "QUOTA PERIOD" in microseconds. An unlimited cgroup returns quota 0.
func parseCPUMax(b []byte) (quotaUs, periodUs uint64, err error) {
	f := bytes.Fields(b)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("%w: cpu.max: %d fields, want 2", errCgroupFormat, len(f))
	}
	period, ok := parseUint(f[1])
	if !ok || period == 0 {
		return 0, 0, fmt.Errorf("%w: cpu.max: bad period %q", errCgroupFormat, clip(f[1]))
	}
	if string(f[0]) == "max" {
		return 0, period, nil
	}
	quota, ok := parseUint(f[0])
	if !ok || quota == 0 {
		return 0, 0, fmt.Errorf("%w: cpu.max: bad quota %q", errCgroupFormat, clip(f[0]))
	}
	return quota, period, nil
}

// parseCFSQuota parses a v1 cpu.cfs_quota_us ("-1" for no limit) and
// cpu.cfs_period_us pair. An unlimited cgroup returns quota 0.
func parseCFSQuota(quotaFile, periodFile []byte) (quotaUs, periodUs uint64, err error) {
	q, ok := parseInt(bytes.TrimSpace(quotaFile))
	if !ok || q == 0 || q < -1 {
		return 0, 0, fmt.Errorf("%w: cpu.cfs_quota_us: bad value %q", errCgroupFormat, clip(quotaFile))
	}
	p, ok := parseUint(bytes.TrimSpace(periodFile))
	if !ok || p == 0 {
		return 0, 0, fmt.Errorf("%w: cpu.cfs_period_us: bad value %q", errCgroupFormat, clip(periodFile))
	}
	if q == -1 {
		return 0, p, nil
	}
	return uint64(q), p, nil
}

// parseCgroupCPUStat parses a cpu.stat: "key value" lines. v1 writes the
// throttled time in nanoseconds (throttled_time), v2 in microseconds
// (throttled_usec); nr_periods and nr_throttled are required, other keys
// (usage_usec, nr_bursts, ...) are skipped.
func parseCgroupCPUStat(b []byte) (CgroupCPUStat, error) {
	var s CgroupCPUStat
	var seen uint8
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return s, fmt.Errorf("%w: cpu.stat: bad line %q", errCgroupFormat, clip(line))
		}
		var scale uint64 = 1
		var dst *uint64
		switch string(f[0]) {
		case "nr_periods":
			dst, seen = &s.Periods, seen|1
		case "nr_throttled":
			dst, seen = &s.Throttled, seen|2
		case "throttled_time":
			dst, seen = &s.ThrottledNs, seen|4
		case "throttled_usec":
			dst, seen, scale = &s.ThrottledNs, seen|4, 1000
		default:
			continue
		}
		v, ok := parseUint(f[1])
		if !ok {
			return s, fmt.Errorf("%w: cpu.stat: %s: bad number %q", errCgroupFormat, f[0], clip(f[1]))
		}
		*dst = mulSat(v, scale)
	}
	if seen&3 != 3 {
		return s, fmt.Errorf("%w: cpu.stat without nr_periods and nr_throttled (no CFS bandwidth control)", errCgroupFormat)
	}
	return s, nil
}

// cgroupMembership is where a process sits in the cpu controller's
// hierarchies, from /proc/PID/cgroup.
type cgroupMembership struct {
	// V1CPU is the path in the v1 hierarchy that has the cpu controller,
	// with that hierarchy's controller list ("cpu,cpuacct"); ok false
	// when there is none.
	V1CPU, V1Controllers string
	V1OK                 bool
	// V2 is the path in the unified hierarchy ("0::PATH").
	V2   string
	V2OK bool
}

// parseCgroupMembership parses /proc/PID/cgroup: "ID:CONTROLLERS:PATH"
// lines (a path may hold ':').
func parseCgroupMembership(b []byte) (cgroupMembership, error) {
	var m cgroupMembership
	err := cgroupLines(b, func(id, ctrls, path []byte) {
		if string(id) == "0" && len(ctrls) == 0 {
			m.V2, m.V2OK = string(path), true
			return
		}
		for c := range bytes.SplitSeq(ctrls, []byte(",")) {
			if string(c) == "cpu" {
				m.V1CPU, m.V1Controllers, m.V1OK = string(path), string(ctrls), true
			}
		}
	})
	return m, err
}

// cgroupLines calls fn for each line of a /proc/PID/cgroup file,
// "ID:CONTROLLERS:PATH" (a path may hold ':'), after checking it: a
// numeric ID and an absolute path.
func cgroupLines(b []byte, fn func(id, ctrls, path []byte)) error {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		id, rest, ok1 := bytes.Cut(line, []byte(":"))
		ctrls, path, ok2 := bytes.Cut(rest, []byte(":"))
		if !ok1 || !ok2 || len(path) == 0 || path[0] != '/' {
			return fmt.Errorf("%w: cgroup: bad line %q", errCgroupFormat, clip(line))
		}
		if _, ok := parseUint(id); !ok {
			return fmt.Errorf("%w: cgroup: bad hierarchy id %q", errCgroupFormat, clip(id))
		}
		fn(id, ctrls, path)
	}
	return nil
}

// CgroupCPU reads the CPU limit that applies to pid: its cgroup from
// /proc/PID/cgroup, then cpu.max (v2) or cpu.cfs_quota_us and
// cpu.cfs_period_us (v1) of that cgroup and each ancestor, keeping the
// tightest, and that cgroup's cpu.stat, under Options.CgroupRoot. It
// returns nil and an error when the process's cpu cgroup cannot be found
// or its files cannot be read. It is safe for concurrent use.
func (r *Reader) CgroupCPU(pid int) (*CgroupCPU, error) {
	pb, buf := newPathBuf(r.opts.Root), make([]byte, 0, 1024)
	data, _, err := readAt(pb.set(pid, 0, "cgroup"), &buf, 64<<10)
	if err != nil {
		return nil, r.FileError(pid, "cgroup", err)
	}
	m, err := parseCgroupMembership(data)
	if err != nil {
		return nil, r.FileError(pid, "cgroup", err)
	}
	// The cpu controller is on v1 when a v1 hierarchy has it; else on
	// the unified hierarchy (mounted at the root, or at unified/ on a
	// hybrid machine, where it rarely has the cpu controller).
	var dirs []string
	version := 2
	path := m.V2
	if m.V1OK {
		version, path = 1, m.V1CPU
		dirs = []string{filepath.Join(r.opts.CgroupRoot, m.V1Controllers), filepath.Join(r.opts.CgroupRoot, "cpu")}
	} else if m.V2OK {
		dirs = []string{r.opts.CgroupRoot, filepath.Join(r.opts.CgroupRoot, "unified")}
	} else {
		return nil, r.FileError(pid, "cgroup", errors.New("no cpu cgroup"))
	}
	var base string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, path, cpuLimitFile(version))); err == nil {
			base = d
			break
		}
	}
	if base == "" {
		return nil, &ReadError{File: filepath.Join(dirs[0], path, cpuLimitFile(version)), Err: unix.ENOENT}
	}
	c := &CgroupCPU{Version: version, Path: path}
	best := 0.0
	statPath := path
	cur := path
	for depth := 0; depth < 64; depth++ {
		q, per, err := readCPULimit(filepath.Join(base, cur), version, &buf)
		if err != nil {
			return nil, err
		}
		if q > 0 {
			if cpus := float64(q) / float64(per); best == 0 || cpus < best {
				best, c.QuotaUs, c.PeriodUs, c.LimitPath, statPath = cpus, q, per, cur, cur
			}
		}
		if cur == "/" || cur == "" {
			break
		}
		cur = filepath.Dir(cur)
	}
	data, _, err = readAt(cStr(filepath.Join(base, statPath, "cpu.stat")), &buf, 64<<10)
	if err == nil {
		var st CgroupCPUStat
		if st, err = parseCgroupCPUStat(data); err == nil {
			c.Stat = &st
		}
	}
	return c, nil
}

// cpuLimitFile is the file that holds the quota in a hierarchy version.
func cpuLimitFile(version int) string {
	if version == 1 {
		return "cpu.cfs_quota_us"
	}
	return "cpu.max"
}

// readCPULimit reads one cgroup directory's quota and period.
func readCPULimit(dir string, version int, buf *[]byte) (quotaUs, periodUs uint64, err error) {
	if version == 2 {
		data, _, err := readAt(cStr(filepath.Join(dir, "cpu.max")), buf, 4096)
		if errors.Is(err, unix.ENOENT) {
			return 0, 0, nil // the root cgroup has no cpu.max
		}
		if err != nil {
			return 0, 0, &ReadError{File: filepath.Join(dir, "cpu.max"), Err: err}
		}
		return parseCPUMax(data)
	}
	q, _, err := readAt(cStr(filepath.Join(dir, "cpu.cfs_quota_us")), buf, 4096)
	if err != nil {
		return 0, 0, &ReadError{File: filepath.Join(dir, "cpu.cfs_quota_us"), Err: err}
	}
	q = slices.Clone(q)
	per, _, err := readAt(cStr(filepath.Join(dir, "cpu.cfs_period_us")), buf, 4096)
	if err != nil {
		return 0, 0, &ReadError{File: filepath.Join(dir, "cpu.cfs_period_us"), Err: err}
	}
	return parseCFSQuota(q, per)
}

// cStr is s NUL-terminated for the raw openat.
func cStr(s string) []byte { return append([]byte(s), 0) }
