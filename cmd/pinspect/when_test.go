package main

import (
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 12, 1, 10, 30, 0, 0, loc)
	for in, want := range map[string]time.Time{
		"now":                       now,
		"2026-12-01T02:00:00Z":      time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC),
		"2026-12-01T02:00:00+01:00": time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC),
		"2026-11-30 23:15":          time.Date(2026, 11, 30, 23, 15, 0, 0, loc),
		"2026-11-30T23:15:07":       time.Date(2026, 11, 30, 23, 15, 7, 0, loc),
		"02:00":                     time.Date(2026, 12, 1, 2, 0, 0, 0, loc),
		"06:39:35.5":                time.Date(2026, 12, 1, 6, 39, 35, 500_000_000, loc), // the fraction was dropped (tester8)
		"2026-11-30 23:15:07.25":    time.Date(2026, 11, 30, 23, 15, 7, 250_000_000, loc),
		"2h ago":                    now.Add(-2 * time.Hour),
		"2h":                        now.Add(-2 * time.Hour),
		"-90m":                      now.Add(-90 * time.Minute),
		"1h30m ago":                 now.Add(-90 * time.Minute),
		"3d ago":                    now.Add(-72 * time.Hour),
		"1d12h":                     now.Add(-36 * time.Hour),
		"@1764554400":               time.Unix(1764554400, 0),
		"@0":                        time.Unix(0, 0),
		"2027-11-30 10:00":          time.Date(2027, 11, 30, 10, 0, 0, 0, loc), // within a year of now
	} {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// tester11 T2: "+1h" and "-2h ago" were read as "1h ago" and "2h ago".
	for _, bad := range []string{"", "yesterday-ish", "2h later", "25:00", "@x", "-d", "99999999d", "+1h", "-2h ago", "-1h ago", "+90m ago", "ago",
		// tester14: a time no record holds, whose distance from a sample
		// saturated a time.Duration, and a span that wrapped past it.
		"@99999999999", "@-1", "2028-12-01", "100000d2562047h ago", "106751d23h47m16s"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", bad)
		}
	}
}
