package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// ZombiesSchema is the schema version of the `pinspect zombies --json`
// document.
const ZombiesSchema = "pinspect.zombies/v1"

// ZombiesDoc is the `pinspect zombies --json` document.
type ZombiesDoc struct {
	Schema  string `json:"schema"`
	TakenAt string `json:"taken_at"`
	// Zombies is the total number of zombie processes.
	Zombies int              `json:"zombies"`
	Parents []ZombieGroupDoc `json:"parents"`
	// Scan is the snapshot's scan counts: processes that vanished while
	// read or whose stat was unreadable were not checked.
	Scan *ScanCountsDoc `json:"scan,omitempty"`
	// History is what the record says of each parent (zombies --at).
	History []ZombieHistoryDoc `json:"history,omitempty"`
}

// ZombieGroupDoc is one parent with its zombies and diagnosis.
type ZombieGroupDoc struct {
	Parent    ZombieParentDoc `json:"parent"`
	Zombies   []ZombieDoc     `json:"zombies"`
	Since     string          `json:"since"`
	Diagnosis string          `json:"diagnosis"`
	Remedy    string          `json:"remedy"`
	// MinAgeSeconds is the age below which a zombie may still be reaped
	// (--older-than, or 5); Young is true when every zombie is younger.
	MinAgeSeconds float64 `json:"min_age_seconds"`
	Young         bool    `json:"young,omitempty"`
	// OtherZombies counts the parent's zombies not listed: the selection
	// (--pid) named some of its zombies, not the parent. The diagnosis is
	// the parent's, of all its zombies.
	OtherZombies int `json:"other_zombies,omitempty"`
}

// ZombieParentDoc describes the parent that is not reaping.
type ZombieParentDoc struct {
	PID           int     `json:"pid"`
	StartTicks    *uint64 `json:"start_ticks,omitempty"`
	Comm          string  `json:"comm,omitempty"`
	CommRawBase64 string  `json:"comm_raw_base64,omitempty"`
	State         string  `json:"state,omitempty"`
	StateName     string  `json:"state_name,omitempty"`
	WChan         string  `json:"wchan,omitempty"`
	// WChanUnavailable says why WChan is absent when it is not because
	// the parent runs: "masked" when the kernel hides it from this user.
	WChanUnavailable string `json:"wchan_unavailable,omitempty"`
	// SIGCHLD is "default", "ignored", "blocked" or "handled"; absent when
	// the parent's status was unreadable.
	SIGCHLD   string `json:"sigchld,omitempty"`
	TracerPID int    `json:"tracer_pid,omitempty"`
	IsInit    bool   `json:"is_init,omitempty"`
	// LeaderExited is true when the parent's main thread has exited and
	// its other threads run: State says Z (the kernel's letter, as in a
	// process's document), and the parent is alive, not a zombie.
	LeaderExited bool `json:"leader_exited,omitempty"`
	// Missing is true when the parent could not be read.
	Missing bool `json:"missing,omitempty"`
}

// ZombieDoc is one zombie.
type ZombieDoc struct {
	PID           int            `json:"pid"`
	StartTicks    uint64         `json:"start_ticks"`
	Comm          string         `json:"comm"`
	CommRawBase64 string         `json:"comm_raw_base64,omitempty"`
	Exit          *ExitStatusDoc `json:"exit,omitempty"`
	// ExitUnavailable says why Exit is absent: "masked" when the kernel
	// hides a zombie's exit status from this reader.
	ExitUnavailable string `json:"exit_unavailable,omitempty"`
	// FirstSeen is when it was first seen a zombie: by a monitor, or the
	// snapshot's time when nothing was watching.
	FirstSeen string `json:"first_seen"`
	// ZombieSeconds is how long a monitor has seen it a zombie; absent
	// when nothing was watching (a one-shot run), as that is unknown.
	ZombieSeconds *float64 `json:"zombie_seconds,omitempty"`
	// StartedAt is when the process started: an upper bound on how long it
	// has been a zombie.
	StartedAt string `json:"started_at,omitempty"`
	// Young is true when it is provably younger than the parent group's
	// min_age_seconds: it may still be reaped.
	Young bool `json:"young,omitempty"`
}

// NewZombiesDoc builds the zombies document from diagnoses made at now.
func NewZombiesDoc(groups []lifecycle.ZombieGroup, now time.Time) *ZombiesDoc {
	d := &ZombiesDoc{Schema: ZombiesSchema, TakenAt: now.UTC().Format(time.RFC3339Nano), Parents: []ZombieGroupDoc{}}
	for _, g := range groups {
		gd := ZombieGroupDoc{
			Parent: ZombieParentDoc{
				PID: g.Parent.PID, WChan: g.ParentWChan, WChanUnavailable: g.ParentWChanUnavailable, SIGCHLD: g.SIGCHLD,
				TracerPID: g.ParentTracer, IsInit: g.ParentIsInit, Missing: g.ParentMissing,
			},
			Since: g.Since.UTC().Format(time.RFC3339Nano), Diagnosis: g.Diagnosis, Remedy: g.Remedy,
			MinAgeSeconds: max(g.MinAge, 0).Seconds(), Young: g.Young, OtherZombies: g.OtherZombies,
		}
		if !g.ParentMissing {
			gd.Parent.StartTicks = ptr(g.Parent.StartTicks)
			gd.Parent.Comm, gd.Parent.CommRawBase64 = textAndRaw(g.ParentComm)
			// As in a process's document: a leader-exited parent keeps
			// the kernel's Z, named for what it is.
			_, name := g.ParentStateLetterName()
			gd.Parent.State, gd.Parent.StateName, gd.Parent.LeaderExited = stateKey(g.ParentState), name, g.ParentLeaderExited
		}
		for _, z := range g.Zombies {
			zd := ZombieDoc{
				PID: z.ID.PID, StartTicks: z.ID.StartTicks, Exit: NewExitStatusDoc(z.Exit), ExitUnavailable: z.ExitUnavailable,
				FirstSeen: z.FirstSeen.UTC().Format(time.RFC3339Nano), Young: z.Young,
			}
			if z.Observed {
				zd.ZombieSeconds = ptr(max(0, now.Sub(z.FirstSeen).Seconds()))
			}
			zd.Comm, zd.CommRawBase64 = textAndRaw(z.Comm)
			if !z.StartedAt.IsZero() {
				zd.StartedAt = z.StartedAt.UTC().Format(time.RFC3339Nano)
			}
			gd.Zombies = append(gd.Zombies, zd)
			d.Zombies++
		}
		d.Parents = append(d.Parents, gd)
	}
	return d
}

