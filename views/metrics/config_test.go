package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// The example in docs/prometheus/metrics-config.yml is valid, and says
// what it means.
func TestConfigExample(t *testing.T) {
	g, pp, err := LoadConfig("../../docs/prometheus/metrics-config.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.rules) == 0 || !pp.Enabled() {
		t.Errorf("the example has %d rules and per-process %+v", len(g.rules), pp)
	}
}

func TestConfigRules(t *testing.T) {
	g, pp, err := ParseConfig([]byte(`
groups:
  rules:
    - name: db
      comm: [postgres, postmaster]
    - name: java-kafka
      cmdline: ['kafka\.Kafka']
    - name: web
      exe: [nginx, /opt/caddy/bin/caddy]
      user: [www-data]
    - name: batch
      cgroup: ['^/system\.slice/batch-.*\.service$']
  by_cgroup: true
  cgroup_depth: 2
  max: 50
  retention: 30m
per_process:
  groups: [db]
`))
	if err != nil {
		t.Fatal(err)
	}
	if !g.NeedsCgroups() || !g.ByCgroup() || g.maxGroups() != 50 || g.retentionOrDefault() != 30*time.Minute || pp.max != DefaultPerProcessMax || !pp.allows("db") {
		t.Errorf("settings: %+v %+v", g, pp)
	}
	for _, c := range []struct {
		p         collector.Process
		name, cg  string
		fromRule  bool
		knownOnly ruleUses
	}{
		{p: process("postgres", "/usr/lib/postgresql/16/bin/postgres", "postgres", "/system.slice/postgresql.service"), name: "db", cg: "/system.slice/postgresql.service", fromRule: true},
		{p: process("java", "/usr/bin/java", "kafka", "/", "java", "-cp", "x", "kafka.Kafka", "server.properties"), name: "java-kafka", cg: "/", fromRule: true},
		{p: process("nginx", "/usr/sbin/nginx", "www-data", "/system.slice/nginx.service"), name: "web", cg: "/system.slice/nginx.service", fromRule: true},
		{p: process("nginx", "/usr/sbin/nginx", "root", "/system.slice/nginx.service"), name: "nginx", cg: "/system.slice/nginx.service"},
		{p: process("caddy", "/opt/caddy/bin/caddy", "www-data", "/system.slice/caddy.service"), name: "web", cg: "/system.slice/caddy.service", fromRule: true},
		{p: process("caddy", "/usr/bin/caddy", "www-data", "/"), name: "caddy", cg: "/"},
		{p: process("sh", "/bin/sh", "root", "/system.slice/batch-nightly.service"), name: "batch", cg: "/system.slice/batch-nightly.service", fromRule: true},
		// The cgroup label keeps two components.
		{p: process("bash", "/bin/bash", "alice", "/user.slice/user-1000.slice/session-4.scope"), name: "bash", cg: "/user.slice/user-1000.slice"},
		{p: process("", "", "root", ""), name: "unknown", cg: "unknown"},
	} {
		f := g.facts(&c.p)
		k, byRule := g.key(&f, every)
		if k.name != c.name || k.cgroup != c.cg || byRule != c.fromRule {
			t.Errorf("%s %q: group %+v (rule %v), want %s %s (rule %v)", c.p.Comm, c.p.Cmdline, k, byRule, c.name, c.cg, c.fromRule)
		}
	}
	// Seen only in a kernel event (comm and exe): a rule needing the user
	// cannot match.
	f := processFacts{comm: "nginx", exe: "/usr/sbin/nginx"}
	if k, _ := g.key(&f, ruleUses{exe: true}); k.name != "nginx" {
		t.Errorf("an event's nginx: %+v, want nginx (the web rule needs the user)", k)
	}
}

// process is a model process with comm, exe, user, cgroup and cmdline.
func process(comm, exe, user, cgroup string, cmdline ...string) collector.Process {
	p := collector.Process{PID: 100}
	p.Comm, p.Exe, p.User, p.Cgroup, p.Cmdline = comm, exe, user, cgroup, cmdline
	return p
}

