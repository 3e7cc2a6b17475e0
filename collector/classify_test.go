package collector

import (
	"os"
	"testing"
)

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
		{SegFile, 0}, {SegFile, 0}, {SegAnon, 0}, {SegReserved, 0},
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

// TestReservedAndBSSCap (item 11 of issue 13): a no-access mapping is a
// stack's guard only right below a stack (a thread's, or anonymous rw
// memory whose thread is unknown, for a guard-sized one); otherwise it is
// a reservation (a malloc arena's reserve, a runtime heap's, a library's
// alignment gap), never "guard". A library's bss is capped at its
// writable segment's end in memory (ELF p_vaddr + p_memsz): a 3 MiB
// anonymous mapping right after libz, whose bss is 8 bytes and fits in
// its data page, is not libz's bss.
func TestReservedAndBSSCap(t *testing.T) {
	maps := `400000-401000 r-xp 00000000 fe:00 10 /opt/app
7f0000000000-7f0000021000 rw-p 00000000 00:00 0
7f0000021000-7f0004000000 ---p 00000000 00:00 0
7f1000000000-7f1000001000 ---p 00000000 00:00 0
7f1000001000-7f1000801000 rw-p 00000000 00:00 0
7f2000000000-7f2000002000 r-xp 00000000 fe:00 20 /usr/lib/libz.so.1
7f2000002000-7f2000003000 ---p 00002000 fe:00 20 /usr/lib/libz.so.1
7f2000003000-7f2000004000 rw-p 00003000 fe:00 20 /usr/lib/libz.so.1
7f2000004000-7f2000304000 rw-p 00000000 00:00 0
7f3000000000-7f3000002000 r-xp 00000000 fe:00 30 /usr/lib/libbig.so
7f3000002000-7f3000003000 rw-p 00002000 fe:00 30 /usr/lib/libbig.so
7f3000003000-7f3000009000 rw-p 00000000 00:00 0
`
	ms, err := parseMaps([]byte(maps))
	if err != nil {
		t.Fatal(err)
	}
	// Thread 4241 was running: its stack is not placed, so one guard-sized
	// no-access range below anonymous rw memory may be its guard.
	running := []ThreadStack{{TID: 4240, Known: true, SP: 0x7f0000020000, Mapping: -1}, {TID: 4241, Mapping: -1, Reason: ReasonThreadRuns}}
	as := &AddressSpace{PID: 4240, Maps: ms, Exe: "/opt/app", Stacks: running}
	// libz's data segment (offset 0x3000, vaddr 0x3000) is 0x100 bytes
	// with 8 of bss: it ends in its data page. libbig's has 0x6000 of bss.
	classifyWith(as, map[int]uint64{7: 0x7f2000004000, 10: 0x7f3000009000}, nil)
	want := []Segment{SegCode, SegAnon, SegReserved, SegGuard, SegAnon, SegLibCode, SegReserved, SegLibData, SegAnon,
		SegLibCode, SegLibData, SegLibData}
	for i, w := range want {
		if ms[i].Class != w {
			t.Errorf("%x-%x %s: got %s, want %s", ms[i].Start, ms[i].End, ms[i].Path, ms[i].Class, w)
		}
	}
	// Without the program headers, adjacency alone (as before).
	ms2, _ := parseMaps([]byte(maps))
	classify(&AddressSpace{PID: 4240, Maps: ms2, Exe: "/opt/app", Stacks: running})
	if ms2[8].Class != SegLibData {
		t.Errorf("no headers: %s", ms2[8].Class)
	}
	// Every thread's stack placed (B11): no stack is left to own a guard,
	// so the guard-sized range is reserved too.
	ms3, _ := parseMaps([]byte(maps))
	classify(&AddressSpace{PID: 4240, Maps: ms3, Exe: "/opt/app", Stacks: running[:1]})
	if ms3[3].Class != SegReserved || countClass(&AddressSpace{Maps: ms3}, SegGuard) != 0 {
		t.Errorf("no unplaced thread: %s, %d guards", ms3[3].Class, countClass(&AddressSpace{Maps: ms3}, SegGuard))
	}
}

// TestGuardsNoMoreThanUnplacedThreads (B11): guard-sized no-access ranges
// below anonymous rw memory are guards of unplaced stacks only while
// they are no more than the threads whose stacks are unplaced; two
// such ranges and one running thread cannot be told apart: both reserved.
func TestGuardsNoMoreThanUnplacedThreads(t *testing.T) {
	maps := `400000-401000 r-xp 00000000 fe:00 10 /opt/app
7f1000000000-7f1000001000 ---p 00000000 00:00 0
7f1000001000-7f1000801000 rw-p 00000000 00:00 0
7f2000000000-7f2000001000 ---p 00000000 00:00 0
7f2000001000-7f2000801000 rw-p 00000000 00:00 0
`
	for _, tc := range []struct {
		running int
		want    Segment
	}{{0, SegReserved}, {1, SegReserved}, {2, SegGuard}, {3, SegGuard}} {
		ms, err := parseMaps([]byte(maps))
		if err != nil {
			t.Fatal(err)
		}
		stacks := []ThreadStack{{TID: 10, Mapping: -1, Reason: ReasonThreadRuns}}
		for i := 0; i < tc.running; i++ {
			stacks = append(stacks, ThreadStack{TID: 11 + i, Mapping: -1, Reason: ReasonThreadRuns})
		}
		classify(&AddressSpace{PID: 10, Maps: ms, Exe: "/opt/app", Stacks: stacks})
		if ms[1].Class != tc.want || ms[3].Class != tc.want {
			t.Errorf("%d running threads: %s and %s, want %s", tc.running, ms[1].Class, ms[3].Class, tc.want)
		}
	}
}

