package metrics

import "github.com/prometheus/client_golang/prometheus"

// descs are the descriptors of every pinspect_ metric (docs/METRICS.md
// lists them; a test keeps the two in step).
type descs struct {
	events, exits *prometheus.Desc

	frames, scanDuration, scanTime                            *prometheus.Desc
	scanListed, scanVanished, scanVanishedThreads             *prometheus.Desc
	scanDenied, scanParseErrors, scanTimeouts, scanUnreadable *prometheus.Desc
	interval, eventsLive, ctxSource, collectorInfo            *prometheus.Desc

	sysCtx, sysForks *prometheus.Desc

	processes, threads, kernelThreads *prometheus.Desc

	zombies, zombieParents, parentZombies, parentOldest *prometheus.Desc
	orphans, daemons                                    *prometheus.Desc

	procCtx, procCtxRate *prometheus.Desc
}

func newDescs(cmdline bool) descs {
	n := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricsNamePrefix+name, help, labels, nil)
	}
	procLabels := []string{"pid", "comm"}
	if cmdline {
		procLabels = append(procLabels, "cmdline")
	}
	procLabels = append(procLabels, "type")
	return descs{
		events: n("lifecycle_events_total", "Lifecycle events seen by the monitor since the agent started, by type (spawn, exec, exit, zombie, reaped, reparent, state, thread_start, thread_exit; lost: kernel events dropped, a rescan followed).", "type"),
		exits:  n("exits_total", "Process exits seen since the agent started, by outcome: success (exit 0), failure (other exit code), signal (killed), unknown (status not observed).", "outcome"),

		frames:              n("frames_total", "Monitor frames (scans) published since the agent started."),
		scanDuration:        n("scan_duration_seconds", "Wall time of the latest /proc scan."),
		scanTime:            n("scan_timestamp_seconds", "When the latest /proc scan started, in seconds since the Unix epoch."),
		scanListed:          n("scan_listed_processes", "Process directories listed by the latest scan."),
		scanVanished:        n("scan_vanished_processes", "Processes that exited between listing and reading in the latest scan (not an error)."),
		scanVanishedThreads: n("scan_vanished_threads", "Threads that exited while being read in the latest scan."),
		scanDenied:          n("scan_denied_fields", "Per-process fields left unavailable for permission (EACCES/EPERM) in the latest scan."),
		scanParseErrors:     n("scan_parse_errors", "Files whose content could not be parsed in the latest scan."),
		scanTimeouts:        n("scan_timeouts", "Reads abandoned at their deadline in the latest scan."),
		scanUnreadable:      n("scan_unreadable_processes", "Processes listed but whose stat could not be read (kept, with fields unavailable) in the latest scan."),
		interval:            n("sampling_interval_seconds", "The monitor's sampling interval."),
		eventsLive:          n("events_live", "1 when the kernel's process-events connector is subscribed (short-lived processes are seen), 0 when lifecycle events come from comparing scans only."),
		ctxSource:           n("context_switches_source_info", "Where per-process context-switch totals come from: task_iter or taskstats (exact), thread_sum (live threads) or leader_only.", "source"),
		collectorInfo:       n("collector_info", "The backend that read the processes: task_iter (a BPF task iterator) or proc.", "collector"),

		sysCtx:   n("system_context_switches_total", "Context switches on all CPUs since boot (ctxt in /proc/stat)."),
		sysForks: n("system_forks_total", "Processes and threads created since boot (processes in /proc/stat)."),

		processes:     n("processes", "Processes by the state of their leader thread.", "state"),
		threads:       n("threads", "Threads by state (state=\"unknown\" counts threads of processes whose threads were not read).", "state"),
		kernelThreads: n("kernel_threads", "Kernel threads (counted in pinspect_processes too)."),

		zombies:       n("zombies", "Zombie processes: exited, status not yet collected by their parent."),
		zombieParents: n("zombie_parents", "Distinct parents holding at least one zombie."),
		parentZombies: n("zombie_parent_zombies", "Zombies held by one parent, for the parents holding the most (bounded by --metrics.zombie-parents).", "pid", "comm"),
		parentOldest:  n("zombie_parent_oldest_zombie_age_seconds", "How long the parent's oldest zombie has been seen as a zombie (since the agent first saw it).", "pid", "comm"),
		orphans:       n("orphans", "Orphaned processes (parent exited, adopted) by the kind of adopter: init, subreaper, pidns_init.", "adopter_kind"),
		daemons:       n("detached_daemons", "Processes re-parented because they detached on purpose (own session); not counted as orphans."),

		procCtx:     n("process_context_switches_total", "Context switches of a process (voluntary: blocked or yielded; involuntary: preempted), for the top processes by switch rate (bounded by --metrics.top).", procLabels...),
		procCtxRate: n("process_context_switches_per_second", "Context-switch rate of a process between the last two scans, for the same top processes.", procLabels...),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.events, d.exits,
		d.frames, d.scanDuration, d.scanTime,
		d.scanListed, d.scanVanished, d.scanVanishedThreads,
		d.scanDenied, d.scanParseErrors, d.scanTimeouts, d.scanUnreadable,
		d.interval, d.eventsLive, d.ctxSource, d.collectorInfo,
		d.sysCtx, d.sysForks,
		d.processes, d.threads, d.kernelThreads,
		d.zombies, d.zombieParents, d.parentZombies, d.parentOldest,
		d.orphans, d.daemons,
		d.procCtx, d.procCtxRate,
	}
}
