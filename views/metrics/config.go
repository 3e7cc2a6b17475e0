package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/userfile"
)

// The bounds of a metrics configuration (--metrics.config.file): the
// file, its rules and what they may ask for. A file beyond them is
// refused with a message saying which bound it broke.
const (
	// MaxConfigFileBytes caps the file (a config of every rule allowed is
	// a few tens of KiB).
	MaxConfigFileBytes = 256 << 10
	// MaxGroupRules caps the naming rules.
	MaxGroupRules = 256
	// maxRuleValues caps the values of one criterion of a rule.
	maxRuleValues = 64
	// maxPatternBytes caps one regular expression.
	maxPatternBytes = 512
	// MaxGroupsLimit caps groups.max: the most groups the agent exports.
	MaxGroupsLimit = 2000
	// DefaultMaxGroups is groups.max when the file does not set it (or
	// there is no file).
	DefaultMaxGroups = 200
	// DefaultGroupRetention is how long a group with no live process
	// keeps its series (groups.retention).
	DefaultGroupRetention = time.Hour
	// DefaultPerProcessMax is per_process.max when the file names groups
	// without it.
	DefaultPerProcessMax = 100
	// OtherGroup names the group of the processes beyond groups.max (and,
	// with unmatched: other, of those no rule names).
	OtherGroup = "other"
)

// Config is the metrics configuration file (docs/METRICS.md, "Groups"):
// how processes are grouped and which processes get series of their own.
// The zero value groups by comm and exports no per-process series.
type Config struct {
	// Groups says how processes are grouped.
	Groups GroupConfig `yaml:"groups"`
	// PerProcess chooses processes that get series of their own.
	PerProcess PerProcessConfig `yaml:"per_process"`
}

// GroupConfig is the file's groups section.
type GroupConfig struct {
	// Rules name groups; the first rule a process matches names it.
	Rules []GroupRule `yaml:"rules"`
	// Unmatched is the group of a process no rule matches: "comm" (the
	// default: its comm, a kernel thread's up to the first '/') or
	// "other".
	Unmatched string `yaml:"unmatched"`
	// ByCgroup adds a cgroup label: processes of one name in different
	// cgroups are different groups.
	ByCgroup bool `yaml:"by_cgroup"`
	// CgroupDepth keeps the first N components of the cgroup path in the
	// label (0: the whole path).
	CgroupDepth int `yaml:"cgroup_depth"`
	// Max is the most groups exported (default DefaultMaxGroups, at most
	// MaxGroupsLimit); processes of a group beyond it are counted in the
	// group "other".
	Max int `yaml:"max"`
	// Retention is how long a group with no live process is kept
	// (default "1h"), as a Go duration.
	Retention string `yaml:"retention"`
}

// GroupRule names the processes that match it. A rule matches a process
// when every criterion it sets matches (a criterion matches when any of
// its values does); a rule with no criterion is refused.
type GroupRule struct {
	// Name is the group's label value.
	Name string `yaml:"name"`
	// Comm are exact comm values (at most 15 bytes each, as the kernel
	// keeps them).
	Comm []string `yaml:"comm"`
	// Exe are executables: a value with a '/' is matched against the
	// whole path, one without against its last element.
	Exe []string `yaml:"exe"`
	// Cmdline are regular expressions (RE2) searched in the command line,
	// its arguments joined by spaces.
	Cmdline []string `yaml:"cmdline"`
	// User are user names or numeric uids ("0", "1000") of the real uid.
	User []string `yaml:"user"`
	// Cgroup are regular expressions (RE2) searched in the cgroup path.
	Cgroup []string `yaml:"cgroup"`
}

// PerProcessConfig is the file's per_process section: the allow-list of
// processes with series of their own.
type PerProcessConfig struct {
	// Groups are group names whose processes get per-process series.
	Groups []string `yaml:"groups"`
	// Max caps the processes exported (default DefaultPerProcessMax, at
	// most MaxSeriesLimit); the oldest are kept, the others counted in
	// pinspect_process_series_cut_total.
	Max int `yaml:"max"`
}

// Grouping is a checked GroupConfig, ready to name processes. The zero
// value groups by comm, with the default bounds.
type Grouping struct {
	rules          []groupRule
	unmatchedOther bool
	byCgroup       bool
	cgroupDepth    int
	max            int
	retention      time.Duration
	// uses says which process fields the rules read (a process's group is
	// looked up again only when one of them changed).
	uses ruleUses
}

