//go:build linux

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/views/dashboard"
)

func newReplayCmd(a *app) *cobra.Command {
	var rf recordFlags
	var at string
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Open the dashboard on the record: step through recorded time",
		Long: `replay opens the dashboard on what ` + "`pinspect record`" + ` wrote, at --at (default:
the start of the last hour of the record). [ and ] step one sample back and
forward, { and } ten samples, @ jumps to a time. Everything else works as in
the live dashboard, on the recorded frames: sort, filter, tree, threads (when
the sample read them), zombies with their recorded first-seen times, orphans
with the reparents the recorder saw, events. Memory maps were not recorded.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !isTerminal(a.stdout) {
				return usageError{fmt.Errorf("replay opens the dashboard, which needs a terminal (for the record as data: pinspect dump)")}
			}
			st, err := a.openStore(rf.dir)
			if err != nil {
				return err
			}
			defer st.Close()
			_, last := st.Span()
			when := last.Add(-time.Hour)
			if at != "" {
				if when, err = parseWhen(at, time.Now()); err != nil {
					return usageError{fmt.Errorf("--at: %w", err)}
				}
			}
			start, ok := st.Find(when)
			if !ok {
				start = 0 // before the record: its first sample
			}
			return runReplay(a, st, start)
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&at, "at", "", "start at this time (RFC 3339, \"2026-12-01 02:00\", 02:00, \"2h ago\")")
	return withFilters(reads(cmd, sourceRecord), "name", "state") // as the dashboard
}

func runReplay(a *app, st *record.Store, start int) error {
	p := record.NewPlayer(st, start)
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	opts := a.dashboardOptions(a.interval)
	opts.Timeline = p
	opts.ParseTime = func(s string) (time.Time, error) { return parseWhen(s, time.Now()) }
	err := dashboard.New(p, opts).Run(ctx)
	cancel()
	<-done
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}
