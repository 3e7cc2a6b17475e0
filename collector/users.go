package collector

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// userNames maps uids to names from a passwd file read once.
type userNames struct {
	byUID map[int]string
}

// loadUserNames reads a passwd file; an unreadable file gives numeric
// names only.
func loadUserNames(path string) *userNames {
	u := &userNames{byUID: map[int]string{}}
	f, err := os.Open(path)
	if err != nil {
		return u
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
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

// name returns the user name of uid, or the number when unknown.
func (u *userNames) name(uid int) string {
	if n, ok := u.byUID[uid]; ok {
		return n
	}
	return strconv.Itoa(uid)
}
