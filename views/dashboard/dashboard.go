package dashboard

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/monitor"
)

// Options configures a Dashboard.
type Options struct {
	// Signal sends a signal to a process, checking its identity; nil (as
	// with --readonly) removes the signal action entirely.
	Signal func(id collector.ID, sig syscall.Signal) error
	// Filter and States preset the name filter and the state filter.
	Filter string
	States string
	// Interval is the interval shown until the first Frame says otherwise.
	Interval time.Duration
	// Screen replaces the terminal (tests use a tcell.SimulationScreen).
	Screen tcell.Screen
	// Timeline, when set, makes the dashboard a replay of a record: its
	// keys move through time (see Timeline). ParseTime reads the time
	// typed after @ (default: RFC 3339 only).
	Timeline  Timeline
	ParseTime func(string) (time.Time, error)
}

// intervals are the steps of + and -.
var intervals = []time.Duration{
	250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2 * time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second,
}

// stateCycle is what s steps through: all, then one state class each.
var stateCycle = []string{"", "R", "S", "D", "Z", "Tt", "I"}

// Page names.
const (
	pageMain    = "main"
	pageDetail  = "detail"
	pageHelp    = "help"
	pageConfirm = "confirm"
)

// Dashboard is the tview application. Create it with New and start it with
// Run; everything else happens on the tview event loop.
type Dashboard struct {
	app   *tview.Application
	src   Source
	opts  Options
	pages *tview.Pages

	main       *tview.Flex
	header     *tview.TextView
	table      *tview.Table
	model      *tableModel
	bottom     *tview.Flex
	zombieView *tview.TextView
	findings   *tview.TextView // explain's findings panel (explain.go)
	eventTable *tview.Table
	log        *eventLog
	footer     *tview.Pages
	keys       *tview.TextView
	filterIn   *tview.InputField
	jumpIn     *tview.InputField // replay: the time to jump to (@)
	detail     *detailView
	help       *tview.TextView
	confirm    *tview.Modal

	vo      viewOpts
	frame   *monitor.Frame
	fd      *frameData
	focus   *focusData
	sel     rowKey
	haveSel bool
	// userSel is set once the user has moved the selection: from then on
	// it follows that process through refreshes and re-sorts. Until then
	// the first row stays selected, as in htop, so the first frame (when
	// CPU% is not known yet) does not pin whatever row came first.
	userSel bool
	// rebuilding marks selection changes made by rebuild, not the user.
	rebuilding  bool
	focusPID    int
	paused      bool
	interval    time.Duration
	showPanels  bool
	filterOpen  bool
	status      string
	statusUntil uint64 // frame seq until which status shows
	confirmID   collector.ID
	started     chan struct{}
	startOnce   bool
	cancel      context.CancelFunc
	lastW       int
	lastH       int
}

// New builds the dashboard over a Source.
func New(src Source, opts Options) *Dashboard {
	d := &Dashboard{
		app:        tview.NewApplication(),
		src:        src,
		opts:       opts,
		interval:   opts.Interval,
		showPanels: true,
		started:    make(chan struct{}),
	}
	if d.interval <= 0 {
		d.interval = time.Second
	}
	d.vo = viewOpts{filter: strings.ToLower(opts.Filter), states: opts.States, sortCol: colCPU, sortDesc: true}
	if opts.Screen != nil {
		d.app.SetScreen(opts.Screen)
	}
	d.build()
	return d
}

// App returns the tview application (for tests).
func (d *Dashboard) App() *tview.Application { return d.app }

