package dashboard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/collector"
)

// TestHeaderCPUsUnknown: a --proc-root tree without cpuinfo has no CPU
// count, and the header said "CPUs 0"; it says "CPUs ?" (unknown), and
// the tree's own count with cpuinfo. Its PSI, never there, is "not
// present" (it said "vanished").
func TestHeaderCPUsUnknown(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "fixtures", "proc", "multithread"))); err != nil {
		t.Fatal(err)
	}
	header := func() string {
		t.Helper()
		r, err := collector.NewReader(collector.Options{Root: root})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		snap, err := r.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		d := New(newTestSource(), Options{Screen: tcell.NewSimulationScreen("UTF-8")})
		var b strings.Builder
		for _, s := range d.hostSegs(snap) {
			b.WriteString(s.long + " | ")
		}
		return b.String()
	}
	if h := header(); !strings.Contains(h, "| CPUs ") || strings.Contains(h, "CPUs 0") || strings.Contains(h, "CPUs ?") {
		t.Errorf("with cpuinfo: header %q, want the tree's CPU count", h)
	}
	if err := os.Remove(filepath.Join(root, "cpuinfo")); err != nil {
		t.Fatal(err)
	}
	if h := header(); !strings.Contains(h, "| CPUs ? |") || strings.Contains(h, "CPUs 0") {
		t.Errorf("without cpuinfo: header %q, want \"CPUs ?\"", h)
	}
	// The tree has no pressure/ either: its PSI was said "vanished".
	if h := header(); !strings.Contains(h, "PSI - [gray](not present)") {
		t.Errorf("without pressure/: header %q, want PSI - (not present)", h)
	}
}
