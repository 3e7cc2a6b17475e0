package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteSnapshotJSON writes the snapshot document followed by a newline:
// one compact line for pipes and scripts (indentation costs time and
// bytes for nobody to read; jq re-indents), indented for a person when
// indent is set. The bytes are what encoding/json writes for the document
// (as WriteJSON does, inert), but streamed: the processes are encoded one
// by one by hand into a reused buffer instead of by reflection into one
// buffer the size of the whole document. At 2,000 processes x 9 threads
// that was 14 % of `pinspect --json`'s CPU (encoding, growing a 15 MB
// buffer, the inert pass over it) and most of its peak RSS.
// snapshot_encode_test.go holds it to encoding/json's output on the
// fixture trees, the live /proc, every field, and fuzzed strings. Being
// streamed, a failure part-way (a write error, a NaN) leaves what was
// already written; the error says so to the caller, who exits non-zero.
func WriteSnapshotJSON(w io.Writer, d *SnapshotDoc, indent bool) error {
	if indent {
		// For a person on a terminal: indent the compact form.
		var compact bytes.Buffer
		if err := WriteSnapshotJSON(&compact, d, false); err != nil {
			return err
		}
		var out bytes.Buffer
		out.Grow(compact.Len() * 2)
		if err := json.Indent(&out, bytes.TrimSuffix(compact.Bytes(), []byte("\n")), "", "  "); err != nil {
			return err
		}
		out.WriteByte('\n')
		_, err := w.Write(out.Bytes())
		return err
	}
	// The buffer is written out whole each time it passes writeAt: no
	// bufio.Writer, which would copy every byte of the document once more.
	b := make([]byte, 0, 64<<10)
	b = append(b, `{"schema":`...)
	b = appendJSONString(b, d.Schema)
	b = append(b, `,"taken_at":`...)
	b = appendJSONString(b, d.TakenAt)
	b = append(b, `,"scan_duration_seconds":`...)
	var err error
	if b, err = appendJSONFloat(b, d.ScanDurationSeconds); err != nil {
		return err
	}
	b = append(b, `,"proc_root":`...)
	b = appendJSONString(b, d.ProcRoot)
	if b, err = appendMarshal(b, `,"summary":`, d.Summary); err != nil {
		return err
	}
	if b, err = appendMarshal(b, `,"host":`, d.Host); err != nil {
		return err
	}
	b = append(b, `,"processes":`...)
	n := d.ProcessCount()
	if d.Processes == nil && d.stream == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		// A streamed process is made into pd from scratch's storage,
		// written, and forgotten.
		var pd ProcessDoc
		var scratch docScratch
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			if d.stream != nil {
				pd = ProcessDoc{}
				fillProcessDoc(&pd, d.stream.procs[i], d.stream.threads, &scratch)
				b, err = pd.appendJSONStream(b, &scratch)
			} else {
				b, err = d.Processes[i].appendJSON(b)
			}
			if err != nil {
				return err
			}
			if len(b) >= writeAt {
				if _, err := w.Write(b); err != nil {
					return err
				}
				b = b[:0]
			}
		}
		b = append(b, ']')
	}
	if len(d.Problems) > 0 {
		if b, err = appendMarshal(b, `,"problems":`, d.Problems); err != nil {
			return err
		}
	}
	b = append(b, "}\n"...)
	_, err = w.Write(b)
	return err
}

// writeAt is how full WriteSnapshotJSON lets its 64 KiB buffer get before
// writing it out: a process's record is about 1 KiB (2 with nine
// threads), so a write is nearly the buffer's size, and a larger record
// grows the buffer once.
const writeAt = 60 << 10

// appendMarshal appends key and v as encoding/json writes it (made inert):
// for the small parts of a document that are not worth encoding by hand.
func appendMarshal(b []byte, key string, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	b = append(b, key...)
	return append(b, inertJSON(j)...), nil
}

// appendJSON appends the process as encoding/json would write it, with
// the same field order and omitempty rules as the struct tags, and
// strings made inert (see inertJSON).
func (d *ProcessDoc) appendJSON(b []byte) ([]byte, error) {
	return d.appendJSONStream(b, nil)
}

