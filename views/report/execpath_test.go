package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestEventExecPath: the exec'd path shows in the text line where the
// exe is not known, as a path and never as the exe, with its interpreter
// and "(truncated)" for a cut one; the JSON carries it in its own fields.
func TestEventExecPath(t *testing.T) {
	ep := &lifecycle.ExecPath{Path: "./job.py", Interp: "/usr/bin/python3"}
	code := collector.ExitStatus{Exited: true, Code: 3}
	e := lifecycle.Event{Type: lifecycle.Exit, Time: time.Unix(1, 0), ID: collector.ID{PID: 7, StartTicks: 1}, Comm: "job.py",
		Source: lifecycle.SourceTracepoint, ExitStatus: &code, ExecPath: ep}
	if line := FormatEvent(&e); !strings.Contains(line, "exit 3 path ./job.py via /usr/bin/python3  [kernel]") || strings.Contains(line, "exe") {
		t.Errorf("exit line %q", line)
	}
	e.Type = lifecycle.Exec
	e.ExecPath = &lifecycle.ExecPath{Path: "/opt/" + strings.Repeat("l", 122), PathTruncated: true}
	if line := FormatEvent(&e); !strings.HasSuffix(line, strings.Repeat("l", 122)+" (truncated)  [kernel]") {
		t.Errorf("exec line %q", line)
	}
	e.Exe = "/usr/bin/dash"
	if line := FormatEvent(&e); strings.Contains(line, " path ") || !strings.Contains(line, " exe /usr/bin/dash") {
		t.Errorf("exec line with an exe %q", line)
	}
	e.Exe, e.ExecPath = "", ep
	b, err := json.Marshal(NewEventDoc(&e))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["exec_path"] != "./job.py" || m["exec_interp"] != "/usr/bin/python3" || m["exe"] != nil || m["exec_path_truncated"] != nil {
		t.Errorf("JSON %s", b)
	}
}
