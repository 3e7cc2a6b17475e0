package dashboard

import (
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestExplainPanelAndTab: a frame's explain findings show in the findings
// panel (the machine's and the focused process's worst) and in the
// detail view's Explain tab with evidence, sources and, on l, the lesson;
// a hostile verdict stays inert; a frame without findings says so.
func TestExplainPanelAndTab(t *testing.T) {
	th := livehelper.Start(t, "threads", "3")
	h := start(t, Options{Filter: "procshape"}, 180, 50)
	a, b := frames(t, th.PID())
	h.src.send(a)
	h.waitUntil("no findings note", func(s string) bool { return strings.Contains(s, "does not compute them") })
	one := 1.0
	b.Explain = &monitor.ExplainFrame{
		PID: th.PID(), Ticks: 5,
		Machine: []explain.Finding{{ID: "machine_cpu_contended", Question: explain.QMachine, Severity: explain.Warning,
			Verdict: "The CPUs are contended: 9.0 tasks wanted the 2 CPUs.", Evidence: []explain.Evidence{{Name: "runnable_avg", Value: &one, Unit: "threads", Text: "9.0 tasks runnable", Source: "/proc/loadavg"}}}},
		Focus: []explain.Finding{{ID: "pool_oversubscribed", Question: explain.QPool, PID: th.PID(), Comm: "procshape", Severity: explain.Notice,
			Verdict:  "Oversubscribed \x1b[31m[red]x: each waited 100 ms.",
			Evidence: []explain.Evidence{{Name: "run_queue_wait_per_slice_ms", Value: &one, Unit: "ms", Text: "100 ms waiting per slice", Source: "/proc/1/task/*/schedstat"}},
			Why:      "Requests wait.", Try: []string{"Use fewer threads."}, Lesson: "The run queue holds ready threads."}},
		FocusGaps: []explain.Unmeasured{{What: "syscall", Why: "permission denied"}},
	}
	h.src.send(b)
	scr := h.waitFor("The CPUs are contended")
	if !strings.Contains(scr, "Oversubscribed") || strings.Contains(scr, "\x1b") {
		t.Errorf("findings panel:\n%s", scr)
	}
	h.onUI(func() {
		h.d.table.Select(h.d.model.find(rowKey{id: lifecycle.Find(b.Snapshot, th.PID()).ID()})+1, 0)
	})
	h.key(tcell.KeyEnter)
	h.waitFor("1 Threads")
	h.runes("5")
	scr = h.waitFor("100 ms waiting per slice")
	for _, want := range []string{"/proc/1/task/*/schedstat", "why", "Requests wait.", "try", "Use fewer threads.", "Not measured", "permission denied", "[red]x"} {
		if !strings.Contains(scr, want) {
			t.Errorf("explain tab lacks %q:\n%s", want, scr)
		}
	}
	if strings.Contains(scr, "run queue holds") {
		t.Errorf("lesson shown before l:\n%s", scr)
	}
	h.runes("l")
	h.waitFor("The run queue holds ready threads.")
	c := *b
	c.Seq++
	c.Explain = &monitor.ExplainFrame{PID: th.PID(), Ticks: 1}
	h.src.send(&c)
	h.waitFor("Gathering: the findings span the last ticks of this process (1 so far)")
}