func (d *Dashboard) build() {
	d.header = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	d.model = newTableModel(d.sortBy)
	d.model.setHeader(d.vo)
	d.table = tview.NewTable().SetContent(d.model).SetFixed(1, 0).SetSelectable(true, false)
	d.table.SetSelectedStyle(tcell.StyleDefault.Background(tcell.ColorNavy).Foreground(tcell.ColorWhite).Bold(true))
	d.table.SetSelectionChangedFunc(d.selectionChanged)
	d.table.SetSelectedFunc(func(r, _ int) { d.openDetail() })
	d.table.SetMouseCapture(func(action tview.MouseAction, ev *tcell.EventMouse) (tview.MouseAction, *tcell.EventMouse) {
		if action == tview.MouseLeftDoubleClick {
			x, y := ev.Position()
			if r, _ := d.table.CellAt(x, y); r > 0 && r <= len(d.model.rows) {
				d.table.Select(r, 0)
				d.openDetail()
				return tview.MouseConsumed, nil
			}
		}
		return action, ev
	})

	d.zombieView = tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true)
	d.zombieView.SetBorder(true).SetTitle(" zombies ").SetTitleAlign(tview.AlignLeft)
	d.log = newEventLog()
	d.eventTable = newGridTable(d.log.model)
	d.eventTable.SetBorder(true).SetTitle(" events ").SetTitleAlign(tview.AlignLeft)
	d.findings = newFindingsView()
	d.bottom = tview.NewFlex().
		AddItem(d.zombieView, 0, 1, false).
		AddItem(d.eventTable, 0, 1, false).
		AddItem(d.findings, 0, 1, false)

	d.keys = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	d.filterIn = tview.NewInputField().SetLabel("/").SetFieldBackgroundColor(tcell.ColorNavy)
	d.filterIn.SetChangedFunc(func(text string) {
		d.vo.filter = strings.ToLower(text)
		d.rebuild()
		d.updateHeader()
		d.updateZombies()
	})
	d.filterIn.SetDoneFunc(func(key tcell.Key) {
		if key == tcell.KeyEscape {
			d.filterIn.SetText("") // calls the changed func: filter cleared
		}
		d.closeFilter()
	})
	d.footer = tview.NewPages().
		AddPage("keys", d.keys, true, true).
		AddPage("filter", d.filterIn, true, false)

	d.main = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(d.header, 3, 0, false).
		AddItem(d.table, 0, 1, true).
		AddItem(d.bottom, 9, 0, false).
		AddItem(d.footer, 1, 0, false)

	d.detail = newDetailView(d)
	d.help = tview.NewTextView().SetDynamicColors(true)
	d.help.SetBorder(true).SetTitle(" pinspect: keys (Esc, q or ? to close) ")
	d.help.SetText(helpText(d.opts.Signal != nil))
	d.confirm = tview.NewModal()

	d.pages = tview.NewPages().
		AddPage(pageMain, d.main, true, true).
		AddPage(pageDetail, d.detail.root, true, false).
		AddPage(pageHelp, d.help, true, false)
	d.setupReplay()
	d.app.SetRoot(d.pages, true).EnableMouse(true)
	d.app.SetInputCapture(d.onKey)
	d.app.SetBeforeDrawFunc(d.beforeDraw)
	d.updateKeys()
	d.updateHeader()
	d.updateZombies()
}

// beforeDraw adapts the layout to the screen size and, on the first draw,
// lets the feeding goroutine start queueing frames.
func (d *Dashboard) beforeDraw(screen tcell.Screen) bool {
	if !d.startOnce {
		d.startOnce = true
		close(d.started)
	}
	w, h := screen.Size()
	if w != d.lastW || h != d.lastH {
		d.lastW, d.lastH = w, h
		d.layout(w, h)
	}
	return false
}

// layout sizes the fixed parts so that any screen, down to 1x1, draws.
func (d *Dashboard) layout(w, h int) {
	headerH, footerH, bottomH := 3, 1, 9
	if h < 24 || !d.showPanels {
		bottomH = 0
	}
	if h < 8 {
		headerH = 0
	}
	if h < 3 {
		footerH = 0
	}
	if d.showPanels && h >= 40 {
		bottomH = h / 4
	}
	d.main.ResizeItem(d.header, headerH, 0)
	d.main.ResizeItem(d.bottom, bottomH, 0)
	d.main.ResizeItem(d.footer, footerH, 0)
	d.detail.layout(w, h)
}

