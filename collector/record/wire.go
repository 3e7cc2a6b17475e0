package record

import (
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The sample payload is protocol-buffers wire format, written and read by
// hand (docs/record.proto describes it, so `protoc --decode` can read a
// decompressed payload without pinspect). Zero values are left out, as
// proto3 does; the model carries its own presence flags (Process.Read,
// Thread.HasStatus, Unavailable), so a value left out decodes to what was
// recorded.

// enc appends protobuf fields to b.
type enc struct{ b []byte }

func (e *enc) tag(n protowire.Number, t protowire.Type) {
	e.b = protowire.AppendTag(e.b, n, t)
}

// u writes an unsigned varint field (uint64, uint32, bool, enum).
func (e *enc) u(n protowire.Number, v uint64) {
	if v != 0 {
		e.tag(n, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, v)
	}
}

// s writes a zigzag varint field (sint64).
func (e *enc) s(n protowire.Number, v int64) {
	if v != 0 {
		e.tag(n, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, protowire.EncodeZigZag(v))
	}
}

// i writes an int field as sint64.
func (e *enc) i(n protowire.Number, v int) { e.s(n, int64(v)) }

func (e *enc) flag(n protowire.Number, v bool) {
	if v {
		e.u(n, 1)
	}
}

// str writes a string or bytes field (raw bytes: comm may be invalid UTF-8,
// so the .proto declares these as bytes).
func (e *enc) str(n protowire.Number, v string) {
	if v != "" {
		e.tag(n, protowire.BytesType)
		e.b = protowire.AppendString(e.b, v)
	}
}

// strAlways writes a string field even when empty (repeated elements).
func (e *enc) strAlways(n protowire.Number, v string) {
	e.tag(n, protowire.BytesType)
	e.b = protowire.AppendString(e.b, v)
}

// f64 writes a double field.
func (e *enc) f64(n protowire.Number, v float64) {
	if v != 0 {
		e.tag(n, protowire.Fixed64Type)
		e.b = protowire.AppendFixed64(e.b, math.Float64bits(v))
	}
}

// time writes a wall time as nanoseconds since the Unix epoch (sint64);
// the zero time is left out.
func (e *enc) time(n protowire.Number, t time.Time) {
	if !t.IsZero() {
		e.s(n, t.UnixNano())
	}
}

// msg writes a nested message: fill appends its fields to e.b. The length
// prefix is fixed up afterwards (one byte reserved; moved when longer).
func (e *enc) msg(n protowire.Number, fill func()) {
	e.tag(n, protowire.BytesType)
	start := len(e.b)
	e.b = append(e.b, 0)
	fill()
	size := len(e.b) - start - 1
	if size < 0x80 {
		e.b[start] = byte(size)
		return
	}
	k := protowire.SizeVarint(uint64(size))
	e.b = append(e.b, make([]byte, k-1)...)
	copy(e.b[start+k:], e.b[start+1:start+1+size])
	protowire.AppendVarint(e.b[:start], uint64(size))
}

// errMalformed is wrapped by every decoding error.
var errMalformed = errors.New("malformed sample")

// field is one decoded field: its number, and the varint value or the
// bytes (for length-delimited and fixed types the bytes are set).
type field struct {
	num protowire.Number
	typ protowire.Type
	v   uint64
	b   []byte
}

// dec walks the fields of one message.
type dec struct {
	b   []byte
	err error
}

// next reads the next field into f; false at the end or on an error
// (d.err says which).
func (d *dec) next(f *field) bool {
	if d.err != nil || len(d.b) == 0 {
		return false
	}
	num, typ, n := protowire.ConsumeTag(d.b)
	if n < 0 {
		d.err = fmt.Errorf("%w: tag: %v", errMalformed, protowire.ParseError(n))
		return false
	}
	d.b = d.b[n:]
	f.num, f.typ, f.v, f.b = num, typ, 0, nil
	switch typ {
	case protowire.VarintType:
		f.v, n = protowire.ConsumeVarint(d.b)
	case protowire.BytesType:
		f.b, n = protowire.ConsumeBytes(d.b)
	case protowire.Fixed64Type:
		f.v, n = protowire.ConsumeFixed64(d.b)
	case protowire.Fixed32Type:
		var v32 uint32
		v32, n = protowire.ConsumeFixed32(d.b)
		f.v = uint64(v32)
	default:
		n = protowire.ConsumeFieldValue(num, typ, d.b)
	}
	if n < 0 {
		d.err = fmt.Errorf("%w: field %d: %v", errMalformed, num, protowire.ParseError(n))
		return false
	}
	d.b = d.b[n:]
	return true
}

func (f *field) sint() int64 { return protowire.DecodeZigZag(f.v) }
func (f *field) int() int    { return int(f.sint()) }
func (f *field) bool() bool  { return f.v != 0 }
func (f *field) f64() float64 {
	return math.Float64frombits(f.v)
}
func (f *field) time() time.Time { return time.Unix(0, f.sint()) }
