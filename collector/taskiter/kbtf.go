package taskiter

// A cheaper load of the walk: cilium/ebpf resolves the program's kernel
// functions (kfuncs) through its btf.Cache, which decodes the kernel's
// whole BTF (about 130,000 types, 5 MB: an index of every name, sorted,
// and every type reachable from task_struct inflated into Go values:
// about 20 ms of CPU, more than half of a load and a fifth of a one-shot
// `--json` at 2,000 x 9). The walk needs a few dozen of those types.
//
// So the walk is loaded with a trimmed copy of the kernel's BTF, made
// here in one pass over the raw bytes: every type keeps its id (the
// kernel's ids are what the kfunc calls and bpf_core_type_id_kernel put
// in the program), the types the program's CO-RE relocations can reach
// keep their bytes, and every other type becomes a nameless placeholder
// (a pointer to void). Reachable means: a named type whose name (without
// a ___flavor suffix) names a type of the program's own BTF, and what it
// refers to, where a struct or union member counts only if the program's
// BTF has a member of that name (or it is anonymous): the others point
// to void, so that inflating task_struct stops at the fields the
// program reads. The offsets and sizes of what is kept are the kernel's,
// so the relocations come out as they do against the whole BTF
// (TestTrimmedBTFRelocatesAlike holds the loaded programs equal).
//
// The kfunc calls are given their ids here (the id of the kernel's FUNC
// of that name, as cilium/ebpf does), so that the loader has no kfunc
// left to look up. cilium/ebpf keeps which kfunc an instruction calls in
// instruction metadata under an unexported key; the key is found by its
// type's name in the metadata's list (read only when asm.Metadata has the
// layout of v0.22, checked by reflection), and removed through the
// exported asm.Metadata API. If any
// of this fails (a newer cilium/ebpf, a kfunc missing, a BTF this code
// does not know), Open loads the usual way and says nothing: only slower.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// BTF kinds (include/uapi/linux/btf.h).
const (
	btfKindInt = iota + 1
	btfKindPtr
	btfKindArray
	btfKindStruct
	btfKindUnion
	btfKindEnum
	btfKindFwd
	btfKindTypedef
	btfKindVolatile
	btfKindConst
	btfKindRestrict
	btfKindFunc
	btfKindFuncProto
	btfKindVar
	btfKindDatasec
	btfKindFloat
	btfKindDeclTag
	btfKindTypeTag
	btfKindEnum64
)

// btfHeaderLen is the size of struct btf_header.
const btfHeaderLen = 24

// localNames are the names the program's BTF uses: type names (without
// a flavor), member names, and its kfuncs.
type localNames struct {
	types, members, kfuncs map[string]bool
	// lens[n]: a type name of n bytes is in types.
	lens [64]bool
	// typeHeads and kfuncHeads hold the first two bytes (a one-byte
	// name: the byte and its NUL) of the names in types and kfuncs, as
	// nameHead gives them: a kernel type whose name starts otherwise
	// (nearly all of the 100,000) is ruled out before its name is
	// measured and looked up (seeds). A ___flavor suffix keeps the head.
	typeHeads, kfuncHeads *[1 << 16]bool
}

// nameHead is the first two bytes of a NUL-terminated name, as an index
// into localNames' heads.
func nameHead(b0, b1 byte) int { return int(b0) | int(b1)<<8 }

// addHead marks name's head in heads.
func addHead(heads *[1 << 16]bool, name string) {
	switch len(name) {
	case 0:
	case 1:
		heads[nameHead(name[0], 0)] = true
	default:
		heads[nameHead(name[0], name[1])] = true
	}
}

// hasType reports whether the program names a type called name (a
// kernel name with a ___flavor suffix counts without it, as cilium/ebpf
// matches them). Most of the kernel's 100,000 names are ruled out by
// their length alone.
func (n *localNames) hasType(name string) bool {
	if len(name) < len(n.lens) && !n.lens[len(name)] && !strings.Contains(name, "___") {
		return false
	}
	return n.types[name] || strings.Contains(name, "___") && n.types[essentialName(name)]
}

// essentialName is name without a ___flavor suffix.
func essentialName(name string) string {
	if i := strings.LastIndex(name, "___"); i > 0 {
		return name[:i]
	}
	return name
}

