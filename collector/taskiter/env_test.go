package taskiter

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// The bad environments, staged for real where this machine allows it:
// a user without capabilities, root without CAP_PERFMON, a seccomp
// filter on bpf(), a missing BTF file, the verifier rejecting a program,
// a kernel without the iterator asked for. Lockdown cannot be turned on
// here (it cannot be turned off again); its line is tested on the file's
// format.

// helperEnv makes the test binary, re-run, open the iterator and print
// the error line instead of running tests: "open" as it is, "seccomp"
// after installing a seccomp filter that refuses bpf().
const helperEnv = "PINSPECT_TASKITER_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "seccomp":
		if err := denyBPFSyscall(); err != nil {
			fmt.Println("seccomp:", err)
			os.Exit(3)
		}
	case "timens":
		os.Exit(printOwnStart())
	}
	it, err := Open(Options{})
	if err != nil {
		var ue *UnavailableError
		if errors.As(err, &ue) {
			fmt.Printf("kind=%d\n%s\n", ue.Kind, err)
		} else {
			fmt.Printf("kind=?\n%s\n", err)
		}
		os.Exit(0)
	}
	it.Close()
	fmt.Println("kind=0\nloaded")
	os.Exit(0)
}

// denyBPFSyscall installs a seccomp filter on every thread that fails
// bpf(2) with EPERM, as a container runtime's default profile does.
func denyBPFSyscall() error {
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	const (
		retErrno = 0x00050000
		retAllow = 0x7fff0000
	)
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_BPF},
		{Code: unix.BPF_RET | unix.BPF_K, K: retErrno | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: retAllow},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return errno
	}
	return nil
}

// runHelper runs a copy of the test binary (readable by any user) under
// the given command prefix, in helper mode, and returns the reason kind
// and the error line it printed.
func runHelper(t *testing.T, mode string, prefix ...string) (kind, line string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to stage the environment")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	bin := filepath.Join(dir, "taskiter.test")
	copyFile(t, self, bin)
	args := append(append([]string{}, prefix...), bin)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	k, rest, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if strings.Contains(rest, "\n") {
		t.Errorf("the reason is more than one line: %q", rest)
	}
	return strings.TrimPrefix(k, "kind="), rest
}

// printOwnStart is the "timens" helper: it prints this process's start
// ticks from a pass and from /proc/self/stat, and the offset file.
func printOwnStart() int {
	it, err := Open(Options{})
	if err != nil {
		fmt.Printf("kind=?\n%s\n", err)
		return 0
	}
	defer it.Close()
	var ticks uint64
	if _, err := it.Pass(func(t *Task) error {
		if t.TID == os.Getpid() {
			ticks = t.StartTicks()
		}
		return nil
	}); err != nil {
		fmt.Printf("kind=?\npass: %s\n", err)
		return 0
	}
	st, _ := readStat("/proc/self/stat")
	fmt.Printf("kind=0\n%d %d\n", ticks, st.u(22))
	return 0
}

// TestPassInTimeNamespace: in a time namespace whose boot time is moved
// (a checkpoint restored elsewhere, a container), /proc shows every start
// time with the namespace's offset added; a pass shows the same numbers,
// so that identities from either agree.
func TestPassInTimeNamespace(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) not installed")
	}
	if out, err := exec.Command(unshare, "--time", "--boottime", "86400", "--fork", "true").CombinedOutput(); err != nil {
		t.Skipf("no time namespaces here: %v %s", err, out)
	}
	kind, line := runHelper(t, "timens", unshare, "--time", "--boottime", "86400", "--fork")
	if kind != "0" {
		t.Fatalf("the iterator did not load in a time namespace: %s", line)
	}
	var pass, proc uint64
	if _, err := fmt.Sscan(line, &pass, &proc); err != nil {
		t.Fatalf("helper printed %q: %v", line, err)
	}
	if pass != proc || proc < 86400*ClockTicks {
		t.Errorf("own start ticks in a time namespace 1 day ahead: pass %d, /proc %d", pass, proc)
	}
}

