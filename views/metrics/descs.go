package metrics

import (
	"strconv"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// descs are the descriptors of every pinspect_ metric (docs/METRICS.md
// lists them; a test keeps the two in step).
type descs struct {
	events, exits, eventsLive, eventsRequested *prometheus.Desc

	frames, scanDuration, scanTime, interval, readsStuck      *prometheus.Desc
	scanVanished, scanVanishedThreads                         *prometheus.Desc
	scanDenied, scanParseErrors, scanTimeouts, scanUnreadable *prometheus.Desc
	ctxSource, collectorInfo                                  *prometheus.Desc

	processes, threads, kernelThreads *prometheus.Desc

	zombies, zombieParents, parentZombies, parentOldest *prometheus.Desc
	orphans, daemons                                    *prometheus.Desc

	groups, groupsOverflow, groupProcesses, groupThreads, groupRSS, groupOrphans, groupOldestStart *prometheus.Desc
	groupCPU, groupCtx, groupReadBytes, groupWriteBytes                                            *prometheus.Desc
	groupSpawns, groupExecs, groupExits, groupZombies, groupOldestZombie                           *prometheus.Desc

	seriesCut, procCPU, procRSS, procThreads, procStart, procCtx, procReadBytes, procWriteBytes *prometheus.Desc
}

func newDescs(cmdline, byCgroup bool) descs {
	n := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricsNamePrefix+name, help, labels, nil)
	}
	groupLabels := []string{"group"}
	if byCgroup {
		groupLabels = append(groupLabels, "cgroup")
	}
	g := func(name, help string, extra ...string) *prometheus.Desc {
		return n(name, help, append(append([]string(nil), groupLabels...), extra...)...)
	}
	procLabels := []string{"pid", "comm", "group"}
	if cmdline {
		procLabels = append(procLabels, "cmdline")
	}
	p := func(name, help string, extra ...string) *prometheus.Desc {
		return n(name, help, append(append([]string(nil), procLabels...), extra...)...)
	}
	return descs{
		events:          n("lifecycle_events_total", "Lifecycle events seen by the monitor since the agent started, by type (spawn, exec, rename, exit, zombie, reaped, reparent, state, thread_start, thread_exit; lost: kernel events dropped, a rescan followed).", "type"),
		exits:           n("exits_total", "Process exits seen since the agent started, by outcome (success, failure, signal, unknown) and status: the exit code's class (0, 1, 2, 3-125, 126, 127, 128-255), the signal's name, or empty when unknown.", "outcome", "status"),
		eventsLive:      n("events_live", "1 when the kernel's process events are followed (the BPF tracepoints, or the process-events connector where they cannot load: short-lived processes are seen), 0 when lifecycle events come from comparing scans only."),
		eventsRequested: n("events_requested", "1 when the agent was asked to follow the kernel's process events (serve without --no-connector): with pinspect_events_live 0, they are lost or unavailable."),

		frames:       n("frames_total", "Monitor frames (scans) published since the agent started."),
		scanDuration: n("scan_duration_seconds", "Wall time of the latest /proc scan."),
		scanTime:     n("scan_timestamp_seconds", "When the latest /proc scan started, in seconds since the Unix epoch."),
		interval:     n("sampling_interval_seconds", "The monitor's sampling interval."),
		readsStuck:   n("reads_stuck", "The agent's /proc reads abandoned at their deadline that are still blocked in the kernel (a process stuck with a lock held)."),

		scanVanished:        n("scan_vanished_processes_total", "Processes that exited between being listed and read, summed over scans (normal churn)."),
		scanVanishedThreads: n("scan_vanished_threads_total", "Threads that exited while being read, summed over scans."),
		scanDenied:          n("scan_denied_fields_total", "Per-process fields left unavailable for permission (EACCES/EPERM), summed over scans."),
		scanParseErrors:     n("scan_parse_errors_total", "Files whose content could not be parsed, summed over scans."),
		scanTimeouts:        n("scan_timeouts_total", "Reads abandoned at their deadline, summed over scans."),
		scanUnreadable:      n("scan_unreadable_processes_total", "Processes listed but whose stat could not be read (kept, with fields unavailable), summed over scans."),
		ctxSource:           n("context_switches_source_info", "Where per-process context-switch totals come from: task_iter or taskstats (exact), thread_sum (live threads) or leader_only.", "source"),
		collectorInfo:       n("collector_info", "The backend that read the processes: task_iter (a BPF task iterator) or proc.", "collector"),

		processes:     n("processes", "Processes by the state of their leader thread; zombie: state Z with no live thread; leader-exited: a live process whose main thread exited (the kernel shows Z).", "state"),
		threads:       n("threads", "Threads by state (state=\"unknown\" counts threads of processes whose threads were not read).", "state"),
		kernelThreads: n("kernel_threads", "Kernel threads (counted in pinspect_processes too)."),

		zombies:       n("zombies", "Zombie processes: exited, status not yet collected by their parent."),
		zombieParents: n("zombie_parents", "Distinct parents holding at least one zombie."),
		parentZombies: n("zombie_parent_zombies", "Zombies held by one parent, for the parents holding the most (--metrics.zombie-parents of them; none by default).", "pid", "comm"),
		parentOldest:  n("zombie_parent_oldest_zombie_first_seen_timestamp_seconds", "When the agent first saw the parent's oldest zombie as a zombie, in seconds since the Unix epoch.", "pid", "comm"),
		orphans:       n("orphans", "Orphaned processes (parent exited, adopted) by the kind of adopter: init, subreaper, pidns_init.", "adopter_kind"),
		daemons:       n("detached_daemons", "Processes re-parented because they detached on purpose (own session); not counted as orphans."),

		groups:            n("groups", "Process groups exported (at most groups.max, plus \"other\")."),
		groupsOverflow:    n("groups_overflow_processes", "Processes counted in the group \"other\" only because groups.max groups were taken when they appeared: name them with rules or raise groups.max."),
		groupProcesses:    g("group_processes", "Processes of the group by the state of their leader thread: running, sleeping (also idle), disk-sleep, stopped (also tracing-stop), zombie, other.", "state"),
		groupThreads:      g("group_threads", "Threads of the group's processes."),
		groupRSS:          g("group_resident_memory_bytes", "Resident memory of the group's processes (VmRSS; shared pages count in each process)."),
		groupOrphans:      g("group_orphans", "Processes of the group that are orphans (adopted by init, a subreaper or a namespace's init)."),
		groupOldestStart:  g("group_oldest_start_time_seconds", "Start time of the group's oldest process, in seconds since the Unix epoch."),
		groupCPU:          g("group_cpu_seconds_total", "CPU time of the group's processes, exited members included, by mode (user, system).", "mode"),
		groupCtx:          g("group_context_switches_total", "Context switches of the group's processes, exited members included (voluntary: blocked or yielded; involuntary: preempted).", "type"),
		groupReadBytes:    g("group_read_bytes_total", "Bytes the group's processes made the block layer read from storage (read_bytes of /proc/PID/io), exited members included; of the processes whose io the agent may read."),
		groupWriteBytes:   g("group_write_bytes_total", "Bytes the group's processes caused to be written to storage (write_bytes of /proc/PID/io), exited members included; of the processes whose io the agent may read."),
		groupSpawns:       g("group_spawns_total", "Processes created in the group (fork or clone of a new process)."),
		groupExecs:        g("group_execs_total", "Programs executed into the group (execve that made a process a member)."),
		groupExits:        g("group_exits_total", "Exits of the group's processes by outcome (success, failure, signal, unknown).", "outcome"),
		groupZombies:      g("group_zombie_children", "Zombies whose parent is one of the group's processes (exited children it has not reaped); present only while there are some."),
		groupOldestZombie: g("group_oldest_zombie_child_first_seen_timestamp_seconds", "When the agent first saw the oldest zombie a process of the group holds, in seconds since the Unix epoch; present only while there are some."),

		seriesCut:      n("process_series_cut_total", "Processes of the per_process groups left without series because of per_process.max, counted at each scan."),
		procCPU:        p("process_cpu_seconds_total", "CPU time of a process (per_process groups only), by mode (user, system).", "mode"),
		procRSS:        p("process_resident_memory_bytes", "Resident memory (VmRSS) of a process (per_process groups only)."),
		procThreads:    p("process_threads", "Threads of a process (per_process groups only)."),
		procStart:      p("process_start_time_seconds", "Start time of a process (per_process groups only), in seconds since the Unix epoch."),
		procCtx:        p("process_context_switches_total", "Context switches of a process (per_process groups only; voluntary: blocked or yielded; involuntary: preempted).", "type"),
		procReadBytes:  p("process_read_bytes_total", "Bytes a process made the block layer read from storage (per_process groups only)."),
		procWriteBytes: p("process_write_bytes_total", "Bytes a process caused to be written to storage (per_process groups only)."),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.events, d.exits, d.eventsLive, d.eventsRequested,
		d.frames, d.scanDuration, d.scanTime, d.interval, d.readsStuck,
		d.scanVanished, d.scanVanishedThreads,
		d.scanDenied, d.scanParseErrors, d.scanTimeouts, d.scanUnreadable,
		d.ctxSource, d.collectorInfo,
		d.processes, d.threads, d.kernelThreads,
		d.zombies, d.zombieParents, d.parentZombies, d.parentOldest,
		d.orphans, d.daemons,
		d.groups, d.groupsOverflow, d.groupProcesses, d.groupThreads, d.groupRSS, d.groupOrphans, d.groupOldestStart,
		d.groupCPU, d.groupCtx, d.groupReadBytes, d.groupWriteBytes,
		d.groupSpawns, d.groupExecs, d.groupExits, d.groupZombies, d.groupOldestZombie,
		d.seriesCut, d.procCPU, d.procRSS, d.procThreads, d.procStart, d.procCtx, d.procReadBytes, d.procWriteBytes,
	}
}