// A user value that is a number matches the real uid, as the docs say
// ("user name or uid"), whether or not the uid has a name; a process
// whose user was not read matches neither.
func TestConfigUserByUID(t *testing.T) {
	g, _, err := ParseConfig([]byte("groups:\n  rules:\n    - {name: admin, user: [\"0\"]}\n    - {name: staff, user: [alice, \"1001\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user string
		uid  int
		want string
	}{
		{"root", 0, "admin"},
		{"alice", 1000, "staff"},
		{"bob", 1001, "staff"},
		{"1001", 1001, "staff"}, // no passwd entry: the number is the name
		{"carol", 1002, "bash"},
		{"", 0, "bash"}, // status not read: no user, and uid 0 is no evidence
	} {
		p := process("bash", "/bin/bash", c.user, "")
		p.UIDs[0] = c.uid
		f := g.facts(&p)
		if k, _ := g.key(&f, every); k.name != c.want {
			t.Errorf("user %q uid %d: group %q, want %q", c.user, c.uid, k.name, c.want)
		}
	}
}

func TestConfigUnmatchedAndKernelThreads(t *testing.T) {
	var g Grouping // the default: by comm
	for comm, want := range map[string]string{"kworker/3:1H-kblockd": "kworker", "ksoftirqd/0": "ksoftirqd", "irq/24-pciehp": "irq", "kswapd0": "kswapd0"} {
		p := process(comm, "", "root", "")
		p.PPID = 2
		f := g.facts(&p)
		if k, _ := g.key(&f, every); k.name != want {
			t.Errorf("kernel thread %q: group %q, want %q", comm, k.name, want)
		}
	}
	p := process("kworker/x", "/bin/kworker/x", "root", "") // a user process named so: not folded
	f := g.facts(&p)
	if k, _ := g.key(&f, every); k.name != "kworker/x" {
		t.Errorf("a user process's comm was folded: %q", k.name)
	}
	hostile := process("\x1b]0;x\x07\xff", "", "root", "")
	f = g.facts(&hostile)
	if k, _ := g.key(&f, every); k.name != LabelValue(hostile.Comm) || strings.ContainsAny(k.name, "\x1b\x07") {
		t.Errorf("a hostile comm's group %q", k.name)
	}
	other, _, err := ParseConfig([]byte("groups:\n  unmatched: other\n  rules: [{name: db, comm: [postgres]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	p = process("bash", "", "root", "")
	f = other.facts(&p)
	if k, _ := other.key(&f, every); k.name != OtherGroup {
		t.Errorf("unmatched: other put bash in %q", k.name)
	}
}

func TestConfigRefusals(t *testing.T) {
	long := strings.Repeat("a", maxPatternBytes+1)
	for _, bad := range []string{
		"groups:\n  rulez: []\n",                                 // a misspelt key
		"groups:\n  rules: [{name: x}]\n",                        // no criterion
		"groups:\n  rules: [{comm: [x]}]\n",                      // no name
		"groups:\n  rules: [{name: \"a\\u0007b\", comm: [x]}]\n", // a control character
		"groups:\n  rules: [{name: x, comm: [averyveryverylongcomm]}]\n",
		"groups:\n  rules: [{name: x, cmdline: ['(']}]\n",
		"groups:\n  rules: [{name: x, cmdline: ['" + long + "']}]\n",
		"groups:\n  unmatched: drop\n",
		"groups:\n  max: 100000\n",
		"groups:\n  max: -1\n",
		"groups:\n  retention: 1s\n",
		"groups:\n  retention: soon\n",
		"groups:\n  cgroup_depth: -2\n",
		"per_process:\n  max: 5000\n",
		"per_process:\n  groups: [\"\"]\n",
		"- just a list\n",
		strings.Repeat("x", MaxConfigFileBytes+1),
	} {
		if _, _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("ParseConfig accepted %.80q", bad)
		}
	}
	var many strings.Builder
	many.WriteString("groups:\n  rules:\n")
	for range MaxGroupRules + 1 {
		many.WriteString("    - {name: x, comm: [x]}\n")
	}
	if _, _, err := ParseConfig([]byte(many.String())); err == nil {
		t.Errorf("%d rules accepted", MaxGroupRules+1)
	}
	// A misspelt key is named on one line, without the decoder's Go types.
	_, _, err := ParseConfig([]byte("groups:\n  rulez: []\n  maxx: 3\n"))
	if want := "line 2: unknown key rulez; line 3: unknown key maxx"; err == nil || err.Error() != want {
		t.Errorf("misspelt keys: %v, want %q", err, want)
	}
	if g, pp, err := ParseConfig(nil); err != nil || len(g.rules) != 0 || pp.Enabled() {
		t.Errorf("an empty file: %v %+v %+v", err, g, pp)
	}
}

// A file a user names is a regular file of bounded size: a FIFO, a
// device or a directory is refused at once (nothing hangs or reads
// forever), and a huge file is refused.
func TestLoadConfigFileKinds(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxConfigFileBytes)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, path := range []string{fifo, "/dev/zero", dir, big, filepath.Join(dir, "missing.yml")} {
			if _, _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("LoadConfig(%s) = %v, want an error naming it", path, err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("LoadConfig hung on a file that is not a regular one")
	}
}
