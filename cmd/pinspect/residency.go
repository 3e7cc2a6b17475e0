//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The dashboard, serve and record run for hours, but most of the
// executable they map is used only while they start: every linked
// package's initialisation, the command-line parser, the BPF loader
// (cilium/ebpf's BTF decoder) and the terminal's set-up. And the kernel
// maps file pages in runs, not one by one:
//
//   - fault-around: a read fault maps every page of the file around the
//     one touched that is in the page cache (64 KB by default, and on
//     Linux 6.18 the whole large folio it is in);
//   - a file written in large pieces (`dd bs=4M`, some installers) sits
//     in the page cache as 2 MB folios, and those are mapped whole, with
//     one PMD (smaps' FilePmdMapped).
//
// The code and tables a refresh uses are scattered through the file, so
// runs make its share of the binary about three times what it reads: at
// 2,000 x 9, 14 MB of RssFile, where the pages a refresh touches are
// about 4 MB (docs/PERFORMANCE.md).
//
// releaseStartupPages therefore does three things to the clean,
// read-only mappings of the executable and of the shared objects it runs
// (libc, the loader):
//
//   - madvise(MADV_NOHUGEPAGE): the kernel maps no PMD in them;
//   - registers them with a userfaultfd for asynchronous write
//     protection (noFaultAround): the kernel skips fault-around there, so
//     a page is mapped when it is touched, not with its neighbours;
//   - madvise(MADV_DONTNEED): it unmaps them from this process. The pages
//     stay in the page cache, and the next touch of one maps it again
//     from there (a minor fault, no I/O).
//
// The kernel's reclaim does to any clean file page what the last step
// does, when it needs memory; this only does it before it is asked.
// Nothing here frees the machine's memory or hides any: the process's
// RSS, htop's RES and VmHWM count what it maps, and after this it maps
// what it uses. Writable mappings and any mapping with a private
// (copy-on-write) page are left alone, so nothing but clean file pages is
// dropped: a debugger's breakpoint or a uprobe is such a page. (One placed
// in the microseconds between reading smaps and the madvise would be
// undone in this process; the release runs three times, in the first
// seconds.)

// startupRelease is when releaseStartupPagesLater releases the start-up
// pages again: at once (the caller has loaded the BPF program), and after
// the first frames, when the terminal's set-up and the first draw are
// done.
var startupRelease = []time.Duration{0, 2 * time.Second}

// maxSmapsBytes bounds the read of /proc/self/smaps (about 1 KB a
// mapping; a Go program has a few hundred at most).
const maxSmapsBytes = 8 << 20

// releaseStartupPagesLater calls releaseStartupPages at each delay of
// startupRelease, until ctx is done.
func releaseStartupPagesLater(ctx context.Context) {
	start := time.Now()
	for _, d := range startupRelease {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(d))):
		}
		releaseStartupPages()
	}
}

// releaseStartupPages maps the clean, read-only mappings of this
// process's executable and shared objects page by page from now on, and
// drops what they map now (see above). It returns how many bytes were
// resident in the mappings it released. Errors (no /proc, an unexpected
// smaps, a kernel without the madvise or the userfaultfd feature) do less
// or nothing: this is only a saving.
func releaseStartupPages() int64 {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil || strings.HasSuffix(exe, " (deleted)") {
		return 0
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSmapsBytes))
	f.Close()
	if err != nil || len(b) == maxSmapsBytes {
		return 0
	}
	clean := releasable(codeMappings(b, exe))
	for _, m := range clean {
		madvise(m, unix.MADV_NOHUGEPAGE)
	}
	noFaultAround(clean)
	var released int64
	for _, m := range clean {
		if m.rssKiB != 0 && madvise(m, unix.MADV_DONTNEED) {
			released += int64(m.rssKiB) << 10
		}
	}
	return released
}

// madvise advises the kernel about the mapping m and reports whether it
// took the advice.
func madvise(m mapping, advice int) bool {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), uintptr(advice))
	return errno == 0
}

// mapping is one mapping of /proc/self/smaps, as releaseStartupPages
// needs it.
type mapping struct {
	start, end uint64
	path       string
	writable   bool
	executable bool
	rssKiB     uint64
	anonKiB    uint64 // private copy-on-write pages ("Anonymous:"); 1 until that line is read
}

// releasable returns the mappings of ms that hold nothing but clean file
// pages: read-only, without a private copy of any page.
func releasable(ms []mapping) []mapping {
	var out []mapping
	for _, m := range ms {
		if !m.writable && m.anonKiB == 0 {
			out = append(out, m)
		}
	}
	return out
}

// codeMappings returns the private mappings of exe and of every other
// file this process executes from (its shared objects: a file with an
// executable mapping), in smaps order. A data file the program maps
// (the kernel's BTF, say) is not one of them.
func codeMappings(smaps []byte, exe string) []mapping {
	all := fileMappings(smaps)
	code := map[string]bool{exe: true}
	for _, m := range all {
		if m.executable && !strings.HasSuffix(m.path, " (deleted)") {
			code[m.path] = true
		}
	}
	var out []mapping
	for _, m := range all {
		if code[m.path] {
			out = append(out, m)
		}
	}
	return out
}

// fileMappings parses smaps and returns its private mappings of files
// (a path starting with "/"). A mapping whose Rss or Anonymous line is
// missing is returned with anonKiB set so it is never released.
func fileMappings(smaps []byte) []mapping {
	var out []mapping
	var cur *mapping
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if strings.HasSuffix(f[0], ":") { // a field of the current mapping
			if cur == nil || len(f) < 2 {
				continue
			}
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				continue
			}
			switch f[0] {
			case "Rss:":
				cur.rssKiB = v
			case "Anonymous:":
				cur.anonKiB = v
			}
			continue
		}
		cur = nil
		// start-end perms offset dev inode path
		if len(f) < 6 || len(f[1]) != 4 || f[1][3] != 'p' || !strings.HasPrefix(f[5], "/") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, mapping{start: start, end: end, path: strings.Join(f[5:], " "),
			writable: f[1][1] == 'w', executable: f[1][2] == 'x', anonKiB: 1})
		cur = &out[len(out)-1]
	}
	return out
}
