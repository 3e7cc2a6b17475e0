package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

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
