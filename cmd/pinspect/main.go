//go:build linux

// Command pinspect is a Linux process inspector and lifecycle monitor:
// `pinspect` opens the dashboard on a terminal, `pinspect --json` prints
// one snapshot, and the subcommands (ps, show, zombies, orphans, watch,
// serve) are listed by `pinspect --help`.
//
// This package owns flags, subcommands, wiring and exit codes; it is the
// only place that calls os.Exit.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
