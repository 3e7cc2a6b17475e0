package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pinspect/pinspect/collector"
)

// encodingJSON is the reference: the document through encoding/json and
// inertJSON, as every other document is written.
func encodingJSON(t testing.TB, d *SnapshotDoc, indent bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := writeJSON(&buf, d, indent); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func streamed(t testing.TB, d *SnapshotDoc, indent bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSnapshotJSON(&buf, d, indent); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sameEncoding(t testing.TB, what string, d *SnapshotDoc) {
	t.Helper()
	for _, indent := range []bool{false, true} {
		want, got := encodingJSON(t, d, indent), streamed(t, d, indent)
		if !bytes.Equal(want, got) {
			t.Errorf("%s (indent %v): streamed encoding differs from encoding/json:\n%s", what, indent, cmp.Diff(string(want), string(got)))
		}
	}
}

// TestSnapshotEncodeFixtures: every fixture tree, hostile names included,
// encodes to the same bytes as through encoding/json.
func TestSnapshotEncodeFixtures(t *testing.T) {
	for _, sc := range append(scenarios, "hostile") {
		snap := fixtureSnapshot(t, sc)
		sameEncoding(t, sc, NewSnapshotDoc(snap, Filter{}, true))
		sameEncoding(t, sc+" without threads", NewSnapshotDoc(snap, Filter{}, false))
	}
}

// TestSnapshotEncodeLive: this machine's processes and threads encode to
// the same bytes as through encoding/json.
func TestSnapshotEncodeLive(t *testing.T) {
	doc := NewSnapshotDoc(machineSnapshot(t), Filter{}, true)
	if len(doc.Processes) < 2 {
		t.Fatalf("only %d processes", len(doc.Processes))
	}
	sameEncoding(t, "live /proc", doc)
}

// fill sets every field of the struct v points to, recursively, to a
// non-zero value made from s, f and a counter n that differs for every
// field: a field added to ProcessDoc or ThreadDoc that the hand encoder
// does not write, or two fields of one type written in each other's
// place, makes the comparison fail.
func fill(v reflect.Value, s string, f float64, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), s, f, n)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), s, f, n)
		}
	case reflect.String:
		v.SetString(s + strconv.Itoa(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(len(s)) - 3 + int64(*n)*1000)
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		v.SetUint(uint64(len(s))<<40 | uint64(*n))
	case reflect.Float64:
		v.SetFloat(f * float64(*n))
	case reflect.Slice:
		k := 2
		v.Set(reflect.MakeSlice(v.Type(), k, k))
		for i := range k {
			fill(v.Index(i), s+string(rune('a'+i)), f, n)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range []string{"stat", s, "cmdline"} {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, s, f, n)
			m.SetMapIndex(reflect.ValueOf(k), e)
		}
		v.Set(m)
	default:
		panic("fill: unhandled kind " + v.Kind().String() + " of " + v.Type().String())
	}
}

func filledDoc(s string, f float64) *SnapshotDoc {
	var p ProcessDoc
	n := 0
	fill(reflect.ValueOf(&p).Elem(), s, f, &n)
	var empty ProcessDoc // every omitempty field absent
	return &SnapshotDoc{
		Schema: SnapshotSchema, TakenAt: s, ScanDurationSeconds: f, ProcRoot: s,
		Summary:   Summary{ProcessesByState: map[string]int{s: 1}},
		Processes: []ProcessDoc{p, empty, p},
		Problems:  []ProblemDoc{{PID: 1, File: s, Reason: s}},
	}
}

// TestSnapshotEncodeEveryField: a document with every field set, and one
// with every optional field absent, encode as through encoding/json.
func TestSnapshotEncodeEveryField(t *testing.T) {
	for _, c := range []struct {
		s string
		f float64
	}{
		{"plain", 1.5},
		{"<a&b>\"q\"\\ \x00\x01\x1f\x7f\u0080\u009b\u2028\u2029 \xff\xfe é 世界 🙂", 1e-7},
		{"", 0},
		{"x", 1e21},
		{"y", 123456789.125},
		{"z", -2.5e-9},
	} {
		sameEncoding(t, c.s, filledDoc(c.s, c.f))
	}
}

