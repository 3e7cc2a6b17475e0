package dashboard

import (
	"strings"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
	"github.com/rivo/uniseg"
)

// selectedRowStyle is the style of the process table's selected row.
var selectedRowStyle = tcell.StyleDefault.Background(tcell.ColorNavy).Foreground(tcell.ColorWhite).Bold(true)

// procTable is the process table. tview.Table keeps the selection, the
// scrolling, the keys and the mouse, and lays the table out (it is drawn
// on a layoutScreen, which keeps nothing); procTable then draws the rows
// on screen itself, as tview.Table would have drawn them, cell for cell
// and style for style (TestProcTableDrawsAsTview holds the two equal).
//
// Why: tview measures and prints every cell's text through Unicode
// grapheme segmentation (uniseg), with no shortcut for plain ASCII, and
// paints the table three times (the background, the text, then each
// cell's colours again); at a 200x50 screen that was most of a refresh's
// drawing. A process row is almost always printable ASCII, one screen
// cell a byte, and procTable paints each screen cell once. Text with
// anything else (other UTF-8, which may be wide or combine, and tview's
// colour tags) is still printed by tview.
//
// The data cells tview sees are blank (tableModel.GetCell): a data cell is
// never wider than its column's header cell (colWidth; the header is
// padded to it), so the header sets the widths of the columns and they do
// not depend on the rows shown (they do not jump while scrolling); only
// COMMAND, the last column, is measured over the rows shown, as tview
// does, and takes the rest of the width.
type procTable struct {
	*tview.Table
	m *tableModel
	// glyphs and widths are scratch space for a draw.
	glyphs []string
	widths []int
}

func newProcTable(m *tableModel) *procTable {
	t := &procTable{Table: tview.NewTable(), m: m}
	t.SetContent(m).SetFixed(1, 0).SetSelectable(true, false)
	t.SetSelectedStyle(selectedRowStyle)
	return t
}

// tableSeparatorColor is the colour tview.Table gives the separator
// between columns (NewTable: Styles.GraphicsColor; it is not changed).
func tableSeparatorColor() tcell.Color { return tview.Styles.GraphicsColor }

// cellStyles are the styles tview.Table leaves on a cell's screen cells:
// its text's (the cell's style, or its colours), its background's, and
// the separator's after it. tview prints the text over the table's
// background, then paints each cell's background colour over the text
// and the separator unless the cell is transparent, then the selected
// row's style over all of it.
func (t *procTable) cellStyles(cell *tview.TableCell, selected bool) (text, pad, sep tcell.Style) {
	if selected {
		return selectedRowStyle, selectedRowStyle, selectedRowStyle
	}
	text = cell.Style
	bg := cell.BackgroundColor
	if text == tcell.StyleDefault {
		text = tcell.StyleDefault.Background(cell.BackgroundColor).Foreground(cell.Color).Attributes(cell.Attributes)
	} else {
		_, bg, _ = cell.Style.Decompose()
	}
	if cell.Transparent {
		bg = t.GetBackgroundColor()
	}
	return text.Background(bg), tcell.StyleDefault.Background(bg), tcell.StyleDefault.Background(bg).Foreground(tableSeparatorColor())
}

// Draw implements tview.Primitive: tview.Table lays the table out and
// updates its offsets and selection without drawing; then every screen
// cell of the table is painted once.
func (t *procTable) Draw(screen tcell.Screen) {
	t.Table.Draw(layoutScreen{screen})
	t.drawRows(screen)
}

