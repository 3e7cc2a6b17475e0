package collector

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Tests of the pure parsers of the sources `pinspect explain` reads:
// schedstat, task syscall, wchan, io, pressure, cgroup CPU files, loadavg,
// fd link kinds and runtime detection. Inputs are copied from this
// machine's /proc (kernel 6.18) and from the kernel's documentation.

func TestParseSchedstat(t *testing.T) {
	for _, c := range []struct {
		in   string
		want SchedStat
		ok   bool
	}{
		{"392051037 184395365 1800\n", SchedStat{392051037, 184395365, 1800}, true},
		{"0 0 0", SchedStat{}, true},
		{"18446744073709551615 1 2\n", SchedStat{1<<64 - 1, 1, 2}, true},
		{"1 2 3 4\n", SchedStat{1, 2, 3}, true}, // a future field is ignored
		{"", SchedStat{}, false},
		{"1 2\n", SchedStat{}, false},
		{"1 -2 3\n", SchedStat{}, false},
		{"1 2 x\n", SchedStat{}, false},
		{"18446744073709551616 1 2\n", SchedStat{}, false},
	} {
		got, err := parseSchedstat([]byte(c.in))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseSchedstat(%q) = %+v, %v; want %+v ok=%v", c.in, got, err, c.want, c.ok)
		}
		if err != nil && !errors.Is(err, errSchedstatFormat) {
			t.Errorf("parseSchedstat(%q): error %v does not wrap errSchedstatFormat", c.in, err)
		}
	}
}

