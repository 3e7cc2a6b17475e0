package main

// Issue 13's cross-check: pinspect's numbers against the programs users
// trust (ps, top, pidstat) and the kernel's own files (statm, status,
// smaps_rollup), on real programs of known shape, read at the same
// moment. "The same moment" is a sandwich: the peers are read, then
// pinspect, then the peers again; a value the peers gave the same both
// times did not change while pinspect read it, so pinspect must give it
// too. A value that moved (a thread caught running, a counter that
// ticked) is not compared that round, and the round is taken again until
// every value that must be compared held still.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// peerFacts maps "PID/what" or "TID/what" to the value a peer gave.
type peerFacts map[string]string

// stable returns the facts a and b agree on.
func stable(a, b peerFacts) peerFacts {
	out := peerFacts{}
	for k, v := range a {
		if b[k] == v {
			out[k] = v
		}
	}
	return out
}

// runPeer runs a peer program and returns its output.
func runPeer(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

// readPeers reads what ps, top, pidstat and the /proc files say of pids.
func readPeers(t *testing.T, pids []int) peerFacts {
	t.Helper()
	f := peerFacts{}
	list := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(pids)), ","), "[]")
	// ps: per thread its state and name; per process its parent, thread
	// count and resident set (the leader's row; every thread's row shows
	// the process's, but an exited leader's shows 0).
	tids := map[string][]string{}
	for _, l := range strings.Split(runPeer(t, "ps", "-L", "-o", "pid=,tid=,ppid=,stat=,nlwp=,rss=,comm=", "-p", list), "\n") {
		c := strings.Fields(l)
		if len(c) < 7 {
			continue
		}
		pid, tid := c[0], c[1]
		tids[pid] = append(tids[pid], tid)
		f[tid+"/ps_state"] = c[3][:1]
		f[tid+"/ps_comm"] = c[6]
		f[tid+"/ps_rss_kib"] = c[5]
		if pid == tid {
			f[pid+"/ps_ppid"], f[pid+"/ps_nlwp"] = c[2], c[4]
		}
	}
	for pid, ts := range tids {
		slices.Sort(ts)
		f[pid+"/ps_tids"] = strings.Join(ts, ",")
	}
	// top -H: per thread its state and resident set (in KiB: -e k).
	inTasks := false
	for _, l := range strings.Split(runPeer(t, "top", "-b", "-n", "1", "-H", "-e", "k", "-w", "512", "-p", list), "\n") {
		c := strings.Fields(l)
		if len(c) > 0 && c[0] == "PID" {
			inTasks = true
			continue
		}
		if !inTasks || len(c) < 12 {
			continue
		}
		f[c[0]+"/top_res_kib"], f[c[0]+"/top_state"] = c[5], c[7]
	}
	// pidstat -w -t: which threads each process has (its rates are per
	// second over its own interval, not totals: not compared).
	ptids := map[string][]string{}
	cur := "" // a thread row follows its process's row
	for _, l := range strings.Split(runPeer(t, "pidstat", "-w", "-t", "-p", list), "\n") {
		c := strings.Fields(l)
		if len(c) < 7 || c[2] == "TGID" {
			continue
		}
		if c[2] != "-" {
			cur = c[2]
			ptids[cur] = ptids[cur][:0]
		} else if cur != "" {
			ptids[cur] = append(ptids[cur], c[3])
		}
	}
	for pid, ts := range ptids {
		slices.Sort(ts)
		f[pid+"/pidstat_tids"] = strings.Join(ts, ",")
	}
	// The kernel's files: statm's resident pages, status's VmRSS, the
	// rollup's Rss; the context switches of every thread, summed.
	page := os.Getpagesize()
	for _, pid := range pids {
		p := strconv.Itoa(pid)
		if b, err := os.ReadFile("/proc/" + p + "/statm"); err == nil {
			if c := strings.Fields(string(b)); len(c) > 1 {
				n, _ := strconv.Atoi(c[1])
				f[p+"/statm_bytes"] = strconv.Itoa(n * page)
			}
		}
		f[p+"/vmrss_kib"] = statusValue("/proc/"+p+"/status", "VmRSS:")
		f[p+"/rollup_rss_kib"] = statusValue("/proc/"+p+"/smaps_rollup", "Rss:")
		var vol, invol int
		for _, tid := range tids[p] {
			v, _ := strconv.Atoi(statusValue("/proc/"+p+"/task/"+tid+"/status", "voluntary_ctxt_switches:"))
			n, _ := strconv.Atoi(statusValue("/proc/"+p+"/task/"+tid+"/status", "nonvoluntary_ctxt_switches:"))
			vol, invol = vol+v, invol+n
			if tid != p {
				f[tid+"/task_vmrss_kib"] = statusValue("/proc/"+p+"/task/"+tid+"/status", "VmRSS:")
			}
		}
		f[p+"/switches"] = fmt.Sprintf("%d %d", vol, invol)
	}
	return f
}

