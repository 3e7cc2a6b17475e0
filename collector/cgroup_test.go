package collector

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
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
