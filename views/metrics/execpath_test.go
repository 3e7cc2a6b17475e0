package metrics

import (
	"testing"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestExeRulesIgnoreExecPath: an event of a process no scan saw (no exe)
// is grouped by its comm alone: exe rules never match the path an exec
// was given (the caller's string: a user in a mount namespace of their
// own can exec their own /usr/sbin/sshd; review4 S1), nor a script's
// interpreter. An unauthenticated client's event loses the path with
// the exe.
func TestExeRulesIgnoreExecPath(t *testing.T) {
	g, _, err := ParseConfig([]byte("groups:\n  rules:\n" +
		"  - {name: py, exe: [python3]}\n" +
		"  - {name: daemon, exe: [/usr/sbin/sshd]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	tab := newGroupTable(&g)
	cases := []struct {
		comm string
		ep   *lifecycle.ExecPath
		want string
	}{
		{"job.py", &lifecycle.ExecPath{Path: "./job.py", Interp: "/usr/bin/python3"}, "job.py"},
		{"sshd", &lifecycle.ExecPath{Path: "/usr/sbin/sshd"}, "sshd"},
		{"averyveryverylo", &lifecycle.ExecPath{Path: "/opt/x/averyveryverylongprogramname", PathTruncated: true}, "averyveryverylo"},
		{"averyveryverylo", nil, "averyveryverylo"},
	}
	for i, c := range cases {
		e := lifecycle.Event{Type: lifecycle.Exit, ID: collector.ID{PID: 100 + i, StartTicks: 5}, Comm: c.comm, ExecPath: c.ep}
		if got := tab.groupOfEvent(&e).key.name; got != c.want {
			t.Errorf("%s %+v: group %q, want %q", c.comm, c.ep, got, c.want)
		}
		restrictEvent(&e)
		if e.ExecPath != nil {
			t.Errorf("%+v: restricted event keeps its exec path", c.ep)
		}
	}
	// The same event with the exe a scan read is in the rule's group.
	e := lifecycle.Event{Type: lifecycle.Exit, ID: collector.ID{PID: 200, StartTicks: 5}, Comm: "sshd", Exe: "/usr/sbin/sshd"}
	if got := tab.groupOfEvent(&e).key.name; got != "daemon" {
		t.Errorf("an exit with its exe /usr/sbin/sshd: group %q, want the rule's daemon", got)
	}
}