// signalNames are the standard signals by number, from this platform's
// syscall constants (numbers differ between architectures).
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT", syscall.SIGILL: "SIGILL",
	syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE",
	syscall.SIGKILL: "SIGKILL", syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM", syscall.SIGCHLD: "SIGCHLD",
	syscall.SIGCONT: "SIGCONT", syscall.SIGSTOP: "SIGSTOP", syscall.SIGTSTP: "SIGTSTP", syscall.SIGTTIN: "SIGTTIN",
	syscall.SIGTTOU: "SIGTTOU", syscall.SIGURG: "SIGURG", syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
	syscall.SIGVTALRM: "SIGVTALRM", syscall.SIGPROF: "SIGPROF", syscall.SIGWINCH: "SIGWINCH", syscall.SIGIO: "SIGIO",
	syscall.SIGPWR: "SIGPWR", syscall.SIGSYS: "SIGSYS",
}

// signalName names a terminating signal: "SIGKILL", or "SIG" and the
// number for one without a standard name (the real-time signals). A wait
// status holds 7 bits of signal, so there are at most 127 values.
func signalName(n int) string {
	n &= 0x7f
	if s, ok := signalNames[syscall.Signal(n)]; ok {
		return s
	}
	return "SIG" + strconv.Itoa(n)
}