// appendJSONStream is appendJSON for a document filled with scratch
// (none: nil): its start time is scratch.startedAt, and its command line,
// when it is the last one's (scratch.cmdSame), is written as the bytes
// written for that one.
func (d *ProcessDoc) appendJSONStream(b []byte, scratch *docScratch) ([]byte, error) {
	var started time.Time
	if scratch != nil {
		started = scratch.startedAt
	}
	var err error
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(d.PID), 10)
	b = appendUintPtr(b, `,"start_ticks":`, d.StartTicks)
	b = appendStringOmit(b, `,"started_at":`, d.StartedAt)
	if d.StartedAt == "" && !started.IsZero() {
		// RFC 3339 has nothing appendJSONString would escape.
		b = append(b, `,"started_at":"`...)
		b = scratch.startSecond.appendRFC3339Nano(b, started)
		b = append(b, '"')
	}
	b = appendIntPtr(b, `,"ppid":`, d.PPID)
	b = appendIntPtr(b, `,"pgid":`, d.PGID)
	b = appendIntPtr(b, `,"sid":`, d.SID)
	b = appendIntPtr(b, `,"tty_nr":`, d.TTYNr)
	b = appendStringOmit(b, `,"tty":`, d.TTY)
	b = appendIntPtr(b, `,"uid":`, d.UID)
	b = appendIntPtr(b, `,"euid":`, d.EUID)
	b = appendStringOmit(b, `,"user":`, d.User)
	if d.Comm != nil {
		b = append(b, `,"comm":`...)
		b = appendJSONString(b, *d.Comm)
	}
	b = appendStringOmit(b, `,"comm_raw_base64":`, d.CommRawBase64)
	b = appendStringOmit(b, `,"state":`, d.State)
	b = appendStringOmit(b, `,"state_name":`, d.StateName)
	b = appendBoolOmit(b, `,"kernel_thread":`, d.KernelThread)
	b = appendBoolOmit(b, `,"leader_exited":`, d.LeaderExited)
	b = appendCmdline(b, d.Cmdline, scratch)
	b = appendStringsOmit(b, `,"cmdline_raw_base64":`, d.CmdlineRaw)
	b = appendBoolOmit(b, `,"cmdline_truncated":`, d.CmdlineTrunc)
	b = appendBoolOmit(b, `,"cmdline_is_title":`, d.CmdlineTitle)
	b = appendStringOmit(b, `,"exe":`, d.Exe)
	b = appendStringOmit(b, `,"exe_raw_base64":`, d.ExeRawBase64)
	b = appendBoolOmit(b, `,"exe_deleted":`, d.ExeDeleted)
	b = appendInt64Ptr(b, `,"nice":`, d.Nice)
	b = appendInt64Ptr(b, `,"priority":`, d.Priority)
	b = appendStringOmit(b, `,"policy":`, d.Policy)
	b = appendUintPtr(b, `,"rt_priority":`, d.RTPriority)
	b = appendInt64Ptr(b, `,"num_threads":`, d.NumThreads)
	if b, err = appendFloatPtr(b, `,"utime_seconds":`, d.UserSeconds); err != nil {
		return b, err
	}
	if b, err = appendFloatPtr(b, `,"stime_seconds":`, d.SystemSeconds); err != nil {
		return b, err
	}
	b = appendUintPtr(b, `,"rss_bytes":`, d.RSSBytes)
	b = appendUintPtr(b, `,"vsize_bytes":`, d.VSizeBytes)
	b = appendInt64Ptr(b, `,"last_cpu":`, d.LastCPU)
	b = appendUintPtr(b, `,"minor_faults":`, d.MinorFaults)
	b = appendUintPtr(b, `,"major_faults":`, d.MajorFaults)
	b = appendUintPtr(b, `,"voluntary_ctxt_switches":`, d.VolCtx)
	b = appendUintPtr(b, `,"involuntary_ctxt_switches":`, d.InvolCtx)
	b = appendStringOmit(b, `,"ctxt_switches_source":`, d.CtxSource)
	b = appendUintPtr(b, `,"leader_voluntary_ctxt_switches":`, d.LeaderVolCtx)
	b = appendUintPtr(b, `,"leader_involuntary_ctxt_switches":`, d.LeaderInvolCtx)
	b = appendIntPtr(b, `,"tracer_pid":`, d.TracerPID)
	if len(d.NSPids) > 0 {
		b = append(b, `,"nspids":[`...)
		for i, v := range d.NSPids {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(v), 10)
		}
		b = append(b, ']')
	}
	if s := d.Signals; s != nil {
		b = append(b, `,"signals":{"pending":`...)
		b = appendJSONString(b, s.Pending)
		b = append(b, `,"shared_pending":`...)
		b = appendJSONString(b, s.SharedPending)
		b = append(b, `,"blocked":`...)
		b = appendJSONString(b, s.Blocked)
		if s.Ignored != "" {
			b = append(b, `,"ignored":`...)
			b = appendJSONString(b, s.Ignored)
		}
		if s.Caught != "" {
			b = append(b, `,"caught":`...)
			b = appendJSONString(b, s.Caught)
		}
		b = append(b, '}')
	} else if scratch != nil && scratch.hasSigs {
		b = appendSignals(b, &scratch.sigs, scratch.sigsNoDisp)
	}
	if d.ExitStatus != nil {
		if b, err = appendMarshal(b, `,"exit_status":`, d.ExitStatus); err != nil {
			return b, err
		}
	}
	if len(d.Unavailable) > 0 {
		b = append(b, `,"unavailable":{`...)
		keys := make([]string, 0, len(d.Unavailable))
		for k := range d.Unavailable {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, d.Unavailable[k])
		}
		b = append(b, '}')
	}
	if len(d.Threads) > 0 {
		b = append(b, `,"threads":[`...)
		for i := range d.Threads {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = d.Threads[i].appendJSON(b); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendJSON appends the thread as encoding/json would write it.
func (t *ThreadDoc) appendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"tid":`...)
	b = strconv.AppendInt(b, int64(t.TID), 10)
	b = append(b, `,"start_ticks":`...)
	b = strconv.AppendUint(b, t.StartTicks, 10)
	b = append(b, `,"comm":`...)
	b = appendJSONString(b, t.Comm)
	b = appendStringOmit(b, `,"comm_raw_base64":`, t.CommRawBase64)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, t.State)
	b = append(b, `,"state_name":`...)
	b = appendJSONString(b, t.StateName)
	b = append(b, `,"utime_seconds":`...)
	if b, err = appendJSONFloat(b, t.UserSeconds); err != nil {
		return b, err
	}
	b = append(b, `,"stime_seconds":`...)
	if b, err = appendJSONFloat(b, t.SystemSeconds); err != nil {
		return b, err
	}
	b = append(b, `,"last_cpu":`...)
	b = strconv.AppendInt(b, t.LastCPU, 10)
	b = append(b, `,"priority":`...)
	b = strconv.AppendInt(b, t.Priority, 10)
	b = append(b, `,"nice":`...)
	b = strconv.AppendInt(b, t.Nice, 10)
	b = appendUintPtr(b, `,"voluntary_ctxt_switches":`, t.VolCtx)
	b = appendUintPtr(b, `,"involuntary_ctxt_switches":`, t.InvolCtx)
	return append(b, '}'), nil
}

// appendSignals appends the "signals" member of the five masks (pending,
// shared pending, blocked, ignored, caught), as a SignalsDoc of them is
// written; without the last two (the dispositions) when noDisp.
func appendSignals(b []byte, sigs *[5]uint64, noDisp bool) []byte {
	for i, key := range [5]string{`,"signals":{"pending":"`, `","shared_pending":"`, `","blocked":"`, `","ignored":"`, `","caught":"`} {
		if noDisp && i == 3 {
			break
		}
		b = append(b, key...)
		b = append(b, make([]byte, 16)...)
		putHex16(b[len(b)-16:], sigs[i])
	}
	return append(b, `"}`...)
}

// appendCmdline appends the "cmdline" member (none for an empty one): the
// bytes written for the last document's when scratch says this one's is
// the same (docScratch.cmdSame), else encoded, and kept in scratch.
func appendCmdline(b []byte, cmdline []string, scratch *docScratch) []byte {
	if scratch == nil {
		return appendStringsOmit(b, `,"cmdline":`, cmdline)
	}
	if scratch.cmdSame && len(scratch.cmdJSON) > 0 {
		return append(b, scratch.cmdJSON...)
	}
	at := len(b)
	b = appendStringsOmit(b, `,"cmdline":`, cmdline)
	scratch.cmdJSON = append(scratch.cmdJSON[:0], b[at:]...)
	return b
}

func appendIntPtr(b []byte, key string, v *int) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendInt(append(b, key...), int64(*v), 10)
}

