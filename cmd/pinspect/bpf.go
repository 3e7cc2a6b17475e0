//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pinspect/pinspect/collector/taskiter"
	"github.com/pinspect/pinspect/views/sanitize"
)

// newBPFCmd is `pinspect bpf pin|unpin|status`: the one thing pinspect
// leaves in the kernel, and only when asked.
func newBPFCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bpf",
		Short: "Pin the task iterator's BPF programs for faster one-shot commands (root)",
		Long: `A one-shot command (pinspect, ps, show, zombies, orphans, explain) loads
the task iterator's BPF programs at every run: parsing, verifying and
sizing them is about a fifth of a run at 10,000 processes. ` + "`pinspect bpf pin`" + `
loads them once and pins them, with their arrays, in the BPF filesystem
under ` + taskiter.PinRoot + `/HASH (HASH names this binary's BPF object);
one-shot commands of this binary then open them from there, and say
"collector: task_iter (pinned)" (JSON: "collector_pinned": true). They
load their own as before when the pin is another binary's, too small
for the machine's tasks, or in use by another pinspect at that moment.

The arrays are sized for twice the tasks and processes running now plus
1,024 (at most pid_max), or --tasks and --processes (between
pid_max and what runs now plus twice a one-shot's room, n/16 + 64,
else exit 2 naming the least); pin prints what they hold and
the kernel memory they keep. Pin again to resize. A one-shot that does
not use the pin says nothing, but for a pin too small for the tasks
running now: that it says once on stderr. Status says when the pin is in
use now or too small for the tasks running now.
Everything is owned by root, mode 0700/0600: other users can neither
open nor run it. pinspect mounts nothing: /sys/fs/bpf must be a BPF
filesystem (mount -t bpf -o mode=0700 bpf /sys/fs/bpf) or pin exits 2.

unpin removes every pin of pinspect (this binary's and others'); status
lists them. Exit status: 0 done, 1 nothing pinned (status, unpin), 2
a usage error or no BPF filesystem (pin, status, unpin), 3 another
failure.`,
		Example: `  sudo pinspect bpf pin
  sudo pinspect bpf status
  sudo pinspect bpf unpin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("bpf: want a subcommand: pin, unpin or status")}
		},
	}
	var tasks, procs int
	pin := &cobra.Command{
		Use:   "pin",
		Short: "Load the task iterator's programs once and pin them in /sys/fs/bpf/pinspect",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tasks < 0 || procs < 0 {
				return usageError{errors.New("--tasks and --processes must not be negative")}
			}
			if err := taskiter.CheckBPFFS(); err != nil {
				return usageError{err}
			}
			info, err := taskiter.Pin(taskiter.PinOptions{Tasks: tasks, Processes: procs})
			if errors.Is(err, taskiter.ErrPinSize) {
				return usageError{fmt.Errorf("bpf pin: %w", err)}
			}
			if err != nil {
				return fmt.Errorf("bpf pin: %w", err)
			}
			fmt.Fprintf(a.stdout, "pinned ")
			return printPin(a.stdout, info)
		},
	}
	pin.Flags().IntVar(&tasks, "tasks", 0, "tasks (threads) the arrays hold (default: twice now's, plus 1,024)")
	pin.Flags().IntVar(&procs, "processes", 0, "processes the arrays hold (default: twice now's, plus 1,024)")
	unpin := &cobra.Command{
		Use:   "unpin",
		Short: "Remove every pin of pinspect from /sys/fs/bpf/pinspect",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := taskiter.CheckBPFFS(); err != nil {
				return usageError{err}
			}
			gone, err := taskiter.Unpin()
			for _, d := range gone {
				fmt.Fprintf(a.stdout, "unpinned %s\n", sanitize.Terminal(d))
			}
			if err != nil {
				return fmt.Errorf("bpf unpin: %w", err)
			}
			if len(gone) == 0 {
				fmt.Fprintln(a.stdout, "nothing pinned")
				a.exitCode = exitNoMatch
			}
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Say what is pinned in /sys/fs/bpf/pinspect, for which object, its capacity and memory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := taskiter.CheckBPFFS(); err != nil {
				return usageError{err}
			}
			pins, err := taskiter.Status()
			if err != nil {
				return fmt.Errorf("bpf status: %w", err)
			}
			if len(pins) == 0 {
				fmt.Fprintf(a.stdout, "nothing pinned (this binary's object: %s)\n", taskiter.ObjectHash())
				a.exitCode = exitNoMatch
				return nil
			}
			for _, p := range pins {
				if err := printPin(a.stdout, p); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.AddCommand(pin, unpin, status)
	return cmd
}

// printPin prints one pin in a line, or two when it cannot be used.
func printPin(w io.Writer, p taskiter.PinInfo) error {
	if p.NotPin {
		_, err := fmt.Fprintf(w, "%s: not a pin of pinspect (unpin leaves it alone)\n", sanitize.Terminal(p.Dir))
		return err
	}
	whose := "this binary's object"
	if !p.Current {
		whose = "another object (not used by this binary)"
	}
	if p.Problem != "" {
		// What it holds is not known: nothing is shown as 0.
		_, err := fmt.Fprintf(w, "%s: %s; not usable: %s\n", sanitize.Terminal(p.Dir), whose, sanitize.Terminal(p.Problem))
		return err
	}
	cmd := "no cmdline program"
	if p.CmdlineSlots > 0 {
		cmd = fmt.Sprintf("%d cmdlines", p.CmdlineSlots)
	}
	mem := "kernel memory not reported"
	if p.MemoryBytes > 0 {
		mem = fmt.Sprintf("%.1f MiB of kernel memory", float64(p.MemoryBytes)/(1<<20))
	}
	now := ""
	if p.Busy {
		now += "; in use by a pinspect now"
	}
	if p.TooSmall != "" {
		now += "; too small now: " + p.TooSmall
	}
	_, err := fmt.Fprintf(w, "%s: %s; holds %d tasks, %d processes, %s; %s; made %s%s\n",
		sanitize.Terminal(p.Dir), whose, p.Tasks, p.Processes, cmd, mem, p.Made.UTC().Format("2006-01-02 15:04:05 UTC"), now)
	return err
}
