package dashboard

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is what F2 setup keeps between runs: the columns, the sort,
// the interval, the meters, the panels and the display switches. The
// dashboard never reads or writes a file: the caller loads one with
// ParseConfig and saves through Options.SaveConfig (cmd/pinspect keeps
// it under $XDG_CONFIG_HOME/pinspect/).
type Config struct {
	// Columns are the process table's columns by key, in order; COMMAND
	// is always last.
	Columns []string
	// Sort is the sort column's key; SortDesc puts the largest first.
	Sort     string
	SortDesc bool
	// Interval is the refresh interval (0: the command line's).
	Interval time.Duration
	// Meters are the header's meters by key, in order.
	Meters []string
	// Panels are the bottom panels shown by name, in order.
	Panels []string
	// Tree starts in tree view; HideKernelThreads hides kernel threads.
	Tree              bool
	HideKernelThreads bool
}

// MaxConfigBytes bounds a config file: a caller reads at most this much.
const MaxConfigBytes = 64 << 10

// configHeader opens every file Marshal writes.
const configHeader = "# pinspect dashboard settings, written by F2 setup (one key=value a line; # comments).\n"

// DefaultConfig is the configuration without a file.
func DefaultConfig() Config {
	c := Config{Sort: colDefs[colCPU].key, SortDesc: true, Panels: panelNames()}
	for _, id := range defaultColumns {
		c.Columns = append(c.Columns, colDefs[id].key)
	}
	for _, m := range defaultMeters {
		c.Meters = append(c.Meters, meterDefs[m].key)
	}
	return c
}

// minInterval and maxInterval bound the refresh interval a config or a
// key may set.
const (
	minInterval = 100 * time.Millisecond
	maxInterval = time.Hour
)

// ParseConfig reads a config file. It returns the defaults with every
// valid line applied, and an error naming each line it could not use
// (line number and why); the caller shows it and the dashboard starts
// with what was valid. It never panics.
func ParseConfig(b []byte) (Config, error) {
	c := DefaultConfig()
	if len(b) > MaxConfigBytes {
		return c, fmt.Errorf("larger than %d KiB: not read", MaxConfigBytes>>10)
	}
	var errs []error
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("line %d: no '=' in %q", i+1, clipText(line)))
			continue
		}
		if err := c.set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", i+1, err))
		}
	}
	return c, joinErrs(errs)
}

// joinErrs joins up to three errors in one line ("; and N more").
func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var b strings.Builder
	for i, e := range errs {
		if i == 3 {
			b.WriteString("; and " + strconv.Itoa(len(errs)-3) + " more")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return errors.New(b.String())
}

func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// set applies one key=value.
func (c *Config) set(k, v string) error {
	switch k {
	case "columns":
		cols, err := parseList(v, func(s string) bool { _, ok := colByKey(s); return ok }, "column")
		if err != nil {
			return err
		}
		c.Columns = normalColumns(cols)
	case "sort":
		if _, ok := colByKey(v); !ok {
			return fmt.Errorf("sort: unknown column %q (one of %s)", clipText(v), strings.Join(columnKeys(), ", "))
		}
		c.Sort = v
	case "sort_desc":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("sort_desc: want true or false, not %q", clipText(v))
		}
		c.SortDesc = b
	case "interval":
		d, err := time.ParseDuration(v)
		if err != nil || d < minInterval || d > maxInterval {
			return fmt.Errorf("interval: want a duration from %s to %s (e.g. 1s), not %q", minInterval, maxInterval, clipText(v))
		}
		c.Interval = d
	case "meters":
		ms, err := parseList(v, func(s string) bool { _, ok := meterByKey(s); return ok }, "meter")
		if err != nil {
			return err
		}
		c.Meters = ms
	case "panels":
		ps, err := parseList(v, func(s string) bool { return slices.Contains(panelNames(), s) }, "panel")
		if err != nil {
			return err
		}
		c.Panels = ps
	case "tree":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("tree: want true or false, not %q", clipText(v))
		}
		c.Tree = b
	case "hide_kernel_threads":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("hide_kernel_threads: want true or false, not %q", clipText(v))
		}
		c.HideKernelThreads = b
	default:
		return fmt.Errorf("unknown setting %q (columns, sort, sort_desc, interval, meters, panels, tree, hide_kernel_threads)", clipText(k))
	}
	return nil
}

// parseList splits a comma-separated list of known, distinct names.
func parseList(v string, known func(string) bool, what string) ([]string, error) {
	var out []string
	if strings.TrimSpace(v) == "" {
		return out, nil
	}
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if !known(s) {
			return nil, fmt.Errorf("unknown %s %q", what, clipText(s))
		}
		if slices.Contains(out, s) {
			return nil, fmt.Errorf("%s %q twice", what, s)
		}
		out = append(out, s)
	}
	return out, nil
}

// normalColumns puts COMMAND last (adding it when missing).
func normalColumns(keys []string) []string {
	cmd := colDefs[colCmd].key
	out := slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == cmd })
	return append(out, cmd)
}

// Marshal writes the config in the file format ParseConfig reads.
func (c Config) Marshal() []byte {
	var b strings.Builder
	b.WriteString(configHeader)
	b.WriteString("columns=" + strings.Join(c.Columns, ",") + "\n")
	b.WriteString("sort=" + c.Sort + "\n")
	b.WriteString("sort_desc=" + strconv.FormatBool(c.SortDesc) + "\n")
	if c.Interval > 0 {
		b.WriteString("interval=" + c.Interval.String() + "\n")
	}
	b.WriteString("meters=" + strings.Join(c.Meters, ",") + "\n")
	b.WriteString("panels=" + strings.Join(c.Panels, ",") + "\n")
	b.WriteString("tree=" + strconv.FormatBool(c.Tree) + "\n")
	b.WriteString("hide_kernel_threads=" + strconv.FormatBool(c.HideKernelThreads) + "\n")
	return []byte(b.String())
}
