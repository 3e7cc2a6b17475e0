package collector

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// Details are the per-process extras read on demand (for one focused
// process, not every tick): what it is blocked in, its cgroups,
// namespaces, resource limits and capabilities. Fields whose file could
// not be read are left empty and named in Unavailable with the reason.
type Details struct {
	PID int
	// WChan is the kernel function the process sleeps in ("" when running
	// or unknown; "0" from the kernel is reported as "").
	WChan string
	// Cgroups are the process's cgroup memberships (/proc/PID/cgroup).
	Cgroups []Cgroup
	// Namespaces are the namespaces it is in (/proc/PID/ns/*), by type.
	Namespaces []Namespace
	// Limits are its resource limits (/proc/PID/limits).
	Limits []Limit
	// Caps are its capability sets (from status).
	Caps Capabilities
	// Unavailable maps a file ("wchan", "cgroup", "ns", "limits",
	// "status") to why it could not be read.
	Unavailable map[string]string
}

// Cgroup is one line of /proc/PID/cgroup.
type Cgroup struct {
	// HierarchyID is 0 for the unified (v2) hierarchy.
	HierarchyID int
	// Controllers are the v1 controllers bound to the hierarchy (empty for
	// v2).
	Controllers []string
	// Path is the cgroup path relative to the hierarchy's mount.
	Path string
}

// Namespace is one entry of /proc/PID/ns.
type Namespace struct {
	// Type is the entry's name in /proc/PID/ns: "pid", "net", "mnt",
	// "uts", "ipc", "user", "cgroup", "time", and "pid_for_children" and
	// "time_for_children", the namespaces its next children are born in.
	Type string
	// Inode identifies the namespace: two processes share it when equal.
	Inode uint32
}

// Limit is one resource limit. Soft and Hard are -1 for "unlimited".
type Limit struct {
	Name  string
	Soft  int64
	Hard  int64
	Units string
}

// Capabilities are the capability sets from status (bit n = capability n).
type Capabilities struct {
	Inh, Prm, Eff, Bnd, Amb uint64
}

// Details reads the on-demand extras of one process. It returns an error
// wrapping ENOENT when the process does not exist; unreadable parts are
// named in Details.Unavailable. It does not use the Reader's buffers, so it
// may run beside a snapshot. A caller that has just read the process
// (with its status) uses DetailsOf instead, which does not read status
// again.
func (r *Reader) Details(pid int) (*Details, error) {
	d, err := r.details(pid)
	if err != nil {
		return nil, err
	}
	pb, buf := newPathBuf(r.opts.Root), make([]byte, 0, 4096)
	sf, err := readStatus(atFDCWD, pb.set(pid, 0, "status"), &buf)
	if err != nil {
		d.miss("status", err)
	} else {
		d.Caps = Capabilities{Inh: sf.capInh, Prm: sf.capPrm, Eff: sf.capEff, Bnd: sf.capBnd, Amb: sf.capAmb}
	}
	return d, nil
}

// DetailsOf is Details for a process the caller has read: the
// capabilities come from p (its status), so status is not read again.
func (r *Reader) DetailsOf(p *Process) (*Details, error) {
	d, err := r.details(p.PID)
	if err != nil {
		return nil, err
	}
	if p.Read&SrcStatus != 0 {
		d.Caps = p.Capabilities()
	} else if reason, ok := p.Unavailable["status"]; ok {
		d.missReason("status", reason)
	}
	return d, nil
}

// details reads wchan, cgroup, ns and limits.
func (r *Reader) details(pid int) (*Details, error) {
	dir := filepath.Join(r.opts.Root, strconv.Itoa(pid))
	if _, err := os.Stat(dir); err != nil {
		return nil, r.FileError(pid, "", unwrapPath(err))
	}
	d := &Details{PID: pid}
	fs, err := procfs.NewFS(r.opts.Root)
	if err != nil {
		return nil, &ReadError{File: r.opts.Root, Err: err}
	}
	p, err := fs.Proc(pid)
	if err != nil {
		return nil, r.FileError(pid, "", unwrapPath(err))
	}
	if d.WChan, err = r.WChan(pid); err != nil {
		d.miss("wchan", err)
	}
	if cgs, err := p.Cgroups(); err != nil {
		d.miss("cgroup", err)
	} else {
		for _, c := range cgs {
			d.Cgroups = append(d.Cgroups, Cgroup{HierarchyID: c.HierarchyID, Controllers: c.Controllers, Path: c.Path})
		}
	}
	if nss, err := p.Namespaces(); err != nil {
		d.miss("ns", err)
	} else {
		// By entry name: pid_for_children and time_for_children link to
		// a namespace of type pid or time, the one the next children get.
		for name, n := range nss {
			d.Namespaces = append(d.Namespaces, Namespace{Type: name, Inode: n.Inode})
		}
		slicesSortNS(d.Namespaces)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "limits")); err != nil {
		d.miss("limits", err)
	} else {
		d.Limits = parseLimits(data)
	}
	return d, nil
}

// miss records a part that could not be read.
func (d *Details) miss(file string, err error) { d.missReason(file, Reason(unwrapPath(err))) }

func (d *Details) missReason(file, reason string) {
	if d.Unavailable == nil {
		d.Unavailable = make(map[string]string)
	}
	d.Unavailable[file] = reason
}

// WChan reads what process pid is blocked in: the kernel function name,
// "" when it is running (the kernel writes "0"). wchan is a [PT] file: to
// a reader that may not ptrace the process the kernel writes "0" whatever
// it waits on, so then WChan does not read it and returns an error
// wrapping ErrMasked (Reason: "masked").
func (r *Reader) WChan(pid int) (string, error) {
	if r.ptMasked(pid) {
		return "", r.FileError(pid, "wchan", ErrMasked)
	}
	data, err := os.ReadFile(filepath.Join(r.opts.Root, strconv.Itoa(pid), "wchan"))
	if err != nil {
		return "", r.FileError(pid, "wchan", unwrapPath(err))
	}
	w := strings.TrimSpace(string(data))
	if w == "0" {
		w = ""
	}
	return w, nil
}

// unwrapPath turns *os.PathError into its errno so IsVanished and
// IsDenied see it.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func slicesSortNS(ns []Namespace) {
	for i := 1; i < len(ns); i++ {
		for j := i; j > 0 && ns[j].Type < ns[j-1].Type; j-- {
			ns[j], ns[j-1] = ns[j-1], ns[j]
		}
	}
}

// parseLimits parses /proc/PID/limits: a header line, then lines of
// "Name  Soft  Hard  [Units]" in fixed columns (names contain spaces).
func parseLimits(data []byte) []Limit {
	var out []Limit
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) == 0 {
		return nil
	}
	head := string(lines[0])
	softCol := strings.Index(head, "Soft Limit")
	if softCol < 0 {
		return nil
	}
	for _, ln := range lines[1:] {
		if len(ln) <= softCol {
			continue
		}
		name := strings.TrimSpace(string(ln[:softCol]))
		f := strings.Fields(string(ln[softCol:]))
		if name == "" || len(f) < 2 {
			continue
		}
		l := Limit{Name: name, Soft: limitValue(f[0]), Hard: limitValue(f[1])}
		if len(f) > 2 {
			l.Units = f[2]
		}
		out = append(out, l)
	}
	return out
}

func limitValue(s string) int64 {
	if s == "unlimited" {
		return -1
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return v
}
