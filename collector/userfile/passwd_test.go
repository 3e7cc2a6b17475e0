package userfile

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestParsePasswd: this machine's passwd file is one; a file with a NUL
// byte (random bytes) or with no entry is not; a host's passwd with a
// Latin-1 GECOS field or a broken line is one, those lines counted as
// skipped (review5 M1: they made serve exit 2 at start).
func TestParsePasswd(t *testing.T) {
	if b, err := os.ReadFile("/etc/passwd"); err == nil {
		if e, c, err := ParsePasswd(b); err != nil || c.Entries == 0 || c.Entries != len(e) || c.Skipped != 0 {
			t.Errorf("/etc/passwd: %+v %v", c, err)
		}
	}
	for in, want := range map[string]string{
		"root:x:0:0::/:/bin/sh\r\n\x1a\n\x00\x00": "not text (a NUL byte on line 3)",
		"\xff\xfe":                             "no entry (name:password:UID:GID:GECOS:home:shell); line 1 has 1 colon-separated fields",
		"root:x:0:0:root:/root\n":              "line 1 has 6 colon-separated fields",
		"root:x:0:-1::/root:/bin/sh\n":         `line 1 has GID "-1", not a number`,
		"root:x:4294967296:0::/root:/bin/sh\n": `line 1 has UID "4294967296", not a number`,
		":x:0:0::/root:/bin/sh\n":              "line 1 has no user name",
		"# only a comment\n\n":                 "no entry",
		"":                                     "no entry",
	} {
		_, _, err := ParsePasswd([]byte(in))
		if !errors.Is(err, ErrNotPasswd) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	for in, want := range map[string]PasswdCheck{
		"juergen:x:1000:1000:J\xfcrgen:/home/juergen:/bin/bash\nroot:x:0:0::/:/bin/sh\n":           {Entries: 2},
		"root:x:0:0::/:/bin/sh\nbroken line\n# c\n+@nis\nbin:x:1:1::/:/bin/sh\n":                   {Entries: 2, Skipped: 1, FirstSkipped: "line 2 has 1 colon-separated fields, want 7 (name:password:UID:GID:GECOS:home:shell)"},
		"root:x:0:0::/:/bin/sh\n\x1b[2J:x:1:1::/:/bin/sh\n" + strings.Repeat("a", MaxPasswdLine+1): {Entries: 1, Skipped: 2, FirstSkipped: "line 2 holds the control byte 0x1b"},
	} {
		if e, c, err := ParsePasswd([]byte(in)); err != nil || c != want || len(e) != want.Entries {
			t.Errorf("%q: %+v %v (%d entries), want %+v", in, c, err, len(e), want)
		}
	}
	// The entries are the lines the check counts, and only those (review6
	// M2: the reader's own Scanner stopped at a line over 64 KiB, so every
	// later user became a number while the check said one line was
	// skipped; and it named uid 7 from "bob:x:7", a line the check skips).
	long := "root:x:0:0::/:/bin/sh\n" + strings.Repeat("x", 70000) + "\nbob:x:7\nalice:x:1000:1000::/home/alice:/bin/sh\n"
	e, c, err := ParsePasswd([]byte(long))
	if want := []PasswdEntry{{"root", 0}, {"alice", 1000}}; err != nil || c.Skipped != 2 || !slices.Equal(e, want) {
		t.Errorf("long line: %v %+v %v, want %v with 2 skipped", e, c, err, want)
	}
}
