package explain

import (
	"strconv"
	"strings"
)

// Explain returns the findings for one process's sample, worst first.
// Every question the sample has data for gets an answer; a question
// without data is left out, and what was missing is named in the
// findings' Unmeasured and in Gaps.
func Explain(s *Sample) []Finding {
	a := analyse(s)
	var out []Finding
	fns := []func() *Finding{
		a.bound, a.pool, a.poolOversized, a.leaderExited, a.state, a.traced, a.gil, a.eventLoop, a.cow, a.family,
		a.runtimeFinding, a.leak, a.switchCost, a.waits, a.zombies,
	}
	if a.zombie() != nil {
		// A zombie has no threads, memory or I/O left to explain (and
		// its children passed to init when it exited): only what it is.
		fns = []func() *Finding{a.zombie}
	}
	for _, fn := range fns {
		if f := fn(); f != nil {
			f.PID, f.Comm = s.PID, s.Comm
			f.Unmeasured = append(f.Unmeasured, a.common(f.Question)...)
			out = append(out, *f)
		}
	}
	sortFindings(out)
	return out
}

// gapNames names each source a sample's Unavailable keys (the key is
// stable, for JSON; the name is for a person), in the order Gaps lists
// them.
var gapNames = []struct{ key, what string }{
	{"task", "the threads' states (task/TID/stat)"},
	{"syscall", "the system call each thread is in (task/TID/syscall)"},
	{"wchan", "the kernel function each thread sleeps in (task/TID/wchan)"},
	{"schedstat", "run-queue wait (task/TID/schedstat)"},
	{"io", "I/O counters (/proc/PID/io)"},
	{"fd", "open descriptors (/proc/PID/fd)"},
	{"smaps", "memory by mapping (/proc/PID/smaps)"},
	{"cgroup", "the cgroup CPU limit"},
	{"pressure", "pressure stall information (/proc/pressure)"},
	{"pressure/cpu", "CPU pressure stall information (/proc/pressure/cpu)"},
	{"pressure/io", "I/O pressure stall information (/proc/pressure/io)"},
	{"pressure/memory", "memory pressure stall information (/proc/pressure/memory)"},
	{"runtime", "the language runtime (exe, maps, build info)"},
	{"host/stat", "the machine's CPU time and forks (/proc/stat)"},
	{"host/loadavg", "the machine's runnable tasks (/proc/loadavg)"},
	{"host/uptime", "the machine's uptime (/proc/uptime)"},
	{"cpus", "the CPU count (/proc/cpuinfo)"},
}

// GapName is the name for a person of the source a sample's (or a
// machine sample's) Unavailable key stands for, as explain's text says
// it: "cpus" is "the CPU count (/proc/cpuinfo)". A key it does not know
// is its own name.
func GapName(key string) string {
	for _, k := range gapNames {
		if k.key == key {
			return k.what
		}
	}
	return key
}

// GapsAt is gaps with the files they name as they were read: a
// "/proc/PID/" path under root with the process's pid (root/pid/...),
// another "/proc/" path under root (the dashboard's --proc-root). The
// names are generic ("I/O counters (/proc/PID/io)") for the documents,
// which give proc_root and pid beside them.
func GapsAt(gaps []Unmeasured, root string, pid int) []Unmeasured {
	if len(gaps) == 0 {
		return gaps
	}
	r := strings.NewReplacer("/proc/PID/", root+"/"+strconv.Itoa(pid)+"/", "/proc/", root+"/")
	out := make([]Unmeasured, len(gaps))
	for i, g := range gaps {
		g.What = r.Replace(g.What)
		out[i] = g
	}
	return out
}

// Gap is what could not be measured of the source key, and why: the
// stable key and its name (GapName).
func Gap(key, why string) Unmeasured {
	return Unmeasured{Key: key, What: GapName(key), Why: why}
}

// Gaps lists what could not be measured for the whole sample, and why.
func Gaps(s *Sample) []Unmeasured {
	var out []Unmeasured
	if why, ok := s.Unavailable["threads"]; ok {
		out = append(out, Unmeasured{Key: "threads", What: "the threads' states, run-queue wait and switches", Why: why})
	} else if len(s.Burst) < 2 {
		out = append(out, Unmeasured{What: "run-queue wait, CPU and rates", Why: "one sample only: they need two readings"})
	}
	for _, k := range gapNames {
		if why, ok := s.Unavailable[k.key]; ok {
			if why == "permission denied" && !s.Machine.Root {
				why += " (not root: another user's process needs ptrace access)"
			}
			out = append(out, Unmeasured{Key: k.key, What: k.what, Why: why})
		}
	}
	if s.Machine.DelayAcct == "off" {
		out = append(out, Unmeasured{What: "per-thread block-I/O and swap-in delays (taskstats)", Why: "kernel.task_delayacct is off (sysctl -w kernel.task_delayacct=1 turns it on)"})
	} else if s.Machine.DelayAcct == "on" && delaysUntracked(s) {
		out = append(out, Unmeasured{What: "per-thread block-I/O and swap-in delays (taskstats)", Why: DelaysUntrackedReason})
	} else if why, ok := s.Unavailable["taskstats"]; ok && s.Machine.DelayAcct == "on" {
		out = append(out, Unmeasured{What: "per-thread block-I/O and swap-in delays (taskstats)", Why: why})
	}
	return out
}

// common is what could not be measured for a question, from the
// sample's gaps.
func (a *analysis) common(q string) []Unmeasured {
	s := a.s
	var out []Unmeasured
	need := map[string][]string{
		QBound:     {"syscall", "wchan", "schedstat", "io"},
		QPool:      {"schedstat", "cgroup", "pressure"},
		QState:     {"wchan"},
		QGIL:       {"syscall"},
		QEventLoop: {"syscall", "fd"},
		QCOW:       {"smaps"},
		QWaits:     {"syscall", "wchan", "io"},
		QLeak:      {"smaps"},
	}[q]
	for _, k := range need {
		if why, ok := s.Unavailable[k]; ok {
			out = append(out, Gap(k, why))
		}
	}
	if _, ok := s.Unavailable["threads"]; !ok && len(s.Burst) < 2 && (q == QPool || q == QBound) {
		out = append(out, Unmeasured{What: "run-queue wait", Why: "one sample only"})
	}
	return out
}
