package record

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// A delta sample is a sample message whose process list (Snapshot field
// 6) and, inside it, each process's thread list (Process field 60) are
// written as list deltas against the reference sample. Entries are
// matched by identity: pid and start ticks for processes, tid and start
// ticks for threads (fields 1 and 2 of both messages). In a list delta:
//   - an entry equal to the reference's is left out;
//   - a changed entry holds its identity, the fields that differ, and
//     field 1000: the numbers of the reference's fields it no longer has
//     (its own threads as a list delta of the reference's threads);
//   - a new entry is whole;
//   - field 1001 of the enclosing message lists the identities of the
//     reference's entries that are gone (packed varints: zigzag id, start
//     ticks), and field 1002 the positions of the new entries in the
//     rebuilt list (packed), the reference's remaining entries keeping
//     their order around them.
// The delta works on the wire format, so it needs no knowledge of the
// other fields, and applying it to the reference gives back the exact
// bytes of the full sample (the encoder checks that the list order can
// be rebuilt, and otherwise writes that list whole, with field 1003 set).

const (
	fieldCleared  = 1000
	fieldGone     = 1001
	fieldNewAt    = 1002
	fieldWhole    = 1003
	fieldProcess  = 6  // Snapshot.processes
	fieldThreads  = 60 // Process.threads
	fieldSnapshot = sampleSnapshot
)

// span is the bytes of one field of a message: all of its consecutive
// occurrences (a repeated field), tags included.
type span struct {
	num        protowire.Number
	start, end int
}

// spans splits a message into its fields, in order, with consecutive
// occurrences of one field number merged.
func spans(b []byte) ([]span, error) { return appendSpans(nil, b) }

// appendSpans is spans appending to out: msgDelta splits two messages for
// every process of every sample into arrays on its stack (a new slice
// grown field by field was half of the recorder's encoding time).
func appendSpans(out []span, b []byte) ([]span, error) {
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return nil, fmt.Errorf("%w: tag at %d", errMalformed, off)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			return nil, fmt.Errorf("%w: field %d at %d", errMalformed, num, off)
		}
		end := off + n + m
		if k := len(out) - 1; k >= 0 && out[k].num == num && out[k].end == off {
			out[k].end = end
		} else {
			out = append(out, span{num, off, end})
		}
		off = end
	}
	return out, nil
}

// ident is the identity of a process or thread message: fields 1 and 2.
type ident struct {
	id    int64
	start uint64
}

// identOf reads fields 1 and 2 of a message.
func identOf(b []byte) ident {
	var id ident
	r := dec{b: b}
	var f field
	for r.next(&f) && f.num <= 2 {
		switch f.num {
		case 1:
			id.id = f.sint()
		case 2:
			id.start = f.v
		}
	}
	return id
}

// elems returns the values of the occurrences of field n in a message
// (or in a span of one).
func elems(b []byte, n protowire.Number) ([][]byte, error) {
	var out [][]byte
	r := dec{b: b}
	var f field
	for r.next(&f) {
		if f.num == n {
			out = append(out, f.b)
		}
	}
	return out, r.err
}

// deltaEncoder keeps the reference sample's process index between calls.
type deltaEncoder struct {
	refProcs [][]byte
	refIdx   map[ident]int
}

// setRef makes ref (a full sample) the reference.
func (d *deltaEncoder) setRef(ref []byte) error {
	snap, err := subMessage(ref, fieldSnapshot)
	if err != nil {
		return err
	}
	d.refProcs, err = elems(snap, fieldProcess)
	if err != nil {
		return err
	}
	d.refIdx = indexOf(d.refProcs)
	return nil
}

func indexOf(es [][]byte) map[ident]int {
	m := make(map[ident]int, len(es))
	for i, e := range es {
		m[identOf(e)] = i
	}
	return m
}

// subMessage returns the bytes of the first occurrence of message field n.
func subMessage(b []byte, n protowire.Number) ([]byte, error) {
	r := dec{b: b}
	var f field
	for r.next(&f) {
		if f.num == n {
			return f.b, nil
		}
	}
	return nil, r.err
}

// appendField re-appends a decoded field.
func appendField(b []byte, f *field) []byte {
	b = protowire.AppendTag(b, f.num, f.typ)
	switch f.typ {
	case protowire.VarintType:
		return protowire.AppendVarint(b, f.v)
	case protowire.BytesType:
		return protowire.AppendBytes(b, f.b)
	case protowire.Fixed64Type:
		return protowire.AppendFixed64(b, f.v)
	case protowire.Fixed32Type:
		return protowire.AppendFixed32(b, uint32(f.v))
	}
	return b
}

