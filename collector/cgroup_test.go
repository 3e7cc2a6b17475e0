package collector

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseCgroupPath(t *testing.T) {
	for in, want := range map[string]string{
		"0::/system.slice/nginx.service\n":                                 "/system.slice/nginx.service",
		"12:pids:/a\n1:name=systemd:/user.slice\n0::/user.slice/x.scope\n": "/user.slice/x.scope",
		"9:name=systemd:/\n4:memory:/process_api/4f\n":                     "/",
		"4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n":                "/docker/abc",
		"1:cpu:/job/a:b\n": "/job/a:b",
	} {
		if got, err := parseCgroupPath([]byte(in)); err != nil || got != want {
			t.Errorf("parseCgroupPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "\n", "x::/a\n", "0::relative\n", "0:/a\n"} {
		if got, err := parseCgroupPath([]byte(bad)); !errors.Is(err, errCgroupFormat) {
			t.Errorf("parseCgroupPath(%q) = %q, %v; want a format error", bad, got, err)
		}
	}
}

func FuzzParseCgroupPath(f *testing.F) {
	for _, s := range []string{"0::/system.slice/x.service\n", "9:name=systemd:/\n4:memory:/m\n", "1:cpu:/a:b\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		p, err := parseCgroupPath(b)
		if err == nil && (p == "" || p[0] != '/') {
			t.Fatalf("path %q from %q", p, b)
		} else if err != nil && !errors.Is(err, errCgroupFormat) {
			t.Fatalf("error %v", err)
		}
		if !bytes.Equal(b, orig) {
			t.Fatal("modified its input")
		}
	})
}

// A fixture tree with a cgroup and io file for one process, a v1-only
// cgroup and a garbled io for another, and neither for a third: each
// outcome is what the scan says, and without the options nothing is read.
func TestScanCgroupsAndIOFixture(t *testing.T) {
	r := fixtureReader(t, "cgroup-io", false)
	defer r.Close()
	s, err := r.Scan(context.Background(), ScanOptions{Cgroups: true, IO: true})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2, p50 := find(s, 1), find(s, 2), find(s, 50)
	if p1 == nil || p2 == nil || p50 == nil {
		t.Fatalf("processes 1, 2, 50 not all read: %v %v %v", p1, p2, p50)
	}
	if p1.Cgroup != "/init.scope" || p1.Read&SrcCgroup == 0 {
		t.Errorf("pid 1 cgroup %q (read %b)", p1.Cgroup, p1.Read)
	}
	want := IOCounters{RChar: 4096, WChar: 512, SyscR: 10, SyscW: 4, ReadBytes: 8192, WriteBytes: 1024}
	if p1.IO != want || p1.Read&SrcIO == 0 {
		t.Errorf("pid 1 io %+v, want %+v", p1.IO, want)
	}
	if p2.Cgroup != "/" {
		t.Errorf("pid 2 cgroup %q, want / (systemd's v1 hierarchy)", p2.Cgroup)
	}
	if p2.Read&SrcIO != 0 || p2.Unavailable["io"] == "" {
		t.Errorf("pid 2's garbled io: read %b, unavailable %q", p2.Read, p2.Unavailable["io"])
	}
	if p50.Read&(SrcIO|SrcCgroup) != 0 || p50.Unavailable["io"] != ReasonNotPresent || p50.Unavailable["cgroup"] != ReasonNotPresent {
		t.Errorf("pid 50 without the files: read %b, unavailable %v", p50.Read, p50.Unavailable)
	}
	if s.Counts.ParseErrors == 0 || s.Counts.NotPresent < 2 {
		t.Errorf("counts %+v: want the garbled io as a parse error and two files not present", s.Counts)
	}
	plain := snap(t, r)
	if p := find(plain, 1); p.Cgroup != "" || p.IO != (IOCounters{}) || p.Read&(SrcIO|SrcCgroup) != 0 {
		t.Errorf("without the options: cgroup %q io %+v", p.Cgroup, p.IO)
	}
}

// On the live machine a scan reads this process's own cgroup (what its
// cgroup file says) and io counters (it has read files).
func TestScanCgroupsAndIOLive(t *testing.T) {
	r, err := NewReader(Options{Threads: false})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	raw, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skip("no /proc/self/cgroup")
	}
	wantCg, err := parseCgroupPath(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Scan(context.Background(), ScanOptions{Cgroups: true, IO: true})
	if err != nil {
		t.Fatal(err)
	}
	self := find(s, os.Getpid())
	if self == nil {
		t.Fatal("this process is not in the scan")
	}
	if self.Cgroup != wantCg {
		t.Errorf("own cgroup %q, want %q", self.Cgroup, wantCg)
	}
	if self.Read&SrcIO == 0 || self.IO.RChar == 0 {
		t.Errorf("own io: read %b, %+v (unavailable %q)", self.Read, self.IO, self.Unavailable["io"])
	}
	withIO := 0
	for i := range s.Processes {
		if s.Processes[i].Read&SrcIO != 0 {
			withIO++
		}
	}
	t.Logf("%d of %d processes with io counters (%s backend)", withIO, len(s.Processes), s.Collector)
}

func TestWorkloadOf(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct{ path, want string }{
		{"/", ""},
		{"/init.scope", "init.scope"},
		{"/system.slice/nginx.service", "nginx.service"},
		{"/user.slice/user-1000.slice/session-3.scope", "session-3.scope"},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "foo.service"},
		{"/system.slice/docker-" + id + ".scope", "docker:0123456789ab"},
		{"/docker/" + id, "docker:0123456789ab"},
		{"/machine.slice/libpod-" + id + ".scope/container", "podman:0123456789ab"},
		{"/system.slice/crio-" + id + ".scope", "crio:0123456789ab"},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-" + id + ".scope",
			"pod:1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/0123456789ab"},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice",
			"pod:1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"},
		{"/kubepods/burstable/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/" + id, "pod:1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/0123456789ab"},
		{"/lxc.payload.web1/system.slice/nginx.service", "nginx.service"},
		{"/lxc.payload.web1", "lxc:web1"},
		{"/user.slice", ""},
		{"/docker-notanid.scope", "docker-notanid.scope"},
	} {
		if got := WorkloadOf(c.path).String(); got != c.want {
			t.Errorf("WorkloadOf(%q) = %q, want %q", c.path, got, c.want)
		}
	}
}

