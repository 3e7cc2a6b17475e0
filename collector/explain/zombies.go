package explain

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// ZombieChildren are the zombies a process holds: children that exited
// and whose exit status it has not collected with wait(2). The sampler
// fills it from the Last reading's snapshot, with the diagnosis `pinspect
// zombies` gives of the parent (package lifecycle).
type ZombieChildren struct {
	// Zombies are the children, oldest first.
	Zombies []ZombieChild `json:"zombies"`
	// ZombieDiagnosis is since when the oldest of them is known to be a
	// zombie, whether all are young, and what `pinspect zombies` says of
	// this process as their parent.
	ZombieDiagnosis
}

// ZombieDiagnosis is what is known of zombies held by one parent: since
// when they are known to be zombies, whether they are young, the
// parent's SIGCHLD disposition, and `pinspect zombies`'s diagnosis of
// that parent.
type ZombieDiagnosis struct {
	// Since is when the oldest of them was first seen a zombie (it may
	// have been one before); zero when not known. SeenBy says what saw
	// it then ("the window's first reading", "pinspect record").
	Since  time.Time `json:"since,omitzero"`
	SeenBy string    `json:"seen_by,omitempty"`
	// NotBefore, when not zero, is a time at which the oldest was not
	// yet a zombie (the window's first reading): it became one between
	// NotBefore and Since.
	NotBefore time.Time `json:"not_before,omitzero"`
	// Young is true when every one of them is provably younger than
	// MinAge: a parent that reaps may still collect them.
	Young  bool          `json:"young,omitempty"`
	MinAge time.Duration `json:"min_age_ns,omitempty"`
	// SIGCHLD is the parent's SIGCHLD disposition (lifecycle's Sigchld
	// words), "" when its status was not read.
	SIGCHLD string `json:"sigchld,omitempty"`
	// Diagnosis and Remedy are what `pinspect zombies` says of the
	// parent: why it does not reap, and what to do.
	Diagnosis string `json:"diagnosis,omitempty"`
	Remedy    string `json:"remedy,omitempty"`
}

// sinceClause says since when the zombies are known to be zombies, after
// a semicolon: "; " + who + " has been one since TIME or earlier", that
// it became one between two times, or that it is not known.
func (d *ZombieDiagnosis) sinceClause(who string) string {
	switch {
	case d.Since.IsZero():
		return "; since when is not known"
	case !d.NotBefore.IsZero():
		return "; " + who + " became one between " + d.NotBefore.UTC().Format(time.RFC3339) + " and " + d.Since.UTC().Format(time.RFC3339)
	}
	return "; " + who + " has been one since " + d.Since.UTC().Format(time.RFC3339) + " or earlier"
}

// ZombieChild is one zombie child.
type ZombieChild struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm,omitempty"`
	// Exit is its exit status (stat field 52), nil when not known.
	Exit *collector.ExitStatus `json:"exit,omitempty"`
}

// maxZombiesNamed bounds the zombie pids a verdict names.
const maxZombiesNamed = 5