// statusValue returns the first number after key in a status-like file
// ("" when the file or the key is not there).
func statusValue(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, key); ok {
			if c := strings.Fields(rest); len(c) > 0 {
				return c[0]
			}
		}
	}
	return ""
}

// peerProc is what the cross-check reads of pinspect's --json.
type peerProc struct {
	PID          int             `json:"pid"`
	PPID         *int            `json:"ppid"`
	State        string          `json:"state"`
	StateName    string          `json:"state_name"`
	LeaderExited bool            `json:"leader_exited"`
	RSSBytes     *uint64         `json:"rss_bytes"`
	NumThreads   *int64          `json:"num_threads"`
	Vol          *uint64         `json:"voluntary_ctxt_switches"`
	Invol        *uint64         `json:"involuntary_ctxt_switches"`
	CtxSource    string          `json:"ctxt_switches_source"`
	ExitStatus   json.RawMessage `json:"exit_status"`
	Threads      []struct {
		TID   int    `json:"tid"`
		State string `json:"state"`
		Comm  string `json:"comm"`
	} `json:"threads"`
}

// TestPeersAgree runs a forking server with workers, a process with many
// threads, a process whose main thread exited and zombies with known exit
// statuses, and holds pinspect (each collector backend this machine
// has) to ps, top, pidstat and the kernel's files read at the same
// moment. Where pinspect differs from a peer on purpose (a process whose
// leader exited is alive, its memory a live thread's), it is held to the
// peer's value for that live thread.
func TestPeersAgree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the cross-check reads every process's files as root (CI runs as root)")
	}
	for _, tool := range []string{"ps", "top", "pidstat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (procps, sysstat: .ci/run installs them): %v", tool, err)
		}
	}
	server := livehelper.Start(t, "zygote", "3", "4")       // a forking server and its 3 workers
	many := livehelper.Start(t, "threads", "12")            // 12 threads
	leader := livehelper.Start(t, "leaderexit")             // main thread exited, a worker runs
	exits := livehelper.Start(t, "exits", "3", "5", "sig9") // zombies: exit 3, exit 5, SIGKILL
	var pids []int
	for _, p := range []*livehelper.Proc{server, many, leader, exits} {
		pids = append(pids, p.PIDs...)
	}
	zombies := exits.PIDs[1:]
	wantExit := map[int]string{zombies[0]: `"code":3`, zombies[1]: `"code":5`, zombies[2]: `"signal_name":"SIGKILL"`}
	for _, backend := range []string{"proc", "auto"} {
		t.Run(backend, func(t *testing.T) {
			compared := crossCheck(t, backend, pids, leader.PID(), many.PID())
			for _, z := range zombies {
				p := compared[z]
				if p.State != "Z" || p.RSSBytes != nil || !strings.Contains(string(p.ExitStatus), wantExit[z]) {
					t.Errorf("zombie %d: state %q rss %v exit %s, want Z, no RSS, %s", z, p.State, p.RSSBytes, p.ExitStatus, wantExit[z])
				}
			}
			if p := compared[leader.PID()]; !p.LeaderExited || p.StateName != "leader-exited" {
				t.Errorf("leader-exited %d: state_name %q leader_exited %v (ps says Z; it runs on its worker)", p.PID, p.StateName, p.LeaderExited)
			}
		})
	}
}

