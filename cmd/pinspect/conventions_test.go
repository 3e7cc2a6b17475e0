package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The command-line conventions a user of pgrep, ps and Nagios relies on:
// exit codes, flags that do not apply, ps's formats, --check's states.

// TestExitCodes: 0 something listed, 1 nothing matched (the output is
// still printed, empty), 2 usage, 3 run-time failure, as pgrep.
func TestExitCodes(t *testing.T) {
	zombie, multi, orphan := fixtureRoot+"zombie", fixtureRoot+"multithread", fixtureRoot+"orphan"
	rec, samples := recordLive(t, 2)
	recAt := samples[1].Snapshot.TakenAt.Format(time.RFC3339Nano)
	for _, c := range []struct {
		args   []string
		code   int
		stdout string // a part of stdout
		stderr string // a part of stderr ("" for none)
	}{
		{[]string{"ps", "--proc-root", zombie}, 0, "4 processes", ""},
		{[]string{"ps", "--proc-root", zombie, "--pid", "4242"}, 1, "0 processes", ""},
		{[]string{"ps", "--proc-root", zombie, "--name", "no-such-name"}, 1, "PID PPID USER", ""},
		{[]string{"ps", "--proc-root", zombie, "--state", "D", "-o", "csv"}, 1, "pid,ppid", ""},
		{[]string{"--json", "--proc-root", zombie, "--state", "R"}, 1, `"processes":[]`, ""},
		{[]string{"--json", "--proc-root", zombie, "--state", "Z"}, 0, `"pid":201`, ""},
		{[]string{"zombies", "--proc-root", zombie}, 0, "2 zombies under 1 parent", ""},
		{[]string{"zombies", "--proc-root", multi}, 1, "no zombie", ""},
		{[]string{"zombies", "--proc-root", zombie, "--json", "--user", "root"}, 1, `"parents":[]`, ""},
		{[]string{"orphans", "--proc-root", orphan}, 0, "", ""},
		{[]string{"orphans", "--proc-root", multi, "--json"}, 1, `"orphans":[]`, ""},
		{[]string{"show", "--proc-root", zombie, "4242"}, 1, "", "no such process: 4242"},
		{[]string{"watch", "--proc-root", zombie, "--duration", "300ms", "--interval", "100ms"}, 1, "", "pinspect watch:"},
		{[]string{"ps", "--proc-root", "/nonexistent"}, 3, "", "/nonexistent"},
		{[]string{"ps", "--sort", "nosuch"}, 2, "", `--sort: unknown column "nosuch"`},
		{[]string{"ps", "--pid", "abc"}, 2, "", `"abc" is not a pid (a positive whole number)`},
		{[]string{"ps", "--pid", "1,,2"}, 2, "", `"" is not a pid (a positive whole number)`},
		{[]string{"ps", "--pid", "-1"}, 2, "", `"-1" is not a pid (a positive whole number)`},
		{[]string{"watch", "--pid", "4194303", "--duration", "5s"}, 1, "", "no such process: 4194303"},
		// The record's readers: nothing matched is 1 too.
		{[]string{"events", "--dir", rec, "--pid", "4194303"}, 1, "", "no such events in the record"},
		{[]string{"events", "--dir", rec, "--restarts", "--name", "no-such-name", "--json"}, 1, `"restarts":[]`, ""},
		// dump's rows are data: the reason for exit 1 is on stderr.
		{[]string{"dump", "--dir", rec, "--pid", "4194303"}, 1, "", "pinspect: dump: no process row matched in the record (it spans "},
		{[]string{"dump", "event", "--dir", rec, "--name", "no-such-name", "--format", "csv"}, 1, "", "no event row matched"},
		{[]string{"dump", "event", "--dir", rec, "--since", time.Now().Add(time.Hour).Format(time.RFC3339)}, 1, "", "no event row matched"},
		// The second sample read no threads (recordLive).
		{[]string{"dump", "thread", "--dir", rec, "--since", recAt}, 1, "", "no thread row: no sample in the range read threads"},
		{[]string{"dump", "system", "--dir", rec}, 0, `"schema":"pinspect.dump.system/v1"`, ""},
		{[]string{"show", "4194303", "--dir", rec, "--at", recAt}, 1, "", "no process 4194303 in the record"},
		{[]string{"ps", "--dir", rec, "--at", recAt, "--pid", "4194303"}, 1, "0 processes", ""},
		{[]string{"ps", "--dir", rec, "--at", "2001-01-01T00:00:00Z"}, 3, "", "the record starts later"},
		// A time no record holds is a usage error, not a saturated gap (tester14).
		{[]string{"ps", "--dir", rec, "--at", "@99999999999"}, 2, "", `--at: "@99999999999" is 5138-11-16T09:46:39Z: want a time from 1970 to a year from now`},
		{[]string{"explain", "--dir", rec, "--at", "@99999999999"}, 2, "", "want a time from 1970 to a year from now"},
		{[]string{"events", "--dir", "/nonexistent"}, 3, "", "no recording in /nonexistent"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := pinspect(t, c.args...)
			if r.code != c.code || !strings.Contains(r.stdout, c.stdout) || (c.stderr == "") != (r.stderr == "") || !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", r.code, c.code, r.stdout, c.stdout, r.stderr, c.stderr)
			}
		})
	}
}