func TestParseBootOffset(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"monotonic           0         0\nboottime        86400         0\n", 86400e9, true},
		{"monotonic 5 0\nboottime -3600 250000000\n", -3600e9 + 250000000, true},
		{"monotonic 0 0\n", 0, false},
		{"boottime x 0\n", 0, false},
		{"", 0, false},
	} {
		if got, ok := parseBootOffset([]byte(c.in)); got != c.want || ok != c.ok {
			t.Errorf("%q: %d %v, want %d %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func needSetpriv(t *testing.T) string {
	p, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	return p
}

func TestUnavailableUnprivilegedUser(t *testing.T) {
	sp := needSetpriv(t)
	kind, line := runHelper(t, "open", sp, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--")
	t.Log(line)
	if kind != fmt.Sprint(int(NotPermitted)) || !strings.Contains(line, "needs root or the CAP_BPF and CAP_PERFMON") {
		t.Errorf("kind %s line %q", kind, line)
	}
}

func TestUnavailableWithoutPerfmon(t *testing.T) {
	sp := needSetpriv(t)
	// Root keeps CAP_BPF but loses CAP_PERFMON (and CAP_SYS_ADMIN, which
	// implies both): loading a tracing program is refused.
	kind, line := runHelper(t, "open", sp, "--bounding-set=-perfmon,-sys_admin", "--inh-caps=-all", "--")
	t.Log(line)
	if kind != fmt.Sprint(int(NotPermitted)) {
		t.Errorf("kind %s line %q", kind, line)
	}
}

func TestUnavailableSeccomp(t *testing.T) {
	kind, line := runHelper(t, "seccomp")
	t.Log(line)
	if kind != fmt.Sprint(int(Seccomp)) || !strings.Contains(line, "seccomp filter refuses the bpf() system call") {
		t.Errorf("kind %s line %q", kind, line)
	}
}

func TestAvailableAsRoot(t *testing.T) {
	kind, line := runHelper(t, "open")
	if kind != "0" {
		t.Errorf("as root: kind %s line %q", kind, line)
	}
}

func TestUnavailableNoBTF(t *testing.T) {
	_, err := Open(Options{KernelBTF: filepath.Join(t.TempDir(), "vmlinux")})
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Kind != NoBTF || !strings.Contains(err.Error(), "no kernel BTF at") {
		t.Fatalf("%v", err)
	}
	t.Log(err)
	// A file that is not BTF at all.
	bad := filepath.Join(t.TempDir(), "vmlinux")
	if err := os.WriteFile(bad, []byte("not btf"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(Options{KernelBTF: bad})
	if !errors.As(err, &ue) || ue.Kind != NoBTF {
		t.Fatalf("%v", err)
	}
}

// TestUnavailableVerifier has the kernel's verifier reject a program (it
// reads a register that was never written) and checks the line names the
// verifier and its complaint.
func TestUnavailableVerifier(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to reach the verifier")
	}
	_, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.SocketFilter,
		License: "MIT",
		Instructions: asm.Instructions{
			asm.Mov.Reg(asm.R0, asm.R5), // R5 is not initialised
			asm.Return(),
		},
	})
	if err == nil {
		t.Fatal("the verifier accepted a read of an unset register")
	}
	ue := classify(err)
	t.Log(ue)
	if ue.Kind != Verifier || !strings.Contains(ue.Error(), "verifier rejected the program: ") || !strings.Contains(ue.Error(), "R5") {
		t.Errorf("%v", ue)
	}
	if strings.Contains(ue.Error(), "\n") {
		t.Errorf("more than one line: %q", ue.Error())
	}
}

// TestUnavailableNoIterator asks for an iterator this kernel does not
// have, as a kernel before 5.8 lacks the task iterator.
func TestUnavailableNoIterator(t *testing.T) {
	_, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceIter,
		AttachTo:     "pinspect_no_such_iterator",
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err == nil {
		t.Fatal("loaded an iterator the kernel does not have")
	}
	ue := classify(err)
	t.Log(ue)
	if ue.Kind != NoTaskIterator || !strings.Contains(ue.Error(), "no BPF task iterator") {
		t.Errorf("%v (from %v)", ue, err)
	}
}

func TestParseLockdown(t *testing.T) {
	for in, want := range map[string]string{
		"[none] integrity confidentiality\n": "none",
		"none integrity [confidentiality]\n": "confidentiality",
		"none [integrity] confidentiality\n": "integrity",
		"":                                   "",
		"garbage]":                           "",
	} {
		if got := parseLockdown([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestUnavailableInChildPidNamespace: in a child pid namespace with a
// /proc of its own (a container's), the NSpid line shows one level, yet
// the iterator walks the host's tasks under the host's pids: the
// iterator is refused, naming the namespace, and /proc is read instead.
func TestUnavailableInChildPidNamespace(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1)")
	}
	kind, line := runHelper(t, "open", unshare, "--pid", "--fork", "--mount-proc")
	if kind != strconv.Itoa(int(PidNamespace)) || !strings.Contains(line, "child pid namespace") {
		t.Errorf("in a child pid namespace with its own /proc: kind %s, %q; want %d naming the namespace", kind, line, PidNamespace)
	}
	if kind, line := runHelper(t, "open"); kind != "0" {
		t.Errorf("in this namespace: kind %s, %q; want loaded", kind, line)
	}
}
