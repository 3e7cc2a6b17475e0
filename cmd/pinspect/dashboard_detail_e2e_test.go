package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// mappingRow is a row of the Memory tab's table: START END PERMS CLASS
// SIZE RSS [PATH].
var mappingRow = regexp.MustCompile(`^([0-9a-f]{4,16}) +([0-9a-f]{4,16}) +(\S{4}) +(\S+) +(\S+) +(\S+)`)

// smapsRSS reads the resident bytes of every mapping of pid from
// /proc/PID/smaps (the test's oracle), by start address in hex.
func smapsRSS(t *testing.T, pid int) map[string]uint64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]uint64{}
	start := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if i := strings.IndexByte(l, '-'); i > 0 && !strings.Contains(l[:i], ":") && strings.Count(l, " ") > 3 {
			start = strings.TrimLeft(l[:i], "0")
			continue
		}
		if v, ok := strings.CutPrefix(l, "Rss:"); ok && start != "" {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("smaps line %q: %v", l, err)
			}
			out[start] = kb * 1024
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// humanSize formats bytes as the dashboard's tables do (1023B, 9999K,
// 10.0M, 1.5G).
func humanSize(b uint64) string {
	const k = 1024
	switch {
	case b < k:
		return strconv.FormatUint(b, 10) + "B"
	case b < 10*k*k:
		return strconv.FormatUint(b/k, 10) + "K"
	case b < k*k*k:
		return strconv.FormatFloat(float64(b)/(k*k), 'f', 1, 64) + "M"
	}
	return strconv.FormatFloat(float64(b)/(k*k*k), 'f', 1, 64) + "G"
}

// TestDashboardMemoryRSSPerMapping opens the Memory tab of a live helper
// whose mappings have resident pages (procshape maps: anonymous pages it
// touched, next to read-only ones it did not) in the real dashboard in
// tmux. The RSS column used to be "-" on every row: every mapping shown
// must carry a number, and the numbers must be the kernel's, as
// /proc/PID/smaps gives them, for the rows whose pages did not change
// between the two reads (a sleeping helper's: all of them, in practice).
func TestDashboardMemoryRSSPerMapping(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	helper := livehelper.Start(t, "maps", "13")
	dir := t.TempDir()
	bin := buildPinspect(t)
	s := startTmux(t, tmux, filepath.Join(dir, "tmux.sock"), 200, 50, "XDG_CONFIG_HOME="+dir+" "+bin+" --readonly --interval 1s; echo PINSPECT-EXITED $?; sleep 600")
	s.waitText("COMMAND")
	s.keys("F4")
	s.literal("procshape maps 13")
	s.keys("Enter")
	s.waitFor("the helper alone", func(scr string) bool {
		return paneRow(scr, helper.PID()) != "" && strings.Contains(scr, "shown 1/")
	})
	s.keys("Enter")
	s.waitText("1 Threads")
	s.keys("2")

	// rows waits for the table with per-mapping RSS and returns its rows
	// on screen: every row with a number in its RSS column, and, when
	// last is not 0, the row of the mapping that starts at last.
	//
	// A screen is accepted only when all of it agrees, because a capture
	// can show half of a draw: the dashboard writes a frame to the pty
	// in pieces, and tmux may answer capture-pane between two of them
	// (TestDashboardEventsLag saw it too). Under load 10-40 one capture
	// showed the text above the table from the frame with smaps (no
	// "reading smaps" line) over the table rows of the frame before it
	// (RSS "-" on every row). The collector cannot make such a view: an
	// smaps read gives every mapping its RSS or fails whole (readSmaps),
	// and a mapping without RSS in a read with smaps is said so
	// (fillMemory). A dashboard that kept "-" on a row (the bug this test
	// was written for) never satisfies the wait, and fails it with the
	// pane.
	rows := func(what string, last uint64) [][]string {
		t.Helper()
		var out [][]string
		s.waitFor(what, func(scr string) bool {
			out = out[:0]
			if !strings.Contains(scr, "Address space") || strings.Contains(scr, "RSS per mapping:") {
				return false
			}
			sawLast := last == 0
			for _, l := range strings.Split(scr, "\n") {
				m := mappingRow.FindStringSubmatch(l)
				if m == nil {
					continue
				}
				if m[6] == "-" {
					return false
				}
				if start, err := strconv.ParseUint(m[1], 16, 64); err == nil && start == last {
					sawLast = true
				}
				out = append(out, m[1:])
			}
			return len(out) >= 5 && sawLast
		})
		return out
	}
	check := func(rows [][]string) (agree int) {
		t.Helper()
		kernel := smapsRSS(t, helper.PID())
		for _, r := range rows {
			start, rss := r[0], r[5]
			want, ok := kernel[start]
			if !ok {
				t.Errorf("mapping %s on screen is not in smaps", start)
				continue
			}
			if rss == humanSize(want) {
				if want > 0 {
					agree++
				}
			} else {
				t.Logf("mapping %s: RSS %s on screen, %s in smaps now", start, rss, humanSize(want))
			}
		}
		return agree
	}
	// The last mapping in the kernel's list: the End key shows it.
	var last uint64
	for start := range smapsRSS(t, helper.PID()) {
		v, err := strconv.ParseUint(start, 16, 64)
		if err != nil {
			t.Fatalf("smaps start %q: %v", start, err)
		}
		last = max(last, v)
	}
	top := rows("the Memory tab's mappings, every one with its RSS", 0)
	agree := check(top)
	// The helper's own pages are at the end of the list, near the
	// stack: End shows them.
	s.keys("End")
	bottom := rows("the last mappings, down to the one at "+strconv.FormatUint(last, 16)+", every one with its RSS", last)
	agree += check(bottom)
	// The pages the helper touched: its one-page anonymous rw-p
	// mappings, each with its one resident page.
	page := humanSize(uint64(os.Getpagesize()))
	touched := 0
	for _, r := range bottom {
		if r[2] == "rw-p" && r[3] == "anon" && r[4] == page && r[5] == page {
			touched++
		}
	}
	if touched == 0 {
		t.Errorf("none of the helper's touched one-page mappings shows its resident page (%s); rows:\n%v", page, bottom)
	}
	t.Logf("%d rows agree with smaps, %d touched pages shown; bottom rows: %v", agree, touched, bottom)
	if agree < 3 {
		t.Errorf("only %d mappings with resident pages agree with smaps; rows:\n%v\n%v", agree, top, bottom)
	}
	s.keys("q")
	s.waitText("PINSPECT-EXITED 0")
}
