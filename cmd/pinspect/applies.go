//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
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
// a terminal, --no-threads without --json, and the filters the dashboard
// does not apply.
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
		for _, f := range []string{"pid", "user"} {
			if changed(cmd, f) {
				return notApplicable("--"+f, "the dashboard", "it filters by --name and --state; / and s filter while it runs")
			}
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