// crossCheck takes sandwiches until every value that must be compared held
// still, compares them, and returns pinspect's processes of the last one.
func crossCheck(t *testing.T, backend string, pids []int, leaderPID, busyPID int) map[int]peerProc {
	t.Helper()
	list := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(pids)), ","), "[]")
	deadline := time.Now().Add(2 * time.Minute)
	for round := 1; ; round++ {
		before := readPeers(t, pids)
		out, errs, code := runInProcess(t, "--json", "--collector", backend, "--pid", list)
		after := readPeers(t, pids)
		if code != 0 {
			t.Fatalf("pinspect --json: exit %d: %s", code, errs)
		}
		var doc struct {
			Processes []peerProc `json:"processes"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		procs := map[int]peerProc{}
		for _, p := range doc.Processes {
			procs[p.PID] = p
		}
		still := stable(before, after)
		mismatches, unsettled := comparePeers(still, procs, pids, leaderPID, busyPID)
		mismatches = append(mismatches, compareCounters(before, after, procs, pids, leaderPID)...)
		if len(unsettled) == 0 {
			for _, m := range mismatches {
				t.Error(m)
			}
			t.Logf("round %d: %d values held still and were compared (pids %v, busy %d, leader exited %d)", round, len(still), pids, busyPID, leaderPID)
			return procs
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d rounds these values never held still between two reads of the peers: %v", round, unsettled)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// comparePeers compares pinspect's processes with the values the peers
// held still. It returns the mismatches, and the values that must be
// compared but moved (the round is then taken again).
func comparePeers(f peerFacts, procs map[int]peerProc, pids []int, leaderPID, busyPID int) (mismatches, unsettled []string) {
	cur := 0 // the process whose values are compared
	must := func(key string) (string, bool) {
		v, ok := f[key]
		if !ok {
			unsettled = append(unsettled, key)
		}
		return v, ok
	}
	same := func(key, got string) {
		if want, ok := must(key); ok && want != got {
			mismatches = append(mismatches, fmt.Sprintf("process %d: %s: pinspect %s, peer %s", cur, key, got, want))
		}
	}
	for _, pid := range pids {
		cur = pid
		p, ok := procs[pid]
		id := strconv.Itoa(pid)
		if !ok {
			mismatches = append(mismatches, id+": not in pinspect's snapshot")
			continue
		}
		if p.PPID == nil || p.NumThreads == nil {
			mismatches = append(mismatches, id+": no ppid or thread count")
			continue
		}
		same(id+"/ps_ppid", strconv.Itoa(*p.PPID))
		same(id+"/ps_nlwp", strconv.FormatInt(*p.NumThreads, 10))
		var tids []string
		for _, th := range p.Threads {
			tid := strconv.Itoa(th.TID)
			tids = append(tids, tid)
			same(tid+"/ps_comm", th.Comm)
			// The busy process's threads wake every 2 to 200 ms: one
			// can sleep at both peer reads and run in between (so its
			// state is not held); the others sleep until signalled.
			if pid != busyPID {
				same(tid+"/ps_state", th.State)
				same(tid+"/top_state", th.State)
			}
		}
		slices.Sort(tids)
		same(id+"/ps_tids", strings.Join(tids, ","))
		same(id+"/pidstat_tids", strings.Join(tids, ","))
		if p.State == "Z" && !p.LeaderExited {
			continue // a zombie has no memory and no switches to compare
		}
		if p.RSSBytes == nil {
			mismatches = append(mismatches, id+": no RSS")
			continue
		}
		rssKiB := strconv.FormatUint(*p.RSSBytes/1024, 10)
		if pid == leaderPID {
			// ps, top and the leader's own files show the exited
			// leader's 0; the process's memory is its live thread's.
			live := strconv.Itoa(p.Threads[len(p.Threads)-1].TID)
			same(live+"/ps_rss_kib", rssKiB)
			same(live+"/top_res_kib", rssKiB)
			same(live+"/task_vmrss_kib", rssKiB)
			continue
		}
		same(id+"/ps_rss_kib", rssKiB)
		same(id+"/top_res_kib", rssKiB)
		same(id+"/vmrss_kib", rssKiB)
		same(id+"/statm_bytes", strconv.FormatUint(*p.RSSBytes, 10))
	}
	return mismatches, unsettled
}

// compareCounters holds pinspect's whole-process context switches between
// the sums of every thread's counts read before and after it: each
// thread's counts only grow, so a true total read between the two lies
// between them (no thread of these programs exits).
func compareCounters(before, after peerFacts, procs map[int]peerProc, pids []int, leaderPID int) (mismatches []string) {
	for _, pid := range pids {
		p, id := procs[pid], strconv.Itoa(pid)
		if p.State == "Z" && !p.LeaderExited || pid == leaderPID {
			// A zombie's are its own, final; an exited leader's live on
			// in its status but the process's total is the kernel's
			// (the backends differ in where they take it from).
			continue
		}
		if p.Vol == nil || p.Invol == nil {
			mismatches = append(mismatches, id+": no context switches")
			continue
		}
		var lo, hi [2]uint64
		fmt.Sscan(before[id+"/switches"], &lo[0], &lo[1])
		fmt.Sscan(after[id+"/switches"], &hi[0], &hi[1])
		for i, got := range []uint64{*p.Vol, *p.Invol} {
			if got < lo[i] || got > hi[i] {
				mismatches = append(mismatches, fmt.Sprintf("%s: context switches (%s) %d: the threads' sum went from %d to %d around it", id, []string{"voluntary", "involuntary"}[i], got, lo[i], hi[i]))
			}
		}
	}
	return mismatches
}

// TestPeersShowMemory: show's memory total (smaps, summed) is the
// kernel's smaps_rollup Rss, and its process line is VmRSS, for a forking
// server's parent and workers read at the same moment.
func TestPeersShowMemory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reads every process's smaps as root (CI runs as root)")
	}
	server := livehelper.Start(t, "zygote", "2", "4")
	for _, pid := range server.PIDs {
		id := strconv.Itoa(pid)
		rollup := filepath.Join("/proc", id, "smaps_rollup")
		deadline := time.Now().Add(time.Minute)
		for {
			before, beforeRSS := statusValue(rollup, "Rss:"), statusValue("/proc/"+id+"/status", "VmRSS:")
			out, errs, code := runInProcess(t, "show", "--json", id)
			after, afterRSS := statusValue(rollup, "Rss:"), statusValue("/proc/"+id+"/status", "VmRSS:")
			if code != 0 {
				t.Fatalf("show %d: exit %d: %s", pid, code, errs)
			}
			if before != after || beforeRSS != afterRSS {
				if time.Now().After(deadline) {
					t.Fatalf("%d: smaps_rollup Rss and VmRSS never held still", pid)
				}
				continue
			}
			var d struct {
				Process struct {
					RSSBytes uint64 `json:"rss_bytes"`
				} `json:"process"`
				Memory struct {
					RSSBytes uint64 `json:"rss_bytes"`
				} `json:"memory"`
			}
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatal(err)
			}
			if got := strconv.FormatUint(d.Memory.RSSBytes/1024, 10); got != before {
				t.Errorf("%d: show memory.rss_bytes %s KiB, smaps_rollup Rss %s KiB", pid, got, before)
			}
			if got := strconv.FormatUint(d.Process.RSSBytes/1024, 10); got != beforeRSS {
				t.Errorf("%d: show process.rss_bytes %s KiB, VmRSS %s KiB", pid, got, beforeRSS)
			}
			break
		}
	}
}
