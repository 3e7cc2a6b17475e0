package userfile

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrNotPasswd is wrapped by ReadPasswd's error for a file that is not a
// passwd file (passwd(5)): binary bytes, a line that is no entry, or no
// entry at all.
var ErrNotPasswd = errors.New("not a passwd file")

// MaxPasswdLine caps one line of a passwd file: glibc's getpwent buffer
// grows without bound, but a real entry (name, GECOS, home and shell) is a
// few hundred bytes.
const MaxPasswdLine = 64 << 10

// ReadPasswd reads a passwd file as Read does (a regular file of at most
// MaxPasswdBytes) and checks that it is one (CheckPasswd).
func ReadPasswd(path string) ([]byte, error) {
	b, err := Read(path, MaxPasswdBytes)
	if err != nil {
		return nil, err
	}
	if err := CheckPasswd(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// CheckPasswd reports whether b is a passwd file (passwd(5)): text
// (UTF-8, no control byte but tab, and CR before a newline), every line
// blank, a comment (#), a NIS compat line (+ or -), or an entry of seven
// colon-separated fields, name:password:UID:GID:GECOS:home:shell, with a
// name and a decimal UID and GID below 2^32; at least one entry. The error
// wraps ErrNotPasswd and names the first bad line.
func CheckPasswd(b []byte) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: not text (invalid UTF-8)", ErrNotPasswd)
	}
	entries := 0
	for n := 1; len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if err := checkPasswdLine(line); err != nil {
			return fmt.Errorf("%w: line %d %s", ErrNotPasswd, n, err)
		}
		if len(bytes.TrimSpace(line)) > 0 && line[0] != '#' && line[0] != '+' && line[0] != '-' {
			entries++
		}
	}
	if entries == 0 {
		return fmt.Errorf("%w: no entry (name:password:UID:GID:GECOS:home:shell)", ErrNotPasswd)
	}
	return nil
}

// checkPasswdLine checks one line (without its newline); the error says
// what is wrong with it.
func checkPasswdLine(line []byte) error {
	if len(line) > MaxPasswdLine {
		return fmt.Errorf("is %d bytes long, at most %d", len(line), MaxPasswdLine)
	}
	for _, c := range line {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("holds the control byte %#02x", c)
		}
	}
	if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-' {
		return nil
	}
	f := bytes.Split(line, []byte{':'})
	if len(f) != 7 {
		return fmt.Errorf("has %d colon-separated fields, want 7 (name:password:UID:GID:GECOS:home:shell)", len(f))
	}
	if len(f[0]) == 0 {
		return errors.New("has no user name")
	}
	for i, what := range []string{"UID", "GID"} {
		if _, err := strconv.ParseUint(string(f[2+i]), 10, 32); err != nil {
			return fmt.Errorf("has %s %q, not a number", what, short(f[2+i]))
		}
	}
	return nil
}

// short cuts a field for an error message (%q escapes what is not
// printable).
func short(b []byte) string {
	const max = 32
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
