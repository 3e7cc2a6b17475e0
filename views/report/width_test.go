package report

import "testing"

// TestTruncateWidth: ps cuts a line at a terminal's width in columns:
// a wide character counts two and is left out whole when it would
// straddle the edge, a combining accent stays with its letter, and
// ASCII is cut by bytes.
func TestTruncateWidth(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
		w    int
	}{
		{"plain text", 5, "plain", 10},
		{"plain", 9, "plain", 5},
		{"漢字漢", 4, "漢字", 6},
		{"漢字漢", 5, "漢字", 6},
		{"a漢字", 2, "a", 5},
		{"🙂🙂x", 3, "🙂", 5},
		{"cafe\u0301s", 4, "cafe\u0301", 5},
		{"cafe\u0301s", 3, "caf", 5},
		{"漢", 0, "", 2},
	} {
		if got := truncateWidth(c.in, c.n); got != c.want {
			t.Errorf("truncateWidth(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
		if got := displayWidth(c.in); got != c.w {
			t.Errorf("displayWidth(%q) = %d, want %d", c.in, got, c.w)
		}
	}
}
