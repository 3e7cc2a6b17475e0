package dashboard

import (
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// gridRow is one pre-formatted row of a gridModel; its texts are already
// inert.
type gridRow struct {
	text  []string
	color tcell.Color
	cells []tview.TableCell
}

// gridModel is a small virtual table content over pre-formatted rows, used
// by the detail view and the event log.
type gridModel struct {
	tview.TableContentReadOnly
	header []tview.TableCell
	rows   []gridRow
	right  []bool // right-aligned columns
}

func newGridModel(titles []string, right []bool) *gridModel {
	g := &gridModel{right: right}
	for i, t := range titles {
		c := tview.NewTableCell(t).SetSelectable(false).
			SetTextColor(tcell.ColorBlack).SetBackgroundColor(tcell.ColorGreen)
		if i < len(right) && right[i] {
			c.SetAlign(tview.AlignRight)
		}
		if i == len(titles)-1 {
			c.SetExpansion(1)
		}
		g.header = append(g.header, *c)
	}
	return g
}

// GetRowCount implements tview.TableContent.
func (g *gridModel) GetRowCount() int { return len(g.rows) + 1 }

// GetColumnCount implements tview.TableContent.
func (g *gridModel) GetColumnCount() int { return len(g.header) }

// GetCell implements tview.TableContent.
func (g *gridModel) GetCell(r, c int) *tview.TableCell {
	if c < 0 || c >= len(g.header) || r < 0 || r > len(g.rows) {
		return nil
	}
	if r == 0 {
		return &g.header[c]
	}
	gr := &g.rows[r-1]
	if gr.cells == nil {
		gr.cells = make([]tview.TableCell, len(g.header))
		for i := range gr.cells {
			cell := &gr.cells[i]
			if i < len(gr.text) {
				cell.Text = gr.text[i]
			}
			cell.Color = gr.color
			if i < len(g.right) && g.right[i] {
				cell.Align = tview.AlignRight
			}
			if i == len(g.header)-1 {
				cell.Expansion = 1
			}
		}
	}
	return &gr.cells[c]
}

// newGridTable makes a read-only, row-selectable table over a grid model.
func newGridTable(g *gridModel) *tview.Table {
	t := tview.NewTable().SetContent(g).SetFixed(1, 0).SetSelectable(true, false)
	t.SetSelectedStyle(tcell.StyleDefault.Reverse(true))
	return t
}
