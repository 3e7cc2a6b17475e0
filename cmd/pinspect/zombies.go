//go:build linux

package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/report"
	"github.com/pinspect/pinspect/views/sanitize"
)

func newZombiesCmd(a *app) *cobra.Command {
	var jsonOut, check bool
	var olderThan time.Duration
	warnAbove, critAbove := 0, -1
	cmd := &cobra.Command{
		Use:   "zombies",
		Short: "Explain zombie processes: which parent is not reaping, why, and what to do",
		Long: `List zombie processes grouped by the parent that has not reaped them. For
each parent: its state and what it is blocked in (wchan), whether it
ignores, blocks or handles SIGCHLD, each zombie's exit status, a
diagnosis and a remedy. The common filters select the groups whose
parent matches, whole, and else the zombies that match (--pid ZOMBIE
lists that zombie, under its parent's diagnosis, and counts the others
the parent holds). Exit status: 0 when zombies were listed, 1 when there
were none, 2 for a usage error, 3 when /proc could not be read.

A zombie younger than a few seconds may still be reaped: a parent that
reaps collects a child when it next runs. --older-than D watches for D
(when there are zombies) and tells the zombies that stayed a zombie all
that time from the young ones, labelled "young: may still be reaped".

--check makes it a monitoring check, as Nagios, Icinga, Sensu and
check_mk run plugins: it prints one status line with performance data
(or, with --json, the document) and exits
  0 OK        no more zombies than --warning (default 0)
  1 WARNING   more than --warning
  2 CRITICAL  more than --critical (off unless given)
  3 UNKNOWN   the check could not be made (a usage error included)
It counts the zombies that stayed at least --older-than (5s unless
given; --older-than 0 counts every zombie), so a check does not flap on
a parent that reaps.`,
		Example: `  pinspect zombies
  pinspect zombies --user www-data --json
  pinspect zombies --check --warning 5 --critical 50   # a Nagios/Icinga check command`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !check {
				for _, f := range []string{"warning", "critical"} {
					if changed(cmd, f) {
						return notApplicable("--"+f, "zombies without --check", "it is a threshold of --check")
					}
				}
			}
			if warnAbove < 0 || (critAbove >= 0 && critAbove < warnAbove) || critAbove < -1 {
				return usageError{fmt.Errorf("--warning %d --critical %d: want 0 <= warning <= critical (critical -1: off)", warnAbove, critAbove)}
			}
			if olderThan < 0 {
				return usageError{fmt.Errorf("--older-than must not be negative")}
			}
			if a.at.at != "" && changed(cmd, "older-than") {
				return notApplicable("--older-than", "zombies --at", "it watches what happens now")
			}
			age := zombieAge{minAge: olderThan, zero: changed(cmd, "older-than") && olderThan == 0}
			if check && !changed(cmd, "older-than") {
				age.minAge = lifecycle.DefaultZombieMinAge
			}
			return a.zombies(jsonOut, check, warnAbove, critAbove, age)
		},
	}
	a.at.add(cmd)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the diagnosis as JSON")
	cmd.Flags().BoolVar(&check, "check", false, "a monitoring check: a status line and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN")
	cmd.Flags().IntVar(&warnAbove, "warning", warnAbove, "--check: WARNING when there are more than `N` zombies")
	cmd.Flags().IntVar(&critAbove, "critical", critAbove, "--check: CRITICAL when there are more than `N` zombies (-1: never)")
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "watch this long and tell zombies that stayed from young ones, which may still be reaped (--check: 5s unless given)")
	return withFilters(reads(cmd, sourceProc), filterFlags...)
}

// zombieAge is --older-than: the age a zombie must have reached to count
// as not reaped (0: no watching); zero says --older-than 0 was given (no
// zombie is young, however fresh).
type zombieAge struct {
	minAge time.Duration
	zero   bool
}

// zombies reads the zombies (now, or at --at from the record), applies
// the filters, and prints them, or the --check status line.
func (a *app) zombies(jsonOut, check bool, warnAbove, critAbove int, age zombieAge) error {
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
		if snap, firstSeen, watch, err = a.zombieSnapshot(r, age.minAge); err != nil {
			return err
		}
		minAge := age.minAge
		if age.zero {
			minAge = -1 // --older-than 0: no zombie is young
		}
		groups = zombieGroups(r, snap, firstSeen, lifecycle.ZombieOptions{MinAge: minAge, WatchStart: watch})
	}
	if !f.Empty() {
		groups = filterZombies(groups, snap, f.For(snap))
	}
	switch {
	case check:
		st := zombieCheck(groups, age.minAge, warnAbove, critAbove)
		a.exitCode = st.code
		if !jsonOut {
			return writeOut2(fmt.Fprintln(a.stdout, st.line))
		}
	case len(groups) == 0:
		a.exitCode = exitNoMatch
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
}

