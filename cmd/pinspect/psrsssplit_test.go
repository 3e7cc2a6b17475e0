package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// psSplitRow is what these tests read of a ps --json row.
type psSplitRow struct {
	PID      int     `json:"pid"`
	RSSBytes *uint64 `json:"rss_bytes"`
	RSSSplit *struct {
		Anon  uint64 `json:"anon_bytes"`
		File  uint64 `json:"file_bytes"`
		Shmem uint64 `json:"shmem_bytes"`
	} `json:"rss_split"`
}

// psSplitRows runs ps --json with args and returns its rows.
func psSplitRows(t *testing.T, args ...string) []psSplitRow {
	t.Helper()
	out, errs, code := runInProcess(t, append([]string{"ps", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("ps --json %v: exit %d: %s", args, code, errs)
	}
	var doc struct {
		Processes []psSplitRow `json:"processes"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("ps --json %v: %v\n%s", args, err, out)
	}
	return doc.Processes
}

// statusSplit reads VmRSS, RssAnon, RssFile and RssShmem of a status
// file, in bytes.
func statusSplit(t *testing.T, path string) [4]uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v [4]uint64
	for i, key := range []string{"VmRSS", "RssAnon", "RssFile", "RssShmem"} {
		m := regexp.MustCompile(`(?m)^` + key + `:\s+(\d+) kB$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s: no %s", path, key)
		}
		kb, _ := strconv.ParseUint(string(m[1]), 10, 64)
		v[i] = kb << 10
	}
	return v
}

// TestPSJSONRSSSplit: ps --json splits each row's rss_bytes by kind, as
// show's rss_split does, on both collectors: a real process with 4 MiB of
// private and 2 MiB of shared anonymous memory has the anon, file and
// shmem bytes its /proc/PID/status says (read before and after, equal:
// the helper's memory is still), and they add up to rss_bytes.
func TestPSJSONRSSSplit(t *testing.T) {
	h := livehelper.Start(t, "rsssplit", "4096", "2048")
	pid := h.PID()
	status := "/proc/" + strconv.Itoa(pid) + "/status"
	for _, coll := range []string{"proc", "task_iter"} {
		t.Run(coll, func(t *testing.T) {
			if coll == "task_iter" {
				if _, errs, code := runInProcess(t, "ps", "--collector", "task_iter", "--pid", strconv.Itoa(pid)); code != 0 {
					t.Skipf("no task iterator here: %s", errs)
				}
			}
			// The helper is asleep, but a read of its status can meet
			// a page the kernel is still accounting: take a run whose
			// status agreed before and after.
			for try := 0; ; try++ {
				before := statusSplit(t, status)
				rows := psSplitRows(t, "--collector", coll, "--pid", strconv.Itoa(pid))
				after := statusSplit(t, status)
				if before != after {
					if try < 5 {
						continue
					}
					t.Fatalf("status kept changing: %v then %v", before, after)
				}
				if len(rows) != 1 || rows[0].PID != pid || rows[0].RSSBytes == nil || rows[0].RSSSplit == nil {
					t.Fatalf("ps --json row of %d: %+v; want rss_bytes and rss_split", pid, rows)
				}
				r := rows[0]
				got := [4]uint64{*r.RSSBytes, r.RSSSplit.Anon, r.RSSSplit.File, r.RSSSplit.Shmem}
				if got != before {
					t.Errorf("rss_bytes and rss_split (anon, file, shmem) %v; status says %v", got, before)
				}
				if r.RSSSplit.Anon < 4<<20 || r.RSSSplit.Shmem < 2<<20 || r.RSSSplit.File == 0 {
					t.Errorf("split %+v: want anon >= 4 MiB, shmem >= 2 MiB, file nonzero", *r.RSSSplit)
				}
				return
			}
		})
	}
}

// TestPSJSONRSSSplitAbsent: a status without the three keys, or whose
// three keys do not add up to its VmRSS (a tree another program wrote),
// gives rss_bytes and no rss_split: never zeros, never a split of
// another reading.
func TestPSJSONRSSSplitAbsent(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(fixtureRoot+"maps-c")); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			pid = n
		}
	}
	statusPath := filepath.Join(root, strconv.Itoa(pid), "status")
	orig, err := os.ReadFile(statusPath)
	if err != nil {
		t.Fatal(err)
	}
	want := statusSplit(t, statusPath)
	row := func() psSplitRow {
		t.Helper()
		rows := psSplitRows(t, "--proc-root", root, "--pid", strconv.Itoa(pid))
		if len(rows) != 1 || rows[0].RSSBytes == nil {
			t.Fatalf("rows %+v: want one with rss_bytes", rows)
		}
		return rows[0]
	}
	// As captured: the split is the status's.
	if r := row(); r.RSSSplit == nil || [4]uint64{*r.RSSBytes, r.RSSSplit.Anon, r.RSSSplit.File, r.RSSSplit.Shmem} != want {
		t.Errorf("as captured: %+v; want rss and split %v", r, want)
	}
	edit := func(re, repl string) {
		t.Helper()
		b := regexp.MustCompile(`(?m)`+re).ReplaceAll(orig, []byte(repl))
		if string(b) == string(orig) {
			t.Fatalf("%s: no %q", statusPath, re)
		}
		if err := os.WriteFile(statusPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit(`^RssShmem:.*\n`, "")
	if r := row(); r.RSSSplit != nil {
		t.Errorf("status without RssShmem: rss_split %+v; want none", *r.RSSSplit)
	}
	edit(`^RssAnon:.*$`, "RssAnon:\t"+strconv.FormatUint(want[1]>>10+4, 10)+" kB")
	if r := row(); r.RSSSplit != nil {
		t.Errorf("RssAnon + RssFile + RssShmem != VmRSS: rss_split %+v; want none", *r.RSSSplit)
	}
	if !strings.Contains(string(orig), "VmRSS") {
		t.Fatal("fixture has no VmRSS")
	}
}
