package dashboard

import (
	"strconv"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/explain"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// This file draws explain's findings: the detail view's Explain tab (the
// shown process's findings over the monitor's last ticks) and the main
// view's findings panel (the machine's, worst first, and the focused
// process's worst). Both come from Frame.Explain; without it (a monitor
// without Options.Explain, a remote agent) they say so.

// findingsPanelRows is how many findings the main view's panel lists.
const findingsPanelRows = 6

// newFindingsPanel is the main view's findings panel (a bottom panel).
func newFindingsPanel(d *Dashboard) *panel {
	v := tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true).SetScrollable(true)
	v.SetBorder(true).SetTitle(" findings ").SetTitleAlign(tview.AlignLeft)
	return &panel{name: "findings", box: v, focus: v, weight: 1, keys: textPanelKeys, update: func() {
		if sc := d.scope.label(); sc != "" {
			v.SetTitle(" findings " + sc + " ")
		}
		d.updateFindings(v)
	}}
}

// newExplainTab is the detail view's Explain tab; l shows or hides the
// lessons.
func newExplainTab(v *detailView) *detailTab {
	tv := tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true).SetScrollable(true)
	t := &detailTab{name: "Explain", prim: tv, focus: tv}
	t.top = func() { tv.ScrollToBeginning() }
	t.fill = func(p *collector.Process) { v.fillExplain(tv, p.PID) }
	t.onKey = func(ev *tcell.EventKey) bool {
		if ev.Key() == tcell.KeyRune && ev.Rune() == 'l' {
			v.teach = !v.teach
			v.refreshOpen()
			return true
		}
		return false
	}
	t.keys = "l lessons"
	return t
}

// severityTag colours a severity for a text view.
func severityTag(s explain.Severity) string {
	switch s {
	case explain.Warning:
		return "[red::b]WARN[-::-]"
	case explain.Notice:
		return "[yellow]note[-]"
	}
	return "[gray]info[-]"
}

// updateFindings fills the findings panel from the frame: the machine's
// findings and the focused process's, worst first.
func (d *Dashboard) updateFindings(view *tview.TextView) {
	var ex *monitor.ExplainFrame
	if d.frame != nil {
		ex = d.frame.Explain
	}
	if ex == nil {
		d.setPanelText(view, "[gray]no findings: this source does not compute them[-]")
		return
	}
	all := append([]explain.Finding(nil), ex.Machine...)
	all = append(all, ex.Focus...)
	sortBySeverity(all)
	var b strings.Builder
	n, outside := 0, 0
	for _, f := range all {
		if f.Severity == explain.Info && f.Question != explain.QMachine {
			continue // the process's answers are in its Explain tab
		}
		if !d.scope.has(f.PID) {
			outside++ // --pid: another process's, or the machine's
			continue
		}
		if n == findingsPanelRows {
			continue
		}
		b.WriteString(severityTag(f.Severity) + " ")
		if f.PID != 0 {
			b.WriteString(strconv.Itoa(f.PID) + " " + inert(f.Comm) + ": ")
		}
		b.WriteString(inert(f.Verdict) + "\n")
		n++
	}
	switch {
	case n == 0 && outside > 0:
		b.WriteString("[gray]none " + d.scope.label() + "[-]")
	case n == 0:
		b.WriteString("[gray]gathering (findings span the last ticks)[-]")
	}
	if outside > 0 {
		b.WriteString("\n[gray]" + lifecycle.CountOf(outside, "finding", "findings") + " of other processes or the machine not shown (--pid)[-]")
	}
	d.setPanelText(view, b.String())
}

// sortBySeverity orders findings worst first, keeping their order within
// a severity.
func sortBySeverity(fs []explain.Finding) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Severity > fs[j-1].Severity; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// fillExplain draws the Explain tab: the shown process's findings (each
// verdict, its evidence with sources, why, what to try, what could not
// be measured; with the lesson when teach is on).
func (v *detailView) fillExplain(view *tview.TextView, pid int) {
	var ex *monitor.ExplainFrame
	if v.d.frame != nil {
		ex = v.d.frame.Explain
	}
	var b strings.Builder
	switch {
	case ex == nil:
		b.WriteString("[gray]This source does not compute findings (a remote agent, or the dashboard started with --explain=false); `pinspect explain " + strconv.Itoa(pid) + "` does.[-]")
	case ex.PID != pid || ex.Focus == nil:
		b.WriteString("[gray]Gathering: the findings span the last ticks of this process (" + strconv.Itoa(ex.Ticks) + " so far).[-]")
	default:
		b.WriteString("[gray]Over the last " + lifecycle.CountOf(ex.Ticks, "tick", "ticks") + "; l shows the lessons.[-]\n")
		for _, f := range ex.Focus {
			writeFindingTag(&b, &f, v.teach)
		}
		if len(ex.FocusGaps) > 0 {
			b.WriteString("\n[::b]Not measured[::-]\n")
			for _, g := range ex.FocusGaps {
				b.WriteString("  " + inert(g.What) + ": " + inert(g.Why) + "\n")
			}
		}
	}
	view.SetText(b.String())
}

// writeFindingTag writes one finding for a text view with colours.
func writeFindingTag(b *strings.Builder, f *explain.Finding, teach bool) {
	b.WriteString("\n" + severityTag(f.Severity) + " [::b]" + inert(f.Verdict) + "[::-]\n")
	for _, e := range f.Evidence {
		b.WriteString("    " + inert(e.Text) + "  [gray]" + inert(e.Source) + "[-]\n")
	}
	if f.Why != "" {
		b.WriteString("  [aqua]why[-] " + inert(f.Why) + "\n")
	}
	for _, t := range f.Try {
		b.WriteString("  [green]try[-] " + inert(t) + "\n")
	}
	for _, u := range f.Unmeasured {
		b.WriteString("  [gray]not measured: " + inert(u.What) + ": " + inert(u.Why) + "[-]\n")
	}
	if teach && f.Lesson != "" {
		for _, l := range strings.Split(f.Lesson, "\n") {
			b.WriteString("  [gray]| " + inert(l) + "[-]\n")
		}
	}
}
