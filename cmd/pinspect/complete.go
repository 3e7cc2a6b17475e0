//go:build linux

package main

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// Shell completion. cobra's generated scripts (`pinspect completion bash`,
// zsh, fish) call the hidden `pinspect __complete ARGS...` on every TAB;
// the functions here answer it. Live values come from one scan of the
// --proc-root given on the command line (without threads: ~10 ms for
// 2,000 processes), read through the collector like every command, and
// every string of /proc is sanitised: a candidate or its description
// holds no control character, so a comm cannot break the completion
// protocol (one candidate per line, a tab before the description) or act
// on the terminal.

// completionScanTimeout bounds the scan a completion makes: a shell waits
// for it, and an empty answer is better than a hung prompt.
const completionScanTimeout = 2 * time.Second

// completeProcesses scans the --proc-root for completion; nil when it
// cannot be read (then nothing is offered).
func (a *app) completeProcesses(cmd *cobra.Command) []collector.Process {
	opts, err := a.readerOptions(false)
	if err != nil {
		return nil
	}
	// /proc alone: a TAB must not wait for a BPF program to load.
	opts.Backend = collector.BackendProc
	r, err := collector.NewReader(opts)
	if err != nil {
		return nil
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), completionScanTimeout)
	defer cancel()
	snap, err := r.Snapshot(ctx)
	if err != nil {
		return nil
	}
	self := os.Getpid()
	return slices.DeleteFunc(snap.Processes, func(p collector.Process) bool { return p.PID == self })
}

// pidCandidates are the live pids, each described by its comm and user
// (`4242	nginx (www-data)`), those starting with prefix only.
func pidCandidates(procs []collector.Process, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for i := range procs {
		p := &procs[i]
		pid := strconv.Itoa(p.PID)
		if !strings.HasPrefix(pid, prefix) {
			continue
		}
		desc := completionText(p.Comm)
		if p.User != "" {
			desc += " (" + completionText(p.User) + ")"
		}
		if p.State == 'Z' {
			desc += " <defunct>"
		}
		out = append(out, cobra.CompletionWithDesc(pid, desc))
	}
	return out
}

// completionText makes a /proc or passwd string safe for a completion
// line: sanitised for the terminal (no control character, so no tab or
// newline either).
func completionText(s string) string {
	if s == "" {
		return "?"
	}
	return sanitize.Terminal(s)
}