func TestParseTaskSyscall(t *testing.T) {
	got, err := parseTaskSyscall([]byte("202 0x7f881bb4e6f4 0x189 0x0 0x0 0x0 0xffffffff 0x7f8816ffd0a0 0x7f881b8a2f16\n"))
	if err != nil || got.Nr != 202 || got.Args[0] != 0x7f881bb4e6f4 || got.Args[1] != 0x189 || got.SP != 0x7f8816ffd0a0 || got.PC != 0x7f881b8a2f16 || !got.InSyscall() {
		t.Errorf("futex line: %+v, %v", got, err)
	}
	got, err = parseTaskSyscall([]byte("running\n"))
	if err != nil || !got.Running || got.InSyscall() {
		t.Errorf("running: %+v, %v", got, err)
	}
	got, err = parseTaskSyscall([]byte("-1 0x7ffd3a1b2c30 0x55d4c2a1b2c3\n"))
	if err != nil || got.Nr != -1 || got.SP != 0x7ffd3a1b2c30 || got.InSyscall() {
		t.Errorf("outside a syscall: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "running now", "1 0x1 0x2", "-1 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8",
		"x 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8", "1 1 0x2 0x3 0x4 0x5 0x6 0x7 0x8", "1 0x 0x2 0x3 0x4 0x5 0x6 0x7 0x8",
		"1 0x11111111111111111 0x2 0x3 0x4 0x5 0x6 0x7 0x8", "-2 0x1 0x2", "99999999 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8"} {
		if _, err := parseTaskSyscall([]byte(bad)); !errors.Is(err, errTaskSyscallFormat) {
			t.Errorf("parseTaskSyscall(%q) = %v, want a format error", bad, err)
		}
	}
}

func TestParseWChan(t *testing.T) {
	for _, c := range []struct {
		in    string
		name  string
		state WChanState
	}{
		{"hrtimer_nanosleep", "hrtimer_nanosleep", WChanFunc},
		{"futex_do_wait\n", "futex_do_wait", WChanFunc},
		{"0", "", WChanNone},
		{"", "", WChanHidden},
		{" \n", "", WChanHidden},
	} {
		name, st := parseWChan([]byte(c.in))
		if name != c.name || st != c.state {
			t.Errorf("parseWChan(%q) = %q, %d; want %q, %d", c.in, name, st, c.name, c.state)
		}
	}
}

const procIOSample = `rchar: 6976
wchar: 1048576
syscr: 10
syscw: 16
read_bytes: 4096
write_bytes: 1073741824
cancelled_write_bytes: 8192
`

func TestParseProcIO(t *testing.T) {
	got, err := parseProcIO([]byte(procIOSample))
	want := IOCounters{RChar: 6976, WChar: 1 << 20, SyscR: 10, SyscW: 16, ReadBytes: 4096, WriteBytes: 1 << 30, CancelledWriteBytes: 8192}
	if err != nil || got != want {
		t.Fatalf("parseProcIO = %+v, %v; want %+v", got, err, want)
	}
	if _, err := parseProcIO([]byte(procIOSample + "future_key: 3\n")); err != nil {
		t.Errorf("an unknown key is an error: %v", err)
	}
	for _, bad := range []string{"", "rchar: 1\n", strings.Replace(procIOSample, "syscr: 10", "syscr: -1", 1),
		strings.Replace(procIOSample, "wchar: 1048576", "wchar 1048576", 1)} {
		if _, err := parseProcIO([]byte(bad)); !errors.Is(err, errIOFormat) {
			t.Errorf("parseProcIO(%q) = %v, want a format error", bad, err)
		}
	}
}

func TestParsePressure(t *testing.T) {
	got, err := parsePressure([]byte("some avg10=31.77 avg60=17.39 avg300=12.52 total=67463097\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"))
	if err != nil || got.Some.Avg10 != 31.77 || got.Some.Avg300 != 12.52 || got.Some.TotalUs != 67463097 || got.Full == nil || got.Full.TotalUs != 0 {
		t.Fatalf("cpu pressure = %+v, %v", got, err)
	}
	got, err = parsePressure([]byte("some avg10=0.11 avg60=0.22 avg300=0.29 total=3168029\n"))
	if err != nil || got.Full != nil {
		t.Errorf("a kernel without a full line: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "full avg10=0 avg60=0 avg300=0 total=0\n", "some avg10=1 avg60=2 total=3\n",
		"some avg10=NaN avg60=0 avg300=0 total=0\n", "some avg10=101 avg60=0 avg300=0 total=0\n",
		"some avg10=1 avg60=0 avg300=0 total=-1\n", "some avg10=1 avg60 avg300=0 total=1\n", "partial avg10=0 avg60=0 avg300=0 total=0\n"} {
		if _, err := parsePressure([]byte(bad)); !errors.Is(err, errPressureFormat) {
			t.Errorf("parsePressure(%q) = %v, want a format error", bad, err)
		}
	}
}

func TestParseCgroupCPU(t *testing.T) {
	q, p, err := parseCPUMax([]byte("50000 100000\n"))
	if err != nil || q != 50000 || p != 100000 {
		t.Errorf("cpu.max limited: %d %d %v", q, p, err)
	}
	q, p, err = parseCPUMax([]byte("max 100000\n"))
	if err != nil || q != 0 || p != 100000 {
		t.Errorf("cpu.max unlimited: %d %d %v", q, p, err)
	}
	q, p, err = parseCFSQuota([]byte("-1\n"), []byte("100000\n"))
	if err != nil || q != 0 || p != 100000 {
		t.Errorf("v1 unlimited: %d %d %v", q, p, err)
	}
	q, p, err = parseCFSQuota([]byte("150000\n"), []byte("100000\n"))
	if err != nil || q != 150000 || p != 100000 {
		t.Errorf("v1 limited: %d %d %v", q, p, err)
	}
	for _, bad := range [][2]string{{"max", ""}, {"0 100000", ""}, {"max 0", ""}, {"-5 100000", ""}, {"1 2 3", ""}} {
		if _, _, err := parseCPUMax([]byte(bad[0])); !errors.Is(err, errCgroupFormat) {
			t.Errorf("parseCPUMax(%q) = %v", bad[0], err)
		}
	}
	for _, bad := range [][2]string{{"0", "100000"}, {"-2", "100000"}, {"x", "100000"}, {"1000", "0"}, {"1000", ""}} {
		if _, _, err := parseCFSQuota([]byte(bad[0]), []byte(bad[1])); !errors.Is(err, errCgroupFormat) {
			t.Errorf("parseCFSQuota(%q, %q) = %v", bad[0], bad[1], err)
		}
	}
	v1, err := parseCgroupCPUStat([]byte("nr_periods 120\nnr_throttled 37\nthrottled_time 2500000000\nnr_bursts 0\nburst_time 0\n"))
	if err != nil || v1 != (CgroupCPUStat{Periods: 120, Throttled: 37, ThrottledNs: 2500000000}) {
		t.Errorf("v1 cpu.stat = %+v, %v", v1, err)
	}
	v2, err := parseCgroupCPUStat([]byte("usage_usec 8000\nuser_usec 6000\nsystem_usec 2000\nnr_periods 20\nnr_throttled 5\nthrottled_usec 1500\nnr_bursts 0\nburst_usec 0\n"))
	if err != nil || v2 != (CgroupCPUStat{Periods: 20, Throttled: 5, ThrottledNs: 1500000}) {
		t.Errorf("v2 cpu.stat = %+v, %v", v2, err)
	}
	for _, bad := range []string{"", "usage_usec 1\n", "nr_periods 1\nnr_throttled x\n", "nr_periods 1 2\nnr_throttled 1\n"} {
		if _, err := parseCgroupCPUStat([]byte(bad)); !errors.Is(err, errCgroupFormat) {
			t.Errorf("parseCgroupCPUStat(%q) = %v", bad, err)
		}
	}
	m, err := parseCgroupMembership([]byte("9:name=systemd:/\n4:memory:/process_api/4fcc\n2:cpuacct:/\n1:cpu,cpuacct:/job/a:b\n0::/user.slice\n"))
	want := cgroupMembership{V1CPU: "/job/a:b", V1Controllers: "cpu,cpuacct", V1OK: true, V2: "/user.slice", V2OK: true}
	if err != nil || m != want {
		t.Errorf("membership = %+v, %v; want %+v", m, err, want)
	}
	m, err = parseCgroupMembership([]byte("0::/system.slice/x.service\n"))
	if err != nil || m.V1OK || !m.V2OK || m.V2 != "/system.slice/x.service" {
		t.Errorf("v2 only = %+v, %v", m, err)
	}
	for _, bad := range []string{"x::/a\n", "1:cpu\n", "1:cpu:relative\n"} {
		if _, err := parseCgroupMembership([]byte(bad)); !errors.Is(err, errCgroupFormat) {
			t.Errorf("parseCgroupMembership(%q) = %v", bad, err)
		}
	}
	c := CgroupCPU{QuotaUs: 150000, PeriodUs: 100000}
	if !c.Limited() || c.LimitCPUs() != 1.5 {
		t.Errorf("LimitCPUs = %v", c.LimitCPUs())
	}
	if (&CgroupCPU{PeriodUs: 100000}).Limited() {
		t.Error("no quota reads as limited")
	}
}

func TestParseLoadavgTasks(t *testing.T) {
	r, n, err := parseLoadavgTasks([]byte("39.92 55.01 28.44 7/215 21582\n"))
	if err != nil || r != 7 || n != 215 {
		t.Errorf("loadavg = %d/%d, %v", r, n, err)
	}
	for _, bad := range []string{"", "1 2 3", "1 2 3 7 4", "1 2 3 x/4 5", "1 2 3 -1/4 5"} {
		if _, _, err := parseLoadavgTasks([]byte(bad)); err == nil {
			t.Errorf("parseLoadavgTasks(%q) accepted", bad)
		}
	}
}

func TestSummarizeFDTargets(t *testing.T) {
	got := summarizeFDTargets([]string{"/dev/null", "pipe:[123]", "socket:[456]", "socket:[457]", "anon_inode:[eventpoll]",
		"anon_inode:[eventfd]", "anon_inode:[timerfd]", "anon_inode:[signalfd]", "anon_inode:[io_uring]", "anon_inode:bpf-map", "/tmp/x (deleted)"})
	want := FDSummary{Count: 11, EventPoll: 1, Sockets: 2, Pipes: 1, Files: 2, EventFD: 1, TimerFD: 1, SignalFD: 1, IOUring: 1, Other: 1}
	if got != want {
		t.Errorf("summary = %+v, want %+v", got, want)
	}
}

func TestDetectRuntime(t *testing.T) {
	for _, c := range []struct {
		name  string
		clues RuntimeClues
		kind  RuntimeKind
		ver   string
	}{
		{"go", RuntimeClues{Exe: "/usr/bin/prog", GoVersion: "go1.26.8", GoPath: "example.com/prog"}, RuntimeGo, "go1.26.8"},
		{"cpython lib", RuntimeClues{Exe: "/root/.pyenv/versions/3.11.7/bin/python3.11", MappedFiles: []string{"/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"}}, RuntimeCPython, "3.11"},
		{"cpython static", RuntimeClues{Exe: "/usr/bin/python3.12"}, RuntimeCPython, "3.12"},
		{"cpython bare", RuntimeClues{Exe: "/usr/bin/python3"}, RuntimeCPython, "3"},
		{"not python", RuntimeClues{Exe: "/usr/bin/python-config"}, RuntimeNone, ""},
		{"jvm", RuntimeClues{Exe: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", MappedFiles: []string{"/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so"}}, RuntimeJVM, "17"},
		{"jvm jdk dir", RuntimeClues{MappedFiles: []string{"/opt/jdk-21.0.2/lib/server/libjvm.so"}}, RuntimeJVM, "21"},
		{"jvm hsperf", RuntimeClues{Exe: "/opt/app/bin/launcher", HSPerfData: true}, RuntimeJVM, ""},
		{"node exe", RuntimeClues{Exe: "/usr/bin/node"}, RuntimeNode, ""},
		{"node lib", RuntimeClues{Exe: "/usr/bin/electron", MappedFiles: []string{"/usr/lib/libnode.so.108"}}, RuntimeNode, ""},
		{"plain C", RuntimeClues{Exe: "/usr/bin/procshape", MappedFiles: []string{"/usr/lib/x86_64-linux-gnu/libc.so.6"}}, RuntimeNone, ""},
	} {
		got := DetectRuntime(c.clues)
		if got.Kind != c.kind || got.Version != c.ver {
			t.Errorf("%s: %+v, want %s %q", c.name, got, c.kind, c.ver)
		}
		if got.Kind != RuntimeNone && len(got.Evidence) == 0 {
			t.Errorf("%s: no evidence", c.name)
		}
	}
}

func TestSmapsDirty(t *testing.T) {
	in := "7f0000000000-7f0008000000 rw-p 00000000 00:00 0 \nRss: 131072 kB\nPss: 65536 kB\nShared_Clean: 0 kB\nShared_Dirty: 131064 kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: 8 kB\nAnonymous: 131072 kB\n"
	ents, err := parseSmaps([]byte(in))
	if err != nil || len(ents) != 1 {
		t.Fatalf("parseSmaps: %v %v", ents, err)
	}
	tot := ents[0].c.totals()
	if tot.SharedDirtyBytes != 131064<<10 || tot.PrivateDirtyBytes != 8<<10 || tot.AnonBytes != 131072<<10 {
		t.Errorf("totals = %+v", tot)
	}
	want := MemoryTotals{RSSBytes: 131072 << 10, PSSBytes: 65536 << 10, USSBytes: 8 << 10, SharedBytes: 131064 << 10,
		SharedDirtyBytes: 131064 << 10, PrivateDirtyBytes: 8 << 10, AnonBytes: 131072 << 10}
	if !reflect.DeepEqual(tot, want) {
		t.Errorf("totals = %+v, want %+v", tot, want)
	}
}
