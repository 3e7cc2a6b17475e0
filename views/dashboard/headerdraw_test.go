package dashboard

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
	"github.com/rivo/uniseg"
)

// headerTexts are texts that take the header's odd paths: the escaped
// bracket, every tag form parsed, tags that carry over a line, the
// one-cell symbols, and what headerView leaves to a TextView (other
// UTF-8, wide and combining characters, tags it does not parse, escaped
// tags, a tab, a control character).
var headerTexts = []string{
	"",
	"plain ASCII text only",
	"[::b]pinspect[::-]  [aqua]host[-] " + inert("[kworker/0:1]") + " [gray]a[[:::]b[-]",
	"[red::b]ALERT[-::-] [black:yellow]PAUSED[-:-] [white:navy:bd]x[::BD] [::r]rev[::-]",
	"[yellow]carried over\nthe line[-] and [green:]back",
	"[gray]CPUs: waiting for the first sample…[-]\nsort CPU%▼  ▲ ← → ↑↓ │├└─",
	"0[[:::][green]||||[red]||[-]       12.3%]  " + inert("a[b]c[[d]]"),
	"[-]reset first[::-][-:-]",
	"[:]empty fields[::] and [:::] too",
	"wide 日本語 text",
	"combining e\u0301 here",
	"[foo]unknown colour[-]",
	"[#ff0000]numeric[-]",
	"[RED]upper case[-]",
	"[red[]escaped tag",
	"[red][x[]escaped after a tag",
	"[::u]underline[::U]",
	"[red:blue:b:-]url reset[:::-]",
	"[\"region\"]region[\"\"]",
	"tab\there",
	"bell\a here",
	"[]empty tag [ open bracket",
	"[red]unterminated tag [blue",
	"a line much longer than the narrowest screen the test draws on, with [yellow]tags[-] past its edge",
	"one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten",
	"trailing newline\n",
}

// drawBoth draws text with headerView and with a TextView (dynamic
// colours, no wrapping) on two w x h screens and fails on the first cell
// that differs.
func drawBoth(t *testing.T, v *headerView, text string, w, h int) {
	t.Helper()
	tv := tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	tv.SetText(text)
	v.SetText(text)
	scrA, scrB := tcell.NewSimulationScreen("UTF-8"), tcell.NewSimulationScreen("UTF-8")
	for _, s := range []tcell.SimulationScreen{scrA, scrB} {
		if err := s.Init(); err != nil {
			t.Fatal(err)
		}
		s.SetSize(w, h)
		// Something to draw over, as on a real screen.
		s.Fill('#', tcell.StyleDefault.Foreground(tcell.ColorRed))
	}
	defer scrA.Fini()
	defer scrB.Fini()
	tv.SetRect(0, 0, w, h)
	v.SetRect(0, 0, w, h)
	tv.Draw(scrA)
	v.Draw(scrB)
	scrA.Show()
	scrB.Show()
	a, _, _ := scrA.GetContents()
	b, _, _ := scrB.GetContents()
	for i := range a {
		if !slices.Equal(a[i].Runes, b[i].Runes) || a[i].Style != b[i].Style {
			t.Fatalf("%q at %dx%d, cell %d,%d: %q %v, TextView drew %q %v\nheaderView: %s\nTextView:   %s",
				text, w, h, i%w, i/w, string(b[i].Runes), b[i].Style, string(a[i].Runes), a[i].Style,
				lineOf(b, w, i/w), lineOf(a, w, i/w))
		}
	}
}

// TestHeaderDrawsAsTextView: headerView draws every text as a TextView
// with dynamic colours and no wrapping draws it, cell for cell and style
// for style, at several sizes: the odd texts above, whichever path they
// take, and the real header of a dashboard on this machine's processes,
// which must take headerView's own path (else it saves nothing).
func TestHeaderDrawsAsTextView(t *testing.T) {
	sizes := [][2]int{{200, 8}, {80, 3}, {20, 2}, {200, 12}}
	for i, text := range headerTexts {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("odd%d/%dx%d", i, size[0], size[1]), func(t *testing.T) {
				drawBoth(t, newHeaderView(), text, size[0], size[1])
			})
		}
	}
	// One view through all the texts, as the dashboard's: what one text
	// parsed must not show in the next.
	v := newHeaderView()
	for _, text := range append(slices.Clone(headerTexts), headerTexts...) {
		drawBoth(t, v, text, 120, 6)
	}
	sim := tcell.NewSimulationScreen("UTF-8")
	d := New(newTestSource(), Options{Screen: sim})
	f1, f2 := frames(t)
	for _, w := range []int{200, 120, 80, 45} {
		for _, h := range []int{50, 24} {
			sim.SetSize(w, h)
			d.beforeDraw(sim)
			d.apply(f1)
			d.apply(f2)
			text := d.header.text
			if !strings.Contains(text, "pinspect") {
				t.Fatalf("%dx%d: no header: %q", w, h, text)
			}
			if _, fast := parseTagged(text, textStyle(), nil); !fast {
				t.Errorf("%dx%d: the real header is left to a TextView: %q", w, h, text)
			}
			drawBoth(t, newHeaderView(), text, w, max(d.headerH, 1))
		}
	}
	d.paused = true
	d.updateHeader()
	drawBoth(t, newHeaderView(), d.header.text, 200, max(d.headerH, 1))
}

