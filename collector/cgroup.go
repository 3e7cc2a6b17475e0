package collector

import (
	"fmt"
	"strings"
	"time"
)

// cgroupMax caps a /proc/PID/cgroup read: one line per hierarchy, each
// path at most PATH_MAX.
const cgroupMax = 64 << 10

// readCgroup reads a process's cgroup path from /proc/PID/cgroup (see
// parseCgroupPath), and whether it is the unified hierarchy's. The file
// names the cgroups the kernel keeps for the task; reading it takes no
// lock of the target, so it is read inline.
func readCgroup(path []byte, buf *[]byte) (cg string, unified bool, err error) {
	data, trunc, err := readSeqIn(atFDCWD, path, buf, cgroupMax)
	if err == nil && trunc {
		err = ErrTooLarge
	}
	if err != nil {
		return "", false, err
	}
	return parseCgroupLine(data)
}

// parseCgroupPath returns the cgroup a process is grouped by: its path in
// the unified hierarchy ("0::PATH", where systemd puts services and
// scopes, and container runtimes their containers); on a machine without
// one, in systemd's named v1 hierarchy ("name=systemd"); else in the
// first hierarchy listed.
func parseCgroupPath(b []byte) (string, error) {
	cg, _, err := parseCgroupLine(b)
	return cg, err
}

// parseCgroupLine is parseCgroupPath, and says whether the path is the
// unified hierarchy's (the "0::" line).
func parseCgroupLine(b []byte) (string, bool, error) {
	var v2, systemd, first []byte
	err := cgroupLines(b, func(id, ctrls, path []byte) {
		switch {
		case string(id) == "0" && len(ctrls) == 0:
			v2 = path
		case string(ctrls) == "name=systemd":
			systemd = path
		case first == nil:
			first = path
		}
	})
	switch {
	case err != nil:
		return "", false, err
	case v2 != nil:
		return string(v2), true, nil
	case systemd != nil:
		return string(systemd), false, nil
	case first != nil:
		return string(first), false, nil
	}
	return "", false, fmt.Errorf("%w: cgroup: no hierarchy", errCgroupFormat)
}

// readProcCgroup reads p's cgroup (ScanOptions.Cgroups) and names the
// workload it belongs to. A process's cgroup rarely changes (a
// container's processes are born in it; systemd moves a process once,
// when it starts a unit or scope), so what the memo entry c holds for this
// identity is reused while the comm is the same (no exec) and within the
// memo's TTL, as cmdline and exe are. On the walk (ScanOptions.Cgroups
// asks it for each process's cgroup id: taskiter.Group.CgroupID) the path
// read for the unified hierarchy's cgroup stands while the id is the same
// (a move is read at the next scan, a young process's too) and for
// cgroupIDTTLs of the TTL (a cgroup renamed keeps its id). A process gone
// since its other files were read keeps the field unavailable, saying so;
// it is not dropped (it was there when the scan read it).
func (s *scan) readProcCgroup(p *Process, c *procCache, now time.Duration) {
	id, hasID := c.walkCgroupID(s.memo)
	if c != nil && c.cgOK && c.cg.comm == p.Comm {
		kept := now < c.cg.due
		if hasID && c.cg.idOK {
			kept = c.cg.id == id && now < c.cg.idDue
		}
		if kept {
			p.ProcCgroup = c.cg.cgroup
			p.Read |= SrcCgroup
			return
		}
	}
	cg, unified, err := readCgroup(s.path.set(p.PID, 0, "cgroup"), &s.buf)
	switch {
	case err == nil:
		if c != nil && c.cgOK && c.cg.cgroup.Cgroup == cg {
			p.ProcCgroup = c.cg.cgroup // the same strings
		} else {
			p.ProcCgroup = ProcCgroup{Cgroup: cg, Workload: WorkloadOf(cg)}
		}
		p.Read |= SrcCgroup
		if c != nil {
			if c.cg == nil {
				c.cg = &cgroupMemo{}
			}
			first := c.cg.due == 0
			c.cg.cgroup, c.cg.comm, c.cgOK = p.ProcCgroup, p.Comm, true
			c.cg.due = s.identityDue(p, first, now)
			// The id was read before the file: a move between the two
			// leaves an older id with the new path, and the next scan
			// reads the file again.
			c.cg.id, c.cg.idOK = id, hasID && unified
			if c.cg.idOK {
				c.cg.idDue = cmdlineDue(p, first, now, s.ttl*cgroupIDTTLs, maxAge)
			}
		}
	case IsVanished(err) && s.present(p):
		s.problem(p, "cgroup", errNotPresent)
	case IsVanished(err):
		markUnavailable(p, "cgroup", Reason(err))
	default:
		s.problem(p, "cgroup", err)
	}
}

