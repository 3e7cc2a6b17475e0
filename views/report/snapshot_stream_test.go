package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// TestSnapshotDocStreamSameBytes: a streamed document (each process
// converted as it is written) writes the bytes of the whole document,
// compact and indented, for every fixture tree, with and without
// threads and with a filter.
func TestSnapshotDocStreamSameBytes(t *testing.T) {
	roots, err := filepath.Glob(filepath.Join("..", "..", "fixtures", "proc", "*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, root := range roots {
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			continue
		}
		r, err := collector.NewReader(collector.Options{Root: root, Threads: true})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := r.Snapshot(context.Background())
		_ = r.Close()
		if err != nil {
			continue // a tree made to fail a scan
		}
		n++
		for _, f := range []Filter{{}, {PIDs: []int{1, 100}}} {
			for _, threads := range []bool{true, false} {
				for _, indent := range []bool{false, true} {
					var whole, streamed bytes.Buffer
					if err := WriteSnapshotJSON(&whole, NewSnapshotDoc(snap, f, threads), indent); err != nil {
						t.Fatal(err)
					}
					d := NewSnapshotDocStream(snap, f, threads)
					if err := WriteSnapshotJSON(&streamed, d, indent); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(whole.Bytes(), streamed.Bytes()) {
						t.Errorf("%s (filter %v, threads %v, indent %v): streamed document differs\n%s\n%s", root, f, threads, indent, streamed.Bytes(), whole.Bytes())
					}
					if d.ProcessCount() != len(NewSnapshotDoc(snap, f, threads).Processes) {
						t.Errorf("%s: ProcessCount %d", root, d.ProcessCount())
					}
				}
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d fixture trees scanned", n)
	}
}

// TestSnapshotDocStreamSharedCmdlines: processes that share one parsed
// command line (workers forked from one parent), with others between
// them (none, another, one with bytes that are not UTF-8, the same text
// in a slice of its own), stream the bytes encoding/json writes for the
// whole document.
func TestSnapshotDocStreamSharedCmdlines(t *testing.T) {
	worker := []string{"/usr/bin/worker", "-n", "<10>"}
	odd := []string{"odd\xff", "x"}
	cmdlines := [][]string{worker, worker, nil, worker, odd, odd, worker, slices.Clone(worker), worker[:2], worker}
	snap := &collector.Snapshot{}
	for i, c := range cmdlines {
		p := collector.Process{PID: 100 + i, Read: collector.SrcStat | collector.SrcCmdline}
		p.Comm, p.State, p.Cmdline = "w", 'S', c
		p.StartedAt = time.Date(2026, 12, 7, 8, 0, i, 5000, time.UTC)
		snap.Processes = append(snap.Processes, p)
	}
	for _, indent := range []bool{false, true} {
		var whole, streamed bytes.Buffer
		if err := WriteSnapshotJSON(&whole, NewSnapshotDoc(snap, Filter{}, false), indent); err != nil {
			t.Fatal(err)
		}
		if err := WriteSnapshotJSON(&streamed, NewSnapshotDocStream(snap, Filter{}, false), indent); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(whole.Bytes(), streamed.Bytes()) {
			t.Errorf("indent %v: streamed document differs\n%s\n%s", indent, streamed.Bytes(), whole.Bytes())
		}
		if want := encodingJSON(t, NewSnapshotDoc(snap, Filter{}, false), indent); !bytes.Equal(want, whole.Bytes()) {
			t.Errorf("indent %v: differs from encoding/json", indent)
		}
	}
}
