package explain

import (
	"fmt"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// MachineSample is what explain looks at for the whole machine: the
// machine's load at both ends of a window and between, the processes that
// used the most CPU, and full samples of the processes worth a closer
// look.
type MachineSample struct {
	Version int `json:"version"`
	// TakenAt is the wall-clock time of the first reading.
	TakenAt time.Time `json:"taken_at"`
	Machine Machine   `json:"machine"`
	// FirstAt and LastAt bound the window on the sampler's monotonic
	// clock; First and Last are the machine's load there.
	FirstAt time.Duration `json:"first_at_ns"`
	LastAt  time.Duration `json:"last_at_ns"`
	First   HostLoad      `json:"first"`
	Last    HostLoad      `json:"last"`
	// Runnable are the machine's runnable task counts sampled over the
	// window (/proc/loadavg), the reader included.
	Runnable []int `json:"runnable,omitempty"`
	// Top are the processes that used the most CPU over the window, most
	// first.
	Top []Neighbour `json:"top"`
	// Processes are the samples of the processes examined closely.
	Processes []*Sample `json:"processes"`
	// Unavailable maps a machine source to why it could not be read.
	Unavailable map[string]string `json:"unavailable,omitempty"`
	// SelfPID is the reader's own pid, left out of Top and Processes (it
	// is busy because it reads); 0 when not left out (older samples).
	SelfPID int `json:"self_pid,omitempty"`
}

// Thresholds of the machine findings.
const (
	// machineCPUPressure: PSI cpu "some" percent from which the CPUs count
	// as contended.
	machineCPUPressure = 20.0
	// machineIOPressure and machineMemPressure likewise for I/O and
	// memory.
	machineIOPressure  = 10.0
	machineMemPressure = 5.0
)

// ExplainMachine returns the machine's findings and those of each process
// examined, worst first. A process slowed by its neighbours is not listed
// as such when the machine's own finding says the CPUs are contended:
// every process says the same then, and the machine finding names the
// busiest.
func ExplainMachine(m *MachineSample) []Finding {
	var out []Finding
	mf := machineFindings(m)
	out = append(out, mf...)
	contended := len(mf) > 0 && mf[0].ID == "machine_cpu_contended"
	families := map[int]bool{}
	for _, s := range m.Processes {
		for _, f := range Explain(s) {
			switch {
			case contended && f.ID == "cpu_neighbours":
				continue
			case f.Question == QFamily && s.Family != nil:
				// Two busy members of one family: its total once.
				if families[s.Family.RootPID] {
					continue
				}
				families[s.Family.RootPID] = true
			}
			out = append(out, f)
		}
	}
	sortFindings(out)
	return out
}

// avgRunnable is the mean of sampled runnable counts, the reader itself
// taken out of each; unread samples (-1) are skipped.
func avgRunnable(rs []int) float64 {
	sum, n := 0, 0
	for _, r := range rs {
		if r >= 0 {
			sum += max(r-1, 0)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

// someStall is the percent of a window of secs in which some task was
// stalled on a resource, from the growth of its PSI "some" total; nil
// when either reading is missing.
func someStall(p0, p1 *collector.Pressure, secs float64) *float64 {
	return stall(p0, p1, secs, false)
}

// stall is someStall, or with full the "full" line's share.
func stall(p0, p1 *collector.Pressure, secs float64, full bool) *float64 {
	if p0 == nil || p1 == nil || secs <= 0 {
		return nil
	}
	l0, l1 := p0.Some, p1.Some
	if full {
		if p0.Full == nil || p1.Full == nil {
			return nil
		}
		l0, l1 = *p0.Full, *p1.Full
	}
	v := min(100, float64(sub(l1.TotalUs, l0.TotalUs))/(secs*1e6)*100)
	return &v
}

// machineFindings are the findings about the machine as a whole.
func machineFindings(m *MachineSample) []Finding {
	secs := (m.LastAt - m.FirstAt).Seconds()
	cpus := float64(m.Machine.CPUs)
	var out []Finding
	runnable := avgRunnable(m.Runnable)
	psi := func(name string) *float64 {
		p0, p1 := m.First.Pressure, m.Last.Pressure
		switch name {
		case "cpu":
			return someStall(p0.CPU, p1.CPU, secs)
		case "io":
			return someStall(p0.IO, p1.IO, secs)
		}
		return someStall(p0.Memory, p1.Memory, secs)
	}
	busy := 0.0
	if t := sub(m.Last.CPUTicks, m.First.CPUTicks); t > 0 {
		busy = cpus * float64(t-min(t, sub(m.Last.CPUIdleTicks, m.First.CPUIdleTicks))) / float64(t)
	}
	topText := func() string {
		var names []string
		for _, p := range m.Top[:min(3, len(m.Top))] {
			names = append(names, fmt.Sprintf("%s (%d) %s CPUs", p.Comm, p.PID, f2(p.CPUs)))
		}
		return strings.Join(names, ", ")
	}
	cpuPSI := psi("cpu")
	f := Finding{ID: "machine_cpu", Question: QMachine, Severity: Info, Lesson: lessonPool}
	if cpus > 0 {
		f.Evidence = append(f.Evidence, ev("cpus_busy", busy, "cpus", f2(busy)+" of "+num(cpus)+" CPUs busy", "/proc/stat cpu line, both readings"))
	}
	f.Evidence = append(f.Evidence, ev("runnable_avg", runnable, "threads", f1(runnable)+" tasks runnable on average (this reader excluded)", "/proc/loadavg field 4, sampled"))
	if cpuPSI != nil {
		f.Evidence = append(f.Evidence, ev("psi_cpu_some_percent", *cpuPSI, "percent", "some task waited for a CPU "+pctv(*cpuPSI)+" of the window", "/proc/pressure/cpu (some total)"))
	}
	if len(m.Top) > 0 {
		f.Evidence = append(f.Evidence, ev("top_process_cpus", m.Top[0].CPUs, "cpus", "busiest: "+topText(), "/proc/*/stat fields 14-15, both snapshots"))
	}
	if m.SelfPID > 0 {
		f.Evidence = append(f.Evidence, fact("reader_excluded", fmt.Sprintf("pinspect itself (pid %d, the reader) is left out of the busiest processes and of those examined", m.SelfPID), "getpid(2)"))
	}
	switch {
	case cpus <= 0:
		// The CPU count could not be read (Unavailable["cpus"]): no
		// share of it, and no busy or contended verdict, is claimed.
		f.ID = "machine_cpu_unknown"
		f.Verdict = fmt.Sprintf("The CPU count is not known (%s), so how busy the CPUs were is not said: %s tasks runnable on average.", cpusWhy(m.Unavailable), f1(runnable))
	case runnable > cpus && cpuPSI != nil && *cpuPSI >= machineCPUPressure:
		f.ID = "machine_cpu_contended"
		f.Severity = Warning
		f.Score = runnable / cpus
		f.Verdict = fmt.Sprintf("The CPUs are contended: %s tasks wanted the %s CPUs on average, and some task waited for a CPU %s of the time.", f1(runnable), num(cpus), pctv(*cpuPSI))
		f.Why = "Every runnable task beyond the CPU count waits in a run queue: everything on the machine runs slower than it could."
		f.Try = append(f.Try, "Find who brings the extra runnable threads (below, and pinspect explain PID on each): an oversized pool, or too many busy processes for the CPUs.")
	case busy >= 0.9*cpus:
		f.ID = "machine_cpu_busy"
		f.Severity = Notice
		f.Score = busy / cpus
		f.Verdict = fmt.Sprintf("The CPUs are busy (%s of %s) but not oversubscribed: %s tasks runnable on average.", f2(busy), num(cpus), f1(runnable))
	default:
		f.ID = "machine_cpu_room"
		f.Verdict = fmt.Sprintf("The CPUs have room: %s of %s busy, %s tasks runnable on average.", f2(busy), num(cpus), f1(runnable))
	}
	out = append(out, f)
	if p := psi("io"); p != nil && *p >= machineIOPressure {
		blocked := float64(m.Last.ProcsBlocked)
		inD, dProcs := examinedInD(m)
		verdict := fmt.Sprintf("Tasks waited on I/O %s of the time; %s in I/O wait (procs_blocked) at the last reading", pctv(*p), num(blocked))
		evs := []Evidence{
			ev("psi_io_some_percent", *p, "percent", "some task waited on I/O "+pctv(*p)+" of the window", "/proc/pressure/io (some total)"),
			ev("procs_blocked", blocked, "threads", num(blocked)+" tasks in I/O wait (procs_blocked counts tasks in io_schedule, not every task in D: a vfork parent or a task waiting for a kernel lock is in D but not counted)", "/proc/stat procs_blocked"),
		}
		if len(m.Processes) > 0 {
			verdict += fmt.Sprintf(", %s in D among the %s examined", plural(inD, "thread", "threads"), plural(len(m.Processes), "process", "processes"))
			evs = append(evs, ev("examined_threads_in_d", float64(inD), "threads", fmt.Sprintf("%s in D in %s of the %d processes examined, at their last sample", plural(inD, "thread", "threads"), plural(dProcs, "process", "processes"), len(m.Processes)), "/proc/PID/task/*/stat field 3, the last burst sample of each"))
		}
		out = append(out, Finding{
			ID: "machine_io_pressure", Question: QMachine, Severity: Notice, Score: *p,
			Verdict:  verdict + ".",
			Evidence: evs,
			Why:      "Storage is what the machine waits on: faster CPUs or more threads will not help.",
			Lesson:   lessonDisk,
		})
	}
	if p := psi("memory"); p != nil && *p >= machineMemPressure {
		out = append(out, Finding{
			ID: "machine_memory_pressure", Question: QMachine, Severity: Warning, Score: *p,
			Verdict:  fmt.Sprintf("Tasks stalled on memory %s of the time (reclaim, swap-in, refaults).", pctv(*p)),
			Evidence: []Evidence{ev("psi_memory_some_percent", *p, "percent", "some task stalled on memory "+pctv(*p)+" of the window", "/proc/pressure/memory (some total)")},
			Why:      "The machine is short of memory: the kernel spends time reclaiming and reading pages back in.",
		})
	}
	return out
}

// examinedInD counts the threads in D at the last burst sample of each
// process examined, and the processes with one or more.
func examinedInD(m *MachineSample) (threads, procs int) {
	for _, s := range m.Processes {
		if len(s.Burst) == 0 {
			continue
		}
		n := 0
		for _, t := range s.Burst[len(s.Burst)-1].Tasks {
			if t.State == 'D' {
				n++
			}
		}
		threads += n
		if n > 0 {
			procs++
		}
	}
	return threads, procs
}

// cpusWhy is why the CPU count is unknown, from a sample's Unavailable.
func cpusWhy(un map[string]string) string {
	if why := un["cpus"]; why != "" {
		return "cpuinfo: " + why
	}
	return "cpuinfo unreadable"
}
