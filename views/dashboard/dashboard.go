package dashboard

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// Options configures a Dashboard.
type Options struct {
	// Signal sends a signal to a process, checking its identity; nil (as
	// with --readonly) removes the signal action entirely.
	Signal func(id collector.ID, sig syscall.Signal) error
	// Renice sets a process's nice value, checking its identity; nil
	// removes the nice action (F7, F8).
	Renice func(id collector.ID, nice int) error
	// Filter and States preset the name filter and the state filter;
	// PIDs and Users keep only those processes (--pid, --user: users by
	// name or uid).
	Filter string
	States string
	PIDs   []int
	Users  []string
	// Interval is the interval shown until the first Frame says otherwise
	// (a config file's interval, when it has one, is asked of the Source
	// at start).
	Interval time.Duration
	// IntervalSet says Interval was given on the command line: it wins
	// over Config.Interval for this run, and F2 keeps Config.Interval in
	// the file unless an interval is chosen in the run (d, D or F2's
	// row), which is then kept.
	IntervalSet bool
	// Screen replaces the terminal (tests use a tcell.SimulationScreen).
	Screen tcell.Screen
	// Config is the saved setup (nil: the defaults); ConfigNote is a
	// problem with the file it came from, shown at start.
	Config     *Config
	ConfigNote string
	// SaveConfig keeps the setup when F2 closes with changes; it returns
	// where it was written. nil: the setup is not kept.
	SaveConfig func(Config) (string, error)
	// Origin says where the frames come from when it is not this
	// machine's present ("remote http://host:9256"); the header shows it,
	// and no action is offered.
	Origin string
	// Timeline, when set, makes the dashboard a replay: its keys step
	// through the samples (see the key map) and the header says which is
	// shown. ParseTime reads a time typed for a jump (default RFC 3339).
	Timeline  Timeline
	ParseTime func(string) (time.Time, error)
	// Drawn, when set, is called on the screen's goroutine after each
	// frame with a new snapshot from the Source has been shown (not for a
	// frame that repeats the last snapshot with another focus): the
	// dashboard then holds that snapshot alone, the moment of a refresh
	// when the program's live data is smallest.
	Drawn func()
}

// intervals are the steps of d and D.
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
	pageMenu    = "menu"
	pageSetup   = "setup"
)

// Dashboard is the tview application. Create it with New and start it with
// Run; everything else happens on the tview event loop.
type Dashboard struct {
	app   *tview.Application
	src   Source
	opts  Options
	cfg   Config
	pages *tview.Pages

	// panelTexts is the text each bottom panel's TextView was last set
	// to (setPanelText).
	panelTexts map[*tview.TextView]string

	// intervalChosen is the interval set this run by d, D or F2's arrows
	// (0: none): F2 keeps it in the config file.
	intervalChosen time.Duration
	// asked is the interval last asked of the Source, until a frame
	// shows it in force (see askInterval).
	asked intervalAsk

	// scope narrows the events and findings panels to --pid (nil: none).
	scope *pidScope

	main    *tview.Flex
	header  *headerView
	table   *procTable
	model   *tableModel
	bottom  *tview.Flex
	panels  []*panel
	log     *eventLog
	footer  *tview.Pages
	keys    *headerView
	input   *tview.InputField
	detail  *detailView
	help    *tview.TextView
	confirm *tview.Modal
	menu    *tview.List
	setup   *setupView

	meters    [numMeters]bool
	showPanel map[string]bool

	vo      viewOpts
	frame   *monitor.Frame
	fd      *frameData
	focus   *focusData
	sel     rowKey
	haveSel bool
	// userSel is set once the user has moved the selection: from then on
	// it follows that process through refreshes and re-sorts. Until then
	// (and again after an explicit re-sort) the first row stays selected,
	// as in htop, so the top consumers are in sight.
	userSel bool
	// rebuilding marks selection changes made by rebuild, not the user.
	rebuilding bool
	focusPID   int
	perMapping bool
	paused     bool
	interval   time.Duration
	showPanels bool
	// panelFocus is the index of the panel that has the keys, -1 for the
	// table.
	panelFocus int

	inputMode    inputMode
	inputSetting bool
	search       string
	searchFrom   int

	status      string
	statusUntil uint64 // frame seq until which status shows
	// applyLag is how late the last frame was applied after its scan.
	applyLag time.Duration

	started   chan struct{}
	startOnce bool
	cancel    context.CancelFunc
	lastW     int
	lastH     int
	meterRows int
	headerH   int
}