// TestFlagsThatDoNotApply: a flag a command would ignore is refused, with
// the same message everywhere: exit 2, one line, nothing on stdout.
func TestFlagsThatDoNotApply(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"show", "1", "--name", "x"}, "--name does not apply to pinspect show (it takes no process filter)"},
		{[]string{"serve", "--user", "root"}, "--user does not apply to pinspect serve (it takes no process filter)"},
		{[]string{"watch", "--user", "root"}, "--user does not apply to pinspect watch (it filters by --pid, --name)"},
		{[]string{"watch", "--state", "Z"}, "--state does not apply to pinspect watch (it filters by --pid, --name)"},
		{[]string{"completion", "bash", "--pid", "1"}, "--pid does not apply to pinspect completion bash"},
		{[]string{"--json", "--readonly"}, "--readonly does not apply to pinspect --json (it is a dashboard option)"},
		{[]string{"--json", "--interval", "2s"}, "--interval does not apply to pinspect --json"},
		{[]string{"--no-threads"}, "--no-threads does not apply to pinspect without a terminal"},
		{[]string{"--readonly"}, "--readonly does not apply to pinspect without a terminal"},
		{[]string{"--remote", "http://127.0.0.1:1"}, "--remote opens the dashboard, which needs a terminal"},
		{[]string{"ps", "-o", "json", "--columns", "pid"}, "--columns does not apply to ps -o json"},
		{[]string{"ps", "-o", "json", "--no-headers"}, "--no-headers does not apply to ps -o json"},
		{[]string{"ps", "--json", "-o", "csv"}, "--json is -o json; it cannot go with -o csv"},
		{[]string{"ps", "-o", "yaml"}, `-o "yaml": want one of table, wide, json, csv`},
		{[]string{"ps", "--columns", "pid,bogus"}, `--columns: unknown column "bogus"`},
		{[]string{"zombies", "--warning", "3"}, "--warning does not apply to zombies without --check"},
		// The /proc flags where no /proc is read, and --dir without --at.
		{[]string{"events", "--proc-root", "/proc"}, "--proc-root does not apply to pinspect events (it reads the record (--dir), not /proc)"},
		{[]string{"dump", "--collector", "proc"}, "--collector does not apply to pinspect dump (it reads the record (--dir), not /proc)"},
		{[]string{"replay", "--rootfs", "/"}, "--rootfs does not apply to pinspect replay (it reads the record (--dir), not /proc)"},
		{[]string{"completion", "bash", "--passwd-file", "/etc/passwd"}, "--passwd-file does not apply to pinspect completion bash (it reads no /proc)"},
		{[]string{"ps", "--at", "1h", "--proc-root", "/proc"}, "--proc-root does not apply to pinspect ps (with --at it reads the record (--dir), not /proc)"},
		{[]string{"--json", "--at", "1h", "--collector", "proc"}, "--collector does not apply to pinspect (with --at it reads the record (--dir), not /proc)"},
		{[]string{"--remote", "http://127.0.0.1:1", "--proc-root", "/proc"}, "--proc-root does not apply to pinspect (with --remote the agent reads its own /proc)"},
		{[]string{"ps", "--dir", "/tmp"}, "--dir does not apply to pinspect ps without --at (it names the record --at reads)"},
		{[]string{"show", "1", "--dir", "/tmp"}, "--dir does not apply to pinspect show without --at"},
		{[]string{"--json", "--dir", "/tmp"}, "--dir does not apply to pinspect without --at"},
		{[]string{"explain", "1", "--at", "1h", "--proc-root", "/proc"}, "--proc-root does not apply to pinspect explain (with --at it reads the record (--dir), not /proc)"},
		// Options the rest of the command line makes moot.
		{[]string{"ps", "--at", "1h", "--sample", "1s"}, "--sample does not apply to ps --at"},
		{[]string{"show", "1", "--at", "1h", "--smaps=false"}, "--smaps does not apply to show --at (memory maps are not recorded)"},
		{[]string{"show", "1", "--json", "--maps"}, "--maps does not apply to show --json (the document lists every mapping)"},
		{[]string{"orphans", "--at", "1h", "--observe", "1s"}, "--observe does not apply to orphans --at"},
		// Given is given, whatever the value: its default was taken as
		// not given (tester14).
		{[]string{"orphans", "--at", "1h", "--observe", "0"}, "--observe does not apply to orphans --at"},
		{[]string{"ps", "--at", "1h", "--sample", "0"}, "--sample does not apply to ps --at"},
		{[]string{"ps", "-o", "json", "--no-headers=false"}, "--no-headers does not apply to ps -o json"},
		{[]string{"serve", "--web.scrape-socket-mode", "0660"}, "--web.scrape-socket-mode and --web.scrape-socket-group need --web.scrape-address"},
		{[]string{"serve", "--web.scrape-address", "127.0.0.1:0", "--web.scrape-socket-mode", "0660"}, "--web.scrape-socket-mode and --web.scrape-socket-group apply to a unix:PATH --web.scrape-address"},
		{[]string{"explain", "1", "--top", "3"}, "--top does not apply to explain PID"},
		{[]string{"explain", "1", "--candidates", "3"}, "--candidates does not apply to explain PID"},
		{[]string{"events", "--restarts", "--name", "x", "--type", "exit"}, "--type does not apply to events --restarts"},
		{[]string{"events", "--restarts", "--name", "x", "--signal", "SEGV"}, "--signal does not apply to events --restarts"},
		{[]string{"dump", "event", "--user", "root"}, "--user does not apply to dump event (it filters by --pid, --name)"},
		{[]string{"dump", "system", "--pid", "1"}, "--pid does not apply to dump system (it takes no process filter)"},
		{[]string{"record", "--memory-every", "0", "--memory-top", "5"}, "--memory-top does not apply to record --memory-every 0"},
		{[]string{"serve", "--web.systemd-socket", "--web.listen-address", "127.0.0.1:9"}, "--web.listen-address does not apply to serve --web.systemd-socket"},
		{[]string{"serve", "--web.systemd-socket", "--web.listen-any"}, "--web.listen-any does not apply to serve --web.systemd-socket"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := pinspect(t, c.args...)
			if r.code != exitUsage || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d stdout %q stderr %q; want exit 2 and %q", r.code, r.stdout, r.stderr, c.want)
			}
		})
	}
}