// TestParseELFLoads reads the program headers of this test binary and
// holds dataEnd to the kernel's own mapping of it.
func TestParseELFLoads(t *testing.T) {
	b, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Skip(err)
	}
	loads, err := parseELFLoads(b[:min(len(b), elfHeadMax)])
	if err != nil || len(loads) < 2 {
		t.Fatalf("%v %+v", err, loads)
	}
	w := 0
	for _, l := range loads {
		if l.writable {
			w++
			if l.memsz < l.filesz {
				t.Errorf("memsz below filesz: %+v", l)
			}
		}
	}
	if w == 0 {
		t.Errorf("no writable segment: %+v", loads)
	}
	for _, bad := range [][]byte{nil, []byte("\x7fELF"), append([]byte("\x7fELF\x02\x01"), make([]byte, 60)...)} {
		if _, err := parseELFLoads(bad); err == nil && len(bad) < 52 {
			t.Errorf("parseELFLoads(%q) accepted", bad)
		}
	}
	if end, ok := dataEnd([]elfLoad{{offset: 0x3d10, vaddr: 0x4d10, filesz: 0x300, memsz: 0x308, writable: true}}, 0x7f0000004000, 0x3000, 4096); !ok || end != 0x7f0000006000 {
		t.Errorf("dataEnd = %x %v", end, ok)
	}
}

// TestDataEndAfterRELRO: with RELRO, the writable mapping starts a page
// into the writable segment (libtiny.so as gcc 12 links it: the segment
// at file offset 0x2e68, vaddr 0x3e68, 0x1a4 bytes, 0x1b8 in memory; its
// rw mapping at offset 0x3000).
func TestDataEndAfterRELRO(t *testing.T) {
	loads := []elfLoad{{offset: 0, vaddr: 0, filesz: 0x440, memsz: 0x440}, {offset: 0x2e68, vaddr: 0x3e68, filesz: 0x1a4, memsz: 0x1b8, writable: true}}
	if end, ok := dataEnd(loads, 0x7f61bcf66000, 0x3000, 4096); !ok || end != 0x7f61bcf67000 {
		t.Errorf("dataEnd = %x %v, want 7f61bcf67000", end, ok)
	}
}

// TestGoArenaNotAThreadStack: a thread's stack pointer in a Go arena (the
// goroutine it runs lives there) made the whole arena that thread's stack
// when the other threads were running (their stack pointers unknown), so
// explain saw 3.5 MB of anonymous memory in a program holding 260 MB of
// goroutine stacks. A pthread stack has a guard right below it; an arena
// has none (or a reservation far bigger than a guard).
func TestGoArenaNotAThreadStack(t *testing.T) {
	maps := `400000-4ab000 r-xp 00000000 fe:00 10 /opt/goprog
591000-59c000 rw-p 00191000 fe:00 10 /opt/goprog
36ead0000000-36ead3000000 ---p 00000000 00:00 0
36ead3000000-36eae3800000 rw-p 00000000 00:00 0
7f14e5400000-7f14e7400000 rw-p 00000000 00:00 0
7f2000000000-7f2000001000 ---p 00000000 00:00 0
7f2000001000-7f2000801000 rw-p 00000000 00:00 0
7fff3cd70000-7fff3cd91000 rw-p 00000000 00:00 0 [stack]
`
	for _, tc := range []struct {
		name string
		sp   uint64
		want Segment // of the mapping holding sp
		at   int
	}{
		{"arena below a reservation", 0x36ead3456000, SegAnon, 3},
		{"arena with nothing below", 0x7f14e5500000, SegAnon, 4},
		{"pthread stack", 0x7f2000800000, SegThreadStack, 6},
	} {
		ms, err := parseMaps([]byte(maps))
		if err != nil {
			t.Fatal(err)
		}
		as := &AddressSpace{PID: 100, Maps: ms, Exe: "/opt/goprog", Stacks: []ThreadStack{
			{TID: 100, SP: 0x7fff3cd90000, Known: true},
			{TID: 101, SP: tc.sp, Known: true},
			{TID: 102, Reason: "running"}, {TID: 103, Reason: "running"},
		}}
		// pagemap shows no guard region in a Go arena either.
		asked := 0
		classifyWith(as, nil, func(*Mapping) bool { asked++; return false })
		if got := ms[tc.at].Class; got != tc.want {
			t.Errorf("%s: %x-%x is %s, want %s", tc.name, ms[tc.at].Start, ms[tc.at].End, got, tc.want)
		}
		if tc.want == SegAnon && asked != 1 {
			t.Errorf("%s: guard inside asked %d times, want once", tc.name, asked)
		}
		if ms[7].Class != SegStack {
			t.Errorf("%s: [stack] is %s", tc.name, ms[7].Class)
		}
	}
}
