//go:build linux

package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// parseWhen reads a point in time as a user writes it, relative to now:
//
//	2026-12-01T02:00:00Z, 2026-12-01T02:00:00+01:00   RFC 3339
//	2026-12-01T02:00, 2026-12-01 02:00[:05]            local time
//	02:00, 02:00:05[.5]                                today, local time
//	2h ago, 90m ago, 1h30m ago, 3d ago, -2h, 2h        before now
//	now, @1764554400                                   now; Unix seconds
//
// A time before 1970 or more than maxFuture after now is refused: no
// record holds it, and its distance from a sample would not fit a
// time.Duration (@99999999999 printed a saturated 2562047h47m16s gap;
// tester14).
func parseWhen(s string, now time.Time) (time.Time, error) {
	t, err := parseWhenText(s, now)
	if err != nil {
		return t, err
	}
	if t.Before(time.Unix(0, 0)) || t.After(now.Add(maxFuture)) {
		return time.Time{}, fmt.Errorf("%q is %s: want a time from 1970 to a year from now", strings.TrimSpace(s), t.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return t, nil
}

// maxFuture is how far after now parseWhen takes a time: a clock or a
// time zone set wrong, not a typo of centuries.
const maxFuture = 366 * 24 * time.Hour

// parseWhenText reads s as parseWhen does, without its bounds.
func parseWhenText(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	if s == "now" {
		return now, nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		sec, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: want @ and Unix seconds", s)
		}
		return time.Unix(sec, 0), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			y, m, d := now.Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), now.Location()), nil
		}
	}
	// A span is before now: "2h ago", "-2h" or "2h"; a sign the other way
	// ("+1h") or twice ("-2h ago") is no time, not read as "1h ago".
	rel, ago := strings.CutSuffix(s, "ago")
	rel = strings.TrimSpace(rel)
	if r, minus := strings.CutPrefix(rel, "-"); minus && !ago {
		rel = r
	}
	if d, err := parseSpan(rel); err == nil && rel != "" && rel[0] >= '0' && rel[0] <= '9' {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want a time like 2026-12-01T02:00:00Z, \"2026-12-01 02:00\", 02:00, \"2h ago\" or now", s)
}

// parseSpan is time.ParseDuration that also takes days ("3d", "1d12h").
func parseSpan(s string) (time.Duration, error) {
	s = strings.ReplaceAll(s, " ", "")
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("bad days in %q", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > math.MaxInt64-days {
		// The sum past the largest Duration wrapped around to a time
		// in the future ("100000d2562047h ago" was in 2045).
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return days + d, nil
}
