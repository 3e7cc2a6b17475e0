package report

import (
	"io"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// OrphansSchema is the schema version of the `pinspect orphans --json`
// document.
const OrphansSchema = "pinspect.orphans/v1"

// OrphansDoc is the `pinspect orphans --json` document: orphans, and
// separately the processes that detached on purpose.
type OrphansDoc struct {
	Schema  string      `json:"schema"`
	TakenAt string      `json:"taken_at"`
	Orphans []OrphanDoc `json:"orphans"`
	Daemons []OrphanDoc `json:"daemons"`
	// Scan is the snapshot's scan counts: processes that vanished while
	// read or whose stat was unreadable were not checked.
	Scan *ScanCountsDoc `json:"scan,omitempty"`
}

// OrphanDoc is one adopted process.
type OrphanDoc struct {
	PID           int    `json:"pid"`
	StartTicks    uint64 `json:"start_ticks"`
	Comm          string `json:"comm"`
	CommRawBase64 string `json:"comm_raw_base64,omitempty"`
	PGID          int    `json:"pgid"`
	SID           int    `json:"sid"`
	Adopter       int    `json:"adopter_pid"`
	AdopterComm   string `json:"adopter_comm"`
	// AdopterKind is "init", "subreaper" or "pidns_init".
	AdopterKind string `json:"adopter_kind"`
	Evidence    string `json:"evidence"`
	// Observed is true when the re-parenting itself was seen.
	Observed bool `json:"observed"`
	OldPPID  int  `json:"old_ppid,omitempty"`
	// ReparentedAt is when the re-parenting was seen (RFC 3339, UTC),
	// when observed.
	ReparentedAt string `json:"reparented_at,omitempty"`
}

// NewOrphansDoc builds the orphans document.
func NewOrphansDoc(orphans []lifecycle.Orphan, now time.Time) *OrphansDoc {
	d := &OrphansDoc{Schema: OrphansSchema, TakenAt: now.UTC().Format(time.RFC3339Nano), Orphans: []OrphanDoc{}, Daemons: []OrphanDoc{}}
	for _, o := range orphans {
		od := OrphanDoc{
			PID: o.ID.PID, StartTicks: o.ID.StartTicks, PGID: o.PGID, SID: o.SID,
			Adopter: o.Adopter, AdopterKind: o.AdopterKind, Evidence: orphanEvidence(&o),
			Observed: o.Observed, OldPPID: o.OldPPID,
		}
		if !o.ReparentedAt.IsZero() {
			od.ReparentedAt = o.ReparentedAt.UTC().Format(time.RFC3339Nano)
		}
		od.Comm, od.CommRawBase64 = textAndRaw(o.Comm)
		od.AdopterComm, _ = textAndRaw(o.AdopterComm)
		if o.Daemon {
			d.Daemons = append(d.Daemons, od)
		} else {
			d.Orphans = append(d.Orphans, od)
		}
	}
	return d
}

// WriteOrphansText writes the orphan report as sanitised text; daemons are
// counted, and listed when listDaemons is set.
func WriteOrphansText(w io.Writer, orphans []lifecycle.Orphan, listDaemons bool) error {
	ew := &errWriter{w: w}
	var orph, dmn []lifecycle.Orphan
	for _, o := range orphans {
		if o.Daemon {
			dmn = append(dmn, o)
		} else {
			orph = append(orph, o)
		}
	}
	if len(orph) == 0 {
		ew.printf("no orphan processes\n")
	} else {
		ew.printf("%s\n", lifecycle.CountOf(len(orph), "orphan", "orphans"))
		writeOrphanRows(ew, orph)
	}
	switch {
	case len(dmn) == 0:
	case listDaemons:
		ew.printf("\n%s (detached on purpose: not orphans)\n", lifecycle.CountOf(len(dmn), "daemon", "daemons"))
		writeOrphanRows(ew, dmn)
	default:
		ew.printf("\n%s adopted but detached on purpose (own session): not orphans; --daemons lists them\n",
			lifecycle.CountOf(len(dmn), "daemon", "daemons"))
	}
	return ew.err
}

func writeOrphanRows(ew *errWriter, os []lifecycle.Orphan) {
	ew.printf("  %8s  %-16s  %8s  %-16s  %-10s  %s\n", "PID", "COMM", "ADOPTER", "ADOPTER COMM", "KIND", "EVIDENCE")
	for _, o := range os {
		ew.printf("  %8d  %-16s  %8d  %-16s  %-10s  %s\n", o.ID.PID, sanitize.Terminal(o.Comm), o.Adopter,
			sanitize.Terminal(o.AdopterComm), o.AdopterKind, sanitize.Terminal(orphanEvidence(&o)))
	}
}

// orphanEvidence is o's evidence with the time of an observed
// re-parenting.
func orphanEvidence(o *lifecycle.Orphan) string {
	if o.ReparentedAt.IsZero() {
		return o.Evidence
	}
	return o.Evidence + ", at " + o.ReparentedAt.UTC().Format("15:04:05.000") + " UTC"
}
