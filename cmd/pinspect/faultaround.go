//go:build linux

package main

import (
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// noFaultAround's mechanism: the kernel never faults around in a mapping
// registered with a userfaultfd for write protection (each page must be
// mapped on its own there, so that it can be write-protected), and since
// Linux 6.7 an asynchronous write-protect registration
// (UFFD_FEATURE_WP_ASYNC: the kernel resolves a write fault itself, with
// no handler) may cover any mapping, a private file mapping included.
// pinspect registers the clean read-only mappings of its code that way
// and never write-protects a page: nothing changes for them but that each
// page is mapped when it is first touched, not with its neighbours. The
// userfaultfd is opened with UFFD_USER_MODE_ONLY (faults from user mode
// only), which needs no privilege.

// The userfaultfd ABI (linux/userfaultfd.h).
const (
	uffdUserModeOnly   = 1       // UFFD_USER_MODE_ONLY: faults from user mode only (allowed without privilege)
	uffdAPI            = 0xAA    // UFFD_API
	uffdFeatureWPAsync = 1 << 15 // UFFD_FEATURE_WP_ASYNC
	uffdRegisterModeWP = 1 << 1  // UFFDIO_REGISTER_MODE_WP
	uffdioAPINr        = 0x3F
	uffdioRegisterNr   = 0x00
)

type uffdioAPI struct{ api, features, ioctls uint64 }

type uffdioRegister struct{ start, len, mode, ioctls uint64 }

// iowr is the _IOWR ioctl number of userfaultfd's request nr with an
// argument of size bytes, for this architecture's encoding.
func iowr(nr, size uintptr) uintptr {
	switch runtime.GOARCH {
	case "mips", "mipsle", "mips64", "mips64le", "ppc64", "ppc64le", "sparc64":
		return 6<<29 | size<<16 | uffdAPI<<8 | nr // read|write = 2|4, 13 size bits
	}
	return 3<<30 | size<<16 | uffdAPI<<8 | nr
}

// faultAroundFD is the userfaultfd the executable's mappings are
// registered with; the registration lasts while it is open (the
// process's life). -1 until registered. faultAroundMu guards it: the
// releases may run on several goroutines (serve's and the dashboard's in
// one test binary).
var (
	faultAroundMu sync.Mutex
	faultAroundFD = -1
)

// noFaultAround registers the mappings with a userfaultfd for
// asynchronous write protection (see above), so the kernel stops mapping
// their pages in runs, and reports whether it did for every one. A kernel
// without the feature (before 6.7), or a seccomp profile or LSM that
// denies userfaultfd, leaves fault-around as it was. Registering a
// mapping again is harmless.
func noFaultAround(ms []mapping) bool {
	faultAroundMu.Lock()
	defer faultAroundMu.Unlock()
	if faultAroundFD < 0 {
		fd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly, 0, 0)
		if errno != 0 {
			return false
		}
		api := uffdioAPI{api: uffdAPI, features: uffdFeatureWPAsync}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, iowr(uffdioAPINr, unsafe.Sizeof(api)), uintptr(unsafe.Pointer(&api))); errno != 0 || api.features&uffdFeatureWPAsync == 0 {
			unix.Close(int(fd))
			return false
		}
		faultAroundFD = int(fd)
	}
	ok := true
	for _, m := range ms {
		reg := uffdioRegister{start: m.start, len: m.end - m.start, mode: uffdRegisterModeWP}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(faultAroundFD), iowr(uffdioRegisterNr, unsafe.Sizeof(reg)), uintptr(unsafe.Pointer(&reg))); errno != 0 {
			ok = false
		}
	}
	return ok
}
