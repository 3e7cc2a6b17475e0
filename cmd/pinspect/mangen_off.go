//go:build linux && !man

package main

import "github.com/spf13/cobra"

// newManCmd is nil in pinspect itself: the man page generator (mangen.go,
// cobra's doc package and the Markdown library under it) is built only
// with -tags man (`make man`), so that every run of pinspect does not
// initialise packages it never uses (about 0.4 ms of CPU a run).
func newManCmd(*app) *cobra.Command { return nil }
