package report

import (
	"bytes"
	"context"
	"encoding/json"
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

// TestSnapshotDocDispositionsAbsent: a process whose signal dispositions
// a walk left out (collector.Process.SigDispAbsent) has no "ignored" and
// "caught" in its document, whole or streamed, where they read as 0 (no
// signal ignored or caught); one read beside it keeps all five masks,
// its distinct values each in its place, as encoding/json writes them.
func TestSnapshotDocDispositionsAbsent(t *testing.T) {
	snap := &collector.Snapshot{}
	for i, absent := range []bool{false, true, false} {
		p := collector.Process{PID: 100 + i, Read: collector.SrcStat | collector.SrcStatus}
		p.Comm, p.State = "w", 'S'
		p.SigPnd, p.ShdPnd, p.SigBlk, p.SigIgn, p.SigCgt = 0x1, 0x20, 0x300, 0x4000, 0x50000
		p.SigDispAbsent = absent
		if absent {
			p.SigIgn, p.SigCgt = 0, 0
		}
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
			t.Errorf("indent %v: differs from encoding/json\n%s\n%s", indent, whole.Bytes(), want)
		}
		var doc struct {
			Processes []struct {
				PID     int               `json:"pid"`
				Signals map[string]string `json:"signals"`
			} `json:"processes"`
		}
		if err := json.Unmarshal(whole.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		for _, p := range doc.Processes {
			_, ign := p.Signals["ignored"]
			_, cgt := p.Signals["caught"]
			if p.PID == 101 && (ign || cgt || p.Signals["blocked"] != "0000000000000300") {
				t.Errorf("pid 101 (dispositions not read): signals %v, want no ignored or caught", p.Signals)
			}
			if p.PID != 101 && (p.Signals["pending"] != "0000000000000001" || p.Signals["shared_pending"] != "0000000000000020" ||
				p.Signals["blocked"] != "0000000000000300" || p.Signals["ignored"] != "0000000000004000" || p.Signals["caught"] != "0000000000050000") {
				t.Errorf("pid %d: signals %v", p.PID, p.Signals)
			}
		}
	}
}