// New builds the dashboard over a Source.
func New(src Source, opts Options) *Dashboard {
	d := &Dashboard{
		app:        tview.NewApplication(),
		src:        src,
		opts:       opts,
		interval:   opts.Interval,
		showPanels: true,
		panelFocus: -1,
		started:    make(chan struct{}),
		showPanel:  map[string]bool{},
	}
	if d.interval <= 0 {
		d.interval = time.Second
	}
	d.cfg = DefaultConfig()
	if opts.Config != nil {
		d.cfg = *opts.Config
	}
	d.vo = viewOpts{states: opts.States, folded: map[collector.ID]bool{}}
	d.vo.setFilter(opts.Filter)
	d.scope = newPIDScope(opts.PIDs)
	if len(opts.PIDs) > 0 {
		d.vo.pids = map[int]bool{}
		for _, p := range opts.PIDs {
			d.vo.pids[p] = true
		}
	}
	if len(opts.Users) > 0 {
		d.vo.users = map[string]bool{}
		for _, u := range opts.Users {
			d.vo.users[u] = true
		}
	}
	if opts.Screen != nil {
		d.app.SetScreen(newFrameScreen(opts.Screen))
	}
	d.build()
	d.applyConfig(d.cfg, true)
	if opts.ConfigNote != "" {
		d.status = "[red]" + inert(opts.ConfigNote) + "[-]"
		d.statusUntil = 5
		d.updateKeys()
	}
	return d
}

// App returns the tview application (for tests).
func (d *Dashboard) App() *tview.Application { return d.app }

// applyConfig takes a setup: columns, sort, meters, panels, switches;
// at start also the interval (asked of the Source).
func (d *Dashboard) applyConfig(c Config, start bool) {
	d.cfg = c
	d.model.cols = d.model.cols[:0]
	for _, k := range normalColumns(c.Columns) {
		if id, ok := colByKey(k); ok {
			d.model.cols = append(d.model.cols, id)
		}
	}
	if id, ok := colByKey(c.Sort); ok {
		d.vo.sortCol, d.vo.sortDesc = id, c.SortDesc
	}
	d.meters = [numMeters]bool{}
	for _, k := range c.Meters {
		if m, ok := meterByKey(k); ok {
			d.meters[m] = true
		}
	}
	clear(d.showPanel)
	for _, p := range c.Panels {
		d.showPanel[p] = true
	}
	d.vo.tree = c.Tree
	d.vo.hideKernel = c.HideKernelThreads
	// At start the file's interval, unless the command line gave one.
	if c.Interval > 0 && d.opts.Timeline == nil && (start && !d.opts.IntervalSet || !start && c.Interval != d.interval) {
		d.askInterval(c.Interval)
	}
	d.model.setHeader(d.vo)
	d.relayoutPanels()
	d.rebuild()
	d.updateHeader()
	d.updatePanels()
}

// currentConfig is the setup as it stands.
func (d *Dashboard) currentConfig() Config {
	c := Config{Sort: colDefs[d.vo.sortCol].key, SortDesc: d.vo.sortDesc, Interval: d.cfg.Interval,
		Tree: d.vo.tree, HideKernelThreads: d.vo.hideKernel}
	if d.intervalChosen > 0 {
		c.Interval = d.intervalChosen
	}
	for _, id := range d.model.cols {
		c.Columns = append(c.Columns, colDefs[id].key)
	}
	for m := meterID(0); m < numMeters; m++ {
		if d.meters[m] {
			c.Meters = append(c.Meters, meterDefs[m].key)
		}
	}
	for _, n := range panelNames() {
		if d.showPanel[n] {
			c.Panels = append(c.Panels, n)
		}
	}
	return c
}

