package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/record"
)

// TestExplainAtNamesTracer (fix12b's open items): `explain --at` names a
// recorded tracer by command and pid, as a live explain does, from the
// sample its TracerPid was recorded in (it said "(TracerPid N)").
func TestExplainAtNamesTracer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("strace -p of a child needs root here (yama ptrace_scope)")
	}
	stracePath, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("no strace")
	}
	sl := exec.Command("sleep", "600")
	if err := sl.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	t.Cleanup(func() { _ = sl.Process.Kill(); _ = sl.Wait() })
	st := exec.Command(stracePath, "-o", "/dev/null", "-p", strconv.Itoa(sl.Process.Pid))
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Process.Signal(os.Interrupt); _ = st.Wait() })
	status := "/proc/" + strconv.Itoa(sl.Process.Pid) + "/status"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(status)
		if strings.Contains(string(b), "\nTracerPid:\t"+strconv.Itoa(st.Process.Pid)+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("strace %d not the tracer of %d in 20 s", st.Process.Pid, sl.Process.Pid)
		}
	}
	dir := filepath.Join(t.TempDir(), "rec")
	rec := command("record", "--dir", dir, "--interval", "500ms", "--threads-every", "1", "--fsync", "none")
	errb := &lockedBuffer{}
	rec.Stderr = errb
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer rec.Process.Kill()
	deadline := time.Now().Add(3 * time.Minute)
	for n := 0; n < 3; n = samplesWith(t, dir, sl.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%d samples with the sleep in 3 min; stderr:\n%s", n, errb.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := rec.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := rec.Wait(); err != nil {
		t.Fatalf("recorder after SIGINT: %v; stderr:\n%s", err, errb.String())
	}
	rs, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, last := rs.Span()
	rs.Close()
	doc := explainAtJSON(t, "--dir", dir, "--at", last.Format(time.RFC3339Nano), "--window", "1h", strconv.Itoa(sl.Process.Pid))
	f := finding(doc, "traced")
	want := "strace (TracerPid " + strconv.Itoa(st.Process.Pid) + ")"
	if f == nil || !strings.Contains(f.Verdict, want) {
		t.Errorf("no traced finding naming %q: %+v", want, doc.Findings)
	}
}
