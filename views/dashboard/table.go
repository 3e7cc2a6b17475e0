package dashboard

import (
	"cmp"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// row is one line of the process table: a process, or one of its threads.
type row struct {
	p *collector.Process
	t *collector.Thread // non-nil for a thread row
	r rate
	// tree prefix: a slice of the model's prefix buffer
	preOff, preLen int32
	// hidden is the number of descendants folded under this row (tree).
	hidden int32
	cells  []tview.TableCell // the shown columns, formatted on first draw
}

// rowSorter orders rows in place by a column. It compares the rows where
// they are: slices.SortFunc hands its comparison copies, and the copies
// escaped to the heap through the column's comparison (an indirect call),
// two allocations of a row per comparison, 128 MB in 30 frames of 2,000
// processes.
type rowSorter struct {
	m    *tableModel
	rows []row
	col  colID
	desc bool
}

func (s *rowSorter) Len() int      { return len(s.rows) }
func (s *rowSorter) Swap(i, j int) { s.rows[i], s.rows[j] = s.rows[j], s.rows[i] }
func (s *rowSorter) Less(i, j int) bool {
	r := s.m.compareRows(&s.rows[i], &s.rows[j], s.col)
	if s.desc {
		return r > 0
	}
	return r < 0
}

// rateKey is a process row's place in a sort by a rate column: the
// rate, then the pid (compareRows).
type rateKey struct {
	v   float64
	pid int
	i   int32 // the row's index before the sort
	ok  bool
}

// rateOf is a rate column's value in a row's rates.
func rateOf(r *rate, c colID) float64 {
	switch c {
	case colVol:
		return r.vol
	case colInvol:
		return r.invol
	}
	return r.cpu
}

// sortByRate sorts process rows by a rate column (CPU%, the default,
// and the context switches) as rowSorter does, and reports whether c
// is one: the keys are sorted, not the rows (88 bytes each, moved at
// every swap, each comparison an indirect call), and the rows are then
// moved once, in place.
func (m *tableModel) sortByRate(rows []row, c colID, desc bool) bool {
	if c != colCPU && c != colVol && c != colInvol {
		return false
	}
	keys := m.rateKeys[:0]
	for i := range rows {
		r := &rows[i]
		keys = append(keys, rateKey{v: rateOf(&r.r, c), pid: r.p.PID, i: int32(i), ok: r.r.ok})
	}
	slices.SortFunc(keys, func(a, b rateKey) int {
		r := cmpRate(a.ok, a.v, b.ok, b.v)
		if r == 0 {
			r = cmp.Compare(a.pid, b.pid)
		}
		if desc {
			return -r
		}
		return r
	})
	// Row k takes row keys[k].i: each cycle of the permutation in turn.
	moved := slices.Grow(m.moved[:0], len(rows))[:len(rows)]
	clear(moved)
	for k := range rows {
		if moved[k] {
			continue
		}
		first := rows[k]
		j := k
		for {
			moved[j] = true
			src := int(keys[j].i)
			if src == k {
				rows[j] = first
				break
			}
			rows[j] = rows[src]
			j = src
		}
	}
	m.rateKeys, m.moved = keys, moved
	return true
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
	// filterTyped is the filter as typed: shown in the header and
	// given back to the input line (it was shown lower-cased; tester14).
	filterTyped string
	states      string          // state letters to keep; "" keeps all
	users       map[string]bool // user names or uids to keep; nil keeps all
	pids        map[int]bool    // pids to keep (--pid); nil keeps all
	workload    string          // the CGROUP text to keep; "" keeps all
	// self is pinspect's own pid in the frame's root (Snapshot.SelfPID),
	// which a filter never keeps.
	self       int
	hideKernel bool
	tree       bool
	threads    bool
	sortCol    colID
	sortDesc   bool
	// folded are the processes whose subtree is folded (tree view).
	folded map[collector.ID]bool
}

// setFilter sets the name filter to text: matched without regard to case
// (filter), shown as typed (filterTyped).
func (o *viewOpts) setFilter(text string) {
	o.filter, o.filterTyped = lifecycle.LowerASCII(text), text
}

// matchesText reports whether the filter (or search) text matches a
// process: its names as every name filter matches them
// (lifecycle.MatchesName: comm, executable path, command line), or its
// pid's leading digits. The table's filter, the search and the zombie
// panel's filter all use it.
func matchesText(p *collector.Process, lower string) bool {
	return lifecycle.MatchesName(p, lower) || strings.HasPrefix(strconv.Itoa(p.PID), lower)
}

// matchesUser reports whether a process belongs to one of the users:
// by name or by real uid.
func matchesUser(p *collector.Process, users map[string]bool) bool {
	return users == nil || users[p.User] || users[strconv.Itoa(p.UIDs[0])] && p.Read&collector.SrcStatus != 0
}

// matches applies every filter to a process. The state Z keeps zombie
// processes only (lifecycle.IsZombie): a process whose main thread
// exited is alive, and its letter is L (lifecycle.InStates). A filter never keeps pinspect itself
// (Snapshot.SelfPID), as pgrep does not.
func (o *viewOpts) matches(p *collector.Process) bool {
	if p.PID == o.self && o.self != 0 && (o.filter != "" || o.states != "") {
		return false
	}
	if o.pids != nil && !o.pids[p.PID] {
		return false
	}
	if o.states != "" && !lifecycle.InStates(p, o.states) {
		return false
	}
	if o.hideKernel && p.IsKernelThread() {
		return false
	}
	if !matchesUser(p, o.users) {
		return false
	}
	if o.workload != "" && cgroupText(p) != o.workload {
		return false
	}
	return matchesText(p, o.filter)
}

// tableModel is the process table's virtual content. It is touched only on
// the UI goroutine.
type tableModel struct {
	tview.TableContentReadOnly
	rows     []row
	spare    []row
	now      time.Time
	memTotal uint64
	cols     []colID
	header   []tview.TableCell
	// blank is each column's data cell as tview.Table sees it: no text,
	// the column's alignment and width (procTable draws the text).
	blank  []tview.TableCell
	widths [numCols]int
	// held keeps the data-sized widths (PID, PPID, USER) steady.
	held    [numCols]heldWidth
	sortCol colID // the sort column (its title has an arrow)
	onSort  func(c colID)
	tagged  map[collector.ID]bool

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
	// sorter sorts the rows in place (kept to sort without allocating).
	sorter rowSorter
	// rateKeys and moved are sortByRate's scratch.
	rateKeys []rateKey
	moved    []bool
	// tableWidth is the table's width at the last draw (0 before the
	// first): a deep tree's indentation is cut to leave the COMMAND
	// column room for the name (treePrefix).
	tableWidth int
}

func newTableModel(onSort func(colID)) *tableModel {
	m := &tableModel{onSort: onSort, pidIdx: map[int]int32{}, tagged: map[collector.ID]bool{}}
	m.cols = slices.Clone(defaultColumns)
	return m
}

// colWidth is a shown column's width: fixed by the column, or from the
// whole data (not the rows on screen: widths do not jump as you scroll).
func (m *tableModel) colWidth(c colID) int {
	w := colDefs[c].width
	if w == 0 {
		w = m.widths[c]
	}
	w = max(w, len(colDefs[c].title))
	if c == m.sortCol {
		w++ // the sort arrow
	}
	return w
}

// setHeader formats the header cells for the columns and the sort.
func (m *tableModel) setHeader(o viewOpts) {
	m.sortCol = o.sortCol
	m.header = m.header[:0]
	m.blank = m.blank[:0]
	for _, c := range m.cols {
		title := colDefs[c].title
		if c == o.sortCol {
			if o.sortDesc {
				title += "▼"
			} else {
				title += "▲"
			}
		}
		w := m.colWidth(c)
		if c != colCmd {
			if colDefs[c].left {
				title = padRight(title, w)
			} else {
				title = padLeft(title, w)
			}
		}
		cell := tview.NewTableCell(title).
			SetSelectable(false).
			SetTextColor(tcell.ColorBlack).
			SetBackgroundColor(tcell.ColorGreen)
		if c == o.sortCol {
			cell.SetBackgroundColor(tcell.ColorAqua)
		}
		if c == colCmd {
			cell.SetExpansion(1)
		} else {
			cell.SetMaxWidth(w)
		}
		blank := tview.TableCell{Align: tview.AlignRight, Color: tcell.ColorSilver, MaxWidth: cell.MaxWidth, Expansion: cell.Expansion}
		if colDefs[c].left {
			blank.Align = tview.AlignLeft
		}
		m.blank = append(m.blank, blank)
		cc := c
		cell.Clicked = func() bool {
			if m.onSort != nil {
				m.onSort(cc)
			}
			return true
		}
		m.header = append(m.header, *cell)
	}
}

// GetRowCount implements tview.TableContent.
func (m *tableModel) GetRowCount() int { return len(m.rows) + 1 }

// GetColumnCount implements tview.TableContent.
func (m *tableModel) GetColumnCount() int { return len(m.cols) }

// GetCell implements tview.TableContent. A data row's cell is its
// column's blank cell: procTable draws the text of the rows on screen
// (formatted once per rebuild, when first drawn).
func (m *tableModel) GetCell(r, c int) *tview.TableCell {
	if c < 0 || c >= len(m.cols) || r < 0 || r > len(m.rows) {
		return nil
	}
	if r == 0 {
		if c < len(m.header) {
			return &m.header[c]
		}
		return nil
	}
	if c < len(m.blank) {
		return &m.blank[c]
	}
	return nil
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

// format makes the shown cells of a row.
func (m *tableModel) format(rw *row) []tview.TableCell {
	cells := make([]tview.TableCell, len(m.cols))
	state := lifecycle.StateLetter(rw.p) // a leader-exited process is not red
	if rw.t != nil {
		state = rw.t.State
	}
	color := stateColor(state)
	tagged := rw.t == nil && m.tagged[rw.p.ID()]
	if tagged {
		color = tcell.ColorYellow
	}
	for i, c := range m.cols {
		cell := &cells[i]
		cell.Text = m.cellText(rw, c)
		cell.Color = color
		cell.Align = tview.AlignRight
		if colDefs[c].left {
			cell.Align = tview.AlignLeft
		}
		if c == colCmd {
			cell.Expansion = 1
			if rw.t != nil && !tagged {
				cell.Color = tcell.ColorTeal
			}
		} else {
			cell.MaxWidth = m.colWidth(c)
		}
		cell.Reference = rw
	}
	if tagged {
		// The mark leads the command, the one column with room for it.
		if i := slices.Index(m.cols, colCmd); i >= 0 {
			cells[i].Text = "* " + cells[i].Text
		}
	}
	return cells
}

// commandText is the COMMAND cell: the command line, with the comm in
// parentheses when it is not the program's name; [comm] for a kernel
// thread or a zombie (no command line, as ps shows them); the comm alone
// when the command line is not known (an agent that does not send
// command lines, an unreadable file).
func commandText(p *collector.Process) string {
	if len(p.Cmdline) == 0 || (len(p.Cmdline) == 1 && p.Cmdline[0] == "") {
		if p.IsKernelThread() || lifecycle.IsZombie(p) {
			return inert("[" + p.Comm + "]")
		}
		return inert(p.Comm)
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
	pre := string(m.prefixBuf[rw.preOff : rw.preOff+rw.preLen])
	// A deep tree in a narrow terminal: the indentation would take the
	// whole COMMAND column and hide the name (and a folded row's mark).
	// It keeps at most half the column, its innermost levels, after "…".
	room := m.cmdWidth() / 2
	if n := utf8.RuneCountInString(pre); room > 2 && n > room {
		r := []rune(pre)
		pre = "…" + string(r[n-room+1:])
	}
	return pre
}

// cmdWidth is the COMMAND column's width at the last draw, 0 unknown.
func (m *tableModel) cmdWidth() int {
	if m.tableWidth == 0 {
		return 0
	}
	w := m.tableWidth
	for _, c := range m.cols {
		if c != colCmd {
			w -= m.colWidth(c) + 1
		}
	}
	return max(w, 0)
}

// widthHold is how long a data-sized column keeps a width the data no
// longer needs: the width of the widest value seen within it.
const widthHold = time.Minute

// heldWidth is a column's width from the data (the longest user name,
// the largest pid) that grows at once and shrinks only once the wider
// values have been gone for widthHold: a short-lived process with a long
// user name does not make the columns jump as it comes and goes (htop
// gives these columns fixed widths; this keeps them narrow where the
// names are short).
type heldWidth struct {
	w  int
	at time.Time // the snapshot time the data last needed w
}

// update takes the width the data needs now (at the snapshot time now)
// and returns the width to draw.
func (h *heldWidth) update(need int, now time.Time) int {
	if age := now.Sub(h.at); need >= h.w || age > widthHold || age < 0 {
		h.w, h.at = need, now
	}
	return h.w
}

// rebuild recomputes the rows from a frame and the view options. focus,
// when non-nil, supplies the threads of the focused process.
func (m *tableModel) rebuild(fd *frameData, o viewOpts, focus *focusData) {
	rows := m.rows[:0]
	m.total, m.shown = 0, 0
	maxPID, maxUser := 99, 4
	if fd != nil && fd.f != nil && fd.f.Snapshot != nil {
		snap := fd.f.Snapshot
		o.self = snap.SelfPID
		m.now = snap.TakenAt
		m.memTotal = snap.Host.MemTotalBytes
		procs := snap.Processes
		m.total = len(procs)
		for i := range procs {
			p := &procs[i]
			maxPID = max(maxPID, p.PID, p.PPID)
			if !o.matches(p) {
				continue
			}
			maxUser = max(maxUser, min(len(p.User), 10))
			rows = append(rows, row{p: p, r: fd.procRate(p)})
		}
		for _, t := range threadsOf(focus) {
			maxPID = max(maxPID, t.TID)
		}
	}
	m.widths[colPID] = m.held[colPID].update(max(len(strconv.Itoa(maxPID)), 3), m.now)
	m.widths[colPPID] = m.held[colPPID].update(max(len(strconv.Itoa(maxPID)), 4), m.now)
	m.widths[colUser] = m.held[colUser].update(maxUser, m.now)
	m.shown = len(rows)
	if !m.sortByRate(rows, o.sortCol, o.sortDesc) {
		m.sorter = rowSorter{m: m, rows: rows, col: o.sortCol, desc: o.sortDesc}
		sort.Sort(&m.sorter)
		m.sorter.rows = nil
	}
	m.prefixBuf = m.prefixBuf[:0]
	if o.tree {
		rows = m.treeOrder(rows, o.folded)
	}
	if o.threads {
		rows = m.withThreads(rows, fd, focus)
	}
	m.rows = rows
	// The rows past the end, and the scratch rows, may point into older
	// frames' snapshots: each such pointer would keep a whole snapshot
	// (about 2 MB at 2,000 processes) alive until the slot is reused.
	clear(m.rows[len(m.rows):cap(m.rows)])
	clear(m.spare[:cap(m.spare)])
	m.spare = m.spare[:0]
	m.setHeader(o)
}

func threadsOf(f *focusData) []collector.Thread {
	if f == nil || f.proc == nil {
		return nil
	}
	return f.proc.Threads
}

// treeOrder reorders sorted rows depth-first by parent, keeping the sort
// among siblings, and records each row's tree prefix. The subtree of a
// folded process is left out; its row counts what it hides.
func (m *tableModel) treeOrder(rows []row, folded map[collector.ID]bool) []row {
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
	var count func(i int32) int32
	count = func(i int32) int32 {
		m.visited[i] = true
		var c int32
		for k := m.first[i]; k >= 0; k = m.next[k] {
			if !m.visited[k] {
				c += 1 + count(k)
			}
		}
		return c
	}
	var walk func(i int32, depth int, lastChild bool)
	walk = func(i int32, depth int, lastChild bool) {
		if m.visited[i] {
			return
		}
		m.visited[i] = true
		rw := rows[i]
		isFolded := folded[rw.p.ID()] && m.first[i] >= 0
		off := len(m.prefixBuf)
		if depth > 0 {
			m.prefixBuf = append(m.prefixBuf, m.stack...)
			if lastChild {
				m.prefixBuf = append(m.prefixBuf, "└"...)
			} else {
				m.prefixBuf = append(m.prefixBuf, "├"...)
			}
		}
		if isFolded {
			m.prefixBuf = append(m.prefixBuf, "+ "...)
		} else if depth > 0 {
			m.prefixBuf = append(m.prefixBuf, "─"...)
		}
		rw.preOff, rw.preLen = int32(off), int32(len(m.prefixBuf)-off)
		idx := len(out)
		out = append(out, rw)
		if isFolded {
			out[idx].hidden = count(i)
			return
		}
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

// hasChildren reports whether the row at index i has a child among the
// shown processes (in tree order, a child follows its parent).
func (m *tableModel) hasChildren(i int) bool {
	if i < 0 || i+1 >= len(m.rows) || m.rows[i].t != nil {
		return m.rows[i].hidden > 0
	}
	return m.rows[i].hidden > 0 || m.rows[i+1].t == nil && m.rows[i+1].p.PPID == m.rows[i].p.PID
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

// refresh drops the formatted cells of every row (a tag changed).
func (m *tableModel) refresh() {
	for i := range m.rows {
		m.rows[i].cells = nil
	}
}