// TestSnapshotEncodeBadFloat: a NaN anywhere (the document, a process, a
// thread) is an error, as with encoding/json.
func TestSnapshotEncodeBadFloat(t *testing.T) {
	nan := math.NaN()
	for what, spoil := range map[string]func(d *SnapshotDoc){
		"document": func(d *SnapshotDoc) { d.ScanDurationSeconds = nan },
		"process":  func(d *SnapshotDoc) { d.Processes[2].SystemSeconds = &nan },
		"thread":   func(d *SnapshotDoc) { d.Processes[2].Threads[1].UserSeconds = nan },
	} {
		d := filledDoc("x", 1)
		spoil(d)
		var buf bytes.Buffer
		if err := WriteSnapshotJSON(&buf, d, false); err == nil {
			t.Errorf("%s: NaN encoded without error", what)
		}
		if _, err := json.Marshal(d); err == nil {
			t.Errorf("%s: encoding/json took a NaN", what)
		}
	}
}

// FuzzSnapshotEncode: any string and float encode as through
// encoding/json, and the output is inert (no DEL or C1 byte sequence).
func FuzzSnapshotEncode(f *testing.F) {
	f.Add("comm", 0.01)
	f.Add("\x1b]0;title\x07\u009b31m\x7f", 3.25e22)
	f.Add("\xc2\x9b\xe2\x80\xa8\xed\xa0\x80", 1e-300)
	f.Fuzz(func(t *testing.T, s string, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		d := filledDoc(s, x)
		got := streamed(t, d, false)
		if want := encodingJSON(t, d, false); !bytes.Equal(want, got) {
			t.Fatalf("differs from encoding/json:\n%s", cmp.Diff(string(want), string(got)))
		}
		if bytes.IndexByte(got, 0x7f) >= 0 || hasC1(got) {
			t.Fatalf("output not inert: %q", got)
		}
	})
}

// BenchmarkSnapshotEncode compares the streamed encoder with encoding/json
// on this machine's full snapshot.
func BenchmarkSnapshotEncode(b *testing.B) {
	snap := machineSnapshot(b)
	doc := NewSnapshotDoc(snap, Filter{}, true)
	var buf bytes.Buffer
	b.Run("streamed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := WriteSnapshotJSON(&buf, doc, false); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(buf.Len()))
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := writeJSON(&buf, doc, false); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(buf.Len()))
	})
}

// TestStateLetter: stateLetter is string(rune(s)) for every byte.
func TestStateLetter(t *testing.T) {
	for s := range 256 {
		if got, want := stateLetter(byte(s)), string(rune(s)); got != want {
			t.Errorf("%#x: %q, want %q", s, got, want)
		}
	}
}

// TestAppendHundredths holds the fast path for whole hundredths to
// encoding/json's bytes: every count of hundredths up to a million, a
// spread of larger ones up to the bound, their neighbours one float apart
// (not hundredths: the general path), and values it must leave alone.
func TestAppendHundredths(t *testing.T) {
	check := func(f float64) {
		t.Helper()
		want, _ := json.Marshal(f)
		got, err := appendJSONFloat(nil, f)
		if err != nil || string(got) != string(want) {
			t.Fatalf("%v (%#x): got %q %v, want %q", f, math.Float64bits(f), got, err, want)
		}
	}
	fast := 0
	for n := uint64(0); n <= 1_000_000; n++ {
		f := float64(n) / 100
		check(f)
		if _, ok := appendHundredths(nil, f); ok {
			fast++
		}
	}
	if fast != 1_000_001 {
		t.Fatalf("the fast path took %d of 1,000,001 hundredths", fast)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		n := rng.Uint64N(100 << 40)
		f := float64(n) / 100
		check(f)
		check(math.Nextafter(f, 0))
		check(math.Nextafter(f, math.Inf(1)))
	}
	for _, f := range []float64{math.Copysign(0, -1), -0.01, -1, 1 << 40, 1e21, 1e-7, 0.001, 0.005, 0.015, 1.0 / 3, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		check(f)
	}
	if _, ok := appendHundredths(nil, math.Copysign(0, -1)); ok {
		t.Fatal("-0 took the fast path")
	}
}

