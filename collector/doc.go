// Package collector reads a /proc root (the real one or a fixture tree)
// into plain, immutable model values: Snapshot, Host, Process, Thread,
// AddressSpace. It never formats for a screen, carries no JSON (the
// schema is views/report's) and never imports views, lifecycle or
// monitor.
//
// The cut:
//
//   - reader.go: Reader, a view of one /proc root, safe for concurrent
//     use. It owns what lives across calls, each with its own rule of
//     sharing (see Reader): the identity memo (memo.go), the taskstats
//     socket, the read workers (deadline.go). Close stops every goroutine
//     it started.
//   - scan.go: a scan, one pass over the root that owns its state (counts,
//     problems, thread slab, cmdlines still to read) and returns a
//     Snapshot nobody writes again.
//   - one file per /proc source, its reader beside its pure parser:
//     stat.go (readStat, parseStat), status.go (readStatus, parseStatus),
//     exe.go (readExe), cmdline.go (parseCmdline, parseDirents), task.go
//     (a process's threads), maps.go and smaps.go (streamed), with
//     taskstats.go for the kernel's accounting and host.go for the
//     machine-wide files. A new source goes the same way: its file, its
//     reader and parser, its group embedded in Process (ProcStat,
//     ProcStatus, ProcCmdline, ProcExe, ProcAccounting), a Sources bit.
//   - identity.go: Identity lookups for a kernel event source; addrspace.go
//     and details.go: the on-demand reads of one process.
//
// Processes are identified by (pid, start ticks); a process that vanishes
// mid-read is counted in ScanCounts.Vanished, and a field refused for
// permission is kept as unavailable with its reason and counted in
// ScanCounts.Denied.
//
// Reads go through raw openat/read into reused buffers (files.go):
// measured at about half the cost of procfs' Stat+NewStatus, whose
// fmt.Fscan parser also panics on a stat that ends after ")". Reads that
// can block on the target (cmdline, maps, smaps) run on workers under a
// deadline (deadline.go). procfs is used for the machine-wide files
// (/proc/stat, loadavg, meminfo) and gopsutil, once per Reader, for boot
// time, CPU count and memory total.
package collector
