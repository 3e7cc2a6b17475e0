package lifecycle

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// TestZombieDiagnosisAgrees: the words of a diagnosis and its remedy that
// refer back to a parent's zombies agree with their number ("1 zombie
// child ... young, they may still be reaped" was the fault), for every
// kind of parent; with several zombies they stay plural.
func TestZombieDiagnosisAgrees(t *testing.T) {
	plural := regexp.MustCompile(`\b(they|them|these|its zombies|the zombies)\b`)
	singular := regexp.MustCompile(`\b(it may still|reaps it|collects it|this child|this one|its zombie passes|the zombie stays)\b`)
	type parent struct {
		name  string
		state byte
		sig   string
		young bool
	}
	var parents []parent
	for _, sig := range []string{SigchldDefault, SigchldIgnored, SigchldBlocked, SigchldHandled, ""} {
		for _, st := range []byte{'S', 'T', 't', 'D', 'Z'} {
			parents = append(parents, parent{string(st) + "/" + sig, st, sig, false})
		}
		parents = append(parents, parent{"young/" + sig, 'S', sig, true})
	}
	for _, pa := range parents {
		for _, n := range []int{1, 3} {
			g := &ZombieGroup{Parent: collector.ID{PID: 100}, SIGCHLD: pa.sig, Young: pa.young, MinAge: 5 * time.Second, Since: t0}
			for i := range n {
				g.Zombies = append(g.Zombies, ZombieInfo{ID: collector.ID{PID: 200 + i}})
			}
			par := proc(100, 1, 10, "parent", pa.state)
			diag, rem := diagnose(g, &par, t0.Add(time.Minute))
			text := diag + " | " + rem
			// General statements about zombies stay plural; "its own
			// parent reaps it" is the parent.
			text = strings.ReplaceAll(text, "zombies themselves cannot be killed", "")
			text = strings.ReplaceAll(text, "own parent reaps it", "")
			if n == 1 {
				if m := plural.FindString(text); m != "" {
					t.Errorf("%s, 1 zombie: %q refers to several:\n%s", pa.name, m, text)
				}
			} else if m := singular.FindString(text); m != "" {
				t.Errorf("%s, %d zombies: %q refers to one:\n%s", pa.name, n, m, text)
			}
		}
	}
}
