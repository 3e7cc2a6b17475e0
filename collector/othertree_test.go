package collector

// A /proc tree written by another project for its own tests: the one
// prometheus/procfs (a dependency of pinspect) ships in its module as
// testdata/fixtures.ttar. Its process directories leave out files a live
// kernel always has (a vim with no task/, a kube-proxy with a status and
// no stat, threads with a stat and no status, a directory with only a
// maps file). Issue 13, item 4: each is kept and counted once, with the
// missing files "not present", never "vanished".

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// procfsTree unpacks the /proc part of prometheus/procfs's fixture
// archive from the module cache into a temporary directory and returns
// its root.
func procfsTree(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/prometheus/procfs").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/prometheus/procfs: %v", err)
	}
	archive := filepath.Join(strings.TrimSpace(string(out)), "testdata", "fixtures.ttar")
	dir := t.TempDir()
	if err := untar(archive, dir, "fixtures/proc"); err != nil {
		t.Fatalf("unpack %s: %v", archive, err)
	}
	return filepath.Join(dir, "fixtures", "proc")
}

// untar unpacks the entries under prefix of a ttar archive (procfs's
// text archive: "Directory: D", "Path: P" with "Lines: N" and N lines of
// content, NUL written as NULLBYTE and a last line without its newline
// ending in EOF, or "SymlinkTo: T"; each entry may be followed by
// "Mode: M") into dir.
func untar(archive, dir, prefix string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var path string
	keep := func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
	for sc.Scan() {
		line := sc.Text()
		key, val, _ := strings.Cut(line, ": ")
		switch key {
		case "Directory":
			if keep(val) {
				if err := os.MkdirAll(filepath.Join(dir, val), 0o755); err != nil {
					return err
				}
			}
		case "Path":
			path = val
		case "SymlinkTo":
			if keep(path) {
				if err := os.Symlink(val, filepath.Join(dir, path)); err != nil {
					return err
				}
			}
		case "Lines":
			n, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("%s: Lines %q", path, val)
			}
			var b bytes.Buffer
			for i := 0; i < n; i++ {
				if !sc.Scan() {
					return fmt.Errorf("%s: archive ends inside the file", path)
				}
				l := strings.ReplaceAll(sc.Text(), "NULLBYTE", "\x00")
				if i == n-1 && strings.HasSuffix(l, "EOF") {
					b.WriteString(strings.TrimSuffix(l, "EOF"))
				} else {
					b.WriteString(l + "\n")
				}
			}
			if keep(path) {
				if err := os.WriteFile(filepath.Join(dir, path), b.Bytes(), 0o644); err != nil {
					return err
				}
			}
		}
	}
	return sc.Err()
}

// TestProcfsProjectTree: every process directory of procfs's tree is
// kept and counted once; what its files say is read, what they leave out
// is "not present"; the address space (what show reads) of each is read
// without an error, the missing parts said unavailable.
func TestProcfsProjectTree(t *testing.T) {
	root := procfsTree(t)
	for _, threads := range []bool{false, true} {
		r, err := NewReader(Options{Root: root, PasswdPath: filepath.Join("..", "fixtures", "passwd"), Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		s, err := r.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c := s.Counts
		if c.Listed != 7 || len(s.Processes) != 7 || c.Vanished != 0 || c.VanishedThreads != 0 || c.Unreadable != 3 {
			t.Fatalf("threads %v: %d processes, counts %+v: want all 7 kept, none vanished, 3 without a stat", threads, len(s.Processes), c)
		}
		// vim: every file but task/; RSS is status's VmRSS (6716 kB), not
		// stat's field 24 (1981 pages).
		vim := find(s, 26231)
		if vim == nil || vim.Comm != "vim" || !vim.HasRSS || vim.RSSBytes != 6716*1024 || len(vim.Cmdline) != 3 {
			t.Errorf("threads %v: 26231: %+v", threads, vim)
		}
		if threads && (vim == nil || vim.Unavailable["task"] != ReasonNotPresent) {
			t.Errorf("threads %v: 26231 unavailable %v, want task not present", threads, vim.Unavailable)
		}
		// kube-proxy: a status and no stat.
		kp := find(s, 26235)
		if kp == nil || kp.Read&SrcStatus == 0 || kp.Unavailable["stat"] != ReasonNotPresent || !kp.HasRSS || kp.RSSBytes != 42652*1024 {
			t.Errorf("threads %v: 26235: %+v", threads, kp)
		}
		// Only a cmdline (and schedstat), only maps.
		if p := find(s, 26233); p == nil || len(p.Cmdline) != 1 || p.Cmdline[0] != "com.github.uiautomator" || p.Unavailable["stat"] != ReasonNotPresent {
			t.Errorf("threads %v: 26233: %+v", threads, p)
		}
		if p := find(s, 26234); p == nil || p.Unavailable["stat"] != ReasonNotPresent || p.HasRSS {
			t.Errorf("threads %v: 26234: %+v", threads, p)
		}
		// pthread_load: five threads with a stat and no status.
		pl := find(s, 27079)
		if pl == nil || pl.NumThreads != 5 {
			t.Fatalf("threads %v: 27079: %+v", threads, pl)
		}
		if threads {
			if len(pl.Threads) != 5 || pl.Threads[4].TID != 27083 || pl.Threads[0].HasStatus {
				t.Errorf("27079's threads: %+v", pl.Threads)
			}
			if pl.Unavailable["task/27080/status"] != ReasonNotPresent {
				t.Errorf("27079: unavailable %v", pl.Unavailable)
			}
		}
	}
	r, err := NewReader(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, pid := range []int{584, 26231, 26232, 26233, 26234, 26235, 27079} {
		p, _, err := r.Process(pid)
		if err != nil {
			t.Errorf("Process(%d): %v", pid, err)
			continue
		}
		as, err := r.AddressSpace(pid, AddrOptions{PerMapping: true, StartTicks: p.StartTicks})
		if err != nil {
			t.Errorf("AddressSpace(%d): %v (the directory is there: nothing exited)", pid, err)
			continue
		}
		switch pid {
		case 26231:
			// Its smaps is there, its task/ is not.
			if len(as.Maps) == 0 || as.Unavailable["threads"] != ReasonNotPresent {
				t.Errorf("26231: %d mappings, unavailable %v", len(as.Maps), as.Unavailable)
			}
		case 26233, 26234, 26235, 27079:
			if as.Unavailable["maps"] == "" {
				t.Errorf("%d: maps read from a tree without smaps: %v", pid, as.Unavailable)
			}
		}
	}
}
