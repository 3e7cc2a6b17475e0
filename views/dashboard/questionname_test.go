package dashboard

import (
	"context"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/fixtures/livehelper"
	"github.com/pinspect/pinspect/views/report"
)

// TestQuestionMarkNameIsNotUnknown: a process named "?" (prctl), or
// named by a control character that sanitising turns into "?", is shown
// quoted with its escapes ("?", "\n") in the text outputs' event lines
// and the dashboard's event list, never as the bare "?" that stands for
// a name pinspect does not know; a name that merely contains such a
// character stays sanitised as before. Real processes, their spawns
// found by diffing two real scans.
func TestQuestionMarkNameIsNotUnknown(t *testing.T) {
	r, err := collector.NewReader(collector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	prev, err := r.Scan(context.Background(), collector.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{}
	for name, shown := range map[string]string{"?": `"?"`, "\n": `"\n"`, "a\nb": "a?b"} {
		p := livehelper.Start(t, "comm", name)
		want[p.PID()] = shown
	}
	var cur *collector.Snapshot
	for range 100 {
		if cur, err = r.Scan(context.Background(), collector.ScanOptions{}); err != nil {
			t.Fatal(err)
		}
		named := 0
		for pid := range want {
			if p := lifecycle.Find(cur, pid); p != nil && p.Comm != "procshape" {
				named++
			}
		}
		if named == len(want) {
			break
		}
		livehelper.Sleep()
	}
	seen := 0
	for _, e := range lifecycle.Diff(prev, cur) {
		shown, ok := want[e.ID.PID]
		if !ok || e.Type != lifecycle.Spawn {
			continue
		}
		seen++
		text, d := report.FormatEvent(&e), eventDetail(&e)
		if !strings.Contains(text, " "+shown+" ") || !strings.HasPrefix(d, shown+" ") {
			t.Errorf("comm %q: text %q, dashboard %q; want it shown as %s", e.Comm, text, d, shown)
		}
		if strings.Contains(text, " "+lifecycle.UnknownName+" ") || strings.HasPrefix(d, lifecycle.UnknownName+" ") {
			t.Errorf("comm %q shown as the unknown name: text %q, dashboard %q", e.Comm, text, d)
		}
		if strings.ContainsAny(text+d, "\n\x1b") {
			t.Errorf("comm %q not sanitised: %q %q", e.Comm, text, d)
		}
	}
	if seen != len(want) {
		t.Fatalf("%d of the %d helpers' spawns found between the scans", seen, len(want))
	}
}
