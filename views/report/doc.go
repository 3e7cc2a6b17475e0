// Package report renders snapshots for scripts and plain terminals: the
// versioned JSON documents (schema in docs/SCHEMA.md) and the text tables
// of `pinspect ps`. It imports collector types only (and lifecycle for
// the analyses), never reads /proc, and sanitises every /proc string it
// writes as text.
package report
