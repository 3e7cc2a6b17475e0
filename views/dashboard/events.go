package dashboard

import (
	"strconv"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// maxEvents bounds the event log (a churning machine makes hundreds of
// events a second; the oldest go first).
const maxEvents = 5000

// eventLogCap is the most events the log holds (eventLog.add).
const eventLogCap = maxEvents + maxEvents/4

// eventLog keeps the most recent lifecycle events and is the event
// panel's virtual table: newest first, only the events matching its
// filter, each row formatted when first drawn. It is touched only on
// the UI goroutine.
type eventLog struct {
	tview.TableContentReadOnly
	events []lifecycle.Event // oldest first
	base   int64             // the sequence number of events[0]
	filter string            // lower-case
	typed  string            // the filter as typed, shown in the title
	idx    []int32           // indices into events of the matching ones, oldest first
	cache  map[int64][]tview.TableCell
	header []tview.TableCell
	// perSec is the events' rate over the last frame.
	perSec float64
	// followed is true while the panel shows the newest events (its
	// selection on the first row); newSince counts the rows added on top
	// since the panel last looked.
	followed bool
	newSince int
}

func newEventLog() *eventLog {
	l := &eventLog{cache: map[int64][]tview.TableCell{}, followed: true}
	for i, t := range []string{"TIME", "EVENT", "PID", "DETAIL"} {
		c := tview.NewTableCell(t).SetSelectable(false).SetTextColor(tcell.ColorBlack).SetBackgroundColor(tcell.ColorGreen)
		switch i {
		case 2:
			c.SetAlign(tview.AlignRight)
		case 3:
			c.SetExpansion(1)
		}
		l.header = append(l.header, *c)
	}
	return l
}

// add appends a frame's events, dropping the oldest beyond maxEvents.
//
// The log holds up to a quarter more than maxEvents before it drops the
// oldest (all at once, so that a frame does not move every event), and
// its slice is sized for that and no more: grown by doubling it went
// from 4,096 to 8,192 events of 216 bytes (1.8 MB), with the old array
// alive during the copy, on a churning machine.
func (l *eventLog) add(evs []lifecycle.Event, secs float64) {
	if secs > 0 {
		l.perSec = float64(len(evs)) / secs
	}
	if len(evs) == 0 {
		return
	}
	if len(evs) > maxEvents {
		evs = evs[len(evs)-maxEvents:]
	}
	if over := len(l.events) + len(evs) - maxEvents; over > maxEvents/4 {
		// Dropped before the append: at most eventLogCap are ever held.
		n := copy(l.events, l.events[over:])
		clear(l.events[n:]) // no strings kept alive past the end
		l.events = l.events[:n]
		l.base += int64(over)
		k := 0
		for _, i := range l.idx {
			if i -= int32(over); i >= 0 {
				l.idx[k] = i
				k++
			}
		}
		l.idx = l.idx[:k]
		clear(l.cache)
	}
	start := len(l.events)
	if need := start + len(evs); need > cap(l.events) {
		grown := make([]lifecycle.Event, start, min(max(2*cap(l.events), need, 64), eventLogCap))
		copy(grown, l.events)
		l.events = grown
	}
	l.events = append(l.events, evs...)
	for i := start; i < len(l.events); i++ {
		if l.match(&l.events[i]) {
			l.idx = append(l.idx, int32(i))
			l.newSince++
		}
	}
}

// setFilter filters the panel by text ("" shows every event), matched
// without regard to case and shown as typed.
func (l *eventLog) setFilter(text string) {
	l.filter, l.typed = lifecycle.LowerASCII(text), text
	l.idx = l.idx[:0]
	for i := range l.events {
		if l.match(&l.events[i]) {
			l.idx = append(l.idx, int32(i))
		}
	}
}

// match reports whether an event passes the filter: its type, its pid
// or its parent's (leading digits), its comm or executable, or the path
// it exec'd (lifecycle.ExecPath).
func (l *eventLog) match(e *lifecycle.Event) bool {
	f := l.filter
	if f == "" {
		return true
	}
	return strings.Contains(string(e.Type), f) || strings.HasPrefix(strconv.Itoa(e.ID.PID), f) ||
		e.TID != 0 && strings.HasPrefix(strconv.Itoa(e.TID), f) || e.PPID != 0 && strings.HasPrefix(strconv.Itoa(e.PPID), f) ||
		lifecycle.ContainsFold(e.Comm, f) || lifecycle.ContainsFold(e.OldComm, f) || lifecycle.ContainsFold(e.Exe, f) || e.ExecPath.Matches(f)
}

// title is the panel's title: how many events, the filter, the rate and
// the lag when it grows.
func (l *eventLog) title(d *Dashboard) string {
	// The count first: a narrow panel cuts its title at the end.
	s := "events: " + strconv.Itoa(len(l.events))
	if sc := d.scope.label(); sc != "" {
		s += " " + sc
	}
	if l.filter != "" {
		s += " [yellow]filter " + inert(l.typed) + ": " + strconv.Itoa(len(l.idx)) + "[-]"
	}
	s += " · " + rateString(l.perSec) + "/s"
	if lag := d.eventLag(); lag >= d.eventsBehindAfter() {
		s += " · [red::b]" + durationString(lag) + " behind[-::-]"
	}
	if !l.followed {
		s += " · [yellow]scrolled[-]"
	}
	return s
}

// GetRowCount implements tview.TableContent.
func (l *eventLog) GetRowCount() int { return len(l.idx) + 1 }

// GetColumnCount implements tview.TableContent.
func (l *eventLog) GetColumnCount() int { return len(l.header) }

// GetCell implements tview.TableContent: row 1 is the newest event.
func (l *eventLog) GetCell(r, c int) *tview.TableCell {
	if c < 0 || c >= len(l.header) || r < 0 || r > len(l.idx) {
		return nil
	}
	if r == 0 {
		return &l.header[c]
	}
	i := l.idx[len(l.idx)-r]
	seq := l.base + int64(i)
	cells, ok := l.cache[seq]
	if !ok {
		if len(l.cache) > 512 {
			clear(l.cache)
		}
		cells = eventCells(&l.events[i], l.header)
		l.cache[seq] = cells
	}
	return &cells[c]
}

// eventCells formats one event's row.
func eventCells(e *lifecycle.Event, header []tview.TableCell) []tview.TableCell {
	pid := strconv.Itoa(e.ID.PID)
	if e.TID != 0 && (e.Type == lifecycle.ThreadStart || e.Type == lifecycle.ThreadExit) {
		pid = strconv.Itoa(e.TID)
	}
	name := string(e.Type)
	if e.FromKernel() {
		name += "*"
	}
	text := []string{e.Time.Local().Format("15:04:05"), name, pid, eventDetail(e)}
	cells := make([]tview.TableCell, len(header))
	for i := range cells {
		cells[i] = tview.TableCell{Text: text[i], Color: eventColor(e.Type), Align: header[i].Align, Expansion: header[i].Expansion}
	}
	return cells
}

// eventColor colours an event type.
func eventColor(t lifecycle.EventType) tcell.Color {
	switch t {
	case lifecycle.Spawn, lifecycle.ThreadStart:
		return tcell.ColorLime
	case lifecycle.Exit, lifecycle.ThreadExit:
		return tcell.ColorSilver
	case lifecycle.Zombie:
		return tcell.ColorRed
	case lifecycle.Reaped:
		return tcell.ColorTeal
	case lifecycle.Reparent:
		return tcell.ColorYellow
	case lifecycle.Exec:
		return tcell.ColorAqua
	case lifecycle.Lost:
		return tcell.ColorOrange
	}
	return tcell.ColorWhite
}

// eventDetail describes an event in one inert line. A name that is not
// known (an empty comm or old comm) shows as lifecycle.UnknownName, as in
// the text outputs, and the event's note, when it has one, ends the line.
func eventDetail(e *lifecycle.Event) string {
	s := eventWhat(e)
	if e.Note != "" && e.Type != lifecycle.Lost {
		s += " " + inert(e.Note)
	}
	return s
}

// inertName is an event's name as the text outputs show it
// (sanitize.Name: lifecycle.UnknownName when not known, quoted when it
// would read as that), made inert.
func inertName(name string) string { return inert(sanitize.Name(name, lifecycle.UnknownName)) }

// eventWhat is eventDetail without the note.
func eventWhat(e *lifecycle.Event) string {
	comm := inertName(e.Comm)
	switch e.Type {
	case lifecycle.Spawn:
		return comm + " ← parent " + strconv.Itoa(e.PPID)
	case lifecycle.Exec:
		s := inertName(e.OldComm) + " → " + comm
		if e.Exe != "" {
			s += " (" + inert(e.Exe) + ")"
		}
		return s
	case lifecycle.Exit:
		if e.ExitStatus != nil {
			return comm + " " + e.ExitStatus.String()
		}
		return comm
	case lifecycle.Zombie:
		return comm + " is a zombie; parent " + strconv.Itoa(e.PPID) + " has not reaped it"
	case lifecycle.Reaped:
		return comm + " reaped by " + strconv.Itoa(e.PPID)
	case lifecycle.Reparent:
		s := comm + " parent " + strconv.Itoa(e.OldPPID) + " → " + strconv.Itoa(e.PPID)
		if e.AdopterKind != "" {
			s += " (" + inert(e.AdopterKind) + ")"
		}
		return s
	case lifecycle.StateChange:
		return comm + " " + stateLetter(e.OldState) + " → " + stateLetter(e.State)
	case lifecycle.Rename:
		return inertName(e.OldComm) + " → " + comm
	case lifecycle.ThreadStart, lifecycle.ThreadExit:
		return comm + " in process " + strconv.Itoa(e.ID.PID)
	case lifecycle.Lost:
		return inert(e.Note)
	}
	return comm
}

func stateLetter(s byte) string {
	if s == 0 {
		return "?"
	}
	return string(rune(s))
}
