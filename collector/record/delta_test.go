package record

import (
	"bytes"
	"slices"
	"testing"

	"github.com/pinspect/pinspect/collector"
)

func TestDeltaRoundTrip(t *testing.T) {
	refS := synth(t, 1, t0)
	cgroups := func(ps []collector.Process) {
		for i := range ps {
			ps[i].SharedBytes, ps[i].HasShared = 8192, true
			ps[i].Cgroup = "/system.slice/a.service"
			ps[i].Workload = collector.Workload{Kind: collector.WorkloadUnit, Name: "a.service"}
		}
	}
	cgroups(refS.Snapshot.Processes)
	// cur: counters moved, one process gone, one new, one with fewer
	// threads, one whose field went back to zero, one whose cmdline changed.
	cur := synth(t, 2, t0.Add(10e9))
	cgroups(cur.Snapshot.Processes)
	procs := cur.Snapshot.Processes
	procs = slices.Delete(slices.Clone(procs), 1, 2)
	procs[0].Threads = procs[0].Threads[:len(procs[0].Threads)/2]
	procs[1].MinFlt = 0
	procs[1].Unavailable = map[string]string{"exe": "gone"}
	procs[2].Cmdline = append(slices.Clone(procs[2].Cmdline), "--new")
	// Threads: all gone; new where there were none; reordered; one new
	// in the middle.
	procs[3].Threads = nil
	{
		procs[4].Threads = []collector.Thread{{TID: 99, Comm: "t"}, {TID: 98}}
		procs[5].Threads = slices.Clone(procs[5].Threads)
		slices.Reverse(procs[5].Threads)
		procs[6].Threads = slices.Insert(slices.Clone(procs[6].Threads), 0, collector.Thread{TID: 1 << 23})
	}
	// Issue 16's fields (70-73): SHR and the cgroup changed, the
	// workload gone, on processes with threads; every process's fields
	// must stay in ascending order for the merge.
	procs[7].SharedBytes, procs[7].HasShared = 4096, true
	procs[7].Cgroup = "/system.slice/x.service"
	procs[7].Workload = collector.Workload{Kind: collector.WorkloadUnit, Name: "x.service"}
	procs[6].Cgroup, procs[6].Workload = "", collector.Workload{}
	procs = append(procs, collector.Process{PID: 1 << 22, ProcStat: collector.ProcStat{StartTicks: 1, Comm: "new"}, Threads: []collector.Thread{{TID: 1 << 22}}})
	cur.Snapshot.Processes = procs

	ref := appendSample(nil, refS)
	full := appendSample(nil, cur)
	var d deltaEncoder
	if err := d.setRef(ref); err != nil {
		t.Fatal(err)
	}
	delta, err := d.encode(nil, full)
	if err != nil {
		t.Fatal(err)
	}
	back, err := applyDelta(nil, ref, delta, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, full) {
		t.Fatalf("delta of %d bytes did not rebuild the %d-byte sample (got %d bytes)", len(delta), len(full), len(back))
	}
	if len(delta) >= len(full)/2 {
		t.Errorf("delta is %d bytes of a %d-byte sample", len(delta), len(full))
	}
	// Against itself: only identities.
	same, _ := d.encode(nil, ref)
	back, err = applyDelta(nil, ref, same, nil)
	if err != nil || !bytes.Equal(back, ref) {
		t.Fatalf("self delta: err %v, equal %v", err, bytes.Equal(back, ref))
	}
}
