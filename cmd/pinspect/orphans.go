//go:build linux

package main

import (
	"context"
	"fmt"
	"github.com/pinspect/pinspect/views/sanitize"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/views/report"
)

func newOrphansCmd(a *app) *cobra.Command {
	var jsonOut, daemons bool
	var observe time.Duration
	cmd := &cobra.Command{
		Use:   "orphans",
		Short: "Find orphans: processes re-parented to init, a subreaper, or a pid namespace's init",
		Long: `Find processes whose parent exited and which were adopted by pid 1, by a
child subreaper (PR_SET_CHILD_SUBREAPER: systemd --user, containerd-shim,
tini) or by the init of their pid namespace, with the adopter and the
evidence. In one snapshot the evidence is a session or process group the
adopter did not give the process; with --observe the command watches for
the given time and also reports re-parentings it sees happen (using the
kernel's process events where available). Processes that lead their own
session (setsid) were detached on purpose: they are daemons, counted
separately (--daemons lists them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var snap *collector.Snapshot
			var orphans []lifecycle.Orphan
			if observe < 0 {
				return usageError{fmt.Errorf("--observe must not be negative")}
			}
			f, err := a.filter()
			if err != nil {
				return err
			}
			var r *collector.Reader
			if a.at.at != "" {
				if changed(cmd, "observe") {
					return notApplicable("--observe", "orphans --at", "it watches what happens now")
				}
				rec, err := a.recordedAt(&a.at, 0)
				if err != nil {
					return err
				}
				defer rec.store.Close()
				snap, orphans = rec.frame.Snapshot, rec.frame.Orphans
			} else if _, r, err = a.filterAndReader(false); err != nil {
				return err
			}
			if snap != nil {
				// from the record
			} else if observe > 0 {
				fr, err := observeFrame(a.ctx, r, observe)
				if a.ctx.Err() != nil {
					return a.ctx.Err()
				}
				if fr == nil {
					return err
				}
				fmt.Fprintf(a.stderr, "pinspect orphans: observed for %s; %s\n", observe, sanitize.Terminal(fr.EventsNote))
				snap, orphans = fr.Snapshot, fr.Orphans
			} else {
				snap, err = r.Snapshot(a.ctx)
				if err != nil {
					return err
				}
				orphans = lifecycle.DetectOrphans(snap, nil)
			}
			if !f.Empty() {
				f = f.For(snap)
				kept := orphans[:0:0]
				for _, o := range orphans {
					if p := lifecycle.FindID(snap, o.ID); p != nil && f.Match(p) {
						kept = append(kept, o)
					}
				}
				orphans = kept
			}
			if !anyOrphan(orphans, daemons) {
				a.exitCode = exitNoMatch
			}
			if jsonOut {
				doc := report.NewOrphansDoc(orphans, snap.TakenAt)
				doc.Scan = ptrTo(report.NewScanCountsDoc(snap.Counts))
				return a.writeJSON(doc)
			}
			if err := report.WriteOrphansText(a.stdout, orphans, daemons); err != nil {
				return writeOut(err)
			}
			return writeNote(a.stdout, report.UncheckedNote(snap.Counts))
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print orphans and daemons as JSON")
	cmd.Flags().BoolVar(&daemons, "daemons", false, "also list the processes that detached on purpose")
	cmd.Flags().DurationVar(&observe, "observe", 0, "watch this long and include re-parentings seen happening")
	a.at.add(cmd)
	return withFilters(reads(cmd, sourceProc), filterFlags...)
}

// observeFrame runs a monitor for d and returns a frame that holds
// everything seen until then (the kernel's events up to the end included).
func observeFrame(ctx context.Context, r *collector.Reader, d time.Duration) (*monitor.Frame, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := monitor.New(r, monitor.Options{Interval: min(d/4, time.Second), Connector: true})
	frames, unsub := m.Subscribe()
	defer unsub()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case err := <-done:
		return m.Latest(), err
	case <-time.After(d):
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	seq, _ := m.Sync(sctx)
	scancel()
	for {
		select {
		case f := <-frames:
			if f.Seq > seq {
				cancel()
				<-done
				return f, nil
			}
		case err := <-done:
			return m.Latest(), err
		}
	}
}

// anyOrphan reports whether orphans holds an orphan, or a daemon when
// daemons are listed too: an empty listing exits 1.
func anyOrphan(orphans []lifecycle.Orphan, daemons bool) bool {
	for _, o := range orphans {
		if daemons || !o.Daemon {
			return true
		}
	}
	return false
}
