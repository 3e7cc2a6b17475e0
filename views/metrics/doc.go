// Package metrics is pinspect's agent view: a Prometheus collector over
// the latest monitor Frame, and the HTTP server of `pinspect serve`
// (/metrics, the JSON API under /api/v1, and the frame endpoint that
// `pinspect --remote` reads through RemoteSource).
//
// It owns turning Frames into metrics and documents; it never reads /proc
// (the monitor does) and never reads the clock for data (times come from
// the frames). It imports collector types, lifecycle, monitor,
// views/report, views/sanitize, client_golang and exporter-toolkit; it
// must not import the dashboard or cmd/pinspect.
//
// Security rules it enforces: no environment variables are ever exported;
// command lines appear only when Options.Cmdline is set, and then pass
// through RedactArgs; label values are valid UTF-8 with control characters
// made inert; groups are bounded (Grouping's max, then "other"), and
// per-process and per-parent series are opt-in and capped (PerProcess,
// Options.ZombieParents).
package metrics
