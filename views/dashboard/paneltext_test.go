package dashboard

import (
	"fmt"
	"testing"

	"github.com/rivo/tview"
)

// TestPanelTextSetOnlyWhenChanged: a bottom panel given the same text
// as the last frame's keeps what it has (tview would parse it all again
// at the next draw); a different text replaces it.
func TestPanelTextSetOnlyWhenChanged(t *testing.T) {
	d := &Dashboard{}
	tv := tview.NewTextView()
	d.setPanelText(tv, "3 of parent 1")
	fmt.Fprint(tv, "!") // a mark the same text must leave
	d.setPanelText(tv, "3 of parent 1")
	if got := tv.GetText(false); got != "3 of parent 1!" {
		t.Errorf("the same text set again: the panel has %q, want it untouched", got)
	}
	d.setPanelText(tv, "4 of parent 1")
	if got := tv.GetText(false); got != "4 of parent 1" {
		t.Errorf("a new text: the panel has %q, want %q", got, "4 of parent 1")
	}
	other := tview.NewTextView()
	d.setPanelText(other, "3 of parent 1")
	if got := other.GetText(false); got != "3 of parent 1" {
		t.Errorf("another panel given the first one's old text has %q", got)
	}
}