// TestRFC3339SecondAsTime: the streamed writer's start times are
// time.Time.AppendFormat's RFC3339Nano in UTC, byte for byte, whether
// the second's text is the one kept or a new one: times in one second
// and in others, back and forth, every fraction's trailing zeros, other
// zones, and years without four digits.
func TestRFC3339SecondAsTime(t *testing.T) {
	var c rfc3339Second
	ist := time.FixedZone("IST", 5*3600+1800)
	base := time.Date(2026, 12, 7, 19, 41, 12, 0, time.UTC)
	times := []time.Time{
		base, base.Add(270 * time.Millisecond), base.Add(time.Nanosecond), base.Add(999999999),
		base.Add(100 * time.Millisecond), base.Add(time.Second), base, base.Add(120 * time.Microsecond),
		base.In(ist), base.Add(10 * time.Nanosecond).In(ist), base.In(time.Local).Add(-time.Nanosecond),
		time.Date(0, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 10, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 10, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 20, time.UTC), base.Add(3 * time.Second),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		times = append(times, base.Add(time.Duration(r.Int64N(int64(3*time.Second)))))
	}
	for _, tm := range times {
		got := string(c.appendRFC3339Nano([]byte("x"), tm))
		if want := "x" + tm.UTC().Format(time.RFC3339Nano); got != want {
			t.Errorf("%v: %q, want %q", tm, got, want)
		}
	}
}

// BenchmarkSnapshotStream10k is a one-shot's writing (`pinspect --json`:
// the streamed document, compact) of this machine's snapshot with its
// processes repeated to 10,000, each with its first thread only (the
// bench's 10,000 x 1; each repeat keeps its command line's slice, as
// forked workers share theirs).
func BenchmarkSnapshotStream10k(b *testing.B) {
	snap := machineSnapshot(b)
	procs := snap.Processes
	if len(procs) == 0 {
		b.Skip("no processes")
	}
	big := *snap
	big.Processes = make([]collector.Process, 0, 10000)
	for len(big.Processes) < 10000 {
		for _, p := range procs[:min(len(procs), 10000-len(big.Processes))] {
			p.PID = len(big.Processes) + 1
			p.Threads = p.Threads[:min(len(p.Threads), 1)]
			big.Processes = append(big.Processes, p)
		}
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := WriteSnapshotJSON(&buf, NewSnapshotDocStream(&big, Filter{}, true), false); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

// machineSnapshot is a full snapshot (threads included) of this machine's
// /proc, from a Reader closed before it returns.
func machineSnapshot(tb testing.TB) *collector.Snapshot {
	tb.Helper()
	r, err := collector.NewReader(collector.Options{Threads: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	snap, err := r.Snapshot(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return snap
}

// TestPutHex16AsSprintf holds putHex16 to fmt's %016x: every single bit,
// the two masks written whole (none, all), each byte value in every
// position, and random masks.
func TestPutHex16AsSprintf(t *testing.T) {
	vals := []uint64{0, ^uint64(0), 1, 1 << 63, 0x0123456789abcdef, 0xfedcba9876543210, 0xfffffffe7ffbfa27}
	for i := range 64 {
		vals = append(vals, 1<<i, ^uint64(1<<i))
	}
	for x := range uint64(256) {
		for pos := 0; pos < 64; pos += 8 {
			vals = append(vals, x<<pos)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		vals = append(vals, rng.Uint64())
	}
	for _, v := range vals {
		var b [16]byte
		putHex16(b[:], v)
		if got, want := string(b[:]), fmt.Sprintf("%016x", v); got != want {
			t.Fatalf("putHex16(%#x) = %s, want %s", v, got, want)
		}
	}
}
