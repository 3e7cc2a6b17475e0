package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// churnSeconds is how long TestChurn scans; PINSPECT_CHURN_SECONDS
// overrides it for a long run (e.g. 600 for the ten-minute promise).
func churnSeconds(t *testing.T) time.Duration {
	if s := os.Getenv("PINSPECT_CHURN_SECONDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("PINSPECT_CHURN_SECONDS: %v", err)
		}
		return time.Duration(v) * time.Second
	}
	if testing.Short() {
		return 2 * time.Second
	}
	return 8 * time.Second
}

// threadKey identifies a thread across snapshots.
type threadKey struct {
	pid, tid int
	start    uint64
}

// TestChurn scans the real /proc over and over while a helper forks about
// a thousand short-lived children a second and starts and joins two
// hundred threads a second (inside the helper, whose threads are read each
// round). It requires zero parse errors and zero
// problems, and that every process and thread alive for the whole of a
// scan is in that scan: whatever the scans before and after both saw with
// the same (pid, start time) was alive in between, so the scan in between
// must list it. A panic fails the test by itself.
func TestChurn(t *testing.T) {
	dur := churnSeconds(t)
	counts := filepath.Join(t.TempDir(), "churn")
	churner := livehelper.Start(t, "churn", "1000", "200", counts)
	steady := livehelper.Start(t, "threads", "6")

	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	// One round: a snapshot of every process (without threads, so that
	// rounds are frequent), then each helper with its threads; the
	// churner's own threads come and go 200 times a second.
	type round struct {
		snap    *Snapshot
		procs   map[ID]bool
		threads map[threadKey]bool
	}
	scan := func() round {
		snap, err := r.SnapshotThreads(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		rd := round{snap: snap, procs: make(map[ID]bool, len(snap.Processes)), threads: make(map[threadKey]bool)}
		for i := range snap.Processes {
			rd.procs[snap.Processes[i].ID()] = true
		}
		for _, pid := range []int{churner.PID(), steady.PID()} {
			p, c, err := r.Process(pid)
			if err != nil {
				t.Fatalf("helper %d: %v", pid, err)
			}
			if c.ParseErrors != 0 {
				t.Errorf("helper %d: %+v", pid, c)
			}
			for _, th := range p.Threads {
				rd.threads[threadKey{pid, th.TID, th.StartTicks}] = true
			}
		}
		return rd
	}

	startCounts := readChurnCounts(t, counts)
	begin := time.Now()
	var (
		scans, checked, checkedThreads    int
		vanished, vanishedThreads, listed int
		denied, timeouts                  int
	)
	prev, cur := scan(), scan()
	for time.Since(begin) < dur {
		next := scan()
		scans++
		for id := range prev.procs {
			if next.procs[id] {
				checked++
				if !cur.procs[id] {
					t.Errorf("scan %d: process %+v alive before and after is missing", scans, id)
				}
			}
		}
		for k := range prev.threads {
			if next.threads[k] {
				checkedThreads++
				if !cur.threads[k] {
					t.Errorf("scan %d: thread %+v alive before and after is missing", scans, k)
				}
			}
		}
		c := cur.snap.Counts
		if c.ParseErrors != 0 {
			t.Errorf("scan %d: parse errors %d, problems %v", scans, c.ParseErrors, cur.snap.Problems)
		}
		// A cmdline read past its deadline is not an error (the process is
		// listed, the field says "timeout"); on a loaded machine a dying
		// child's mmap lock can be held that long. Count them.
		timeouts += c.Timeouts
		for _, p := range cur.snap.Problems {
			if p.Reason == "timeout" {
				t.Logf("scan %d: cmdline of pid %d past its deadline", scans, p.PID)
			}
		}
		if n := len(cur.snap.Processes) + c.Vanished; n != c.Listed {
			t.Errorf("scan %d: %d listed but %d read + %d vanished", scans, c.Listed, len(cur.snap.Processes), c.Vanished)
		}
		vanished += c.Vanished
		vanishedThreads += c.VanishedThreads
		listed += c.Listed
		denied += c.Denied
		if t.Failed() {
			break
		}
		prev, cur = cur, next
	}
	elapsed := time.Since(begin)
	end := readChurnCounts(t, counts)
	forks, threads := end[0]-startCounts[0], end[1]-startCounts[1]
	t.Logf("churn: %.1f s, %d scans (%.1f/s); helper made %d processes (%.0f/s) and %d threads (%.0f/s); "+
		"%d pids listed, %d vanished mid-scan, %d threads vanished mid-scan, %d denied fields, %d cmdline timeouts; "+
		"%d process and %d thread presences checked; 0 parse errors",
		elapsed.Seconds(), scans, float64(scans)/elapsed.Seconds(), forks, float64(forks)/elapsed.Seconds(),
		threads, float64(threads)/elapsed.Seconds(), listed, vanished, vanishedThreads, denied, timeouts, checked, checkedThreads)
	if forks < 100*int64(elapsed.Seconds()) {
		t.Errorf("only %d forks in %v: the churn did not happen", forks, elapsed)
	}
	if checked == 0 || checkedThreads == 0 || scans < 2 {
		t.Error("nothing was checked")
	}
}

// readChurnCounts reads the helper's "forks N threads M" file.
func readChurnCounts(t *testing.T, path string) [2]int64 {
	t.Helper()
	var c [2]int64
	waitFor(t, "churn counts", func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		_, err = fmt.Sscanf(string(b), "forks %d threads %d", &c[0], &c[1])
		return err == nil
	})
	return c
}