// ruleUses says which fields the rules read besides comm.
type ruleUses struct{ exe, cmdline, user, cgroup bool }

type groupRule struct {
	name    string
	comm    []string
	exe     []string
	cmdline []*regexp.Regexp
	user    []string
	uids    []int // the values of user that are numbers
	cgroup  []*regexp.Regexp
}

// PerProcess is a checked PerProcessConfig.
type PerProcess struct {
	groups []string
	max    int
}

// Enabled reports whether any process may get per-process series.
func (pp PerProcess) Enabled() bool { return len(pp.groups) > 0 && pp.max > 0 }

func (pp PerProcess) allows(group string) bool { return slices.Contains(pp.groups, group) }

// NeedsCgroups reports whether the grouping reads processes' cgroups, so
// the scans must read them (collector.ScanOptions.Cgroups).
func (g *Grouping) NeedsCgroups() bool { return g.byCgroup || g.uses.cgroup }

// NeedsCmdlines reports whether a rule reads the command line.
func (g *Grouping) NeedsCmdlines() bool { return g.uses.cmdline }

// ByCgroup reports whether groups carry a cgroup label.
func (g *Grouping) ByCgroup() bool { return g.byCgroup }

func (g *Grouping) maxGroups() int {
	if g.max == 0 {
		return DefaultMaxGroups
	}
	return g.max
}

func (g *Grouping) retentionOrDefault() time.Duration {
	if g.retention == 0 {
		return DefaultGroupRetention
	}
	return g.retention
}

// LoadConfig reads and checks a metrics configuration file: a regular
// file of at most MaxConfigFileBytes (userfile.Read: a FIFO or a device
// cannot hang or flood the read).
func LoadConfig(file string) (Grouping, PerProcess, error) {
	b, err := userfile.Read(file, MaxConfigFileBytes)
	if err != nil {
		return Grouping{}, PerProcess{}, err
	}
	g, pp, err := ParseConfig(b)
	if err != nil {
		return Grouping{}, PerProcess{}, fmt.Errorf("%s: %w", file, err)
	}
	return g, pp, nil
}

// ParseConfig checks a metrics configuration (YAML; unknown keys are
// errors, so a misspelt key is not silently ignored).
func ParseConfig(b []byte) (Grouping, PerProcess, error) {
	if len(b) > MaxConfigFileBytes {
		return Grouping{}, PerProcess{}, fmt.Errorf("larger than %d bytes", MaxConfigFileBytes)
	}
	var c Config
	if len(bytes.TrimSpace(b)) > 0 {
		if err := yaml.UnmarshalStrict(b, &c); err != nil {
			return Grouping{}, PerProcess{}, yamlError(err)
		}
	}
	g, err := c.Groups.compile()
	if err != nil {
		return Grouping{}, PerProcess{}, fmt.Errorf("groups: %w", err)
	}
	pp, err := c.PerProcess.compile()
	if err != nil {
		return Grouping{}, PerProcess{}, fmt.Errorf("per_process: %w", err)
	}
	return g, pp, nil
}

// yamlError makes the YAML decoder's error one readable line: its type
// errors come one per line (a terminal shows the newlines of a message
// as '?'), and an unknown key names a Go type the user never wrote.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if before, after, ok := strings.Cut(m, ": field "); ok {
			if key, _, ok := strings.Cut(after, " not found in type "); ok {
				m = before + ": unknown key " + key
			}
		}
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}