// encode appends the delta of cur (a full sample) against the reference.
func (d *deltaEncoder) encode(dst, cur []byte) ([]byte, error) {
	e := enc{b: dst}
	r := dec{b: cur}
	var f field
	for r.next(&f) {
		if f.num != fieldSnapshot {
			e.b = appendField(e.b, &f)
			continue
		}
		procs, err := elems(f.b, fieldProcess)
		if err != nil {
			return nil, err
		}
		var trailer []byte
		e.msg(fieldSnapshot, func() {
			done := false
			list := func() {
				if !done {
					done = true
					e.b, trailer, err = listDelta(e.b, fieldProcess, d.refProcs, d.refIdx, procs, processDelta)
				}
			}
			rs := dec{b: f.b}
			var g field
			for rs.next(&g) && err == nil {
				switch {
				case g.num == fieldProcess:
					list()
				case g.num > fieldProcess:
					list()
					e.b = appendField(e.b, &g)
				default:
					e.b = appendField(e.b, &g)
				}
			}
			list()
			if err == nil {
				err = rs.err
			}
			e.b = append(e.b, trailer...)
		})
		if err != nil {
			return nil, err
		}
	}
	return e.b, r.err
}

// processDelta appends the changed fields of a process (its threads as a
// list delta).
func processDelta(dst, ref, cur []byte) ([]byte, error) { return msgDelta(dst, ref, cur, true) }

// threadDelta appends the changed fields of a thread.
func threadDelta(dst, ref, cur []byte) ([]byte, error) { return msgDelta(dst, ref, cur, false) }

// listDelta appends the list delta of curEls against refEls as
// occurrences of field num, and returns the trailer fields (1001-1003)
// that go at the end of the enclosing message.
func listDelta(dst []byte, num protowire.Number, refEls [][]byte, refIdx map[ident]int, curEls [][]byte,
	elemDelta func(dst, ref, cur []byte) ([]byte, error)) ([]byte, []byte, error) {
	e := enc{b: dst}
	whole := len(refEls) == 0
	matched := make([]int, len(curEls))
	last := -1
	for i, c := range curEls {
		k, ok := refIdx[identOf(c)]
		if !ok {
			matched[i] = -1
			continue
		}
		if k <= last {
			whole = true
			break
		}
		matched[i], last = k, k
	}
	if whole {
		for _, c := range curEls {
			e.tag(num, protowire.BytesType)
			e.b = protowire.AppendBytes(e.b, c)
		}
		return e.b, protowire.AppendVarint(protowire.AppendTag(nil, fieldWhole, protowire.VarintType), 1), nil
	}
	seen := make([]bool, len(refEls))
	var newAt []int
	var err error
	for i, c := range curEls {
		k := matched[i]
		if k < 0 {
			newAt = append(newAt, i)
			e.tag(num, protowire.BytesType)
			e.b = protowire.AppendBytes(e.b, c)
			continue
		}
		seen[k] = true
		if bytes.Equal(refEls[k], c) {
			continue
		}
		e.msg(num, func() { e.b, err = elemDelta(e.b, refEls[k], c) })
		if err != nil {
			return nil, nil, err
		}
	}
	t := enc{}
	var gone []byte
	for k, ok := range seen {
		if !ok {
			id := identOf(refEls[k])
			gone = protowire.AppendVarint(gone, protowire.EncodeZigZag(id.id))
			gone = protowire.AppendVarint(gone, id.start)
		}
	}
	if len(gone) > 0 {
		t.tag(fieldGone, protowire.BytesType)
		t.b = protowire.AppendBytes(t.b, gone)
	}
	if len(newAt) > 0 {
		t.msg(fieldNewAt, func() {
			for _, p := range newAt {
				t.b = protowire.AppendVarint(t.b, uint64(p))
			}
		})
	}
	return e.b, t.b, nil
}

// msgDelta appends the fields of cur that differ from ref (identity
// fields always), then the cleared field numbers; with threads, field 60
// as a list delta and its trailer.
func msgDelta(dst, ref, cur []byte, threads bool) ([]byte, error) {
	var rbuf, cbuf [msgSpans]span
	rs, err := appendSpans(rbuf[:0], ref)
	if err != nil {
		return nil, err
	}
	cs, err := appendSpans(cbuf[:0], cur)
	if err != nil {
		return nil, err
	}
	var cleared []protowire.Number
	var trailer []byte
	i, j := 0, 0
	for i < len(rs) || j < len(cs) {
		switch {
		case j == len(cs) || i < len(rs) && rs[i].num < cs[j].num:
			cleared = append(cleared, rs[i].num)
			i++
		case i == len(rs) || cs[j].num < rs[i].num:
			dst = append(dst, cur[cs[j].start:cs[j].end]...)
			j++
		default:
			a, b := ref[rs[i].start:rs[i].end], cur[cs[j].start:cs[j].end]
			switch {
			case cs[j].num <= 2:
				dst = append(dst, b...)
			case bytes.Equal(a, b):
			case threads && cs[j].num == fieldThreads:
				ra, err := elems(a, fieldThreads)
				if err != nil {
					return nil, err
				}
				ca, err := elems(b, fieldThreads)
				if err != nil {
					return nil, err
				}
				if dst, trailer, err = listDelta(dst, fieldThreads, ra, indexOf(ra), ca, threadDelta); err != nil {
					return nil, err
				}
			default:
				dst = append(dst, b...)
			}
			i++
			j++
		}
	}
	if len(cleared) > 0 {
		e := enc{b: dst}
		e.msg(fieldCleared, func() {
			for _, n := range cleared {
				e.b = protowire.AppendVarint(e.b, uint64(n))
			}
		})
		dst = e.b
	}
	return append(dst, trailer...), nil
}