func (d *Dashboard) build() {
	d.header = newHeaderView()
	d.model = newTableModel(func(c colID) { d.sortBy(c, c == d.vo.sortCol) })
	d.table = newProcTable(d.model)
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
		if action == tview.MouseLeftClick || action == tview.MouseScrollUp || action == tview.MouseScrollDown {
			d.focusPanel(-1)
		}
		return action, ev
	})

	d.log = newEventLog()
	for _, mk := range bottomPanels {
		d.panels = append(d.panels, mk(d))
	}
	d.bottom = tview.NewFlex()

	d.keys = newHeaderView()
	d.input = tview.NewInputField().SetFieldBackgroundColor(tcell.ColorNavy)
	d.input.SetChangedFunc(d.inputChanged)
	d.input.SetDoneFunc(d.inputDone)
	d.input.SetInputCapture(d.inputKey)
	d.footer = tview.NewPages().
		AddPage("keys", d.keys, true, true).
		AddPage("input", d.input, true, false)

	d.main = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(d.header, 3, 0, false).
		AddItem(d.table, 0, 1, true).
		AddItem(d.bottom, 0, 0, false).
		AddItem(d.footer, 1, 0, false)

	d.detail = newDetailView(d)
	d.help = tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(true).SetWordWrap(true)
	d.help.SetBorder(true).SetTitle(" pinspect: every key (Esc, q, F1 or ? closes; ↑ ↓ scroll) ")
	d.confirm = tview.NewModal()
	d.setup = newSetupView(d)

	d.pages = tview.NewPages().
		AddPage(pageMain, d.main, true, true).
		AddPage(pageDetail, d.detail.root, true, false).
		AddPage(pageHelp, d.help, true, false).
		AddPage(pageSetup, d.setup.root, true, false)
	d.app.SetRoot(rootPages{d.pages}, true).EnableMouse(true)
	d.app.SetInputCapture(d.onKey)
	d.app.SetBeforeDrawFunc(d.beforeDraw)
	d.updateKeys()
}

// relayoutPanels puts the shown panels in the bottom row.
func (d *Dashboard) relayoutPanels() {
	d.bottom.Clear()
	for _, p := range d.panels {
		if d.showPanel[p.name] {
			d.bottom.AddItem(p.box, 0, p.weight, false)
		}
	}
	if d.panelFocus >= 0 && !d.showPanel[d.panels[d.panelFocus].name] {
		d.focusPanel(-1)
	}
	d.layout(d.lastW, d.lastH)
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
		d.updateHeader()
	}
	return false
}

// meterTallH is the height from which the meters get their own lines for
// PSI (below it, PSI is text on the first header line).
const meterTallH = 30

// layout sizes the fixed parts so that any screen, down to 1x1, draws.
// At 80x24: two meter lines, three header lines, the table, a bottom
// panel row of at most a fifth of the screen, the footer.
func (d *Dashboard) layout(w, h int) {
	if d.main == nil || h <= 0 {
		return
	}
	footerH := 1
	if h < 3 {
		footerH = 0
	}
	switch {
	case h < 12:
		d.meterRows = 0
	case h < meterTallH:
		d.meterRows = 2
	case h < 45:
		d.meterRows = 4
	default:
		d.meterRows = 8
	}
	headerH := d.headerH
	if headerH == 0 {
		headerH = 3
	}
	if h < 8 {
		headerH = 0
	} else {
		headerH = min(headerH, h/2)
	}
	bottomH := 0
	if d.showPanels && d.bottom.GetItemCount() > 0 && h >= 20 {
		bottomH = min(max(h/5, 5), 14)
	}
	d.main.ResizeItem(d.header, headerH, 0)
	d.main.ResizeItem(d.bottom, bottomH, 0)
	d.main.ResizeItem(d.footer, footerH, 0)
	d.detail.layout(w, h)
	if d.panelFocus >= 0 && bottomH == 0 {
		d.focusPanel(-1)
	}
}

// Run runs the dashboard until q (or ctx ends), then restores the
// terminal. It subscribes to the Source and stops its feeding goroutine
// before the application stops.
func (d *Dashboard) Run(ctx context.Context) error {
	if d.opts.Screen == nil {
		// The terminal's screen, behind a frameScreen (tview would make
		// the screen itself).
		s, err := tcell.NewScreen()
		if err != nil {
			return err
		}
		fs := newFrameScreen(s)
		if d.app.SetScreen(fs); fs.initErr != nil {
			return fs.initErr
		}
		fs.EnableMouse() // tview's Run does this only for a screen it makes
	}
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
	var shown *collector.Snapshot // the last frame's, for Options.Drawn
	if f := d.src.Latest(); f != nil {
		d.app.QueueUpdateDraw(func() { d.apply(f) })
		if d.opts.Drawn != nil {
			shown = f.Snapshot
		}
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
				f = skipFrame(f, g)
			default:
				break drain
			}
		}
		if ctx.Err() != nil {
			return
		}
		d.app.QueueUpdateDraw(func() { d.apply(f) })
		if d.opts.Drawn != nil && f.Snapshot != shown {
			shown = f.Snapshot
			d.app.QueueUpdate(d.opts.Drawn) // after the draw above
		}
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