// cgroupIDTTLs is how many of the memo's TTL a cgroup path read under
// the walk's cgroup id stands while the id stays (ten minutes for the
// dashboard's one-minute TTL): only a cgroup renamed since changes its
// path under the same id.
const cgroupIDTTLs = 10

// maxAge is an age past every bound (cmdlineDue's young processes).
const maxAge = time.Duration(1<<63 - 1)

// ioChunk is how many processes' io files are read in one batch of the
// read workers: as for cmdlines (cmdlineChunk), the batch amortises the
// handoff and bounds the time between a process's stat and its io.
const ioChunk = cmdlineChunk

// ioMax caps a /proc/PID/io read (seven short lines).
const ioMax = 4096

// readIOs reads the io counters of every process (ScanOptions.IO) in
// batches under the read deadline: the file takes the target's exec lock
// (ptrace access), which a process stuck in execve holds. Another user's
// io is denied without privileges (counted in ScanCounts.Denied); a
// process gone since its other files were read keeps the field
// unavailable, saying so.
//
// A process that has not run since its io was last read keeps it
// (ioIdle): every counter of the file is charged to the task doing the
// I/O, while it runs, so it cannot have changed.
//
// On the walk the pass has summed each process's counters as the file
// does (taskiter.Group.IO, set by runIter with SrcIO): they stand for the
// file where this reader may read it (walkIOOK: proven by one read of the
// file for the process as it is now), and the file is read otherwise.
func (s *scan) readIOs(procs []Process) {
	b := s.ios
	want := s.ioWant[:0]
	ptrace := s.r.creds.CapSysPtrace
	for i := range procs {
		p := &procs[i]
		c := s.memo.entry(p.PID, p.StartTicks)
		if p.Read&SrcIO != 0 {
			if c.walkIOOK(p, ptrace) {
				continue
			}
			p.IO, p.Read = IOCounters{}, p.Read&^SrcIO
		}
		if c.ioIdle(p) {
			p.IO, p.Read = c.io.io, p.Read|SrcIO
			continue
		}
		want = append(want, i)
	}
	s.ioWant = want
	for from := 0; from < len(want); from += ioChunk {
		to := min(from+ioChunk, len(want))
		b.reset(ioMax)
		for _, i := range want[from:to] {
			b.add(s.path.set(procs[i].PID, 0, "io"))
		}
		s.slow.readBatch(b)
		for k, i := range want[from:to] {
			p := &procs[i]
			data, _, err := b.result(k)
			if err == nil {
				var c IOCounters
				if c, err = parseProcIO(data); err == nil {
					p.IO, p.Read = c, p.Read|SrcIO
					s.keepIO(p)
					continue
				}
			}
			if c := s.memo.entry(p.PID, p.StartTicks); c != nil {
				c.io = nil // never an older value in place of an error
			}
			switch {
			case IsVanished(err) && s.present(p):
				s.problem(p, "io", errNotPresent)
			case IsVanished(err):
				markUnavailable(p, "io", Reason(err))
			default:
				s.problem(p, "io", err)
			}
		}
	}
	if len(b.data) > 1<<20 {
		b.data = nil
	}
}

// keepIO keeps p's io counters, just read, in its memo entry with the
// run count they were read at (only for exact totals: ioIdle).
func (s *scan) keepIO(p *Process) {
	if c := s.memo.entry(p.PID, p.StartTicks); c != nil && p.CtxSource == CtxTaskIter {
		if c.io == nil {
			c.io = new(ioMemo)
		}
		c.io.io, c.io.ran = p.IO, ranCount(p)
		c.io.access, c.io.accessOK = ioAccessKeyOf(p), true
	}
}

// readExtras reads what a scan reads only when asked: cgroups and io.
func (s *scan) readExtras(procs []Process, o ScanOptions) {
	if o.Cgroups {
		now := time.Since(s.r.start)
		for i := range procs {
			p := &procs[i]
			s.readProcCgroup(p, s.memo.entry(p.PID, p.StartTicks), now)
		}
	}
	if o.IO {
		s.readIOs(procs)
	}
}

