package record

import "github.com/pinspect/pinspect/collector/lifecycle"

// RatesBetween returns the rates from prev to cur when both come from the
// same recorder run (a restart or a reboot between them makes counters
// incomparable) and cur is later; nil otherwise.
func RatesBetween(prev, cur *Sample) *lifecycle.Rates {
	if prev == nil || cur == nil || prev.RunID != cur.RunID || !cur.TakenAt().After(prev.TakenAt()) {
		return nil
	}
	return lifecycle.ComputeRates(prev.Snapshot, cur.Snapshot)
}
