package taskiter

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// openEventsForTest loads the process-event program with a ring of
// ringBytes, skipping when this test binary may not load BPF (not root)
// and failing when it should.
func openEventsForTest(t *testing.T, ringBytes uint32) *Events {
	t.Helper()
	ev, err := OpenEventsSized(ringBytes)
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("not root: %v", err)
		}
		t.Fatalf("as root: %v", err)
	}
	t.Cleanup(func() { _ = ev.Close() })
	return ev
}

// readAll reads every record the ring holds now.
func readAll(t *testing.T, ev *Events) []ProcEvent {
	t.Helper()
	if err := ev.Flush(); err != nil {
		t.Fatal(err)
	}
	var out []ProcEvent
	for {
		flushed, err := ev.Receive(func(e *ProcEvent) { out = append(out, *e) })
		if err != nil {
			t.Fatal(err)
		}
		if flushed {
			return out
		}
	}
}

// statStart is /proc/PID/stat's start time (field 22) of a live process.
func statStart(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var v uint64
	for _, c := range f[19] {
		v = v*10 + uint64(c-'0')
	}
	return v
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// TestEventsNameEveryProcess: children of this test, each forked, exec'd
// and ended in a known way, are reported by the tracepoints with the
// identity /proc shows (pid and start time), their parent, the name of
// each program they exec'd (a second exec included) and the wait status
// of their end; a thread of this process that ends is a thread exit, not
// the process's. Only the children's records (and the one thread's) are
// looked at: the rest of the machine writes records too.
func TestEventsNameEveryProcess(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep")
	}
	ev := openEventsForTest(t, EventRingBytes)
	me := os.Getpid()
	myStart := statStart(t, me)
	_ = readAll(t, ev) // what came before

	type child struct {
		script    string
		code      int // the exit code, or -1 for a signal
		signal    int
		comms     []string // the comm after each exec
		pid       int
		liveStart uint64
	}
	kids := []*child{
		{script: "exit 3", code: 3, comms: []string{"sh"}},
		{script: "kill -TERM $$", code: -1, signal: 15, comms: []string{"sh"}},
		{script: "read x; exec sleep 0", code: 0, comms: []string{"sh", "sleep"}},
	}
	for _, k := range kids {
		cmd := exec.Command(sh, "-c", k.script)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		k.pid = cmd.Process.Pid
		if strings.HasPrefix(k.script, "read") {
			k.liveStart = statStart(t, k.pid)
		}
		_ = stdin.Close()
		_ = cmd.Wait()
	}
	// A thread of this process that ends: a locked goroutine that
	// returns takes its thread with it (the main thread is kept instead:
	// another goroutine is tried then). Its end is waited for.
	tid := me
	for tid == me {
		tidc := make(chan int)
		go func() {
			runtime.LockOSThread()
			tidc <- unix.Gettid()
		}()
		tid = <-tidc
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat("/proc/self/task/" + itoa(tid)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d still there after 20s", tid)
		}
	}

	recs := readAll(t, ev)
	byPID := map[int][]ProcEvent{}
	var threadExit bool
	for _, r := range recs {
		byPID[r.TGID] = append(byPID[r.TGID], r)
		if r.Kind == EventThreadExit && r.TID == tid {
			threadExit = r.TGID == me && r.StartTicks() == myStart
		}
		if r.TGID == me && r.Kind == EventExit {
			t.Errorf("this process reported ended: %+v", r)
		}
	}
	if !threadExit {
		t.Errorf("no thread exit of thread %d in process %d", tid, me)
	}
	for _, k := range kids {
		evs := byPID[k.pid]
		var kinds []EventKind
		var comms []string
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
			if e.Kind == EventExec {
				comms = append(comms, e.Comm)
			}
		}
		want := []EventKind{EventFork}
		for range k.comms {
			want = append(want, EventExec)
		}
		want = append(want, EventExit)
		if len(kinds) != len(want) {
			t.Errorf("%q (pid %d): kinds %v, want %v", k.script, k.pid, kinds, want)
			continue
		}
		for i := range want {
			if kinds[i] != want[i] {
				t.Errorf("%q: kinds %v, want %v", k.script, kinds, want)
			}
		}
		if strings.Join(comms, ",") != strings.Join(k.comms, ",") {
			t.Errorf("%q: exec comms %v, want %v", k.script, comms, k.comms)
		}
		fork, end := evs[0], evs[len(evs)-1]
		if fork.PPID != me || end.PPID != me {
			t.Errorf("%q: parent %d at fork, %d at exit; want %d", k.script, fork.PPID, end.PPID, me)
		}
		for _, e := range evs {
			if e.StartTicks() != fork.StartTicks() || e.TID != k.pid {
				t.Errorf("%q: %v record of tid %d start %d, the fork's %d", k.script, e.Kind, e.TID, e.StartTicks(), fork.StartTicks())
			}
		}
		if k.liveStart != 0 && fork.StartTicks() != k.liveStart {
			t.Errorf("%q: start %d ticks, /proc said %d", k.script, fork.StartTicks(), k.liveStart)
		}
		ws := unix.WaitStatus(end.Status)
		switch {
		case k.code >= 0 && (!ws.Exited() || ws.ExitStatus() != k.code):
			t.Errorf("%q: status %#x, want exit %d", k.script, end.Status, k.code)
		case k.code < 0 && (!ws.Signaled() || int(ws.Signal()) != k.signal):
			t.Errorf("%q: status %#x, want signal %d", k.script, end.Status, k.signal)
		}
	}
	if n, err := ev.Lost(); err != nil || n != 0 {
		t.Logf("lost %d (%v): a busy machine", n, err)
	}
}