// namesOf collects the names of spec's BTF.
func namesOf(spec *btf.Spec) (localNames, error) {
	n := localNames{types: map[string]bool{}, members: map[string]bool{}, kfuncs: map[string]bool{},
		typeHeads: new([1 << 16]bool), kfuncHeads: new([1 << 16]bool)}
	for typ, err := range spec.All() {
		if err != nil {
			return n, err
		}
		switch t := typ.(type) {
		case *btf.Struct:
			for _, m := range t.Members {
				n.members[m.Name] = true
			}
		case *btf.Union:
			for _, m := range t.Members {
				n.members[m.Name] = true
			}
		case *btf.Func:
			if t.Linkage == btf.ExternFunc {
				n.kfuncs[t.Name] = true
				addHead(n.kfuncHeads, t.Name)
			}
			continue
		case *btf.Var, *btf.Datasec, *btf.FuncProto:
			continue
		}
		if name := essentialName(typ.TypeName()); name != "" {
			n.types[name] = true
			addHead(n.typeHeads, name)
			if len(name) < len(n.lens) {
				n.lens[len(name)] = true
			}
		}
	}
	return n, nil
}

// rawBTF is a raw BTF blob split into its parts, with every type's
// offset in the type section (offs[id-1]).
type rawBTF struct {
	bo     binary.ByteOrder
	little bool // bo is little-endian
	hdr    []byte
	types  []byte
	strs   []byte
	offs   []uint32
	// seedIDs and seedKfuncs are what parseRawBTFSeeds found: the ids
	// of the named types the program names, and of its kfuncs by name.
	seedIDs    []uint32
	seedKfuncs map[string]btf.TypeID
	seeded     bool // parseRawBTFSeeds looked for them
}

// parseRawBTF splits a raw BTF blob (as /sys/kernel/btf/vmlinux is).
func parseRawBTF(b []byte) (*rawBTF, error) { return parseRawBTFSeeds(b, nil) }

// parseRawBTFSeeds is parseRawBTF and, with names, seeds in the same
// pass over the types (r.seedIDs, r.seedKfuncs): the kernel's 3.5 MB of
// types are read once, not twice (a second pass found them out of the
// cache again: about a tenth of a trim).
func parseRawBTFSeeds(b []byte, names *localNames) (*rawBTF, error) {
	if len(b) < btfHeaderLen {
		return nil, errors.New("BTF too short")
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint16(b) == 0xeb9f:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint16(b) == 0xeb9f:
		bo = binary.BigEndian
	default:
		return nil, errors.New("not BTF")
	}
	hl := bo.Uint32(b[4:])
	tOff, tLen, sOff, sLen := bo.Uint32(b[8:]), bo.Uint32(b[12:]), bo.Uint32(b[16:]), bo.Uint32(b[20:])
	end := func(off, n uint32) (uint64, bool) {
		e := uint64(hl) + uint64(off) + uint64(n)
		return e, e <= uint64(len(b))
	}
	if hl < btfHeaderLen || int(hl) > len(b) {
		return nil, errors.New("bad BTF header")
	}
	te, ok1 := end(tOff, tLen)
	se, ok2 := end(sOff, sLen)
	if !ok1 || !ok2 {
		return nil, errors.New("BTF sections out of bounds")
	}
	r := &rawBTF{bo: bo, little: bo == binary.LittleEndian, hdr: b[:hl], types: b[uint64(hl)+uint64(tOff) : te], strs: b[uint64(hl)+uint64(sOff) : se], seeded: names != nil}
	r.offs = make([]uint32, 0, len(r.types)/24)
	types := r.types
	for off := 0; off < len(types); {
		if off+12 > len(types) {
			return nil, errors.New("BTF type section cut")
		}
		r.offs = append(r.offs, uint32(off))
		// typeSize inline: this loop is over every one of the kernel's
		// 130,000 types, a sixth of a trim as a call with a switch.
		kind, vlen := r.info2(types[off:])
		ks := btfKindSizes[kind]
		if ks.base == 0 {
			return nil, fmt.Errorf("BTF kind %d unknown", kind)
		}
		if names != nil && seedKinds[kind] {
			// seed's head check inline: nearly every type stops here.
			if nameOff := r.u32(types[off:]); nameOff != 0 && int(nameOff)+1 < len(r.strs) {
				heads := names.typeHeads
				if kind == btfKindFunc {
					heads = names.kfuncHeads
				}
				if heads[nameHead(r.strs[nameOff], r.strs[nameOff+1])] {
					r.seed(off, kind, uint32(len(r.offs)), names)
				}
			}
		}
		off += int(ks.base) + int(ks.per)*vlen
		if off > len(types) {
			return nil, errors.New("BTF type section cut")
		}
	}
	return r, nil
}

