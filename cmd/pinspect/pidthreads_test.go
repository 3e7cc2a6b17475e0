package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/views/report"
)

// TestPIDThreadsOnly: with --pid, a snapshot with threads reads the
// threads of those processes only, and the document (--json, ps) is the
// same as from a scan of every thread.
func TestPIDThreadsOnly(t *testing.T) {
	cases := []struct {
		root string
		pids []int
	}{
		{filepath.Join("..", "..", "fixtures", "proc", "multithread"), []int{100}},
		{filepath.Join("..", "..", "fixtures", "proc", "multithread"), []int{1, 100}},
		{hostileRoot, []int{108, 114, 121}},
	}
	for _, c := range cases {
		a := &app{stdout: io.Discard, stderr: io.Discard, ctx: context.Background(), procRoot: c.root, pids: c.pids}
		got, err := a.snapshotDoc(true)
		if err != nil {
			t.Fatal(err)
		}
		// Without the optimisation: every thread read, then filtered.
		r, err := collector.NewReader(collector.Options{Root: c.root, Threads: true})
		if err != nil {
			t.Fatal(err)
		}
		full, err := r.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		f, _ := a.filter()
		want := report.NewSnapshotDoc(full, f, true)
		if c.root == hostileRoot {
			// The hostile tree has malformed thread files in processes
			// outside --pid: a full scan counts them (scan counts and
			// problems describe what was read), the selective one does
			// not read them. Only those differ.
			for _, pr := range want.Problems {
				if !slices.Contains(got.Problems, pr) && (slices.Contains(c.pids, pr.PID) || !strings.HasPrefix(pr.File, "task/")) {
					t.Errorf("problem %+v missing", pr)
				}
			}
			got.Summary.Scan, got.Problems = want.Summary.Scan, want.Problems
		}
		if g, w := docJSON(t, got), docJSON(t, want); !bytes.Equal(g, w) {
			t.Errorf("%s --pid %v: document differs from a full thread scan\ngot  %s\nwant %s", c.root, c.pids, g, w)
		}

		// The optimised scan read the threads of the --pid processes only.
		snap, err := a.scan(r, true)
		if err != nil {
			t.Fatal(err)
		}
		for i := range snap.Processes {
			p := &snap.Processes[i]
			selected := slices.Contains(c.pids, p.PID)
			if tasks := p.Read&collector.SrcTasks != 0; tasks != selected && p.Read&collector.SrcStat != 0 {
				t.Errorf("%s pid %d: threads read %v, want %v", c.root, p.PID, tasks, selected)
			}
		}
	}
}

// docJSON is the document as JSON without its timing fields.
func docJSON(t *testing.T, d *report.SnapshotDoc) []byte {
	t.Helper()
	c := *d
	c.TakenAt, c.ScanDurationSeconds = "", 0
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
