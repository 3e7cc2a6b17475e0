package dashboard

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/collector"
)

// TestStatusTabNamesTracer (fix12b's open items): the Status tab names
// the tracer by command and pid, as explain does ("Traced by 1" was the
// pid alone): a process's main thread, or a thread of another process
// ("a thread of"), from the frame's snapshot; the command made inert.
// A TracerPid the snapshot does not hold is shown as it is.
func TestStatusTabNamesTracer(t *testing.T) {
	snap := fixtureSnapshot(t, "multithread")
	d := &Dashboard{frame: frameOf(1, nil, snap)}
	v := &detailView{d: d}
	var tracer *collector.Process
	for i := range snap.Processes {
		if snap.Processes[i].PID == 100 {
			tracer = &snap.Processes[i]
		}
	}
	if tracer == nil || len(tracer.Threads) < 2 {
		t.Fatalf("fixture process 100 with its threads: %+v", tracer)
	}
	tracer.Comm = "str\x1b[2Jace"
	worker := tracer.Threads[1].TID
	p := snap.Processes[0]
	for _, c := range []struct {
		tracerPID int
		want      string
	}{
		{100, "str?" + literalBracket + "2Jace (TracerPid 100)"},
		{worker, "str?" + literalBracket + "2Jace (TracerPid " + strconv.Itoa(worker) + ", a thread of 100)"},
		{4242, "TracerPid 4242"},
	} {
		p.TracerPID = c.tracerPID
		text := v.statusText(&p, 1000)
		i := strings.Index(text, "Traced by")
		if i < 0 {
			t.Fatalf("no Traced by line:\n%s", text)
		}
		line, _, _ := strings.Cut(text[i:], "\n")
		if !strings.Contains(line, c.want) || strings.Contains(line, "\x1b") {
			t.Errorf("TracerPid %d: %q, want %q", c.tracerPID, line, c.want)
		}
	}
}
