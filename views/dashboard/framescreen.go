package dashboard

import (
	"strings"
	"sync/atomic"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/uniseg"
)

// frameScreen is the screen the dashboard's tview.Application draws on:
// a frame is composed in a buffer of its own, and Show gives tcell only
// the cells that differ from the frame shown before.
//
// Why: tview clears the whole screen before each draw (Application.draw),
// and each box fills its background before its text is printed; tcell
// marks a cell to be sent to the terminal again whenever a Put changes
// its content from what it holds at that moment, so every cell that is
// not blank went through " " and back, and was sent again every frame
// whether or not it changed: about 6,000 of the 10,000 cells of a 200x50
// terminal, 12-20 KB written a refresh even on an idle machine, each cell
// encoded by tcell with three allocations (docs/PERFORMANCE.md, live13).
//
// The buffer follows tcell's CellBuffer: Put keeps the first grapheme
// cluster of its text and its width, and a style's ColorNone keeps the
// cell's colour. Everything else (events, the cursor, Sync, Init) is the
// tcell screen's.
type frameScreen struct {
	tcell.Screen
	w, h  int
	cur   []frameCell // the frame being drawn
	shown []frameCell // the frame tcell last got
	// stale says shown is not what tcell holds (the first frame, a new
	// size): every cell is given to tcell at the next Show.
	stale bool
	// resized is set by PollEvent when tcell reports a new terminal
	// size: tcell has then cut its own cells to the new size and kept
	// only what fits, so what it holds is not shown any more, even when
	// a second resize brought the size back before the next frame.
	resized atomic.Bool
	// initErr is what Init returned (tview.Application.SetScreen drops
	// it).
	initErr error
	// styles are the styles the cells use, by index (a frame has a few
	// dozen; a cell keeps 4 bytes, not tcell's 72 with two strings), and
	// styleIndex their indexes; last is the style of the last Put, which
	// the next one most often has too.
	styles     []tcell.Style
	styleIndex map[tcell.Style]uint32
	last       tcell.Style
	lastIndex  uint32
	// texts are the cells' texts other than printable ASCII (box
	// drawing, wide characters, clusters with combining marks), by code
	// less textBase, and textCodes their codes; lastText is the text of
	// the last one looked up. A cell holds a code, not a string, so that
	// the two frames (20,000 cells at 200x50) hold no pointers for the
	// garbage collector to follow at every collection.
	texts     []string
	textCodes map[string]uint32
	lastText  string
	lastCode  uint32
}

// maxStyles bounds the styles kept: past it, the next frame starts a new
// table (and is given to tcell whole).
const maxStyles = 1 << 12

// index is style's index in styles.
func (s *frameScreen) index(style tcell.Style) uint32 {
	if style == s.last && len(s.styles) > 0 {
		return s.lastIndex
	}
	i, ok := s.styleIndex[style]
	if !ok {
		if s.styleIndex == nil {
			s.styleIndex = map[tcell.Style]uint32{}
		}
		i = uint32(len(s.styles))
		s.styles = append(s.styles, style)
		s.styleIndex[style] = i
	}
	s.last, s.lastIndex = style, i
	return i
}

// textBase is the code of texts[0]: a code below it is a printable ASCII
// character itself (0 is the empty text).
const textBase = 0x80

// maxTexts bounds the texts kept: past it, the next frame starts a new
// table (and is given to tcell whole).
const maxTexts = 1 << 12

// code is the code of a cell's text.
func (s *frameScreen) code(str string) uint32 {
	if len(str) == 1 && str[0] >= 0x20 && str[0] < 0x7f {
		return uint32(str[0])
	}
	if str == "" {
		return 0
	}
	if str == s.lastText && len(s.texts) > 0 {
		return s.lastCode
	}
	c, ok := s.textCodes[str]
	if !ok {
		if s.textCodes == nil {
			s.textCodes = map[string]uint32{}
		}
		str = strings.Clone(str) // not a piece of a long text kept alive
		c = textBase + uint32(len(s.texts))
		s.texts = append(s.texts, str)
		s.textCodes[str] = c
	}
	s.lastText, s.lastCode = str, c
	return c
}