// Run runs the dashboard until q (or ctx ends), then restores the
// terminal. It subscribes to the Source and stops its feeding goroutine
// before the application stops.
func (d *Dashboard) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	defer cancel()
	frames, unsubscribe := d.src.Subscribe()
	defer unsubscribe()

	feederDone := make(chan struct{})
	go d.feed(ctx, frames, feederDone)
	// The stopper: when the context ends (q, or the caller), wait for the
	// feeder to leave QueueUpdateDraw, then stop the application: an
	// update queued after Stop would block forever.
	stopperDone := make(chan struct{})
	go func() {
		defer close(stopperDone)
		<-ctx.Done()
		<-feederDone
		d.app.Stop()
	}()
	err := d.app.Run()
	cancel()
	select {
	case <-stopperDone:
	case <-time.After(2 * time.Second):
	}
	return err
}

// feed applies frames on the UI goroutine, coalescing a backlog into the
// newest frame.
func (d *Dashboard) feed(ctx context.Context, frames <-chan *monitor.Frame, done chan<- struct{}) {
	defer close(done)
	select {
	case <-d.started:
	case <-ctx.Done():
		return
	}
	if f := d.src.Latest(); f != nil {
		d.app.QueueUpdateDraw(func() { d.apply(f) })
	}
	for {
		var f *monitor.Frame
		select {
		case <-ctx.Done():
			return
		case g, ok := <-frames:
			if !ok {
				return
			}
			f = g
		}
	drain:
		for {
			select {
			case g, ok := <-frames:
				if !ok {
					break drain
				}
				// Keep the events of skipped frames.
				if len(f.Events) > 0 {
					merged := *g
					merged.Events = append(slices.Clone(f.Events), g.Events...)
					g = &merged
				}
				f = g
			default:
				break drain
			}
		}
		if ctx.Err() != nil {
			return
		}
		d.app.QueueUpdateDraw(func() { d.apply(f) })
	}
}

// quit ends Run: it cancels the context; the stopper stops the app.
func (d *Dashboard) quit() {
	if d.cancel != nil {
		d.cancel()
	} else {
		d.app.Stop()
	}
}

// apply takes a new frame. It runs on the UI goroutine.
func (d *Dashboard) apply(f *monitor.Frame) {
	if f == nil || (d.frame != nil && f.Seq != 0 && f.Seq <= d.frame.Seq && f.Snapshot == d.frame.Snapshot) {
		return
	}
	d.fd = newFrameData(f)
	d.frame = f
	d.focus = d.fd.focus()
	if f.Interval > 0 {
		d.interval = f.Interval
	}
	d.log.add(f.Events)
	d.rebuild()
	d.updateHeader()
	d.updateZombies()
	d.updateFindings()
	d.updateKeys()
	d.detail.refresh()
}

// rebuild recomputes the table rows and keeps the selection on the same
// process.
func (d *Dashboard) rebuild() {
	focus := d.focus
	d.model.rebuild(d.fd, d.vo, focus)
	if len(d.model.rows) == 0 {
		d.table.Select(0, 0)
		return
	}
	idx := 0
	if d.userSel {
		idx = d.model.find(d.sel)
		if idx < 0 && d.sel.tid != 0 {
			idx = d.model.find(rowKey{id: d.sel.id})
		}
		if idx < 0 {
			r, _ := d.table.GetSelection()
			idx = min(max(r-1, 0), len(d.model.rows)-1)
		}
	}
	d.rebuilding = true
	d.table.Select(idx+1, 0)
	d.selectionChanged(idx+1, 0)
	d.rebuilding = false
}

// selectionChanged records the selected process and updates the focus.
func (d *Dashboard) selectionChanged(r, _ int) {
	if r < 1 || r > len(d.model.rows) {
		return
	}
	if !d.rebuilding {
		d.userSel = true
	}
	d.sel, d.haveSel = d.model.rows[r-1].key(), true
	d.updateFocus()
}

// updateFocus asks the Source for the heavy data (threads, details,
// address space) of the one process that needs it: the detail view's, or
// with H the selected one; otherwise nothing. Focus makes the monitor
// sample at once, so it is asked only when the answer changes.
func (d *Dashboard) updateFocus() {
	pid := 0
	switch {
	case d.detail.isOpen():
		pid = d.detail.id.PID
	case d.vo.threads && d.haveSel:
		pid = d.sel.id.PID
	}
	if pid != d.focusPID {
		d.focusPID = pid
		d.src.Focus(pid)
	}
}

