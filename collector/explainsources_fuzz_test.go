package collector

import (
	"bytes"
	"errors"
	"testing"
)

// Fuzz targets of the explain sources' parsers. Each checks that the
// parser never panics, never changes its input, wraps its format error,
// and keeps what its callers rely on.

func FuzzParseSchedstat(f *testing.F) {
	for _, s := range []string{"392051037 184395365 1800\n", "0 0 0", "", "1 2", "1 -2 3", "18446744073709551616 1 2", "1\t2\t3\n4"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		s, err := parseSchedstat(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("modified its input")
		}
		if err != nil {
			if !errors.Is(err, errSchedstatFormat) || s != (SchedStat{}) || len(err.Error()) > 200 {
				t.Fatalf("error %v with %+v", err, s)
			}
		}
	})
}

func FuzzParseTaskSyscall(f *testing.F) {
	for _, s := range []string{"202 0x7f881bb4e6f4 0x189 0x0 0x0 0x0 0xffffffff 0x7f8816ffd0a0 0x7f881b8a2f16\n",
		"running\n", "-1 0x7ffd3a1b2c30 0x55d4c2a1b2c3\n", "", "1 0x 0x2", "0x1", "-1 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		s, err := parseTaskSyscall(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("modified its input")
		}
		if err != nil {
			if !errors.Is(err, errTaskSyscallFormat) || len(err.Error()) > 200 {
				t.Fatalf("error %v", err)
			}
			return
		}
		if s.Running && s.InSyscall() || !s.Running && s.Nr < -1 {
			t.Fatalf("inconsistent %+v", s)
		}
	})
}

func FuzzParseProcIO(f *testing.F) {
	f.Add([]byte(procIOSample))
	f.Add([]byte("rchar: 1\n"))
	f.Add([]byte("rchar:1\nwchar:2\nsyscr:3\nsyscw:4\nread_bytes:5\nwrite_bytes:6\ncancelled_write_bytes:7"))
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		_, err := parseProcIO(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("modified its input")
		}
		if err != nil && (!errors.Is(err, errIOFormat) || len(err.Error()) > 200) {
			t.Fatalf("error %v", err)
		}
	})
}

func FuzzParsePressure(f *testing.F) {
	for _, s := range []string{"some avg10=31.77 avg60=17.39 avg300=12.52 total=67463097\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=0.11 avg60=0.22 avg300=0.29 total=3168029\n", "", "some avg10=NaN avg60=0 avg300=0 total=0", "some avg10=1e2 avg60=0x1p1 avg300=0 total=0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		p, err := parsePressure(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("modified its input")
		}
		if err != nil {
			if !errors.Is(err, errPressureFormat) || len(err.Error()) > 200 {
				t.Fatalf("error %v", err)
			}
			return
		}
		for _, l := range []PressureLine{p.Some} {
			for _, v := range []float64{l.Avg10, l.Avg60, l.Avg300} {
				if !(v >= 0 && v <= 100) {
					t.Fatalf("average %v out of 0..100", v)
				}
			}
		}
	})
}

func FuzzParseCgroupFiles(f *testing.F) {
	for _, s := range []string{"50000 100000\n", "max 100000\n", "nr_periods 120\nnr_throttled 37\nthrottled_time 2500000000\n",
		"usage_usec 8000\nnr_periods 20\nnr_throttled 5\nthrottled_usec 1500\n", "1:cpu,cpuacct:/job\n0::/user.slice\n", "-1\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		if q, p, err := parseCPUMax(b); err == nil && (p == 0 || q > 0 && q > 1<<63) {
			t.Fatalf("cpu.max %d/%d", q, p)
		} else if err != nil && !errors.Is(err, errCgroupFormat) {
			t.Fatalf("cpu.max error %v", err)
		}
		if _, p, err := parseCFSQuota(b, []byte("100000")); err == nil && p != 100000 {
			t.Fatalf("cfs period %d", p)
		} else if err != nil && !errors.Is(err, errCgroupFormat) {
			t.Fatalf("cfs error %v", err)
		}
		if _, err := parseCgroupCPUStat(b); err != nil && !errors.Is(err, errCgroupFormat) {
			t.Fatalf("cpu.stat error %v", err)
		}
		if m, err := parseCgroupMembership(b); err == nil && (m.V1OK && (m.V1CPU == "" || m.V1CPU[0] != '/') || m.V2OK && m.V2 == "") {
			t.Fatalf("membership %+v", m)
		} else if err != nil && !errors.Is(err, errCgroupFormat) {
			t.Fatalf("membership error %v", err)
		}
		if !bytes.Equal(b, orig) {
			t.Fatal("modified its input")
		}
	})
}