// drawRows paints the table: the header, the data rows on screen (tview
// has just laid them out, so its offsets are current), and the
// background below the last row.
func (t *procTable) drawRows(screen tcell.Screen) {
	m := t.m
	x, y, width, height := t.GetInnerRect()
	if width <= 0 || height <= 0 {
		return
	}
	rowOff, colOff := t.GetOffset()
	sel, _ := t.GetSelection()
	boxStyle := tcell.StyleDefault.Background(t.GetBackgroundColor())
	// The rows shown: the header (table row 0), then from the offset.
	last := min(rowOff+height-1, len(m.rows))
	if len(m.header) == 0 {
		last = 0
	}
	// The widths of the columns shown, as tview.Table computes them.
	// A column other than COMMAND that the right edge cuts is left blank
	// below its header (cut): part of a value ('.0' of 0:00.00, '.4' of
	// 1.4M) would read as a value.
	t.widths = t.widths[:0]
	cx, expand, cut := 0, -1, -1
	for i := colOff; i < len(m.cols) && i < len(m.header) && cx < width; i++ {
		c := m.cols[i]
		w := m.colWidth(c)
		if c == colCmd {
			w = t.cmdWidth(rowOff+1, last, i)
			expand = len(t.widths)
		} else if w > width-cx {
			cut = len(t.widths)
		}
		w = min(w, width-cx)
		t.widths = append(t.widths, w)
		cx += w + 1
	}
	if expand >= 0 && cx < width {
		t.widths[expand] += width - cx // the rest of the width
	}
	for sy := 0; sy < height; sy++ {
		r := 0
		if sy > 0 {
			r = rowOff + sy
		}
		if len(t.widths) == 0 || r > last || sy > 0 && r < 1 {
			for i := 0; i < width; i++ {
				screen.Put(x+i, y+sy, " ", boxStyle)
			}
			continue
		}
		var cells []tview.TableCell
		if r == 0 {
			cells = m.header
		} else {
			rw := &m.rows[r-1]
			if rw.cells == nil {
				rw.cells = m.format(rw)
			}
			cells = rw.cells
		}
		cx := 0
		for k, w := range t.widths {
			cell := &cells[colOff+k]
			if k == cut && r != 0 {
				blank := *cell
				blank.Text = ""
				cell = &blank
			}
			t.drawCell(screen, cell, x+cx, y+sy, w, width-cx, r != 0 && r == sel, k < len(t.widths)-1)
			cx += w + 1
		}
		for ; cx < width; cx++ {
			screen.Put(x+cx, y+sy, " ", boxStyle)
		}
	}
}

// cmdWidth is the COMMAND column's width before the rest of the width is
// added: its widest text in the header (row 0) and rows first..last, as
// tview.Table measures a column.
func (t *procTable) cmdWidth(first, last, col int) int {
	m := t.m
	w := tview.TaggedStringWidth(m.header[col].Text)
	for r := first; r <= last; r++ {
		rw := &m.rows[r-1]
		if rw.cells == nil {
			rw.cells = m.format(rw)
		}
		text := rw.cells[col].Text
		var ok bool
		if t.glyphs, ok = cellGlyphs(text, t.glyphs[:0]); ok {
			w = max(w, len(t.glyphs))
		} else {
			w = max(w, tview.TaggedStringWidth(text))
		}
	}
	return w
}

// drawCell paints one cell of w screen cells from x, and the screen cell
// after it if it fits in room (the separator when sep, else the cell's
// background): its background, then its text as tview.Table prints it:
// aligned, cut to w (a right-aligned text loses its start), a cut text
// ending in "…". The styles are tview.Table's (cellStyles).
func (t *procTable) drawCell(screen tcell.Screen, cell *tview.TableCell, x, y, w, room int, selected, sep bool) {
	text := cell.Text
	style, pad, sepStyle := t.cellStyles(cell, selected)
	if w < room {
		if sep {
			screen.Put(x+w, y, " ", sepStyle)
		} else {
			screen.Put(x+w, y, " ", pad)
		}
	}
	var ok bool
	t.glyphs, ok = cellGlyphs(text, t.glyphs[:0])
	if !ok {
		// tview prints it (colour tags, wide and combining characters)
		// over the cell's background; the cut mark is tview's too.
		for i := 0; i < w; i++ {
			screen.Put(x+i, y, " ", pad)
		}
		printed, width := tview.Print(screen, text, x, y, w, cell.Align, cell.Color)
		if !strings.Contains(text, "[") {
			restyle(screen, x, y, w, width, cell.Align, style)
		}
		if tview.TaggedStringWidth(text)-printed > 0 && printed > 0 {
			_, st, _ := screen.Get(x+w-1, y)
			screen.Put(x+w-1, y, "…", st)
		}
		if selected {
			for i := 0; i < w; i++ {
				str, _, _ := screen.Get(x+i, y)
				screen.Put(x+i, y, str, selectedRowStyle)
			}
		}
		return
	}
	shown := t.glyphs
	if len(shown) > w {
		if cell.Align == tview.AlignRight {
			shown = shown[len(shown)-w:]
		} else {
			shown = shown[:w]
		}
	}
	at := x
	switch cell.Align {
	case tview.AlignRight:
		at = x + w - len(shown)
	case tview.AlignCenter:
		if len(shown) < w {
			at = x + w/2 - len(shown)/2 // as tview centres
		}
	}
	for i := x; i < at; i++ {
		screen.Put(i, y, " ", pad)
	}
	printed := 0 // bytes of the text shown, as tview counts
	for i, g := range shown {
		printed += len(g)
		if g == literalBracket {
			g = "["
		}
		screen.Put(at+i, y, g, style)
	}
	for i := at + len(shown); i < x+w; i++ {
		screen.Put(i, y, " ", pad)
	}
	// tview.Table's test for a cut text compares the text's width with
	// the bytes printed, so a cut text with multi-byte characters in
	// what is shown may end without the mark: the same here.
	if len(t.glyphs)-printed > 0 && printed > 0 {
		screen.Put(x+w-1, y, "…", style)
	}
}

