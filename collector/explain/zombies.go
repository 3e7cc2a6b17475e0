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
	// Since is when the oldest of them was first seen a zombie (it may
	// have been one before); zero when not known. SeenBy says what saw
	// it then ("the window's first reading", "pinspect record").
	Since  time.Time `json:"since,omitzero"`
	SeenBy string    `json:"seen_by,omitempty"`
	// Young is true when every one of them is provably younger than
	// MinAge: a parent that reaps may still collect them.
	Young  bool          `json:"young,omitempty"`
	MinAge time.Duration `json:"min_age_ns,omitempty"`
	// SIGCHLD is the process's SIGCHLD disposition (lifecycle's Sigchld
	// words), "" when its status was not read.
	SIGCHLD string `json:"sigchld,omitempty"`
	// Diagnosis and Remedy are what `pinspect zombies` says of this
	// parent: why it does not reap, and what to do.
	Diagnosis string `json:"diagnosis,omitempty"`
	Remedy    string `json:"remedy,omitempty"`
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
	since := "; since when is not known"
	if !z.Since.IsZero() {
		since = "; the oldest has been one since " + z.Since.UTC().Format(time.RFC3339) + " or earlier"
	}
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
