package main

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// complete runs `pinspect __complete ARGS...` (what the shell scripts
// call on TAB) in a child process and returns the candidates and the
// directive.
func complete(t *testing.T, args ...string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	r := pinspect(t, append([]string{"__complete"}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %q: exit %d: %s", args, r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, ":") {
		t.Fatalf("__complete %q: no directive line: %q", args, r.stdout)
	}
	d, err := strconv.Atoi(last[1:])
	if err != nil {
		t.Fatal(err)
	}
	return lines[:len(lines)-1], cobra.ShellCompDirective(d)
}

// TestCompleteLivePID: `pinspect show <TAB>` offers the live pids with
// their comm and user, not file names.
func TestCompleteLivePID(t *testing.T) {
	sleeper := exec.Command("sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	pid := strconv.Itoa(sleeper.Process.Pid)

	for _, prefix := range []string{"", pid[:1], pid} {
		got, dir := complete(t, "show", prefix)
		if dir&cobra.ShellCompDirectiveNoFileComp == 0 {
			t.Errorf("show %q: directive %d offers files", prefix, dir)
		}
		found := false
		for _, c := range got {
			if !strings.HasPrefix(c, prefix) {
				t.Errorf("show %q: candidate %q does not start with it", prefix, c)
			}
			found = found || strings.HasPrefix(c, pid+"\tsleep (")
		}
		if !found {
			t.Errorf("show %q: no %s<TAB>sleep (user) among %d candidates", prefix, pid, len(got))
		}
	}
	// show takes one pid: nothing after it, and no files either.
	if got, dir := complete(t, "show", pid, ""); len(got) != 0 || dir&cobra.ShellCompDirectiveNoFileComp == 0 {
		t.Errorf("show PID <TAB>: %q, directive %d", got, dir)
	}
	// --pid completes a list, without the pids already given.
	got, _ := complete(t, "ps", "--pid", pid+",")
	for _, c := range got {
		if strings.HasPrefix(c, pid+","+pid+"\t") {
			t.Errorf("--pid %s,: offers %s again", pid, pid)
		}
	}
	if len(got) == 0 || !strings.HasPrefix(got[0], pid+",") {
		t.Errorf("--pid %s,: %q", pid, got)
	}
}

// TestCompleteHostileComm: a comm with a newline, a tab or an escape
// sequence cannot add candidates or act on the terminal: every line is
// one pid, a tab, and printable text.
func TestCompleteHostileComm(t *testing.T) {
	for _, tree := range []string{"hostile-comm", "hostile"} {
		got, _ := complete(t, "--proc-root", fixtureRoot+tree, "show", "")
		if len(got) == 0 {
			t.Fatalf("%s: no candidates", tree)
		}
		for _, c := range got {
			pid, desc, ok := strings.Cut(c, "\t")
			if _, err := strconv.Atoi(pid); err != nil || !ok || desc == "" {
				t.Errorf("%s: candidate %q is not PID<TAB>description", tree, c)
			}
			for _, r := range desc {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
					t.Errorf("%s: control character %U in %q", tree, r, c)
				}
			}
		}
	}
	got, _ := complete(t, "--proc-root", fixtureRoot+"hostile-comm", "show", "400")
	if len(got) != 1 || !strings.HasPrefix(got[0], "400\t) (x y?z (") {
		t.Errorf("pid 400 (comm with a newline): %q", got)
	}
}

func TestCompleteFlags(t *testing.T) {
	got, dir := complete(t, "ps", "--state", "Z")
	if len(got) != len("RSDZTtXIPL")-1 || got[0] != "ZR\trunning" || !strings.HasPrefix(got[len(got)-1], "ZL\tleader exited") || dir&cobra.ShellCompDirectiveNoSpace == 0 {
		t.Errorf("--state Z: %q (directive %d)", got, dir)
	}
	for _, c := range got {
		if strings.Count(c[:strings.IndexByte(c, '\t')], "Z") != 1 {
			t.Errorf("--state Z offers Z again: %q", c)
		}
	}
	got, _ = complete(t, "watch", "--types", "spawn,e")
	if strings.Join(got, "|") != "spawn,exec\ta process ran a new program|spawn,exit\ta process exited, with its status" {
		t.Errorf("--types spawn,e: %q", got)
	}
	got, _ = complete(t, "--proc-root", fixtureRoot+"multithread", "ps", "--user", "")
	// uid 0 (pid 1) and uid 1000 (pid 100), named by this machine's
	// passwd file.
	if len(got) != 2 || !slices.Contains(got, "root\t1 process") {
		t.Errorf("--user on the multithread tree: %q", got)
	}
	// The recorder's commands: event types (no "all": the record has
	// none), signals by name, outcomes; explain's pid and severities.
	got, _ = complete(t, "events", "--type", "reaped,re")
	if strings.Join(got, "|") != "reaped,rename\tcomm changed, same executable|reaped,reparent\ta process was adopted" {
		t.Errorf("events --type reaped,re: %q", got)
	}
	if got, _ = complete(t, "events", "--type", "a"); len(got) != 0 {
		t.Errorf("events --type a: %q", got)
	}
	for typed, want := range map[string]string{"SE": "SEGV\t11", "sigk": "sigkill\t9", "SIGKI": "SIGKILL\t9"} {
		if got, _ = complete(t, "events", "--signal", typed); len(got) != 1 || got[0] != want {
			t.Errorf("events --signal %s: %q, want %q", typed, got, want)
		}
	}
	if got, _ = complete(t, "events", "--outcome", "c"); strings.Join(got, "|") != "core\tdumped core" {
		t.Errorf("events --outcome c: %q", got)
	}
	if got, _ = complete(t, "explain", "--min-severity", "n"); strings.Join(got, "|") != "notice\tnotices and warnings" {
		t.Errorf("explain --min-severity n: %q", got)
	}
	if got, _ = complete(t, "--proc-root", fixtureRoot+"multithread", "explain", "1"); len(got) == 0 || !strings.HasPrefix(got[0], "1\t") {
		t.Errorf("explain <TAB> on the multithread tree: %q", got)
	}
	if got, _ = complete(t, "dump", "t"); strings.Join(got, "|") != "thread" {
		t.Errorf("dump t: %q", got)
	}
	for _, c := range []struct{ args, want []string }{
		{[]string{"serve", "--log.format", ""}, []string{"logfmt", "json"}},
		{[]string{"record", "--fsync", ""}, []string{"sample", "none"}},
		{[]string{"record", "--log.level", "w"}, []string{"warn"}},
		{[]string{"ps", "--collector", "t"}, []string{"task_iter"}},
		{[]string{"dump", "--format", ""}, []string{"ndjson", "csv"}},
	} {
		got, _ = complete(t, c.args...)
		var values []string
		for _, g := range got {
			v, _, _ := strings.Cut(g, "\t")
			values = append(values, v)
		}
		if !slices.Equal(values, c.want) {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
	got, _ = complete(t, "--proc-root", fixtureRoot+"multithread", "ps", "--name", "se")
	if strings.Join(got, "|") != "server" {
		t.Errorf("--name se: %q", got)
	}
}
