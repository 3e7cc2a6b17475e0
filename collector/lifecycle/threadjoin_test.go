package lifecycle

import (
	"slices"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// withThreads gives p threads by (tid, start, cpu ticks, switches), in
// the order given.
func withThreads(p collector.Process, ts ...[4]uint64) collector.Process {
	p.Read |= collector.SrcTasks
	for _, t := range ts {
		p.Threads = append(p.Threads, collector.Thread{
			TID: int(t[0]), StartTicks: t[1], UTimeTicks: t[2], HasStatus: true, VolCtx: t[3],
		})
	}
	return p
}

// TestThreadJoinsAnyOrder holds the thread joins (rates and thread
// events) to the same answers whether the threads come sorted by tid
// (one merge) or not (after a tid wrap: through a map).
func TestThreadJoinsAnyOrder(t *testing.T) {
	before := [][4]uint64{{100, 10, 5, 1}, {101, 10, 5, 1}, {105, 11, 7, 3}, {107, 12, 0, 0}}
	// 101 exited, 107 was replaced by a new thread of the same tid, 109
	// and 110 started; 100 and 105 ran.
	after := [][4]uint64{{100, 10, 105, 11}, {105, 11, 57, 23}, {107, 90, 1, 1}, {109, 95, 2, 2}, {110, 96, 0, 0}}
	run := func(reverse bool) (*Rates, string) {
		b, a := slices.Clone(before), slices.Clone(after)
		if reverse {
			slices.Reverse(b)
			slices.Reverse(a)
		}
		p := withThreads(proc(100, 1, 10, "w", 'S'), b...)
		c := withThreads(proc(100, 1, 10, "w", 'S'), a...)
		prev := snap(0, proc(1, 0, 1, "init", 'S'), p)
		cur := snap(time.Second, proc(1, 0, 1, "init", 'S'), c)
		prev.ThreadsRead, cur.ThreadsRead = true, true
		evs := threadEvents(nil, &prev.Processes[1], &cur.Processes[1], cur.TakenAt)
		return ComputeRates(prev, cur), types(evs)
	}
	sortedRates, sortedEvs := run(false)
	mapRates, mapEvs := run(true)
	if want := "thread_exit:100/101 thread_exit:100/107 thread_start:100/107 thread_start:100/109 thread_start:100/110"; sortedEvs != want {
		t.Errorf("sorted threads: events %q, want %q", sortedEvs, want)
	}
	// The map path gives the starts in the (reversed) order of the list.
	if want := "thread_exit:100/101 thread_exit:100/107 thread_start:100/110 thread_start:100/109 thread_start:100/107"; mapEvs != want {
		t.Errorf("unsorted threads: events %q, want %q", mapEvs, want)
	}
	for _, tid := range []int{99, 100, 101, 105, 107, 109, 110} {
		a, aok := sortedRates.Thread(100, tid)
		b, bok := mapRates.Thread(100, tid)
		if a != b || aok != bok {
			t.Errorf("tid %d: sorted %v %v, unsorted %v %v", tid, a, aok, b, bok)
		}
		if want := tid == 100 || tid == 105; aok != want {
			t.Errorf("tid %d: has rate %v, want %v", tid, aok, want)
		}
	}
	if r, _ := sortedRates.Thread(100, 105); r.CPUPercent != 50 || r.VolPerSec != 20 {
		t.Errorf("tid 105 rate %+v, want 50 %% CPU and 20 switches/s", r)
	}
	if _, ok := sortedRates.Thread(1, 100); ok {
		t.Error("a thread rate under the wrong pid")
	}
}