// TestCgroupMemo: a process's cgroup is read once per identity and reused
// while its comm stays the same and within the memo's TTL (a copy of the
// cgroup-io tree whose cgroup file changes between scans); a new comm (an
// exec) reads it again, and so does a Reader without the cache.
func TestCgroupMemo(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "fixtures", "proc", "cgroup-io"))); err != nil {
		t.Fatal(err)
	}
	cgroupOf := func(r *Reader) (string, string) {
		t.Helper()
		s, err := r.Scan(context.Background(), ScanOptions{Cgroups: true})
		if err != nil {
			t.Fatal(err)
		}
		p := find(s, 1)
		if p == nil || p.Read&SrcCgroup == 0 {
			t.Fatalf("pid 1 without its cgroup: %+v", p)
		}
		return p.Cgroup, p.Workload.String()
	}
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, "1", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reader := func(ttl time.Duration) *Reader {
		r, err := NewReader(Options{Root: root, PasswdPath: filepath.Join("..", "fixtures", "passwd"), CmdlineTTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	cached, uncached := reader(0), reader(-1)
	if cg, w := cgroupOf(cached); cg != "/init.scope" || w != "init.scope" {
		t.Fatalf("first scan: %q %q", cg, w)
	}
	cgroupOf(uncached)
	write("cgroup", "0::/system.slice/nginx.service\n")
	if cg, _ := cgroupOf(cached); cg != "/init.scope" {
		t.Errorf("same identity and comm within the TTL: cgroup read again (%q)", cg)
	}
	if cg, w := cgroupOf(uncached); cg != "/system.slice/nginx.service" || w != "nginx.service" {
		t.Errorf("without the cache: %q %q", cg, w)
	}
	comm, err := os.ReadFile(filepath.Join(root, "1", "comm"))
	if err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile(filepath.Join(root, "1", "stat"))
	if err != nil {
		t.Fatal(err)
	}
	old := "(" + strings.TrimSpace(string(comm)) + ")"
	if !strings.Contains(string(stat), old) {
		t.Fatalf("stat %q lacks the comm %s", stat, old)
	}
	write("stat", strings.Replace(string(stat), old, "(nginx)", 1))
	write("comm", "nginx\n")
	status, err := os.ReadFile(filepath.Join(root, "1", "status"))
	if err != nil {
		t.Fatal(err)
	}
	write("status", strings.Replace(string(status), "Name:\t"+strings.TrimSpace(string(comm)), "Name:\tnginx", 1))
	if cg, w := cgroupOf(cached); cg != "/system.slice/nginx.service" || w != "nginx.service" {
		t.Errorf("after an exec (new comm): %q %q", cg, w)
	}
}
