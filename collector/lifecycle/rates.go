package lifecycle

import "github.com/pinspect/pinspect/collector"

// ProcRate is a process's or thread's activity between two snapshots.
type ProcRate struct {
	// CPUPercent is user+system CPU time over wall time, in percent of one
	// CPU (a process using two CPUs fully shows 200).
	CPUPercent float64
	// VolPerSec and InvolPerSec are voluntary and involuntary context
	// switches per second.
	VolPerSec, InvolPerSec float64
}

// SystemRate is the machine's activity between two snapshots.
type SystemRate struct {
	// CtxPerSec is context switches per second (all CPUs).
	CtxPerSec float64
	// ForksPerSec is processes created per second.
	ForksPerSec float64
	// CPUPercent is the busy share of all CPUs, 0..100.
	CPUPercent float64
}

// Rates holds per-process, per-thread and system rates between two
// snapshots. It is immutable once computed.
type Rates struct {
	// Seconds is the time between the two snapshots.
	Seconds float64
	// System is the machine-wide rate.
	System  SystemRate
	procs   map[collector.ID]ProcRate
	threads map[threadKey]ProcRate
}

type threadKey struct{ pid, tid int }

// ComputeRates computes rates between prev and cur. It returns nil when
// either is nil or no time passed between them.
func ComputeRates(prev, cur *collector.Snapshot) *Rates {
	return nil
}

// Process returns the rate of a process present in both snapshots.
func (r *Rates) Process(id collector.ID) (ProcRate, bool) {
	if r == nil {
		return ProcRate{}, false
	}
	v, ok := r.procs[id]
	return v, ok
}

// Thread returns the rate of thread tid of process pid, when threads were
// read in both snapshots.
func (r *Rates) Thread(pid, tid int) (ProcRate, bool) {
	if r == nil {
		return ProcRate{}, false
	}
	v, ok := r.threads[threadKey{pid, tid}]
	return v, ok
}
