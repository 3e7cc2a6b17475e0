//go:build linux

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/report"
)

func newZombiesCmd(a *app) *cobra.Command {
	var jsonOut, check bool
	var olderThan time.Duration
	cmd := &cobra.Command{
		Use:   "zombies",
		Short: "Explain zombie processes: which parent is not reaping, why, and what to do",
		Long: `List zombie processes grouped by the parent that has not reaped them. For
each parent: its state and what it is blocked in (wchan), whether it
ignores, blocks or handles SIGCHLD, each zombie's exit status, a
diagnosis and a remedy. The common filters select groups whose parent or
zombies match.

A zombie younger than a few seconds may still be reaped: a parent that
reaps collects a child when it next runs. --older-than D watches for D
(when there are zombies) and tells the zombies that stayed a zombie all
that time from the young ones, labelled "young: may still be reaped".
--check exits with status 3 when a zombie has stayed at least
--older-than (5s unless given; --older-than 0 counts every zombie), so
a health check does not flap on a parent that reaps.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if olderThan < 0 {
				return usageError{fmt.Errorf("--older-than must not be negative")}
			}
			if check && !cmd.Flags().Changed("older-than") {
				olderThan = lifecycle.DefaultZombieMinAge
			}
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
				var firstSeen map[collector.ID]time.Time
				var watch time.Time
				if snap, firstSeen, watch, err = a.zombieSnapshot(r, olderThan); err != nil {
					return err
				}
				minAge := olderThan
				if minAge == 0 && cmd.Flags().Changed("older-than") {
					minAge = -1 // --older-than 0: no zombie is young
				}
				groups = zombieGroups(r, snap, firstSeen, lifecycle.ZombieOptions{MinAge: minAge, WatchStart: watch})
			}
			if !f.Empty() {
				groups = filterZombies(groups, snap, f.For(snap))
			}
			if check && anyStuck(groups, olderThan) {
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
	cmd.Flags().BoolVar(&check, "check", false, "exit with status 3 when a zombie has stayed at least --older-than (default 5s with --check)")
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "watch this long and tell zombies that stayed from young ones, which may still be reaped")
	return cmd
}

// zombieSnapshot reads the snapshot the zombie report is made of. With
// minAge > 0 and zombies in a first snapshot, it watches for minAge and
// reads a second: a zombie in both has been one for at least minAge
// (firstSeen: the first snapshot's time, watch: the same), one only in
// the second was born while watched; those a reaping parent collected in
// between are gone. minAge is bounded by the context (Ctrl-C).
func (a *app) zombieSnapshot(r *collector.Reader, minAge time.Duration) (*collector.Snapshot, map[collector.ID]time.Time, time.Time, error) {
	snap, err := r.Snapshot(a.ctx)
	if err != nil || minAge <= 0 || len(lifecycle.ZombieParents(snap)) == 0 {
		return snap, nil, time.Time{}, err
	}
	if isTerminal(a.stderr) {
		fmt.Fprintf(a.stderr, "pinspect zombies: watching %s to tell zombies that stay from young ones…\n", minAge)
	}
	select {
	case <-time.After(minAge):
	case <-a.ctx.Done():
		return nil, nil, time.Time{}, a.ctx.Err()
	}
	first := snap
	if snap, err = r.Snapshot(a.ctx); err != nil {
		return nil, nil, time.Time{}, err
	}
	firstSeen := make(map[collector.ID]time.Time)
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if !lifecycle.IsZombie(p) {
			continue
		}
		firstSeen[p.ID()] = snap.TakenAt
		if q := lifecycle.FindID(first, p.ID()); q != nil && lifecycle.IsZombie(q) {
			firstSeen[p.ID()] = first.TakenAt
		}
	}
	return snap, firstSeen, first.TakenAt, nil
}

// anyStuck reports whether a zombie of groups has stayed one for at least
// minAge (any zombie, with minAge 0).
func anyStuck(groups []lifecycle.ZombieGroup, minAge time.Duration) bool {
	for _, g := range groups {
		for _, z := range g.Zombies {
			if minAge <= 0 || z.OldEnough {
				return true
			}
		}
	}
	return false
}

// zombieGroups diagnoses snap's zombies, reading each parent's wchan.
func zombieGroups(r *collector.Reader, snap *collector.Snapshot, firstSeen map[collector.ID]time.Time, o lifecycle.ZombieOptions) []lifecycle.ZombieGroup {
	wchan := make(map[int]string)
	for _, pid := range lifecycle.ZombieParents(snap) {
		wchan[pid], _ = r.WChan(pid)
	}
	return lifecycle.DiagnoseZombiesWith(snap, firstSeen, wchan, o)
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
