package lifecycle

import (
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// TestSigchldDisposition: the parent's SIGCHLD handling comes from its
// status masks (ignored over blocked over handled), and is "" (unknown),
// never the default, when status was not read or the walk left the
// dispositions out (collector.Process.SigDispAbsent): a process whose
// masks are 0 because nobody read them does not leave SIGCHLD at its
// default.
func TestSigchldDisposition(t *testing.T) {
	const bit = uint64(1) << 16 // SIGCHLD is 17
	read := collector.SrcStatus
	for _, c := range []struct {
		name               string
		read               collector.Sources
		ign, blk, cgt      uint64
		dispositionsAbsent bool
		want               string
	}{
		{"default", read, 0, 0, 0, false, SigchldDefault},
		{"ignored", read, bit, bit, bit, false, SigchldIgnored},
		{"blocked", read, 0, bit, bit, false, SigchldBlocked},
		{"handled", read, 0, 0, bit, false, SigchldHandled},
		{"status not read", 0, 0, 0, 0, false, ""},
		{"left out by the walk", read, 0, 0, 0, true, ""},
		{"left out, blocked read from the walk", read, 0, bit, 0, true, ""},
	} {
		var p collector.Process
		p.Read, p.SigIgn, p.SigBlk, p.SigCgt, p.SigDispAbsent = c.read, c.ign, c.blk, c.cgt, c.dispositionsAbsent
		if got := SigchldDisposition(&p); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestSigchldUnknownSaysWhat: a parent whose SIGCHLD handling is unknown
// is diagnosed with exactly what is missing: its whole status (not
// read), or only its dispositions (a task-iterator walk left them out and
// they were not read back), the blocked mask, which the walk reads, then
// said. It read "its signal masks could not be read" for both, while the
// blocked mask was there.
func TestSigchldUnknownSaysWhat(t *testing.T) {
	const bit = uint64(1) << 16 // SIGCHLD is 17
	now := time.Unix(1_000_000, 0)
	for _, c := range []struct {
		name   string
		read   collector.Sources
		blk    uint64
		absent bool
		want   string
	}{
		{"status not read", collector.SrcStat, 0, false, "its status could not be read: whether it ignores, blocks or handles SIGCHLD is unknown"},
		{"dispositions absent, blocked", collector.SrcStat | collector.SrcStatus, bit, true, "it blocks SIGCHLD; whether it also ignores it is unknown: its signal dispositions could not be read"},
		{"dispositions absent, not blocked", collector.SrcStat | collector.SrcStatus, 0, true, "it does not block SIGCHLD; whether it ignores or handles it is unknown: its signal dispositions could not be read"},
	} {
		par := collector.Process{ProcStat: collector.ProcStat{Comm: "parent", State: 'S', PPID: 1}}
		par.PID, par.Read, par.SigBlk, par.SigDispAbsent = 10, c.read, c.blk, c.absent
		z := collector.Process{ProcStat: collector.ProcStat{Comm: "child", State: 'Z', PPID: 10}}
		z.PID, z.Read = 11, collector.SrcStat
		snap := &collector.Snapshot{TakenAt: now, Processes: []collector.Process{par, z}}
		groups := DiagnoseZombiesWith(snap, nil, nil, ZombieOptions{MinAge: -1})
		if len(groups) != 1 {
			t.Fatalf("%s: %d groups", c.name, len(groups))
		}
		if g := groups[0]; g.SIGCHLD != "" || !strings.Contains(g.Diagnosis, c.want) || strings.Contains(g.Diagnosis, "masks could not") {
			t.Errorf("%s: SIGCHLD %q, diagnosis %q, want it to say %q", c.name, g.SIGCHLD, g.Diagnosis, c.want)
		}
	}
}
