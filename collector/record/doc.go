// Package record is pinspect's flight recorder store: an append-only,
// crash-safe log of samples (a snapshot, the lifecycle events since the
// previous one, and the tracker state the frame's diagnoses come from) in
// a directory of segment files, with retention by size and age, one
// writer at a time, and readers that open any point in time.
//
// It imports collector and lifecycle (types and pure functions); it never
// reads /proc and never formats for a screen. docs/RECORD.md describes
// the file format, the guarantees and the measurements behind the design.
package record
