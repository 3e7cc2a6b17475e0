package taskiter

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
	"unsafe"
)

// recordBytes is a record's wire form: its struct's bytes.
func recordBytes[T taskIterTaskRec | taskIterGroupRec](r *T) []byte {
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(r)), unsafe.Sizeof(*r)))
}

func leaderRecords(pid uint32) []byte {
	tr := taskIterTaskRec{Kind: recTask, Pid: pid, Tgid: pid, Ppid: 1, Nvcsw: 7, StartBoottime: 123_456_789_000, RecFlags: taskHasParent}
	tr.Size = uint16(unsafe.Sizeof(tr))
	copy(tr.Comm[:], []int8{'s', 'h'})
	gr := taskIterGroupRec{Kind: recGroup, NrThreads: 2, Nvcsw: 3, PidLevel: 1, Nspid: [4]uint32{pid, 1}}
	gr.Size = uint16(unsafe.Sizeof(gr))
	return append(recordBytes(&tr), recordBytes(&gr)...)
}

func threadRecord(tid, tgid uint32) []byte {
	tr := taskIterTaskRec{Kind: recTask, Pid: tid, Tgid: tgid, Nvcsw: 5}
	tr.Size = uint16(unsafe.Sizeof(tr))
	return recordBytes(&tr)
}

func decodeBytes(b []byte, visit func(*Task) error) (PassStats, error) {
	return decodeStream(bufio.NewReaderSize(bytes.NewReader(b), 1024), 0, visit)
}

func TestDecodeStream(t *testing.T) {
	stream := append(leaderRecords(40), threadRecord(41, 40)...)
	var tot Totals
	var leader Task
	var group Group
	st, err := decodeBytes(stream, func(tk *Task) error {
		if tk.Group != nil {
			leader, group = *tk, *tk.Group
			tot = group.Totals()
		}
		tot.Add(tk)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Tasks != 2 || st.Groups != 1 || st.Bytes != int64(len(stream)) {
		t.Errorf("stats %+v", st)
	}
	if string(leader.Comm()) != "sh" || leader.StartTicks() != 12345 || !leader.HasParent || leader.PPID != 1 {
		t.Errorf("leader %+v", leader)
	}
	if group.NSPidsLen != 2 || group.NSPids[1] != 1 || group.TPGID != -1 {
		t.Errorf("group %+v", group)
	}
	if tot.VolCtx != 3+7+5 || tot.Threads != 2 {
		t.Errorf("totals %+v", tot)
	}
}

func TestDecodeStreamBroken(t *testing.T) {
	good := leaderRecords(40)
	for name, b := range map[string][]byte{
		"cut task":        good[:10],
		"cut group":       good[:len(good)-1],
		"wrong kind":      append([]byte{9, 0}, good[2:]...),
		"wrong size":      append([]byte{1, 0, 8, 0}, good[4:]...),
		"group not after": append(threadRecord(40, 40)[:len(threadRecord(40, 40))], threadRecord(41, 40)...),
	} {
		_, err := decodeBytes(b, func(*Task) error { return nil })
		if !errors.Is(err, ErrLayout) {
			t.Errorf("%s: %v", name, err)
		}
	}
	stop := errors.New("stop")
	if _, err := decodeBytes(good, func(*Task) error { return stop }); err != stop {
		t.Errorf("visit error: %v", err)
	}
}

func FuzzDecodeStream(f *testing.F) {
	f.Add(leaderRecords(40))
	f.Add(append(leaderRecords(1), threadRecord(2, 1)...))
	f.Add([]byte{1, 0, 200, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeBytes(b, func(tk *Task) error {
			_, _ = tk.Name(nil)
			_, _ = tk.CPUTimeTicks()
			return nil
		})
	})
}

func TestAdjustCPUTime(t *testing.T) {
	for _, c := range []struct{ u, s, rt, pu, ps, wu, ws uint64 }{
		{0, 0, 100, 0, 0, 100, 0},                           // no samples: all user
		{10, 0, 100, 0, 0, 100, 0},                          // user only
		{0, 10, 100, 0, 0, 0, 100},                          // system only
		{30, 10, 100, 0, 0, 75, 25},                         // split by the samples
		{30, 10, 100, 80, 10, 80, 20},                       // never below what was reported
		{30, 10, 100, 60, 50, 60, 50},                       // reported already covers rt
		{1 << 62, 1 << 62, 1 << 63, 0, 0, 1 << 62, 1 << 62}, // no overflow
	} {
		u, s := AdjustCPUTime(c.u, c.s, c.rt, c.pu, c.ps)
		if u != c.wu || s != c.ws {
			t.Errorf("%+v: got %d/%d", c, u, s)
		}
	}
}

func TestStateLetter(t *testing.T) {
	for _, c := range []struct {
		state, exit uint32
		want        byte
	}{
		{0, 0, 'R'}, {1, 0, 'S'}, {2, 0, 'D'}, {4, 0, 'T'}, {8, 0, 't'},
		{0, 0x10, 'X'}, {0, 0x20, 'Z'}, {0x40, 0, 'P'}, {0x402, 0, 'I'},
		{0x1000, 0, 'D'}, {0x8000 | 1, 0, 'D'}, {0x80 | 1, 0, 'S'},
	} {
		if got := StateLetter(c.state, c.exit); got != c.want {
			t.Errorf("state %#x exit %#x: %c, want %c", c.state, c.exit, got, c.want)
		}
	}
}

func TestTTYNr(t *testing.T) {
	g := Group{HasTTY: true, TTYMajor: 136, TTYMinor: 3}
	if got := g.TTYNr(); got != 34819 {
		t.Errorf("pts/3: %d", got)
	}
	g = Group{HasTTY: true, TTYMajor: 136, TTYMinor: 300}
	if got := g.TTYNr(); got != (300&0xff)|136<<8|(300&^0xff)<<12 {
		t.Errorf("pts/300: %d", got)
	}
	if (&Group{}).TTYNr() != 0 {
		t.Error("no tty")
	}
}
