package collector

import "testing"

// TestClassifyRules covers the rules the captured fixtures do not: shared
// memory of every kind, other files, named anonymous memory, a deleted
// executable found through start_code, old kernels' [stack:TID], and a
// masked layout that must not be used.
func TestClassifyRules(t *testing.T) {
	maps := `1000-2000 r-xp 00000000 fe:00 10 /opt/app (deleted)
2000-3000 rw-p 00001000 fe:00 10 /opt/app (deleted)
3000-5000 rw-p 00000000 00:00 0
10000-11000 rw-s 00000000 00:1a 77 /dev/shm/ring
11000-12000 rw-s 00000000 00:01 32768 /SYSV0000abcd (deleted)
12000-13000 rw-s 00000000 00:01 5 /memfd:pool (deleted)
13000-14000 rw-s 00000000 00:01 6 /dev/zero (deleted)
14000-15000 r--p 00000000 fe:00 40 /usr/lib/locale/C.utf8/LC_CTYPE
15000-16000 r--s 00000000 fe:00 41 /var/cache/db
16000-17000 rw-p 00000000 00:00 0 [anon:jemalloc]
17000-18000 ---s 00000000 00:00 0
20000-21000 rw-p 00000000 00:00 0 [stack:4242]
`
	ms, err := parseMaps([]byte(maps))
	if err != nil {
		t.Fatal(err)
	}
	as := &AddressSpace{PID: 4240, Maps: ms, LayoutTrusted: true,
		Layout: Layout{StartCode: 0x1000, EndCode: 0x1800, StartStack: 0x7000, StartData: 0x2000, EndData: 0x2800, StartBrk: 0x9000, HasExtended: true}}
	classify(as)
	want := []struct {
		class Segment
		tid   int
	}{
		{SegCode, 0}, {SegData, 0}, {SegBSS, 0},
		{SegShm, 0}, {SegShm, 0}, {SegShm, 0}, {SegShm, 0},
		{SegFile, 0}, {SegFile, 0}, {SegAnon, 0}, {SegGuard, 0},
		{SegThreadStack, 4242},
	}
	for i, w := range want {
		if ms[i].Class != w.class || ms[i].TID != w.tid {
			t.Errorf("%s: got %s/%d, want %s/%d", ms[i].Path, ms[i].Class, ms[i].TID, w.class, w.tid)
		}
	}

	// Masked layout: start_code = 1 must not pick a file; the exe path
	// is used instead, and the brk rule is off.
	ms2, _ := parseMaps([]byte(maps))
	as2 := &AddressSpace{PID: 4240, Maps: ms2, Exe: "/opt/app", Layout: Layout{StartCode: 1, EndCode: 1}}
	classify(as2)
	if ms2[0].Class != SegCode || ms2[1].Class != SegData || ms2[2].Class != SegBSS {
		t.Errorf("masked layout: %s %s %s", ms2[0].Class, ms2[1].Class, ms2[2].Class)
	}
	// Unknown executable: its mappings are those of a library (it has an
	// executable mapping), never code.
	ms3, _ := parseMaps([]byte(maps))
	as3 := &AddressSpace{PID: 4240, Maps: ms3}
	classify(as3)
	if ms3[0].Class != SegLibCode {
		t.Errorf("unknown exe: %s", ms3[0].Class)
	}
}
