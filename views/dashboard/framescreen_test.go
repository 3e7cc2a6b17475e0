package dashboard

import (
	"testing"

	"github.com/gdamore/tcell/v2"
)

// countingScreen counts the cells put on the screen it wraps.
type countingScreen struct {
	tcell.Screen
	puts int
}

func (s *countingScreen) Put(x, y int, str string, style tcell.Style) (string, int) {
	s.puts++
	return s.Screen.Put(x, y, str, style)
}

func newSim(t *testing.T, w, h int) tcell.SimulationScreen {
	t.Helper()
	sim := tcell.NewSimulationScreen("UTF-8")
	if err := sim.Init(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Fini)
	sim.SetSize(w, h)
	return sim
}

// drawFrame draws what tview does in a frame: a clear, a box's
// background, then text over it, through each way in.
func drawFrame(s tcell.Screen, text string) {
	s.Clear()
	bg := tcell.StyleDefault.Background(tcell.ColorNavy)
	w, h := s.Size()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s.SetContent(x, y, ' ', nil, bg)
		}
	}
	s.PutStrStyled(1, 0, text, tcell.StyleDefault.Foreground(tcell.ColorYellow).Background(tcell.ColorNone))
	s.SetContent(0, 1, '│', nil, bg)
	s.SetContent(1, 1, 'e', []rune{'\u0301'}, bg)
	s.Put(3, 1, "世界", bg.Bold(true))
	s.SetCell(6, 1, bg, 'x')
	s.Put(0, 2, "a\u0301b", tcell.StyleDefault)
}

// contents is the screen's cells as tcell will send them.
func contents(s tcell.SimulationScreen) []tcell.SimCell {
	s.Show()
	cells, _, _ := s.GetContents()
	return cells
}

// TestFrameScreenShowsWhatIsDrawn: the terminal gets the same cells
// through a frameScreen as drawn on tcell's screen directly, frame after
// frame, and a frameScreen reads back what was drawn on it.
func TestFrameScreenShowsWhatIsDrawn(t *testing.T) {
	direct, inner := newSim(t, 12, 4), newSim(t, 12, 4)
	fs := newFrameScreen(inner)
	for _, text := range []string{"PID 1 init", "PID 2 kthreadd", "PID 1 init", "ab[c]  é"} {
		drawFrame(direct, text)
		drawFrame(fs, text)
		fs.Show()
		want, got := contents(direct), contents(inner)
		for i := range want {
			if string(got[i].Runes) != string(want[i].Runes) || got[i].Style != want[i].Style {
				t.Fatalf("frame %q, cell %d,%d: %q %v through the frameScreen, %q %v drawn directly",
					text, i%12, i/12, string(got[i].Runes), got[i].Style, string(want[i].Runes), want[i].Style)
			}
		}
		for y := 0; y < 4; y++ {
			for x := 0; x < 12; x++ {
				ws, wst, ww := direct.Get(x, y)
				gs, gst, gw := fs.Get(x, y)
				if ws != gs || wst != gst || ww != gw {
					t.Fatalf("frame %q: Get(%d, %d) = %q %v %d, tcell's %q %v %d", text, x, y, gs, gst, gw, ws, wst, ww)
				}
			}
		}
	}
}

// TestFrameScreenPutsOnlyChanges: a frame drawn again as it was (cleared,
// filled, written over) gives tcell no cell; one changed cell gives it
// that cell; a new size gives it every cell.
func TestFrameScreenPutsOnlyChanges(t *testing.T) {
	inner := &countingScreen{Screen: newSim(t, 20, 3)}
	fs := newFrameScreen(inner)
	drawFrame(fs, "PID 1 init")
	fs.Show()
	if inner.puts != 60 {
		t.Errorf("the first frame put %d cells, want all 60", inner.puts)
	}
	inner.puts = 0
	drawFrame(fs, "PID 1 init")
	fs.Show()
	if inner.puts != 0 {
		t.Errorf("the same frame again put %d cells, want none", inner.puts)
	}
	drawFrame(fs, "PID 7 init")
	fs.Show()
	if inner.puts != 1 {
		t.Errorf("a frame with one cell changed put %d cells, want 1", inner.puts)
	}
	inner.puts = 0
	inner.Screen.(tcell.SimulationScreen).SetSize(10, 3)
	drawFrame(fs, "PID 7 init")
	fs.Show()
	if inner.puts != 30 {
		t.Errorf("the first frame at a new size put %d cells, want all 30", inner.puts)
	}
}

