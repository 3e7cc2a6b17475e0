package collector

import (
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/pinspect/pinspect/collector/userfile"
)

// userNames names uids. On this machine's /proc (Options.PasswdPath
// empty and the root a proc filesystem) it asks the system's user
// database, as ps does: os/user, which with cgo calls getpwuid_r and so
// goes through NSS (/etc/passwd, then LDAP or SSSD, systemd's userdb and
// its DynamicUser= users, whatever nsswitch.conf lists). Otherwise (a
// fixture tree, a host root mounted elsewhere, an explicit --passwd-file)
// it reads a passwd file once.
type userNames struct {
	byUID map[int]string // the passwd file's (nil with nss)
	nss   *nssUsers
}

// nssUsers caches the user database's answers. A name, once found, is
// kept; a uid found in no database is asked again after nssRetry (a
// DynamicUser= service's user exists only while it runs). Safe for
// concurrent use: scans run one at a time, but KnownUser may be called
// beside them.
type nssUsers struct {
	mu    sync.Mutex
	start time.Time
	byUID map[int]nssName
}

// nssName is one cached answer: the name, or none found at since.
type nssName struct {
	name  string
	found bool
	since time.Duration
}

// nssRetry is how long a uid no database knows stays numeric before it
// is looked up again; nssMaxCached bounds the cache (it is cleared when
// full: uids are few, a process's owner is looked up once).
const (
	nssRetry     = time.Minute
	nssMaxCached = 1 << 16
)

// newUserNames chooses the source: the system's user database when
// passwdPath is empty and the root is a proc filesystem, else the passwd
// file (passwdPath, or /etc/passwd for a tree with none given).
func newUserNames(passwdPath string, procfs bool) *userNames {
	if passwdPath == "" && procfs {
		return &userNames{nss: &nssUsers{start: time.Now(), byUID: map[int]nssName{}}}
	}
	if passwdPath == "" {
		passwdPath = "/etc/passwd"
	}
	return loadUserNames(passwdPath)
}

// loadUserNames reads a passwd file (a regular file of at most
// userfile.MaxPasswdBytes: a FIFO or a device in its place cannot hang or
// bloat the reader); an unreadable file, or one that is no passwd file,
// gives numeric names only.
func loadUserNames(path string) *userNames {
	u := &userNames{byUID: map[int]string{}}
	entries, _, err := userfile.ReadPasswd(path)
	if err != nil {
		return u
	}
	// The same parse as the command line's check (userfile.ParsePasswd),
	// so a line it says is skipped names nobody and no line after a long
	// one is lost.
	for _, e := range entries {
		if _, dup := u.byUID[int(e.UID)]; !dup {
			u.byUID[int(e.UID)] = e.Name
		}
	}
	return u
}

// has reports whether name is a user of the source.
func (u *userNames) has(name string) bool {
	if u.nss != nil {
		_, err := user.Lookup(name)
		return err == nil
	}
	for _, n := range u.byUID {
		if n == name {
			return true
		}
	}
	return false
}

// KnownUser reports whether name is a user of the database the Reader's
// process owners are named from (the system's, or Options.PasswdPath's
// file): a name not in it can match no process.
func (r *Reader) KnownUser(name string) bool { return r.users.has(name) }

// name returns the user name of uid, or the number when unknown.
func (u *userNames) name(uid int) string {
	if u.nss != nil {
		return u.nss.name(uid)
	}
	if n, ok := u.byUID[uid]; ok {
		return n
	}
	return strconv.Itoa(uid)
}

// name asks the user database for uid, through the cache.
func (n *nssUsers) name(uid int) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Since(n.start)
	if c, ok := n.byUID[uid]; ok && (c.found || now-c.since < nssRetry) {
		if c.found {
			return c.name
		}
		return strconv.Itoa(uid)
	}
	if len(n.byUID) >= nssMaxCached {
		clear(n.byUID)
	}
	c := nssName{since: now}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		c.name, c.found = u.Username, true
	}
	n.byUID[uid] = c
	if c.found {
		return c.name
	}
	return strconv.Itoa(uid)
}
