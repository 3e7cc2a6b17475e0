package main

import "github.com/spf13/cobra"

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
before any filter.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return a.printPS() },
	}
	cmd.Flags().BoolVar(&a.jsonOut, "json", false, "print the table as JSON")
	return cmd
}
