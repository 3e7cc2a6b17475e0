package dashboard

import (
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/collector/lifecycle"
)

// inputMode is what the footer's input line is for.
type inputMode int

const (
	inputNone   inputMode = iota
	inputSearch           // F3 /: find a process, the list stays whole
	inputFilter           // F4 \: show only the matching processes
	inputEvents           // F4 \ in the event panel: filter the events
	inputJump             // a replay's jump to a time
)

var inputLabels = [...]string{inputSearch: "search: ", inputFilter: "filter: ", inputEvents: "filter events: ", inputJump: "jump to: "}

// openInput opens the footer's input line for a mode, with that mode's
// current text.
func (d *Dashboard) openInput(mode inputMode) {
	d.inputMode = mode
	d.input.SetLabel(inputLabels[mode])
	text := ""
	switch mode {
	case inputSearch:
		// A new search starts empty; the last one is kept for n until
		// a new text is typed.
		d.searchFrom = d.selIndex()
	case inputFilter:
		text = d.vo.filterTyped
	case inputEvents:
		text = d.log.typed
	}
	d.inputSetting = true
	d.input.SetText(text)
	d.inputSetting = false
	d.footer.SwitchToPage("input")
	if d.lastH < 3 {
		d.main.ResizeItem(d.footer, 1, 0)
	}
	d.app.SetFocus(d.input)
	d.updateHeader()
}

// closeInput gives the keys back to what had them.
func (d *Dashboard) closeInput() {
	mode := d.inputMode
	d.inputMode = inputNone
	d.footer.SwitchToPage("keys")
	d.layout(d.lastW, d.lastH)
	if mode == inputEvents {
		d.focusPanel(d.panelIndex("events"))
	} else {
		d.restoreFocus()
	}
	d.updateHeader()
	d.updateKeys()
}

// inputChanged follows the text as it is typed: a search jumps to the
// first match from where it started, a filter narrows the table.
func (d *Dashboard) inputChanged(text string) {
	if d.inputSetting {
		return
	}
	switch d.inputMode {
	case inputSearch:
		d.search = lifecycle.LowerASCII(text)
		d.findNext(d.searchFrom, 1)
	case inputFilter:
		d.vo.setFilter(text)
		d.rebuild()
		d.updatePanels()
	case inputEvents:
		d.log.setFilter(text)
		d.updatePanels()
	}
	d.updateHeader()
}

// inputKey handles the keys of the open input line that are not
// editing: F3 and Down find the next match, Shift-F3 and Up the previous
// one (search); Enter keeps the text, Esc drops it.
func (d *Dashboard) inputKey(ev *tcell.EventKey) *tcell.EventKey {
	if d.inputMode == inputSearch {
		switch ev.Key() {
		case tcell.KeyF3, tcell.KeyDown:
			d.findNext(d.selIndex()+1, 1)
			return nil
		case tcell.KeyF15, tcell.KeyUp: // Shift-F3
			d.findNext(d.selIndex()-1, -1)
			return nil
		}
	}
	return ev
}

// inputDone ends the input: Enter keeps it (a jump is made), Esc drops
// what it set.
func (d *Dashboard) inputDone(key tcell.Key) {
	mode := d.inputMode
	text := d.input.GetText()
	if key == tcell.KeyEscape {
		switch mode {
		case inputSearch:
			d.search = ""
		case inputFilter:
			d.vo.setFilter("")
			d.rebuild()
			d.updatePanels()
		case inputEvents:
			d.log.setFilter("")
			d.updatePanels()
		}
	}
	d.closeInput()
	if mode == inputJump && key == tcell.KeyEnter && text != "" && d.opts.Timeline != nil {
		parse := d.opts.ParseTime
		if parse == nil {
			parse = func(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }
		}
		t, err := parse(text)
		if err == nil {
			err = d.opts.Timeline.JumpTo(t)
		}
		if err != nil {
			d.setStatus("[red]" + inert(err.Error()) + "[-]")
		}
	}
}

// findNext selects the first row from index i (going by step, wrapping
// around) that matches the search, the way the filter matches; no match
// keeps the selection and says so.
func (d *Dashboard) findNext(i, step int) {
	n := len(d.model.rows)
	if d.search == "" || n == 0 {
		return
	}
	i = ((i % n) + n) % n
	for k := 0; k < n; k++ {
		j := ((i+step*k)%n + n) % n
		rw := &d.model.rows[j]
		if rw.t == nil && matchesText(rw.p, d.search) || rw.t != nil && lifecycle.ContainsFold(rw.t.Comm, d.search) {
			d.table.Select(j+1, 0)
			if d.inputMode == inputSearch {
				d.input.SetLabel(inputLabels[inputSearch])
			}
			return
		}
	}
	// No match: said in the input line while it is open (the footer's
	// status is under it), else in the status.
	if d.inputMode == inputSearch {
		d.input.SetLabel("search (no process matches): ")
		return
	}
	d.setStatus("[yellow]no process matches \"" + inert(d.search) + "\"[-]")
}

// selIndex is the selected row's index (0 when none).
func (d *Dashboard) selIndex() int {
	r, _ := d.table.GetSelection()
	return max(r-1, 0)
}
