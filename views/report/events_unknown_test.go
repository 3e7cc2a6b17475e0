package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestUnknownNameShownAsQuestionMark: an event whose name is not known
// shows lifecycle.UnknownName where the name goes, in text, for every
// type that prints a name, with its note; its JSON has no comm (nor
// old_comm) at all, never an empty string.
func TestUnknownNameShownAsQuestionMark(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	exit := collector.DecodeWaitStatus(3 << 8)
	cases := []struct {
		e    lifecycle.Event
		want []string
	}{
		{lifecycle.Event{Type: lifecycle.Exec, Note: lifecycle.NoteExecNameExecAgain}, []string{" ? ", "was ?", lifecycle.NoteExecNameExecAgain}},
		{lifecycle.Event{Type: lifecycle.Exec, OldComm: "sh", Note: lifecycle.NoteExecNameGone}, []string{" ? ", "was sh", lifecycle.NoteExecNameGone}},
		{lifecycle.Event{Type: lifecycle.Exit, ExitStatus: &exit, Note: lifecycle.NoteExitNameUnknown}, []string{" ? ", "exit 3", lifecycle.NoteExitNameUnknown}},
		{lifecycle.Event{Type: lifecycle.Spawn, PPID: 7, Note: lifecycle.NoteSpawnParentNameUnknown}, []string{" ? ", "parent 7", lifecycle.NoteSpawnParentNameUnknown}},
		{lifecycle.Event{Type: lifecycle.Reaped}, []string{" ? "}},
	}
	for _, c := range cases {
		e := c.e
		e.Time, e.ID, e.Source = at, collector.ID{PID: 4242}, lifecycle.SourceConnector
		line := FormatEvent(&e)
		for _, w := range c.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: %q lacks %q", e.Type, line, w)
			}
		}
		b, err := json.Marshal(NewEventDoc(&e))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["comm"]; ok {
			t.Errorf("%s: JSON %s has a comm", e.Type, b)
		}
		if _, ok := m["old_comm"]; ok && e.OldComm == "" {
			t.Errorf("%s: JSON %s has an old_comm", e.Type, b)
		}
		if e.Note != "" && m["note"] != e.Note {
			t.Errorf("%s: JSON %s lacks the note", e.Type, b)
		}
	}
	named := lifecycle.Event{Type: lifecycle.Exec, Time: at, ID: collector.ID{PID: 1}, Comm: "sleep", OldComm: "sleep"}
	if line := FormatEvent(&named); strings.Contains(line, "?") || strings.Contains(line, "was") {
		t.Errorf("a named exec keeping its name: %q", line)
	}
}

// TestRestartUnknownNameAbsent: a restart whose end or start has no known
// name leaves ended_comm and started_comm out of its JSON.
func TestRestartUnknownNameAbsent(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	end := lifecycle.Event{Type: lifecycle.Exit, Time: at, ID: collector.ID{PID: 10}, OldComm: "crash", Note: lifecycle.NoteExitNameUnknown}
	start := lifecycle.Event{Type: lifecycle.Exec, Time: at.Add(time.Second), ID: collector.ID{PID: 11}, OldComm: "crash", Note: lifecycle.NoteExecNameGone}
	b, err := json.Marshal(NewRestartsDoc("crash", []Restart{{Ended: end, Started: start}}, &end))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"ended_comm"`, `"started_comm"`} {
		if strings.Contains(string(b), f) {
			t.Errorf("%s has %s", b, f)
		}
	}
}
