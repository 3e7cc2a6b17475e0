package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestExplainAtNamesTracer (fix12b's open items): `explain --at` names a
// recorded tracer by command and pid, as a live explain does, from the
// sample its TracerPid was recorded in (it said "(TracerPid N)").
func TestExplainAtNamesTracer(t *testing.T) {
	sleepPID, stracePID := livehelper.StracedSleep(t)
	dir := filepath.Join(t.TempDir(), "rec")
	rec := command("record", "--dir", dir, "--interval", "500ms", "--threads-every", "1", "--fsync", "none")
	errb := &lockedBuffer{}
	rec.Stderr = errb
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer rec.Process.Kill()
	deadline := time.Now().Add(3 * time.Minute)
	for n := 0; n < 3; n = samplesWith(t, dir, sleepPID) {
		if time.Now().After(deadline) {
			t.Fatalf("%d samples with the sleep in 3 min; stderr:\n%s", n, errb.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	stopRecorder(t, rec, errb)
	doc := explainAtJSON(t, "--dir", dir, "--at", recordEnd(t, dir).Format(time.RFC3339Nano), "--window", "1h", strconv.Itoa(sleepPID))
	f := finding(doc, "traced")
	want := "strace (TracerPid " + strconv.Itoa(stracePID) + ")"
	if f == nil || !strings.Contains(f.Verdict, want) {
		t.Errorf("no traced finding naming %q: %+v", want, doc.Findings)
	}
}