// btfKindSizes is, by kind, the bytes of a type record (12 and the data
// after it) and the bytes each of its vlen entries adds; base 0: a kind
// this code does not know.
var btfKindSizes = func() (t [32]struct{ base, per uint8 }) {
	for k := btfKindInt; k <= btfKindEnum64; k++ {
		t[k].base = 12
	}
	for _, k := range []int{btfKindInt, btfKindVar, btfKindDeclTag} {
		t[k].base += 4
	}
	t[btfKindArray].base += 12
	for _, k := range []int{btfKindStruct, btfKindUnion, btfKindDatasec, btfKindEnum64} {
		t[k].per = 12
	}
	for _, k := range []int{btfKindEnum, btfKindFuncProto} {
		t[k].per = 8
	}
	return t
}()

// u32 is r.bo.Uint32 without the interface call: a trim reads a few
// words of each of the kernel's 130,000 types.
func (r *rawBTF) u32(b []byte) uint32 {
	if r.little {
		return binary.LittleEndian.Uint32(b)
	}
	return binary.BigEndian.Uint32(b)
}

// info is the kind and vlen of the type at off.
func (r *rawBTF) info(off int) (kind, vlen int) { return r.info2(r.types[off:]) }

// typeSize is the bytes of the type at off, its data included.
func (r *rawBTF) typeSize(off int) (int, error) {
	kind, vlen := r.info(off)
	ks := btfKindSizes[kind]
	if ks.base == 0 {
		return 0, fmt.Errorf("BTF kind %d unknown", kind)
	}
	size := int(ks.base) + int(ks.per)*vlen
	if off+size > len(r.types) {
		return 0, errors.New("BTF type section cut")
	}
	return size, nil
}

// name is the string at off in the string section (aliasing it).
func (r *rawBTF) name(off uint32) string {
	if int(off) >= len(r.strs) {
		return ""
	}
	s := r.strs[off:]
	if i := bytes.IndexByte(s, 0); i > 0 {
		return unsafe.String(unsafe.SliceData(s), i)
	}
	return ""
}

// trimmedKernel is the kernel's BTF cut down to what a program needs
// (see the top of this file), and the ids of its kfuncs.
type trimmedKernel struct {
	spec   *btf.Spec
	kfuncs map[string]btf.TypeID
}

// trimKernelBTF reads the raw BTF at path and trims it for names.
func trimKernelBTF(path string, names localNames) (*trimmedKernel, error) {
	return trimKernelBTFWith(path, names, true)
}

// trimKernelBTFWith is trimKernelBTF; mmap says whether to try mapping
// the file before reading it. /sys/kernel/btf/vmlinux can be mapped
// only from Linux 6.16; before, it is read into memory (a copy of
// about 6 MB, still far cheaper than decoding every type).
func trimKernelBTFWith(path string, names localNames, mmap bool) (*trimmedKernel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() < btfHeaderLen || fi.Size() > 1<<30 {
		return nil, errors.New("BTF size out of range")
	}
	var raw []byte
	if mmap {
		// MAP_POPULATE: one call maps every page, not a fault for each.
		raw, err = unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_POPULATE)
		if err == nil {
			defer func() { _ = unix.Munmap(raw) }()
		}
	}
	if raw == nil {
		raw = make([]byte, fi.Size())
		if _, err := io.ReadFull(f, raw); err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	r, err := parseRawBTFSeeds(raw, &names)
	if err != nil {
		return nil, err
	}
	return r.trim(names)
}

