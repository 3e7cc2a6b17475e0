package collector

import (
	"errors"
	"testing"
)

const procStatus = "Name:\ta\\nb) Z 1 (\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t7292\nNgid:\t0\nPid:\t7292\nPPid:\t7290\nTracerPid:\t0\n" +
	"Uid:\t1000\t1001\t1002\t1003\nGid:\t100\t100\t100\t100\nNSpid:\t7985\t1\nVmPeak:\t   12000 kB\nVmSwap:\t      16 kB\n" +
	"SigQ:\t0/94058\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000010000\nSigIgn:\t0000000000001000\n" +
	"SigCgt:\t00000001a0016623\nCapEff:\t000001ffffffffff\nvoluntary_ctxt_switches:\t13927\nnonvoluntary_ctxt_switches:\t4202\n"

func TestParseStatus(t *testing.T) {
	s, err := parseStatus([]byte(procStatus))
	if err != nil {
		t.Fatal(err)
	}
	if s.tgid != 7292 || s.ppid != 7290 || s.uids != [4]int64{1000, 1001, 1002, 1003} || s.gids[0] != 100 {
		t.Fatalf("ids %+v", s)
	}
	if s.nnspids != 2 || s.nspids[0] != 7985 || s.nspids[1] != 1 {
		t.Fatalf("nspid %v %d", s.nspids, s.nnspids)
	}
	if s.sigBlk != 1<<16 || s.sigIgn != 1<<12 || s.sigCgt != 0x1a0016623 || s.capEff != 0x1ffffffffff {
		t.Fatalf("masks %+v", s)
	}
	if s.vol != 13927 || s.invol != 4202 || s.vmPeakKB != 12000 || s.vmSwapKB != 16 {
		t.Fatalf("counts %+v", s)
	}
	if s.has&(hasVol|hasInvol|hasSig|hasUid) != hasVol|hasInvol|hasSig|hasUid {
		t.Fatalf("has %b", s.has)
	}
}

func TestParseStatusMissingAndBad(t *testing.T) {
	s, err := parseStatus([]byte("Name:\tx\nPid:\t1\n"))
	if err != nil || s.has&hasVol != 0 {
		t.Fatalf("missing lines: %v %b", err, s.has)
	}
	for _, in := range []string{
		"voluntary_ctxt_switches:\t-1\n", "SigBlk:\tzz\n", "Uid:\t\n", "PPid:\t1x\n",
		"SigCgt:\t00000000000000000\n", "voluntary_ctxt_switches:\t99999999999999999999999\n",
	} {
		if _, err := parseStatus([]byte(in)); !errors.Is(err, errStatusFormat) {
			t.Errorf("parseStatus(%q) = %v, want errStatusFormat", in, err)
		}
	}
}