// skipFrame is the newer frame g standing for the skipped frame f too:
// f's events come before g's, and the lag is the larger of the two (g's
// kernel source may have converted nothing since f, so its own lag can
// be 0 while the events shown are f's, and they must not look live).
func skipFrame(f, g *monitor.Frame) *monitor.Frame {
	if len(f.Events) == 0 && f.EventsBehind <= g.EventsBehind {
		return g
	}
	merged := *g
	merged.Events = append(slices.Clone(f.Events), g.Events...)
	merged.EventsBehind = max(f.EventsBehind, g.EventsBehind)
	return &merged
}

// apply takes a new frame. It runs on the UI goroutine.
func (d *Dashboard) apply(f *monitor.Frame) {
	if f == nil || (d.frame != nil && f.Seq != 0 && f.Seq <= d.frame.Seq && f.Snapshot == d.frame.Snapshot) {
		return
	}
	if f.Snapshot != nil && !f.Paused && d.opts.Timeline == nil && d.opts.Origin == "" {
		d.applyLag = max(time.Since(f.Snapshot.TakenAt)-f.Snapshot.ScanDuration, 0)
	} else {
		d.applyLag = 0
	}
	d.fd = newFrameData(f)
	d.frame = f
	d.focus = d.fd.focus()
	if iv := d.asked.frameInterval(f); iv > 0 {
		d.interval = iv
	}
	secs := 0.0
	if f.Rates != nil {
		secs = f.Rates.Seconds
	}
	d.log.add(d.scope.events(f), secs)
	pruneTags(d.model.tagged, f.Snapshot)
	d.rebuild()
	d.updateHeader()
	d.updatePanels()
	if tn, ok := d.opts.Timeline.(TimelineNotices); ok {
		if n := tn.TakeNotice(); n != "" {
			d.setStatus("[yellow]" + inert(n) + "[-]")
		}
	}
	d.updateKeys()
	d.detail.refresh()
}

// pruneTags drops the tags of processes that are gone from snap (by
// identity: a pid reused by a newcomer does not inherit the tag), so the
// header counts live tagged processes only and no tag outlives its
// process.
func pruneTags(tagged map[collector.ID]bool, snap *collector.Snapshot) {
	if len(tagged) == 0 || snap == nil {
		return
	}
	live := 0
	for i := range snap.Processes {
		if tagged[snap.Processes[i].ID()] {
			live++
		}
	}
	if live == len(tagged) {
		return
	}
	alive := make(map[collector.ID]bool, live)
	for i := range snap.Processes {
		if id := snap.Processes[i].ID(); tagged[id] {
			alive[id] = true
		}
	}
	clear(tagged)
	maps.Copy(tagged, alive)
}

// updatePanels reformats the shown bottom panels.
func (d *Dashboard) updatePanels() {
	for _, p := range d.panels {
		if d.showPanel[p.name] && p.update != nil {
			p.update()
		}
	}
}

