package dashboard

import (
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestCountsSayOne: a count of one takes the singular in the
// dashboard's messages: c on a process without children says "tagged 1
// process", and u's menu gives a user with one process "1 process"
// (the frame holds one real process, the helper).
func TestCountsSayOne(t *testing.T) {
	one := livehelper.Start(t, "comm", run("single"))
	h := start(t, Options{}, 160, 40)
	a, b := frames(t, one.PID())
	for i := range b.Snapshot.Processes {
		if p := b.Snapshot.Processes[i]; p.PID == one.PID() {
			b.Snapshot.Processes = b.Snapshot.Processes[i : i+1]
			break
		}
	}
	if len(b.Snapshot.Processes) != 1 {
		t.Fatalf("the helper %d is not in the frame", one.PID())
	}
	h.src.send(a)
	h.src.send(b)
	h.waitState("the helper's row alone", func(d *Dashboard) bool { return d.frame == b && len(d.model.rows) == 1 })
	h.runes("c")
	scr := h.waitFor("tagged 1 process")
	if strings.Contains(scr, "1 processes") {
		t.Errorf("says 1 processes:\n%s", scr)
	}
	h.runes("u")
	scr = h.waitFor("Show processes of")
	if !strings.Contains(scr, "1 process ") || strings.Contains(scr, "1 processes") {
		t.Errorf("user menu:\n%s", scr)
	}
	h.key(tcell.KeyEscape)
}
