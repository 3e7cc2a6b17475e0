//go:build linux

package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/report"
)

// psMaxSample bounds ps --sample.
const psMaxSample = 10 * time.Minute

func newPSCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "Print a table of processes (PID PPID USER S THR VCSW NVCSW RSS COMMAND)",
		Long: `Print every process as a plain table. VCSW and NVCSW are the whole
process's voluntary and involuntary context switches: from the kernel's
taskstats (exact, exited threads included) where pinspect may use it
(CAP_NET_ADMIN), else summed over the live threads (/proc/PID/status
alone counts only the leader thread). The summary line says which, and
its scan counts (vanished, denied, parse errors) are the whole scan's,
before any filter.

--sample D reads twice, D apart, and shows rates instead of totals: CPU %
(of one CPU), voluntary and involuntary switches per second, RQWAIT (the
run-queue wait, in seconds per second: how many of its threads were
waiting for a CPU on average, from the task iterator's or taskstats'
per-process total, else summed over task/TID/schedstat) and storage reads
and writes per second (/proc/PID/io, which needs ptrace read access: "?"
for other users' processes unless root). --json gives the same as
numbers.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if a.psSample < 0 || a.psSample > psMaxSample {
				return usageError{fmt.Errorf("--sample %s: want 0 (none) to %s", a.psSample, psMaxSample)}
			}
			return a.printPS()
		},
	}
	cmd.Flags().BoolVar(&a.jsonOut, "json", false, "print the table as JSON")
	cmd.Flags().DurationVar(&a.psSample, "sample", 0, "read twice this far apart and show rates: CPU %, switches/s, run-queue wait, storage I/O/s")
	a.at.add(cmd)
	return cmd
}

// psExtra is what ps --sample reads of a process beyond the scan, at each
// end of the window.
type psExtra struct {
	start  uint64
	io     *collector.IOCounters
	waitNs uint64
	hasW   bool
	wSrc   string
}

// psExtras reads the io counters and run-queue wait of the processes of
// snap that f selects.
func psExtras(r *collector.Reader, snap *collector.Snapshot, f report.Filter) map[int]psExtra {
	out := make(map[int]psExtra, len(snap.Processes))
	schedInfo := schedInfoKept(r.Root())
	for i := range snap.Processes {
		p := &snap.Processes[i]
		if p.Read&collector.SrcStat == 0 || !f.Match(p) {
			continue
		}
		e := psExtra{start: p.StartTicks}
		if io, err := r.IO(p.PID); err == nil {
			e.io = io
		}
		switch {
		case p.IsZombie():
		case p.CtxSource == collector.CtxTaskIter && schedInfo:
			e.waitNs, e.hasW, e.wSrc = p.CPUDelayNs, true, "task_iter"
		case p.CtxSource == collector.CtxTaskstats && delayAcctOn(r.Root()):
			e.waitNs, e.hasW, e.wSrc = p.CPUDelayNs, true, "taskstats"
		default:
			if s, n, err := r.SchedStatSum(p.PID); err == nil && n > 0 {
				e.waitNs, e.hasW, e.wSrc = s.WaitNs, true, "schedstat"
			}
		}
		out[p.PID] = e
	}
	return out
}

// schedInfoKept reports whether the kernel keeps per-task scheduler
// statistics (CONFIG_SCHED_INFO: the schedstat files exist), without
// which the task iterator's run-queue delay reads 0.
func schedInfoKept(root string) bool {
	_, err := os.Stat(root + "/self/schedstat")
	return err == nil
}

// delayAcctOn reports kernel.task_delayacct=1: taskstats' run-queue delay
// is kept.
func delayAcctOn(root string) bool {
	on, err := collector.DelayAcct(root)
	return err == nil && on
}

// psRates computes each process's rates between two readings.
func psRates(a, b *collector.Snapshot, ea, eb map[int]psExtra) (map[int]report.PSRates, float64) {
	secs := lifecycle.Elapsed(a, b).Seconds()
	rates := lifecycle.ComputeRates(a, b)
	out := make(map[int]report.PSRates, len(eb))
	for i := range b.Processes {
		p := &b.Processes[i]
		x1, ok1 := eb[p.PID]
		x0, ok0 := ea[p.PID]
		if !ok1 {
			continue
		}
		var pr report.PSRates
		if r, ok := rates.Process(p.ID()); ok {
			pr.CPUPercent = ptrF(r.CPUPercent)
			pr.VolPerSec, pr.InvolPerSec = ptrF(r.VolPerSec), ptrF(r.InvolPerSec)
		}
		if ok0 && x0.start == x1.start && secs > 0 {
			if x0.hasW && x1.hasW && x0.wSrc == x1.wSrc {
				pr.RunQueueWait = ptrF(float64(delta(x1.waitNs, x0.waitNs)) / 1e9 / secs)
				pr.RunQueueSource = x1.wSrc
			}
			if x0.io != nil && x1.io != nil {
				pr.ReadBPS = ptrF(float64(delta(x1.io.ReadBytes, x0.io.ReadBytes)) / secs)
				pr.WriteBPS = ptrF(float64(delta(x1.io.WriteBytes, x0.io.WriteBytes)) / secs)
			}
		}
		out[p.PID] = pr
	}
	return out, secs
}

func ptrF(v float64) *float64 { return &v }

// delta is b-a, or 0 for a counter that went down (a thread's counts
// leaving a sum).
func delta(b, a uint64) uint64 {
	if b < a {
		return 0
	}
	return b - a
}

// sampledPSDoc reads two snapshots a.psSample apart and builds the ps
// document of the second with the rates between them.
func (a *app) sampledPSDoc() (*report.PSDoc, error) {
	f, r, err := a.filterAndReader(true)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s0, err := a.scan(r, true)
	if err != nil {
		return nil, err
	}
	e0 := psExtras(r, s0, f)
	t := time.NewTimer(a.psSample)
	select {
	case <-a.ctx.Done():
		t.Stop()
		return nil, a.ctx.Err()
	case <-t.C:
	}
	s1, err := a.scan(r, true)
	if err != nil {
		return nil, err
	}
	e1 := psExtras(r, s1, f)
	doc := report.NewSnapshotDoc(s1, f, true)
	if len(a.pids) > 0 && len(doc.Processes) == 0 {
		return nil, fmt.Errorf("no such process: %s", joinInts(a.pids))
	}
	ps := report.NewPSDoc(doc)
	rates, secs := psRates(s0, s1, e0, e1)
	ps.AddRates(rates, secs)
	return ps, nil
}
