package collector

// This file reads the program headers of a mapped ELF file: where its
// writable PT_LOAD segment ends in memory (p_vaddr + p_memsz), so that an
// anonymous mapping after a library's data is called its bss only up to
// that end. The loader maps a separate anonymous bss only when the
// segment's memsz runs past the last file page; an 8-byte bss lives in
// the data page itself, and a 3 MiB anonymous mapping that the kernel
// happened to place right after the library is not the library's.

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// elfHeadMax bounds what is read of a mapped file: its ELF header and
// program headers, which real objects keep in the first few hundred
// bytes (the ELF header says where; an object whose headers lie beyond
// this is not read).
const elfHeadMax = 64 << 10

// errELF is wrapped by every ELF parse error.
var errELF = errors.New("not a readable ELF object")

// elfLoad is one PT_LOAD program header.
type elfLoad struct {
	offset, vaddr, filesz, memsz uint64
	writable                     bool
}

// parseELFLoads parses the PT_LOAD program headers of an ELF object from
// its first bytes (32- or 64-bit, either byte order). It never panics.
func parseELFLoads(b []byte) ([]elfLoad, error) {
	if len(b) < 52 || string(b[:4]) != "\x7fELF" {
		return nil, fmt.Errorf("%w: no ELF magic", errELF)
	}
	var bo binary.ByteOrder
	switch b[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: byte order %d", errELF, b[5])
	}
	is64 := b[4] == 2
	if !is64 && b[4] != 1 {
		return nil, fmt.Errorf("%w: class %d", errELF, b[4])
	}
	var phoff uint64
	var phentsize, phnum int
	if is64 {
		if len(b) < 64 {
			return nil, fmt.Errorf("%w: short header", errELF)
		}
		phoff = bo.Uint64(b[32:])
		phentsize, phnum = int(bo.Uint16(b[54:])), int(bo.Uint16(b[56:]))
	} else {
		phoff = uint64(bo.Uint32(b[28:]))
		phentsize, phnum = int(bo.Uint16(b[42:])), int(bo.Uint16(b[44:]))
	}
	want := 32
	if is64 {
		want = 56
	}
	if phentsize < want || phnum > 1<<12 || phoff > uint64(len(b)) || uint64(phnum*phentsize) > uint64(len(b))-phoff {
		return nil, fmt.Errorf("%w: program headers beyond the %d bytes read", errELF, len(b))
	}
	var out []elfLoad
	for i := 0; i < phnum; i++ {
		h := b[phoff+uint64(i*phentsize):]
		if bo.Uint32(h) != 1 { // PT_LOAD
			continue
		}
		var l elfLoad
		if is64 {
			l = elfLoad{offset: bo.Uint64(h[8:]), vaddr: bo.Uint64(h[16:]), filesz: bo.Uint64(h[32:]), memsz: bo.Uint64(h[40:]),
				writable: bo.Uint32(h[4:])&2 != 0}
		} else {
			l = elfLoad{offset: uint64(bo.Uint32(h[4:])), vaddr: uint64(bo.Uint32(h[8:])), filesz: uint64(bo.Uint32(h[16:])),
				memsz: uint64(bo.Uint32(h[20:])), writable: bo.Uint32(h[24:])&2 != 0}
		}
		out = append(out, l)
	}
	return out, nil
}

// dataEnd returns where the writable PT_LOAD segment that the mapping at
// start with file offset off (a data mapping of the object) belongs to
// ends in memory (its bss included), rounded up to the page: the end of
// what the loader maps for it. The segment is the writable one whose
// file pages hold off (after RELRO, the writable mapping starts a page or
// more into it); file offset o maps to p_vaddr - p_offset + o. ok is
// false when no writable segment holds off.
func dataEnd(loads []elfLoad, start, off, pageSz uint64) (end uint64, ok bool) {
	mask := pageSz - 1
	for _, l := range loads {
		if !l.writable || off < l.offset&^mask || off >= l.offset+max(l.filesz, 1) {
			continue
		}
		bias := start - (l.vaddr - l.offset + off)
		return (bias + l.vaddr + l.memsz + mask) &^ mask, true
	}
	return 0, false
}
