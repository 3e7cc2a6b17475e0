package lifecycle

import (
	"testing"

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
