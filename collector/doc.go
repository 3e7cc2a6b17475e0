// Package collector reads a /proc root (the real one or a fixture tree)
// into plain, immutable model values: Snapshot, Host, Process, Thread.
//
// It owns the model types and one file per /proc source, each with a pure
// parser (parseStat, parseStatus, parseCmdline, parseDirents) beside the
// reader that feeds it. It never formats for a screen and never imports
// views, lifecycle or monitor. Processes are identified by (pid, start
// ticks); a process that vanishes mid-read is counted in
// ScanCounts.Vanished, and a field refused for permission is kept as
// unavailable with its reason and counted in ScanCounts.Denied.
//
// Reads go through raw openat/read into reused buffers (see files.go):
// measured at about half the cost of procfs' Stat+NewStatus, whose
// fmt.Fscan parser also panics on a stat that ends after ")". procfs is
// used for the machine-wide files (/proc/stat, loadavg, meminfo) and
// gopsutil, once per Reader, for boot time, CPU count and memory total.
package collector