func appendInt64Ptr(b []byte, key string, v *int64) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendInt(append(b, key...), *v, 10)
}

func appendUintPtr(b []byte, key string, v *uint64) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendUint(append(b, key...), *v, 10)
}

func appendFloatPtr(b []byte, key string, v *float64) ([]byte, error) {
	if v == nil {
		return b, nil
	}
	return appendJSONFloat(append(b, key...), *v)
}

func appendStringOmit(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, key...), s)
}

func appendBoolOmit(b []byte, key string, v bool) []byte {
	if !v {
		return b
	}
	return append(append(b, key...), "true"...)
}

func appendStringsOmit(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONFloat writes f as encoding/json does (ES6 number formatting:
// 'f' form, 'e' form below 1e-6 and from 1e21, exponent unpadded). NaN
// and infinities are an error there and here.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if c, ok := appendHundredths(b, f); ok {
		return c, nil
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	form := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		form = 'e'
	}
	b = strconv.AppendFloat(b, f, form, -1, 64)
	if form == 'e' {
		// e-09 -> e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendHundredths writes f when it is a whole number of hundredths (the
// nearest float64 to n/100): every CPU time in a snapshot is, clock ticks
// being hundredths of a second. The shortest decimal that reads back as
// such an f is n/100 itself, written with at most two decimals (another
// decimal of two decimals or fewer is at least 0.01 away, far more than
// f's rounding below 2^40), so the bytes are strconv's, at about a third
// of the cost of its general search (two floats a thread, 36,000 at
// 2,000 processes of 9 threads). It leaves alone negative numbers, -0
// (written "-0"), and anything not exactly n/100.
func appendHundredths(b []byte, f float64) ([]byte, bool) {
	if !(f >= 0 && f < 1<<40) || math.Signbit(f) {
		return b, false
	}
	n := uint64(math.Round(f * 100))
	if float64(n)/100 != f {
		return b, false
	}
	b = strconv.AppendUint(b, n/100, 10)
	if r := n % 100; r != 0 {
		b = append(b, '.', byte('0'+r/10))
		if r%10 != 0 {
			b = append(b, byte('0'+r%10))
		}
	}
	return b, true
}

// jsonPlain says which ASCII bytes appendJSONString copies as they are:
// all but the C0 controls, DEL, the quote, the backslash and the three
// HTML characters. One load a byte instead of seven comparisons (most
// of a snapshot's bytes are such strings).
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune("\"\\<>&\x7f", rune(c))
	}
	return t
}()

