// Package sanitize makes strings read from /proc safe to put on a
// terminal. It owns only that: it imports nothing from pinspect, and views
// that draw text (report's tables, the dashboard) call it at their
// boundary, never the collector.
package sanitize

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Terminal returns s with every byte that could act on a terminal, or
// change how the text around it is laid out, made inert:
//   - C0 controls (including ESC, BEL, newline and tab), DEL and C1
//     controls (U+0080-U+009F) become '?';
//   - the line and paragraph separators U+2028 and U+2029 become '?':
//     tview (through uniseg) breaks lines at them, so a command line could
//     otherwise add lines of its own ("Capabilities: all") to a panel;
//   - every other format character (Unicode category Cf) becomes '?':
//     bidi embeddings, overrides and isolates (U+202A-U+202E,
//     U+2066-U+2069, which reorder what follows: "exe.txt" shown for
//     "txt.exe"), zero-width space and joiners and marks (U+200B-U+200F),
//     the word joiner and invisible operators (U+2060-U+2064), the byte
//     order mark (U+FEFF), the soft hyphen, and the tag characters
//     (U+E0000 block, which can carry hidden text);
//   - invalid UTF-8 becomes U+FFFD.
//
// Printable text, including multibyte and wide characters, is kept. The
// result never contains a byte below 0x20 or 0x7f. (ps leaves bidi and
// zero-width characters as they are.)
func Terminal(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || invisible(r):
			b.WriteByte('?')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// invisible reports whether r lays out or hides text rather than showing
// a glyph: the line and paragraph separators and the format characters.
func invisible(r rune) bool {
	return r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}

// isClean is the fast path: printable ASCII only.
func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// Name returns a process name as Terminal shows it, unknown standing for
// a name that is not known (empty). A known name that would read as
// unknown (unknown itself, such as a comm "?", or control characters
// Terminal turns into it, such as a comm "\n") is shown quoted, with Go's
// escapes ("?" and "\n" with their quotes): never taken for an unknown
// name.
func Name(name, unknown string) string {
	if name == "" {
		return unknown
	}
	if t := Terminal(name); t != unknown {
		return t
	}
	return Terminal(strconv.Quote(name))
}

// Args joins command-line arguments with spaces, each sanitised.
func Args(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Terminal(a))
	}
	return b.String()
}