// TestTaggedWidth: taggedWidth measures as tview.TaggedStringWidth, on
// the odd texts' lines, on each of a real header's segments, and on the
// other texts padRight and padLeft pad.
func TestTaggedWidth(t *testing.T) {
	var texts []string
	for _, s := range headerTexts {
		texts = append(texts, strings.Split(s, "\n")...)
	}
	sim := tcell.NewSimulationScreen("UTF-8")
	d := New(newTestSource(), Options{Screen: sim})
	sim.SetSize(200, 50)
	d.beforeDraw(sim)
	f1, f2 := frames(t)
	d.apply(f1)
	d.apply(f2)
	snap := f2.Snapshot
	for _, segs := range [][]seg{d.hostSegs(snap), d.activitySegs(snap), d.shapeSegs(snap)} {
		for _, s := range segs {
			texts = append(texts, s.long, s.short)
		}
	}
	texts = append(texts, strings.Split(d.header.text, "\n")...)
	// What padRight and padLeft measure besides the header: the help
	// page's keys, the menus' and setup's titles, event types.
	for _, k := range keyMap {
		texts = append(texts, tview.Escape(k.keys), k.keys)
	}
	for c := range colDefs {
		texts = append(texts, colDefs[c].title)
	}
	for m := range meterDefs {
		texts = append(texts, meterDefs[m].title)
	}
	for _, sc := range signalChoices {
		texts = append(texts, sc.name)
	}
	texts = append(texts, inert("a[b]c"), inert("[red]x"), "[x", "[]", "[[]", "a[-]b", "[::b]x[::-]")
	for _, s := range texts {
		if got, want := taggedWidth(s), tview.TaggedStringWidth(s); got != want {
			t.Errorf("%q: width %d, tview's %d", s, got, want)
		}
	}
}

// TestRootPagesDrawAsPages: the dashboard's root draws every screen cell
// as tview.Pages draws it (filling the screen first) on a screen the
// application has just cleared: the main page alone, with the bottom
// panels and without, at several sizes, and the help page over it.
func TestRootPagesDrawAsPages(t *testing.T) {
	sim := tcell.NewSimulationScreen("UTF-8")
	if err := sim.Init(); err != nil {
		t.Fatal(err)
	}
	defer sim.Fini()
	d := New(newTestSource(), Options{Screen: sim})
	f1, f2 := frames(t)
	draw := func(root tview.Primitive, w, h int) []tcell.SimCell {
		sim.Fill('#', tcell.StyleDefault.Foreground(tcell.ColorRed)) // the last frame's leftovers
		sim.Show()
		sim.Clear() // as tview.Application before each draw
		root.SetRect(0, 0, w, h)
		root.Draw(sim)
		sim.Show()
		cells, _, _ := sim.GetContents()
		return slices.Clone(cells)
	}
	check := func(name string, w, h int) {
		sim.SetSize(w, h)
		d.beforeDraw(sim)
		d.apply(f1)
		d.apply(f2)
		a := draw(d.pages, w, h)
		b := draw(rootPages{d.pages}, w, h)
		for i := range a {
			if !slices.Equal(a[i].Runes, b[i].Runes) || a[i].Style != b[i].Style {
				t.Fatalf("%s at %dx%d, cell %d,%d: %q %v, tview.Pages drew %q %v\nroot:  %s\nPages: %s",
					name, w, h, i%w, i/w, string(b[i].Runes), b[i].Style, string(a[i].Runes), a[i].Style,
					lineOf(b, w, i/w), lineOf(a, w, i/w))
			}
		}
	}
	sizes := [][2]int{{200, 50}, {120, 30}, {80, 24}, {45, 10}, {20, 5}, {200, 2}}
	for _, shown := range []bool{d.showPanels, !d.showPanels} {
		if d.showPanels != shown {
			d.togglePanels()
		}
		for _, s := range sizes {
			check(fmt.Sprintf("panels %v", shown), s[0], s[1])
		}
	}
	d.pages.ShowPage(pageHelp)
	check("help", 120, 30)
}