// Nagios plugin states: the exit codes of --check.
const (
	nagiosOK       = 0
	nagiosWarning  = 1
	nagiosCritical = 2
	nagiosUnknown  = 3
)

// checkStatus is a --check result: the exit code and the status line.
type checkStatus struct {
	code int
	line string
}

// zombieCheck rates the zombies of groups that stayed at least minAge
// (every one, with minAge 0) against the thresholds (more than warn:
// WARNING; more than crit, when crit >= 0: CRITICAL) and writes the
// plugin line: "ZOMBIES STATE - text | perfdata", the perfdata in
// Nagios's form 'label'=value;warn;crit;min.
func zombieCheck(groups []lifecycle.ZombieGroup, minAge time.Duration, warn, crit int) checkStatus {
	var stuck []lifecycle.ZombieGroup
	n := 0
	for _, g := range groups {
		var zs []lifecycle.ZombieInfo
		for _, z := range g.Zombies {
			if minAge <= 0 || z.OldEnough {
				zs = append(zs, z)
			}
		}
		if len(zs) > 0 {
			g.Zombies = zs
			stuck = append(stuck, g)
			n += len(zs)
		}
	}
	groups = stuck
	st := checkStatus{code: nagiosOK}
	switch {
	case crit >= 0 && n > crit:
		st.code = nagiosCritical
	case n > warn:
		st.code = nagiosWarning
	}
	critText := ""
	if crit >= 0 {
		critText = strconv.Itoa(crit)
	}
	text := "no zombies"
	if n > 0 {
		// The parents holding most, as "pid comm (n)"; a comm is
		// sanitised and cannot open the perfdata part with a "|".
		sorted := slices.Clone(groups)
		slices.SortStableFunc(sorted, func(x, y lifecycle.ZombieGroup) int { return len(y.Zombies) - len(x.Zombies) })
		var parts []string
		for i, g := range sorted {
			if i == 3 {
				parts = append(parts, "...")
				break
			}
			comm := strings.ReplaceAll(sanitize.Terminal(g.ParentComm), "|", "?")
			parts = append(parts, fmt.Sprintf("%d %s (%d)", g.Parent.PID, comm, len(g.Zombies)))
		}
		text = fmt.Sprintf("%d %s under %d %s: %s", n, pluralWord(n, "zombie", "zombies"), len(groups), pluralWord(len(groups), "parent", "parents"), strings.Join(parts, ", "))
	}
	state := [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}[st.code]
	st.line = fmt.Sprintf("ZOMBIES %s - %s | zombies=%d;%d;%s;0 zombie_parents=%d;;;0", state, text, n, warn, critText, len(groups))
	return st
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeOut2 is writeOut for a Fprint result.
func writeOut2(_ int, err error) error { return writeOut(err) }

// zombiesCheckArgs reports whether args run `zombies --check`: its
// failures, usage errors included, are then UNKNOWN (3) with a status
// line, as a monitoring system expects of a plugin.
func zombiesCheckArgs(args []string) bool {
	sub, check := "", false
	for _, a := range args {
		switch {
		case a == "--check" || a == "--check=true":
			check = true
		case a == "--check=false":
			check = false
		case sub == "" && !strings.HasPrefix(a, "-"):
			sub = a
		}
	}
	return sub == "zombies" && check
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

// zombieGroups diagnoses snap's zombies, reading each parent's wchan.
func zombieGroups(r *collector.Reader, snap *collector.Snapshot, firstSeen map[collector.ID]time.Time, o lifecycle.ZombieOptions) []lifecycle.ZombieGroup {
	wchan := make(map[int]string)
	for _, pid := range lifecycle.ZombieParents(snap) {
		wchan[pid], _ = r.WChan(pid)
	}
	return lifecycle.DiagnoseZombiesWith(snap, firstSeen, wchan, o)
}

// filterZombies keeps the groups whose parent matches f, whole, and of
// the others the zombies that match f, counting the rest of them
// (OtherZombies): `zombies --pid Z` shows zombie Z, not its siblings.
func filterZombies(groups []lifecycle.ZombieGroup, snap *collector.Snapshot, f report.Filter) []lifecycle.ZombieGroup {
	match := func(pid int) bool { p := lifecycle.Find(snap, pid); return p != nil && f.Match(p) }
	var out []lifecycle.ZombieGroup
	for _, g := range groups {
		if match(g.Parent.PID) {
			out = append(out, g)
			continue
		}
		var kept []lifecycle.ZombieInfo
		for _, z := range g.Zombies {
			if match(z.ID.PID) {
				kept = append(kept, z)
			}
		}
		if len(kept) == 0 {
			continue
		}
		g.OtherZombies += len(g.Zombies) - len(kept)
		g.Zombies = kept
		g.Since = kept[0].FirstSeen
		for _, z := range kept[1:] {
			if z.FirstSeen.Before(g.Since) {
				g.Since = z.FirstSeen
			}
		}
		out = append(out, g)
	}
	return out
}
