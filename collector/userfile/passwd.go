package userfile

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// ErrNotPasswd is wrapped by ReadPasswd's error for a file that is not a
// passwd file (passwd(5)): binary bytes (a NUL), or no entry at all.
var ErrNotPasswd = errors.New("not a passwd file")

// MaxPasswdLine caps one line of a passwd file: glibc's getpwent buffer
// grows without bound, but a real entry (name, GECOS, home and shell) is a
// few hundred bytes. A longer line is skipped, not an error.
const MaxPasswdLine = 64 << 10

// PasswdCheck is what CheckPasswd found in a passwd file: its entries, and
// the lines it skipped as not entries (the C library and pinspect's own
// reader skip them too), with the first of them named for a warning.
type PasswdCheck struct {
	// Entries counts the lines that are entries.
	Entries int
	// Skipped counts the lines that are neither entries nor blank,
	// comment or NIS compat lines.
	Skipped int
	// FirstSkipped says which line was skipped first and why ("line 3
	// has 1 colon-separated fields, want 7"); empty when none was.
	FirstSkipped string
}

// PasswdEntry is one entry of a passwd file: a user's name and UID (the
// other fields are not needed to name a process's owner).
type PasswdEntry struct {
	Name string
	UID  uint32
}

// ReadPasswd reads a passwd file as Read does (a regular file of at most
// MaxPasswdBytes) and parses it (ParsePasswd).
func ReadPasswd(path string) ([]PasswdEntry, PasswdCheck, error) {
	b, err := Read(path, MaxPasswdBytes)
	if err != nil {
		return nil, PasswdCheck{}, err
	}
	e, c, err := ParsePasswd(b)
	if err != nil {
		return nil, c, fmt.Errorf("%s: %w", path, err)
	}
	return e, c, nil
}

// ParsePasswd returns the entries of passwd file b (passwd(5)), in order,
// and checks that it is one: no NUL byte
// (a binary file is none), and at least one entry of seven colon-separated
// fields, name:password:UID:GID:GECOS:home:shell, with a name and a decimal
// UID and GID below 2^32. Other lines are blank, comments (#), NIS compat
// lines (+ or -), or are skipped and counted, as glibc's reader skips a
// malformed line rather than refusing the file: a host's passwd with one
// broken line or a Latin-1 GECOS field is still the host's passwd. The
// check and the entries come from the same parse, so a line the check
// counts as skipped names nobody. The error wraps ErrNotPasswd and says
// why.
func ParsePasswd(b []byte) ([]PasswdEntry, PasswdCheck, error) {
	var (
		c       PasswdCheck
		entries []PasswdEntry
	)
	for n := 1; len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return nil, c, fmt.Errorf("%w: not text (a NUL byte on line %d)", ErrNotPasswd, n)
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		e, err := parsePasswdLine(line)
		if err != nil {
			if c.Skipped == 0 {
				c.FirstSkipped = fmt.Sprintf("line %d %s", n, err)
			}
			c.Skipped++
			continue
		}
		entries = append(entries, e)
		c.Entries++
	}
	if c.Entries == 0 {
		if c.Skipped > 0 {
			return nil, c, fmt.Errorf("%w: no entry (name:password:UID:GID:GECOS:home:shell); %s", ErrNotPasswd, c.FirstSkipped)
		}
		return nil, c, fmt.Errorf("%w: no entry (name:password:UID:GID:GECOS:home:shell)", ErrNotPasswd)
	}
	return entries, c, nil
}

// parsePasswdLine parses one line (without its newline, not blank, a
// comment or a compat line) as an entry; the error says what is wrong.
func parsePasswdLine(line []byte) (PasswdEntry, error) {
	if len(line) > MaxPasswdLine {
		return PasswdEntry{}, fmt.Errorf("is %d bytes long, at most %d", len(line), MaxPasswdLine)
	}
	for _, c := range line {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return PasswdEntry{}, fmt.Errorf("holds the control byte %#02x", c)
		}
	}
	f := bytes.Split(line, []byte{':'})
	if len(f) != 7 {
		return PasswdEntry{}, fmt.Errorf("has %d colon-separated fields, want 7 (name:password:UID:GID:GECOS:home:shell)", len(f))
	}
	if len(f[0]) == 0 {
		return PasswdEntry{}, errors.New("has no user name")
	}
	var ids [2]uint64
	for i, what := range []string{"UID", "GID"} {
		v, err := strconv.ParseUint(string(f[2+i]), 10, 32)
		if err != nil {
			return PasswdEntry{}, fmt.Errorf("has %s %q, not a number", what, short(f[2+i]))
		}
		ids[i] = v
	}
	return PasswdEntry{Name: string(f[0]), UID: uint32(ids[0])}, nil
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
