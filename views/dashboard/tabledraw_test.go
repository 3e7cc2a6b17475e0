package dashboard

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
)

// tviewCells is the process table's content as tview.Table drew it before
// procTable: every data cell with its text, but for the column (other than
// COMMAND) that a table width columns wide cuts at its right edge (when
// width > 0): procTable leaves its data cells blank.
type tviewCells struct {
	tview.TableContentReadOnly
	m     *tableModel
	width int
}

// cut reports whether column col is not COMMAND and is cut by the right
// edge of a table width columns wide.
func (c tviewCells) cut(col int) bool {
	if c.width <= 0 || c.m.cols[col] == colCmd {
		return false
	}
	start := 0
	for i := 0; i < col; i++ {
		start += c.m.colWidth(c.m.cols[i]) + 1
	}
	return start < c.width && start+c.m.colWidth(c.m.cols[col]) > c.width
}

func (c tviewCells) GetRowCount() int    { return c.m.GetRowCount() }
func (c tviewCells) GetColumnCount() int { return c.m.GetColumnCount() }
func (c tviewCells) GetCell(r, col int) *tview.TableCell {
	if r == 0 || r > len(c.m.rows) || col < 0 || col >= len(c.m.cols) {
		return c.m.GetCell(r, col)
	}
	rw := &c.m.rows[r-1]
	if rw.cells == nil {
		rw.cells = c.m.format(rw)
	}
	if c.cut(col) {
		blank := rw.cells[col]
		blank.Text = ""
		return &blank
	}
	return &rw.cells[col]
}

// oddProcesses adds processes whose command lines take tview's slow
// paths: wide and combining characters, text that looks like a colour
// tag, brackets, a command far wider than any screen, an empty one.
func oddProcesses(snap *collector.Snapshot) *collector.Snapshot {
	s := *snap
	s.Processes = slices.Clone(snap.Processes)
	base := s.Processes[len(s.Processes)-1]
	cmds := [][]string{
		{"/usr/bin/漢字プロセス", "--名前=値"},
		{"/bin/cafe\u0301", "e\u0301e\u0301"},
		{"/bin/sh", "-c", "echo [red]not a colour[-] [::b] [\"region\"] [[x]]"},
		{"/opt/emoji", "🙂🙂🙂", "x"},
		{"/bin/long", string(slices.Repeat([]byte("abcdefghij"), 40))},
		{"/bin/ascii", "-x", "[", "]", "a[b]c"},
		{""},
	}
	for i, c := range cmds {
		p := base
		p.PID = base.PID + 1000 + i
		p.PPID = base.PID
		p.Cmdline = c
		p.Comm = "odd" + fmt.Sprint(i)
		s.Processes = append(s.Processes, p)
	}
	return &s
}

