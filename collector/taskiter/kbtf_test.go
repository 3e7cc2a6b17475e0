package taskiter

import (
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// TestTrimmedBTFRelocatesAlike: the walk loaded against the trimmed
// kernel BTF, with its kfuncs resolved here, is instruction for
// instruction the program cilium/ebpf makes against the whole kernel BTF
// (the kernel's translated instructions of both loads, map references
// aside: each load has its own maps).
func TestTrimmedBTFRelocatesAlike(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads the walk and reads its instructions back")
	}
	fast, _, _, err := openWalkTrimmed(DefaultKernelBTF)
	if err != nil {
		t.Fatalf("trimmed load: %v", err)
	}
	defer fast.close()
	spec, err := loadTaskIter()
	if err != nil {
		t.Fatal(err)
	}
	full, err := openWalk(spec, &ebpf.CollectionOptions{})
	if err != nil {
		t.Fatalf("usual load: %v", err)
	}
	defer full.close()
	a, b := xlated(t, fast.objs.Prog), xlated(t, full.objs.Prog)
	if len(a) != len(b) {
		t.Fatalf("%d instructions trimmed, %d usual", len(a), len(b))
	}
	kfuncs := 0
	for i := range a {
		x, y := a[i], b[i]
		if x.OpCode.IsDWordLoad() && x.Src == y.Src && (x.Src == asm.PseudoMapFD || x.Src == asm.PseudoMapValue) {
			x.Constant, y.Constant = 0, 0 // a map of each load
		}
		if x.IsKfuncCall() {
			kfuncs++
		}
		if x.OpCode != y.OpCode || x.Dst != y.Dst || x.Src != y.Src || x.Offset != y.Offset || x.Constant != y.Constant {
			t.Errorf("instruction %d: trimmed %v, usual %v", i, a[i], b[i])
		}
	}
	if kfuncs == 0 {
		t.Error("no kfunc call compared")
	}
	t.Logf("%d instructions alike, %d kfunc calls", len(a), kfuncs)
}

func xlated(t *testing.T, p *ebpf.Program) asm.Instructions {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	insns, err := info.Instructions()
	if err != nil {
		t.Fatal(err)
	}
	return insns
}

// TestTrimmedBTFWithoutMmap: where the kernel's BTF cannot be mapped
// (before Linux 6.16), it is read into memory and trims to the same
// types and kfunc ids as the mapped file.
func TestTrimmedBTFWithoutMmap(t *testing.T) {
	if _, err := os.Stat(DefaultKernelBTF); err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	spec, err := loadTaskIter()
	if err != nil {
		t.Fatal(err)
	}
	names, err := namesOf(spec.Types)
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := trimKernelBTFWith(DefaultKernelBTF, names, true)
	if err != nil {
		t.Fatalf("mapped: %v", err)
	}
	read, err := trimKernelBTFWith(DefaultKernelBTF, names, false)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(read.kfuncs) == 0 || !maps.Equal(mapped.kfuncs, read.kfuncs) {
		t.Errorf("kfunc ids: mapped %v, read %v", mapped.kfuncs, read.kfuncs)
	}
	count := func(s *btf.Spec) (n int) {
		for range s.All() {
			n++
		}
		return n
	}
	if a, b := count(mapped.spec), count(read.spec); a == 0 || a != b {
		t.Errorf("types: mapped %d, read %d", a, b)
	}
}

// BenchmarkTrimKernelBTF is the trim of the kernel's BTF for the walk
// (mapped, parsed, trimmed and loaded as a btf.Spec): part of every load.
func BenchmarkTrimKernelBTF(b *testing.B) {
	if _, err := os.Stat(DefaultKernelBTF); err != nil {
		b.Skipf("no kernel BTF: %v", err)
	}
	spec, err := loadTaskIter()
	if err != nil {
		b.Fatal(err)
	}
	names, err := namesOf(spec.Types)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := trimKernelBTF(DefaultKernelBTF, names); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTrimHeadsRuleOutNothing: the two-byte name heads that let seeds skip
// most kernel types keep exactly the types and kfuncs that measuring and
// looking up every name keeps.
func TestTrimHeadsRuleOutNothing(t *testing.T) {
	raw, err := os.ReadFile(DefaultKernelBTF)
	if err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	spec, err := loadTaskIter()
	if err != nil {
		t.Fatal(err)
	}
	names, err := namesOf(spec.Types)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseRawBTF(raw)
	if err != nil {
		t.Fatal(err)
	}
	every := names
	every.typeHeads, every.kfuncHeads = new([1 << 16]bool), new([1 << 16]bool)
	for i := range every.typeHeads {
		every.typeHeads[i], every.kfuncHeads[i] = true, true
	}
	keep, keepAll := make([]bool, len(r.offs)+1), make([]bool, len(r.offs)+1)
	kf, kfAll := map[string]btf.TypeID{}, map[string]btf.TypeID{}
	work, workAll := r.seeds(names, keep, kf), r.seeds(every, keepAll, kfAll)
	if len(work) == 0 || !slices.Equal(work, workAll) || !slices.Equal(keep, keepAll) {
		t.Errorf("seeds: %d types with heads, %d without", len(work), len(workAll))
	}
	if len(kf) != len(names.kfuncs) || !maps.Equal(kf, kfAll) {
		t.Errorf("kfuncs: %v with heads, %v without", kf, kfAll)
	}
}
