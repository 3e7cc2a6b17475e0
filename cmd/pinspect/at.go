//go:build linux

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector/monitor"
	"github.com/pinspect/pinspect/collector/record"
	"github.com/pinspect/pinspect/views/sanitize"
)

// atFlags are --at and --dir of the commands that can look back in time.
type atFlags struct {
	at, dir string
}

func (f *atFlags) add(cmd *cobra.Command) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[atAnnotation] = atDirWithAt
	cmd.Flags().StringVar(&f.at, "at", "", "show the recorded state at this `TIME` instead of now (RFC 3339, \"2026-12-01 02:00\", 02:00, \"2h ago\"); needs pinspect record")
	cmd.Flags().StringVar(&f.dir, "dir", defaultRecordDir, "with --at: the record directory")
}

// recorded is the state of the record at one time.
type recorded struct {
	store  *record.Store
	sample *record.Sample
	prev   *record.Sample // the sample before, of the same run (nil: none)
	frame  *monitor.Frame
}

// recordedAt opens the record and rebuilds the frame shown at --at: the
// latest sample taken at or before it, with rates from the one before.
// It says on stderr which sample that is when it is not at the time asked.
func (a *app) recordedAt(f *atFlags, focus int) (*recorded, error) {
	at, err := parseWhen(f.at, time.Now())
	if err != nil {
		return nil, usageError{fmt.Errorf("--at: %w", err)}
	}
	st, err := a.openStore(f.dir)
	if err != nil {
		return nil, err
	}
	i, ok := st.Find(at)
	if !ok {
		first, _ := st.Span()
		st.Close()
		return nil, fmt.Errorf("--at %s: the record starts later, at %s", at.Local().Format(time.RFC3339), first.Local().Format(time.RFC3339))
	}
	// A damaged sample is stepped over to the readable one before it, as
	// serve's /api/v1/frame?at= does (it exited 3 with the damage).
	i, cur, err := readableBefore(a, st, i)
	if err != nil {
		st.Close()
		return nil, err
	}
	var prev *record.Sample
	if i > 0 {
		if p, err := st.Read(i - 1); err == nil && p.RunID == cur.RunID {
			prev = p
		}
	}
	if gap := at.Sub(cur.TakenAt()); gap > 2*max(cur.Interval, time.Second) {
		fmt.Fprintf(a.stderr, "pinspect: no sample near %s: showing the one taken %s earlier, at %s\n",
			at.Local().Format(time.RFC3339), gap.Round(time.Second), cur.TakenAt().Local().Format(time.RFC3339))
	}
	for _, s := range st.ClockSteps() {
		if !at.Before(s.To) && !at.After(s.From) {
			fmt.Fprintf(a.stderr, "pinspect: the clock stepped back from %s to %s while recording: %s was recorded twice; showing the sample closest before it\n",
				s.From.Local().Format(time.RFC3339), s.To.Local().Format(time.RFC3339), sanitize.Terminal(f.at))
		}
	}
	return &recorded{store: st, sample: cur, prev: prev, frame: record.Frame(prev, cur, focus)}, nil
}

// readableBefore reads sample i of st or, when it is damaged, the latest
// readable sample before it, and says on stderr which damage it stepped
// over and which sample it took instead; with none readable before it,
// the error names the damage.
func readableBefore(a *app, st *record.Store, i int) (int, *record.Sample, error) {
	j, cur, skipped, firstErr, err := st.ReadReadable(i, -1)
	if err != nil {
		if skipped > 0 {
			return 0, nil, fmt.Errorf("%w, and no readable sample before it", firstErr)
		}
		return 0, nil, err
	}
	if skipped > 0 {
		fmt.Fprintf(a.stderr, "pinspect: record: %s (skipped%s): using the sample before it, taken at %s\n",
			sanitize.Terminal(firstErr.Error()), moreDamaged(skipped), cur.TakenAt().Local().Format(time.RFC3339Nano))
	}
	return j, cur, nil
}

// moreDamaged says how many damaged samples besides the first named were
// stepped over ("" for none).
func moreDamaged(skipped int) string {
	switch skipped {
	case 1:
		return ""
	case 2:
		return ", with 1 more damaged sample"
	}
	return fmt.Sprintf(", with %d more damaged samples", skipped-1)
}
