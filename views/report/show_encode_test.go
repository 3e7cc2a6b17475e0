package report

import (
	"bytes"
	"encoding/json"
	"runtime"
	"testing"

	"github.com/pinspect/pinspect/collector"
)

// TestShowJSONStreamMatchesEncodingJSON: the streamed encoding, of a
// converted document and of a streamed one, is byte for byte what
// encoding/json writes (made inert), hostile paths included.
func TestShowJSONStreamMatchesEncodingJSON(t *testing.T) {
	for _, c := range []struct {
		scenario string
		per      bool
	}{{"maps-threads", true}, {"maps-c", false}, {"maps-go", false}, {"maps-zombie", true}} {
		d := fixtureShow(t, c.scenario, c.per)
		// The same address space again, for a streamed document, with
		// paths encoding/json escapes or this package makes inert.
		as := &collector.AddressSpace{Maps: make([]collector.Mapping, 0, len(d.Maps)+3), Unavailable: d.Unavailable}
		for _, m := range d.Maps {
			as.Maps = append(as.Maps, collector.Mapping{Start: m.start, End: m.end, Perms: m.Perms, Offset: m.Offset,
				Dev: m.Dev, Inode: m.Inode, Path: m.rawPath, Class: collector.Segment(m.Class), TID: m.TID,
				RSSBytes: m.RSSBytes, PSSBytes: m.PSSBytes})
		}
		for _, p := range []string{"/tmp/<x>&\u2028\"\\\x1b", "/tmp/bad\xff\xfeutf8", "/tmp/c1\u0085\u009b"} {
			as.Maps = append(as.Maps, collector.Mapping{Start: 0x1000, End: 0x2000, Perms: "r--p", Dev: "08:01", Inode: 7, Path: p, Class: collector.SegFile})
		}
		eager := *d
		eager.Maps = nil
		for i := range as.Maps {
			eager.Maps = append(eager.Maps, newMappingDoc(&as.Maps[i]))
		}
		streamed := eager
		streamed.Maps, streamed.mapSrc = nil, as.Maps

		plain, err := json.Marshal((*showDocPlain)(&eager))
		if err != nil {
			t.Fatal(err)
		}
		want := append(inertJSON(plain), '\n')
		for name, doc := range map[string]*ShowDoc{"converted": &eager, "streamed": &streamed} {
			var got bytes.Buffer
			if err := doc.WriteJSON(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s, %s document: WriteJSON differs from encoding/json:\ngot  %s\nwant %s", c.scenario, name, got.Bytes(), want)
			}
			m, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(append(m, '\n'), want) {
				t.Errorf("%s, %s document: json.Marshal differs from encoding/json", c.scenario, name)
			}
		}
	}
}

// writeSizes records the size of every write and their total.
type writeSizes struct {
	total, largest int
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.total += len(p)
	w.largest = max(w.largest, len(p))
	return len(p), nil
}

// bigAddressSpace is an address space of n anonymous and file mappings
// (the shape of `procshape maps N`).
func bigAddressSpace(n int) *collector.AddressSpace {
	as := &collector.AddressSpace{Maps: make([]collector.Mapping, n)}
	for i := range as.Maps {
		start := uint64(0x7f0000000000 + 2*i*4096)
		as.Maps[i] = collector.Mapping{Start: start, End: start + 4096, Perms: "rw-p", Dev: "00:00", Class: collector.SegAnon}
		if i%10 == 0 {
			as.Maps[i].Path, as.Maps[i].Inode, as.Maps[i].Dev, as.Maps[i].Class = "/usr/lib/x86_64-linux-gnu/libc.so.6", 1234, "08:01", collector.SegFile
		}
	}
	return as
}

// TestShowJSONStreamIsBounded: a process with 200,000 mappings is a
// document of tens of megabytes; writing it allocates a bounded buffer
// and writes it in bounded pieces (before, the whole document was
// encoded into memory, with a second copy of every mapping, before the
// first byte left).
func TestShowJSONStreamIsBounded(t *testing.T) {
	const n = 200_000
	p := &collector.Process{}
	d := NewShowDocStream(p, bigAddressSpace(n), showTime, "/proc")
	if d.Maps != nil {
		t.Fatal("a streamed document converted its mappings up front")
	}
	var w writeSizes
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := d.WriteJSON(&w); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	if w.total < 20<<20 {
		t.Fatalf("the document is %d bytes, want a large one (20 MiB or more)", w.total)
	}
	if alloc > 1<<20 {
		t.Errorf("writing a %d-byte document allocated %d bytes, want at most 1 MiB (a bounded buffer)", w.total, alloc)
	}
	if w.largest > 2*streamChunk {
		t.Errorf("largest write %d bytes, want at most %d", w.largest, 2*streamChunk)
	}
	// The document is whole: every mapping is in it.
	var doc struct {
		Maps []json.RawMessage `json:"maps"`
	}
	var buf bytes.Buffer
	if err := d.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Maps) != n {
		t.Errorf("%d mappings in the document, want %d", len(doc.Maps), n)
	}
}
