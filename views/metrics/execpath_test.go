package metrics

import (
	"testing"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestExeRulesMatchExecPath: an event of a process no scan saw (no exe)
// is grouped by the program its exec'd path ran: the interpreter of a
// script, the path itself otherwise, compared unresolved; a cut path
// names no program. An unauthenticated client's event loses the path
// with the exe.
func TestExeRulesMatchExecPath(t *testing.T) {
	g, _, err := ParseConfig([]byte("groups:\n  rules:\n" +
		"  - {name: py, exe: [python3]}\n" +
		"  - {name: longprog, exe: [/opt/x/averyveryverylongprogramname]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	tab := newGroupTable(&g)
	cases := []struct {
		ep   *lifecycle.ExecPath
		want string
	}{
		{&lifecycle.ExecPath{Path: "./job.py", Interp: "/usr/bin/python3"}, "py"},
		{&lifecycle.ExecPath{Path: "/opt/x/averyveryverylongprogramname"}, "longprog"},
		{&lifecycle.ExecPath{Path: "/opt/x/averyveryverylongprogramname", PathTruncated: true}, "averyveryverylo"},
		{&lifecycle.ExecPath{Path: "./job.py", Interp: "/usr/bin/python3", InterpTruncated: true}, "job.py"},
		{nil, "averyveryverylo"},
	}
	for i, c := range cases {
		comm := "averyveryverylo"
		if c.ep != nil && c.ep.Interp != "" {
			comm = "job.py"
		}
		e := lifecycle.Event{Type: lifecycle.Exit, ID: collector.ID{PID: 100 + i, StartTicks: 5}, Comm: comm, ExecPath: c.ep}
		if got := tab.groupOfEvent(&e).key.name; got != c.want {
			t.Errorf("%+v: group %q, want %q", c.ep, got, c.want)
		}
		restrictEvent(&e)
		if e.ExecPath != nil {
			t.Errorf("%+v: restricted event keeps its exec path", c.ep)
		}
	}
}
