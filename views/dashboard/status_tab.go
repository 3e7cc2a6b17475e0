package dashboard

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
)

// newStatusTab is the Status tab: ids, terminal, tracer, user, groups,
// scheduling, CPU time, memory, faults, context switches, signals,
// capabilities, executable, command line, then the details (wait
// channel, cgroups, namespaces, limits) and what could not be read.
// Long values (capability lists, command lines) wrap under their label.
func newStatusTab(v *detailView) *detailTab {
	tv := tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true).SetScrollable(true)
	t := &detailTab{name: "Status", prim: tv, focus: tv}
	t.top = func() { tv.ScrollToBeginning() }
	t.fill = func(p *collector.Process) {
		_, _, w, _ := tv.GetInnerRect()
		if w <= 0 {
			w = v.d.lastW // not drawn yet: the screen's width
		}
		tv.SetText(v.statusText(p, w))
	}
	return t
}

// statusLabelW is the width of the Status tab's labels.
const statusLabelW = 24

// statusText formats the Status tab for a width: a value longer than
// the room after its label wraps onto lines indented under it.
func (v *detailView) statusText(p *collector.Process, width int) string {
	var b strings.Builder
	room := width - statusLabelW - 1
	line := func(k, val string) {
		b.WriteString("[aqua]" + padRight(k, statusLabelW) + "[-] ")
		if room < 20 {
			b.WriteString(val + "\n")
			return
		}
		b.WriteString(wrapIndent(val, room, statusLabelW+1) + "\n")
	}
	line("State", stateText(p)+" ("+statePhase(p)+")")
	line("PID / TGID", strconv.Itoa(p.PID)+" / "+strconv.Itoa(p.TGID))
	line("Parent", strconv.Itoa(p.PPID))
	line("Group / session", strconv.Itoa(p.PGID)+" / "+strconv.Itoa(p.SID))
	if len(p.NSPids) > 1 {
		ns := make([]string, len(p.NSPids))
		for i, x := range p.NSPids {
			ns[i] = strconv.Itoa(x)
		}
		line("PID in namespaces", strings.Join(ns, " → "))
	}
	tty := "none"
	if p.TTY != 0 {
		tty = collector.TTYName(p.TTY)
		if tty == "" {
			tty = strconv.Itoa(p.TTY>>8&0xfff) + ":" + strconv.Itoa(p.TTY&0xff|(p.TTY>>12)&0xfff00)
		}
	}
	line("Terminal", tty)
	if p.TracerPID != 0 {
		line("Traced by", tracerText(p.TracerPID, v.d.frame.Snapshot))
	}
	line("User", inert(p.User)+"  uid "+ints4(p.UIDs)+"  gid "+ints4(p.GIDs))
	started := "-"
	if !p.StartedAt.IsZero() {
		started = p.StartedAt.Local().Format(time.RFC3339)
	}
	line("Started", started)
	line("Scheduling", collector.PolicyName(p.Policy)+"  priority "+priString(p.Priority, true)+
		"  nice "+strconv.FormatInt(p.Nice, 10)+"  last CPU "+strconv.FormatInt(p.Processor, 10))
	line("CPU time", "user "+ticks(p.UTimeTicks)+"  system "+ticks(p.STimeTicks)+"  I/O delay "+ioDelayText(p, &v.d.frame.Snapshot.Host))
	line("Memory", sizesLine(p))
	if p.Read&collector.SrcCgroup != 0 {
		line("Workload", cgroupText(p))
	}
	line("Page faults", "minor "+strconv.FormatUint(p.MinFlt, 10)+"  major "+strconv.FormatUint(p.MajFlt, 10))
	line("Context switches", "voluntary "+strconv.FormatUint(p.VolCtx, 10)+"  involuntary "+strconv.FormatUint(p.InvolCtx, 10)+
		"  [gray]("+string(p.CtxSource)+")[-]")
	line("Signals pending", signalSet(p.SigPnd|p.ShdPnd))
	line("Signals blocked", signalSet(p.SigBlk))
	if p.SigDispAbsent {
		// Left out by the scan (read again for the focused process
		// only: so until its frame comes, or when its status could
		// not be read): unknown, never "none".
		line("Signals ignored", "[gray]unknown[-]")
		line("Signals caught", "[gray]unknown[-]")
	} else {
		line("Signals ignored", signalSet(p.SigIgn))
		line("Signals caught", signalSet(p.SigCgt))
	}
	line("Capabilities effective", capSet(p.CapEff))
	exe := inert(p.Exe)
	if p.ExeDeleted {
		// As show and ps write it: a file's own name can end in
		// the kernel's " (deleted)".
		exe += "  [red]" + tview.Escape("[deleted]") + "[-]"
	}
	line("Executable", exe)
	cmd := inertArgs(p.Cmdline)
	if p.CmdlineTruncated {
		cmd += " [gray](truncated)[-]"
	}
	line("Command line", cmd)
	if f := v.focusFor(); f != nil {
		for _, kv := range f.status {
			line(inert(kv.k), inert(kv.v))
		}
		if f.err != "" {
			line("Details", "[red]"+inert(f.err)+"[-]")
		}
	} else {
		line("Details", "[gray]waiting for cgroups, namespaces and limits…[-]")
	}
	if len(p.Unavailable) > 0 {
		keys := make([]string, 0, len(p.Unavailable))
		for k := range p.Unavailable {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			line("Unavailable", inert(k)+": "+inert(p.Unavailable[k]))
		}
	}
	return b.String()
}

// wrapIndent breaks a tagged text into lines of at most room cells at
// spaces (a word longer than room is cut), each line after the first
// indented by indent spaces.
func wrapIndent(s string, room, indent int) string {
	if tview.TaggedStringWidth(s) <= room {
		return s
	}
	var b strings.Builder
	w := 0
	for i, word := range strings.Split(s, " ") {
		ww := tview.TaggedStringWidth(word)
		if i > 0 {
			if w+1+ww > room && w > 0 {
				b.WriteString("\n" + strings.Repeat(" ", indent))
				w = 0
			} else {
				b.WriteByte(' ')
				w++
			}
		}
		b.WriteString(word)
		w += ww
	}
	return b.String()
}

func ints4(v [4]int) string {
	return strconv.Itoa(v[0]) + "," + strconv.Itoa(v[1]) + "," + strconv.Itoa(v[2]) + "," + strconv.Itoa(v[3])
}

func ticks(t uint64) string {
	return (time.Duration(t) * time.Second / collector.ClockTicks).Round(10 * time.Millisecond).String()
}

// tracerText names a tracer by command and pid, as explain does: "strace
// (TracerPid 812)", "gdb (TracerPid 902, a thread of 900)", or the
// TracerPid alone when the snapshot holds neither its process nor its
// thread. The command is the kernel's, made inert here.
func tracerText(tid int, snap *collector.Snapshot) string {
	o, ok := collector.TaskOwnerIn(snap, tid)
	switch {
	case !ok:
		return "TracerPid " + strconv.Itoa(tid)
	case o.PID != tid:
		return inert(o.Comm) + " (TracerPid " + strconv.Itoa(tid) + ", a thread of " + strconv.Itoa(o.PID) + ")"
	}
	return inert(o.Comm) + " (TracerPid " + strconv.Itoa(tid) + ")"
}
