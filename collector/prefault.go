package collector

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// prefault has the kernel fill in, in one system call, the pages of a
// new array that a scan is about to write from its first element to its
// last (madvise MADV_POPULATE_WRITE, Linux 5.14): a large allocation of
// a new process's heap is fresh memory, and writing it faulted each of
// its 4 KiB pages in with a trap of its own (at 10,000 processes the
// process array alone is 2,100 pages, 7 % of a one-shot's CPU, about
// 4 us a page on the reference VM). The kernel still allocates, zeroes
// and charges every page; what the call saves is the trap and the
// address-space lookup of each fault. The contents do not change (the
// kernel writes nothing a program sees: a page already there is left as
// it is), so it is only ever an advice: an older kernel's EINVAL, or
// any other failure, leaves the pages to fault in as before. Only whole
// pages inside the array are asked for. Arrays under 64 KiB are not
// worth the call.
func prefault[T any](s []T) {
	var t T
	size := uintptr(cap(s)) * unsafe.Sizeof(t)
	if size < 64<<10 {
		return
	}
	const pg = 4096
	start := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	end := (start + size) &^ (pg - 1)
	start = (start + pg - 1) &^ (pg - 1)
	if end <= start {
		return
	}
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_POPULATE_WRITE)
}
