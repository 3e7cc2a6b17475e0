package collector

import (
	"bytes"
	"cmp"
	"debug/buildinfo"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// This file reads the sources `pinspect explain` adds to a snapshot: each
// thread's scheduler accounting, wait channel and system call (a burst of
// fast readings), a process's I/O counters, descriptors, cgroup CPU limit
// and runtime, and the machine's pressure. Each source's pure parser is in
// its own file (schedstat.go, wchan.go, tasksyscall.go, procio.go,
// fdkinds.go, cgroupcpu.go, pressure.go, runtime.go).

// ProberOptions configures a Prober. The zero value reads /proc and
// /sys/fs/cgroup.
type ProberOptions struct {
	// Root is the /proc root (default "/proc").
	Root string
	// CgroupRoot is where the cgroup hierarchies are mounted (default
	// "/sys/fs/cgroup"): the unified hierarchy at the root (or at
	// "unified" on a hybrid machine), v1 controllers in directories named
	// after them ("cpu,cpuacct", "cpu").
	CgroupRoot string
	// ReadTimeout is the deadline of reads that can block on the target
	// (task/TID/syscall and io take its exec lock; smaps_rollup its mmap
	// lock); default DefaultReadTimeout, negative disables it.
	ReadTimeout time.Duration
}

// Prober reads the explain sources of a /proc root. It reuses buffers, so
// one Prober must not be used by two goroutines at once; what it returns
// are independent values.
type Prober struct {
	root, cgroupRoot string
	slow             *deadlineReads
	pb               pathBuf
	buf              []byte
	dirBuf           []byte
	link             []byte
	tids             []int
	batch            batch
}

// NewProber returns a Prober of opts.Root.
func NewProber(opts ProberOptions) *Prober {
	p := &Prober{
		root:       cmp.Or(opts.Root, "/proc"),
		cgroupRoot: cmp.Or(opts.CgroupRoot, "/sys/fs/cgroup"),
		buf:        make([]byte, 0, 4096),
		dirBuf:     make([]byte, 16<<10),
		link:       make([]byte, 4096),
	}
	p.pb = newPathBuf(p.root)
	p.slow = newDeadlineReads(cmp.Or(opts.ReadTimeout, DefaultReadTimeout))
	runtime.AddCleanup(p, (*deadlineReads).close, p.slow)
	return p
}

// Root returns the /proc root this Prober reads.
func (p *Prober) Root() string { return p.root }

// TaskFields chooses what Prober.Tasks reads besides each task's stat.
type TaskFields uint8

// The per-task sources.
const (
	// ProbeSched reads task/TID/schedstat (run time, run-queue wait,
	// slices).
	ProbeSched TaskFields = 1 << iota
	// ProbeWChan reads task/TID/wchan (the kernel function it sleeps in).
	ProbeWChan
	// ProbeSyscall reads task/TID/syscall (the system call it is in;
	// ptrace access, under the read deadline).
	ProbeSyscall
	// ProbeAll is every per-task source.
	ProbeAll = ProbeSched | ProbeWChan | ProbeSyscall
)

// TaskSample is one task (thread) at one instant.
type TaskSample struct {
	TID        int    `json:"tid"`
	StartTicks uint64 `json:"start_ticks"`
	// Comm is the raw thread name (not sanitised).
	Comm       string `json:"comm"`
	State      byte   `json:"state"`
	UTimeTicks uint64 `json:"utime_ticks"`
	STimeTicks uint64 `json:"stime_ticks"`
	// Sched is valid when HasSched.
	Sched    SchedStat `json:"sched"`
	HasSched bool      `json:"has_sched"`
	// WChan is the kernel function the task sleeps in (WChanFunc); valid
	// when HasWChan.
	WChan      string     `json:"wchan,omitempty"`
	WChanState WChanState `json:"wchan_state"`
	HasWChan   bool       `json:"has_wchan"`
	// Syscall is valid when HasSyscall.
	Syscall    TaskSyscall `json:"syscall"`
	HasSyscall bool        `json:"has_syscall"`
}

// TaskSamples is one reading of every thread of a process, with the
// process-wide numbers of its stat at that instant.
type TaskSamples struct {
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
	// State is the process's (its leader thread's) state.
	State byte `json:"state"`
	// RSSBytes, MinFlt and MajFlt are from /proc/PID/stat (the whole
	// process, exited threads' faults included).
	RSSBytes uint64 `json:"rss_bytes"`
	MinFlt   uint64 `json:"minflt"`
	MajFlt   uint64 `json:"majflt"`
	// UTimeTicks and STimeTicks are the whole process's CPU times.
	UTimeTicks uint64       `json:"utime_ticks"`
	STimeTicks uint64       `json:"stime_ticks"`
	Tasks      []TaskSample `json:"tasks"`
	// VanishedThreads counts threads that exited while they were read.
	VanishedThreads int `json:"vanished_threads,omitempty"`
	// Unavailable names a per-task source ("schedstat", "wchan",
	// "syscall", "task") that could not be read for some task, with the
	// first reason seen.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

func (s *TaskSamples) miss(src string, err error) {
	if s.Unavailable == nil {
		s.Unavailable = make(map[string]string, 2)
	}
	if _, ok := s.Unavailable[src]; !ok {
		s.Unavailable[src] = Reason(err)
	}
}

// Tasks reads every thread of pid: its stat, and the sources in f. It
// returns an error wrapping ENOENT or ESRCH (IsVanished) when the process
// is gone or, with startTicks not zero, when the pid now belongs to
// another process.
func (p *Prober) Tasks(pid int, startTicks uint64, f TaskFields) (*TaskSamples, error) {
	data, _, err := readSeqAt(p.pb.set(pid, 0, "stat"), &p.buf, statusMax)
	var st statFields
	if err == nil {
		st, err = parseStat(data)
	}
	if err != nil {
		return nil, &ReadError{PID: pid, File: "stat", Err: err}
	}
	if startTicks != 0 && st.starttime != startTicks {
		return nil, &ReadError{PID: pid, File: "stat", Err: errReused}
	}
	s := &TaskSamples{
		PID: pid, StartTicks: st.starttime, State: st.state,
		MinFlt: st.minflt, MajFlt: st.majflt, UTimeTicks: st.utime, STimeTicks: st.stime,
	}
	if st.rss > 0 {
		s.RSSBytes = mulSat(uint64(st.rss), uint64(os.Getpagesize()))
	}
	p.tids, err = listNumeric(p.pb.set(pid, 0, "task"), p.dirBuf, p.tids[:0])
	if err != nil {
		if IsVanished(err) {
			return nil, &ReadError{PID: pid, File: "task", Err: err}
		}
		s.miss("task", err)
		return s, nil
	}
	slices.Sort(p.tids)
	s.Tasks = make([]TaskSample, 0, len(p.tids))
	for _, tid := range p.tids {
		t := TaskSample{TID: tid}
		data, _, err := readSeqAt(p.pb.set(pid, tid, "stat"), &p.buf, statusMax)
		var ts statFields
		if err == nil {
			ts, err = parseStat(data)
		}
		if err != nil {
			if IsVanished(err) {
				s.VanishedThreads++
			} else {
				s.miss("task", err)
			}
			continue
		}
		t.StartTicks, t.Comm, t.State = ts.starttime, string(ts.comm), ts.state
		t.UTimeTicks, t.STimeTicks = ts.utime, ts.stime
		if f&ProbeSched != 0 {
			data, _, err := readSeqAt(p.pb.set(pid, tid, "schedstat"), &p.buf, 4096)
			if err == nil {
				t.Sched, err = parseSchedstat(data)
			}
			if err == nil {
				t.HasSched = true
			} else if !IsVanished(err) {
				s.miss("schedstat", err)
			}
		}
		if f&ProbeWChan != 0 {
			data, _, err := readSeqAt(p.pb.set(pid, tid, "wchan"), &p.buf, 4096)
			if err == nil {
				t.WChan, t.WChanState = parseWChan(data)
				t.HasWChan = t.WChanState != WChanHidden
				if !t.HasWChan {
					s.miss("wchan", unix.EACCES)
				}
			} else if !IsVanished(err) {
				s.miss("wchan", err)
			}
		}
		s.Tasks = append(s.Tasks, t)
	}
	if f&ProbeSyscall != 0 && len(s.Tasks) > 0 {
		// One batch under the deadline: the file waits for the task's
		// exec lock, which a process stuck in exec holds.
		b := &p.batch
		b.reset(4096)
		for i := range s.Tasks {
			b.add(p.pb.set(pid, s.Tasks[i].TID, "syscall"))
		}
		p.slow.readBatch(b)
		for i := range s.Tasks {
			data, _, err := b.result(i)
			if err == nil {
				s.Tasks[i].Syscall, err = parseTaskSyscall(data)
			}
			if err == nil {
				s.Tasks[i].HasSyscall = true
			} else if !IsVanished(err) {
				s.miss("syscall", err)
			}
		}
		if len(b.data) > 1<<20 {
			b.data = nil
		}
	}
	return s, nil
}

// IO reads /proc/PID/io (under the read deadline: it takes the target's
// exec lock).
func (p *Prober) IO(pid int) (*IOCounters, error) {
	data, _, err := p.slow.read(p.pb.set(pid, 0, "io"), &p.buf, 4096)
	if err != nil {
		return nil, &ReadError{PID: pid, File: "io", Err: err}
	}
	c, err := parseProcIO(data)
	if err != nil {
		return nil, &ReadError{PID: pid, File: "io", Err: err}
	}
	return &c, nil
}

// HostPressure is the machine's pressure stall information; a resource
// whose file could not be read is nil and named in Unavailable.
type HostPressure struct {
	CPU    *Pressure `json:"cpu,omitempty"`
	IO     *Pressure `json:"io,omitempty"`
	Memory *Pressure `json:"memory,omitempty"`
	// Unavailable maps "cpu", "io" or "memory" to why it is absent (no
	// /proc/pressure: a kernel without CONFIG_PSI, or psi=0).
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// Pressure reads /proc/pressure/{cpu,io,memory}.
func (p *Prober) Pressure() HostPressure {
	var h HostPressure
	for _, r := range []struct {
		name string
		dst  **Pressure
	}{{"cpu", &h.CPU}, {"io", &h.IO}, {"memory", &h.Memory}} {
		data, _, err := readAt(p.pb.setTop("pressure/"+r.name), &p.buf, 4096)
		var pr Pressure
		if err == nil {
			pr, err = parsePressure(data)
		}
		if err != nil {
			if h.Unavailable == nil {
				h.Unavailable = make(map[string]string, 3)
			}
			h.Unavailable[r.name] = Reason(err)
			continue
		}
		*r.dst = &pr
	}
	return h
}

// Runnable reads the machine's count of runnable tasks (the fourth field
// of /proc/loadavg, "running/total": the same count as procs_running in
// /proc/stat, this reader included) and the total number of tasks.
func (p *Prober) Runnable() (running, total int, err error) {
	data, _, err := readAt(p.pb.setTop("loadavg"), &p.buf, 4096)
	if err != nil {
		return 0, 0, &ReadError{File: "loadavg", Err: err}
	}
	running, total, err = parseLoadavgTasks(data)
	if err != nil {
		return 0, 0, &ReadError{File: "loadavg", Err: err}
	}
	return running, total, nil
}

// errLoadavgFormat is wrapped by loadavg parse errors.
var errLoadavgFormat = errors.New("malformed loadavg")

// parseLoadavgTasks takes "R/T" out of /proc/loadavg
// ("0.52 0.58 0.59 3/456 12345").
func parseLoadavgTasks(b []byte) (running, total int, err error) {
	f := bytes.Fields(b)
	if len(f) < 4 {
		return 0, 0, errLoadavgFormat
	}
	rs, ts, ok := bytes.Cut(f[3], []byte("/"))
	r, ok1 := parseUint(rs)
	t, ok2 := parseUint(ts)
	if !ok || !ok1 || !ok2 || r > 1<<31 || t > 1<<31 {
		return 0, 0, errLoadavgFormat
	}
	return int(r), int(t), nil
}

// CgroupCPU reads the CPU limit that applies to pid: its cgroup from
// /proc/PID/cgroup, then cpu.max (v2) or cpu.cfs_quota_us and
// cpu.cfs_period_us (v1) of that cgroup and each ancestor, keeping the
// tightest, and that cgroup's cpu.stat. It returns nil and an error when
// the process's cpu cgroup cannot be found or its files cannot be read.
func (p *Prober) CgroupCPU(pid int) (*CgroupCPU, error) {
	data, _, err := readAt(p.pb.set(pid, 0, "cgroup"), &p.buf, 64<<10)
	if err != nil {
		return nil, &ReadError{PID: pid, File: "cgroup", Err: err}
	}
	m, err := parseCgroupMembership(data)
	if err != nil {
		return nil, &ReadError{PID: pid, File: "cgroup", Err: err}
	}
	// The cpu controller is on v1 when a v1 hierarchy has it; else on
	// the unified hierarchy (mounted at the root, or at unified/ on a
	// hybrid machine, where it rarely has the cpu controller).
	var dirs []string
	version := 2
	path := m.V2
	if m.V1OK {
		version, path = 1, m.V1CPU
		dirs = []string{filepath.Join(p.cgroupRoot, m.V1Controllers), filepath.Join(p.cgroupRoot, "cpu")}
	} else if m.V2OK {
		dirs = []string{p.cgroupRoot, filepath.Join(p.cgroupRoot, "unified")}
	} else {
		return nil, &ReadError{PID: pid, File: "cgroup", Err: errors.New("no cpu cgroup")}
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
		q, per, err := p.readCPULimit(filepath.Join(base, cur), version)
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
	data, _, err = readAt(cStr(filepath.Join(base, statPath, "cpu.stat")), &p.buf, 64<<10)
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
func (p *Prober) readCPULimit(dir string, version int) (quotaUs, periodUs uint64, err error) {
	if version == 2 {
		data, _, err := readAt(cStr(filepath.Join(dir, "cpu.max")), &p.buf, 4096)
		if errors.Is(err, unix.ENOENT) {
			return 0, 0, nil // the root cgroup has no cpu.max
		}
		if err != nil {
			return 0, 0, &ReadError{File: filepath.Join(dir, "cpu.max"), Err: err}
		}
		return parseCPUMax(data)
	}
	q, _, err := readAt(cStr(filepath.Join(dir, "cpu.cfs_quota_us")), &p.buf, 4096)
	if err != nil {
		return 0, 0, &ReadError{File: filepath.Join(dir, "cpu.cfs_quota_us"), Err: err}
	}
	q = slices.Clone(q)
	per, _, err := readAt(cStr(filepath.Join(dir, "cpu.cfs_period_us")), &p.buf, 4096)
	if err != nil {
		return 0, 0, &ReadError{File: filepath.Join(dir, "cpu.cfs_period_us"), Err: err}
	}
	return parseCFSQuota(q, per)
}

// cStr is s NUL-terminated for the raw openat.
func cStr(s string) []byte { return append([]byte(s), 0) }

// maxFDs caps the descriptors FDs reads.
const maxFDs = 1 << 16

// FDs reads the targets of /proc/PID/fd/* and counts them by kind, up to
// maxFDs descriptors (then Truncated is set).
func (p *Prober) FDs(pid int) (*FDSummary, error) {
	fds, err := listNumeric(p.pb.set(pid, 0, "fd"), p.dirBuf, nil)
	if err != nil {
		return nil, &ReadError{PID: pid, File: "fd", Err: err}
	}
	s := &FDSummary{}
	if len(fds) > maxFDs {
		fds, s.Truncated = fds[:maxFDs], true
	}
	dir := p.pb.set(pid, 0, "fd")
	dir = dir[:len(dir)-1] // without the NUL
	path := slices.Clone(dir)
	for _, fd := range fds {
		path = append(strconv.AppendInt(append(path[:len(dir)], '/'), int64(fd), 10), 0)
		target, err := readlinkAt(path, p.link)
		if err != nil {
			if IsDenied(err) {
				return nil, &ReadError{PID: pid, File: "fd", Err: err}
			}
			continue // closed since the listing
		}
		s.add(target)
	}
	return s, nil
}

// RuntimeClues gathers the runtime clues of pid: its exe, the file-backed
// paths of maps (the caller passes the mappings it read), the Go build
// info of the executable, and the JVM's hsperfdata file
// (/tmp/hsperfdata_USER/NSPID in the process's root: user is its user's
// name, nsPID its pid in its own namespace, 0 for pid). Unavailable
// names a clue that could not be read ("exe", "buildinfo") with the
// reason; a missing clue is not an error.
func (p *Prober) RuntimeClues(pid int, maps []Mapping, user string, nsPID int) (RuntimeClues, map[string]string) {
	var c RuntimeClues
	var unavail map[string]string
	miss := func(k string, err error) {
		if unavail == nil {
			unavail = make(map[string]string, 2)
		}
		unavail[k] = Reason(err)
	}
	exe, err := readlinkAt(p.pb.set(pid, 0, "exe"), p.link)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) {
			miss("exe", err)
		}
	} else {
		c.Exe = exe
	}
	seen := map[string]bool{}
	for i := range maps {
		m := &maps[i]
		if m.Inode != 0 && m.Path != "" && !seen[m.Path] {
			seen[m.Path] = true
			c.MappedFiles = append(c.MappedFiles, m.Path)
		}
	}
	if c.Exe != "" {
		// The build info is read through the exe link (the file the
		// process runs, even deleted), under a deadline: the open and
		// the reads can block on a hung file system.
		type bi struct {
			v, path string
			err     error
		}
		ch := make(chan bi, 1)
		exePath := filepath.Join(p.root, strconv.Itoa(pid), "exe")
		go func() {
			info, err := buildinfo.ReadFile(exePath)
			if err != nil {
				ch <- bi{err: err}
				return
			}
			ch <- bi{v: info.GoVersion, path: info.Path}
		}()
		select {
		case r := <-ch:
			if r.err == nil {
				c.GoVersion, c.GoPath = r.v, r.path
			} else if IsDenied(r.err) {
				miss("buildinfo", r.err)
			}
		case <-time.After(max(p.slow.timeout, DefaultReadTimeout)):
			miss("buildinfo", ErrTimeout)
		}
	}
	if nsPID == 0 {
		nsPID = pid
	}
	if user != "" {
		if _, err := os.Stat(filepath.Join(p.root, strconv.Itoa(pid), "root", "tmp", "hsperfdata_"+user, strconv.Itoa(nsPID))); err == nil {
			c.HSPerfData = true
		}
	}
	return c, unavail
}

// MemoryTotals reads pid's smaps_rollup under the read deadline (it takes
// the target's mmap lock): the cheap whole-process RSS, PSS and USS used
// for family totals.
func (p *Prober) MemoryTotals(pid int) (*MemoryTotals, error) {
	t, err := readRollup(p.slow, p.pb.set(pid, 0, "smaps_rollup"))
	if err != nil {
		return nil, &ReadError{PID: pid, File: "smaps_rollup", Err: err}
	}
	return t, nil
}
