package dashboard

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/views/sanitize"
)

// TestInertRendersLiterally draws many bracket-heavy strings through inert
// in a table cell and a text view with colours, and checks that exactly
// the sanitised text appears.
func TestInertRendersLiterally(t *testing.T) {
	cases := []string{
		"[red]", "[:::url]", "[:::x) /tmp comm [red]", "[red[]", "[ ab[]", "[/x[]", "[[red]]",
		"[-]", "[\"region\"]", "[#ff0000]x", "[::b]bold[::-]", "a[b]c[", "[", "]", "[]", "[[", "[:::",
		"\x1b[31mred\x1b[0m", "\a\b\t\n\r\x7f\u0085x", "\xff\xfe[", "é[ü]ß",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "[]:-#\"ab/ r1x"
	for i := 0; i < 600; i++ {
		n := rng.IntN(12)
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	sim := tcell.NewSimulationScreen("UTF-8")
	if err := sim.Init(); err != nil {
		t.Fatal(err)
	}
	defer sim.Fini()
	sim.SetSize(120, 2)
	tv := tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	tv.SetRect(0, 1, 120, 1)
	for _, c := range cases {
		want := sanitize.Terminal(c)
		sim.Clear()
		tb := tview.NewTable()
		tb.SetCell(0, 0, tview.NewTableCell("<"+inert(c)+">"))
		tb.SetRect(0, 0, 120, 1)
		tb.Draw(sim)
		tv.SetText("<" + inert(c) + ">")
		tv.Draw(sim)
		sim.Show()
		lines := screenLines(sim)
		for i, l := range lines {
			if l != "<"+want+">" {
				t.Errorf("line %d: %q drawn as %q, want %q", i, c, l, "<"+want+">")
			}
		}
	}
}