// rebuild recomputes the table rows and keeps the selection on the same
// process.
func (d *Dashboard) rebuild() {
	_, _, d.model.tableWidth, _ = d.table.GetInnerRect()
	d.model.rebuild(d.fd, d.vo, d.focus)
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
// sample at once, so it is asked only when the answer changes. The
// Memory tab also asks for each mapping's resident memory.
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
	perMapping := d.detail.isOpen() && d.detail.tabName() == "Memory"
	if mf, ok := d.src.(MemoryFocuser); ok && perMapping != d.perMapping {
		d.perMapping = perMapping
		mf.FocusMemory(perMapping)
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

// sortBy sorts by a column (inverting the order when invert is set and
// it is the current column). An explicit re-sort shows the top of the
// list: the selection goes to the first row, as in htop.
func (d *Dashboard) sortBy(c colID, invert bool) {
	if d.vo.sortCol == c && invert {
		d.vo.sortDesc = !d.vo.sortDesc
	} else if d.vo.sortCol != c {
		d.vo.sortCol, d.vo.sortDesc = c, colDefs[c].desc
	}
	d.userSel = false
	d.table.ScrollToBeginning()
	d.rebuild()
	d.updateHeader()
}

// setStatus shows a message in the footer for two frames.
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
	case pageConfirm, pageMenu:
		return ev // the dialog's own keys; Esc closes it
	case pageHelp:
		switch {
		case ev.Key() == tcell.KeyEscape, ev.Key() == tcell.KeyF1, ev.Key() == tcell.KeyF10,
			ev.Key() == tcell.KeyRune && strings.ContainsRune("?qh", ev.Rune()):
			d.pages.HidePage(pageHelp)
			d.restoreFocus()
			return nil
		}
		return ev
	case pageSetup:
		return d.setup.onKey(ev)
	}
	if d.inputMode != inputNone {
		return ev // the input line's capture sees it first
	}
	if front == pageDetail {
		if d.detail.onKey(ev) {
			return nil
		}
		if d.runKey(ev, inDetail) {
			return nil
		}
		return d.unbound(ev, "in the detail view")
	}
	if d.panelFocus >= 0 {
		p := d.panels[d.panelFocus]
		if p.onKey != nil && p.onKey(ev) {
			return nil
		}
		switch ev.Key() {
		case tcell.KeyEscape:
			d.focusPanel(-1)
			return nil
		case tcell.KeyUp, tcell.KeyDown, tcell.KeyPgUp, tcell.KeyPgDn, tcell.KeyHome, tcell.KeyEnd:
			return ev
		}
	}
	if d.runKey(ev, inMain) {
		return nil
	}
	switch ev.Key() {
	case tcell.KeyRune:
		switch ev.Rune() {
		case 'j':
			return tcell.NewEventKey(tcell.KeyDown, 0, tcell.ModNone)
		case 'g':
			d.table.Select(1, 0)
			return nil
		case 'G':
			d.table.Select(len(d.model.rows), 0)
			return nil
		}
		return d.unbound(ev, "here")
	case tcell.KeyF11, tcell.KeyF12:
		return d.unbound(ev, "here")
	}
	return ev
}

// unbound says that a key does nothing, instead of doing nothing
// silently; keys the focused primitive uses (arrows, Enter) pass.
func (d *Dashboard) unbound(ev *tcell.EventKey, where string) *tcell.EventKey {
	if ev.Key() != tcell.KeyRune && ev.Key() < tcell.KeyF1 || ev.Key() > tcell.KeyF64 && ev.Key() != tcell.KeyRune {
		return ev
	}
	name := ev.Name()
	if ev.Key() == tcell.KeyRune {
		name = strconv.QuoteRune(ev.Rune())
	}
	d.setStatus("[yellow]" + tview.Escape(name) + " does nothing " + where + " (? lists every key)[-]")
	return nil
}

// restoreFocus gives the keys back to the front page's main primitive.
func (d *Dashboard) restoreFocus() {
	front, _ := d.pages.GetFrontPage()
	switch {
	case front == pageDetail:
		d.app.SetFocus(d.detail.focusTarget())
	case front == pageSetup:
		d.app.SetFocus(d.setup.focusTarget())
	case d.panelFocus >= 0:
		d.app.SetFocus(d.panels[d.panelFocus].focus)
	default:
		d.app.SetFocus(d.table)
	}
}

func (d *Dashboard) showHelp() {
	d.help.SetText(d.helpText())
	d.help.ScrollToBeginning()
	d.pages.ShowPage(pageHelp)
	d.app.SetFocus(d.help)
}

func (d *Dashboard) toggleTree() {
	d.vo.tree = !d.vo.tree
	d.rebuild()
	d.updateHeader()
}

// fold collapses (true) or expands the selected process's subtree.
func (d *Dashboard) fold(collapse bool) {
	if !d.vo.tree {
		d.setStatus("[yellow]+ and - fold subtrees in the tree view (F5); the interval is d and D[-]")
		return
	}
	rw := d.selected()
	if rw == nil {
		return
	}
	id := rw.p.ID()
	if collapse {
		i := d.model.find(rw.key())
		if !d.model.hasChildren(i) {
			d.setStatus("[yellow]" + strconv.Itoa(rw.p.PID) + " has no children to fold[-]")
			return
		}
		d.vo.folded[id] = true
	} else {
		delete(d.vo.folded, id)
	}
	d.rebuild()
}

