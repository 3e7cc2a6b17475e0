package record

import (
	"cmp"
	"maps"
	"slices"

	"github.com/pinspect/pinspect/collector"
)

// The encoder writes map entries in key order, so one sample always
// encodes to the same bytes (and compresses against its neighbours).

func sortedIDs[V any](m map[collector.ID]V) []collector.ID {
	return slices.SortedFunc(maps.Keys(m), func(a, b collector.ID) int {
		return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.StartTicks, b.StartTicks))
	})
}

func sortedInts[V any](m map[int]V) []int { return slices.Sorted(maps.Keys(m)) }

func sortedStrings[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
