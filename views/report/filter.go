package report

import (
	"slices"
	"strconv"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// Filter selects processes. The zero value selects all; set fields are
// ANDed, values within one field are ORed. A filter that selects leaves
// out pinspect itself (Self), as pgrep does: pinspect's own command line
// holds what it looks for, so "--name nginx" would always find one.
type Filter struct {
	PIDs   []int
	Users  []string // names or numeric uids
	States string   // state letters, e.g. "ZD"; Z keeps zombie processes only, L leader-exited ones (lifecycle.InStates)
	Name   string   // in comm, exe path or command line, ASCII case ignored (lifecycle.MatchesName, as the dashboard's filter)
	// Self is the pid of the reading pinspect in the snapshot's root
	// (collector.Snapshot.SelfPID; For sets it), never matched by a
	// filter that selects; 0 for none.
	Self int
	// nameLower is Name through lifecycle.LowerASCII, set by For so a
	// filter lowers it once, not once a process.
	nameLower string
}

// For returns the filter with Self set from the snapshot it will select
// from.
func (f Filter) For(snap *collector.Snapshot) Filter {
	f.Self = snap.SelfPID
	f.nameLower = lifecycle.LowerASCII(f.Name)
	return f
}

// Empty reports whether the filter selects everything.
func (f Filter) Empty() bool {
	return len(f.PIDs) == 0 && len(f.Users) == 0 && f.States == "" && f.Name == ""
}

// Match reports whether p passes the filter.
func (f Filter) Match(p *collector.Process) bool {
	if f.Self != 0 && p.PID == f.Self && !f.Empty() {
		return false
	}
	if len(f.PIDs) > 0 && !slices.Contains(f.PIDs, p.PID) {
		return false
	}
	if len(f.Users) > 0 {
		ok := false
		for _, u := range f.Users {
			if p.Read&collector.SrcStatus != 0 && (u == p.User || u == strconv.Itoa(p.UIDs[0])) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.States != "" && !lifecycle.InStates(p, f.States) {
		return false
	}
	if f.Name != "" && !lifecycle.MatchesName(p, f.lowerName()) {
		return false
	}
	return true
}

// lowerName is the name the filter looks for, as MatchesName takes it:
// the one For lowered, else Name lowered now.
func (f *Filter) lowerName() string {
	if f.nameLower != "" {
		return f.nameLower
	}
	return lifecycle.LowerASCII(f.Name)
}

// Apply returns the processes of snap that match, in order.
func (f Filter) Apply(snap *collector.Snapshot) []*collector.Process {
	f = f.For(snap)
	out := make([]*collector.Process, 0, len(snap.Processes))
	for i := range snap.Processes {
		if p := &snap.Processes[i]; f.Match(p) {
			out = append(out, p)
		}
	}
	return out
}