// TestDeletionsMidScan is a 5,000-process fixture tree from which another
// goroutine deletes process directories at random while it is scanned:
// every listed pid is either read or counted as vanished, never dropped
// silently or turned into an error.
func TestDeletionsMidScan(t *testing.T) {
	root := memTempDir(t)
	built := time.Now()
	const n = 5000
	stat, err := os.ReadFile(filepath.Join(hostileRoot, "100", "stat"))
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(filepath.Join(hostileRoot, "100", "status"))
	if err != nil {
		t.Fatal(err)
	}
	for pid := 1000; pid < 1000+n; pid++ {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(dir, "stat"), append([]byte(strconv.Itoa(pid)), stat[3:]...))
		mustWrite(t, filepath.Join(dir, "status"), status)
		mustWrite(t, filepath.Join(dir, "cmdline"), []byte("/bin/x\x00"))
	}
	t.Logf("tree built in %v", time.Since(built))
	r, err := NewReader(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	// A process directory leaves /proc at once; RemoveAll deletes a
	// directory file by file, and a scan that met one with stat gone but
	// status still there counted it unreadable (it failed so under load).
	// So each directory is first renamed out of the tree, atomically.
	trash, err := os.MkdirTemp(filepath.Dir(root), "pinspect-gone-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(trash)
	stop := make(chan struct{})
	deleted := make(chan int)
	go func() {
		k := 0
		defer func() { deleted <- k }()
		for pid := 1000 + n - 1; pid >= 1000; pid -= 7 { // from the end, so the scan meets them
			select {
			case <-stop:
				return
			default:
			}
			gone := filepath.Join(trash, strconv.Itoa(pid))
			if err := os.Rename(filepath.Join(root, strconv.Itoa(pid)), gone); err != nil {
				t.Error(err)
				return
			}
			os.RemoveAll(gone)
			k++
		}
	}()
	var vanished, read int
	for range 3 {
		snap, err := r.SnapshotThreads(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		c := snap.Counts
		if len(snap.Processes)+c.Vanished != c.Listed || c.ParseErrors != 0 || c.Unreadable != 0 {
			t.Errorf("listed %d, read %d, vanished %d, parse errors %d, unreadable %d",
				c.Listed, len(snap.Processes), c.Vanished, c.ParseErrors, c.Unreadable)
		}
		vanished += c.Vanished
		read += len(snap.Processes)
	}
	close(stop)
	k := <-deleted
	t.Logf("5,000-process tree, %d directories deleted during 3 scans: %d processes read, %d counted vanished", k, read, vanished)
}

// memTempDir is a temporary directory in memory (/dev/shm) when there is
// one, else t.TempDir: trees of thousands of files build fast there.
func memTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "pinspect-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