// foldAll expands every folded subtree, or when none is folded folds
// every process that has children.
func (d *Dashboard) foldAll() {
	if !d.vo.tree {
		d.setStatus("[yellow]* folds subtrees in the tree view (F5)[-]")
		return
	}
	if len(d.vo.folded) > 0 {
		clear(d.vo.folded)
	} else if d.frame != nil && d.frame.Snapshot != nil {
		parents := map[int]bool{}
		for i := range d.frame.Snapshot.Processes {
			parents[d.frame.Snapshot.Processes[i].PPID] = true
		}
		for i := range d.frame.Snapshot.Processes {
			if p := &d.frame.Snapshot.Processes[i]; parents[p.PID] && p.PID > 1 {
				d.vo.folded[p.ID()] = true
			}
		}
	}
	d.rebuild()
}

// tagSelected tags or untags the selected process and moves down.
func (d *Dashboard) tagSelected() {
	rw := d.selected()
	if rw == nil {
		return
	}
	id := rw.p.ID()
	if d.model.tagged[id] {
		delete(d.model.tagged, id)
	} else {
		d.model.tagged[id] = true
	}
	d.model.refresh()
	if r, _ := d.table.GetSelection(); r < len(d.model.rows) {
		d.table.Select(r+1, 0)
	}
	d.updateHeader()
}

// tagChildren tags the selected process and all its descendants.
func (d *Dashboard) tagChildren() {
	rw := d.selected()
	if rw == nil || d.frame == nil || d.frame.Snapshot == nil {
		return
	}
	kids := map[int][]*collector.Process{}
	procs := d.frame.Snapshot.Processes
	for i := range procs {
		kids[procs[i].PPID] = append(kids[procs[i].PPID], &procs[i])
	}
	n := 0
	var walk func(p *collector.Process, depth int)
	walk = func(p *collector.Process, depth int) {
		if depth > 4096 || d.model.tagged[p.ID()] && depth > 0 {
			return
		}
		d.model.tagged[p.ID()] = true
		n++
		for _, c := range kids[p.PID] {
			if c.PID != p.PID {
				walk(c, depth+1)
			}
		}
	}
	walk(rw.p, 0)
	d.model.refresh()
	d.setStatus("tagged " + lifecycle.CountOf(n, "process", "processes"))
	d.updateHeader()
}

func (d *Dashboard) untagAll() {
	clear(d.model.tagged)
	d.model.refresh()
	d.updateHeader()
}

func (d *Dashboard) toggleKernel() {
	d.vo.hideKernel = !d.vo.hideKernel
	d.rebuild()
	d.updateHeader()
	if d.vo.hideKernel {
		d.setStatus("kernel threads hidden (K shows them)")
	} else {
		d.setStatus("kernel threads shown")
	}
}

// toggleThreads shows every process's threads: the Source reads them
// for every process when it can (ThreadSampler), else only the selected
// one's come (and the header says so).
func (d *Dashboard) toggleThreads() {
	d.vo.threads = !d.vo.threads
	if ts, ok := d.src.(ThreadSampler); ok {
		ts.SampleThreads(d.vo.threads)
	} else if d.vo.threads {
		d.setStatus("[yellow]this source gives the selected process's threads only[-]")
	}
	d.rebuild()
	d.updateHeader()
	d.updateFocus()
}

func (d *Dashboard) cycleState() {
	next := 0
	for i, s := range stateCycle {
		if s == d.vo.states {
			next = (i + 1) % len(stateCycle)
		}
	}
	d.vo.states = stateCycle[next]
	d.rebuild()
	d.updateHeader()
}

func (d *Dashboard) toggleZombies() {
	if d.vo.states == "Z" {
		d.vo.states = ""
	} else {
		d.vo.states = "Z"
	}
	d.rebuild()
	d.updateHeader()
}

func (d *Dashboard) togglePause() {
	d.paused = !d.paused
	d.src.SetPaused(d.paused)
	d.updateHeader()
}

func (d *Dashboard) togglePanels() {
	d.showPanels = !d.showPanels
	d.layout(d.lastW, d.lastH)
}

// panelIndex is the index of a panel by name, -1 when there is none.
func (d *Dashboard) panelIndex(name string) int {
	for i, p := range d.panels {
		if p.name == name {
			return i
		}
	}
	return -1
}