// TestFrameScreenManyStyles: a frame with more styles than the table
// keeps (a cell each, say) is followed by frames shown as drawn.
func TestFrameScreenManyStyles(t *testing.T) {
	const w, h = 80, 60
	direct, inner := newSim(t, w, h), newSim(t, w, h)
	fs := newFrameScreen(inner)
	many := func(s tcell.Screen, seed int32) {
		s.Clear()
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				s.Put(x, y, "x", tcell.StyleDefault.Foreground(tcell.NewRGBColor(seed, int32(x), int32(y))))
			}
		}
	}
	for i, draw := range []func(tcell.Screen){
		func(s tcell.Screen) { many(s, 1) },
		func(s tcell.Screen) { drawFrame(s, "PID 1 init") },
		func(s tcell.Screen) { many(s, 2) },
		func(s tcell.Screen) { many(s, 2) },
		func(s tcell.Screen) { drawFrame(s, "PID 2 init") },
	} {
		draw(direct)
		draw(fs)
		fs.Show()
		want, got := contents(direct), contents(inner)
		for j := range want {
			if string(got[j].Runes) != string(want[j].Runes) || got[j].Style != want[j].Style {
				t.Fatalf("frame %d, cell %d,%d: %q %v through the frameScreen, %q %v drawn directly",
					i, j%w, j/w, string(got[j].Runes), got[j].Style, string(want[j].Runes), want[j].Style)
			}
		}
	}
	if len(fs.styles) > maxStyles+w*h {
		t.Errorf("%d styles kept", len(fs.styles))
	}
}

// TestFrameScreenResizedAndBack: tcell cuts its cells to each new size
// and keeps only what fits; a resize to a smaller terminal and back
// before the next frame leaves the size as it was, and the next frame
// is still given whole (review13's case: the cell at 15,3 was blank).
// Sync gives the whole frame too.
func TestFrameScreenResizedAndBack(t *testing.T) {
	inner := newSim(t, 20, 5)
	fs := newFrameScreen(inner)
	hello := func() {
		fs.Clear()
		fs.PutStrStyled(15, 3, "HELLO", tcell.StyleDefault)
	}
	hello()
	fs.Show()
	inner.SetSize(10, 2)
	inner.SetSize(20, 5)
	for _, size := range [][2]int{{10, 2}, {20, 5}} {
		if err := fs.PostEvent(tcell.NewEventResize(size[0], size[1])); err != nil {
			t.Fatal(err)
		}
		if _, ok := fs.PollEvent().(*tcell.EventResize); !ok {
			t.Fatal("the resize event did not come through")
		}
	}
	hello()
	fs.Show()
	if str, _, _ := inner.Get(15, 3); str != "H" {
		t.Errorf("after a resize and back, the terminal's cell 15,3 is %q, want H", str)
	}
	inner.SetSize(10, 2)
	inner.SetSize(20, 5)
	hello()
	fs.Sync()
	if str, _, _ := inner.Get(16, 3); str != "E" {
		t.Errorf("after Sync, the terminal's cell 16,3 is %q, want E", str)
	}
}

// TestFrameScreenManyTexts: frames with more distinct texts than the
// table keeps (a CJK character or a cluster each cell) are shown as
// drawn, and the table stays bounded. The fourth frame's top rows have
// the first frame's texts and codes, the rest new texts that take
// the table past maxTexts; the fifth starts the table over, and its
// texts get the codes the fourth frame's had at the same cells: only a
// frame given to tcell whole shows them.
func TestFrameScreenManyTexts(t *testing.T) {
	const w, h = 80, 60
	direct, inner := newSim(t, w, h), newSim(t, w, h)
	fs := newFrameScreen(inner)
	many := func(s tcell.Screen, top, bottom rune) {
		s.Clear()
		for y := 0; y < h; y++ {
			base := top
			if y >= h/4 {
				base = bottom
			}
			for x := 0; x < w; x += 2 {
				if x%4 == 0 {
					s.Put(x, y, string(base+rune(y*w+x)), tcell.StyleDefault)
				} else {
					s.SetContent(x, y, 'a'+rune(x%26), []rune{0x300 + rune(y%16)}, tcell.StyleDefault)
				}
			}
		}
	}
	resets := 0
	for i, draw := range []func(tcell.Screen){
		func(s tcell.Screen) { many(s, 0x4e00, 0x4e00) },
		func(s tcell.Screen) { many(s, 0x5e00, 0x5e00) },
		func(s tcell.Screen) { many(s, 0x6e00, 0x6e00) },
		func(s tcell.Screen) { many(s, 0x4e00, 0x7e00) },
		func(s tcell.Screen) { many(s, 0x5e00, 0x5e00) },
		func(s tcell.Screen) { drawFrame(s, "PID 2 init") },
	} {
		before := len(fs.texts)
		draw(direct)
		draw(fs)
		if len(fs.texts) < before {
			resets++
		}
		fs.Show()
		want, got := contents(direct), contents(inner)
		for j := range want {
			if string(got[j].Runes) != string(want[j].Runes) || got[j].Style != want[j].Style {
				t.Fatalf("frame %d, cell %d,%d: %q %v through the frameScreen, %q %v drawn directly",
					i, j%w, j/w, string(got[j].Runes), got[j].Style, string(want[j].Runes), want[j].Style)
			}
		}
	}
	if resets == 0 {
		t.Errorf("the text table never started over (%d texts)", len(fs.texts))
	}
	if len(fs.texts) > maxTexts+w*h {
		t.Errorf("%d texts kept", len(fs.texts))
	}
}
