package sanitize

import (
	"testing"
	"unicode/utf8"
)

func TestTerminal(t *testing.T) {
	cases := []struct{ in, want string }{
		{"bash", "bash"},
		{"a\nb) Z 1 (", "a?b) Z 1 ("},
		{"\x1b]0;pwn\x07", "?]0;pwn?"},
		{"\x1b[31mred", "?[31mred"},
		{"del\x7f", "del?"},
		{"c1\u009b2J", "c1?2J"},
		{"\xff\xfe", "\ufffd\ufffd"},
		{"caf\xc3", "caf\ufffd"},
		{"héllo wörld", "héllo wörld"},
		{"[red]x[:::http://e]", "[red]x[:::http://e]"},
		// Line and paragraph separators: tview breaks lines at them.
		{"a\u2028Capabilities: all", "a?Capabilities: all"},
		{"x\u2029User nobody", "x?User nobody"},
		// Bidi overrides and isolates: "evil\u202Etxt.exe" shows as
		// "evilexe.txt" where they act.
		{"evil\u202etxt.exe", "evil?txt.exe"},
		{"\u202a\u202b\u202c\u202d", "????"},
		{"\u2066a\u2067b\u2068c\u2069", "?a?b?c?"},
		// Zero-width and invisible characters.
		{"ad\u200bmin", "ad?min"},
		{"\u200c\u200d\u200e\u200f", "????"},
		{"\u2060\u2061\u2064", "???"},
		{"\ufeffbom", "?bom"},
		{"soft\u00adhyphen", "soft?hyphen"},
		{"tag\U000e0041\U000e007f", "tag??"},
		// Wide characters and combining marks are text.
		{"日本語", "日本語"},
		{"e\u0301", "e\u0301"},
	}
	for _, c := range cases {
		if got := Terminal(c.in); got != c.want {
			t.Errorf("Terminal(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzTerminal(f *testing.F) {
	for _, s := range []string{"x) Z 1 (", "\x1b]52;c;AAAA\x07", "\xc2\x9b", "\xe2\x82", "\t\r\n", "a\u2028b", "\u202eexe", "\u200d\ufeff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Terminal(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || invisible(r) {
				t.Fatalf("control or format character %U survived in %q", r, out)
			}
		}
	})
}

// TestName: an empty name is the unknown marker; a known name that would
// read as it is quoted with its escapes; every other name is Terminal's.
func TestName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "?"},
		{"?", `"?"`},
		{"\n", `"\n"`},
		{"\x1b", `"\x1b"`},
		{"\u200b", `"\u200b"`},
		{"a\nb", "a?b"},
		{"??", "??"},
		{"sleep", "sleep"},
	} {
		if got := Name(c.in, "?"); got != c.want {
			t.Errorf("Name(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
