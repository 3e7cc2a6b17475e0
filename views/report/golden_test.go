package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pinspect/pinspect/collector"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var scenarios = []string{"multithread", "kthread", "zombie", "orphan", "hostile-comm", "vanished", "bad-stat"}

func fixtureSnapshot(t *testing.T, scenario string) *collector.Snapshot {
	t.Helper()
	r, err := collector.NewReader(collector.Options{
		Root:       filepath.Join("..", "..", "fixtures", "proc", scenario),
		Threads:    true,
		PasswdPath: filepath.Join("..", "..", "fixtures", "passwd"),
		Now:        func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.ScanDuration = 0
	s.Root = "fixtures/proc/" + scenario
	return s
}

// TestGoldenSnapshots: every fixture tree renders to its golden document
// (refresh with `go test ./views/report -update`).
func TestGoldenSnapshots(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteSnapshotJSON(&buf, NewSnapshotDoc(fixtureSnapshot(t, sc), Filter{}, true), true); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("..", "..", "fixtures", "golden", sc+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if d := cmp.Diff(string(want), buf.String()); d != "" {
				t.Errorf("golden mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestSnapshotDocFields(t *testing.T) {
	doc := NewSnapshotDoc(fixtureSnapshot(t, "zombie"), Filter{}, true)
	if doc.Schema != SnapshotSchema || doc.Summary.Zombies != 2 || doc.Summary.ProcessesByState["Z"] != 2 {
		t.Fatalf("summary %+v", doc.Summary)
	}
	for _, p := range doc.Processes {
		if p.State == "Z" && (p.RSSBytes != nil || p.ExitStatus == nil) {
			t.Errorf("zombie %d: rss must be absent, exit status present: %+v", p.PID, p)
		}
	}
	// Filters.
	doc = NewSnapshotDoc(fixtureSnapshot(t, "zombie"), Filter{States: "Z"}, false)
	if len(doc.Processes) != 2 || !doc.Summary.Filtered || doc.Processes[0].Threads != nil {
		t.Errorf("state filter: %d processes", len(doc.Processes))
	}
	doc = NewSnapshotDoc(fixtureSnapshot(t, "multithread"), Filter{Users: []string{"alice"}, Name: "server"}, true)
	if len(doc.Processes) != 1 || doc.Processes[0].PID != 100 || len(doc.Processes[0].Threads) != 3 {
		t.Errorf("user+name filter: %+v", doc.Processes)
	}
}

// TestRawBytesLossless: a comm that is not valid UTF-8 survives in
// comm_raw_base64.
func TestRawBytesLossless(t *testing.T) {
	s := fixtureSnapshot(t, "multithread")
	s.Processes[1].Comm = "caf\xc3\xff"
	var buf bytes.Buffer
	if err := WriteJSON(&buf, NewSnapshotDoc(s, Filter{PIDs: []int{100}}, false)); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Processes []struct {
			Comm string `json:"comm"`
			Raw  string `json:"comm_raw_base64"`
		} `json:"processes"`
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(back.Processes[0].Raw)
	if err != nil || string(raw) != "caf\xc3\xff" || back.Processes[0].Comm != "caf\ufffd\ufffd" {
		t.Errorf("comm %q raw %q (%v)", back.Processes[0].Comm, raw, err)
	}
}

// TestPSTableInert: the text table carries no control byte, whatever the
// comm or command line holds.
func TestPSTableInert(t *testing.T) {
	s := fixtureSnapshot(t, "hostile-comm")
	s.Processes[1].Cmdline = nil // pid 400: COMMAND falls back to its comm ") (x y\nz"
	s.Processes[2].Cmdline = []string{"\x1b]0;pwn\x07", "\x1b[2J", "\u009b31m", "[red]x"}
	var buf bytes.Buffer
	cols, _ := LookupPSColumns(PSColumnsWide)
	if err := WritePSColumns(&buf, &PSView{Doc: NewSnapshotDoc(s, Filter{}, true)}, cols, PSTableOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		for _, r := range line {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
				t.Fatalf("line %d holds control %U: %q", i, r, line)
			}
		}
	}
	if !strings.Contains(out, "?]0;pwn? ?[2J ?31m [red]x") || !strings.Contains(out, ") (x y?z") {
		t.Errorf("unexpected table:\n%s", out)
	}
	if lines := strings.Count(out, "\n"); lines != 1+3+1 {
		t.Errorf("%d lines: a newline in a comm must not add a row:\n%s", lines, out)
	}
}
