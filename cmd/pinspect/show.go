//go:build linux

package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/views/report"
)

// showFlags are the flags of `pinspect show`.
type showFlags struct {
	json  bool
	maps  bool
	smaps bool
}

func newShowCmd(a *app) *cobra.Command {
	var f showFlags
	cmd := &cobra.Command{
		Use:   "show PID",
		Short: "Show one process in depth: status, threads and stacks, its address space drawn top to bottom",
		Long: `Show one process in depth: identity and status, the thread table (each
thread's stack mapping), memory totals (RSS, PSS, USS, shared, swap), the
totals per segment class and the address space drawn like a textbook, high
addresses at the top: stack, libraries and mmap areas, heap, bss, data,
code. --json prints the same as the pinspect.show/v1 document
(docs/ADDRESS_SPACE.md).

Per-mapping RSS/PSS comes from /proc/PID/smaps, which makes the kernel walk
every page table of the process; --smaps=false reads maps and
smaps_rollup instead (totals only).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("show takes one PID, got %d arguments", len(args))}
			}
			return nil
		},
		ValidArgsFunction: a.completePID,
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := parsePIDArg("show", args[0])
			if err != nil {
				return err
			}
			if err := a.checkShowFlags(cmd, f); err != nil {
				return err
			}
			return a.show(pid, f)
		},
	}
	cmd.Flags().BoolVar(&f.json, "json", false, "print the pinspect.show/v1 JSON document")
	cmd.Flags().BoolVar(&f.maps, "maps", false, "text: also list every mapping")
	cmd.Flags().BoolVar(&f.smaps, "smaps", true, "read smaps for per-mapping RSS/PSS (costly on huge address spaces)")
	a.at.add(cmd)
	return withFilters(reads(cmd, sourceProc))
}

// checkShowFlags refuses --maps and --smaps where they do nothing: the
// record holds no memory maps, and the JSON document has every mapping.
func (a *app) checkShowFlags(cmd *cobra.Command, f showFlags) error {
	for _, flag := range []string{"maps", "smaps"} {
		if !changed(cmd, flag) {
			continue
		}
		if a.at.at != "" {
			return notApplicable("--"+flag, "show --at", "memory maps are not recorded")
		}
		if flag == "maps" && (f.json || a.jsonOut) {
			return notApplicable("--maps", "show --json", "the document lists every mapping")
		}
	}
	return nil
}

func (a *app) show(pid int, f showFlags) error {
	if a.at.at != "" {
		return a.showAt(pid, f)
	}
	oneShot()
	r, err := a.reader(true)
	if err != nil {
		return err
	}
	taken := time.Now()
	p, _, err := r.Process(pid)
	if err != nil {
		var thread *collector.ThreadIDError
		if errors.As(err, &thread) {
			return noMatchError{fmt.Errorf("no such process: %d is a thread of process %d (pinspect show %d)", pid, thread.TGID, thread.TGID)}
		}
		if collector.IsVanished(err) {
			return noMatchError{fmt.Errorf("no such process: %d", pid)}
		}
		return err
	}
	as, err := r.AddressSpace(pid, collector.AddrOptions{PerMapping: f.smaps, StartTicks: p.StartTicks})
	if err != nil {
		if collector.IsVanished(err) {
			return noMatchError{fmt.Errorf("process %d exited while it was read", pid)}
		}
		return err
	}
	doc := report.NewShowDoc(p, as, taken, r.Root())
	if f.json || a.jsonOut {
		return a.writeJSON(doc)
	}
	return writeOut(report.WriteShowText(a.stdout, doc, report.ShowTextOptions{Maps: f.maps}))
}

// showAt shows pid as the record has it at --at: without its address
// space (not recorded), with its threads when that sample read them.
func (a *app) showAt(pid int, f showFlags) error {
	rec, err := a.recordedAt(&a.at, pid)
	if err != nil {
		return err
	}
	defer rec.store.Close()
	p := rec.frame.Focus.Process
	if p == nil {
		return noMatchError{fmt.Errorf("no process %d in the record at %s", pid, rec.sample.TakenAt().Local().Format(time.RFC3339))}
	}
	doc := report.NewShowDoc(p, nil, rec.sample.TakenAt(), rec.frame.Snapshot.Root)
	if f.json || a.jsonOut {
		return a.writeJSON(doc)
	}
	return writeOut(report.WriteShowText(a.stdout, doc, report.ShowTextOptions{}))
}