// trim cuts r down for names (see the top of this file).
func (r *rawBTF) trim(names localNames) (*trimmedKernel, error) {
	tk := &trimmedKernel{kfuncs: make(map[string]btf.TypeID, len(names.kfuncs))}
	keep := make([]bool, len(r.offs)+1) // by type id; id 0 is void
	var work []uint32
	if r.seeded {
		// Found as the types were parsed (parseRawBTFSeeds).
		for _, id := range r.seedIDs {
			keep[id] = true
		}
		work = append(work, r.seedIDs...)
		maps.Copy(tk.kfuncs, r.seedKfuncs)
	} else {
		work = r.seeds(names, keep, tk.kfuncs)
	}
	if len(tk.kfuncs) != len(names.kfuncs) {
		return nil, errors.New("a kfunc is missing from the kernel's BTF")
	}
	r.closure(names, keep, work)
	out := r.emit(names, keep)
	var err error
	tk.spec, err = btf.LoadSpecFromReader(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("trimmed BTF: %w", err)
	}
	return tk, nil
}

// seeds marks in keep the named types whose names the program uses,
// notes the ids of its kfuncs in kfuncs, and returns the marked ids.
func (r *rawBTF) seeds(names localNames, keep []bool, kfuncs map[string]btf.TypeID) []uint32 {
	r.seedIDs, r.seedKfuncs, r.seeded = nil, nil, false
	for i, off := range r.offs {
		if kind, _ := r.info(int(off)); seedKinds[kind] {
			r.seed(int(off), kind, uint32(i+1), &names)
		}
	}
	for _, id := range r.seedIDs {
		keep[id] = true
	}
	maps.Copy(kfuncs, r.seedKfuncs)
	work := r.seedIDs
	r.seedIDs, r.seedKfuncs = nil, nil
	return work
}

// seedKinds are the kinds of type seed looks at: kfuncs (FUNC) and the
// named kinds a program's type can match.
var seedKinds = func() (k [32]bool) {
	for _, kind := range []int{btfKindFunc, btfKindStruct, btfKindUnion, btfKindEnum, btfKindEnum64, btfKindFwd, btfKindTypedef, btfKindInt, btfKindFloat} {
		k[kind] = true
	}
	return k
}()

// seed notes the type id at off (of kind, one of seedKinds) in
// r.seedIDs when the program names it, or in r.seedKfuncs when it is
// one of the program's kfuncs.
func (r *rawBTF) seed(off, kind int, id uint32, names *localNames) {
	nameOff := r.u32(r.types[off:])
	if nameOff == 0 || int(nameOff)+1 >= len(r.strs) {
		return
	}
	head := nameHead(r.strs[nameOff], r.strs[nameOff+1])
	if kind == btfKindFunc {
		if !names.kfuncHeads[head] {
			return
		}
		if name := r.name(nameOff); names.kfuncs[name] {
			if r.seedKfuncs == nil {
				r.seedKfuncs = make(map[string]btf.TypeID, len(names.kfuncs))
			}
			r.seedKfuncs[strings.Clone(name)] = btf.TypeID(id)
		}
		return
	}
	if names.typeHeads[head] && names.hasType(r.name(nameOff)) {
		r.seedIDs = append(r.seedIDs, id)
	}
}

// closure marks in keep what the kept types refer to, through the
// members the program names (or anonymous ones).
func (r *rawBTF) closure(names localNames, keep []bool, work []uint32) {
	add := func(id uint32) {
		if id != 0 && int(id) < len(keep) && !keep[id] {
			keep[id] = true
			work = append(work, id)
		}
	}
	for len(work) > 0 {
		id := work[len(work)-1]
		work = work[:len(work)-1]
		off := int(r.offs[id-1])
		kind, vlen := r.info(off)
		switch kind {
		case btfKindPtr, btfKindTypedef, btfKindVolatile, btfKindConst, btfKindRestrict, btfKindTypeTag:
			add(r.u32(r.types[off+8:]))
		case btfKindArray:
			add(r.u32(r.types[off+12:]))
			add(r.u32(r.types[off+16:]))
		case btfKindStruct, btfKindUnion:
			for k := range vlen {
				m := off + 12 + 12*k
				if mn := r.u32(r.types[m:]); mn == 0 || names.members[r.name(mn)] {
					add(r.u32(r.types[m+4:]))
				}
			}
		}
	}
}