func (c *GroupConfig) compile() (Grouping, error) {
	g := Grouping{byCgroup: c.ByCgroup, cgroupDepth: c.CgroupDepth, max: c.Max}
	switch c.Unmatched {
	case "", "comm":
	case OtherGroup:
		g.unmatchedOther = true
	default:
		return g, fmt.Errorf("unmatched: %q: want comm or other", c.Unmatched)
	}
	if c.CgroupDepth < 0 || c.CgroupDepth > 64 {
		return g, fmt.Errorf("cgroup_depth: %d: want 0 (the whole path) to 64", c.CgroupDepth)
	}
	if c.Max < 0 || c.Max > MaxGroupsLimit {
		return g, fmt.Errorf("max: %d: want 1 to %d (0 or absent: %d)", c.Max, MaxGroupsLimit, DefaultMaxGroups)
	}
	if c.Retention != "" {
		d, err := time.ParseDuration(c.Retention)
		if err != nil || d < time.Minute || d > 7*24*time.Hour {
			return g, fmt.Errorf("retention: %q: want a duration from 1m to 168h", c.Retention)
		}
		g.retention = d
	}
	if len(c.Rules) > MaxGroupRules {
		return g, fmt.Errorf("rules: %d rules, at most %d", len(c.Rules), MaxGroupRules)
	}
	for i := range c.Rules {
		r, err := c.Rules[i].compile()
		if err != nil {
			return g, fmt.Errorf("rules[%d]: %w", i, err)
		}
		g.uses.exe = g.uses.exe || len(r.exe) > 0
		g.uses.cmdline = g.uses.cmdline || len(r.cmdline) > 0
		g.uses.user = g.uses.user || len(r.user) > 0
		g.uses.cgroup = g.uses.cgroup || len(r.cgroup) > 0
		g.rules = append(g.rules, r)
	}
	return g, nil
}

func (r *GroupRule) compile() (groupRule, error) {
	out := groupRule{name: r.Name, comm: r.Comm, exe: r.Exe, user: r.User}
	if err := checkGroupName(r.Name); err != nil {
		return out, err
	}
	for _, vs := range [][]string{r.Comm, r.Exe, r.Cmdline, r.User, r.Cgroup} {
		if len(vs) > maxRuleValues {
			return out, fmt.Errorf("%q: %d values in one criterion, at most %d", r.Name, len(vs), maxRuleValues)
		}
		for _, v := range vs {
			if v == "" || len(v) > maxPatternBytes {
				return out, fmt.Errorf("%q: a value is empty or longer than %d bytes", r.Name, maxPatternBytes)
			}
		}
	}
	if len(r.Comm)+len(r.Exe)+len(r.Cmdline)+len(r.User)+len(r.Cgroup) == 0 {
		return out, fmt.Errorf("%q: no criterion (comm, exe, cmdline, user or cgroup)", r.Name)
	}
	for _, c := range r.Comm {
		if len(c) > 15 {
			return out, fmt.Errorf("%q: comm %q is longer than the kernel's 15 bytes: it never matches (use exe or cmdline)", r.Name, c)
		}
	}
	for _, u := range r.User {
		if uid, err := strconv.Atoi(u); err == nil && uid >= 0 {
			out.uids = append(out.uids, uid)
		}
	}
	var err error
	if out.cmdline, err = compileAll(r.Cmdline); err != nil {
		return out, fmt.Errorf("%q: cmdline: %w", r.Name, err)
	}
	if out.cgroup, err = compileAll(r.Cgroup); err != nil {
		return out, fmt.Errorf("%q: cgroup: %w", r.Name, err)
	}
	return out, nil
}

