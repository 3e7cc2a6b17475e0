package report

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pinspect/pinspect/collector"
)

// NewShowDocStream is NewShowDoc for a document that is written with
// WriteJSON (or marshalled) and never rendered as text: the mappings are
// not converted into MappingDocs up front but one at a time as they are
// written, so a process with 200,000 mappings costs its address space
// and a bounded buffer, not a second copy of every mapping plus the
// whole JSON text. Maps stays nil; the document refers to as until it
// is written.
func NewShowDocStream(p *collector.Process, as *collector.AddressSpace, takenAt time.Time, root string) *ShowDoc {
	return newShowDoc(p, as, takenAt, root, false)
}

// showDocPlain is ShowDoc without its methods, for encoding/json.
type showDocPlain ShowDoc

// streamChunk is how much of a document is gathered before it is
// written: a bounded buffer, whatever the document's size.
const streamChunk = 32 << 10

// MarshalJSON encodes the document as WriteJSON writes it (without the
// final newline), so a streamed document (NewShowDocStream) marshals
// with its mappings too.
func (d *ShowDoc) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := d.WriteJSON(&buf); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// WriteJSON writes the document on one line, as encoding/json would
// (same field order and omitempty rules, strings made inert: see
// inertJSON), followed by a newline. The mappings are encoded as they
// are written, in chunks of streamChunk bytes: the memory it takes does
// not grow with the number of mappings, and a client starts receiving
// the document while the rest is still being encoded.
func (d *ShowDoc) WriteJSON(w io.Writer) error {
	// Everything but the mappings and Unavailable (the two last fields,
	// both omitempty) through encoding/json: it is small.
	head := *(*showDocPlain)(d)
	head.Maps, head.Unavailable = nil, nil
	j, err := json.Marshal(&head)
	if err != nil {
		return err
	}
	b := make([]byte, 0, streamChunk+4096)
	b = append(b, inertJSON(bytes.TrimSuffix(j, []byte("}")))...)
	n := d.mappingCount()
	if n > 0 {
		b = append(b, `,"maps":[`...)
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.appendMapping(b, i)
			if len(b) >= streamChunk {
				if _, err := w.Write(b); err != nil {
					return err
				}
				b = b[:0]
			}
		}
		b = append(b, ']')
	}
	if len(d.Unavailable) > 0 {
		if b, err = appendMarshal(b, `,"unavailable":`, d.Unavailable); err != nil {
			return err
		}
	}
	b = append(b, "}\n"...)
	_, err = w.Write(b)
	return err
}

// mappingCount is the number of mappings the document holds, converted
// (Maps) or still to convert (mapSrc).
func (d *ShowDoc) mappingCount() int {
	if d.Maps != nil {
		return len(d.Maps)
	}
	return len(d.mapSrc)
}

// appendMapping appends mapping i as encoding/json writes a MappingDoc;
// a mapping still to convert (mapSrc) is written straight from the
// collector's, without allocating.
func (d *ShowDoc) appendMapping(b []byte, i int) []byte {
	if d.Maps != nil {
		m := &d.Maps[i]
		return appendMappingJSON(b, m.start, m.end, m.Perms, m.Offset, m.Dev, m.Inode, m.rawPath, m.Class, m.TID, m.RSSBytes, m.PSSBytes)
	}
	m := &d.mapSrc[i]
	return appendMappingJSON(b, m.Start, m.End, m.Perms, m.Offset, m.Dev, m.Inode, m.Path, string(m.Class), m.TID, m.RSSBytes, m.PSSBytes)
}

// appendMappingJSON appends one mapping's fields in MappingDoc's order.
// rawPath is the path as read: when it is not valid UTF-8 it is written
// as text with U+FFFD plus its bytes in base64, as newMappingDoc does.
func appendMappingJSON(b []byte, start, end uint64, perms string, offset uint64, dev string, inode uint64,
	rawPath, class string, tid int, rss, pss *uint64) []byte {
	b = append(b, `{"start":"0x`...)
	b = strconv.AppendUint(b, start, 16)
	b = append(b, `","end":"0x`...)
	b = strconv.AppendUint(b, end, 16)
	b = strconv.AppendUint(append(b, `","size_bytes":`...), end-start, 10)
	b = append(b, `,"perms":`...)
	b = appendJSONString(b, perms)
	b = strconv.AppendUint(append(b, `,"offset":`...), offset, 10)
	b = append(b, `,"dev":`...)
	b = appendJSONString(b, dev)
	b = strconv.AppendUint(append(b, `,"inode":`...), inode, 10)
	if rawPath != "" {
		if utf8.ValidString(rawPath) {
			b = appendJSONString(append(b, `,"path":`...), rawPath)
		} else {
			text, raw := textAndRaw(rawPath)
			b = appendJSONString(append(b, `,"path":`...), text)
			b = appendJSONString(append(b, `,"path_raw_base64":`...), raw)
		}
	}
	b = append(b, `,"class":`...)
	b = appendJSONString(b, class)
	if tid != 0 {
		b = strconv.AppendInt(append(b, `,"tid":`...), int64(tid), 10)
	}
	b = appendUintPtr(b, `,"rss_bytes":`, rss)
	b = appendUintPtr(b, `,"pss_bytes":`, pss)
	return append(b, '}')
}
