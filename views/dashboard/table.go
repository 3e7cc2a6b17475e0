package dashboard

import (
	"cmp"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// column is a process table column.
type column int

// The process table's columns, in display order.
const (
	colPID column = iota
	colUser
	colState
	colThr
	colCPU
	colRSS
	colVol
	colInvol
	colStart
	colCmd
	numCols
)

var colTitles = [numCols]string{"PID", "USER", "S", "THR", "CPU%", "RSS", "VCSW/s", "NVCSW/s", "START", "COMMAND"}

// sortKeys are the keys that sort by a column directly (any column is
// reachable with < and > and by clicking its header).
var sortKeys = map[rune]column{'N': colPID, 'P': colCPU, 'M': colRSS, 'V': colVol, 'I': colInvol, 'T': colStart}

// descByDefault says which columns sort largest first when chosen.
var descByDefault = [numCols]bool{colThr: true, colCPU: true, colRSS: true, colVol: true, colInvol: true}

// row is one line of the process table: a process, or one of its threads.
type row struct {
	p *collector.Process
	t *collector.Thread // non-nil for a thread row
	r rate
	// tree prefix: a slice of the model's prefix buffer
	preOff, preLen int32
	cells          *[numCols]tview.TableCell // formatted on first draw
}

// rowKey identifies a row across frames.
type rowKey struct {
	id  collector.ID
	tid int
}

func (r *row) key() rowKey {
	k := rowKey{id: r.p.ID()}
	if r.t != nil {
		k.tid = r.t.TID
	}
	return k
}

// viewOpts are the user's choices that shape the table.
type viewOpts struct {
	filter string // lower-case; matches comm, command line or pid
	states string // state letters to keep; "" keeps all
	// self is pinspect's own pid in the frame's root
	// (Snapshot.SelfPID), which a filter never keeps, as pgrep does.
	self     int
	tree     bool
	threads  bool
	sortCol  column
	sortDesc bool
}

// tableModel is the process table's virtual content. It is touched only on
// the UI goroutine.
type tableModel struct {
	tview.TableContentReadOnly
	rows   []row
	spare  []row
	now    time.Time
	header [numCols]tview.TableCell
	onSort func(c column)

	// tree building scratch, reused between frames
	pidIdx    map[int]int32
	first     []int32
	next      []int32
	last      []int32
	visited   []bool
	prefixBuf []byte
	stack     []byte

	// counts of the last rebuild
	total, shown int
}

func newTableModel(onSort func(column)) *tableModel {
	m := &tableModel{onSort: onSort, pidIdx: map[int]int32{}}
	return m
}

// setHeader formats the header cells for the current sort.
func (m *tableModel) setHeader(o viewOpts) {
	for c := column(0); c < numCols; c++ {
		title := colTitles[c]
		if c == o.sortCol {
			if o.sortDesc {
				title += "▼"
			} else {
				title += "▲"
			}
		}
		cell := tview.NewTableCell(title).
			SetSelectable(false).
			SetTextColor(tcell.ColorBlack).
			SetBackgroundColor(tcell.ColorGreen)
		if c == o.sortCol {
			cell.SetBackgroundColor(tcell.ColorAqua)
		}
		if c != colUser && c != colCmd && c != colStart && c != colState {
			cell.SetAlign(tview.AlignRight)
		}
		if c == colCmd {
			cell.SetExpansion(1)
		}
		cc := c
		cell.Clicked = func() bool {
			if m.onSort != nil {
				m.onSort(cc)
			}
			return true
		}
		m.header[c] = *cell
	}
}

// GetRowCount implements tview.TableContent.
func (m *tableModel) GetRowCount() int { return len(m.rows) + 1 }

// GetColumnCount implements tview.TableContent.
func (m *tableModel) GetColumnCount() int { return int(numCols) }

// GetCell implements tview.TableContent; rows are formatted once per
// rebuild, when first drawn.
func (m *tableModel) GetCell(r, c int) *tview.TableCell {
	if c < 0 || c >= int(numCols) || r < 0 || r > len(m.rows) {
		return nil
	}
	if r == 0 {
		return &m.header[c]
	}
	rw := &m.rows[r-1]
	if rw.cells == nil {
		rw.cells = m.format(rw)
	}
	return &rw.cells[c]
}

// stateColor is the colour of a row by its state letter.
func stateColor(s byte) tcell.Color {
	switch s {
	case 'R':
		return tcell.ColorLime
	case 'D':
		return tcell.ColorOrange
	case 'Z':
		return tcell.ColorRed
	case 'T', 't':
		return tcell.ColorFuchsia
	case 'I', 'P':
		return tcell.ColorGray
	case 'X', 'x':
		return tcell.ColorMaroon
	}
	return tcell.ColorSilver
}

func (m *tableModel) format(rw *row) *[numCols]tview.TableCell {
	var cells [numCols]tview.TableCell
	p := rw.p
	var text [numCols]string
	state := p.State
	if rw.t != nil {
		t := rw.t
		state = t.State
		text[colPID] = strconv.Itoa(t.TID)
		text[colUser] = inert(p.User)
		text[colThr] = ""
		text[colRSS] = ""
		text[colStart] = ""
		text[colCmd] = m.prefix(rw) + "· " + inert(t.Comm)
	} else {
		text[colPID] = strconv.Itoa(p.PID)
		text[colUser] = inert(p.User)
		text[colThr] = strconv.FormatInt(p.NumThreads, 10)
		// Unknown, not 0, for kernel threads and zombies (no address
		// space) and when it could not be read.
		text[colRSS] = "-"
		if p.HasRSS {
			text[colRSS] = humanBytes(p.RSSBytes)
		}
		text[colStart] = startString(p.StartedAt, m.now)
		text[colCmd] = m.prefix(rw) + commandText(p)
	}
	text[colState] = string(rune(state))
	if state == 0 {
		text[colState] = "?"
	}
	if rw.r.ok {
		text[colCPU] = percentString(rw.r.cpu)
		text[colVol] = rateString(rw.r.vol)
		text[colInvol] = rateString(rw.r.invol)
	} else {
		text[colCPU], text[colVol], text[colInvol] = "-", "-", "-"
	}
	color := stateColor(state)
	for c := column(0); c < numCols; c++ {
		cell := &cells[c]
		cell.Text = text[c]
		cell.Color = color
		cell.Align = tview.AlignLeft
		if c != colUser && c != colCmd && c != colStart && c != colState {
			cell.Align = tview.AlignRight
		}
		if c == colCmd {
			cell.Expansion = 1
		}
		if c == colUser {
			cell.MaxWidth = 10
		}
		cell.Reference = rw
	}
	if rw.t != nil {
		cells[colCmd].Color = tcell.ColorTeal
	}
	return &cells
}

// commandText is the COMMAND cell: the command line, with the comm in
// parentheses when it is not the program's name, or [comm] when there is no
// command line (kernel threads, zombies).
func commandText(p *collector.Process) string {
	if len(p.Cmdline) == 0 || (len(p.Cmdline) == 1 && p.Cmdline[0] == "") {
		return inert("[" + p.Comm + "]")
	}
	args := inertArgs(p.Cmdline)
	base := filepath.Base(p.Cmdline[0])
	if !strings.HasPrefix(base, p.Comm) && !strings.HasPrefix(p.Comm, base) {
		return "(" + inert(p.Comm) + ") " + args
	}
	return args
}

func (m *tableModel) prefix(rw *row) string {
	if rw.preLen == 0 {
		return ""
	}
	return string(m.prefixBuf[rw.preOff : rw.preOff+rw.preLen])
}

// matches applies the filter and state filter to a process. The state
// Z keeps zombie processes only (lifecycle.IsZombie): a process whose main
// thread exited shows Z but is alive.
func (o *viewOpts) matches(p *collector.Process) bool {
	if p.PID == o.self && o.self != 0 && (o.filter != "" || o.states != "") {
		return false
	}
	if o.states != "" && (strings.IndexByte(o.states, p.State) < 0 || p.State == 'Z' && !lifecycle.IsZombie(p)) {
		return false
	}
	if o.filter == "" {
		return true
	}
	if containsFold(p.Comm, o.filter) || strings.HasPrefix(strconv.Itoa(p.PID), o.filter) {
		return true
	}
	for _, a := range p.Cmdline {
		if containsFold(a, o.filter) {
			return true
		}
	}
	// A filter with a space ("threads 5") can span arguments: match the
	// command line as it is shown, joined by spaces.
	if len(p.Cmdline) > 1 && strings.IndexByte(o.filter, ' ') >= 0 {
		return containsFold(strings.Join(p.Cmdline, " "), o.filter)
	}
	return false
}

// compareRows orders two rows by the sort column, then by PID.
func compareRows(a, b *row, c column) int {
	pa, pb := a.p, b.p
	var r int
	switch c {
	case colPID:
		r = cmp.Compare(pa.PID, pb.PID)
	case colUser:
		r = strings.Compare(pa.User, pb.User)
	case colState:
		r = cmp.Compare(pa.State, pb.State)
	case colThr:
		r = cmp.Compare(pa.NumThreads, pb.NumThreads)
	case colCPU:
		r = cmp.Compare(a.r.cpu, b.r.cpu)
	case colRSS:
		r = cmp.Compare(pa.RSSBytes, pb.RSSBytes)
	case colVol:
		r = cmp.Compare(a.r.vol, b.r.vol)
	case colInvol:
		r = cmp.Compare(a.r.invol, b.r.invol)
	case colStart:
		r = cmp.Compare(pa.StartTicks, pb.StartTicks)
	case colCmd:
		r = strings.Compare(pa.Comm, pb.Comm)
	}
	if r == 0 {
		r = cmp.Compare(pa.PID, pb.PID)
	}
	return r
}

// rebuild recomputes the rows from a frame and the view options. focus,
// when non-nil, supplies the threads of the focused process.
func (m *tableModel) rebuild(fd *frameData, o viewOpts, focus *focusData) {
	rows := m.rows[:0]
	m.total, m.shown = 0, 0
	if fd != nil && fd.f != nil && fd.f.Snapshot != nil {
		snap := fd.f.Snapshot
		o.self = snap.SelfPID
		m.now = snap.TakenAt
		procs := snap.Processes
		m.total = len(procs)
		for i := range procs {
			p := &procs[i]
			if !o.matches(p) {
				continue
			}
			rows = append(rows, row{p: p, r: fd.procRate(p)})
		}
	}
	m.shown = len(rows)
	slices.SortFunc(rows, func(a, b row) int {
		r := compareRows(&a, &b, o.sortCol)
		if o.sortDesc {
			return -r
		}
		return r
	})
	m.prefixBuf = m.prefixBuf[:0]
	if o.tree {
		rows = m.treeOrder(rows)
	}
	if o.threads {
		rows = m.withThreads(rows, fd, focus)
	}
	m.rows = rows
}

// treeOrder reorders sorted rows depth-first by parent, keeping the sort
// among siblings, and records each row's tree prefix.
func (m *tableModel) treeOrder(rows []row) []row {
	n := len(rows)
	clear(m.pidIdx)
	m.first = resize(m.first, n, -1)
	m.last = resize(m.last, n, -1)
	m.next = resize(m.next, n, -1)
	m.visited = slices.Grow(m.visited[:0], n)[:n]
	clear(m.visited)
	for i := range rows {
		m.pidIdx[rows[i].p.PID] = int32(i)
	}
	var roots []int32
	for i := range rows {
		pi, ok := m.pidIdx[rows[i].p.PPID]
		if !ok || rows[i].p.PPID == rows[i].p.PID {
			roots = append(roots, int32(i))
			continue
		}
		if m.last[pi] < 0 {
			m.first[pi] = int32(i)
		} else {
			m.next[m.last[pi]] = int32(i)
		}
		m.last[pi] = int32(i)
	}
	out := m.spare[:0]
	m.stack = m.stack[:0]
	var walk func(i int32, depth int, lastChild bool)
	walk = func(i int32, depth int, lastChild bool) {
		if m.visited[i] {
			return
		}
		m.visited[i] = true
		rw := rows[i]
		off := len(m.prefixBuf)
		if depth > 0 {
			m.prefixBuf = append(m.prefixBuf, m.stack...)
			if lastChild {
				m.prefixBuf = append(m.prefixBuf, "└─"...)
			} else {
				m.prefixBuf = append(m.prefixBuf, "├─"...)
			}
		}
		rw.preOff, rw.preLen = int32(off), int32(len(m.prefixBuf)-off)
		out = append(out, rw)
		mark := len(m.stack)
		if depth > 0 {
			if lastChild {
				m.stack = append(m.stack, "  "...)
			} else {
				m.stack = append(m.stack, "│ "...)
			}
		}
		for c := m.first[i]; c >= 0; c = m.next[c] {
			walk(c, depth+1, m.next[c] < 0)
		}
		m.stack = m.stack[:mark]
	}
	for _, r := range roots {
		walk(r, 0, true)
	}
	// Rows on a parent cycle (impossible in a real /proc) are kept as roots.
	for i := range rows {
		if !m.visited[i] {
			walk(int32(i), 0, true)
		}
	}
	m.spare = rows
	return out
}

// withThreads inserts each process's non-leader threads after it. The
// focused process's threads come from the focus data when present.
func (m *tableModel) withThreads(rows []row, fd *frameData, focus *focusData) []row {
	out := m.spare[:0]
	for i := range rows {
		out = append(out, rows[i])
		p := rows[i].p
		threads := p.Threads
		if focus != nil && focus.proc != nil && focus.pid == p.PID && len(focus.proc.Threads) > 0 {
			threads = focus.proc.Threads
		}
		for j := range threads {
			t := &threads[j]
			if t.TID == p.PID {
				continue
			}
			out = append(out, row{p: p, t: t, r: fd.threadRate(p, t), preOff: rows[i].preOff, preLen: rows[i].preLen})
		}
	}
	m.spare = rows
	return out
}

func resize(s []int32, n int, v int32) []int32 {
	s = slices.Grow(s[:0], n)[:n]
	for i := range s {
		s[i] = v
	}
	return s
}

// find returns the row index of a key, or -1.
func (m *tableModel) find(k rowKey) int {
	for i := range m.rows {
		if m.rows[i].key() == k {
			return i
		}
	}
	return -1
}