// emit writes the trimmed blob: the kept types up to the last one
// (placeholders between them), a string table of their names only.
func (r *rawBTF) emit(names localNames, keep []bool) []byte {
	// Ids past the last kept type are not needed: the kfuncs' ids are
	// resolved here, not by the loader.
	last := len(keep) - 1
	for last > 0 && !keep[last] {
		last--
	}
	size := btfHeaderLen + 12*last
	for id := 1; id <= last; id++ {
		if keep[id] {
			sz, _ := r.typeSize(int(r.offs[id-1]))
			size += sz - 12
		}
	}
	out := make([]byte, btfHeaderLen, size+4096)
	copy(out, r.hdr[:btfHeaderLen])
	r.bo.PutUint32(out[4:], btfHeaderLen)
	st := newStrings(r)
	var placeholder [12]byte
	r.bo.PutUint32(placeholder[4:], btfKindPtr<<24)
	for id := 1; id <= last; id++ {
		if !keep[id] {
			out = append(out, placeholder[:]...)
			continue
		}
		off := int(r.offs[id-1])
		sz, _ := r.typeSize(off)
		t := len(out)
		out = append(out, r.types[off:off+sz]...)
		r.renameType(out[t:], names, st)
	}
	typeLen := len(out) - btfHeaderLen
	out = append(out, st.b...)
	r.bo.PutUint32(out[8:], 0)
	r.bo.PutUint32(out[12:], uint32(typeLen))
	r.bo.PutUint32(out[16:], uint32(typeLen))
	r.bo.PutUint32(out[20:], uint32(len(st.b)))
	return out
}

// renameType points a copied type's names (its own, its members', its
// enumerators') into the new string table, and makes the members the
// program does not name void.
func (r *rawBTF) renameType(t []byte, names localNames, st *strTable) {
	r.bo.PutUint32(t, st.add(r.u32(t)))
	kind, vlen := r.info2(t)
	step := 0
	switch kind {
	case btfKindStruct, btfKindUnion, btfKindEnum64:
		step = 12
	case btfKindEnum:
		step = 8
	}
	for k := 0; step > 0 && k < vlen; k++ {
		m := 12 + step*k
		mn := r.u32(t[m:])
		if (kind == btfKindStruct || kind == btfKindUnion) && mn != 0 && !names.members[r.name(mn)] {
			r.bo.PutUint32(t[m+4:], 0) // a member nothing reads: void
		}
		r.bo.PutUint32(t[m:], st.add(mn))
	}
}

// info2 is info of a type's bytes.
func (r *rawBTF) info2(t []byte) (kind, vlen int) {
	i := r.u32(t[4:])
	return int(i>>24) & 0x1f, int(i & 0xffff)
}

// strTable is the trimmed blob's string table, built as names are added.
type strTable struct {
	r   *rawBTF
	b   []byte
	off map[uint32]uint32 // old offset -> new
}

// strTableHint is about how many names a trimmed blob holds (the kept
// types', their members' and enumerators': 976 names, 10.9 KB, on Linux
// 6.18): its table is made that large at once instead of growing
// (rehashing) step by step.
const strTableHint = 1024

func newStrings(r *rawBTF) *strTable {
	b := make([]byte, 1, 12*strTableHint)
	return &strTable{r: r, b: b, off: make(map[uint32]uint32, strTableHint)}
}

// add returns the new offset of the string at old in r.
func (s *strTable) add(old uint32) uint32 {
	if old == 0 {
		return 0
	}
	if o, ok := s.off[old]; ok {
		return o
	}
	o := uint32(len(s.b))
	s.b = append(append(s.b, s.r.name(old)...), 0)
	s.off[old] = o
	return o
}

// kfuncKey returns the metadata key and the kfunc's name of an
// instruction that calls or loads a kfunc, as cilium/ebpf's ELF reader
// marks it (an unexported key type named kfuncMetaKey whose value has a
// Func *btf.Func field).
func kfuncKey(ins *asm.Instruction) (key any, name string, ok bool) {
	if !metadataLayoutKnown() {
		return nil, "", false
	}
	head := (*struct{ head *metaElement })(unsafe.Pointer(&ins.Metadata)).head
	for e := head; e != nil; e = e.next {
		kt := reflect.TypeOf(e.key)
		if kt == nil || kt.Name() != "kfuncMetaKey" || kt.PkgPath() != "github.com/cilium/ebpf" {
			continue
		}
		v := reflect.ValueOf(e.value)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			return nil, "", false
		}
		f := v.Elem().FieldByName("Func")
		if !f.IsValid() || !f.CanInterface() {
			return nil, "", false
		}
		fn, _ := f.Interface().(*btf.Func)
		if fn == nil {
			return nil, "", false
		}
		return e.key, fn.Name, true
	}
	return nil, "", false
}

