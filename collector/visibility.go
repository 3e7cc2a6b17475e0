package collector

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// HostProcessesKey is the Host.Unavailable key under which a snapshot says
// which processes it cannot see or read because of how the /proc root is
// mounted (hidepid, subset=pid).
const HostProcessesKey = "processes"

// procVisibility explains what a reader with effective uid euid cannot see
// in the procfs mounted at root, from the mount's options in
// /proc/self/mountinfo: hidepid=invisible (2) hides other users'
// processes, hidepid=noaccess (1) lists them but refuses their files,
// hidepid=ptraceable (4) shows only processes the reader may ptrace, and
// subset=pid hides the machine-wide files. It returns "" when nothing is
// hidden or root is not a procfs mount point (a fixture tree). hidepid
// does not apply to root (CAP_SYS_PTRACE), so root gets only the subset
// note.
func procVisibility(root string, euid int) string {
	abs, err := filepath.Abs(root)
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	var notes []string
	for _, o := range strings.Split(procMountOptions(abs), ",") {
		if note := hiddenBy(o, euid); note != "" {
			notes = append(notes, note)
		}
	}
	return strings.Join(notes, "; ")
}

// procMountOptions returns the super options of the procfs mounted at
// the absolute path abs (the last mount on it wins), from
// /proc/self/mountinfo; "" when there is none.
func procMountOptions(abs string) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	var opts string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 6 || len(fields) < sep+4 {
			continue
		}
		if fields[sep+1] == "proc" && unescapeMount(fields[4]) == abs {
			opts = fields[sep+3]
		}
	}
	return opts
}

// hiddenBy says what the procfs mount option o hides from a reader with
// effective uid euid, or "". hidepid does not apply to root.
func hiddenBy(o string, euid int) string {
	k, v, _ := strings.Cut(o, "=")
	switch {
	case k == "hidepid" && euid != 0 && (v == "invisible" || v == "2"):
		return "mounted hidepid=invisible: other users' processes are hidden"
	case k == "hidepid" && euid != 0 && (v == "noaccess" || v == "1"):
		return "mounted hidepid=noaccess: other users' processes are listed but unreadable"
	case k == "hidepid" && euid != 0 && (v == "ptraceable" || v == "4"):
		return "mounted hidepid=ptraceable: only processes this user may ptrace are visible"
	case k == "subset" && v == "pid":
		return "mounted subset=pid: machine-wide files are hidden"
	}
	return ""
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// hostReason is Reason for a machine-wide file: a missing one is "not
// present" (subset=pid, a fixture tree), not a vanished process.
func hostReason(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "not present"
	}
	return Reason(err)
}

// HidesOtherUsers reports whether the procfs at root is mounted with a
// hidepid option, so that a user without privileges there cannot see (or
// cannot read) other users' processes: a program that serves /proc data
// to such users (pinspect serve) must not show them either.
func HidesOtherUsers(root string) bool {
	return strings.Contains(procVisibility(root, 1), "hidepid")
}
