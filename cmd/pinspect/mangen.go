//go:build linux && man

package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd is the hidden `pinspect __man DIR`: it writes one man page per
// command (pinspect.1, pinspect-ps.1, ...) into DIR, generated from the
// commands themselves by cobra's doc generator, so the pages say what
// --help says. `make man` builds it (-tags man: pinspect itself does
// not have it, mangen_off.go) and runs it; packages ship its output.
// The date is SOURCE_DATE_EPOCH when set (the Makefile sets the last
// commit's), so a rebuild of the same commit writes the same pages.
func newManCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "__man DIR",
		Short:  "Write the man pages into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			date := time.Now().UTC()
			if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
				sec, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return usageError{fmt.Errorf("SOURCE_DATE_EPOCH %q: not a number of seconds", s)}
				}
				date = time.Unix(sec, 0).UTC()
			}
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			return doc.GenManTree(root, &doc.GenManHeader{
				Title:   "PINSPECT",
				Section: "1",
				Date:    &date,
				Source:  "pinspect " + buildFacts().Version,
				Manual:  "pinspect manual",
			}, args[0])
		},
	}
}
