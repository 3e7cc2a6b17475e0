package collector

// This file reads smaps_rollup (process totals) and, on request, smaps
// (per-mapping RSS/PSS) with pinspect's own streaming parser rather than
// procfs' ProcSMapsRollup: one parser serves both files (a rollup is an
// smaps with a single "[rollup]" header), it streams through the same
// bounded buffer as maps (a 60,000-mapping smaps is about 70 MB of text),
// it is fuzzed (FuzzParseSmaps), it goes through the raw reader so a
// fixture FIFO cannot block it, and it never silently falls back to the
// full smaps walk the way ProcSMapsRollup does when smaps_rollup is
// missing.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MemoryTotals are a process's memory totals from smaps_rollup (or the sum
// over smaps), in bytes.
type MemoryTotals struct {
	// RSSBytes is resident memory; PSSBytes shares each page among the
	// processes mapping it.
	RSSBytes, PSSBytes uint64
	// USSBytes is memory private to the process: Private_Clean +
	// Private_Dirty.
	USSBytes uint64
	// SharedBytes is Shared_Clean + Shared_Dirty.
	SharedBytes uint64
	// SwapBytes is swapped-out anonymous memory.
	SwapBytes uint64
	// SharedDirtyBytes and PrivateDirtyBytes split the written pages: a
	// page written before a fork and not written since is shared dirty
	// (with the parent or the children), a page copied on write (or
	// written by this process alone) is private dirty.
	SharedDirtyBytes, PrivateDirtyBytes uint64
	// AnonBytes is resident anonymous memory (the Anonymous field).
	AnonBytes uint64
}

// MappingDirty are the per-mapping smaps counters beyond RSS and PSS, in
// bytes: what copy-on-write sharing looks like in one mapping.
type MappingDirty struct {
	SharedDirtyBytes  uint64
	PrivateDirtyBytes uint64
	AnonBytes         uint64
}

// errSmapsFormat is wrapped by every smaps parse error.
var errSmapsFormat = errors.New("malformed smaps")

// smapsCounters are the fields of one smaps entry pinspect uses.
type smapsCounters struct {
	rss, pss, sharedClean, sharedDirty, privClean, privDirty, swap, anon uint64
	hasRss, hasPss                                                       bool
}

// totals converts the counters.
func (c *smapsCounters) totals() MemoryTotals {
	return MemoryTotals{
		RSSBytes: c.rss, PSSBytes: c.pss,
		USSBytes:         c.privClean + c.privDirty,
		SharedBytes:      c.sharedClean + c.sharedDirty,
		SwapBytes:        c.swap,
		SharedDirtyBytes: c.sharedDirty, PrivateDirtyBytes: c.privDirty,
		AnonBytes: c.anon,
	}
}

// add accumulates another entry (for sums over smaps).
func (c *smapsCounters) add(o *smapsCounters) {
	c.rss += o.rss
	c.pss += o.pss
	c.sharedClean += o.sharedClean
	c.sharedDirty += o.sharedDirty
	c.privClean += o.privClean
	c.privDirty += o.privDirty
	c.swap += o.swap
	c.anon += o.anon
	c.hasRss = c.hasRss || o.hasRss
	c.hasPss = c.hasPss || o.hasPss
}

// parseSmapsField parses one "Key:   N kB" line into c. Keys pinspect
// does not use are skipped (VmFlags, THPeligible, future keys).
func (c *smapsCounters) parseSmapsField(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return fmt.Errorf("%w: no key in %q", errSmapsFormat, clip(line))
	}
	var dst *uint64
	switch string(line[:colon]) {
	case "Rss":
		dst, c.hasRss = &c.rss, true
	case "Pss":
		dst, c.hasPss = &c.pss, true
	case "Shared_Clean":
		dst = &c.sharedClean
	case "Shared_Dirty":
		dst = &c.sharedDirty
	case "Private_Clean":
		dst = &c.privClean
	case "Private_Dirty":
		dst = &c.privDirty
	case "Swap":
		dst = &c.swap
	case "Anonymous":
		dst = &c.anon
	default:
		return nil
	}
	v := bytes.TrimSpace(line[colon+1:])
	v, ok := bytes.CutSuffix(v, []byte(" kB"))
	if !ok {
		return fmt.Errorf("%w: %s: no kB unit in %q", errSmapsFormat, line[:colon], clip(line))
	}
	n, ok := parseUint(bytes.TrimSpace(v))
	if !ok || n > 1<<53 {
		return fmt.Errorf("%w: %s: bad number in %q", errSmapsFormat, line[:colon], clip(line))
	}
	*dst = n * 1024
	return nil
}

// isSmapsHeader tells a mapping header (lowercase hex address first) from
// a "Key: value" line (a capitalised key).
func isSmapsHeader(line []byte) bool {
	c := line[0]
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
}