// TestEventsOverflowCounted: records that find the ring full are dropped
// and counted, and the ring holds no more than its size: a ring of one
// page (about 60 records), not read while this test makes a few hundred
// events, keeps the first records and counts the rest as lost.
func TestEventsOverflowCounted(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	ev := openEventsForTest(t, uint32(os.Getpagesize()))
	_ = readAll(t, ev)
	lost0, err := ev.Lost()
	if err != nil {
		t.Fatal(err)
	}
	// 100 processes: a fork, an exec and an exit each, 300 records.
	if err := exec.Command(sh, "-c", "i=0; while [ $i -lt 100 ]; do /bin/sh -c : ; i=$((i+1)); done").Run(); err != nil {
		t.Fatal(err)
	}
	lost, err := ev.Lost()
	if err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, ev)
	if max := os.Getpagesize() / (eventRecordSize + 8); len(recs) > max {
		t.Errorf("%d records read from a ring of %d bytes (at most %d fit)", len(recs), os.Getpagesize(), max)
	}
	if lost-lost0 < 300-uint64(len(recs)) {
		t.Errorf("%d records read and %d counted lost of at least 300 made", len(recs), lost-lost0)
	}
}

// TestEventRecordLayout: the offsets decode reads are those of the C
// structs in the embedded object's BTF (struct proc_event, every kind's
// record, and struct exec_event, EventExec's), so that a field moved in
// bpf/events.bpf.c and not in events.go fails here.
func TestEventRecordLayout(t *testing.T) {
	spec, err := loadProcEvents()
	if err != nil {
		t.Fatal(err)
	}
	offsets := func(name string) (uint32, map[string]uint32) {
		var s *btf.Struct
		if err := spec.Types.TypeByName(name, &s); err != nil {
			t.Fatalf("struct %s: %v", name, err)
		}
		m := map[string]uint32{}
		for _, f := range s.Members {
			m[f.Name] = f.Offset.Bytes()
		}
		return s.Size, m
	}
	size, f := offsets("proc_event")
	want := map[string]uint32{"time_ns": 0, "start_boottime": 8, "kind": 16, "tid": 20, "tgid": 24, "ppid": 28, "status": 32, "comm": 40}
	if size != eventRecordSize {
		t.Errorf("struct proc_event is %d bytes, eventRecordSize %d", size, eventRecordSize)
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("proc_event.%s at %d, decode reads %d", k, f[k], v)
		}
	}
	size, f = offsets("exec_event")
	want = map[string]uint32{"ev": 0, "flags": execFlagsOffset, "path": execPathOffset, "interp": execInterpOffset, "exe": execExeOffset}
	if size != execRecordSize {
		t.Errorf("struct exec_event is %d bytes, execRecordSize %d", size, execRecordSize)
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("exec_event.%s at %d, decode reads %d", k, f[k], v)
		}
	}
}

