package collector

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"

	"github.com/pinspect/pinspect/collector/userfile"
)

// userNames maps uids to names from a passwd file read once.
type userNames struct {
	byUID map[int]string
}

// loadUserNames reads a passwd file (a regular file of at most
// userfile.MaxPasswdBytes: a FIFO or a device in its place cannot hang or
// bloat the reader); an unreadable file gives numeric names only.
func loadUserNames(path string) *userNames {
	u := &userNames{byUID: map[int]string{}}
	b, err := userfile.Read(path, userfile.MaxPasswdBytes)
	if err != nil {
		return u
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ":", 4)
		if len(fields) < 3 {
			continue
		}
		uid, err := strconv.Atoi(fields[2])
		if err != nil {
			continue
		}
		if _, dup := u.byUID[uid]; !dup {
			u.byUID[uid] = fields[0]
		}
	}
	return u
}

// has reports whether name is a user of the passwd file.
func (u *userNames) has(name string) bool {
	for _, n := range u.byUID {
		if n == name {
			return true
		}
	}
	return false
}

// KnownUser reports whether name is a user name of the Reader's passwd
// file (Options.PasswdPath), the table its process owners are named from:
// a name not in it can match no process.
func (r *Reader) KnownUser(name string) bool { return r.users.has(name) }

// name returns the user name of uid, or the number when unknown.
func (u *userNames) name(uid int) string {
	if n, ok := u.byUID[uid]; ok {
		return n
	}
	return strconv.Itoa(uid)
}
