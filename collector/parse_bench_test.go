package collector

import (
	"encoding/binary"
	"strconv"
	"testing"
)

// Inputs shaped like real files of a threaded process.
var (
	benchStat    = []byte("1378 (storm worker) S 1 1378 1378 0 -1 4194560 1275 0 0 0 1203 3408 0 0 20 0 9 0 1523 231632896 1024 18446744073709551615 94363514712064 94363514721341 140724466437024 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94363514733680 94363514735120 94363540701184 140724466441589 140724466441623 140724466441623 140724466442213 0\n")
	benchStatus  = []byte("Name:\tstorm\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t1378\nNgid:\t0\nPid:\t1378\nPPid:\t1\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t64\nGroups:\t0 \nNStgid:\t1378\nNSpid:\t1378\nNSpgid:\t1378\nNSsid:\t1378\nKthread:\t0\nVmPeak:\t  226204 kB\nVmSize:\t  226204 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\nVmHWM:\t    4096 kB\nVmRSS:\t    4096 kB\nRssAnon:\t     512 kB\nRssFile:\t    3584 kB\nRssShmem:\t       0 kB\nVmData:\t   74200 kB\nVmStk:\t     132 kB\nVmExe:\t       8 kB\nVmLib:\t    1784 kB\nVmPTE:\t      76 kB\nVmSwap:\t       0 kB\nHugetlbPages:\t       0 kB\nCoreDumping:\t0\nTHP_enabled:\t1\nuntag_mask:\t0xffffffffffffffff\nThreads:\t9\nSigQ:\t0/96365\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\nSpeculation_Store_Bypass:\tthread vulnerable\nSpeculationIndirectBranch:\tconditional enabled\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed:\t00000000,00000001\nMems_allowed_list:\t0\nvoluntary_ctxt_switches:\t8314\nnonvoluntary_ctxt_switches:\t1624\n")
	benchCmdline = []byte("/usr/bin/python3\x00-m\x00http.server\x00--bind\x00127.0.0.1\x008080\x00")
)

func BenchmarkParseStat(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchStat)))
	for b.Loop() {
		if _, err := parseStat(benchStat); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseStatus(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchStatus)))
	for b.Loop() {
		if _, err := parseStatus(benchStatus); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCmdline(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchCmdline)))
	for b.Loop() {
		if args, _ := parseCmdline(benchCmdline); len(args) != 6 {
			b.Fatalf("got %d args", len(args))
		}
	}
}

// direntsBuf builds a getdents64 buffer with n numeric entries and the
// usual non-numeric ones.
func direntsBuf(n int) []byte {
	var buf []byte
	add := func(name string) {
		reclen := (19 + len(name) + 1 + 7) &^ 7
		rec := make([]byte, reclen)
		binary.NativeEndian.PutUint16(rec[16:], uint16(reclen))
		rec[18] = 4 // DT_DIR
		copy(rec[19:], name)
		buf = append(buf, rec...)
	}
	add(".")
	add("..")
	add("self")
	add("sys")
	for i := 1; i <= n; i++ {
		add(strconv.Itoa(i * 7))
	}
	return buf
}

func BenchmarkParseDirents(b *testing.B) {
	buf := direntsBuf(2000)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	ids := make([]int, 0, 2000)
	for b.Loop() {
		ids = ids[:0]
		parseDirents(buf, func(id int) { ids = append(ids, id) })
		if len(ids) != 2000 {
			b.Fatalf("got %d ids", len(ids))
		}
	}
}