// TestEventsExecPath: an exec's record holds the path the caller gave
// execve, relative as given, and for a script the interpreter of its #!
// line; a path longer than its buffer is cut and said truncated, and
// one that just fits is not. A program's other records stay proc_events.
func TestEventsExecPath(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	ev := openEventsForTest(t, EventRingBytes)
	dir := t.TempDir()
	write := func(name string) string {
		if err := os.WriteFile(dir+"/"+name, []byte("#!"+sh+"\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return name
	}
	short := write("job.sh")
	// "./" + name is the path given: 127 bytes fit the buffer whole, 128
	// do not.
	fits := write(strings.Repeat("f", ExecPathBytes-1-2))
	long := write(strings.Repeat("l", ExecPathBytes-2))
	_ = readAll(t, ev)
	pids := map[int]string{}
	for _, name := range []string{short, fits, long} {
		cmd := exec.Command("./" + name)
		cmd.Dir = dir
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		pids[cmd.Process.Pid] = name
	}
	seen := map[int]bool{}
	for _, r := range readAll(t, ev) {
		name, ok := pids[r.TGID]
		if !ok || r.Kind != EventExec {
			if ok && (r.ExecPath != "" || r.ExecInterp != "") {
				t.Errorf("%v record of %s has paths %q %q", r.Kind, name, r.ExecPath, r.ExecInterp)
			}
			continue
		}
		seen[r.TGID] = true
		path, trunc := "./"+name, false
		if len(path) >= ExecPathBytes {
			path, trunc = path[:ExecPathBytes-1], true
		}
		if r.ExecPath != path || r.ExecPathTruncated != trunc || r.ExecInterp != sh || r.ExecInterpTruncated {
			t.Errorf("exec of %s: path %q (truncated %v) interp %q (truncated %v); want %q (%v) %q",
				name, r.ExecPath, r.ExecPathTruncated, r.ExecInterp, r.ExecInterpTruncated, path, trunc, sh)
		}
	}
	if len(seen) != len(pids) {
		t.Errorf("execs of %d of %d programs read", len(seen), len(pids))
	}
	// A binary: its path, no interpreter.
	cmd := exec.Command(sh, "-c", ":")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	for _, r := range readAll(t, ev) {
		if r.TGID == cmd.Process.Pid && r.Kind == EventExec && (r.ExecPath != sh || r.ExecInterp != "") {
			t.Errorf("exec of %s: path %q interp %q", sh, r.ExecPath, r.ExecInterp)
		}
	}
}

// TestEventsExecExe: an exec's record names the new executable as
// /proc/PID/exe shows it, read while the program still runs: through a
// symlink (resolved), from another mount (a tmpfs or the test's
// directory), a script (its interpreter), a memfd and an unlinked file
// (fexecve: "/memfd:NAME (deleted)", "PATH (deleted)", the mark left out
// and said in ExeDeleted); a path longer
// than the record holds is left out and said truncated, never cut.
func TestEventsExecExe(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	ev := openEventsForTest(t, EventRingBytes)
	body, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cp := dir + "/napper"
	if err := os.WriteFile(cp, body, 0o755); err != nil {
		t.Fatal(err)
	}
	link := dir + "/via-link"
	if err := os.Symlink(cp, link); err != nil {
		t.Fatal(err)
	}
	script := dir + "/job.sh"
	if err := os.WriteFile(script, []byte("#!"+sh+"\nread x\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A directory deep enough that its copy's path passes ExecExeBytes.
	deep := dir
	for len(deep) < ExecExeBytes {
		deep += "/" + strings.Repeat("d", 60)
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	long := deep + "/napper"
	if err := os.WriteFile(long, body, 0o755); err != nil {
		t.Fatal(err)
	}
	// Across mounts: a copy on /dev/shm (a tmpfs on /dev), and one on a
	// tmpfs mounted in a mount namespace of the child's own.
	shm, err := os.MkdirTemp("/dev/shm", "pinspect-exe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(shm) })
	onShm := shm + "/napper"
	if err := os.WriteFile(onShm, body, 0o755); err != nil {
		t.Fatal(err)
	}
	mnt := dir + "/mnt"
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	mfd, err := unix.MemfdCreate("pinspect-exe", 0)
	if err != nil {
		t.Fatal(err)
	}
	memfd := os.NewFile(uintptr(mfd), "memfd")
	defer memfd.Close()
	if _, err := memfd.Write(body); err != nil {
		t.Fatal(err)
	}
	// An unlinked file, exec'd by its descriptor.
	gone := dir + "/gone"
	if err := os.WriteFile(gone, body, 0o755); err != nil {
		t.Fatal(err)
	}
	goneFile, err := os.Open(gone)
	if err != nil {
		t.Fatal(err)
	}
	defer goneFile.Close()
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	_ = readAll(t, ev)
	type run struct {
		name string
		cmd  *exec.Cmd
		comm string // the name after its last exec
		long bool
	}
	runs := []run{
		{name: "sleep on $PATH", cmd: exec.Command(sleep, "60"), comm: "sleep"},
		{name: "a copy in the test's directory", cmd: exec.Command(cp, "60"), comm: "napper"},
		{name: "a symlink to it", cmd: exec.Command(link, "60"), comm: "via-link"},
		{name: "a script", cmd: exec.Command(script), comm: "job.sh"},
		{name: "a memfd", cmd: exec.Command("/proc/self/fd/3", "60"), comm: "3"},
		{name: "a path too long", cmd: exec.Command(long, "60"), comm: "napper", long: true},
		{name: "a tmpfs", cmd: exec.Command(onShm, "60"), comm: "napper"},
		{name: "an unlinked file", cmd: exec.Command("/proc/self/fd/3", "60"), comm: "3"},
	}
	runs[len(runs)-1].cmd.ExtraFiles = []*os.File{goneFile}
	if unshare, err := exec.LookPath("unshare"); err == nil {
		runs = append(runs, run{name: "a tmpfs in a mount namespace", cmd: exec.Command(unshare, "-m", "--propagation", "private", sh, "-c",
			"mount -t tmpfs pinspect-exe "+mnt+" && cp "+cp+" "+mnt+"/napper && exec "+mnt+"/napper 60"), comm: "napper"})
	}
	runs[4].cmd.ExtraFiles = []*os.File{memfd}
	for _, r := range runs {
		in, err := r.cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := r.cmd.Start(); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		t.Cleanup(func() { _ = in.Close(); _ = r.cmd.Process.Kill(); _ = r.cmd.Wait() })
	}
	// The last exec of each (unshare's child execs three times).
	got := map[int]ProcEvent{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, rec := range readAll(t, ev) {
			for _, r := range runs {
				if rec.Kind == EventExec && rec.TGID == r.cmd.Process.Pid {
					got[rec.TGID] = rec
				}
			}
		}
		n := 0
		for _, r := range runs {
			if rec, ok := got[r.cmd.Process.Pid]; ok && rec.Comm == r.comm {
				n++
			}
		}
		if n == len(runs) {
			break
		}
	}
	for _, r := range runs {
		rec, ok := got[r.cmd.Process.Pid]
		if !ok {
			t.Errorf("%s: no exec record", r.name)
			continue
		}
		want, err := os.Readlink("/proc/" + itoa(r.cmd.Process.Pid) + "/exe")
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if r.long {
			if rec.Exe != "" || !rec.ExeTruncated || len(want) < ExecExeBytes {
				t.Errorf("%s (%d bytes): exe %q truncated %v, want none and truncated", r.name, len(want), rec.Exe, rec.ExeTruncated)
			}
			continue
		}
		shown := rec.Exe
		if rec.ExeDeleted {
			shown += " (deleted)"
		}
		if shown != want || rec.ExeTruncated || rec.ExeDeleted != (r.comm == "3") {
			t.Errorf("%s: exe %q (deleted %v, truncated %v), /proc/PID/exe %q", r.name, rec.Exe, rec.ExeDeleted, rec.ExeTruncated, want)
		}
	}
	for _, rec := range readAll(t, ev) {
		if rec.Kind != EventExec && rec.Exe != "" {
			t.Errorf("a %v record with exe %q", rec.Kind, rec.Exe)
		}
	}
}

// TestEventsExecExeDisconnected: a program exec'd through a file opened
// by handle (open_by_handle_at) whose dentry is not in the cache has a
// disconnected dentry (d_alloc_anon: its own parent, named "/", not its
// mount's root, no d_dname): /proc/PID/exe shows "/", and so does the
// exec record. The walk took it for a pseudo file's (a memfd's) and gave
// "//" and deleted. The file is on an ext4 image mounted, written,
// unmounted and mounted again, so that nothing of it is in the dcache.
func TestEventsExecExeDisconnected(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: mount and open_by_handle_at")
	}
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		t.Skip("no mkfs.ext4")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	body, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	ev := openEventsForTest(t, EventRingBytes)
	dir := t.TempDir()
	img, mnt := dir+"/ext4.img", dir+"/mnt"
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", img, "8M").CombinedOutput(); err != nil {
		t.Skipf("mkfs.ext4: %v %s", err, out)
	}
	mount := func() {
		t.Helper()
		if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
			t.Skipf("mount -o loop: %v %s", err, out)
		}
	}
	umount := func() {
		t.Helper()
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Fatalf("umount %s: %v", mnt, err)
		}
	}
	mount()
	mounted := true
	t.Cleanup(func() {
		if mounted {
			_ = unix.Unmount(mnt, unix.MNT_DETACH)
		}
	})
	if err := os.WriteFile(mnt+"/napper", body, 0o755); err != nil {
		t.Fatal(err)
	}
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, mnt+"/napper", 0)
	if err != nil {
		t.Skipf("name_to_handle_at: %v", err)
	}
	umount()
	mounted = false
	mount()
	mounted = true
	root, err := unix.Open(mnt, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(root)
	fd, err := unix.OpenByHandleAt(root, h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		t.Fatalf("open_by_handle_at: %v", err)
	}
	f := os.NewFile(uintptr(fd), "by-handle")
	defer f.Close()
	if p, err := os.Readlink("/proc/self/fd/" + itoa(fd)); err != nil || p != "/" {
		t.Skipf("the file opened by handle is %q (%v), not a disconnected dentry's \"/\"", p, err)
	}
	_ = readAll(t, ev)
	cmd := exec.Command("/proc/self/fd/3", "60")
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var rec ProcEvent
	found := false
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); {
		for _, r := range readAll(t, ev) {
			if r.Kind == EventExec && r.TGID == cmd.Process.Pid {
				rec, found = r, true
			}
		}
	}
	if !found {
		t.Fatal("no exec record")
	}
	want, err := os.Readlink("/proc/" + itoa(cmd.Process.Pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	shown := rec.Exe
	if rec.ExeDeleted {
		shown += " (deleted)"
	}
	if want != "/" || shown != want || rec.ExeTruncated {
		t.Errorf("exe %q (deleted %v, truncated %v), /proc/PID/exe %q; want \"/\" as /proc shows it", rec.Exe, rec.ExeDeleted, rec.ExeTruncated, want)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	_ = f.Close()
}
