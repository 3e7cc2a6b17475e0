package lifecycle

import (
	"strings"

	"github.com/pinspect/pinspect/collector"
)

// IsZombie reports whether p is a zombie process: its stat was read and
// says Z with no live thread left (collector.Process.IsZombie). A process
// whose main thread exited while other threads run also shows Z, but it
// is alive and nothing waits to be reaped (LeaderExited): it is not a
// zombie anywhere in pinspect, not counted, diagnosed or reported as one.
func IsZombie(p *collector.Process) bool {
	return p.Read&collector.SrcStat != 0 && p.IsZombie()
}

// LeaderExited reports whether p's main thread exited while other threads
// of it run on (the leader shows Z; the process is alive).
func LeaderExited(p *collector.Process) bool {
	return p.Read&collector.SrcStat != 0 && p.LeaderExited()
}

// LeaderExitedLetter is the state letter pinspect's tables show for a
// leader-exited process, in place of the kernel's Z (the letter of its
// exited main thread): the process is alive, and Z means zombie to
// whoever reads a state column. No kernel state uses it; --state L and
// the dashboard's state filter select these processes by it.
const LeaderExitedLetter = 'L'

// LeaderExitedName is the name of a leader-exited process's state, as
// every output writes it: the JSON's state_name, and the word after
// LeaderExitedLetter in the texts (the zombies report, the dashboard's
// zombie panel, a record's zombie history). StateLetterName and
// ZombieGroup.ParentStateLetterName give both.
const LeaderExitedName = "leader-exited"

// StateLetterName is p's state as the outputs name it: StateLetter, and
// its name (collector.StateName, or LeaderExitedName for a leader-exited
// process).
func StateLetterName(p *collector.Process) (byte, string) {
	l := StateLetter(p)
	if l == LeaderExitedLetter {
		return l, LeaderExitedName
	}
	return l, collector.StateName(l)
}

// StateLetter is the state letter a table shows for p: the kernel's, or
// LeaderExitedLetter for a leader-exited process; 0 when p's stat was
// not read.
func StateLetter(p *collector.Process) byte {
	switch {
	case p.Read&collector.SrcStat == 0:
		return 0
	case p.LeaderExited():
		return LeaderExitedLetter
	}
	return p.State
}

// InStates reports whether p is in one of states (state letters as a
// table shows them, StateLetter): Z keeps zombies only, L leader-exited
// processes only. A process whose stat was not read is in none.
func InStates(p *collector.Process, states string) bool {
	l := StateLetter(p)
	return l != 0 && strings.IndexByte(states, l) >= 0
}

// StateCounts counts a snapshot's processes by state.
type StateCounts struct {
	// Total is the number of processes.
	Total int
	// ByLetter counts processes by their (leader's) state letter as the
	// kernel shows it; 0 is a process whose stat was not read. A
	// leader-exited process counts under 'Z' here: that is its letter.
	ByLetter [256]int
	// Zombies counts zombie processes (IsZombie); LeaderExited the live
	// processes whose main thread exited (Z with threads running).
	Zombies, LeaderExited int
}

// CountStates counts snap's processes by state (nil: all zero).
func CountStates(snap *collector.Snapshot) StateCounts {
	var c StateCounts
	if snap == nil {
		return c
	}
	c.Total = len(snap.Processes)
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if p.Read&collector.SrcStat == 0 {
			c.ByLetter[0]++
			continue
		}
		c.ByLetter[p.State]++
		switch {
		case p.IsZombie():
			c.Zombies++
		case p.LeaderExited():
			c.LeaderExited++
		}
	}
	return c
}