// zombies answers "does it leave zombies": the children it holds that
// exited and were not waited for, since when, why, and the remedy.
func (a *analysis) zombies() *Finding {
	z := a.s.ZombieChildren
	if z == nil || len(z.Zombies) == 0 {
		return nil
	}
	pid, n := a.s.PID, len(z.Zombies)
	kids := plural(n, "zombie child", "zombie children")
	var names, exits []string
	for i, c := range z.Zombies {
		if i == maxZombiesNamed {
			names = append(names, "…")
			break
		}
		names = append(names, strconv.Itoa(c.PID))
		if c.Exit != nil {
			exits = append(exits, strconv.Itoa(c.PID)+" "+c.Exit.String())
		}
	}
	f := &Finding{ID: "zombie_children", Question: QZombies, Severity: Warning, Score: float64(n), Lesson: lessonZombies}
	since := z.sinceClause("the oldest")
	if z.Young {
		f.Severity = Info
		f.Verdict = fmt.Sprintf("It holds %s (%s), all younger than %s: a parent that reaps may still collect them with wait(2).",
			kids, strings.Join(names, ", "), z.MinAge)
	} else {
		f.Verdict = fmt.Sprintf("It holds %s (%s): they exited and it has not collected their exit status with wait(2)%s.",
			kids, strings.Join(names, ", "), since)
	}
	f.Evidence = append(f.Evidence, ev("zombie_children", float64(n), "count", kids+" with this parent",
		"/proc/*/stat field 3 (state Z) and field 4 (parent pid), no live thread"))
	if len(exits) > 0 {
		f.Evidence = append(f.Evidence, fact("zombie_exit_status", strings.Join(exits, ", "), "/proc/*/stat field 52 (exit code)"))
	}
	if !z.Since.IsZero() {
		f.Evidence = append(f.Evidence, fact("oldest_zombie_first_seen", "the oldest first seen a zombie at "+z.Since.UTC().Format(time.RFC3339), z.SeenBy))
	}
	if z.SIGCHLD != "" {
		f.Evidence = append(f.Evidence, fact("sigchld", "SIGCHLD "+z.SIGCHLD, src(pid, "status")+" SigIgn, SigBlk, SigCgt"))
	}
	if z.Diagnosis != "" {
		f.Evidence = append(f.Evidence, fact("zombie_diagnosis", z.Diagnosis, "pinspect zombies"))
	}
	f.Why = "A zombie keeps its pid and its entry in the process table until its parent collects its exit status with wait(2); a parent that never does fills the pid space (kernel.pid_max, or its cgroup's pids.max) until fork fails."
	if z.Remedy != "" {
		f.Try = append(f.Try, sentence(z.Remedy))
	}
	f.Try = append(f.Try, "pinspect zombies lists every parent holding zombies, with the same diagnosis; --older-than 5s only the zombies that stay.")
	return f
}

// sentence starts s with a capital letter and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	if c := s[0]; c >= 'a' && c <= 'z' {
		s = string(c-'a'+'A') + s[1:]
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// Zombie is what keeps a zombie process in the process table: the parent
// that has not collected its exit status, since when, and `pinspect
// zombies`'s diagnosis of that parent. The sampler fills it from the Last
// reading's snapshot.
type Zombie struct {
	// ParentPID and ParentComm are the parent holding it (stat field 4);
	// ParentComm is "" when the parent could not be read.
	ParentPID  int    `json:"parent_pid"`
	ParentComm string `json:"parent_comm,omitempty"`
	// ZombieDiagnosis is since when it is known to be a zombie, whether
	// it is young, and what `pinspect zombies` says of its parent.
	ZombieDiagnosis
}