// selected returns the selected row, or nil.
func (d *Dashboard) selected() *row {
	r, _ := d.table.GetSelection()
	if r < 1 || r > len(d.model.rows) {
		return nil
	}
	return &d.model.rows[r-1]
}

// sortBy sorts by a column; choosing the current column reverses it.
func (d *Dashboard) sortBy(c column) {
	if d.vo.sortCol == c {
		d.vo.sortDesc = !d.vo.sortDesc
	} else {
		d.vo.sortCol, d.vo.sortDesc = c, descByDefault[c]
	}
	d.model.setHeader(d.vo)
	d.rebuild()
	d.updateHeader()
}

func (d *Dashboard) setStatus(s string) {
	d.status = s
	d.statusUntil = 2
	if d.frame != nil {
		d.statusUntil += d.frame.Seq
	}
	d.updateKeys()
}

// onKey is the application's input capture. It never queues updates: it
// runs on the UI goroutine and changes state directly.
func (d *Dashboard) onKey(ev *tcell.EventKey) *tcell.EventKey {
	if ev.Key() == tcell.KeyCtrlC {
		d.quit()
		return nil
	}
	front, _ := d.pages.GetFrontPage()
	switch front {
	case pageConfirm:
		return ev // the modal's buttons; Esc is handled in its done func
	case pageHelp:
		if ev.Key() == tcell.KeyEscape || ev.Rune() == '?' || ev.Rune() == 'q' {
			d.pages.HidePage(pageHelp)
			return nil
		}
		return ev
	}
	if d.filterOpen {
		return ev
	}
	if front == pageDetail {
		if d.detail.onKey(ev) {
			return nil
		}
	}
	switch ev.Key() {
	case tcell.KeyEscape:
		if front == pageDetail {
			d.closeDetail()
			return nil
		}
		if d.vo.filter != "" || d.vo.states != "" {
			d.vo.filter, d.vo.states = "", ""
			d.filterIn.SetText("")
			d.rebuild()
			d.updateHeader()
		}
		return nil
	case tcell.KeyF6:
		d.sortBy((d.vo.sortCol + 1) % numCols)
		return nil
	case tcell.KeyRune:
	default:
		return ev
	}
	if d.onReplayKey(ev.Rune()) {
		return nil
	}
	switch r := ev.Rune(); r {
	case 'q':
		d.quit()
	case '?':
		d.pages.ShowPage(pageHelp)
	case ' ':
		d.paused = !d.paused
		d.src.SetPaused(d.paused)
		d.updateHeader()
	case '+', '=':
		d.stepInterval(+1)
	case '-', '_':
		d.stepInterval(-1)
	case 'k':
		if d.opts.Signal == nil {
			d.setStatus("[yellow]read-only: no signals[-]")
			return nil
		}
		d.askSignal()
	default:
		if front == pageDetail {
			return ev
		}
		return d.onMainKey(ev)
	}
	return nil
}

// onMainKey handles the process table's keys.
func (d *Dashboard) onMainKey(ev *tcell.EventKey) *tcell.EventKey {
	r := ev.Rune()
	if c, ok := sortKeys[r]; ok {
		d.sortBy(c)
		return nil
	}
	switch r {
	case '/':
		d.openFilter()
	case 't':
		d.vo.tree = !d.vo.tree
		d.rebuild()
		d.updateHeader()
	case 'H':
		d.vo.threads = !d.vo.threads
		d.rebuild()
		d.updateHeader()
		d.updateFocus()
	case 's':
		next := 0
		for i, s := range stateCycle {
			if s == d.vo.states {
				next = (i + 1) % len(stateCycle)
			}
		}
		d.vo.states = stateCycle[next]
		d.rebuild()
		d.updateHeader()
	case 'z':
		if d.vo.states == "Z" {
			d.vo.states = ""
		} else {
			d.vo.states = "Z"
		}
		d.rebuild()
		d.updateHeader()
	case '<', ',':
		d.sortBy((d.vo.sortCol + numCols - 1) % numCols)
	case '>', '.':
		d.sortBy((d.vo.sortCol + 1) % numCols)
	case 'r':
		d.vo.sortDesc = !d.vo.sortDesc
		d.model.setHeader(d.vo)
		d.rebuild()
		d.updateHeader()
	case 'e':
		d.showPanels = !d.showPanels
		d.layout(d.lastW, d.lastH)
	case 'g':
		d.table.Select(1, 0)
	case 'G':
		d.table.Select(len(d.model.rows), 0)
	case 'j':
		return tcell.NewEventKey(tcell.KeyDown, 0, tcell.ModNone)
	default:
		return ev
	}
	return nil
}

