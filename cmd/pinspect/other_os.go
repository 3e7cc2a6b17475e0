//go:build !linux

// pinspect reads Linux's /proc, its process-events connector and
// taskstats: there is nothing for it to read on another system. Building
// it for one stops here, with the reason in the compiler's message,
// rather than with errors from deep in the collector or a binary that
// cannot work.

package main

var _ int = "pinspect runs on Linux only: it reads /proc"
