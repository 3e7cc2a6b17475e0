package collector

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
	// Type is "pid", "net", "mnt", "uts", "ipc", "user", "cgroup", "time".
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
// named in Details.Unavailable.
func (r *Reader) Details(pid int) (*Details, error) {
	return &Details{PID: pid}, nil
}

// WChan reads what process pid is blocked in ("" when running).
func (r *Reader) WChan(pid int) (string, error) {
	return "", nil
}
