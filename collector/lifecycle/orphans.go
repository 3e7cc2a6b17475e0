package lifecycle

import "github.com/pinspect/pinspect/collector"

// The kinds of adopter of an orphan.
const (
	AdopterInit      = "init"       // pid 1 of the reader's pid namespace
	AdopterSubreaper = "subreaper"  // a PR_SET_CHILD_SUBREAPER process
	AdopterPidnsInit = "pidns_init" // the init (pid 1) of a nested pid namespace
)

// Orphan is a process whose parent exited and which was adopted.
type Orphan struct {
	ID   collector.ID
	Comm string
	// Adopter is the pid of the new parent, AdopterComm its comm and
	// AdopterKind its kind (see the Adopter constants).
	Adopter     int
	AdopterComm string
	AdopterKind string
	// Evidence says why this is believed to be an orphan.
	Evidence string
	// Observed is true when a reparent event was seen directly.
	Observed bool
	// Daemon is true for a process that detached on purpose (leads its own
	// session): reported as a daemon, not an orphan.
	Daemon bool
}

// DetectOrphans finds orphans in snap. observed maps identities to the
// Reparent events a monitor saw for them (may be nil).
func DetectOrphans(snap *collector.Snapshot, observed map[collector.ID]Event) []Orphan {
	return nil
}