// Workload is what a cgroup path names: a systemd unit, a container, a
// Kubernetes pod (with the container in it). Kind is "" when the path
// names none of them (the root, a slice, a hand-made cgroup).
type Workload struct {
	// Kind is one of the Workload kinds below, or "".
	Kind string
	// Name is the unit's name ("nginx.service", "session-3.scope"), or
	// the container's id cut to 12 hexadecimal digits, as docker ps shows
	// it; for a pod, its uid.
	Name string
	// Runtime is the container runtime ("docker", "containerd", "crio",
	// "podman", "lxc") for a container or a pod's container.
	Runtime string
	// Container is a pod's container id (12 digits), "" when the process
	// is in the pod's own cgroup.
	Container string
}

// The workload kinds.
const (
	WorkloadUnit      = "unit"
	WorkloadContainer = "container"
	WorkloadPod       = "pod"
)

// String is the workload as a dashboard column shows it: "nginx.service",
// "docker:0123456789ab", "pod:<uid>/0123456789ab"; "" when there is none.
func (w Workload) String() string {
	switch w.Kind {
	case WorkloadUnit:
		return w.Name
	case WorkloadContainer:
		return w.Runtime + ":" + w.Name
	case WorkloadPod:
		if w.Container != "" {
			return "pod:" + w.Name + "/" + w.Container
		}
		return "pod:" + w.Name
	}
	return ""
}

// WorkloadOf names the workload a cgroup path belongs to. It reads the
// path's components from the innermost out: a container's scope or
// directory (docker-ID.scope, cri-containerd-ID.scope, crio-ID.scope,
// libpod-ID.scope, /docker/ID, /lxc.payload.NAME), a Kubernetes pod's
// slice or directory (kubepods-...-podUID.slice, /kubepods/.../podUID),
// and otherwise the innermost systemd unit (a .service or .scope; a
// .slice is a grouping, not a unit that runs something). It does no I/O.
func WorkloadOf(path string) Workload {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var w Workload
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if w.Kind == "" {
			if rt, id, ok := containerPart(p, parts, i); ok {
				w = Workload{Kind: WorkloadContainer, Runtime: rt, Name: id}
				continue
			}
		}
		if uid, ok := podPart(p); ok {
			pod := Workload{Kind: WorkloadPod, Name: uid}
			if w.Kind == WorkloadContainer {
				pod.Container, pod.Runtime = w.Name, w.Runtime
			}
			return pod
		}
		if w.Kind == "" && (strings.HasSuffix(p, ".service") || strings.HasSuffix(p, ".scope")) {
			w = Workload{Kind: WorkloadUnit, Name: p}
		}
	}
	return w
}

// containerPart reports whether one path component is a container's
// cgroup, and names its runtime and id.
func containerPart(p string, parts []string, i int) (runtime, id string, ok bool) {
	for _, pre := range []struct{ prefix, runtime string }{
		{"docker-", "docker"}, {"cri-containerd-", "containerd"}, {"crio-", "crio"}, {"libpod-", "podman"},
	} {
		if rest, ok := strings.CutPrefix(p, pre.prefix); ok {
			rest = strings.TrimSuffix(rest, ".scope")
			if isHexID(rest) {
				return pre.runtime, rest[:12], true
			}
		}
	}
	if name, ok := strings.CutPrefix(p, "lxc.payload."); ok && name != "" {
		return "lxc", name, true
	}
	// cgroupfs drivers: /docker/ID, /kubepods/<qos>/podUID/ID, /lxc/NAME.
	if i > 0 && isHexID(p) {
		switch parent := parts[i-1]; {
		case parent == "docker":
			return "docker", p[:12], true
		case strings.HasPrefix(parent, "pod"):
			return "container", p[:12], true
		}
	}
	if i > 0 && parts[i-1] == "lxc" && p != "" {
		return "lxc", p, true
	}
	return "", "", false
}

// podPart reports whether a path component is a Kubernetes pod's cgroup
// (kubepods-besteffort-pod<uid>.slice with the uid's dashes written as
// underscores, or pod<uid> under /kubepods), and returns the pod's uid.
func podPart(p string) (string, bool) {
	if !strings.HasPrefix(p, "kubepods") && !strings.HasPrefix(p, "pod") {
		return "", false
	}
	s := strings.TrimSuffix(p, ".slice")
	i := strings.LastIndex(s, "pod")
	if i < 0 {
		return "", false
	}
	uid := strings.ReplaceAll(s[i+3:], "_", "-")
	if len(uid) < 8 || strings.Trim(uid, "0123456789abcdef-") != "" {
		return "", false
	}
	return uid, true
}

// isHexID reports whether s is a container id: at least 32 lower-case
// hexadecimal digits (docker's and containerd's are 64).
func isHexID(s string) bool {
	if len(s) < 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
