package userfile

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestCheckPasswd: this machine's passwd file is one; a file with a NUL
// byte (random bytes) or with no entry is not; a host's passwd with a
// Latin-1 GECOS field or a broken line is one, those lines counted as
// skipped (review5 M1: they made serve exit 2 at start).
func TestCheckPasswd(t *testing.T) {
	if b, err := os.ReadFile("/etc/passwd"); err == nil {
		if c, err := CheckPasswd(b); err != nil || c.Entries == 0 || c.Skipped != 0 {
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
		_, err := CheckPasswd([]byte(in))
		if !errors.Is(err, ErrNotPasswd) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	for in, want := range map[string]PasswdCheck{
		"juergen:x:1000:1000:J\xfcrgen:/home/juergen:/bin/bash\nroot:x:0:0::/:/bin/sh\n":           {Entries: 2},
		"root:x:0:0::/:/bin/sh\nbroken line\n# c\n+@nis\nbin:x:1:1::/:/bin/sh\n":                   {Entries: 2, Skipped: 1, FirstSkipped: "line 2 has 1 colon-separated fields, want 7 (name:password:UID:GID:GECOS:home:shell)"},
		"root:x:0:0::/:/bin/sh\n\x1b[2J:x:1:1::/:/bin/sh\n" + strings.Repeat("a", MaxPasswdLine+1): {Entries: 1, Skipped: 2, FirstSkipped: "line 2 holds the control byte 0x1b"},
	} {
		if c, err := CheckPasswd([]byte(in)); err != nil || c != want {
			t.Errorf("%q: %+v %v, want %+v", in, c, err, want)
		}
	}
}