// TestProcTableDrawsAsTview: procTable paints every screen cell of the
// process table as tview.Table painted it (rune and style), on real
// processes and on command lines that take tview's own printing: flat
// and tree (with a folded subtree), a tagged process, thread rows, at
// screen sizes down to narrower than the columns, with the selection at
// the top, in the middle and at the end (scrolled).
func TestProcTableDrawsAsTview(t *testing.T) {
	live := oddProcesses(snapshot(t))
	threaded := fixtureSnapshot(t, "multithread")
	type scene struct {
		name string
		snap *collector.Snapshot
		o    viewOpts
	}
	scenes := []scene{
		{"flat", live, viewOpts{sortCol: colCPU, sortDesc: true}},
		{"tree", live, viewOpts{tree: true, sortCol: colPID}},
		{"threads", threaded, viewOpts{threads: true, sortCol: colPID}},
	}
	for _, sc := range scenes {
		for _, size := range [][2]int{{200, 50}, {120, 30}, {80, 24}, {45, 10}, {12, 4}, {200, 2}} {
			w, h := size[0], size[1]
			t.Run(fmt.Sprintf("%s/%dx%d", sc.name, w, h), func(t *testing.T) {
				m := newTableModel(nil)
				m.tableWidth = w
				o := sc.o
				if o.tree {
					// Fold the first process with children.
					m.rebuild(&frameData{f: frameOf(1, nil, sc.snap)}, o, nil)
					for i := range m.rows {
						if m.hasChildren(i) && i > 0 {
							o.folded = map[collector.ID]bool{m.rows[i].p.ID(): true}
							break
						}
					}
				}
				m.rebuild(&frameData{f: frameOf(1, nil, sc.snap)}, o, nil)
				if len(m.rows) < 3 {
					t.Fatalf("only %d rows", len(m.rows))
				}
				m.tagged[m.rows[1].p.ID()] = true
				old := tview.NewTable().SetContent(tviewCells{m: m, width: w}).SetFixed(1, 0).SetSelectable(true, false)
				old.SetSelectedStyle(selectedRowStyle)
				cur := newProcTable(m)
				sels := []int{1, len(m.rows) / 2, len(m.rows), 2}
				for i := range m.rows {
					if strings.HasPrefix(m.rows[i].p.Comm, "odd") {
						sels = append(sels, i+1) // tview prints its command
					}
				}
				for _, sel := range sels {
					scrA, scrB := tcell.NewSimulationScreen("UTF-8"), tcell.NewSimulationScreen("UTF-8")
					for _, s := range []tcell.SimulationScreen{scrA, scrB} {
						if err := s.Init(); err != nil {
							t.Fatal(err)
						}
						s.SetSize(w, h)
					}
					old.SetRect(0, 0, w, h)
					cur.SetRect(0, 0, w, h)
					old.Select(sel, 0)
					cur.Select(sel, 0)
					old.Draw(scrA)
					cur.Draw(scrB)
					scrA.Show()
					scrB.Show()
					if ro, co := old.GetOffset(); true {
						if rc, cc := cur.GetOffset(); ro != rc || co != cc {
							t.Fatalf("selection %d: offsets %d,%d, tview %d,%d", sel, rc, cc, ro, co)
						}
					}
					a, _, _ := scrA.GetContents()
					b, _, _ := scrB.GetContents()
					for i := range a {
						if !slices.Equal(a[i].Runes, b[i].Runes) || a[i].Style != b[i].Style {
							t.Fatalf("selection %d, cell %d,%d: %q %v, tview drew %q %v\nprocTable: %s\ntview:     %s",
								sel, i%w, i/w, string(b[i].Runes), b[i].Style, string(a[i].Runes), a[i].Style,
								lineOf(b, w, i/w), lineOf(a, w, i/w))
						}
					}
					scrA.Fini()
					scrB.Fini()
				}
			})
		}
	}
}

// lineOf is screen line y of a simulation screen's cells.
func lineOf(cells []tcell.SimCell, w, y int) string {
	var s []rune
	for _, c := range cells[y*w : (y+1)*w] {
		if len(c.Runes) > 0 {
			s = append(s, c.Runes...)
		} else {
			s = append(s, '·')
		}
	}
	return string(s)
}

// TestCutColumnLeftBlank: a column the right edge cuts (TIME+, three of
// its nine cells on screen) shows no fragment of its values ('.00' of
// 0:00.00 reads as a value): its data cells are blank.
func TestCutColumnLeftBlank(t *testing.T) {
	m := newTableModel(nil)
	m.rebuild(&frameData{f: frameOf(1, nil, snapshot(t))}, viewOpts{sortCol: colPID}, nil)
	start := 0
	for _, c := range m.cols {
		if c == colTime {
			break
		}
		start += m.colWidth(c) + 1
	}
	w, h := start+3, 12
	m.tableWidth = w
	tb := newProcTable(m)
	scr := tcell.NewSimulationScreen("UTF-8")
	if err := scr.Init(); err != nil {
		t.Fatal(err)
	}
	defer scr.Fini()
	scr.SetSize(w, h)
	tb.SetRect(0, 0, w, h)
	tb.Select(1, 0)
	tb.Draw(scr)
	scr.Show()
	cells, _, _ := scr.GetContents()
	for y := 1; y < h && y <= len(m.rows); y++ {
		line := []rune(lineOf(cells, w, y))
		if frag := string(line[len(line)-3:]); strings.TrimSpace(frag) != "" {
			t.Errorf("row %d shows %q of its cut TIME+: %q", y, frag, line)
		}
	}
}