// TestFooterDrawsAsTextView: the footer's key line, drawn by a headerView
// since dash6, draws as the TextView it was, in each of the footer's
// forms (the table's keys, a status message, a bottom panel's keys, the
// detail view's), and the forms the dashboard writes take headerView's
// own path (else it saves nothing).
func TestFooterDrawsAsTextView(t *testing.T) {
	sim := tcell.NewSimulationScreen("UTF-8")
	d := New(newTestSource(), Options{Screen: sim})
	f1, f2 := frames(t)
	sim.SetSize(200, 50)
	d.beforeDraw(sim)
	d.apply(f1)
	d.apply(f2)
	check := func(form string, fast bool) {
		t.Helper()
		text := d.keys.text
		if !strings.Contains(text, "help") {
			t.Fatalf("%s: no keys in the footer: %q", form, text)
		}
		if _, ok := parseTagged(text, textStyle(), nil); ok != fast {
			t.Errorf("%s: parsed %v, want %v: %q", form, ok, fast, text)
		}
		for _, w := range []int{200, 80, 30} {
			drawBoth(t, newHeaderView(), text, w, 1)
		}
	}
	check("table", true)
	d.setStatus("refresh every 2s")
	check("status", true)
	d.setStatus("")
	for i := range d.panels {
		d.focusPanel(i)
		// A panel's keys go through tview.Escape, whose escaped
		// brackets are left to a TextView.
		check("panel "+d.panels[i].name, !strings.Contains(d.panels[i].keys, "["))
	}
	d.focusPanel(-1)
	d.openDetail()
	if front, _ := d.pages.GetFrontPage(); front != pageDetail {
		t.Fatal("the detail view did not open")
	}
	check("detail", true)
}

// TestPutScreenAsSetContent: every rune putScreen keeps a string for, and
// runes it does not (wide, combining, invalid, control), with and without
// combining runes, leave the same screen cell as tcell's SetContent.
func TestPutScreenAsSetContent(t *testing.T) {
	runes := []rune{0, 0x1f, 0x7f, 0x80, 0xa0, '日', 'é', 0xd800, -1, 0x10ffff + 1, '▲', '…'}
	for r := rune(0x20); r < 0x7f; r++ {
		runes = append(runes, r)
	}
	for _, r := range "─│┌┐└┘═║╔╗╚╝" {
		if runeCell(r) != string(r) {
			t.Errorf("runeCell(%q) = %q", r, runeCell(r))
		}
		runes = append(runes, r)
	}
	scrA, scrB := tcell.NewSimulationScreen("UTF-8"), tcell.NewSimulationScreen("UTF-8")
	for _, s := range []tcell.SimulationScreen{scrA, scrB} {
		if err := s.Init(); err != nil {
			t.Fatal(err)
		}
		defer s.Fini()
		s.SetSize(len(runes), 2)
	}
	style := tcell.StyleDefault.Foreground(tcell.ColorYellow).Background(tcell.ColorNavy).Bold(true)
	put := putScreen{scrB}
	for x, r := range runes {
		if kept := runeCell(r); kept != "" && kept != string(r) {
			t.Errorf("runeCell(%q) = %q", r, kept)
		}
		scrA.SetContent(x, 0, r, nil, style)
		put.SetContent(x, 0, r, nil, style)
		scrA.SetContent(x, 1, r, []rune{0x301}, style)
		put.SetContent(x, 1, r, []rune{0x301}, style)
	}
	scrA.Show()
	scrB.Show()
	a, _, _ := scrA.GetContents()
	b, _, _ := scrB.GetContents()
	for i := range a {
		if !slices.Equal(a[i].Runes, b[i].Runes) || a[i].Style != b[i].Style || !bytes.Equal(a[i].Bytes, b[i].Bytes) {
			t.Errorf("cell %d,%d (%q): putScreen left %q %v, SetContent %q %v", i%len(runes), i/len(runes), runes[i%len(runes)],
				string(b[i].Runes), b[i].Style, string(a[i].Runes), a[i].Style)
		}
	}
}

// TestAmbiguousWideDrawsAsTview: where tcell makes East Asian ambiguous
// characters two cells wide (RUNEWIDTH_EASTASIAN=1), the arrows, tree
// lines and cut mark the header, the footer and the table write are
// left to tview, and every screen cell is what tview draws (the header
// and the footer lost characters; the table's tree lines and its sort
// column's header style were wrong).
func TestAmbiguousWideDrawsAsTview(t *testing.T) {
	was := uniseg.EastAsianAmbiguousWidth
	uniseg.EastAsianAmbiguousWidth = 2
	t.Cleanup(func() { uniseg.EastAsianAmbiguousWidth = was })
	for _, text := range headerTexts {
		for _, w := range []int{200, 80, 20} {
			drawBoth(t, newHeaderView(), text, w, 6)
		}
	}
	sim := tcell.NewSimulationScreen("UTF-8")
	d := New(newTestSource(), Options{Screen: sim})
	f1, f2 := frames(t)
	sim.SetSize(120, 40)
	d.beforeDraw(sim)
	d.apply(f1)
	d.apply(f2)
	for _, w := range []int{120, 45} {
		drawBoth(t, newHeaderView(), d.header.text, w, max(d.headerH, 1))
		drawBoth(t, newHeaderView(), d.keys.text, w, 1)
	}
	t.Run("table", TestProcTableDrawsAsTview)
}