func TestPSFormats(t *testing.T) {
	root := fixtureRoot + "zombie"
	// The default table is what it always was.
	r := pinspect(t, "ps", "--proc-root", root)
	lines := strings.Split(r.stdout, "\n")
	if lines[0] != "PID PPID USER     S THR VCSW NVCSW  RSS COMMAND" && !strings.HasPrefix(lines[0], "PID PPID USER ") {
		t.Errorf("heading %q", lines[0])
	}
	if !strings.HasSuffix(lines[3], "   - child <defunct>") || !strings.HasPrefix(lines[5], "4 processes, 4 threads, 2 zombies;") {
		t.Errorf("table:\n%s", r.stdout)
	}
	// wide: more columns, TIME as ps has it.
	r = pinspect(t, "ps", "--proc-root", root, "-o", "wide", "--pid", "200")
	if !strings.HasPrefix(r.stdout, "PID PPID PGID SID TTY USER") || !strings.Contains(r.stdout, " thread_sum 00:00:00 2.0M 10M ") {
		t.Errorf("wide:\n%s", r.stdout)
	}
	// csv: JSON names, exact numbers, empty for absent, parseable.
	r = pinspect(t, "ps", "--proc-root", root, "-o", "csv", "--columns", "pid,state,rss,time,started_at_never", "--sort", "-pid")
	if r.code != exitUsage {
		t.Errorf("an unknown column: exit %d", r.code)
	}
	r = pinspect(t, "ps", "--proc-root", root, "-o", "csv", "--columns", "pid,state,rss,time,start,command", "--sort", "-pid")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 5 {
		t.Fatalf("csv: %v\n%s", err, r.stdout)
	}
	if strings.Join(recs[0], ",") != "pid,state,rss_bytes,cpu_seconds,started_at,command" ||
		strings.Join(recs[1], ",") != "202,Z,,0.15,2023-11-14T22:13:52Z,killed <defunct>" ||
		strings.Join(recs[4], ",") != "1,S,2097152,0.15,2023-11-14T22:13:20.05Z,/sbin/init" {
		t.Errorf("csv rows %q", recs)
	}
	// --no-headers: rows only (no heading, no summary).
	r = pinspect(t, "ps", "--proc-root", root, "--no-headers", "--columns", "pid,comm")
	if r.stdout != "  1 init\n200 parent\n201 child\n202 killed\n" {
		t.Errorf("--no-headers:\n%q", r.stdout)
	}
	// --sort: descending RSS, unknown (zombies) last either way; ties by pid.
	for _, c := range []struct{ sort, want string }{
		{"-rss", "1 200 201 202"},
		{"rss", "1 200 201 202"},
		{"-pid", "202 201 200 1"},
		{"state,-pid", "200 1 202 201"},
		{"+comm", "201 1 202 200"},
	} {
		r = pinspect(t, "ps", "--proc-root", root, "--no-headers", "--columns", "pid", "--sort", c.sort)
		if got := strings.Join(strings.Fields(r.stdout), " "); got != c.want {
			t.Errorf("--sort %s: %s, want %s", c.sort, got, c.want)
		}
	}
	// JSON rows follow --sort too.
	r = pinspect(t, "ps", "--proc-root", root, "-o", "json", "--sort", "-pid")
	var doc struct {
		Processes []struct{ PID int } `json:"processes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Processes) != 4 || doc.Processes[0].PID != 202 {
		t.Errorf("-o json --sort -pid: %v %+v", err, doc)
	}
	// A hostile comm stays one inert CSV field.
	r = pinspect(t, "ps", "--proc-root", fixtureRoot+"hostile-comm", "-o", "csv", "--columns", "pid,comm")
	recs, err = csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("hostile csv: %v\n%q", err, r.stdout)
	}
	checkTerminalSafe(t, r.stdout)
}

// TestZombiesCheck: --check is a monitoring plugin: one status line with
// performance data, and Nagios's exit codes, UNKNOWN for whatever kept it
// from checking.
func TestZombiesCheck(t *testing.T) {
	z := fixtureRoot + "zombie"
	for _, c := range []struct {
		args []string
		code int
		line string
	}{
		{[]string{"--proc-root", fixtureRoot + "multithread"}, nagiosOK, "ZOMBIES OK - no zombies | zombies=0;0;;0 zombie_parents=0;;;0"},
		{[]string{"--proc-root", z}, nagiosWarning, "ZOMBIES WARNING - 2 zombies under 1 parent: 200 parent (2) | zombies=2;0;;0 zombie_parents=1;;;0"},
		{[]string{"--proc-root", z, "--warning", "2"}, nagiosOK, "ZOMBIES OK - 2 zombies under 1 parent: 200 parent (2) | zombies=2;2;;0 zombie_parents=1;;;0"},
		{[]string{"--proc-root", z, "--critical", "1"}, nagiosCritical, "ZOMBIES CRITICAL - 2 zombies under 1 parent: 200 parent (2) | zombies=2;0;1;0 zombie_parents=1;;;0"},
		{[]string{"--proc-root", "/nonexistent"}, nagiosUnknown, "ZOMBIES UNKNOWN - proc root /nonexistent: stat /nonexistent: no such file or directory"},
		{[]string{"--proc-root", z, "--warning", "5", "--critical", "2"}, nagiosUnknown, "ZOMBIES UNKNOWN - --warning 5 --critical 2: want 0 <= warning <= critical"},
		{[]string{"--bogus"}, nagiosUnknown, "ZOMBIES UNKNOWN - unknown flag: --bogus"},
	} {
		r := pinspect(t, append([]string{"zombies", "--check"}, c.args...)...)
		if r.code != c.code || !strings.HasPrefix(r.stdout, c.line) || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("zombies --check %v: exit %d %q; want %d %q", c.args, r.code, r.stdout, c.code, c.line)
		}
	}
	// With --json: the document, and the same exit code.
	r := pinspect(t, "zombies", "--check", "--json", "--proc-root", z)
	if r.code != nagiosWarning || !strings.HasPrefix(r.stdout, `{"schema":"pinspect.zombies/v1"`) {
		t.Errorf("--check --json: exit %d %q", r.code, r.stdout)
	}
}

// TestHelpValueNames: --help names each flag's value (cobra takes a
// `word` in the usage as its name): --remote URL, not the words of a
// quoted command.
func TestHelpValueNames(t *testing.T) {
	out, _, code := runInProcess(t, "--help")
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"--remote URL ", "--proc-root DIR ", "--rootfs DIR ", "--passwd-file FILE ", "--pid PIDs ", "--user USERs ", "--state STATES ", "--name TEXT "} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	// A backticked word in a usage names the value: `pinspect serve` in
	// --remote's once rendered as "--remote pinspect serve".
	if strings.Contains(out, "--remote pinspect") {
		t.Errorf("--help renders --remote's value as a command:\n%s", out)
	}
	out, _, _ = runInProcess(t, "ps", "--help")
	for _, want := range []string{"-o, --output FORMAT", "--sort KEYS", "--columns COLUMNS", "  rss      RSS", "Exit status: 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("ps --help lacks %q", want)
		}
	}
}

// TestFlagValueNamesAreNames: a backquoted word in a flag's usage is
// the name cobra's help gives the flag's value, so it must be one (an
// upper-case word such as DIR or PIDs): `pinspect record --dir` in a
// usage rendered as "--dir pinspect record --dir" in every command that
// reads a record, and `pinspect record` as "--at pinspect record".
func TestFlagValueNamesAreNames(t *testing.T) {
	name := regexp.MustCompile(`^[A-Z][A-Z_]*s?$`)
	quoted := regexp.MustCompile("`([^`]*)`")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		check := func(f *pflag.Flag) {
			for _, m := range quoted.FindAllStringSubmatch(f.Usage, -1) {
				if !name.MatchString(m[1]) {
					t.Errorf("%s --%s: backquoted %q in its usage would be shown as its value's name", c.CommandPath(), f.Name, m[1])
				}
			}
		}
		c.LocalFlags().VisitAll(check)
		c.PersistentFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&app{stdout: io.Discard, stderr: io.Discard, ctx: context.Background()}))
}

// TestEmptyFlagValues: every text flag of every command given an empty
// value is a usage error naming the flag, not taken as the flag left out
// (`ps --columns ""` printed the default columns, `--name ""` filtered
// nothing; tester14). The repeated address flags have a message of
// their own (TestServeWildcardListen).
func TestEmptyFlagValues(t *testing.T) {
	var cases [][]string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		if len(path) > 0 && (path[0] == "completion" || path[0] == "help") {
			return
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if t := f.Value.Type(); (t == "string" || t == "stringSlice") && !f.Hidden {
				args := append(slices.Clone(path), "--"+f.Name, "")
				if strings.Contains(c.Use, "PID") {
					args = append(args, "1")
				}
				cases = append(cases, args)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&app{stdout: io.Discard, stderr: io.Discard, ctx: context.Background()}))
	if len(cases) < 40 {
		t.Fatalf("%d text flags found: the walk is broken", len(cases))
	}
	for _, args := range cases {
		flag := args[slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "--") })]
		r := pinspect(t, args...)
		if r.code != exitUsage || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, flag+": an empty value") {
			t.Errorf("%q: exit %d stdout %q stderr %q; want exit 2 and %q", args, r.code, r.stdout, r.stderr, flag+": an empty value")
		}
	}
}
