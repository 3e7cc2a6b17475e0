package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestWriteJSONInert: DEL and C1 controls in strings come out escaped, and
// the document still decodes to the same strings (regression: they were
// written raw, and U+009B is a CSI for some terminals).
func TestWriteJSONInert(t *testing.T) {
	in := map[string]string{"comm": "b\x07d\x7fc\u009bx\u0085é°\u00a0"}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, in); err != nil {
		t.Fatal(err)
	}
	for i, c := range buf.Bytes() {
		if (c < 0x20 && c != '\n') || c == 0x7f {
			t.Errorf("raw control %#x at %d", c, i)
		}
		if c == 0xc2 && i+1 < buf.Len() && buf.Bytes()[i+1] <= 0x9f {
			t.Errorf("raw C1 at %d", i)
		}
	}
	var out map[string]string
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out["comm"] != in["comm"] {
		t.Errorf("decoded %q, want %q", out["comm"], in["comm"])
	}
	if !bytes.Contains(buf.Bytes(), []byte(`\u007fc\u009bx\u0085é°`)) {
		t.Errorf("got %s", buf.Bytes())
	}
}

func FuzzInertJSON(f *testing.F) {
	f.Add("b\x07d\x7fc\u009bx", "\xc2")
	f.Add("\xc2\x9b\xc2", "é°\u00a0")
	f.Fuzz(func(t *testing.T, a, b string) {
		in := []string{a, b}
		var buf bytes.Buffer
		if err := WriteJSON(&buf, in); err != nil {
			t.Fatal(err)
		}
		var out []string
		if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
			t.Fatalf("not JSON: %v: %q", err, buf.Bytes())
		}
		want, _ := json.Marshal(in) // encoding/json's own view (invalid UTF-8 replaced)
		var ref []string
		json.Unmarshal(want, &ref)
		if len(out) != 2 || out[0] != ref[0] || out[1] != ref[1] {
			t.Fatalf("decoded %q, want %q", out, ref)
		}
		if bytes.IndexByte(buf.Bytes(), 0x7f) >= 0 || hasC1(buf.Bytes()) {
			t.Fatalf("raw DEL or C1 left: %q", buf.Bytes())
		}
	})
}

// TestPSTruncatedMarker: a command line cut at the read cap says so in the
// COMMAND column (the JSON snapshot has cmdline_truncated).
func TestPSTruncatedMarker(t *testing.T) {
	comm := "x"
	d := &SnapshotDoc{Processes: []ProcessDoc{
		{PID: 1, Comm: &comm, Cmdline: []string{"a", "bbb"}, CmdlineTrunc: true},
		{PID: 2, Comm: &comm, Cmdline: []string{"a", "bbb"}},
	}}
	ps := NewPSDoc(d)
	if got := ps.Processes[0].Command; got != "a bbb"+TruncatedMarker {
		t.Errorf("truncated: %q", got)
	}
	if got := ps.Processes[1].Command; got != "a bbb" {
		t.Errorf("whole: %q", got)
	}
}

// TestPSSummaryTimeouts: reads abandoned at their deadline are counted in
// the ps summary line (and left out when there are none).
func TestPSSummaryTimeouts(t *testing.T) {
	for _, c := range []struct {
		timeouts int
		want     string
	}{{3, "parse errors 0, timeouts 3;"}, {0, "parse errors 0;"}} {
		d := &SnapshotDoc{}
		d.Summary.Scan.Timeouts = c.timeouts
		var buf bytes.Buffer
		cols, _ := LookupPSColumns(PSColumnsTable)
		if err := WritePSColumns(&buf, &PSView{Doc: d}, cols, PSTableOptions{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(buf.Bytes(), []byte(c.want)) {
			t.Errorf("summary %q, want %q", buf.String(), c.want)
		}
	}
}

// TestExeRawBytesKept: exe paths and old names that are not valid UTF-8
// keep their bytes in *_raw_base64 fields, in the snapshot and in events.
func TestExeRawBytesKept(t *testing.T) {
	const exe, oldExe, oldComm = "/opt/\xff\xfebin", "/usr/\xc3(old", "x\x80y"
	p := collector.Process{PID: 7, ProcExe: collector.ProcExe{Exe: exe}, Read: collector.SrcStat | collector.SrcExe}
	pd := NewProcessDoc(&p, false)
	if raw, _ := base64.StdEncoding.DecodeString(pd.ExeRawBase64); string(raw) != exe {
		t.Errorf("snapshot exe_raw_base64 %q decodes to %q, want %q", pd.ExeRawBase64, raw, exe)
	}
	e := lifecycle.Event{Type: lifecycle.Exec, ID: collector.ID{PID: 7}, Comm: "ok", OldComm: oldComm, OldExe: oldExe, Exe: exe}
	var buf bytes.Buffer
	if err := WriteEventJSON(&buf, &e); err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(buf.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"exe_raw_base64": exe, "old_exe_raw_base64": oldExe, "old_comm_raw_base64": oldComm} {
		s, _ := d[field].(string)
		if raw, _ := base64.StdEncoding.DecodeString(s); string(raw) != want {
			t.Errorf("event %s %q decodes to %q, want %q", field, s, raw, want)
		}
	}
	if _, ok := d["comm_raw_base64"]; ok {
		t.Error("valid comm must have no raw field")
	}
}