// msgSpans is room for the fields of a process or thread message
// (msgDelta; a process message has 64 field numbers); a message with more
// grows onto the heap.
const msgSpans = 80

// listTrailer is a decoded list-delta trailer.
type listTrailer struct {
	cleared []protowire.Number
	gone    map[ident]bool
	newAt   []int
	whole   bool
	any     bool // a list field (1001-1003) was present
}

// parseTrailer decodes fields 1000-1003 from the trailing spans of a
// message.
func parseTrailer(b []byte, ss []span) (listTrailer, []span, error) {
	var t listTrailer
	for len(ss) > 0 && ss[len(ss)-1].num >= fieldCleared {
		sp := ss[len(ss)-1]
		ss = ss[:len(ss)-1]
		r := dec{b: b[sp.start:sp.end]}
		var f field
		for r.next(&f) {
			ok := true
			switch f.num {
			case fieldCleared:
				ok = unpackU(f.b, func(v uint64) { t.cleared = append(t.cleared, protowire.Number(v)) })
			case fieldGone:
				t.any = true
				t.gone = make(map[ident]bool)
				var id ident
				n := 0
				ok = unpackU(f.b, func(v uint64) {
					if n%2 == 0 {
						id.id = protowire.DecodeZigZag(v)
					} else {
						id.start = v
						t.gone[id] = true
					}
					n++
				}) && n%2 == 0
			case fieldNewAt:
				t.any = true
				ok = unpackU(f.b, func(v uint64) { t.newAt = append(t.newAt, int(min(v, 1<<31))) })
			case fieldWhole:
				t.any, t.whole = true, f.v != 0
			}
			if !ok {
				return t, nil, fmt.Errorf("%w: list delta field %d", errMalformed, f.num)
			}
		}
		if r.err != nil {
			return t, nil, r.err
		}
	}
	return t, ss, nil
}

// applyList rebuilds a list from the reference's elements and a delta's.
func applyList(refEls, dEls [][]byte, t *listTrailer, merge func(dst, ref, delta []byte) ([]byte, error)) ([][]byte, error) {
	if t.whole {
		return dEls, nil
	}
	idx := indexOf(refEls)
	changed := make(map[int][]byte)
	var added [][]byte
	for _, d := range dEls {
		if k, ok := idx[identOf(d)]; ok {
			changed[k] = d
		} else {
			added = append(added, d)
		}
	}
	if len(added) != len(t.newAt) {
		return nil, fmt.Errorf("%w: %d new entries, %d positions", errMalformed, len(added), len(t.newAt))
	}
	out := make([][]byte, 0, len(refEls)+len(added))
	a := 0
	push := func(b []byte) {
		for a < len(added) && t.newAt[a] == len(out) {
			out = append(out, added[a])
			a++
		}
		if b != nil {
			out = append(out, b)
		}
	}
	for k, r := range refEls {
		if t.gone[identOf(r)] {
			continue
		}
		if d, ok := changed[k]; ok {
			m, err := merge(nil, r, d)
			if err != nil {
				return nil, err
			}
			push(m)
		} else {
			push(r)
		}
	}
	push(nil)
	if a != len(added) {
		return nil, fmt.Errorf("%w: new entry positions out of range", errMalformed)
	}
	return out, nil
}

func appendElems(dst []byte, num protowire.Number, es [][]byte) []byte {
	for _, x := range es {
		dst = protowire.AppendTag(dst, num, protowire.BytesType)
		dst = protowire.AppendBytes(dst, x)
	}
	return dst
}

