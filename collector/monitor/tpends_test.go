package monitor

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/taskiter"
)

// TestTracepointsTwoThreadsSeeTheEnd: two threads of a process ending at
// once may both find no thread left and each write the process's end
// (events.bpf.c). The last such record is the process's exit, the earlier
// one its thread's thread_exit before it (none for the leader): one
// exit, and no thread's end lost, whether the earlier record is in the
// same read, an earlier read not taken yet, or a read already taken
// (then the thread's end follows the exit it could not precede). The
// records are as the kernel writes them; the race that makes them cannot
// be had on demand (TestTracepointsEveryThreadEnds tries it live).
func TestTracepointsTwoThreadsSeeTheEnd(t *testing.T) {
	base := time.Now()
	rec := func(kind taskiter.EventKind, tid int, ms int) taskiter.ProcEvent {
		return taskiter.ProcEvent{Kind: kind, MonoNs: uint64(ms) * 1e6, TID: tid, TGID: 500, PPID: 1, Status: 9, Comm: "app"}
	}
	line := func(evs []lifecycle.KernelEvent) string {
		var b []string
		for _, e := range evs {
			st := ""
			if e.ExitStatus != nil {
				st = fmt.Sprintf(" signal %d", e.ExitStatus.Signal)
			}
			b = append(b, fmt.Sprintf("%s tid=%d at=%d%s", e.Type, e.TID, e.Time.Sub(base).Milliseconds(), st))
		}
		return strings.Join(b, "; ")
	}
	for _, c := range []struct {
		name    string
		threads bool
		reads   [][]taskiter.ProcEvent
		takeAt  int // the reads before it were taken before the rest
		want    string
	}{
		{"one read", true, [][]taskiter.ProcEvent{{rec(taskiter.EventThreadExit, 502, 1), rec(taskiter.EventExit, 501, 2), rec(taskiter.EventExit, 503, 3)}}, 0,
			"thread_exit tid=502 at=1; thread_exit tid=501 at=2; exit tid=0 at=3 signal 9"},
		{"the leader first", true, [][]taskiter.ProcEvent{{rec(taskiter.EventExit, 500, 2), rec(taskiter.EventExit, 503, 3)}}, 0,
			"exit tid=0 at=3 signal 9"},
		{"stamped late", true, [][]taskiter.ProcEvent{{rec(taskiter.EventExit, 501, 4), rec(taskiter.EventExit, 503, 3)}}, 0,
			"thread_exit tid=501 at=4; exit tid=0 at=4 signal 9"},
		{"threads off", false, [][]taskiter.ProcEvent{{rec(taskiter.EventThreadExit, 502, 1), rec(taskiter.EventExit, 501, 2), rec(taskiter.EventExit, 503, 3)}}, 0,
			"exit tid=0 at=3 signal 9"},
		{"two reads", true, [][]taskiter.ProcEvent{{rec(taskiter.EventExit, 501, 2)}, {rec(taskiter.EventExit, 503, 3)}}, 0,
			"thread_exit tid=501 at=2; exit tid=0 at=3 signal 9"},
		{"the first taken", true, [][]taskiter.ProcEvent{{rec(taskiter.EventExit, 501, 2)}, {rec(taskiter.EventExit, 503, 3)}}, 1,
			"exit tid=0 at=2 signal 9 | thread_exit tid=503 at=3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &tpSource{threads: c.threads, maxPending: 100, comms: map[int]tpProc{}, threadEnds: map[int]time.Time{},
				clockWall: base.Add(time.Second), clockMono: int64(time.Second)}
			var taken []string
			for i, read := range c.reads {
				if i == c.takeAt && i > 0 {
					taken = append(taken, line(s.take().Events))
				}
				clear(s.threadEnds)
				var out []lifecycle.KernelEvent
				for j := range read {
					out = s.convert(out, &read[j])
				}
				s.queue(out)
			}
			taken = append(taken, line(s.take().Events))
			if got := strings.Join(taken, " | "); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
