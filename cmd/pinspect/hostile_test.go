package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkTerminalSafe fails when text holds a byte that could act on a
// terminal: C0 controls other than the line ends, DEL, C1 controls, or
// invalid UTF-8 (which a terminal may take as C1).
func checkTerminalSafe(t *testing.T, text string) {
	t.Helper()
	if !utf8.ValidString(text) {
		t.Errorf("output is not valid UTF-8")
	}
	for i, r := range text {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			t.Errorf("control %U at byte %d: %q", r, i, text[max(0, i-20):min(len(text), i+20)])
		}
	}
}

// TestHostilePS: `pinspect ps` over the hostile tree prints one line per
// process, no control byte, hostile names inert but recognisable.
func TestHostilePS(t *testing.T) {
	r := pinspect(t, "ps", "--proc-root", hostileRoot)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	checkTerminalSafe(t, r.stdout)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 22+2 {
		t.Fatalf("%d lines, want 22 processes + header + summary:\n%s", len(lines), r.stdout)
	}
	row := map[int]string{}
	for _, l := range lines[1 : len(lines)-1] {
		f := strings.Fields(l)
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("bad row %q", l)
		}
		row[pid] = l
	}
	for pid, want := range map[int]string{
		100: " S ",                    // not the fake Z from the comm
		101: "a?b) Z 1 ( --x",         // newline shown as ?
		102: "?[2J?]0;pwn? --x",       // ESC, BEL inert
		103: "b?d?c?x\ufffd --x",      // BEL, DEL, C1, raw C1 byte
		104: "[red]x[:::url] --x",     // tags literal
		105: "\ufffd\ufffd\ufffdname", // invalid UTF-8
		106: "ééééééé\ufffd --x",      // cut multibyte char
		108: "ls ?]52;c;cHduZWQ=? ?[31mred [blue] \ufffd",
		109: "nginx: master process /usr/sbin/nginx",
		120: "[kworker/0:1]",
		121: "defunct <defunct>",
	} {
		if !strings.Contains(row[pid], want) {
			t.Errorf("pid %d: row %q does not contain %q", pid, row[pid], want)
		}
	}
	if !strings.Contains(row[100], "x) Z 1 ( --x") || !strings.HasPrefix(strings.Fields(row[100])[3], "S") {
		t.Errorf("pid 100: %q", row[100])
	}
	// A malformed stat leaves state and thread count unknown.
	if f := strings.Fields(row[110]); f[3] != "?" || f[4] != "?" {
		t.Errorf("pid 110: %q", row[110])
	}
	// Thirteen malformed files: five stat files (110, 111, 112, 115 and
	// 116, whose unsigned fields hold -1) and their task/*/stat copies, two
	// status files, and 118's task/118/status (read for the thread's counts
	// because the process status failed).
	if sum := lines[len(lines)-1]; !strings.Contains(sum, "parse errors 13") {
		t.Errorf("summary %q: want the 13 malformed files counted", sum)
	}
}

// TestHostileJSONLossless: `pinspect --json` over the hostile tree is
// valid UTF-8 JSON with no raw control byte, and every comm and argument
// can be recovered byte for byte (comm_raw_base64 and cmdline_raw_base64
// when the text is not valid UTF-8).
func TestHostileJSONLossless(t *testing.T) {
	r := pinspect(t, "--json", "--proc-root", hostileRoot)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	checkTerminalSafe(t, r.stdout)
	var doc struct {
		Processes []struct {
			PID           int               `json:"pid"`
			Comm          *string           `json:"comm"`
			CommRawBase64 string            `json:"comm_raw_base64"`
			Cmdline       []string          `json:"cmdline"`
			CmdlineRaw    []string          `json:"cmdline_raw_base64"`
			State         string            `json:"state"`
			PPID          *int              `json:"ppid"`
			UID           *int              `json:"uid"`
			Unavailable   map[string]string `json:"unavailable"`
		} `json:"processes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, p := range doc.Processes {
		dir := filepath.Join(hostileRoot, strconv.Itoa(p.PID))
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			t.Fatal(err)
		}
		if p.Comm != nil {
			want := string(stat[bytes.IndexByte(stat, '(')+1 : bytes.LastIndexByte(stat, ')')])
			got := *p.Comm
			if p.CommRawBase64 != "" {
				b, err := base64.StdEncoding.DecodeString(p.CommRawBase64)
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			}
			if got != want {
				t.Errorf("pid %d: comm recovered as %q, want %q", p.PID, got, want)
			}
			seen++
		}
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil {
			t.Fatal(err)
		}
		args := make([]string, len(p.Cmdline))
		for i, a := range p.Cmdline {
			args[i] = a
			if p.CmdlineRaw != nil && p.CmdlineRaw[i] != "" {
				b, err := base64.StdEncoding.DecodeString(p.CmdlineRaw[i])
				if err != nil {
					t.Fatal(err)
				}
				args[i] = string(b)
			}
		}
		if got, want := strings.Join(args, "\x00"), strings.TrimRight(string(cmdline), "\x00"); got != want {
			t.Errorf("pid %d: cmdline recovered as %q, want %q", p.PID, got, want)
		}
	}
	if seen != 22-5 {
		t.Errorf("%d comms checked, want 17", seen)
	}
	for _, p := range doc.Processes {
		switch p.PID {
		case 110, 111, 112, 115, 116:
			if p.Comm != nil || p.State != "" || p.Unavailable["stat"] == "" {
				t.Errorf("pid %d: malformed stat shown as values: %+v", p.PID, p)
			}
		case 117, 118:
			if p.UID != nil || p.Unavailable["status"] == "" {
				t.Errorf("pid %d: malformed status shown as values (uid %v)", p.PID, p.UID)
			}
		}
	}
}

// TestHostileExtremeJSON: pid 114's extreme stat values reach the JSON
// saturated, never wrapped: rss pages INT64_MAX times the page size is
// UINT64_MAX bytes (not 18446744073709547520), and a start tick count
// beyond a time.Duration leaves started_at out (not a time before boot).
func TestHostileExtremeJSON(t *testing.T) {
	r := pinspect(t, "--json", "--pid", "114", "--proc-root", hostileRoot)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		Processes []map[string]json.RawMessage `json:"processes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Processes) != 1 {
		t.Fatalf("%d processes, want 1: %s", len(doc.Processes), r.stdout)
	}
	p := doc.Processes[0]
	if got := string(p["rss_bytes"]); got != "18446744073709551615" {
		t.Errorf("rss_bytes = %s, want 18446744073709551615 (saturated)", got)
	}
	if got, ok := p["started_at"]; ok {
		t.Errorf("started_at = %s, want omitted for start ticks beyond a time.Duration", got)
	}
	if got := string(p["start_ticks"]); got != "18446744073709551615" {
		t.Errorf("start_ticks = %s, want the exact value", got)
	}
}
