package collector

import (
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mincore is mincore(2): one byte a page of mem, bit 0 set when resident.
func mincore(t *testing.T, mem []byte, vec []byte) {
	t.Helper()
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal("mincore:", e)
	}
}

// TestPrefaultMakesPagesResident: after prefault every whole page of an
// array is resident and writable without a fault (a private page of its
// own, not the shared zero page), and its contents are as they were. The array is a mapping of its own, so that no page of it
// can already be there from earlier use of the heap.
func TestPrefaultMakesPagesResident(t *testing.T) {
	const pages = 64
	pg := unix.Getpagesize()
	mem, err := unix.Mmap(-1, 0, pages*pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	// Before Linux 5.14 there is no MADV_POPULATE_WRITE and prefault
	// leaves the pages to fault in, by design: nothing to hold it to.
	// The probe is on the array's last page, which is written below.
	if err := unix.Madvise(mem[len(mem)-pg:], unix.MADV_POPULATE_WRITE); err == unix.EINVAL {
		t.Skip("no MADV_POPULATE_WRITE on this kernel (before 5.14)")
	}
	resident := func() int {
		vec := make([]byte, pages)
		mincore(t, mem, vec)
		n := 0
		for _, v := range vec {
			n += int(v & 1)
		}
		return n
	}
	// The first and last page hold a value each: prefault keeps them.
	mem[0], mem[len(mem)-1] = 7, 9
	if n := resident(); n != 2 {
		t.Fatalf("%d pages resident before, want the 2 written", n)
	}
	type rec struct{ a [128]byte }
	arr := unsafe.Slice((*rec)(unsafe.Pointer(&mem[0])), len(mem)/int(unsafe.Sizeof(rec{})))
	prefault(arr[:0])
	if n := resident(); n != pages {
		t.Fatalf("%d of %d pages resident after prefault", n, pages)
	}
	if mem[0] != 7 || mem[len(mem)-1] != 9 {
		t.Fatalf("contents changed: %d, %d", mem[0], mem[len(mem)-1])
	}
	// Writing every page now takes no fault (the pages are writable and
	// the process's own). The goroutine is locked to its thread, whose
	// counts are read.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var mid, after unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &mid)
	for i := 0; i < len(mem); i += pg {
		mem[i]++
	}
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &after)
	if f := after.Minflt - mid.Minflt; f > 4 {
		t.Fatalf("%d minor faults writing %d prefaulted pages", f, pages)
	}
}

// TestPrefaultSmallArrayUntouched: an array under 64 KiB is left to
// fault in as it is written (the call costs more than its few faults).
func TestPrefaultSmallArrayUntouched(t *testing.T) {
	pg := unix.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 8*pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	prefault(mem[:0])
	vec := make([]byte, 8)
	mincore(t, mem, vec)
	for i, v := range vec {
		if v&1 != 0 {
			t.Fatalf("page %d resident after prefault of a small array", i)
		}
	}
}
