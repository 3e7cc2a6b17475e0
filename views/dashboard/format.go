package dashboard

import (
	"strconv"
	"strings"
	"time"

	"github.com/pinspect/pinspect/views/sanitize"
)

// maxCommandBytes caps how much of a command line is formatted for a cell.
const maxCommandBytes = 1024

// literalBracket is how a '[' is written so that tview prints it and no
// style tag can start at it: the '[' is followed by "[:::]", an empty tag
// that changes nothing. A '[' followed by '[' never parses as a tag or as
// an escaped tag, and after the empty tag the next character is plain
// text. (tview.Escape is not enough: "[:::x" opens a URL tag that runs to
// the next ']' anywhere later in the text, including an escape's own.)
const literalBracket = "[[:::]"

// inert makes a string from /proc safe for a tview cell or text view with
// colours: control characters and escape sequences become inert
// (sanitize.Terminal) and every '[' is written so that tview's tags render
// literally.
func inert(s string) string {
	t := sanitize.Terminal(s)
	if strings.IndexByte(t, '[') >= 0 {
		t = strings.ReplaceAll(t, "[", literalBracket)
	}
	return t
}

// inertArgs joins a command line (capped at maxCommandBytes) and makes it
// inert.
func inertArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if room := maxCommandBytes - b.Len(); len(a) > room {
			b.WriteString(a[:max(room, 0)])
			b.WriteString("…")
			break
		}
		b.WriteString(a)
	}
	return inert(b.String())
}

// humanBytes formats a byte count the way top does: 512K, 12.3M, 1.5G.
func humanBytes(b uint64) string {
	const k = 1024
	switch {
	case b < k:
		return strconv.FormatUint(b, 10) + "B"
	case b < 10*k*k:
		return strconv.FormatUint(b/k, 10) + "K"
	case b < k*k*k:
		return strconv.FormatFloat(float64(b)/(k*k), 'f', 1, 64) + "M"
	case b < k*k*k*k:
		return strconv.FormatFloat(float64(b)/(k*k*k), 'f', 1, 64) + "G"
	}
	return strconv.FormatFloat(float64(b)/(k*k*k*k), 'f', 1, 64) + "T"
}

// compactBytes formats a byte count in at most five characters for a
// table column: 512K, 9.8M, 512M, 1.5G, 210G.
func compactBytes(b uint64) string {
	const k = 1024
	v := float64(b)
	for _, u := range []string{"K", "M", "G", "T", "P"} {
		v /= k
		switch {
		case v < 10 && u != "K":
			return strconv.FormatFloat(v, 'f', 1, 64) + u
		case v < 999.5:
			return strconv.FormatFloat(v, 'f', 0, 64) + u
		}
	}
	return strconv.FormatFloat(v/k, 'f', 0, 64) + "E"
}

// rateString formats a per-second rate compactly: 0, 7, 12.5, 3.2k, 1.1M.
func rateString(v float64) string {
	switch {
	case v <= 0:
		return "0"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v < 10000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v < 10e6:
		return strconv.FormatFloat(v/1000, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
}

// percentString formats a CPU percentage with one decimal.
func percentString(v float64) string {
	if v < 0 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// durationString formats an uptime or an age: 3d04h, 5h12m, 4m09s, 12s.
func durationString(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	days, s := s/86400, s%86400
	h, s := s/3600, s%3600
	m, s := s/60, s%60
	pad := func(v int64) string {
		if v < 10 {
			return "0" + strconv.FormatInt(v, 10)
		}
		return strconv.FormatInt(v, 10)
	}
	switch {
	case days > 0:
		return strconv.FormatInt(days, 10) + "d" + pad(h) + "h"
	case h > 0:
		return strconv.FormatInt(h, 10) + "h" + pad(m) + "m"
	case m > 0:
		return strconv.FormatInt(m, 10) + "m" + pad(s) + "s"
	}
	return strconv.FormatInt(s, 10) + "s"
}

// intervalString formats a refresh interval: 250ms, 1s, 2.5s.
func intervalString(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
