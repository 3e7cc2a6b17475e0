package dashboard

import (
	"strings"
	"testing"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/report"
)

// TestUnknownNameAsInText: the event list shows a name that is not known
// as the text outputs do (lifecycle.UnknownName), for spawns, execs and
// exits alike, and ends the line with the note.
func TestUnknownNameAsInText(t *testing.T) {
	exit := collector.DecodeWaitStatus(0)
	for _, e := range []lifecycle.Event{
		{Type: lifecycle.Spawn, PPID: 7, Note: lifecycle.NoteSpawnParentNameUnknown},
		{Type: lifecycle.Exec, Note: lifecycle.NoteExecNameGone},
		{Type: lifecycle.Exit, ExitStatus: &exit, Note: lifecycle.NoteExitNameUnknown},
		{Type: lifecycle.Zombie, PPID: 7},
	} {
		e.ID = collector.ID{PID: 4242}
		d := eventDetail(&e)
		text := report.FormatEvent(&e)
		if !strings.HasPrefix(d, lifecycle.UnknownName+" ") || !strings.Contains(text, " "+lifecycle.UnknownName+" ") {
			t.Errorf("%s: dashboard %q, text %q; want both to name it %q", e.Type, d, text, lifecycle.UnknownName)
		}
		if e.Note != "" && (!strings.HasSuffix(d, e.Note) || !strings.Contains(text, e.Note)) {
			t.Errorf("%s: dashboard %q, text %q; want the note in both", e.Type, d, text)
		}
	}
}
