package collector

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// The tests of the cmdline program (TestBackendsAgree,
// TestIterScanHungProcess) run on machines of any size: the program is
// loaded whatever the process count.
func init() { bpfCmdlinesFrom = 0 }

// TestBPFCmdlineNote: when a Reader asked for the cmdline program
// (Options.BPFCmdlines) and a scan read its cmdlines from /proc instead,
// the snapshot's CollectorNote says why (the one-shot's summary line and
// its JSON collector_note show it): here a run that fails (the program
// closed under the Reader) and a Reader whose earlier run passed its
// deadline. A scan that used it says nothing of cmdlines.
func TestBPFCmdlineNote(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		stage      func(*Reader)
	}{
		{"used", "", func(*Reader) {}},
		{"run fails", "cmdlines from /proc: cmdlines: closed", func(r *Reader) { _ = r.iter.Cmdlines().Close() }},
		{"abandoned", "cmdlines from /proc: an earlier run", func(r *Reader) { r.cmdBPFStuck.Store(true) }},
	} {
		r := newIterReader(t, Options{BPFCmdlines: true})
		if r.iter.Cmdlines() == nil {
			t.Fatalf("the cmdline program does not load: %v", r.iter.CmdlinesUnavailable)
		}
		tc.stage(r)
		s, err := r.Scan(context.Background(), ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if s.CmdlinesBPF == 0 || strings.Contains(s.CollectorNote, "cmdline") {
				t.Errorf("%s: %d cmdlines from the program, note %q", tc.name, s.CmdlinesBPF, s.CollectorNote)
			}
		} else if s.CmdlinesBPF != 0 || !strings.Contains(s.CollectorNote, tc.want) {
			t.Errorf("%s: %d cmdlines from the program, note %q, want %q", tc.name, s.CmdlinesBPF, s.CollectorNote, tc.want)
		}
		_ = r.Close()
	}
}

// TestApplyBPFCmdlineStuck: after a run that passed its deadline, the
// process it was stuck at gets the cmdline "timeout" the /proc reader
// would have given it (not read again from /proc: its memory-map lock
// is what the run waits for), and every other process is left to /proc.
func TestApplyBPFCmdlineStuck(t *testing.T) {
	r := newIterReader(t, Options{})
	s := r.newScan(nil)
	s.bpfCmd.stuck, s.bpfCmd.ok = 4242, false
	stuck, other := &Process{PID: 4242}, &Process{PID: 4243}
	if !s.applyBPFCmdline(stuck, nil) || stuck.Read&SrcCmdline != 0 || !strings.Contains(stuck.Unavailable["cmdline"], "timeout") || s.counts.Timeouts != 1 {
		t.Errorf("the stuck process: read %v, unavailable %q, timeouts %d", stuck.Read&SrcCmdline != 0, stuck.Unavailable["cmdline"], s.counts.Timeouts)
	}
	if s.applyBPFCmdline(other, nil) || other.Unavailable != nil {
		t.Errorf("another process of the abandoned run: not left to /proc (%q)", other.Unavailable)
	}
}

// TestBPFCmdlineParseShares: a process whose cmdline has the last one's
// bytes shares its parsed arguments; any other is parsed as
// parseCmdline parses it, and a cleared run shares nothing.
func TestBPFCmdlineParseShares(t *testing.T) {
	var b bpfCmdlines
	first, _ := b.parse([]byte("worker\x00-n\x0010\x00"))
	again, _ := b.parse([]byte("worker\x00-n\x0010\x00")) // other bytes, same text
	if len(again) != 3 || &again[0] != &first[0] {
		t.Errorf("the same cmdline was parsed again: %q", again)
	}
	for _, raw := range []string{"worker\x00-n\x0011\x00", "worker -n 11", "", "\x00\x00", "a\x00b"} {
		got, gotNoNUL := b.parse([]byte(raw))
		want, wantNoNUL := parseCmdline([]byte(raw))
		if !slices.Equal(got, want) || gotNoNUL != wantNoNUL {
			t.Errorf("%q: parsed %q %v, want %q %v", raw, got, gotNoNUL, want, wantNoNUL)
		}
	}
	b.lastRaw, b.lastArgs = nil, nil
	if got, _ := b.parse([]byte("a\x00b")); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("after clearing: %q", got)
	}
}
