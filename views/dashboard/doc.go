// Package dashboard is the live terminal dashboard (rivo/tview): a header
// with host facts, a virtual process table (sort, filter, tree, threads,
// state filter), a detail view per process (threads, memory, lifecycle,
// status), a zombie panel with diagnoses and an event log.
//
// It consumes monitor Frames through the Source interface and never reads
// /proc: heavy per-process data (threads, address space, details) arrives
// for the focused process only, because the dashboard asks the Source to
// Focus it. Frames are applied on the tview event loop with
// QueueUpdateDraw by one feeding goroutine, which is stopped before the
// application stops. Every string that came from /proc is made inert with
// views/sanitize and tview.Escape before it reaches a cell.
//
// It may import collector (types only), collector/lifecycle,
// collector/monitor, views/sanitize, tview and tcell; it must not import
// cmd or any reader of /proc.
package dashboard