// metadataLayoutKnown reports whether asm.Metadata is the linked list
// kfuncKey reads (one pointer field, head, to a struct of next, key and
// value), as in cilium/ebpf v0.22: another layout is not read at all.
var metadataLayoutKnown = sync.OnceValue(func() bool {
	mt := reflect.TypeFor[asm.Metadata]()
	if mt.NumField() != 1 || mt.Field(0).Name != "head" || mt.Field(0).Type.Kind() != reflect.Pointer {
		return false
	}
	et := mt.Field(0).Type.Elem()
	anyType := reflect.TypeFor[any]()
	var e metaElement
	return et.Kind() == reflect.Struct && et.NumField() == 3 &&
		et.Field(0).Name == "next" && et.Field(0).Type == mt.Field(0).Type && et.Field(0).Offset == 0 &&
		et.Field(1).Name == "key" && et.Field(1).Type == anyType && et.Field(1).Offset == unsafe.Offsetof(e.key) &&
		et.Field(2).Name == "value" && et.Field(2).Type == anyType && et.Field(2).Offset == unsafe.Offsetof(e.value) &&
		et.Size() == unsafe.Sizeof(e)
})

// metaElement mirrors an element of asm.Metadata's list.
type metaElement struct {
	next       *metaElement
	key, value any
}

// resolveKfuncs gives every kfunc instruction of prog its kernel id, as
// cilium/ebpf would (the id in Constant, module index 0: vmlinux), and
// drops the mark that would make the loader look them up again. It
// changes prog only when every kfunc instruction was resolved.
func resolveKfuncs(prog *ebpf.ProgramSpec, ids map[string]btf.TypeID) error {
	type fix struct {
		i   int
		key any
		id  btf.TypeID
	}
	var fixes []fix
	for i := range prog.Instructions {
		ins := &prog.Instructions[i]
		key, name, ok := kfuncKey(ins)
		if !ok {
			if ins.IsKfuncCall() {
				return fmt.Errorf("instruction %d: a kfunc call whose name was not found", i)
			}
			continue
		}
		id, ok := ids[name]
		if !ok {
			return fmt.Errorf("kfunc %s not in the kernel's BTF", name)
		}
		fixes = append(fixes, fix{i, key, id})
	}
	for _, f := range fixes {
		ins := &prog.Instructions[f.i]
		ins.Constant, ins.Offset = int64(f.id), 0
		ins.Metadata.Set(f.key, nil)
	}
	return nil
}

// openWalkTrimmed loads the walk against a trimmed copy of the kernel's
// BTF at path, with its kfuncs resolved here.
//
// It also returns the spec and options it used, with the kfuncs of the
// cmdline program resolved too when it is there (openCmdlines loads it
// the same cheap way).
func openWalkTrimmed(path string) (*walker, *ebpf.CollectionSpec, *ebpf.CollectionOptions, error) {
	spec, err := loadTaskIter()
	if err != nil {
		return nil, nil, nil, err
	}
	prog := spec.Programs["pinspect_walk"]
	if prog == nil || spec.Types == nil {
		return nil, nil, nil, errors.New("no walk program")
	}
	names, err := namesOf(spec.Types)
	if err != nil {
		return nil, nil, nil, err
	}
	tk, err := trimKernelBTF(path, names)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := resolveKfuncs(prog, tk.kfuncs); err != nil {
		return nil, nil, nil, err
	}
	if cmd := spec.Programs["pinspect_cmdlines"]; cmd != nil && resolveKfuncs(cmd, tk.kfuncs) != nil {
		delete(spec.Programs, "pinspect_cmdlines") // openCmdlines says why
	}
	copts := &ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: tk.spec}}
	w, err := openWalk(spec, copts)
	return w, spec, copts, err
}