// WriteZombiesText writes the zombie report as sanitised text.
func WriteZombiesText(w io.Writer, groups []lifecycle.ZombieGroup, now time.Time) error {
	ew := &errWriter{w: w}
	n := 0
	for _, g := range groups {
		n += len(g.Zombies)
	}
	if n == 0 {
		ew.printf("no zombie processes\n")
		return ew.err
	}
	ew.printf("%s under %s\n", lifecycle.CountOf(n, "zombie", "zombies"), lifecycle.CountOf(len(groups), "parent", "parents"))
	for _, g := range groups {
		ew.printf("\n")
		if g.ParentMissing {
			ew.printf("parent %d (unreadable)\n", g.Parent.PID)
		} else {
			letter, name := g.ParentStateLetterName()
			ew.printf("parent %d (%s)  state %s %s", g.Parent.PID, sanitize.Terminal(g.ParentComm), stateKey(letter), name)
			if g.ParentLeaderExited {
				ew.printf(" (its main thread exited; its other threads run)")
			}
			switch {
			case g.ParentWChan != "":
				ew.printf(" in %s", sanitize.Terminal(g.ParentWChan))
			case g.ParentWChanUnavailable != "":
				ew.printf(" (wchan %s)", sanitize.Terminal(g.ParentWChanUnavailable))
			}
			if g.SIGCHLD != "" {
				ew.printf("  SIGCHLD %s", g.SIGCHLD)
			}
			if g.ParentTracer > 0 {
				ew.printf("  traced by %d", g.ParentTracer)
			}
			ew.printf("\n")
		}
		count := lifecycle.CountOf(len(g.Zombies), "zombie", "zombies")
		if g.OtherZombies > 0 {
			count += fmt.Sprintf(" (the parent holds %d more, not selected)", g.OtherZombies)
		}
		if now.Sub(g.Since) < time.Second {
			ew.printf("  %s, first seen now\n", count)
		} else if g.SinceExited() {
			ew.printf("  %s since %s (%s)\n", count, g.Since.Local().Format("15:04:05"), g.AgeText(now))
		} else {
			older := "they may be older"
			if len(g.Zombies) == 1 {
				older = "it may be older"
			}
			ew.printf("  %s, first seen at %s, %s ago (%s)\n", count,
				g.Since.Local().Format("15:04:05"), now.Sub(g.Since).Truncate(time.Second), older)
		}
		ew.printf("  diagnosis: %s\n", sanitize.Terminal(g.Diagnosis))
		ew.printf("  remedy:    %s\n", sanitize.Terminal(g.Remedy))
		ew.printf("  %8s  %-22s  %-10s  %-10s  %s\n", "PID", "EXIT", "SEEN FOR", "AGE", "COMM")
		for _, z := range g.Zombies {
			ex := "unknown"
			switch {
			case z.Exit != nil:
				ex = z.Exit.String()
			case z.ExitUnavailable != "":
				ex = z.ExitUnavailable
			}
			age := "?"
			if !z.StartedAt.IsZero() {
				age = ago(now.Sub(z.StartedAt))
			}
			seen := "-" // nothing was watching: unknown
			if z.Observed {
				seen = ago(now.Sub(z.FirstSeen))
			}
			young := ""
			if z.Young {
				young = "  (young: may still be reaped)"
			}
			ew.printf("  %8d  %-22s  %-10s  %-10s  %s%s\n", z.ID.PID, ex, seen, age, sanitize.Terminal(z.Comm), young)
		}
		ew.printf("  (AGE is since the process started: it has been a zombie for at most that long)\n")
	}
	return ew.err
}

// UncheckedNote says how many processes a report could not check, from
// its snapshot's scan counts: the ones that vanished while they were read
// (gone, so not in the snapshot) and the ones whose stat could not be read
// (kept, but without a state or a parent to judge); "" when none. A zombie
// or orphan report that leaves them out silently would claim a
// completeness it does not have.
func UncheckedNote(c collector.ScanCounts) string {
	if c.Vanished == 0 && c.Unreadable == 0 {
		return ""
	}
	var parts []string
	if c.Vanished > 0 {
		parts = append(parts, fmt.Sprintf("%d vanished while read", c.Vanished))
	}
	if c.Unreadable > 0 {
		parts = append(parts, fmt.Sprintf("%d unreadable (no stat)", c.Unreadable))
	}
	return fmt.Sprintf("note: %s not checked: %s", lifecycle.CountOf(c.Vanished+c.Unreadable, "process", "processes"), strings.Join(parts, ", "))
}

// ago renders a duration coarsely: "0s", "12s", "3m4s", "2h5m".
func ago(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return d.Truncate(time.Second).String()
	case d < time.Hour:
		return d.Truncate(time.Second).String()
	}
	return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, a...)
}
