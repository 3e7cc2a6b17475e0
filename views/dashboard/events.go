package dashboard

import (
	"strconv"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/collector/lifecycle"
)

// maxEvents bounds the event log.
const maxEvents = 1000

// eventLog keeps the most recent lifecycle events, newest first, with
// their rows formatted once when they arrive.
type eventLog struct {
	model  *gridModel
	events []lifecycle.Event // oldest first, for the Lifecycle tab
}

func newEventLog() *eventLog {
	return &eventLog{model: newGridModel(
		[]string{"TIME", "EVENT", "PID", "DETAIL"},
		[]bool{false, false, true, false})}
}

// add appends a frame's events.
func (l *eventLog) add(evs []lifecycle.Event) {
	if len(evs) == 0 {
		return
	}
	l.events = append(l.events, evs...)
	if over := len(l.events) - maxEvents; over > 0 {
		l.events = append(l.events[:0], l.events[over:]...)
	}
	rows := make([]gridRow, 0, min(len(evs), maxEvents)+len(l.model.rows))
	for i := len(evs) - 1; i >= 0 && len(rows) < maxEvents; i-- {
		rows = append(rows, eventRow(&evs[i]))
	}
	keep := min(len(l.model.rows), maxEvents-len(rows))
	rows = append(rows, l.model.rows[:keep]...)
	l.model.rows = rows
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

func eventRow(e *lifecycle.Event) gridRow {
	pid := strconv.Itoa(e.ID.PID)
	if e.TID != 0 && (e.Type == lifecycle.ThreadStart || e.Type == lifecycle.ThreadExit) {
		pid = strconv.Itoa(e.TID)
	}
	name := string(e.Type)
	if e.Source == "connector" {
		name += "*"
	}
	return gridRow{
		text:  []string{e.Time.Format("15:04:05"), name, pid, eventDetail(e)},
		color: eventColor(e.Type),
	}
}

// eventDetail describes an event in one inert line.
func eventDetail(e *lifecycle.Event) string {
	comm := inert(e.Comm)
	switch e.Type {
	case lifecycle.Spawn:
		return comm + " ← parent " + strconv.Itoa(e.PPID)
	case lifecycle.Exec:
		s := inert(e.OldComm) + " → " + comm
		if e.Exe != "" {
			s += " (" + inert(e.Exe) + ")"
		}
		return s
	case lifecycle.Exit:
		s := comm
		if e.ExitStatus != nil {
			s += " " + e.ExitStatus.String()
		}
		return s
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
	case lifecycle.ThreadStart, lifecycle.ThreadExit:
		return comm + " in process " + strconv.Itoa(e.ID.PID)
	case lifecycle.Lost:
		return inert(e.Note)
	}
	if e.Note != "" {
		return comm + " " + inert(e.Note)
	}
	return comm
}

func stateLetter(s byte) string {
	if s == 0 {
		return "?"
	}
	return string(rune(s))
}