// completePID completes the single PID argument of show (and explain).
func (a *app) completePID(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return pidCandidates(a.completeProcesses(cmd), toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

// listPrefix splits a comma-separated flag value being typed ("1,2,3")
// into what is complete ("1,2,") and the item being typed ("3").
func listPrefix(toComplete string) (done, item string) {
	i := strings.LastIndexByte(toComplete, ',')
	return toComplete[:i+1], toComplete[i+1:]
}

// completeList completes a comma-separated list of fixed values with
// their descriptions (value, description pairs); values already given
// are not offered again.
func completeList(pairs [][2]string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	done, item := listPrefix(toComplete)
	given := strings.Split(done, ",")
	var out []cobra.Completion
	for _, p := range pairs {
		if strings.HasPrefix(p[0], item) && !slices.Contains(given, p[0]) {
			out = append(out, cobra.CompletionWithDesc(done+p[0], p[1]))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveKeepOrder
}

// completePIDList completes --pid: comma-separated live pids.
func (a *app) completePIDList(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	done, item := listPrefix(toComplete)
	given := strings.Split(done, ",")
	out := slices.DeleteFunc(pidCandidates(a.completeProcesses(cmd), item), func(c cobra.Completion) bool {
		pid, _, _ := strings.Cut(c, "\t")
		return slices.Contains(given, pid)
	})
	for i := range out {
		out[i] = done + out[i]
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveKeepOrder
}

// completeUsers completes --user with the users that own a process now
// (a filter on another user matches nothing), each with its process
// count.
func (a *app) completeUsers(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	counts := map[string]int{}
	for _, p := range a.completeProcesses(cmd) {
		if p.User != "" {
			counts[p.User]++
		}
	}
	var pairs [][2]string
	for u, n := range counts {
		if sanitize.Terminal(u) != u || strings.ContainsAny(u, " ,") {
			continue // not a name a shell word or a list item can carry
		}
		desc := strconv.Itoa(n) + " processes"
		if n == 1 {
			desc = "1 process"
		}
		pairs = append(pairs, [2]string{u, desc})
	}
	slices.SortFunc(pairs, func(x, y [2]string) int { return strings.Compare(x[0], y[0]) })
	return completeList(pairs, toComplete)
}

// completeNames completes --name with the comms of the live processes.
func (a *app) completeNames(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	seen := map[string]bool{}
	var out []cobra.Completion
	for _, p := range a.completeProcesses(cmd) {
		c := p.Comm
		if c == "" || seen[c] || sanitize.Terminal(c) != c || strings.ContainsAny(c, " \t") || !strings.HasPrefix(c, toComplete) {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	slices.Sort(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeStates completes --state: letters appended to those given.
func completeStates(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, s := range []byte(collector.StateLetters) {
		if strings.IndexByte(toComplete, s) < 0 {
			out = append(out, cobra.CompletionWithDesc(toComplete+string(s), collector.StateName(s)))
		}
	}
	if l := lifecycle.LeaderExitedLetter; !strings.ContainsRune(toComplete, l) {
		out = append(out, cobra.CompletionWithDesc(toComplete+string(l), "leader exited: the main thread exited, other threads run (alive)"))
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveKeepOrder
}

// eventTypeCompletions are the --types values with what each means.
var eventTypeCompletions = [][2]string{
	{"all", "every type below"},
	{string(lifecycle.Spawn), "a new process"},
	{string(lifecycle.Exec), "a process ran a new program"},
	{string(lifecycle.Rename), "comm changed, same executable"},
	{string(lifecycle.Exit), "a process exited, with its status"},
	{string(lifecycle.Zombie), "a process became a zombie"},
	{string(lifecycle.Reaped), "a zombie was collected by its parent"},
	{string(lifecycle.Reparent), "a process was adopted"},
	{string(lifecycle.StateChange), "the state letter changed"},
	{string(lifecycle.ThreadStart), "a new thread"},
	{string(lifecycle.ThreadExit), "a thread ended"},
	{string(lifecycle.Lost), "kernel events were lost"},
}

// completeEventTypes completes --types: comma-separated event types.
func completeEventTypes(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return completeList(eventTypeCompletions, toComplete)
}

// completeRecordedEventTypes completes events --type: the types the
// record keeps (watch's "all" is not one).
func completeRecordedEventTypes(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return completeList(eventTypeCompletions[1:], toComplete)
}

// completeSignals completes --signal with the signals' names (SEGV, or
// SIGSEGV when SIG is typed; lower case when that is typed), each with
// its number.
func completeSignals(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	typed := strings.ToUpper(toComplete)
	for n := 1; n < 32; n++ {
		name := unix.SignalName(syscall.Signal(n))
		if !strings.HasPrefix(typed, "SIG") {
			name = strings.TrimPrefix(name, "SIG")
		}
		if name == "" || !strings.HasPrefix(name, typed) {
			continue
		}
		if toComplete != typed {
			name = strings.ToLower(name)
		}
		out = append(out, cobra.CompletionWithDesc(name, strconv.Itoa(n)))
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

// fixedChoices completes a flag that takes one of a few values, each
// with what it means.
func fixedChoices(pairs ...[2]string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, p := range pairs {
			if strings.HasPrefix(p[0], toComplete) {
				out = append(out, cobra.CompletionWithDesc(p[0], p[1]))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// logLevels are the --log.level values of serve and record.
var logLevels = [][2]string{{"debug", "everything"}, {"info", "the default"}, {"warn", "problems only"}, {"error", "failures only"}}

// registerCompletions wires the completion of the flags that take a
// fixed set of values; a flag cmd does not have is skipped.
func registerCompletions(cmd *cobra.Command, fns map[string]cobra.CompletionFunc) *cobra.Command {
	for flag, fn := range fns {
		if cmd.Flags().Lookup(flag) == nil {
			panic("completion of --" + flag + ": " + cmd.Name() + " has no such flag") // a programming error
		}
		if err := cmd.RegisterFlagCompletionFunc(flag, fn); err != nil {
			panic(err)
		}
	}
	return cmd
}

// registerFilterCompletions wires the completion of the common filter
// flags of root (persistent, so every subcommand has them), and of
// --collector.
func (a *app) registerFilterCompletions(root *cobra.Command) {
	for flag, fn := range map[string]cobra.CompletionFunc{
		"pid":   a.completePIDList,
		"user":  a.completeUsers,
		"state": completeStates,
		"name":  a.completeNames,
		"collector": fixedChoices([2]string{"auto", "task_iter when it loads, else proc"},
			[2]string{"task_iter", "a BPF task iterator (root or CAP_BPF+CAP_PERFMON, kernel BTF)"},
			[2]string{"proc", "each process's /proc files"}),
	} {
		if err := root.RegisterFlagCompletionFunc(flag, fn); err != nil {
			panic(err) // a flag renamed without its completion: a programming error
		}
	}
}