// restyle gives the width screen cells a text without colour tags was
// printed on, aligned in the w cells at x, the cell's text style over the
// background there: tview.Table prints a cell's text in its style, and
// tview.Print, the fallback's, in its foreground colour only.
func restyle(screen tcell.Screen, x, y, w, width, align int, style tcell.Style) {
	from := x
	switch align {
	case tview.AlignRight:
		from = x + w - width
	case tview.AlignCenter:
		from = x + (w-width)/2
	}
	for i := from; i < from+width && i < x+w; i++ {
		str, st, _ := screen.Get(i, y)
		if str == "" {
			continue // the second cell of a wide character
		}
		_, bg, _ := st.Decompose()
		screen.Put(i, y, str, style.Background(bg))
	}
}

// cellGlyphs appends the screen cells of a cell text to buf, one string
// each (its bytes in the text), when each character is one screen cell on its own: printable
// ASCII, the escaped bracket inert writes (literalBracket, one '['), and
// the few other characters the table's texts use (tree lines, the cut
// mark, arrows). ok is false for anything else (other UTF-8, which may be
// wide or combine, and tview's colour tags): tview prints those.
func cellGlyphs(s string, buf []string) (glyphs []string, ok bool) {
	for i := 0; i < len(s); {
		b := s[i]
		switch {
		case b == '[':
			if !strings.HasPrefix(s[i:], literalBracket) {
				return buf, false
			}
			buf = append(buf, literalBracket) // drawn as "["
			i += len(literalBracket)
		case b >= 0x20 && b <= 0x7e:
			buf = append(buf, s[i:i+1])
			i++
		case b < 0x80:
			return buf, false
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if !narrowSymbol(r) {
				return buf, false
			}
			buf = append(buf, s[i:i+n])
			i += n
		}
	}
	return buf, true
}

// narrowSymbol reports whether r is one of the non-ASCII characters the
// table, the header and the footer write themselves, each one screen
// cell wide. They are East Asian ambiguous characters: where tcell makes
// those two cells wide (RUNEWIDTH_EASTASIAN, a CJK locale's terminal)
// none is narrow, and what holds them is left to tview to draw.
func narrowSymbol(r rune) bool {
	if uniseg.EastAsianAmbiguousWidth != 1 {
		return false
	}
	switch r {
	case '…', '│', '├', '└', '─', '▲', '▼', '←', '→', '↑', '↓':
		return true
	}
	return false
}

// layoutScreen is a screen that keeps nothing: tview.Table draws on it to
// lay itself out (its offsets, the selection, the columns shown, which its
// keys and mouse use), and procTable draws the table.
type layoutScreen struct{ tcell.Screen }

func (layoutScreen) SetContent(int, int, rune, []rune, tcell.Style) {}
func (layoutScreen) SetCell(int, int, tcell.Style, ...rune)         {}
func (layoutScreen) Put(int, int, string, tcell.Style) (string, int) {
	return "", 1
}
func (layoutScreen) PutStr(int, int, string)                    {}
func (layoutScreen) PutStrStyled(int, int, string, tcell.Style) {}
func (layoutScreen) Fill(rune, tcell.Style)                     {}
func (layoutScreen) GetContent(int, int) (rune, []rune, tcell.Style, int) {
	return ' ', nil, tcell.StyleDefault, 1
}
func (layoutScreen) Get(int, int) (string, tcell.Style, int) { return " ", tcell.StyleDefault, 1 }
