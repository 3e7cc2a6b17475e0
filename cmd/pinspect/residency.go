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

// The dashboard runs for hours, but most of the executable it maps is
// used only while it starts: every linked package's initialisation, the
// command-line parser, the BPF loader (cilium/ebpf's BTF decoder) and the
// terminal's set-up. The kernel maps file pages in large runs (fault-
// around, and whole large folios on recent kernels: a binary just written
// by `go build` or `install` sits in the page cache as 2 MB folios), so
// about 19 MB of the 30 MB binary is resident a moment after start, of
// which a refresh touches about 10 MB again.
//
// releaseStartupPages unmaps the executable's read-only file pages from
// this process (madvise MADV_DONTNEED): they stay in the page cache, and
// the next touch of a page maps it again from there (a minor fault, no
// I/O). The kernel's reclaim does the same to any clean file page when it
// needs memory; this only does it before it is asked. Writable mappings
// and any mapping with a private (copy-on-write) page are left alone, so
// nothing but clean file pages is dropped: a debugger's breakpoint or a
// uprobe is such a page. (One placed in the microseconds between reading
// smaps and the madvise would be undone in this process; it happens twice,
// in the dashboard's first seconds.)

// startupRelease is when the dashboard releases its start-up pages: once
// the BPF program is loaded, and once more after the first frames, when
// the terminal's set-up and the first draw are done.
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

// releaseStartupPages drops this process's mappings of the executable's
// clean, read-only file pages (see above) and returns how many bytes were
// resident in the mappings it released. Errors (no /proc, an unexpected
// smaps) release nothing: this is only a saving.
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
	var released int64
	for _, m := range exeMappings(b, exe) {
		if m.writable || m.anonKiB != 0 || m.rssKiB == 0 {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), unix.MADV_DONTNEED); errno == 0 {
			released += int64(m.rssKiB) << 10
		}
	}
	return released
}

// mapping is one mapping of /proc/self/smaps, as releaseStartupPages
// needs it.
type mapping struct {
	start, end uint64
	writable   bool
	rssKiB     uint64
	anonKiB    uint64 // private copy-on-write pages ("Anonymous:"); 1 until that line is read
}

// exeMappings parses smaps and returns the private mappings of the file
// at path. A mapping whose Rss or Anonymous line is missing is returned
// with anonKiB set so it is never released.
func exeMappings(smaps []byte, path string) []mapping {
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
		if len(f) < 6 || len(f[1]) != 4 || f[1][3] != 'p' || strings.Join(f[5:], " ") != path {
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
		out = append(out, mapping{start: start, end: end, writable: f[1][1] == 'w', anonKiB: 1})
		cur = &out[len(out)-1]
	}
	return out
}