// zombie answers "what is it" for a zombie: it has exited, what its exit
// status was, which parent holds it and since when, and what frees it.
// Nil when the process was not a zombie at the Last reading.
func (a *analysis) zombie() *Finding {
	p := a.s.Last.Process
	if p == nil || p.Read&collector.SrcStat == 0 || !p.IsZombie() {
		return nil
	}
	pid := a.s.PID
	z := a.s.Zombie
	if z == nil {
		z = &Zombie{ParentPID: p.PPID}
	}
	f := &Finding{ID: "zombie", Question: QZombies, Severity: Warning, Score: 1, Lesson: lessonZombies}
	status := "its exit status is not known"
	if p.ExitCode >= 0 {
		status = collector.DecodeWaitStatus(p.ExitCode).String()
	} else if why := p.Unavailable["exit_code"]; why != "" {
		status = "its exit status is " + why + " for this user"
	}
	parent := fmt.Sprintf("pid %d", z.ParentPID)
	if z.ParentComm != "" {
		parent += " (" + z.ParentComm + ")"
	}
	since := z.sinceClause("it")
	if z.Young {
		f.Severity = Info
		f.Verdict = fmt.Sprintf("It is a zombie: it has exited (%s) and holds only its process-table entry and that status until its parent, %s, collects it with wait(2); it is younger than %s, so a parent that reaps may still collect it.",
			status, parent, z.MinAge)
	} else {
		f.Verdict = fmt.Sprintf("It is a zombie: it has exited (%s) and holds only its process-table entry and that status, which its parent, %s, has not collected with wait(2)%s.",
			status, parent, since)
	}
	f.Evidence = append(f.Evidence, fact("process_state", "state Z with no live thread", src(pid, "stat")+" fields 3 and 20"))
	if p.ExitCode >= 0 {
		f.Evidence = append(f.Evidence, fact("exit_status", collector.DecodeWaitStatus(p.ExitCode).String(), src(pid, "stat")+" field 52 (exit code)"))
	}
	f.Evidence = append(f.Evidence, ev("parent_pid", float64(z.ParentPID), "pid", "held by "+parent, src(pid, "stat")+" field 4"))
	if !z.Since.IsZero() {
		f.Evidence = append(f.Evidence, fact("zombie_first_seen", "first seen a zombie at "+z.Since.UTC().Format(time.RFC3339), z.SeenBy))
	}
	if z.SIGCHLD != "" {
		f.Evidence = append(f.Evidence, fact("parent_sigchld", "the parent's SIGCHLD "+z.SIGCHLD, src(z.ParentPID, "status")+" SigIgn, SigBlk, SigCgt"))
	}
	if z.Diagnosis != "" {
		f.Evidence = append(f.Evidence, fact("zombie_diagnosis", z.Diagnosis, "pinspect zombies"))
	}
	f.Why = "A zombie uses no CPU and no memory, only its pid and its process-table entry; it cannot be killed, being dead already: it goes when its parent collects its exit status with wait(2), or when its parent exits and init (or the nearest subreaper) adopts and reaps it."
	if z.Remedy != "" {
		f.Try = append(f.Try, sentence(z.Remedy))
	} else {
		f.Try = append(f.Try, fmt.Sprintf("The parent, pid %d, must wait(2) for it; killing or restarting the parent hands it to init (or the nearest subreaper), which reaps it.", z.ParentPID))
	}
	f.Try = append(f.Try, fmt.Sprintf("pinspect explain %d says what its parent is doing; pinspect zombies lists every parent holding zombies.", z.ParentPID))
	return f
}

// leaderExited answers "what the state hides" for a process whose main
// thread exited while other threads run: ps shows it Z (defunct), but it
// is alive. Nil for any other process.
func (a *analysis) leaderExited() *Finding {
	p := a.s.Last.Process
	if p == nil || p.Read&collector.SrcStat == 0 || !p.LeaderExited() {
		return nil
	}
	pid := a.s.PID
	live := int(p.NumThreads) - 1
	f := &Finding{ID: "leader_exited", Question: QState, Severity: Notice, Score: float64(live), Lesson: lessonState}
	f.Verdict = fmt.Sprintf("Its main thread has exited while %s still %s: ps shows the process as Z (<defunct>), but it is alive, and not a zombie.",
		plural(live, "other thread", "other threads"), map[bool]string{true: "runs", false: "run"}[live == 1])
	f.Evidence = append(f.Evidence,
		fact("process_state", "process state Z: the main thread's", src(pid, "stat")+" field 3"),
		ev("live_threads", float64(live), "threads", plural(live, "thread", "threads")+" alive besides the exited main thread", src(pid, "stat")+" field 20 (num_threads, the exited main thread included)"))
	if a.deadLeaderSamples > 0 {
		f.Evidence = append(f.Evidence, ev("exited_main_thread_samples", float64(a.deadLeaderSamples), "count",
			"the exited main thread left out of "+num(float64(a.deadLeaderSamples))+" thread samples", statesSource(pid)))
	}
	f.Why = "A process's state letter is its main thread's; when that thread exits (pthread_exit in main) while others run, the kernel keeps it as Z until the last thread exits. Nothing waits to be reaped, and the process works (or hangs) in its other threads."
	f.Try = append(f.Try, fmt.Sprintf("Look at its live threads (pinspect show %d, ps -L -p %d): they do its work; it ends when the last of them exits, and signals kill it as they would any process.", pid, pid))
	return f
}
