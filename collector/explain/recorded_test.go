package explain

import (
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

// recordedPool is n recorded snapshots, 10 s apart, of a process with
// eight threads that compute all the time on 2 CPUs: each thread got a
// quarter of a CPU and waited the rest in the run queue. threads says
// which snapshots hold the threads; delay whether the recorder's
// collector measured the run-queue delay (the task iterator).
func recordedPool(n int, threads func(i int) bool, delay bool) *Recorded {
	r := &Recorded{Machine: Machine{Arch: "amd64", Root: true}}
	for i := range n {
		at := time.Duration(i) * 10 * time.Second
		p := collector.Process{}
		p.PID, p.StartTicks, p.Comm, p.Exe, p.State, p.NumThreads = 100, 5, "pool", "/usr/bin/pool", 'S', 9
		p.Read = collector.SrcStat | collector.SrcStatus
		p.HasRSS, p.RSSBytes = true, 64<<20
		p.CtxSource = collector.CtxTaskIter
		var cpu, wait uint64
		if threads(i) {
			p.Read |= collector.SrcTasks
			for k := range 8 {
				// a quarter of a CPU: 2.5 s of CPU (250 ticks) and 7.5 s of wait every 10 s
				tc := uint64(i) * 250
				tw := uint64(i) * 7500 * uint64(time.Millisecond)
				th := collector.Thread{TID: 101 + k, StartTicks: 5, Comm: "worker", State: 'R', UTimeTicks: tc, HasStatus: true, InvolCtx: uint64(i) * 1000}
				if delay {
					th.CPUDelayNs = tw
				}
				p.Threads = append(p.Threads, th)
				cpu, wait = cpu+tc, wait+tw
			}
		}
		p.UTimeTicks = uint64(i) * 2000
		p.InvolCtx = uint64(i) * 8000
		if delay {
			p.CPUDelayNs = wait
		}
		sn := &collector.Snapshot{TakenAt: time.Unix(1_800_000_000, 0).Add(at), Monotonic: at, Processes: []collector.Process{p},
			ThreadsRead: threads(i), Host: collector.Host{CPUs: 2, ProcsRunning: 9, CPUTicks: uint64(i) * 2000}}
		r.Snapshots = append(r.Snapshots, sn)
		r.Rollups = append(r.Rollups, nil)
	}
	return r
}

// TestFromRecord: a recorded pool is oversubscribed on the recorded
// run-queue delay, with no wait per slice (slices are not recorded);
// what the record does not keep is named, never 0.
func TestFromRecord(t *testing.T) {
	s, ok := FromRecord(recordedPool(4, func(int) bool { return true }, true), 100)
	if !ok {
		t.Fatal("no sample")
	}
	fs := Explain(s)
	f := get(fs, "pool_oversubscribed")
	if f == nil {
		t.Fatalf("no pool_oversubscribed: %v", ids(fs))
	}
	checkFinding(t, *f)
	if !strings.Contains(f.Verdict, "75% of their runnable time") || strings.Contains(f.Verdict, "per slice") {
		t.Errorf("verdict: %s", f.Verdict)
	}
	if !strings.Contains(f.Evidence[0].Source, "the record") {
		t.Errorf("source %q does not say the record", f.Evidence[0].Source)
	}
	for _, k := range recordLacks {
		if !strings.HasPrefix(s.Unavailable[k], "not recorded") {
			t.Errorf("%s: %q", k, s.Unavailable[k])
		}
	}
	if s.Unavailable["smaps"] == "" || len(s.History) != 4 {
		t.Errorf("smaps %q, history %d points", s.Unavailable["smaps"], len(s.History))
	}
}

// TestFromRecordGaps: without the run-queue delay the pool question says
// so; with threads in one sample only, the thread findings are missing and
// the gaps say why (not "one sample only"); a pid the record does not hold
// gives no sample.
func TestFromRecordGaps(t *testing.T) {
	s, _ := FromRecord(recordedPool(4, func(int) bool { return true }, false), 100)
	if get(Explain(s), "pool_oversubscribed") != nil || !strings.Contains(s.Unavailable["schedstat"], "did not measure run-queue delay") {
		t.Errorf("without the delay: %v, %q", ids(Explain(s)), s.Unavailable["schedstat"])
	}
	s, _ = FromRecord(recordedPool(6, func(i int) bool { return i == 5 }, true), 100)
	gaps := Gaps(s)
	if len(s.Burst) != 0 || len(gaps) == 0 || !strings.Contains(gaps[0].Why, "1 of the 6 samples") {
		t.Errorf("burst %d, gaps %+v", len(s.Burst), gaps)
	}
	for _, f := range Explain(s) {
		checkFinding(t, f)
	}
	if _, ok := FromRecord(recordedPool(2, func(int) bool { return true }, true), 7); ok {
		t.Error("a sample of a pid the record does not hold")
	}
	m := MachineFromRecord(recordedPool(3, func(int) bool { return true }, true), 5)
	if len(m.Processes) != 1 || m.Unavailable["pressure"] == "" {
		t.Errorf("machine: %d processes, %v", len(m.Processes), m.Unavailable)
	}
}
