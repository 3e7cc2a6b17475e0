package dashboard

import (
	"math/rand/v2"
	"slices"
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

// TestInertNoForgedLines: tview breaks lines at U+2028 and U+2029 (and
// bidi and zero-width characters act unseen), so a command line or a
// 15-byte name holding them added lines such as "Capabilities: all" to
// the Status tab, the zombie panel and the kill confirmation. Through
// inert they are one line of inert text, in a wrapping text view and in
// a modal dialog alike.
func TestInertNoForgedLines(t *testing.T) {
	sim := tcell.NewSimulationScreen("UTF-8")
	if err := sim.Init(); err != nil {
		t.Fatal(err)
	}
	defer sim.Fini()
	sim.SetSize(100, 20)
	for _, hostile := range []string{
		"a\u2028Capabilities: all",
		"a\u2029User nobody",
		"\u202eUser nobody",
		"x\u2066\u200b\u200d\ufeffUser nobody",
	} {
		sim.Clear()
		tv := tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true)
		tv.SetRect(0, 0, 100, 10)
		tv.SetText("Command: " + inert(hostile) + "\nState: S")
		tv.Draw(sim)
		sim.Show()
		var text []string
		for _, l := range screenLines(sim) {
			if l != "" {
				text = append(text, l)
			}
		}
		if len(text) != 2 || !strings.HasPrefix(text[1], "State: S") || strings.Contains(text[0], "\u2028") {
			t.Errorf("%q in a text view: lines %q, want the command on one line", hostile, text)
		}
		for _, l := range text {
			if strings.HasPrefix(l, "Capabilities") || strings.HasPrefix(l, "User nobody") {
				t.Errorf("%q forged the line %q", hostile, l)
			}
			for _, r := range l {
				if r == '\u2028' || r == '\u2029' || r == '\u202e' || r == '\u2066' || r == '\u200b' || r == '\u200d' || r == '\ufeff' {
					t.Errorf("%q: %U reached the screen", hostile, r)
				}
			}
		}
		// The confirmation wraps its text to its width; it must wrap the
		// hostile name exactly as it wraps the same name with '?' for
		// each invisible character.
		modal := func(name string) []string {
			sim.Clear()
			m := tview.NewModal().SetText("Send SIGTERM to 42 " + name + "?").AddButtons([]string{"Cancel", "Send"})
			m.SetRect(0, 0, 100, 20)
			m.Draw(sim)
			sim.Show()
			return screenLines(sim)
		}
		plain := strings.Map(func(r rune) rune {
			if r == '\u2028' || r == '\u2029' || r == '\u202e' || r == '\u2066' || r == '\u200b' || r == '\u200d' || r == '\ufeff' {
				return '?'
			}
			return r
		}, hostile)
		if got, want := modal(inert(hostile)), modal(plain); !slices.Equal(got, want) {
			t.Errorf("%q in the confirmation:\n%s\nwant\n%s", hostile, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
