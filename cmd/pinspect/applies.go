//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Flags that do not apply are refused, the same way for every command: a
// filter or an option the command would ignore is a usage error (exit 2)
// naming what the command does take, never silently dropped.

// filtersAnnotation names, in a command's Annotations, the common
// filters it applies ("pid,user,state,name"); a command without it takes
// none. A new command declares its filters here (withFilters).
const filtersAnnotation = "pinspect.filters"

// filterFlags are the common filters, persistent flags of the root.
var filterFlags = []string{"pid", "user", "state", "name"}

// withFilters declares the common filters cmd applies.
func withFilters(cmd *cobra.Command, filters ...string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[filtersAnnotation] = strings.Join(filters, ",")
	return cmd
}

// sourceAnnotation says, in a command's Annotations, what the command
// reads: sourceProc (/proc, so --proc-root, --rootfs, --passwd-file and
// --collector apply) or sourceRecord (a record directory). A command
// without it reads neither, and takes none of those flags.
const sourceAnnotation = "pinspect.source"

// What a command reads (sourceAnnotation).
const (
	sourceProc   = "proc"
	sourceRecord = "record"
)

// atAnnotation marks a command that has --at and --dir: --at reads the
// record, not /proc. Its value says what --dir is without --at.
const atAnnotation = "pinspect.at"

// Values of atAnnotation.
const (
	// atDirWithAt: --dir only names the record --at reads (atFlags.add).
	atDirWithAt = "dir-with-at"
	// atDirAlone: --dir names a record without --at too (explain: the
	// leak finding's memory history).
	atDirAlone = "dir-alone"
)

// sourceFlags are the root's persistent flags that say which /proc to
// read and how.
var sourceFlags = []string{"proc-root", "rootfs", "passwd-file", "collector"}

// reads declares what cmd reads (sourceProc or sourceRecord).
func reads(cmd *cobra.Command, source string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[sourceAnnotation] = source
	return cmd
}

// checkCommonFlags is every command's check of the root's persistent
// flags: the filters it applies, and the /proc flags only where /proc is
// read.
func checkCommonFlags(cmd *cobra.Command) error {
	if err := checkEmptyValues(cmd); err != nil {
		return err
	}
	if err := checkFilters(cmd); err != nil {
		return err
	}
	return checkSource(cmd)
}

// checkEmptyValues refuses a text flag given an empty value, the same way
// for every flag: `--name ""` filtered nothing and `ps --columns ""`
// printed the default columns, as if the flag had not been given
// (tester14). A flag has a value or is left out. A repeated flag
// (--web.listen-address) says what an empty one is itself.
func checkEmptyValues(cmd *cobra.Command) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if err != nil {
			return
		}
		switch f.Value.Type() {
		case "string":
			if f.Value.String() != "" {
				return
			}
		case "stringSlice":
			if sv, ok := f.Value.(pflag.SliceValue); !ok || len(sv.GetSlice()) > 0 {
				return
			}
		default:
			return
		}
		what, _ := pflag.UnquoteUsage(f)
		if what == "string" || what == "strings" || what == "" {
			what = "a value"
		}
		err = usageError{fmt.Errorf("--%s: an empty value (give %s, or leave the flag out)", f.Name, what)}
	})
	return err
}

// given returns the value of the flag name of cmd when it was given.
func given(cmd *cobra.Command, name string) string {
	if !changed(cmd, name) {
		return ""
	}
	f := cmd.Flags().Lookup(name)
	if f == nil {
		f = cmd.InheritedFlags().Lookup(name)
	}
	return f.Value.String()
}

// checkSource refuses the /proc flags where no /proc is read: a command
// that reads a record or nothing, --at (the record), --remote (the
// agent reads its own /proc); and --dir without --at.
func checkSource(cmd *cobra.Command) error {
	why := ""
	switch {
	case cmd.Annotations[sourceAnnotation] == sourceRecord:
		why = "it reads the record (--dir), not /proc"
	case cmd.Annotations[sourceAnnotation] != sourceProc:
		why = "it reads no /proc"
	case given(cmd, "remote") != "":
		why = "with --remote the agent reads its own /proc"
	case cmd.Annotations[atAnnotation] != "" && given(cmd, "at") != "":
		why = "with --at it reads the record (--dir), not /proc"
	}
	if why != "" {
		for _, f := range sourceFlags {
			if changed(cmd, f) {
				return notApplicable("--"+f, cmd.CommandPath(), why)
			}
		}
	}
	if cmd.Annotations[atAnnotation] == atDirWithAt && changed(cmd, "dir") {
		switch {
		case given(cmd, "remote") != "":
			return notApplicable("--dir", cmd.CommandPath()+" --remote", "the agent reads its own record: serve --record-dir")
		case given(cmd, "at") == "":
			return notApplicable("--dir", cmd.CommandPath()+" without --at", "it names the record --at reads")
		}
	}
	return nil
}

// checkFilters refuses a common filter that cmd does not apply.
func checkFilters(cmd *cobra.Command) error {
	allowed := strings.Split(cmd.Annotations[filtersAnnotation], ",")
	for _, f := range filterFlags {
		if changed(cmd, f) && !slices.Contains(allowed, f) {
			return notApplicable("--"+f, cmd.CommandPath(), filtersNote(allowed))
		}
	}
	return nil
}

// changed reports whether the flag name was given to cmd.
func changed(cmd *cobra.Command, name string) bool {
	f := cmd.Flags().Lookup(name)
	if f == nil {
		f = cmd.InheritedFlags().Lookup(name)
	}
	return f != nil && f.Changed
}

// notApplicable is the one message for a flag a command does not take.
func notApplicable(flag, what, note string) error {
	return usageError{fmt.Errorf("%s does not apply to %s (%s)", flag, what, note)}
}

func filtersNote(allowed []string) string {
	var fs []string
	for _, f := range allowed {
		if f != "" {
			fs = append(fs, "--"+f)
		}
	}
	if len(fs) == 0 {
		return "it takes no process filter"
	}
	return "it filters by " + strings.Join(fs, ", ")
}

// checkRootFlags refuses the root command's options that do not apply to
// what it does this time: the dashboard's options with --json or without
// a terminal, and --no-threads without --json. The dashboard applies
// every filter (--pid, --user, --name, --state), as htop -p and -u do.
func (a *app) checkRootFlags(cmd *cobra.Command, dashboard bool) error {
	dashboardOnly := []string{"readonly", "remote", "remote.password-file", "interval", "explain"}
	switch {
	case a.jsonOut:
		for _, f := range dashboardOnly {
			if changed(cmd, f) {
				return notApplicable("--"+f, "pinspect --json", "it is a dashboard option")
			}
		}
	case dashboard:
		if changed(cmd, "no-threads") {
			return notApplicable("--no-threads", "the dashboard", "it is a --json option")
		}
	default: // no terminal: the ps table
		if changed(cmd, "remote") {
			return usageError{fmt.Errorf("--remote opens the dashboard, which needs a terminal (for the agent's data as JSON: curl URL/api/v1/snapshot)")}
		}
		for _, f := range append(dashboardOnly, "no-threads") {
			if changed(cmd, f) {
				return notApplicable("--"+f, "pinspect without a terminal (it prints the ps table)", "a dashboard or --json option")
			}
		}
	}
	return nil
}