func compileAll(pats []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range pats {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	return out, nil
}

// checkGroupName refuses a name that is not a clean label value.
func checkGroupName(name string) error {
	if name == "" {
		return errors.New("a rule without a name")
	}
	if LabelValue(name) != name {
		return fmt.Errorf("name %q: control characters, invalid UTF-8 or longer than %d bytes", name, maxLabelBytes)
	}
	return nil
}

func (c *PerProcessConfig) compile() (PerProcess, error) {
	pp := PerProcess{max: c.Max}
	if c.Max < 0 || c.Max > MaxSeriesLimit {
		return pp, fmt.Errorf("max: %d: want 0 to %d", c.Max, MaxSeriesLimit)
	}
	if len(c.Groups) > MaxGroupRules {
		return pp, fmt.Errorf("groups: %d names, at most %d", len(c.Groups), MaxGroupRules)
	}
	for _, g := range c.Groups {
		if err := checkGroupName(g); err != nil {
			return pp, fmt.Errorf("groups: %w", err)
		}
	}
	pp.groups = slices.Clone(c.Groups)
	if pp.max == 0 && len(pp.groups) > 0 {
		pp.max = DefaultPerProcessMax
	}
	return pp, nil
}

// groupKey identifies a group: its name and, with by_cgroup, its cgroup.
type groupKey struct{ name, cgroup string }

// processFacts are what naming a process reads: its comm always, the
// other fields when a rule (or by_cgroup) reads them. Two equal facts
// name the same group, so a process is named again only when they change.
type processFacts struct {
	comm, exe, user, cgroup string
	uid                     int // the real uid, when user is set
	kernel                  bool
	cmdline0                *string // identity of the command line slice (the reader shares it until it changes)
	cmdlineLen              int
	cmdline                 []string
}

func (a *processFacts) same(b *processFacts) bool {
	return a.comm == b.comm && a.exe == b.exe && a.user == b.user && a.uid == b.uid && a.cgroup == b.cgroup &&
		a.kernel == b.kernel && a.cmdline0 == b.cmdline0 && a.cmdlineLen == b.cmdlineLen
}

// facts returns what g reads of p.
func (g *Grouping) facts(p *collector.Process) processFacts {
	f := processFacts{comm: p.Comm, kernel: p.IsKernelThread()}
	if g.uses.exe {
		f.exe = p.Exe
	}
	if g.uses.user {
		f.user, f.uid = p.User, p.UIDs[0]
	}
	if g.NeedsCgroups() {
		f.cgroup = p.Cgroup
	}
	if g.uses.cmdline && len(p.Cmdline) > 0 {
		f.cmdline0, f.cmdlineLen, f.cmdline = &p.Cmdline[0], len(p.Cmdline), p.Cmdline
	}
	return f
}

// key names the group of a process with facts f, and says whether a rule
// named it. known says which facts are known: a process seen only in a
// kernel event has a comm (and for an exec its executable) but no command
// line, user or cgroup, and a rule that needs one of those does not match
// it.
func (g *Grouping) key(f *processFacts, known ruleUses) (k groupKey, byRule bool) {
	if g.byCgroup {
		k.cgroup = cgroupLabel(f.cgroup, g.cgroupDepth)
	}
	for i := range g.rules {
		if g.rules[i].matches(f, known) {
			k.name = g.rules[i].name
			return k, true
		}
	}
	switch {
	case g.unmatchedOther:
		k.name = OtherGroup
	case f.kernel:
		k.name = LabelValue(kernelThreadName(f.comm))
	case f.comm == "":
		k.name = "unknown"
	default:
		k.name = LabelValue(f.comm)
	}
	return k, false
}

func (r *groupRule) matches(f *processFacts, known ruleUses) bool {
	if len(r.comm) > 0 && !slices.Contains(r.comm, f.comm) {
		return false
	}
	if len(r.exe) > 0 && (!known.exe || !exeMatches(r.exe, f.exe)) {
		return false
	}
	if len(r.user) > 0 && (!known.user || !r.userMatches(f)) {
		return false
	}
	if len(r.cgroup) > 0 && (!known.cgroup || !anyMatch(r.cgroup, f.cgroup)) {
		return false
	}
	if len(r.cmdline) > 0 && (!known.cmdline || !anyMatch(r.cmdline, strings.Join(f.cmdline, " "))) {
		return false
	}
	return true
}

// userMatches reports whether f's real user is one of r's: by name, or
// by number for a value that is one (a process whose user was not read
// has no name, and no uid to compare).
func (r *groupRule) userMatches(f *processFacts) bool {
	if f.user == "" {
		return false
	}
	return slices.Contains(r.user, f.user) || slices.Contains(r.uids, f.uid)
}

func exeMatches(want []string, exe string) bool {
	if exe == "" {
		return false
	}
	for _, w := range want {
		if strings.Contains(w, "/") && w == exe || w == path.Base(exe) {
			return true
		}
	}
	return false
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// kernelThreadName is a kernel thread's group name: its comm up to the
// first '/' ("kworker/3:1H-kblockd" is "kworker", "ksoftirqd/0" is
// "ksoftirqd", "irq/24-pciehp" is "irq"), so per-CPU threads and workers
// that rename themselves for each work item make one group.
func kernelThreadName(comm string) string {
	if i := strings.IndexByte(comm, '/'); i > 0 {
		return comm[:i]
	}
	return comm
}

// cgroupLabel is the cgroup label of a cgroup path: its first depth
// components (all with depth 0), sanitised and cut like every label;
// "unknown" when the path was not read.
func cgroupLabel(p string, depth int) string {
	if p == "" {
		return "unknown"
	}
	if depth > 0 {
		n := 0
		for i := 1; i < len(p); i++ {
			if p[i] == '/' {
				n++
				if n == depth {
					p = p[:i]
					break
				}
			}
		}
	}
	return LabelValue(p)
}
