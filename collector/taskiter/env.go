package taskiter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Kind says which of the known reasons keeps the iterator from loading.
type Kind int

// The reasons, each with its own line for the user.
const (
	// Broken: the embedded object is damaged (a build problem).
	Broken Kind = iota + 1
	// NoBTF: the kernel publishes no BTF (CONFIG_DEBUG_INFO_BTF off).
	NoBTF
	// NoTaskIterator: the kernel has no BPF task iterator (before 5.8),
	// or no bpf() system call at all.
	NoTaskIterator
	// NotPermitted: the process lacks CAP_BPF and CAP_PERFMON (or root).
	NotPermitted
	// Lockdown: kernel lockdown (confidentiality) forbids reading kernel
	// memory from BPF.
	Lockdown
	// Seccomp: a seccomp filter refuses the bpf() system call (a
	// container runtime's default profile does).
	Seccomp
	// Verifier: the kernel's verifier rejected the program.
	Verifier
	// PidNamespace: pinspect runs in a child pid namespace, where the
	// iterator's pids are not the ones /proc shows.
	PidNamespace
	// Other: anything else; Detail and Err say what.
	Other
)

// UnavailableError says why the task iterator cannot be used here. Its
// Error() is one line for the user, naming the reason; Err is the
// underlying error (for errors.Is), which may carry a long verifier log.
type UnavailableError struct {
	Kind   Kind
	Detail string
	Err    error
}

// Error is "BPF task iterator unavailable: <detail>".
func (e *UnavailableError) Error() string {
	return "BPF task iterator unavailable: " + e.Detail
}

// Unwrap returns the underlying error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Capability numbers not in older x/sys versions' names.
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// classify turns a load or attach error into an UnavailableError with
// the reason the environment gives.
func classify(err error) *UnavailableError {
	var ve *ebpf.VerifierError
	switch {
	case errors.As(err, &ve):
		if lockdownConfidential() {
			return &UnavailableError{Kind: Lockdown, Detail: "kernel lockdown (confidentiality) forbids BPF programs that read kernel memory", Err: err}
		}
		return &UnavailableError{Kind: Verifier, Detail: "the kernel's verifier rejected the program: " + verifierReason(ve), Err: err}
	case errors.Is(err, ebpf.ErrNotSupported), errors.Is(err, unix.ENOSYS):
		if errors.Is(err, unix.ENOSYS) && seccompFiltered() {
			return &UnavailableError{Kind: Seccomp, Detail: "a seccomp filter refuses the bpf() system call", Err: err}
		}
		return &UnavailableError{Kind: NoTaskIterator, Detail: "this kernel has no BPF task iterator (needs Linux 5.8 or later with CONFIG_BPF_SYSCALL)", Err: err}
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		if !mayLoadBPF() {
			return &UnavailableError{Kind: NotPermitted, Detail: "loading BPF needs root or the CAP_BPF and CAP_PERFMON capabilities, which this process does not have", Err: err}
		}
		if seccompFiltered() {
			return &UnavailableError{Kind: Seccomp, Detail: "a seccomp filter refuses the bpf() system call", Err: err}
		}
		if lockdownConfidential() {
			return &UnavailableError{Kind: Lockdown, Detail: "kernel lockdown (confidentiality) forbids BPF programs that read kernel memory", Err: err}
		}
		return &UnavailableError{Kind: NotPermitted, Detail: "the kernel refused to load BPF: " + firstLine(err.Error()), Err: err}
	}
	return &UnavailableError{Kind: Other, Detail: firstLine(err.Error()), Err: err}
}

// verifierReason is the last line of a verifier log that says something
// (the log ends with the failing instruction's complaint).
func verifierReason(ve *ebpf.VerifierError) string {
	for i := len(ve.Log) - 1; i >= 0; i-- {
		l := strings.TrimSpace(ve.Log[i])
		if l == "" || strings.HasPrefix(l, "processed ") || strings.HasPrefix(l, "verification time") || strings.HasPrefix(l, "stack depth") {
			continue
		}
		return l
	}
	return firstLine(ve.Cause.Error())
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// mayLoadBPF reports whether this process's effective capabilities allow
// loading a tracing program: CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN
// (which implies both).
func mayLoadBPF() bool {
	eff, err := effectiveCaps()
	if err != nil {
		return true // unknown: do not blame the capabilities
	}
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	if has(capSysAdmin) {
		return true
	}
	return has(capBPF) && has(capPerfmon)
}

// effectiveCaps is this thread's effective capability set.
func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, err
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

// lockdownConfidential reports whether kernel lockdown is in
// confidentiality mode, which takes bpf_probe_read_kernel away.
func lockdownConfidential() bool {
	b, err := os.ReadFile("/sys/kernel/security/lockdown")
	return err == nil && parseLockdown(b) == "confidentiality"
}

// parseLockdown is the active mode of /sys/kernel/security/lockdown
// ("none [integrity] confidentiality"): the bracketed word.
func parseLockdown(b []byte) string {
	i := bytes.IndexByte(b, '[')
	j := bytes.IndexByte(b, ']')
	if i < 0 || j < i {
		return ""
	}
	return string(b[i+1 : j])
}

// seccompFiltered reports whether this process runs under a seccomp
// filter (Seccomp: 2 in its status).
func seccompFiltered() bool {
	b, err := os.ReadFile("/proc/self/status")
	return err == nil && statusField(b, "Seccomp:") == "2"
}

// initPidNSIno is the inode number of the initial pid namespace
// (PROC_PID_INIT_INO in the kernel's include/linux/proc_ns.h, fixed
// since Linux 3.8).
const initPidNSIno = 0xEFFFFFFC

// inInitialPidNS says why pinspect is not in the initial pid namespace,
// seen through the /proc it reads (nil when it is). The NSpid line of
// its status is not enough: it starts at the namespace of the /proc
// mount, so in a container that mounts its own /proc it shows one level
// while the iterator walks the host's tasks under the host's pids. The
// namespace's inode is the initial one's only there; /proc/self missing
// (a /proc of another namespace, where pinspect has no pid) fails too.
func inInitialPidNS() error {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return fmt.Errorf("cannot tell pinspect's pid namespace from /proc/self/ns/pid: %w", err)
	}
	if st.Ino != initPidNSIno {
		return errors.New("pinspect runs in a child pid namespace")
	}
	return nil
}

// statusField is the value of a "Name:\tvalue" line of a status file.
func statusField(b []byte, name string) string {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte(name)); ok {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

// timensOffsets is where a process's time namespace offsets are shown
// (Linux 5.6 and later).
const timensOffsets = "/proc/self/timens_offsets"

// bootOffsetNs is the boottime offset of this process's time namespace,
// in nanoseconds: /proc adds it to every start time it shows
// (timens_add_boottime_ns) and subtracts it from btime, while the task
// iterator reads the raw start times. 0 outside a time namespace, or on a
// kernel without them (no file).
func bootOffsetNs(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	off, _ := parseBootOffset(b)
	return off
}

// parseBootOffset is the boottime line of a timens_offsets file
// ("boottime <seconds> <nanoseconds>"), in nanoseconds.
func parseBootOffset(b []byte) (int64, bool) {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		f := strings.Fields(string(line))
		if len(f) != 3 || f[0] != "boottime" {
			continue
		}
		sec, err1 := strconv.ParseInt(f[1], 10, 64)
		nsec, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return sec*1_000_000_000 + nsec, true
	}
	return 0, false
}