// applyDelta rebuilds the full sample from the reference and a delta.
// refProcs are the reference's process messages (nil: taken from ref).
func applyDelta(dst, ref, delta []byte, refProcs [][]byte) ([]byte, error) {
	if refProcs == nil {
		snap, err := subMessage(ref, fieldSnapshot)
		if err != nil {
			return nil, err
		}
		if refProcs, err = elems(snap, fieldProcess); err != nil {
			return nil, err
		}
	}
	e := enc{b: dst}
	r := dec{b: delta}
	var f field
	var err error
	for r.next(&f) {
		if f.num != fieldSnapshot {
			e.b = appendField(e.b, &f)
			continue
		}
		ss, serr := spans(f.b)
		if serr != nil {
			return nil, serr
		}
		t, ss, terr := parseTrailer(f.b, ss)
		if terr != nil {
			return nil, terr
		}
		e.msg(fieldSnapshot, func() {
			done := false
			list := func() {
				if done || err != nil {
					return
				}
				done = true
				var dEls [][]byte
				for _, sp := range ss {
					if sp.num == fieldProcess {
						var x [][]byte
						if x, err = elems(f.b[sp.start:sp.end], fieldProcess); err != nil {
							return
						}
						dEls = append(dEls, x...)
					}
				}
				var out [][]byte
				if out, err = applyList(refProcs, dEls, &t, mergeProcess); err == nil {
					e.b = appendElems(e.b, fieldProcess, out)
				}
			}
			for _, sp := range ss {
				switch {
				case sp.num == fieldProcess:
					list()
				case sp.num > fieldProcess:
					list()
					e.b = append(e.b, f.b[sp.start:sp.end]...)
				default:
					e.b = append(e.b, f.b[sp.start:sp.end]...)
				}
			}
			list()
		})
		if err != nil {
			return nil, err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return e.b, nil
}

func mergeProcess(dst, ref, delta []byte) ([]byte, error) { return mergeMsg(dst, ref, delta, true) }
func mergeThread(dst, ref, delta []byte) ([]byte, error)  { return mergeMsg(dst, ref, delta, false) }

// mergeMsg appends the full message: ref's fields, replaced by those the
// delta has, less the cleared ones, in field order; with threads, field
// 60 rebuilt from its list delta.
func mergeMsg(dst, ref, delta []byte, threads bool) ([]byte, error) {
	rs, err := spans(ref)
	if err != nil {
		return nil, err
	}
	ds, err := spans(delta)
	if err != nil {
		return nil, err
	}
	t, ds, err := parseTrailer(delta, ds)
	if err != nil {
		return nil, err
	}
	cleared := func(n protowire.Number) bool {
		for _, c := range t.cleared {
			if c == n {
				return true
			}
		}
		return false
	}
	rebuildThreads := func(refSpan, dSpan []byte) error {
		ra, err := elems(refSpan, fieldThreads)
		if err != nil {
			return err
		}
		da, err := elems(dSpan, fieldThreads)
		if err != nil {
			return err
		}
		out, err := applyList(ra, da, &t, mergeThread)
		if err != nil {
			return err
		}
		dst = appendElems(dst, fieldThreads, out)
		return nil
	}
	i, j := 0, 0
	for i < len(rs) || j < len(ds) {
		switch {
		case j == len(ds) || i < len(rs) && rs[i].num < ds[j].num:
			switch {
			case cleared(rs[i].num):
			case threads && rs[i].num == fieldThreads && t.any:
				if err := rebuildThreads(ref[rs[i].start:rs[i].end], nil); err != nil {
					return nil, err
				}
			default:
				dst = append(dst, ref[rs[i].start:rs[i].end]...)
			}
			i++
		case i == len(rs) || ds[j].num < rs[i].num:
			dst = append(dst, delta[ds[j].start:ds[j].end]...)
			j++
		default:
			if threads && ds[j].num == fieldThreads {
				if err := rebuildThreads(ref[rs[i].start:rs[i].end], delta[ds[j].start:ds[j].end]); err != nil {
					return nil, err
				}
			} else {
				dst = append(dst, delta[ds[j].start:ds[j].end]...)
			}
			i++
			j++
		}
	}
	return dst, nil
}

// unpackU decodes packed varints; false when malformed.
func unpackU(b []byte, fn func(uint64)) bool {
	for len(b) > 0 {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return false
		}
		fn(v)
		b = b[n:]
	}
	return true
}

// DeltaForBench and ApplyDeltaForBench expose the delta encoding to the
// store comparison program (fixtures/bench/storecmp).
func DeltaForBench(ref, cur []byte) ([]byte, error) {
	var d deltaEncoder
	if err := d.setRef(ref); err != nil {
		return nil, err
	}
	return d.encode(nil, cur)
}

// ApplyDeltaForBench rebuilds a full sample from its reference and delta.
func ApplyDeltaForBench(ref, delta []byte) ([]byte, error) { return applyDelta(nil, ref, delta, nil) }
