package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/report"
)

func newZombiesCmd(a *app) *cobra.Command {
	var jsonOut, check bool
	cmd := &cobra.Command{
		Use:   "zombies",
		Short: "Explain zombie processes: which parent is not reaping, why, and what to do",
		Long: `List zombie processes grouped by the parent that has not reaped them. For
each parent: its state and what it is blocked in (wchan), whether it
ignores, blocks or handles SIGCHLD, each zombie's exit status, a
diagnosis and a remedy. --check exits with status 3 when there are
zombies (for scripts and health checks). The common filters select
groups whose parent or zombies match.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var snap *collector.Snapshot
			var groups []lifecycle.ZombieGroup
			var hist *zombieHistory
			f, err := a.filter()
			if err != nil {
				return err
			}
			if a.at.at != "" {
				rec, err := a.recordedAt(&a.at, 0)
				if err != nil {
					return err
				}
				defer rec.store.Close()
				snap, groups = rec.frame.Snapshot, rec.frame.Zombies
				hist = newZombieHistory(rec.store, rec.sample)
			} else {
				_, r, err := a.filterAndReader(false)
				if err != nil {
					return err
				}
				if snap, err = r.Snapshot(a.ctx); err != nil {
					return err
				}
				groups = zombieGroups(r, snap, nil)
			}
			if !f.Empty() {
				groups = filterZombies(groups, snap, f.For(snap))
			}
			if check && len(groups) > 0 {
				a.exitCode = exitFound
			}
			if jsonOut {
				doc := report.NewZombiesDoc(groups, snap.TakenAt)
				doc.Scan = ptrTo(report.NewScanCountsDoc(snap.Counts))
				if hist != nil {
					doc.History = hist.docs(groups)
				}
				return a.writeJSON(doc)
			}
			if err := report.WriteZombiesText(a.stdout, groups, snap.TakenAt); err != nil {
				return writeOut(err)
			}
			if hist != nil {
				if err := report.WriteZombieHistoryText(a.stdout, hist.docs(groups)); err != nil {
					return writeOut(err)
				}
			}
			return writeNote(a.stdout, report.UncheckedNote(snap.Counts))
		},
	}
	a.at.add(cmd)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the diagnosis as JSON")
	cmd.Flags().BoolVar(&check, "check", false, "exit with status 3 when zombies exist")
	return cmd
}

// zombieGroups diagnoses snap's zombies, reading each parent's wchan.
func zombieGroups(r *collector.Reader, snap *collector.Snapshot, firstSeen map[collector.ID]time.Time) []lifecycle.ZombieGroup {
	wchan := make(map[int]string)
	for _, pid := range lifecycle.ZombieParents(snap) {
		wchan[pid], _ = r.WChan(pid)
	}
	return lifecycle.DiagnoseZombies(snap, firstSeen, wchan)
}

// filterZombies keeps the groups whose parent or one of whose zombies
// matches f.
func filterZombies(groups []lifecycle.ZombieGroup, snap *collector.Snapshot, f report.Filter) []lifecycle.ZombieGroup {
	match := func(pid int) bool { p := lifecycle.Find(snap, pid); return p != nil && f.Match(p) }
	var out []lifecycle.ZombieGroup
	for _, g := range groups {
		keep := match(g.Parent.PID)
		for _, z := range g.Zombies {
			keep = keep || match(z.ID.PID)
		}
		if keep {
			out = append(out, g)
		}
	}
	return out
}
