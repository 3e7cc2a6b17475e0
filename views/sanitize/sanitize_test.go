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
	}
	for _, c := range cases {
		if got := Terminal(c.in); got != c.want {
			t.Errorf("Terminal(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzTerminal(f *testing.F) {
	for _, s := range []string{"x) Z 1 (", "\x1b]52;c;AAAA\x07", "\xc2\x9b", "\xe2\x82", "\t\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Terminal(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
				t.Fatalf("control %U survived in %q", r, out)
			}
		}
	})
}
