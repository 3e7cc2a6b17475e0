package dashboard

import (
	"strconv"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// pidScope narrows the events panel and the findings panel to the --pid
// processes and the processes they start (their tree, followed as
// `pinspect watch --pid` follows it: lifecycle.Follower): a user watching
// one process expects its events and findings, not the whole machine's.
// The table keeps showing the --pid processes alone. A nil *pidScope
// (no --pid) keeps everything.
type pidScope struct {
	pids   []int
	follow *lifecycle.Follower
	seq    uint64 // the last frame's
}

// newPIDScope scopes to pids; nil when there are none.
func newPIDScope(pids []int) *pidScope {
	if len(pids) == 0 {
		return nil
	}
	return &pidScope{pids: pids}
}

// events returns the events of f that concern the scope (every event
// without one). Lost events always pass, saying whether the tree could
// be affected. A frame older than the last (a replay that went back)
// starts the tree again from its snapshot.
func (s *pidScope) events(f *monitor.Frame) []lifecycle.Event {
	if s == nil {
		return f.Events
	}
	if s.follow == nil || f.Seq < s.seq {
		s.follow = lifecycle.NewFollower(s.pids)
	}
	s.seq = f.Seq
	return s.follow.Frame(f.Snapshot, f.Events)
}

// has reports whether pid is in the scope (machine-wide findings, pid 0,
// are not).
func (s *pidScope) has(pid int) bool {
	return s == nil || pid != 0 && s.follow != nil && s.follow.Follows(pid)
}

// label names the scope in a panel's title: "of 1234's tree", "of 3
// pids' trees"; "" without a scope.
func (s *pidScope) label() string {
	switch {
	case s == nil:
		return ""
	case len(s.pids) == 1:
		return "of " + strconv.Itoa(s.pids[0]) + "'s tree"
	}
	return "of " + strconv.Itoa(len(s.pids)) + " pids' trees"
}

// pidList names the --pid processes in a panel's title: "--pid 1234",
// "--pid 1234,5678,9012", "--pid 1234,5678,+3".
func (s *pidScope) pidList() string {
	var b []byte
	b = append(b, "--pid "...)
	for i, pid := range s.pids {
		if i > 0 {
			b = append(b, ',')
		}
		if i == 2 && len(s.pids) > 3 {
			b = append(b, '+')
			b = strconv.AppendInt(b, int64(len(s.pids)-2), 10)
			break
		}
		b = strconv.AppendInt(b, int64(pid), 10)
	}
	return string(b)
}