func (d *Dashboard) stepInterval(dir int) {
	i := 0
	for i < len(intervals)-1 && intervals[i] < d.interval {
		i++
	}
	i = min(max(i+dir, 0), len(intervals)-1)
	d.interval = intervals[i]
	d.src.SetInterval(d.interval)
	d.updateHeader()
}

func (d *Dashboard) openFilter() {
	d.filterOpen = true
	d.footer.SwitchToPage("filter")
	if d.lastH < 3 {
		d.main.ResizeItem(d.footer, 1, 0)
	}
	d.app.SetFocus(d.filterIn)
	d.updateHeader()
}

func (d *Dashboard) closeFilter() {
	d.filterOpen = false
	d.footer.SwitchToPage("keys")
	d.layout(d.lastW, d.lastH)
	d.app.SetFocus(d.table)
	d.updateHeader()
}

func (d *Dashboard) openDetail() {
	rw := d.selected()
	if rw == nil {
		return
	}
	d.detail.open(rw.p.ID(), rw.p.PID)
	d.pages.SwitchToPage(pageDetail)
	d.app.SetFocus(d.detail.focusTarget())
	d.updateKeys()
	d.updateFocus()
}

func (d *Dashboard) closeDetail() {
	d.pages.SwitchToPage(pageMain)
	d.app.SetFocus(d.table)
	d.updateKeys()
	d.updateFocus()
}

// askSignal opens the confirmation dialog naming the selected process.
func (d *Dashboard) askSignal() {
	var p *collector.Process
	front, _ := d.pages.GetFrontPage()
	if front == pageDetail {
		p = d.detail.process()
	} else if rw := d.selected(); rw != nil {
		p = rw.p
	}
	if p == nil {
		return
	}
	d.confirmID = p.ID()
	back := front
	text := "Send a signal to process " + strconv.Itoa(p.PID) + " (" + inert(p.Comm) + ")"
	if p.User != "" {
		text += ", user " + inert(p.User)
	}
	if !p.StartedAt.IsZero() {
		text += ", started " + p.StartedAt.Format("2006-01-02 15:04:05")
	}
	text += "?"
	d.confirm.ClearButtons().SetText(text).
		AddButtons([]string{"SIGTERM", "SIGKILL", "SIGSTOP", "SIGCONT", "Cancel"}).
		SetDoneFunc(func(_ int, label string) {
			d.pages.RemovePage(pageConfirm)
			d.pages.SwitchToPage(back)
			if back == pageDetail {
				d.app.SetFocus(d.detail.focusTarget())
			} else {
				d.app.SetFocus(d.table)
			}
			sig, ok := signalByName[label]
			if !ok {
				d.setStatus("signal cancelled")
				return
			}
			if err := d.opts.Signal(d.confirmID, sig); err != nil {
				d.setStatus("[red]" + inert(err.Error()))
				return
			}
			d.setStatus("sent " + label + " to " + strconv.Itoa(d.confirmID.PID))
		})
	d.confirm.SetFocus(0)
	d.pages.AddPage(pageConfirm, d.confirm, true, true)
	d.app.SetFocus(d.confirm)
}

var signalByName = map[string]syscall.Signal{
	"SIGTERM": syscall.SIGTERM, "SIGKILL": syscall.SIGKILL,
	"SIGSTOP": syscall.SIGSTOP, "SIGCONT": syscall.SIGCONT,
}