// text is the text of a code.
func (s *frameScreen) text(c uint32) string {
	switch {
	case c == 0:
		return ""
	case c < textBase:
		return asciiCells[c]
	}
	return s.texts[c-textBase]
}

// resetTexts empties the text table when it grew past maxTexts: only
// when every cell's text is set again (Fill).
func (s *frameScreen) resetTexts() {
	if len(s.texts) <= maxTexts {
		return
	}
	s.texts = s.texts[:0]
	clear(s.textCodes)
	s.lastText, s.lastCode = "", 0
	s.stale = true
}

// resetStyles empties the style table when it grew past maxStyles.
func (s *frameScreen) resetStyles() {
	if len(s.styles) <= maxStyles {
		return
	}
	s.styles = s.styles[:0]
	clear(s.styleIndex)
	s.stale = true
}

// Init implements tcell.Screen, keeping its error.
func (s *frameScreen) Init() error {
	s.initErr = s.Screen.Init()
	return s.initErr
}

// frameCell is one screen cell of a frame: its text (a code:
// frameScreen.code), style (an index in frameScreen.styles) and width.
// It holds no pointer.
type frameCell struct {
	text  uint32
	style uint32
	width int32
}

func newFrameScreen(s tcell.Screen) *frameScreen {
	return &frameScreen{Screen: s, stale: true}
}

// fit sizes the buffers to the tcell screen's size; a new size makes
// every cell stale.
func (s *frameScreen) fit() {
	w, h := s.Screen.Size()
	if w == s.w && h == s.h && len(s.cur) == w*h {
		return
	}
	s.w, s.h = w, h
	s.cur = make([]frameCell, w*h)
	s.shown = make([]frameCell, w*h)
	blank := frameCell{text: ' ', style: s.index(tcell.StyleDefault), width: 1}
	for i := range s.cur {
		s.cur[i] = blank
	}
	s.stale = true
}

// cell is the cell at x, y of the frame being drawn, or nil off screen.
func (s *frameScreen) cell(x, y int) *frameCell {
	if x < 0 || y < 0 || x >= s.w || y >= s.h {
		return nil
	}
	return &s.cur[y*s.w+x]
}

// Clear implements tcell.Screen.
func (s *frameScreen) Clear() { s.Fill(' ', tcell.StyleDefault) }

// Fill implements tcell.Screen.
func (s *frameScreen) Fill(r rune, style tcell.Style) {
	str := runeCell(r)
	if str == "" {
		str = string(r)
	}
	fg, bg, _ := style.Decompose()
	keep := fg == tcell.ColorNone || bg == tcell.ColorNone
	if !keep {
		s.resetStyles() // every cell's style is set below
	}
	s.fit()
	s.resetTexts() // every cell's text is set below
	code := s.code(str)
	i := s.index(style)
	for j := range s.cur {
		c := &s.cur[j]
		if keep {
			i = s.index(keepColors(style, fg, bg, s.styles[c.style]))
		}
		c.text, c.style, c.width = code, i, 1
	}
}

// keepColors is style with the colours it leaves as ColorNone taken from
// old, as tcell's CellBuffer does.
func keepColors(style tcell.Style, fg, bg tcell.Color, old tcell.Style) tcell.Style {
	if fg == tcell.ColorNone || bg == tcell.ColorNone {
		ofg, obg, _ := old.Decompose()
		if fg == tcell.ColorNone {
			style = style.Foreground(ofg)
		}
		if bg == tcell.ColorNone {
			style = style.Background(obg)
		}
	}
	return style
}