// streamSmaps feeds each entry of an smaps (or smaps_rollup) file to fn:
// its header as a Mapping (strings interned, so they outlive the buffer)
// and its counters. It stops at the first read or parse error and returns
// it.
func streamSmaps(lr *lineReader, in *interner, fn func(m *Mapping, c *smapsCounters) error) error {
	var m Mapping
	var c smapsCounters
	have := false
	for {
		line, err := lr.next()
		if err == io.EOF {
			if have {
				return fn(&m, &c)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			continue
		}
		if isSmapsHeader(line) {
			if have {
				if err := fn(&m, &c); err != nil {
					return err
				}
			}
			h, err := parseMapsLine(line)
			if err != nil {
				return fmt.Errorf("%w: %w", errSmapsFormat, err)
			}
			m, c, have = h.mapping(in), smapsCounters{}, true
			continue
		}
		if !have {
			return fmt.Errorf("%w: field before the first mapping header: %q", errSmapsFormat, clip(line))
		}
		if err := c.parseSmapsField(line); err != nil {
			return err
		}
	}
}

// smapsEntry is one parsed smaps entry (for tests and fuzzing).
type smapsEntry struct {
	m Mapping
	c smapsCounters
}

// parseSmaps parses a whole smaps or smaps_rollup content with the
// streaming code the reader uses.
func parseSmaps(data []byte) ([]smapsEntry, error) {
	lr := &lineReader{read: bytes.NewReader(data).Read, buf: make([]byte, mapsBufSize)}
	var in interner
	var out []smapsEntry
	err := streamSmaps(lr, &in, func(m *Mapping, c *smapsCounters) error {
		out = append(out, smapsEntry{*m, *c})
		return nil
	})
	return out, err
}

// rollupTotals turns the parsed smaps_rollup entries into totals. A rollup
// has one entry; an empty one (no Rss) is not a zero.
func rollupTotals(ents []smapsEntry) (*MemoryTotals, error) {
	if len(ents) != 1 {
		return nil, fmt.Errorf("%w: smaps_rollup has %d entries, want 1", errSmapsFormat, len(ents))
	}
	if !ents[0].c.hasRss || !ents[0].c.hasPss {
		return nil, fmt.Errorf("%w: smaps_rollup without Rss/Pss", errSmapsFormat)
	}
	t := ents[0].c.totals()
	return &t, nil
}

// readRollup reads smaps_rollup at path (NUL-terminated) under d's
// deadline.
func readRollup(d *deadlineReads, path []byte) (*MemoryTotals, error) {
	var ents []smapsEntry
	err := d.stream(path, func(lr *lineReader) error {
		var in interner
		return streamSmaps(lr, &in, func(m *Mapping, c *smapsCounters) error {
			if len(ents) > 0 {
				return fmt.Errorf("%w: smaps_rollup has more than one entry", errSmapsFormat)
			}
			ents = append(ents, smapsEntry{*m, *c})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return rollupTotals(ents)
}

// readSmaps streams smaps at path into mappings carrying RSS and PSS, and
// sums the counters into process totals. It gives every mapping its RSS
// and PSS or fails whole (a stuck or malformed read): never a list in
// which some mappings have them and others not. The per-mapping values point into
// a few shared slabs, not one allocation each.
func readSmaps(d *deadlineReads, path []byte) ([]Mapping, *MemoryTotals, error) {
	var sum smapsCounters
	var chunks mappingChunks
	err := d.stream(path, func(lr *lineReader) error {
		var in interner
		var slab []uint64
		var dirty []MappingDirty
		return streamSmaps(lr, &in, func(m *Mapping, c *smapsCounters) error {
			if !c.hasRss || !c.hasPss {
				// The kernel writes both for every mapping: an entry
				// without them is not its smaps (a cut or hand-written
				// copy). Taken, it would show that mapping's RSS as
				// absent beside the others' with no word why, and sum
				// it into the totals as 0, as a rollup without Rss is.
				return fmt.Errorf("%w: mapping %x-%x has no Rss or no Pss line", errSmapsFormat, m.Start, m.End)
			}
			if len(slab)+2 > cap(slab) {
				slab = make([]uint64, 0, 1024)
			}
			slab = append(slab, c.rss, c.pss)
			m.RSSBytes, m.PSSBytes = &slab[len(slab)-2], &slab[len(slab)-1]
			if len(dirty) == cap(dirty) {
				dirty = make([]MappingDirty, 0, 256)
			}
			dirty = append(dirty, MappingDirty{SharedDirtyBytes: c.sharedDirty, PrivateDirtyBytes: c.privDirty, AnonBytes: c.anon})
			m.Dirty = &dirty[len(dirty)-1]
			sum.add(c)
			chunks.add(*m)
			return nil
		})
	})
	if err != nil {
		return nil, nil, err
	}
	maps := chunks.slice()
	if len(maps) == 0 {
		return maps, nil, nil
	}
	t := sum.totals()
	return maps, &t, nil
}

// MemoryTotals reads pid's smaps_rollup under the read deadline (it takes
// the target's mmap lock): the cheap whole-process RSS, PSS and USS used
// for family totals. It is safe for concurrent use.
func (r *Reader) MemoryTotals(pid int) (*MemoryTotals, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	pb := newPathBuf(r.opts.Root)
	t, err := readRollup(r.addrSlow, pb.set(pid, 0, "smaps_rollup"))
	if err != nil {
		return nil, r.FileError(pid, "smaps_rollup", err)
	}
	return t, nil
}