// nextPanel gives the keys to the next shown panel, after the last back
// to the table.
func (d *Dashboard) nextPanel() {
	if !d.showPanels || d.lastH < 20 {
		d.setStatus("[yellow]no panel shown (e shows them; they need 20 lines)[-]")
		return
	}
	for i := d.panelFocus + 1; i < len(d.panels); i++ {
		if d.showPanel[d.panels[i].name] {
			d.focusPanel(i)
			return
		}
	}
	d.focusPanel(-1)
}

// focusPanel gives the keys to panel i (-1: the table).
func (d *Dashboard) focusPanel(i int) {
	for j, p := range d.panels {
		if bx, ok := p.box.(bordered); ok {
			setBorderFocus(bx, j == i)
		}
	}
	d.panelFocus = i
	d.restoreFocus()
	d.updateKeys()
}

// bordered is a primitive with a border colour (every tview widget).
type bordered interface {
	SetBorderColor(tcell.Color) *tview.Box
}

func (d *Dashboard) stepInterval(dir int) {
	i := 0
	for i < len(intervals)-1 && intervals[i] < d.interval {
		i++
	}
	i = min(max(i+dir, 0), len(intervals)-1)
	d.askInterval(intervals[i])
	if d.opts.Timeline == nil {
		d.intervalChosen = d.interval
	}
	d.updateHeader()
	d.setStatus("refresh every " + intervalString(d.interval))
}

// askInterval shows interval iv and asks the Source for it. Frames
// already taken (in the subscription's buffer, or a scan under way)
// still carry the interval before; they must not put it back on the
// header, nor be where the next d or D steps from.
func (d *Dashboard) askInterval(iv time.Duration) {
	d.interval = iv
	d.src.SetInterval(iv)
	d.asked = intervalAsk{iv: iv, at: time.Now(), stale: maxStaleFrames}
}

// maxStaleFrames bounds the frames whose interval is passed over after an
// ask (intervalAsk): a monitor has at most one frame in the
// subscription's buffer and one scan under way when the ask comes, and a
// Source that does not take the interval (a remote agent has its own)
// shows its own again after these.
const maxStaleFrames = 2

// intervalAsk is an interval asked of the Source (d, D, F2 or the config
// file) and not yet seen in a frame.
type intervalAsk struct {
	iv    time.Duration // 0: nothing pending
	at    time.Time     // when it was asked
	stale int           // frames that may still be passed over
}

// frameInterval is the interval frame f says is in force, or 0 when the
// header keeps its own: f has none, or f was taken before the pending
// ask at the interval before it. A frame with the asked interval, or
// taken after the ask, or past maxStaleFrames ends the ask.
func (a *intervalAsk) frameInterval(f *monitor.Frame) time.Duration {
	if f.Interval <= 0 {
		return 0
	}
	if a.iv > 0 && f.Interval != a.iv && a.stale > 0 && f.Snapshot != nil && f.Snapshot.TakenAt.Before(a.at) {
		a.stale--
		return 0
	}
	*a = intervalAsk{}
	return f.Interval
}

// clearFilters is Esc on the table: the filter, search, user, cgroup and
// state filters go (--pid stays: it is the command line's).
func (d *Dashboard) clearFilters() {
	if d.vo.filter == "" && d.vo.states == "" && d.vo.users == nil && d.vo.workload == "" && d.search == "" {
		return
	}
	d.vo.setFilter("")
	d.vo.states, d.vo.users, d.vo.workload, d.search = "", nil, "", ""
	d.rebuild()
	d.updateHeader()
	d.updatePanels()
}

func (d *Dashboard) openDetail() {
	rw := d.selected()
	if rw == nil {
		return
	}
	d.detail.open(rw.p.ID())
	d.pages.SwitchToPage(pageDetail)
	d.app.SetFocus(d.detail.focusTarget())
	d.updateKeys()
	d.updateFocus()
}

func (d *Dashboard) closeDetail() {
	d.detail.opened = false
	d.pages.SwitchToPage(pageMain)
	d.restoreFocus()
	d.updateKeys()
	d.updateFocus()
}

// openSetup shows F2's setup page.
func (d *Dashboard) openSetup() {
	d.setup.open()
	d.pages.SwitchToPage(pageSetup)
	d.app.SetFocus(d.setup.focusTarget())
}
