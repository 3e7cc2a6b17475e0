package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestConnectorFallbackInNetNamespace: the kernel's process-events
// connector exists only in the initial network namespace. In another one
// (a container without the host's network, a pod without hostNetwork)
// pinspect must say that it polls instead, and go on working: a real
// namespace made with `ip netns add`, pinspect run in it with `ip netns
// exec` (docs/DEPLOY.md relies on this). The BPF tracepoints, which
// watch takes with the task iterator, work there.
func TestConnectorFallbackInNetNamespace(t *testing.T) {
	if syscall.Getuid() != 0 {
		t.Skip("ip netns add needs root")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal("ip(8) not installed (.ci/run installs iproute2):", err)
	}
	ns := "pinspect-test-" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", ns).Run() })

	watch := func(inNS bool, extra ...string) result {
		args := append([]string{"watch", "--duration", "1s", "--interval", "200ms"}, extra...)
		var cmd *exec.Cmd
		if inNS {
			cmd = exec.Command(ip, append([]string{"netns", "exec", ns, os.Args[0]}, args...)...)
			asPinspect(cmd)
		} else {
			cmd = command(args...)
		}
		return runCmd(t, cmd)
	}
	// The /proc collector takes no BPF tracepoints: the connector, which
	// the namespace refuses.
	r := watch(true, "--collector", "proc")
	// Exit 0 when it printed events, 1 when none happened (nothing
	// matched); either way it ran, polling, and said so.
	if (r.code != 0 || r.stdout == "") && (r.code != exitNoMatch || r.stdout != "") ||
		!strings.Contains(r.stderr, "kernel process events unavailable") || !strings.Contains(r.stderr, "polling every interval") {
		t.Errorf("in a new network namespace: exit %d, stdout %.300q, stderr %q; want the polling fallback said", r.code, r.stdout, r.stderr)
	}
	// The host's namespace, for contrast: there the connector works.
	if r := watch(false, "--collector", "proc"); !strings.Contains(r.stderr, "subscribed") {
		t.Logf("the host namespace did not subscribe either (%q): the contrast is not shown", r.stderr)
	}
	// The BPF tracepoints (the task iterator's collector) belong to no
	// network namespace: watch has every event there too.
	if r := watch(true, "--collector", "task_iter"); r.code == exitError && strings.Contains(r.stderr, "task_iter") {
		t.Logf("no task iterator here (%q): the tracepoints in the namespace are not shown", r.stderr)
	} else if !strings.Contains(r.stderr, "BPF tracepoints, read at each scan") {
		t.Errorf("in a new network namespace with the task iterator: exit %d, stderr %q; want the BPF tracepoints", r.code, r.stderr)
	}
	// Everything else works in the namespace: a snapshot reads /proc.
	cmd := exec.Command(ip, "netns", "exec", ns, os.Args[0], "ps", "--pid", "1")
	asPinspect(cmd)
	if r := runCmd(t, cmd); r.code != 0 || !strings.Contains(r.stdout, "1 process") {
		t.Errorf("ps in the namespace: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}
