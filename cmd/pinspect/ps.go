package main

import "github.com/spf13/cobra"

func newPSCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "Print a table of processes (PID PPID USER S THR VCSW NVCSW RSS COMMAND)",
		Long: `Print every process as a plain table. VCSW and NVCSW are voluntary and
involuntary context switches summed over all live threads of the process
(the kernel's /proc/PID/status counts only the leader thread).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return a.printPS() },
	}
	cmd.Flags().BoolVar(&a.jsonOut, "json", false, "print the table as JSON")
	return cmd
}
