package dashboard

import (
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// Timeline is a source that moves through a recorded past (`pinspect
// replay`, record.Player): the dashboard binds [ and ] (one sample back
// and forward, like atop's T and t), { and } (ten samples) and @ (jump
// to a time) to it, and shows Where in the header.
type Timeline interface {
	// Step moves n samples in recorded order (negative: back).
	Step(n int)
	// JumpTo shows the sample at or before t.
	JumpTo(t time.Time) error
	// Where says which sample is shown.
	Where() string
}

const replayHelp = `
[::b]Replay[::-]
  [ ]                        one sample back, forward
  { }                        ten samples back, forward
  @                          jump to a time (2026-12-01 02:00, 02:00, 2h ago)
`

// setupReplay adds the jump input when the dashboard replays a record.
func (d *Dashboard) setupReplay() {
	if d.opts.Timeline == nil {
		return
	}
	d.jumpIn = tview.NewInputField().SetLabel("jump to: ").SetFieldBackgroundColor(tcell.ColorNavy)
	d.jumpIn.SetDoneFunc(func(key tcell.Key) {
		text := d.jumpIn.GetText()
		d.jumpIn.SetText("")
		d.filterOpen = false
		d.footer.SwitchToPage("keys")
		d.app.SetFocus(d.table)
		if key != tcell.KeyEnter || text == "" {
			return
		}
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
	})
	d.footer.AddPage("jump", d.jumpIn, true, false)
	d.help.SetText(helpText(d.opts.Signal != nil) + replayHelp)
}

// onReplayKey handles the replay keys; false for any other key.
func (d *Dashboard) onReplayKey(r rune) bool {
	tl := d.opts.Timeline
	if tl == nil {
		return false
	}
	switch r {
	case '[':
		tl.Step(-1)
	case ']':
		tl.Step(1)
	case '{':
		tl.Step(-10)
	case '}':
		tl.Step(10)
	case '@':
		d.filterOpen = true // the input has the keys until Enter or Esc
		d.footer.SwitchToPage("jump")
		d.app.SetFocus(d.jumpIn)
	default:
		return false
	}
	return true
}
