package dashboard

import (
	"strings"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// headerView shows the header's lines (meters, host, activity, shape),
// and the footer's line of keys: text with tview's colour tags, drawn as
// a tview.TextView with dynamic colours and no wrapping would draw it,
// screen cell for screen cell and style for style
// (TestHeaderDrawsAsTextView and TestFooterDrawsAsTextView hold the two
// equal).
//
// Why: a TextView measures and prints every character through Unicode
// grapheme segmentation (uniseg) and allocates for each screen cell it
// writes; the header changes every refresh, and drawing it was about a
// fifth of the dashboard's drawing at 200x50 (docs/PERFORMANCE.md,
// dash5); the footer's line of keys is set every refresh too (dash6).
// The header's lines are almost always printable ASCII, a few
// one-cell symbols and the tags the dashboard writes, and those are
// parsed here once per change of text (parseTagged). A text with anything
// else (other UTF-8, a tag outside the few forms parsed here, an escaped
// tag) is drawn by a real TextView. headerView has no border, title or
// scrolling: neither the header nor the footer has any.
type headerView struct {
	*tview.Box
	// text is the text shown; lines its screen cells, line by line, when
	// parseTagged took it (fast), else tv draws it.
	text         string
	parsed, fast bool
	lines        [][]headerCell
	// tv draws a text parseTagged does not take; tvText is the text it
	// holds (set when first needed).
	tv     *tview.TextView
	tvText string
}

// headerCell is one screen cell of the header: its character, one cell
// wide (a string, which tcell keeps: SetContent would make one from a
// rune, an allocation a cell), and its style.
type headerCell struct {
	s     string
	style tcell.Style
}

func newHeaderView() *headerView {
	return &headerView{Box: tview.NewBox(), tv: tview.NewTextView().SetDynamicColors(true).SetWrap(false)}
}

// textStyle is the style a TextView starts its text in (NewTextView).
func textStyle() tcell.Style {
	return tcell.StyleDefault.Background(tview.Styles.PrimitiveBackgroundColor).Foreground(tview.Styles.PrimaryTextColor)
}

// SetText sets the text shown.
func (v *headerView) SetText(text string) *headerView {
	if text == v.text && v.parsed {
		return v
	}
	v.text, v.parsed = text, true
	v.lines, v.fast = parseTagged(text, textStyle(), v.lines[:0])
	return v
}

// Draw implements tview.Primitive.
func (v *headerView) Draw(screen tcell.Screen) {
	if !v.fast {
		if v.tvText != v.text {
			v.tv.SetText(v.text)
			v.tvText = v.text
		}
		v.tv.SetRect(v.GetRect())
		v.tv.Draw(screen)
		return
	}
	x, y, w, h := v.GetRect()
	if w <= 0 || h <= 0 {
		return
	}
	// The box's background first, then the text over it: as a TextView
	// (tview.Box fills its rectangle, the text is printed into it).
	bg := tcell.StyleDefault.Background(v.GetBackgroundColor())
	for row := 0; row < h; row++ {
		var line []headerCell
		if row < len(v.lines) {
			line = v.lines[row]
		}
		for col := 0; col < w; col++ {
			if col < len(line) {
				screen.Put(x+col, y+row, line[col].s, line[col].style)
			} else {
				screen.Put(x+col, y+row, " ", bg)
			}
		}
	}
}

// parseTagged parses tagged text into screen cells, a slice of cells a
// line (appended to lines), starting in style base; the style carries
// from one line to the next, as in a TextView. ok is false when the text
// has anything tview might draw otherwise than one cell a character, or
// might parse otherwise than here: a byte other than printable ASCII and
// a newline, a character not known to be one cell (narrowSymbol), a '['
// that does not open one of the tags tagStyle parses or the escaped
// bracket inert writes (literalBracket), and a tag followed by what tview
// takes for an escaped tag.
func parseTagged(text string, base tcell.Style, lines [][]headerCell) (_ [][]headerCell, ok bool) {
	initFg, initBg, initAttrs := base.Decompose()
	style := base
	line := nextLine(&lines)
	for i := 0; i < len(text); {
		b := text[i]
		switch {
		case b == '\n':
			line = nextLine(&lines)
			i++
		case b == '[':
			if strings.HasPrefix(text[i:], literalBracket) {
				*line = append(*line, headerCell{"[", style})
				i += len(literalBracket)
				if escapedTagAt(text[i:]) {
					return lines, false
				}
				continue
			}
			n, st, ok := tagStyle(text[i:], style, initFg, initBg, initAttrs)
			if !ok || escapedTagAt(text[i+n:]) {
				return lines, false
			}
			style = st
			i += n
		case b >= 0x20 && b <= 0x7e:
			*line = append(*line, headerCell{text[i : i+1], style})
			i++
		case b < 0x80:
			return lines, false
		default:
			r, n := utf8.DecodeRuneInString(text[i:])
			if !narrowSymbol(r) {
				return lines, false
			}
			*line = append(*line, headerCell{text[i : i+n], style})
			i += n
		}
	}
	return lines, true
}

// nextLine appends an empty line to lines, reusing its cells' memory from
// an earlier parse, and returns it.
func nextLine(lines *[][]headerCell) *[]headerCell {
	l := *lines
	if len(l) < cap(l) {
		l = l[:len(l)+1]
		l[len(l)-1] = l[len(l)-1][:0]
	} else {
		l = append(l, nil)
	}
	*lines = l
	return &l[len(l)-1]
}

// taggedWidth is the width in screen cells of a tagged string, as
// tview.TaggedStringWidth measures it, parsed as headerView parses.
func taggedWidth(s string) int {
	n := 0
	for i := 0; i < len(s); {
		b := s[i]
		switch {
		case b == '[':
			if strings.HasPrefix(s[i:], literalBracket) {
				n++
				i += len(literalBracket)
				if escapedTagAt(s[i:]) {
					return tview.TaggedStringWidth(s)
				}
				continue
			}
			l, _, ok := tagStyle(s[i:], tcell.StyleDefault, 0, 0, 0)
			if !ok || escapedTagAt(s[i+l:]) {
				return tview.TaggedStringWidth(s)
			}
			i += l
		case b >= 0x20 && b <= 0x7e:
			n++
			i++
		case b < 0x80:
			return tview.TaggedStringWidth(s)
		default:
			r, l := utf8.DecodeRuneInString(s[i:])
			if !narrowSymbol(r) {
				return tview.TaggedStringWidth(s)
			}
			n++
			i += l
		}
	}
	return n
}

// tagStyle parses the colour tag that s starts with, in the forms the
// dashboard writes: [fg], [fg:bg] and [fg:bg:attrs], each field empty
// (unchanged), "-" (back to the text's initial colour or attributes) or a
// colour name tcell knows (lower case), or attribute letters (b, d, i, l,
// r, s: set; upper case: cleared). It returns the tag's length and the
// style after it; ok is false for anything else (which tview may parse,
// or print, otherwise).
func tagStyle(s string, style tcell.Style, initFg, initBg tcell.Color, initAttrs tcell.AttrMask) (n int, _ tcell.Style, ok bool) {
	end := strings.IndexByte(s, ']')
	if end < 2 || end > 40 || strings.IndexByte(s[1:end], '[') >= 0 {
		return 0, style, false
	}
	rest := s[1:end]
	for k := 0; ; k++ {
		if k > 2 {
			return 0, style, false // a fourth field: a URL
		}
		f, after, more := strings.Cut(rest, ":")
		switch {
		case f == "":
		case f == "-":
			switch k {
			case 0:
				style = style.Foreground(initFg)
			case 1:
				style = style.Background(initBg)
			default:
				style = style.Attributes(initAttrs)
			}
		case k < 2:
			c, known := tcell.ColorNames[f]
			if !known || !lowerName(f) {
				return 0, style, false
			}
			if k == 0 {
				style = style.Foreground(c)
			} else {
				style = style.Background(c)
			}
		default:
			_, _, a := style.Decompose()
			for j := 0; j < len(f); j++ {
				m, set := tagAttr(f[j])
				if m == 0 {
					return 0, style, false
				}
				if set {
					a |= m
				} else {
					a &^= m
				}
			}
			style = style.Attributes(a)
		}
		if !more {
			break
		}
		rest = after
	}
	return end + 1, style, true
}

// lowerName reports whether a colour name is lower-case letters and
// digits, not starting with a digit (as tview reads one).
func lowerName(f string) bool {
	for j := 0; j < len(f); j++ {
		c := f[j]
		if !(c >= 'a' && c <= 'z' || j > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// tagAttr is the attribute a tag's attribute letter sets (lower case) or
// clears (upper case); 0 for a letter not parsed here (u, U: underline).
func tagAttr(c byte) (tcell.AttrMask, bool) {
	set := c >= 'a' && c <= 'z'
	if set {
		c -= 'a' - 'A'
	}
	switch c {
	case 'B':
		return tcell.AttrBold, set
	case 'I':
		return tcell.AttrItalic, set
	case 'L':
		return tcell.AttrBlink, set
	case 'D':
		return tcell.AttrDim, set
	case 'S':
		return tcell.AttrStrikeThrough, set
	case 'R':
		return tcell.AttrReverse, set
	}
	return 0, false
}

// escapedTagAt reports whether s starts with what tview takes for an
// escaped tag after a tag ("[red[]": a '[', characters other than
// brackets, one or more '[', then ']').
func escapedTagAt(s string) bool {
	if len(s) < 3 || s[0] != '[' {
		return false
	}
	i := 1
	for i < len(s) && s[i] != '[' && s[i] != ']' {
		i++
	}
	if i == 1 || i >= len(s) || s[i] != '[' {
		return false
	}
	for i < len(s) && s[i] == '[' {
		i++
	}
	return i < len(s) && s[i] == ']'
}

// rootPages is the dashboard's root: its pages, drawn as tview.Pages
// draws them but without filling the screen with the background first
// while the main page alone is shown. The application has just cleared
// the screen, and the main page paints every cell itself (the header,
// the table and the bottom panels their whole rectangles, the footer
// its box), so that fill, every cell of the screen each refresh, was
// painted over before it was shown (TestRootPagesDrawAsPages holds the
// screens equal). Any other page shown (the detail view, help, setup, a
// menu over the table) is drawn by tview.Pages as before.
type rootPages struct {
	*tview.Pages
}

// Draw implements tview.Primitive. Everything is drawn through a
// putScreen.
func (p rootPages) Draw(screen tcell.Screen) {
	if _, ok := screen.(putScreen); !ok {
		screen = putScreen{screen}
	}
	names := p.GetPageNames(true)
	if len(names) != 1 || names[0] != pageMain {
		p.Pages.Draw(screen)
		return
	}
	item := p.GetPage(pageMain)
	item.SetRect(p.GetInnerRect())
	item.Draw(screen)
}

// putScreen is the screen rootPages draws on: tview writes every screen
// cell it draws with SetContent, a rune at a time, and tcell's SetContent
// makes a new string of the rune for each (an allocation a cell: the
// boxes' backgrounds and borders, the panels' text, the events table's
// colours, a few thousand cells a refresh at 200x50). putScreen gives a
// rune it keeps a string for (printable ASCII, the borders' lines) to Put
// as that string, which is what tcell's SetContent does with the string
// it makes; anything else goes to SetContent (TestRootPagesDrawAsPages
// and TestPutScreenAsSetContent hold the screens equal).
type putScreen struct{ tcell.Screen }

// SetContent implements tcell.Screen.
func (s putScreen) SetContent(x, y int, primary rune, combining []rune, style tcell.Style) {
	if len(combining) == 0 {
		if str := runeCell(primary); str != "" {
			s.Screen.Put(x, y, str, style)
			return
		}
	}
	s.Screen.SetContent(x, y, primary, combining, style)
}

// asciiCells holds each printable ASCII character as a string.
var asciiCells = func() (a [0x7f]string) {
	for r := rune(0x20); r < 0x7f; r++ {
		a[r] = string(r)
	}
	return a
}()

// runeCell is r as a string kept for it (printable ASCII, the lines of
// tview's borders), or "" for a rune not kept.
func runeCell(r rune) string {
	if r >= 0x20 && r < 0x7f {
		return asciiCells[r]
	}
	switch r {
	case '─':
		return "─"
	case '│':
		return "│"
	case '┌':
		return "┌"
	case '┐':
		return "┐"
	case '└':
		return "└"
	case '┘':
		return "┘"
	case '═':
		return "═"
	case '║':
		return "║"
	case '╔':
		return "╔"
	case '╗':
		return "╗"
	case '╚':
		return "╚"
	case '╝':
		return "╝"
	}
	return ""
}
