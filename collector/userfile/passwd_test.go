package userfile

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestCheckPasswd: this machine's passwd file is one; random bytes, other
// text, a short or non-numeric entry and an empty file are not.
func TestCheckPasswd(t *testing.T) {
	if b, err := os.ReadFile("/etc/passwd"); err == nil {
		if err := CheckPasswd(b); err != nil {
			t.Errorf("/etc/passwd: %v", err)
		}
	}
	for in, want := range map[string]string{
		"root:x:0:0::/:/bin/sh\r\n\x1a\n\x00\x00": "line 2 holds the control byte 0x1a",
		"\xff\xfe":                             "not text",
		"root:x:0:0:root:/root\n":              "line 1 has 6 colon-separated fields",
		"root:x:0:-1::/root:/bin/sh\n":         `line 1 has GID "-1", not a number`,
		"root:x:4294967296:0::/root:/bin/sh\n": `line 1 has UID "4294967296", not a number`,
		":x:0:0::/root:/bin/sh\n":              "line 1 has no user name",
		"# only a comment\n\n":                 "no entry",
		"root:x:0:0::/:/bin/sh\n" + strings.Repeat("a", MaxPasswdLine+1): "line 2 is 65537 bytes long",
	} {
		err := CheckPasswd([]byte(in))
		if !errors.Is(err, ErrNotPasswd) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