// appendJSONString writes s as a JSON string the way encoding/json does
// (HTML-safe: <, > and & escaped; C0 controls escaped; invalid UTF-8 as
// U+FFFD; U+2028 and U+2029 escaped) and, as inertJSON does after it,
// with DEL and the C1 controls escaped too, so the output cannot act on a
// terminal.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		case r >= 0x80 && r <= 0x9f:
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// rfc3339Second appends times as time.Time.AppendFormat(time.RFC3339Nano)
// does in UTC, keeping the text of the last whole second it wrote: the
// processes of a snapshot mostly started in few seconds (those started
// at boot, a batch of workers), and the second's text was 0.85 % of a
// one-shot at 10,000 processes; only the fraction is made for the rest.
type rfc3339Second struct {
	sec  int64
	text []byte // "2006-01-02T15:04:05" of sec; empty: none yet
}

// appendRFC3339Nano appends t in UTC as RFC 3339 with the nanoseconds'
// trailing zeros dropped ("2006-01-02T15:04:05.999999999Z07:00" of a
// UTC time).
func (c *rfc3339Second) appendRFC3339Nano(b []byte, t time.Time) []byte {
	u := t.UTC()
	sec := u.Unix()
	if len(c.text) == 0 || sec != c.sec {
		if y := u.Year(); y < 0 || y > 9999 {
			// Not four digits: as the time package writes it.
			return u.AppendFormat(b, time.RFC3339Nano)
		}
		c.sec, c.text = sec, u.AppendFormat(c.text[:0], "2006-01-02T15:04:05")
	}
	b = append(b, c.text...)
	if ns := u.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}
