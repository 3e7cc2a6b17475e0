// Package sanitize makes strings read from /proc safe to put on a
// terminal. It owns only that: it imports nothing from pinspect, and views
// that draw text (report's tables, the dashboard) call it at their
// boundary, never the collector.
package sanitize

import (
	"strings"
	"unicode/utf8"
)

// Terminal returns s with every byte that could act on a terminal made
// inert: C0 controls (including ESC, BEL, newline and tab), DEL and C1
// controls (U+0080-U+009F) become '?', and invalid UTF-8 becomes U+FFFD.
// Printable text, including multibyte characters, is kept. The result
// never contains a byte below 0x20 or 0x7f.
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
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			b.WriteByte('?')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
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