// Put implements tcell.Screen: the first grapheme cluster of str (with
// the zero-width ones before it) goes to the cell; the rest is returned.
func (s *frameScreen) Put(x, y int, str string, style tcell.Style) (string, int) {
	c := s.cell(x, y)
	if c == nil {
		return str, 0
	}
	var code uint32
	width := 0
	if len(str) > 0 && str[0] >= 0x20 && str[0] < 0x7f && (len(str) == 1 || str[1] < 0x80) {
		code, str, width = uint32(str[0]), str[1:], 1 // printable ASCII, one cell, not followed by a combining mark
	} else {
		var cl string
		state := -1
		for width == 0 && str != "" {
			var g string
			g, str, width, state = uniseg.FirstGraphemeClusterInString(str, state)
			cl += g
			if g == "" {
				break
			}
		}
		code = s.code(cl)
	}
	fg, bg, _ := style.Decompose()
	c.text, c.style, c.width = code, s.index(keepColors(style, fg, bg, s.styles[c.style])), int32(width)
	return str, width
}

// PutStr implements tcell.Screen.
func (s *frameScreen) PutStr(x, y int, str string) { s.PutStrStyled(x, y, str, tcell.StyleDefault) }

// PutStrStyled implements tcell.Screen.
func (s *frameScreen) PutStrStyled(x, y int, str string, style tcell.Style) {
	s.fit()
	width := 0
	for str != "" && x < s.w && y < s.h {
		str, width = s.Put(x, y, str, style)
		if width == 0 {
			break
		}
		x += width
	}
}

// SetCell implements tcell.Screen.
func (s *frameScreen) SetCell(x, y int, style tcell.Style, ch ...rune) {
	if len(ch) > 0 {
		s.Put(x, y, string(ch), style)
	} else {
		s.Put(x, y, " ", style)
	}
}

// SetContent implements tcell.Screen.
func (s *frameScreen) SetContent(x, y int, primary rune, combining []rune, style tcell.Style) {
	if len(combining) == 0 {
		if str := runeCell(primary); str != "" {
			s.Put(x, y, str, style)
			return
		}
	}
	s.Put(x, y, string(append([]rune{primary}, combining...)), style)
}

// Get implements tcell.Screen.
func (s *frameScreen) Get(x, y int) (string, tcell.Style, int) {
	s.fit()
	c := s.cell(x, y)
	if c == nil {
		return "", tcell.StyleDefault, 0
	}
	if c.width == 0 || c.text == 0 {
		return " ", s.styles[c.style], 1
	}
	return s.text(c.text), s.styles[c.style], int(c.width)
}

// GetContent implements tcell.Screen.
func (s *frameScreen) GetContent(x, y int) (rune, []rune, tcell.Style, int) {
	str, style, width := s.Get(x, y)
	if width == 0 {
		return ' ', nil, style, 1
	}
	rs := []rune(str)
	if len(rs) == 0 {
		return ' ', nil, style, width
	}
	if len(rs) == 1 {
		return rs[0], nil, style, width
	}
	return rs[0], rs[1:], style, width
}

// PollEvent implements tcell.Screen, noting a resize (tview polls the
// screen's events on a goroutine of its own).
func (s *frameScreen) PollEvent() tcell.Event {
	ev := s.Screen.PollEvent()
	if _, ok := ev.(*tcell.EventResize); ok {
		s.resized.Store(true)
	}
	return ev
}

// Show implements tcell.Screen: the cells that changed since the last
// frame go to tcell, which sends them to the terminal.
func (s *frameScreen) Show() {
	s.push()
	s.Screen.Show()
}

// Sync implements tcell.Screen: tcell is given the whole frame and sends
// it all again.
func (s *frameScreen) Sync() {
	s.stale = true
	s.push()
	s.Screen.Sync()
}

// push gives tcell the cells of the frame that differ from the frame it
// was given before (all of them when stale).
func (s *frameScreen) push() {
	s.fit()
	stale := s.resized.Swap(false) || s.stale
	s.stale = false
	for i := range s.cur {
		c := &s.cur[i]
		if !stale && *c == s.shown[i] {
			continue
		}
		s.shown[i] = *c
		s.Screen.Put(i%s.w, i/s.w, s.text(c.text), s.styles[c.style])
	}
}
